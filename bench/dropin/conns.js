// Worker share of new connections, with the unmodified app (its answers do not
// say which worker sent them). Opens N connections to 127.0.0.1:PORT one after
// the other; on each sends `GET /` and waits for the whole answer, then keeps it
// open. With all N open, one `ss` snapshot tells which process holds the server
// side of each (the worker that accepted it, or got it from a cluster primary),
// and it prints one JSON line: {"pids":{"<pid>":n,...},"unmapped":k,"failed":f}.
//
//   node conns.js PORT N [LAUNCHER_PID]
// LAUNCHER_PID is ignored as a holder (a Node cluster / PM2 primary may still
// hold its copy of a connection it passed on). Bounded: 2 s per connection,
// 30 s in all.
'use strict';

const net = require('node:net');
const { execFileSync } = require('node:child_process');

const port = Number(process.argv[2]);
const count = Number(process.argv[3] || 100);
const launcher = process.argv[4] || '';
const deadline = Date.now() + 30000;

function oneConnection() {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const fail = () => { clearTimeout(t); s.destroy(); resolve(null); };
    const t = setTimeout(fail, 2000);
    s.on('error', fail);
    s.on('connect', () => s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    s.on('data', (d) => {
      got += d;
      const head = got.indexOf('\r\n\r\n');
      if (head < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(got.slice(0, head));
      if (m && got.length - head - 4 >= Number(m[1])) {
        clearTimeout(t);
        resolve(got.startsWith('HTTP/1.1 200') ? s : (s.destroy(), null));
      }
    });
  });
}

(async () => {
  const open = [];
  let failed = 0;
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    const s = await oneConnection();
    if (s) open.push(s); else failed++;
  }
  const byClientPort = new Map(open.map((s) => [s.localPort, s]));
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`],
                           { encoding: 'utf8', timeout: 5000, maxBuffer: 4 << 20 });
  const pids = {};
  let mapped = 0;
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const peerPort = Number(f[3].slice(f[3].lastIndexOf(':') + 1));
    if (!byClientPort.has(peerPort)) continue;
    const holders = [...line.matchAll(/pid=(\d+)/g)].map((m) => m[1]).filter((p) => p !== launcher);
    if (holders.length === 0) continue;
    const pid = holders[holders.length - 1];
    pids[pid] = (pids[pid] || 0) + 1;
    mapped++;
  }
  for (const s of open) s.destroy();
  console.log(JSON.stringify({ pids, unmapped: open.length - mapped, failed }));
})();
