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
  const path = req.url.split('?')[0];
  if (path === '/') {
    res.end(`hello from worker ${workerId} pid ${process.pid}\n`);
  } else if (path === '/main') {
    res.end(`fib(30)=${fib(30)} worker ${workerId} pid ${process.pid}\n`);
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
