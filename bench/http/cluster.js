// Node `cluster` baseline for the corefork benchmarks.
//
// The primary forks $WORKERS (default 2) workers; each worker just requires
// examples/node/server.js, which (LISTEN_FDS unset) calls server.listen(PORT).
// Under cluster that listen is shared: the primary owns the socket and, with
// the default scheduling policy on Linux (SCHED_RR, round-robin), accepts every
// connection itself and passes it to a worker over IPC.
//
//   PORT=8080 node bench/http/cluster.js
'use strict';

const cluster = require('node:cluster');
const path = require('node:path');

if (cluster.isPrimary) {
  const count = Number(process.env.WORKERS || 2);
  let stopping = false;
  let alive = 0;

  for (let i = 0; i < count; i++) {
    // Same worker id variable corefork sets, so the response bodies match.
    cluster.fork({ COREFORK_WORKER_ID: String(i) });
    alive++;
  }

  cluster.on('exit', (worker, code, signal) => {
    alive--;
    if (!stopping) {
      console.error(`cluster.js: worker pid ${worker.process.pid} died (${signal || code})`);
    }
    if (alive === 0) process.exit(stopping ? 0 : 1);
  });

  // SIGTERM/SIGINT: pass SIGTERM to every worker (server.js drains and exits 0).
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  require(path.join(__dirname, '..', '..', 'examples', 'node', 'server.js'));
}
