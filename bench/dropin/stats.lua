-- wrk script of bench/dropin: no per-response callback (the app's answers carry
-- no worker id, and a response() hook would cost wrk CPU); done() prints one
-- line for run.sh:
--   DROPIN_JSON {"requests":..,"duration_us":..,"errors":{..},"latency_us":{..}}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'DROPIN_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
