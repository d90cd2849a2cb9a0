// Turns the JSON lines written by bench/common/lib.sh into a markdown report.
//   node report.js meta.json runs.jsonl > report.md
'use strict';

const fs = require('node:fs');

const meta = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const runs = fs.readFileSync(process.argv[3], 'utf8')
  .split('\n').filter(Boolean).map((line) => JSON.parse(line));

const LABEL = {
  'corefork-reuseport': 'corefork (reuseport)',
  'corefork-shared': 'corefork (shared)',
  'corefork-shared-single-accept': 'corefork (shared, UV_TCP_SINGLE_ACCEPT=1)',
  'node-cluster': 'Node cluster (round-robin)',
  'pm2-cluster': 'PM2 cluster (-i 2)',
  'node-single': 'single node',
};
const LAUNCHER = {
  'corefork-reuseport': 'corefork',
  'corefork-shared': 'corefork',
  'corefork-shared-single-accept': 'corefork',
  'node-cluster': 'cluster primary',
  'pm2-cluster': 'PM2 God Daemon',
  'node-single': '-',
};
const BASE = 'node-cluster';
const COREFORK = ['corefork-reuseport', 'corefork-shared'];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const thousands = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const mib = (kb) => kb / 1024;

// ---- per run -------------------------------------------------------------
for (const r of runs) {
  const w = r.wrk;
  r.rps = w.requests / (w.duration_us / 1e6);
  r.p50 = w.latency_us.p50 / 1000;
  r.p99 = w.latency_us.p99 / 1000;
  r.errors = Object.values(w.errors).reduce((a, b) => a + b, 0);
  // Shares over every worker the launcher had (a worker that got nothing
  // counts as 0 %), plus any pid that answered but was not found as a child.
  const counts = { ...w.pids };
  for (const worker of r.workers) counts[worker.pid] ??= 0;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  r.shares = Object.values(counts).map((n) => (total ? (100 * n) / total : 0)).sort((a, b) => b - a);
  // Connections per worker (ss snapshot): pid order of the shares above.
  const conns = { ...(r.connections ?? {}) };
  for (const worker of r.workers) conns[worker.pid] ??= 0;
  r.connSplit = Object.keys(counts)
    .sort((a, b) => counts[b] - counts[a])
    .map((pid) => conns[pid] ?? 0);
  r.unknownPids = Object.keys(w.pids).filter((p) => !r.workers.some((x) => x.pid === p));
  r.launcherMiB = r.launcher_pid ? mib(r.launcher_rss_kb) : NaN;
  r.launcherCpu = r.launcher_pid ? (100 * r.launcher_cpu_ticks / r.clk_tck) / (r.wall_ns / 1e9) : NaN;
  const pct = (ticks) => (100 * ticks / r.clk_tck) / (r.wall_ns / 1e9);
  r.appCpu = pct(r.app_cpu_ticks);
  r.wrkCpu = pct(r.wrk_cpu_ticks);
  r.irqCpu = pct(r.machine_irq_ticks);
  // Requests per CPU-second of the app (launcher + workers): the cost of a
  // request, much less sensitive than req/s to CPU taken by other processes.
  r.perCpu = r.app_cpu_ticks > 0 ? r.rps / (r.appCpu / 100) : NaN;
  r.otherCpu = Math.max(0, pct(r.machine_busy_ticks - r.machine_irq_ticks - r.app_cpu_ticks - r.wrk_cpu_ticks));
  r.workersMiB = mib(r.workers.reduce((a, x) => a + x.rss_kb, 0));
}

const configs = meta.configs.split(/\s+/).filter(Boolean);
const byConfig = Object.fromEntries(configs.map((c) => [c, runs.filter((r) => r.config === c)]));
const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);
const runOf = (c, round) => runs.find((r) => r.config === c && r.round === round);

// Per-round ratio against a reference configuration: configurations of one
// round ran back to back, so this cancels slow drift in the machine's load.
function roundRatios(c, ref, key = 'rps') {
  const out = [];
  for (const round of rounds) {
    const a = runOf(c, round);
    const b = runOf(ref, round);
    if (a && b) out.push(a[key] / b[key]);
  }
  return out;
}

const summary = {};
for (const c of configs) {
  const rs = byConfig[c];
  summary[c] = {
    rps: median(rs.map((r) => r.rps)),
    rpsMin: Math.min(...rs.map((r) => r.rps)),
    rpsMax: Math.max(...rs.map((r) => r.rps)),
    p99: median(rs.map((r) => r.p99)),
    p99Min: Math.min(...rs.map((r) => r.p99)),
    p99Max: Math.max(...rs.map((r) => r.p99)),
    launcherMiB: median(rs.map((r) => r.launcherMiB)),
    launcherMiBMax: Math.max(...rs.map((r) => r.launcherMiB)),
    launcherCpu: median(rs.map((r) => r.launcherCpu)),
    workersMiB: median(rs.map((r) => r.workersMiB)),
    perCpu: median(rs.map((r) => r.perCpu)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    shares: rs.map((r) => r.shares),
  };
}
const base = summary[BASE];
const ratio = (x, y) => (base && Number.isFinite(x) && Number.isFinite(y) && y > 0 ? x / y : NaN);

// ---- output -------------------------------------------------------------
const out = [];
const p = (s = '') => out.push(s);

p(`# corefork benchmark: ${meta.bench} (\`GET ${meta.route}\`)`);
p();
p(`${meta.started} to ${meta.finished}. ${meta.runs} interleaved round(s) x ${configs.length} configurations, ` +
  `${meta.workers} workers each; \`wrk -t${meta.threads} -c${meta.connections} -d${meta.duration} --latency\` ` +
  `after a ${meta.warmup} warm-up, on 127.0.0.1.`);
p();
p(`Machine: ${meta.cpus} CPUs (${meta.cpu_model}), Linux ${meta.kernel}; load average ${meta.loadavg_start} at start, ` +
  `${meta.loadavg_end} at the end. node ${meta.node}, wrk ${meta.wrk}, pm2 ${meta.pm2}, ${meta.corefork} ` +
  `(git ${meta.git}; ${meta.corefork_build}).` +
  (meta.nice ? ` Everything the benchmark started ran at nice ${meta.nice}.` : ''));
p();
p('| configuration | req/s median (min-max) | x cluster | p99 ms median (min-max) | worker shares per run (%) | launcher | launcher RSS MiB | x cluster | launcher CPU % | workers RSS MiB | req per app CPU-s | x cluster |');
p('|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|');
for (const c of configs) {
  const s = summary[c];
  const shares = s.shares.map((sh) => sh.map((x) => fmt(x)).join('/')).join(', ');
  p(`| ${LABEL[c] ?? c} | ${thousands(s.rps)} (${thousands(s.rpsMin)}-${thousands(s.rpsMax)}) | ` +
    `${fmt(ratio(s.rps, base?.rps), 2)} | ${fmt(s.p99, 2)} (${fmt(s.p99Min, 2)}-${fmt(s.p99Max, 2)}) | ${shares} | ` +
    `${LAUNCHER[c] ?? '?'} | ${fmt(s.launcherMiB, 1)} | ${fmt(ratio(s.launcherMiB, base?.launcherMiB), 2)} | ` +
    `${fmt(s.launcherCpu, 1)} | ${fmt(s.workersMiB, 1)} | ${thousands(s.perCpu)} | ${fmt(ratio(s.perCpu, base?.perCpu), 2)} |`);
}
p();
p('Worker shares: each run\'s responses per worker (X-Worker-Pid), largest first. ' +
  '"connections" in the per-run table: how many of wrk\'s keep-alive connections each worker held (same order).');
p('"x cluster" is the median divided by Node cluster\'s median. Launcher CPU % is the launcher process\'s own ' +
  'CPU time during the measured window (100 % = one core); workers RSS is the sum over the workers. ' +
  '"req per app CPU-s" divides req/s by the CPU the launcher and its workers used: the cost of a request, ' +
  'less sensitive than req/s to CPU taken by wrk, the kernel and other processes.');
const errs = configs.filter((c) => summary[c].errors > 0);
if (errs.length) p(`\nwrk errors (connect/read/write/status/timeout, all runs): ${errs.map((c) => `${c} ${summary[c].errors}`).join(', ')}.`);
const unknown = runs.filter((r) => r.unknownPids.length);
if (unknown.length) p(`\nNote: responses came from pids that were not children of the launcher in ${unknown.length} run(s).`);

// ---- targets ----------------------------------------------------------------
if (base) {
  p();
  p('## Targets (issue 5)');
  p();
  p('| target | configuration | measured | per-round values | result |');
  p('|---|---|---:|---|---|');
  const verdict = (ok) => (ok ? 'PASS' : '**MISS**');
  for (const c of COREFORK.filter((x) => summary[x])) {
    const s = summary[c];
    const rc = roundRatios(c, BASE);
    const vsCluster = ratio(s.rps, base.rps);
    p(`| throughput >= 0.95x Node cluster | ${LABEL[c]} | ${fmt(vsCluster, 2)}x | ${rc.map((x) => fmt(x, 2)).join(', ')} | ${verdict(vsCluster >= 0.95)} |`);
    if (summary['pm2-cluster']) {
      const rp = roundRatios(c, 'pm2-cluster');
      const vsPm2 = s.rps / summary['pm2-cluster'].rps;
      p(`| throughput >= 1.1x PM2 | ${LABEL[c]} | ${fmt(vsPm2, 2)}x | ${rp.map((x) => fmt(x, 2)).join(', ')} | ${verdict(vsPm2 >= 1.1)} |`);
    }
    const shares = byConfig[c].map((r) => r.shares);
    const worst = Math.max(...shares.map((sh) => Math.max(...sh.map((x) => Math.abs(x - 50)))));
    const ok = shares.every((sh) => sh.every((x) => x >= 40 && x <= 60));
    p(`| each worker's share 40-60 % | ${LABEL[c]} | worst ${fmt(50 + worst)}/${fmt(50 - worst)} | ${shares.map((sh) => sh.map((x) => fmt(x)).join('/')).join(', ')} | ${verdict(ok)} |`);
    p(`| launcher RSS < 10 MiB | ${LABEL[c]} | max ${fmt(s.launcherMiBMax, 1)} MiB | ${byConfig[c].map((r) => fmt(r.launcherMiB, 1)).join(', ')} | ${verdict(s.launcherMiBMax < 10)} |`);
  }
}

// ---- every run ---------------------------------------------------------------
p();
p('## Every run (in the order they ran)');
p();
p('| round | configuration | req/s | p50 ms | p99 ms | request shares % | connections | launcher RSS MiB | launcher CPU % | app CPU % | wrk CPU % | softirq CPU % | other CPU % | req per app CPU-s | errors |');
p('|---:|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of runs) {
  p(`| ${r.round} | ${LABEL[r.config] ?? r.config} | ${thousands(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ` +
    `${r.shares.map((x) => fmt(x, 1)).join('/')} | ${r.connSplit.join('/')} | ${fmt(r.launcherMiB, 1)} | ${fmt(r.launcherCpu, 1)} | ${fmt(r.appCpu)} | ${fmt(r.wrkCpu)} | ${fmt(r.irqCpu)} | ${fmt(r.otherCpu)} | ${thousands(r.perCpu)} | ${r.errors} |`);
}

p();
p('CPU columns are % of one core over the measured window (the machine has ' + meta.cpus + ' cores = ' + 100 * meta.cpus + ' %): ' +
  'app = launcher + workers, wrk = the load generator, ' +
  'softirq = kernel irq/softirq time (loopback TCP, attributed to no process), other = everything else on the machine (noise).');

process.stdout.write(out.join('\n') + '\n');
