// The classic Node "cluster" demo, rewritten for corefork: no cluster module.
// corefork forks N copies of this process and hands each one a listening
// socket on fd 3 (systemd socket activation); the kernel spreads connections
// across them. Run by hand, it listens on $PORT (default 8080) itself.
'use strict';

const fs = require('fs');
const http = require('http');

const workerId = process.env.COREFORK_WORKER_ID ?? '-1';
const notifyFd = /^\d+$/.test(process.env.COREFORK_NOTIFY_FD ?? '')
  ? Number(process.env.COREFORK_NOTIFY_FD)
  : undefined;
const SHUTDOWN_TIMEOUT_MS = 30_000;
let stopping = false;

// Deliberately slow (exponential) so `/main` burns CPU like real work.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// Runs corefork job `name` with `input` as its stdin and waits for it to end
// (POST /jobs/NAME/runs?wait=true on the control socket, see docs/jobs.md).
// callback(err, run, httpStatus): run is the finished run's JSON (state,
// exit_code, signal, error, stdout, stderr, ...); err for a refusal (404,
// 409, 429 queue full, 503 shutting down) or when the socket cannot be
// reached.
function runJob(name, input, callback) {
  const socketPath = process.env.COREFORK_CONTROL_SOCKET;
  if (!socketPath) {
    callback(new Error('COREFORK_CONTROL_SOCKET is not set (not started by corefork?)'));
    return;
  }
  const req = http.request({
    socketPath,
    path: `/jobs/${encodeURIComponent(name)}/runs?wait=true`,
    method: 'POST',
    agent: false, // one request per connection, as the control socket wants
    headers: { 'Content-Length': Buffer.byteLength(input) },
  }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => { body += chunk; });
    res.on('end', () => {
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        callback(new Error(`control socket answered ${res.statusCode}: ${body}`), null, res.statusCode);
        return;
      }
      if (res.statusCode !== 200) {
        callback(new Error(`${res.statusCode}: ${parsed.error ?? body}`), null, res.statusCode);
      } else {
        callback(null, parsed, res.statusCode);
      }
    });
    res.on('error', (err) => callback(err));
  });
  req.on('error', (err) => callback(err));
  req.end(input);
}

// Writes a readiness line (READY=1, STOPPING=1) to the fd corefork watches.
function notify(message) {
  if (notifyFd === undefined) return;
  try {
    fs.writeSync(notifyFd, `${message}\n`);
  } catch (err) {
    console.error(`server.js: notify fd ${notifyFd}: ${err.message}`);
  }
}

const server = http.createServer((req, res) => {
  // While draining, every response tells the client to open a new connection
  // (to a worker that is not going away) for its next request.
  if (stopping) res.setHeader('Connection', 'close');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Worker-Pid', String(process.pid));
  const path = req.url.split('?')[0];
  if (path === '/') {
    res.end(`hello from worker ${workerId} pid ${process.pid}\n`);
  } else if (path === '/main') {
    res.end(`fib(30)=${fib(30)} worker ${workerId} pid ${process.pid}\n`);
  } else if (path === '/child') {
    // The same work, offloaded to corefork's `fib` job (a fib-pool.js pool
    // process, or fib.js started for the run without a pool): this worker's
    // event loop stays free meanwhile. Both print the same stdout.
    runJob('fib', JSON.stringify({ n: 30 }), (err, run, status) => {
      if (err) {
        res.statusCode = status === 429 || status === 503 ? 503 : 502;
        if (status === 429) res.setHeader('Retry-After', '1');
        res.end(`fib job: ${err.message}\n`);
      } else if (run.state !== 'succeeded') {
        res.statusCode = 502;
        // `error`: what a pool process answered, or why corefork ended the
        // run; stderr: what the process itself wrote.
        const why = [run.error, (run.stderr ?? '').trimEnd()].filter(Boolean).join('; ');
        res.end(`fib job run ${run.id} ${run.state}` +
          (run.exit_code != null ? ` with exit code ${run.exit_code}` : '') +
          (run.signal ? ` by ${run.signal}` : '') + `: ${why}\n`);
      } else {
        res.setHeader('X-Job-Run', String(run.id));
        res.end(run.stdout);
      }
    });
  } else {
    res.statusCode = 404;
    res.end('not found\n');
  }
});

// fd 3 when started by corefork (or systemd-socket-activate), else own port.
// LISTEN_PID is not checked, so a wrapper between corefork and node (npm
// start, a shell script) still hands the socket through.
const usesActivation = Number(process.env.LISTEN_FDS || 0) > 0;
const target = usesActivation
  ? { fd: 3 }
  : { port: Number(process.env.PORT || 8080) };
delete process.env.LISTEN_FDS;
delete process.env.LISTEN_PID;
delete process.env.LISTEN_FDNAMES;

server.listen(target, () => {
  const where = usesActivation ? 'fd 3' : `port ${target.port}`;
  console.error(`server.js: worker ${workerId} pid ${process.pid} on ${where}`);
  notify('READY=1');
});

function shutdown() {
  if (stopping) return;
  stopping = true;
  console.error(`server.js: worker ${workerId} pid ${process.pid} draining`);
  notify('STOPPING=1');
  // close() stops accepting and calls back once every connection has ended;
  // in-flight requests finish and get "Connection: close".
  server.close(() => {
    console.error(`server.js: worker ${workerId} pid ${process.pid} exiting`);
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    console.error(`server.js: worker ${workerId}: connections open after 30s`);
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
}

// SIGTERM from corefork (or Kubernetes); SIGINT for Ctrl-C when run by hand.
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
