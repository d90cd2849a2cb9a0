// The in-process baseline of the pool bench (pool.sh): Node's worker_threads.
// The main thread keeps THREADS worker threads and runs CONCURRENCY loops;
// each loop hands fib(N) to an idle thread (or queues it until one is idle),
// waits for the answer and starts the next. Latency is measured on the main
// thread from the hand-off to the answer, queueing included, as the control
// socket's latency includes corefork's queue. WARMUP seconds (threads
// starting, JIT) are run first and not counted.
//
//   node worker_threads.js THREADS CONCURRENCY SECONDS WARMUP N
//
// Prints the same line as jobclient.c --latency:
//   ok=N fail=M seconds=S rate=R cpu=C p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. pids=1
// (cpu: this process's CPU, all threads, over the measured seconds).
'use strict';

const { Worker, isMainThread, parentPort } = require('node:worker_threads');

// The same task and the same checks as examples/pool/pool_worker.js.
function handle(input) {
  const n = Number(typeof input === 'object' && input !== null ? input.n : input);
  if (!Number.isInteger(n) || n < 0 || n > 45) throw new Error(`bad n: ${JSON.stringify(input)}`);
  const fib = (k) => (k < 2 ? k : fib(k - 1) + fib(k - 2));
  return fib(n);
}

if (!isMainThread) {
  parentPort.on('message', ({ id, input }) => {
    try {
      parentPort.postMessage({ id, output: handle(input) });
    } catch (err) {
      parentPort.postMessage({ id, error: String(err?.message ?? err) });
    }
  });
  return;
}

const [threads, concurrency, seconds, warmup, n] = process.argv.slice(2).map(Number);
if (!(threads >= 1) || !(concurrency >= 1) || !(seconds > 0) || !(warmup >= 0) ||
    !Number.isInteger(n)) {
  console.error('usage: node worker_threads.js THREADS CONCURRENCY SECONDS WARMUP N');
  process.exit(2);
}
const expected = handle(n);

// A minimal pool: idle threads, and callbacks waiting for one.
const idle = [];
const waiting = [];
const pending = new Map(); // id -> callback(err, output)
let nextId = 1;
for (let i = 0; i < threads; i++) {
  const w = new Worker(__filename);
  w.on('message', ({ id, output, error }) => {
    const cb = pending.get(id);
    pending.delete(id);
    release(w);
    cb(error ? new Error(error) : null, output);
  });
  w.on('error', (err) => { console.error(`worker_threads.js: ${err.message}`); process.exit(1); });
  idle.push(w);
}

function release(w) {
  const next = waiting.shift();
  if (next) next(w); else idle.push(w);
}

function run(input, cb) {
  const send = (w) => {
    const id = nextId++;
    pending.set(id, cb);
    w.postMessage({ id, input });
  };
  const w = idle.pop();
  if (w) send(w); else waiting.push(send);
}

const now = () => process.hrtime.bigint();
let measuring = false;
let ok = 0;
let fail = 0;
const latencies = [];
let phaseEnd = now() + BigInt(Math.round(warmup * 1e9));

function loop(done) {
  if (now() >= phaseEnd) { done(); return; }
  const t0 = now();
  run({ n }, (err, output) => {
    if (measuring) {
      if (err || output !== expected) {
        if (fail === 0) console.error(`worker_threads.js: first failure: ${err?.message ?? output}`);
        fail++;
      } else {
        ok++;
        latencies.push(Number(now() - t0) / 1e6);
      }
    }
    loop(done);
  });
}

function phase(cb) {
  let left = concurrency;
  for (let i = 0; i < concurrency; i++) loop(() => { if (--left === 0) cb(); });
}

function pct(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

phase(() => {
  measuring = true;
  const cpu0 = process.cpuUsage();
  const start = now();
  phaseEnd = start + BigInt(Math.round(seconds * 1e9));
  phase(() => {
    const took = Number(now() - start) / 1e9;
    const u = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    const f = (x) => x.toFixed(3);
    console.log(`ok=${ok} fail=${fail} seconds=${took.toFixed(3)} rate=${(ok / took).toFixed(1)} ` +
      `cpu=${f((u.user + u.system) / 1e6)} p50_ms=${f(pct(latencies, 50))} ` +
      `p90_ms=${f(pct(latencies, 90))} p99_ms=${f(pct(latencies, 99))} ` +
      `max_ms=${f(latencies.at(-1) ?? 0)} pids=1`);
    process.exit(fail === 0 ? 0 : 1);
  });
});
