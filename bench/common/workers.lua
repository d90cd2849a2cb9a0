-- wrk script for the corefork benchmarks.
--
-- Counts responses per X-Worker-Pid header (examples/node/server.js sets it to
-- process.pid on every response). Every wrk thread has its own Lua state, so
-- each thread counts into its own global `counts` table; done() runs in the
-- main state and adds the threads' tables together (thread:get copies them).
--
-- done() prints one machine-readable line, parsed by bench/common/lib.sh:
--   CFBENCH_JSON {"requests":..,"duration_us":..,"errors":{..},"latency_us":{..},"pids":{"<pid>":n,..}}

threads = {}
counts = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local pid = headers["X-Worker-Pid"] or headers["x-worker-pid"] or "none"
  counts[pid] = (counts[pid] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts") or {}
    for pid, n in pairs(c) do
      total[pid] = (total[pid] or 0) + n
    end
  end
  local pids = {}
  for pid, n in pairs(total) do
    pids[#pids + 1] = string.format('"%s":%d', pid, n)
  end
  local e = summary.errors
  io.write(string.format(
    'CFBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"pids":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    table.concat(pids, ",")))
end
