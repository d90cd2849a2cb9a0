// Node `cluster` wrapper for bench/dropin: the primary forks $WORKERS (default
// 2) workers, each requires the unmodified app.js, whose app.listen(PORT) is
// then shared through the primary (default SCHED_RR on Linux: the primary
// accepts every connection and passes it to a worker over IPC). This is how the
// app would be run with Node's cluster module; app.js itself is unchanged.
//
//   PORT=8080 node bench/dropin/cluster.js
'use strict';

const cluster = require('node:cluster');
const path = require('node:path');

if (cluster.isPrimary) {
  const count = Number(process.env.WORKERS || 2);
  let stopping = false;
  let alive = count;
  for (let i = 0; i < count; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    alive--;
    if (!stopping) console.error(`cluster.js: worker ${worker.process.pid} died (${signal || code})`);
    if (alive === 0) process.exit(stopping ? 0 : 1);
  });
  // app.js has no SIGTERM handler: its workers die on the signal, which is
  // what a plain `node app.js` does too.
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  require(path.join(__dirname, 'app.js'));
}
