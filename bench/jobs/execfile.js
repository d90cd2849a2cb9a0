// Node's way to run a trivial program: child_process.execFile(PROGRAM) in
// CONCURRENCY independent loops for SECONDS (each loop starts the next run
// from the previous one's callback). Prints
// "ok=N fail=M seconds=S rate=R cpu=C children_cpu=K" (CPU seconds of node
// itself, and of the children it reaped).
//
//   node execfile.js PROGRAM CONCURRENCY SECONDS
'use strict';

const { execFile } = require('child_process');

const [program, concurrencyArg, secondsArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
if (!program || !(concurrency >= 1) || !(seconds > 0)) {
  console.error('usage: node execfile.js PROGRAM CONCURRENCY SECONDS');
  process.exit(2);
}

let ok = 0;
let fail = 0;
let running = concurrency;
const start = process.hrtime.bigint();
const deadline = start + BigInt(Math.round(seconds * 1e9));

function loop() {
  if (process.hrtime.bigint() >= deadline) {
    if (--running === 0) done();
    return;
  }
  execFile(program, (err) => {
    if (err) {
      if (fail === 0) console.error(`execfile.js: first failure: ${err.message}`);
      fail++;
    } else {
      ok++;
    }
    loop();
  });
}

function done() {
  const took = Number(process.hrtime.bigint() - start) / 1e9;
  const u = process.cpuUsage();
  const cpu = (u.user + u.system) / 1e6;
  // cutime + cstime of /proc/self/stat: CPU of the reaped children, in ticks
  // (USER_HZ is 100 on Linux).
  const stat = require('fs').readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const childrenCpu = (Number(f[13]) + Number(f[14])) / 100;
  console.log(`ok=${ok} fail=${fail} seconds=${took.toFixed(3)} rate=${(ok / took).toFixed(1)} ` +
    `cpu=${cpu.toFixed(3)} children_cpu=${childrenCpu.toFixed(3)}`);
  process.exit(fail === 0 ? 0 : 1);
}

for (let i = 0; i < concurrency; i++) loop();
