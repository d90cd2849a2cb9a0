#!/usr/bin/python3
"""Soak-test roles for corefork, started by tests/soak/run.sh.

Each role is one process so that a busy role (1000+ sockets) cannot skew the
/livez latency the prober measures. Every role runs until the absolute
deadline SOAK_END (epoch seconds), bounds each wait with a timeout, talks to
127.0.0.1 and the control unix socket only, and writes its figures to
OUT/<role>.json (and CSVs) for the `summary` role. Standard library only
(Debian's /usr/bin/python3).

  soak.py livez   probe GET /livez every 100 ms on a fresh connection
  soak.py conns   hold idle and slow (1 byte / 0.3 s) admin connections
  soak.py drive   scrapes, reloads/scales, job floods, worker kills
  soak.py sample  corefork RSS / fds / threads every 10 s
  soak.py logsink copy stdin (corefork's stderr) to a size-capped log
  soak.py summary print the table, exit 1 if a check failed
"""

import asyncio
import bisect
import csv
import http.client
import json
import math
import os
import random
import signal
import socket
import sys
import threading
import time

ENV = os.environ
OUT = ENV.get("SOAK_OUT", ".")
END = float(ENV.get("SOAK_END", "0"))
START = float(ENV.get("SOAK_START", str(time.time())))
ADMIN_PORT = int(ENV.get("SOAK_ADMIN_PORT", "0"))
APP_PORT = int(ENV.get("SOAK_APP_PORT", "0"))
CONTROL = ENV.get("SOAK_CONTROL_SOCKET", "")
COREFORK_PID = int(ENV.get("SOAK_COREFORK_PID", "0"))
HOST = "127.0.0.1"


def now():
    return time.time()


def remaining():
    return END - now()


def write_json(name, data):
    tmp = os.path.join(OUT, name + ".json.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(OUT, name + ".json"))


def read_json(name):
    try:
        with open(os.path.join(OUT, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[min(k, len(sorted_values) - 1)]


class Counter:
    """Thread-safe nested counters: counts[activity][outcome]."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.latencies = {}
        self.events = []  # (seconds since START, what), to explain spikes

    def event(self, what):
        with self.lock:
            if len(self.events) < 100000:
                self.events.append((round(now() - START, 3), what))

    def add(self, activity, outcome, n=1):
        with self.lock:
            a = self.counts.setdefault(activity, {})
            a[outcome] = a.get(outcome, 0) + n

    def latency(self, activity, ms):
        with self.lock:
            self.latencies.setdefault(activity, []).append(ms)

    def snapshot(self):
        with self.lock:
            lat = {}
            for k, v in self.latencies.items():
                s = sorted(v)
                lat[k] = {"n": len(s), "p50": percentile(s, 50),
                          "p99": percentile(s, 99), "max": s[-1]}
            return {"counts": json.loads(json.dumps(self.counts)),
                    "latency_ms": lat, "events": list(self.events)}


# --- HTTP helpers -----------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def control_request(method, path, body=None, timeout=10.0):
    """One request on the control socket; returns (status, body, ms)."""
    t0 = time.perf_counter()
    conn = UnixHTTPConnection(CONTROL, timeout)
    try:
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read(8 << 20)
        return r.status, data, (time.perf_counter() - t0) * 1000
    finally:
        conn.close()


def admin_get(path, timeout=5.0):
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, ADMIN_PORT, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        data = r.read(16 << 20)
        return r.status, data, (time.perf_counter() - t0) * 1000
    finally:
        conn.close()


# --- livez prober ------------------------------------------------------------


def run_delays(pid):
    """{tid: ns spent runnable but not running} from /proc/.../schedstat."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return out


def self_run_delay():
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def role_livez():
    """GET /livez every 100 ms on a fresh connection (as a kubelet probe),
    timing connect + request + whole answer. Also records how long this
    prober and corefork's threads waited for a CPU meanwhile (schedstat
    run_delay), so a slow probe on a busy machine can be told apart from a
    stalled loop."""
    period = 0.1
    timeout = 2.0
    req = b"GET /livez HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
    path = os.path.join(OUT, "livez.csv")
    n = errors = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "ms", "status", "self_wait_ms", "cf_wait_max_ms",
                    "cf_wait_sum_ms"])
        nxt = now()
        while now() < END:
            t_start = now()
            cf0 = run_delays(COREFORK_PID)
            self0 = self_run_delay()
            t0 = time.perf_counter()
            status = "error"
            try:
                with socket.create_connection((HOST, ADMIN_PORT),
                                              timeout=timeout) as s:
                    s.settimeout(max(0.01, timeout -
                                     (time.perf_counter() - t0)))
                    s.sendall(req)
                    buf = b""
                    while len(buf) < 65536:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        buf += chunk
                    line = buf.split(b"\r\n", 1)[0].split()
                    status = line[1].decode() if len(line) > 1 else "empty"
            except socket.timeout:
                status = "timeout"
            except OSError as e:
                status = "error:" + type(e).__name__
            ms = (time.perf_counter() - t0) * 1000
            self_wait = (self_run_delay() - self0) / 1e6
            cf1 = run_delays(COREFORK_PID)
            waits = [(cf1[k] - cf0[k]) / 1e6 for k in cf1 if k in cf0]
            n += 1
            if status != "200":
                errors += 1
            w.writerow([f"{t_start - START:.3f}", f"{ms:.3f}", status,
                        f"{self_wait:.3f}", f"{max(waits, default=0):.3f}",
                        f"{sum(waits):.3f}"])
            if n % 50 == 0:
                f.flush()
            nxt += period
            delay = nxt - now()
            if delay > 0:
                time.sleep(min(delay, period))
            else:
                nxt = now()  # a slow probe: start the next one at once
    write_json("livez", {"probes": n, "errors": errors})


# --- idle and slow admin connections ----------------------------------------


async def conns_main():
    n_idle = int(ENV.get("SOAK_IDLE", "1000"))
    n_slow = int(ENV.get("SOAK_SLOW", "300"))
    byte_interval = float(ENV.get("SOAK_SLOW_INTERVAL", "0.3"))
    c = {"idle": {}, "slow": {}}
    open_now = {"idle": 0, "slow": 0}
    max_open = {"idle": 0, "slow": 0}

    def add(kind, key, n=1):
        c[kind][key] = c[kind].get(key, 0) + n

    async def connect(kind):
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(HOST, ADMIN_PORT), timeout=5)
        except asyncio.TimeoutError:
            add(kind, "connect_timeout")
            return None
        except OSError as e:
            add(kind, "connect_error:" + type(e).__name__)
            return None
        add(kind, "opened")
        open_now[kind] += 1
        max_open[kind] = max(max_open[kind], open_now[kind])
        return r, w

    def close(kind, w):
        open_now[kind] -= 1
        try:
            w.close()
        except OSError:
            pass

    async def idle_one(i):
        await asyncio.sleep(i * 0.002)  # stagger the opening SYNs
        while remaining() > 0:
            rw = await connect("idle")
            if rw is None:
                await asyncio.sleep(0.5)
                continue
            r, w = rw
            t0 = now()
            try:
                data = await asyncio.wait_for(r.read(4096),
                                              timeout=max(0.01, remaining()))
                add("idle", "closed_by_server" if not data else "got_bytes")
                add("idle", "lifetime_ms_sum", int((now() - t0) * 1000))
            except asyncio.TimeoutError:
                add("idle", "held_to_end")
            except OSError as e:
                add("idle", "error:" + type(e).__name__)
            close("idle", w)
            await asyncio.sleep(random.uniform(0.05, 0.3))

    async def slow_one(i):
        await asyncio.sleep(i * 0.005)
        req = (f"GET /status HTTP/1.1\r\nHost: soak-{i}\r\n"
               "User-Agent: soak-slowloris\r\n\r\n").encode()
        while remaining() > 0:
            rw = await connect("slow")
            if rw is None:
                await asyncio.sleep(0.5)
                continue
            r, w = rw
            read_task = asyncio.ensure_future(r.read(65536))
            sent = 0
            try:
                while sent < len(req) and not read_task.done() \
                        and remaining() > 0:
                    w.write(req[sent:sent + 1])
                    await w.drain()
                    sent += 1
                    add("slow", "bytes_sent")
                    await asyncio.wait([read_task], timeout=byte_interval)
                if sent == len(req):
                    add("slow", "completed_requests")
                await asyncio.wait([read_task],
                                   timeout=max(0.01, min(10, remaining())))
                if read_task.done():
                    data = read_task.result()
                    if not data:
                        add("slow", "closed_without_answer")
                    else:
                        parts = data.split(b"\r\n", 1)[0].split()
                        code = parts[1].decode() if len(parts) > 1 else "?"
                        add("slow", "answer_" + code)
                else:
                    add("slow", "held_to_end")
            except OSError as e:
                add("slow", "error:" + type(e).__name__)
            finally:
                if not read_task.done():
                    read_task.cancel()
                else:
                    read_task.exception()  # mark retrieved
            close("slow", w)
            await asyncio.sleep(random.uniform(0.05, 0.3))

    async def report():
        while remaining() > 0:
            await asyncio.sleep(min(5, max(0.01, remaining())))
            write_json("conns", {"counts": c, "max_open": max_open,
                                 "open_now": open_now, "idle": n_idle,
                                 "slow": n_slow})

    tasks = [asyncio.ensure_future(idle_one(i)) for i in range(n_idle)]
    tasks += [asyncio.ensure_future(slow_one(i)) for i in range(n_slow)]
    tasks.append(asyncio.ensure_future(report()))
    # Every task ends by itself at the deadline; the timeout is a backstop.
    await asyncio.wait(tasks, timeout=max(1, remaining() + 15))
    for t in tasks:
        t.cancel()
    write_json("conns", {"counts": c, "max_open": max_open,
                         "open_now": open_now, "idle": n_idle,
                         "slow": n_slow})


def role_conns():
    asyncio.run(conns_main())


# --- driver: scrapes, control, jobs, kills -----------------------------------


def thread_scrapes(cnt, rate):
    """Prometheus-style: keep-alive connection, /metrics and /status in turn."""
    period = 1.0 / rate
    conn = None
    i = 0
    nxt = now()
    while now() < END:
        path = "/metrics" if i % 2 == 0 else "/status"
        i += 1
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, ADMIN_PORT, timeout=5)
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read(16 << 20)
            ok = r.status == 200 and len(body) > 0
            cnt.add("scrape" + path, "ok" if ok else f"http_{r.status}")
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            # A keep-alive connection the server closed while idle is normal;
            # count it apart from real failures and retry on a new one.
            kind = type(e).__name__
            if conn is not None and isinstance(
                    e, (http.client.RemoteDisconnected, ConnectionResetError,
                        BrokenPipeError)):
                cnt.add("scrape" + path, "keepalive_closed")
            else:
                cnt.add("scrape" + path, "error:" + kind)
            if conn is not None:
                conn.close()
            conn = None
        cnt.latency("scrape" + path, (time.perf_counter() - t0) * 1000)
        nxt += period
        time.sleep(max(0, min(period, nxt - now())))
        if nxt < now() - 1:
            nxt = now()
    if conn is not None:
        conn.close()


def thread_control(cnt, period):
    """Alternately: POST /reload, then POST /scale to 3 (or back to 2)."""
    step = 0
    nxt = now() + 2
    while True:
        delay = nxt - now()
        if delay > 0:
            time.sleep(min(delay, max(0, remaining())))
        if now() >= END - 1:
            break
        nxt += period / 2
        if step % 2 == 0:
            act, method, path, body = "reload", "POST", "/reload", None
        else:
            n = 3 if (step // 2) % 2 == 0 else 2
            act, method, path = f"scale_to_{n}", "POST", "/scale"
            body = json.dumps({"workers": n})
        step += 1
        # A scale that meets a reload in progress gets 409: retry for a while.
        for attempt in range(20):
            try:
                status, data, ms = control_request(method, path, body)
            except (OSError, http.client.HTTPException) as e:
                cnt.add(act, "error:" + type(e).__name__)
                break
            cnt.latency("control", ms)
            if status in (200, 202):
                cnt.add(act, "ok")
                cnt.event(act)
                break
            if status == 409 and attempt < 19 and now() < END - 2:
                cnt.add(act, "busy_retry")
                time.sleep(0.5)
                continue
            cnt.add(act, "busy" if status == 409 else f"http_{status}")
            break
        # GET /jobs must not wait behind long-polls.
        try:
            status, _, ms = control_request("GET", "/jobs")
            cnt.latency("control", ms)
            cnt.add("get_jobs", "ok" if status == 200 else f"http_{status}")
        except (OSError, http.client.HTTPException) as e:
            cnt.add("get_jobs", "error:" + type(e).__name__)


def wait_client(cnt, job, hang_up_after):
    """POST ?wait=true and hang up after a while without reading the answer."""
    t0 = time.perf_counter()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(hang_up_after)
        s.connect(CONTROL)
        s.sendall(f"POST /jobs/{job}/runs?wait=true HTTP/1.1\r\n"
                  "Host: localhost\r\nContent-Length: 0\r\n\r\n".encode())
        try:
            data = s.recv(4096)
            parts = data.split(b"\r\n", 1)[0].split()
            code = parts[1].decode() if len(parts) > 1 else "closed"
            cnt.add("wait_client", "answered_" + code)
        except socket.timeout:
            cnt.add("wait_client", "hung_up")
        s.close()
    except OSError as e:
        cnt.add("wait_client", "error:" + type(e).__name__)
    cnt.latency("wait_client", (time.perf_counter() - t0) * 1000)


def post_run(cnt, job):
    try:
        status, data, ms = control_request("POST", f"/jobs/{job}/runs")
    except (OSError, http.client.HTTPException) as e:
        cnt.add("job_" + job, "error:" + type(e).__name__)
        return None
    cnt.latency("control", ms)
    if status == 202:
        cnt.add("job_" + job, "accepted")
        try:
            return json.loads(data).get("id")
        except ValueError:
            return None
    cnt.add("job_" + job, "rejected_429" if status == 429 else
            f"http_{status}")
    return None


def thread_jobs(cnt, period, spam, big, waiters, flood, flood_every):
    last_ids = []
    nxt = now() + 1
    burst = 0
    while True:
        delay = nxt - now()
        if delay > 0:
            time.sleep(min(delay, max(0, remaining())))
        if now() >= END - 2:
            break
        nxt += period
        threads = [threading.Thread(target=wait_client,
                                    args=(cnt, "sleepy", 1.0), daemon=True)
                   for _ in range(waiters)]
        for t in threads:
            t.start()
        ids = []
        # Every flood_every-th burst overflows the spam queue (429s).
        burst += 1
        cnt.event("job_burst")
        n_spam = flood if flood_every and burst % flood_every == 0 else spam
        for _ in range(n_spam):
            ids.append(post_run(cnt, "spam"))
        for _ in range(big):
            ids.append(post_run(cnt, "big"))
        for _ in range(2):
            post_run(cnt, "forever")
        ids = [i for i in ids if i is not None]
        # Read back a run from the previous burst (big JSON with its output),
        # and cancel one of this burst (queued or running).
        for run_id in last_ids[:2]:
            try:
                status, data, ms = control_request("GET",
                                                   f"/jobs/runs/{run_id}")
                cnt.latency("control", ms)
                cnt.add("get_run", "ok" if status == 200 else
                        ("gone_404" if status == 404 else f"http_{status}"))
            except (OSError, http.client.HTTPException) as e:
                cnt.add("get_run", "error:" + type(e).__name__)
        if ids:
            try:
                status, _, ms = control_request("DELETE",
                                                f"/jobs/runs/{ids[-1]}")
                cnt.latency("control", ms)
                cnt.add("cancel_run", f"http_{status}")
            except (OSError, http.client.HTTPException) as e:
                cnt.add("cancel_run", "error:" + type(e).__name__)
        last_ids = ids
        for t in threads:
            t.join(timeout=5)


def thread_kills(cnt, period):
    nxt = now() + period
    while True:
        delay = nxt - now()
        if delay > 0:
            time.sleep(min(delay, max(0, remaining())))
        if now() >= END - 1:
            break
        nxt += period
        try:
            status, data, _ = admin_get("/status")
            slots = json.loads(data).get("slots", []) if status == 200 else []
        except (OSError, ValueError, http.client.HTTPException) as e:
            cnt.add("kill_worker", "status_error:" + type(e).__name__)
            continue
        pids = [s["pid"] for s in slots if s.get("pid")]
        if not pids:
            cnt.add("kill_worker", "no_worker")
            continue
        try:
            os.kill(random.choice(pids), signal.SIGKILL)
            cnt.add("kill_worker", "ok")
            cnt.event("kill_worker")
        except OSError as e:
            cnt.add("kill_worker", "error:" + type(e).__name__)


def thread_app(cnt, rate):
    """Fallback app load when wrk is missing: GET / at a low rate."""
    period = 1.0 / rate
    while now() < END:
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(HOST, APP_PORT, timeout=5)
            conn.request("GET", "/")
            r = conn.getresponse()
            r.read(65536)
            conn.close()
            cnt.add("app_python", "ok" if r.status == 200 else
                    f"http_{r.status}")
        except (OSError, http.client.HTTPException) as e:
            cnt.add("app_python", "error:" + type(e).__name__)
        cnt.latency("app_python", (time.perf_counter() - t0) * 1000)
        time.sleep(max(0, period - (time.perf_counter() - t0)))


def role_drive():
    cnt = Counter()
    g = lambda k, d: float(ENV.get(k, d))  # noqa: E731
    threads = [
        threading.Thread(target=thread_scrapes,
                         args=(cnt, g("SOAK_SCRAPE_RATE", "5")), daemon=True),
        threading.Thread(target=thread_control,
                         args=(cnt, g("SOAK_RELOAD_EVERY", "20")),
                         daemon=True),
        threading.Thread(target=thread_jobs,
                         args=(cnt, g("SOAK_JOB_BURST_EVERY", "5"),
                               int(g("SOAK_JOB_SPAM", "4")),
                               int(g("SOAK_JOB_BIG", "3")),
                               int(g("SOAK_JOB_WAITERS", "10")),
                               int(g("SOAK_JOB_FLOOD", "30")),
                               int(g("SOAK_JOB_FLOOD_EVERY", "6"))),
                         daemon=True),
        threading.Thread(target=thread_kills,
                         args=(cnt, g("SOAK_KILL_EVERY", "15")), daemon=True),
    ]
    if ENV.get("SOAK_APP_PYTHON") == "1":
        threads.append(threading.Thread(target=thread_app, args=(cnt, 20),
                                        daemon=True))
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and now() < END + 30:
        write_json("drive", cnt.snapshot())
        time.sleep(2)
    write_json("drive", cnt.snapshot())


# --- resource sampler ---------------------------------------------------------


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def role_sample():
    period = float(ENV.get("SOAK_SAMPLE_EVERY", "10"))
    pid = COREFORK_PID
    path = os.path.join(OUT, "samples.csv")
    died = None
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "rss_kb", "fds", "threads", "children", "loadavg1"])
        nxt = now()
        while True:
            try:
                st = proc_status(pid)
                if st.get("State", "").startswith("Z"):
                    raise FileNotFoundError("zombie")
                rss = int(st["VmRSS"].split()[0])
                threads = int(st["Threads"])
                fds = len(os.listdir(f"/proc/{pid}/fd"))
                children = 0
                for tid in os.listdir(f"/proc/{pid}/task"):
                    try:
                        with open(f"/proc/{pid}/task/{tid}/children") as cf:
                            children += len(cf.read().split())
                    except OSError:
                        pass
            except (OSError, KeyError, ValueError) as e:
                died = f"{now() - START:.1f}s: {e}"
                break
            with open("/proc/loadavg") as lf:
                load = lf.read().split()[0]
            w.writerow([f"{now() - START:.1f}", rss, fds, threads, children,
                        load])
            f.flush()
            if now() >= END:
                break
            nxt += period
            time.sleep(max(0, min(period, nxt - now(), remaining())))
    write_json("sample", {"died": died, "pid": pid})


# --- log sink -------------------------------------------------------------------


def role_logsink():
    """corefork's stderr: keep reading (a pipe nobody reads would be a test of
    something else) and keep at most 2 x LIMIT bytes on disk."""
    limit = int(ENV.get("SOAK_LOG_LIMIT", str(16 << 20)))
    path = os.path.join(OUT, "corefork.log")
    total = 0
    written = 0
    f = open(path, "wb")
    fd = sys.stdin.fileno()
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        total += len(chunk)
        if written + len(chunk) > limit:
            f.close()
            os.replace(path, path + ".1")
            f = open(path, "wb")
            written = 0
        f.write(chunk)
        f.flush()
        written += len(chunk)
    f.close()
    write_json("logsink", {"bytes": total})


# --- summary --------------------------------------------------------------------


def load_csv(name):
    try:
        with open(os.path.join(OUT, name), newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def fmt(v, d=1):
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.{d}f}"
    return str(v)


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows))
              if rows else len(str(h)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w)
                             for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [line, sep]
    for r in rows:
        out.append("| " + " | ".join(str(c).ljust(w)
                                     for c, w in zip(r, widths)) + " |")
    return "\n".join(out)


def parse_wrk(path):
    try:
        text = open(path).read()
    except OSError:
        return None
    res = {"requests": None, "non_2xx": 0, "socket_errors": 0, "raw": ""}
    for line in text.splitlines():
        s = line.strip()
        if "requests in" in s:
            res["requests"] = int(s.split()[0])
        elif s.startswith("Non-2xx"):
            res["non_2xx"] = int(s.split()[-1])
        elif s.startswith("Socket errors"):
            nums = [int(x.strip(",")) for x in s.split()
                    if x.strip(",").isdigit()]
            res["socket_errors"] = sum(nums)
            res["raw"] = s
        elif s.startswith("Latency") and "p99" not in res:
            res["latency"] = s
    return res


def role_summary():
    duration = float(ENV.get("SOAK_SECONDS", "600"))
    warmup = float(ENV.get("SOAK_WARMUP", str(min(60.0, duration / 3))))
    rss_growth = float(ENV.get("SOAK_RSS_GROWTH", "0.20"))
    p99_limit = float(ENV.get("SOAK_LIVEZ_P99_MS", "50"))
    max_threads = int(ENV.get("SOAK_MAX_THREADS", "64"))
    control_max_ms = float(ENV.get("SOAK_CONTROL_MAX_MS", "2000"))
    max_fds = int(ENV.get("SOAK_MAX_FDS", str(
        int(ENV.get("SOAK_IDLE", "1000")) + int(ENV.get("SOAK_SLOW", "300"))
        + 512)))
    failures = []
    lines = []
    p = lines.append

    # Resources.
    samples = load_csv("samples.csv")
    sample_info = read_json("sample") or {}
    p(f"## corefork resources (sampled every "
      f"{ENV.get('SOAK_SAMPLE_EVERY', '10')} s, {len(samples)} samples, "
      f"{os.path.join(OUT, 'samples.csv')})\n")
    rows = []
    series = {}
    for key, label in (("rss_kb", "RSS (KiB)"), ("fds", "fds"),
                       ("threads", "threads"), ("children", "children")):
        vals = [(float(s["t"]), int(s[key])) for s in samples]
        series[key] = vals
        if vals:
            only = [v for _, v in vals]
            rows.append([label, only[0], min(only), max(only), only[-1]])
    p(table(["metric", "first", "min", "max", "last"], rows))
    if samples:
        loads = [float(s["loadavg1"]) for s in samples]
        p(f"\nmachine load average (1 min): min {min(loads):.1f}, "
          f"max {max(loads):.1f}")
    p("")

    if sample_info.get("died"):
        failures.append(f"corefork died or vanished at {sample_info['died']}")
    if len(samples) < max(2, int(duration / 10 * 0.8)):
        failures.append(f"only {len(samples)} resource samples")
    rss = series.get("rss_kb", [])
    base = [v for t, v in rss if t <= warmup]
    later = [v for t, v in rss if t > warmup]
    if base and later:
        plateau = max(base)
        peak = max(later)
        growth = peak / plateau - 1
        p(f"RSS: first-{warmup:.0f}s plateau {plateau} KiB, later peak "
          f"{peak} KiB ({growth * 100:+.1f}%, limit "
          f"+{rss_growth * 100:.0f}%)")
        if growth > rss_growth:
            failures.append(f"RSS grew {growth * 100:.1f}% over the "
                            f"first-{warmup:.0f}s plateau ({plateau} -> "
                            f"{peak} KiB)")

    def trend(key, slack, cap):
        vals = series.get(key, [])
        post = [v for t, v in vals if t > warmup]
        if len(post) >= 3:
            third = len(post) // 3
            mid = max(post[third:2 * third] or post[:1])
            last = max(post[2 * third:])
            p(f"{key}: middle-third max {mid}, last-third max {last}, "
              f"cap {cap}")
            if last > mid * 1.10 + slack:
                failures.append(f"{key} still growing: middle third max "
                                f"{mid}, last third max {last}")
        if vals and max(v for _, v in vals) > cap:
            failures.append(f"{key} reached {max(v for _, v in vals)} "
                            f"(cap {cap})")

    trend("fds", 64, max_fds)
    trend("threads", 4, max_threads)
    p("")

    # /livez.
    probes = load_csv("livez.csv")
    drive = read_json("drive") or {"counts": {}, "latency_ms": {}}
    exclude_wait = ENV.get("SOAK_LIVEZ_EXCLUDE_CPU_WAIT", "0") == "1"
    p(f"## /livez (fresh connection every 100 ms, "
      f"{os.path.join(OUT, 'livez.csv')})\n")

    def wait_of(r):
        # CPU wait on the probe's path: the prober's own plus the longest of
        # corefork's threads (a lower bound when several threads waited).
        try:
            return float(r["self_wait_ms"]) + float(r["cf_wait_max_ms"])
        except (KeyError, TypeError, ValueError):
            return 0.0

    by_min = {}
    errs = {}
    for r in probes:
        m = int(float(r["t"]) // 60)
        ms = float(r["ms"])
        d = by_min.setdefault(m, {"ms": [], "adj": [], "err": 0})
        d["ms"].append(ms)
        d["adj"].append(max(0.0, ms - wait_of(r)))
        if r["status"] != "200":
            errs[r["status"]] = errs.get(r["status"], 0) + 1
            d["err"] += 1
    rows = []
    allms, alladj = [], []
    for m in sorted(by_min):
        s = sorted(by_min[m]["ms"])
        a = sorted(by_min[m]["adj"])
        allms += s
        alladj += a
        rows.append([f"{m}-{m + 1}", len(s), by_min[m]["err"],
                     fmt(percentile(s, 50), 2), fmt(percentile(s, 99), 2),
                     fmt(s[-1], 2), fmt(percentile(a, 99), 2)])
        judged = a if exclude_wait else s
        if percentile(judged, 99) >= p99_limit:
            failures.append(f"/livez p99 {percentile(judged, 99):.1f} ms in "
                            f"minute {m} (limit {p99_limit:.0f} ms)")
    s, a = sorted(allms), sorted(alladj)
    rows.append(["all", len(s), sum(errs.values()),
                 fmt(percentile(s, 50), 2), fmt(percentile(s, 99), 2),
                 fmt(s[-1] if s else float("nan"), 2),
                 fmt(percentile(a, 99), 2)])
    p(table(["minute", "probes", "errors", "p50 ms", "p99 ms", "max ms",
             "p99 ms minus CPU wait"], rows))
    if errs:
        p(f"\nfailed probes by outcome: {errs}")
        failures.append(f"{sum(errs.values())} /livez probes failed: {errs}")
    judged = a if exclude_wait else s
    if judged and percentile(judged, 99) >= p99_limit:
        failures.append(f"/livez p99 overall {percentile(judged, 99):.1f} ms")
    if len(s) < duration * 10 * 0.5:
        failures.append(f"only {len(s)} /livez probes (expected about "
                        f"{int(duration * 10)}); the prober stalled")

    # Explain the slow probes: CPU starvation, and which activity came just
    # before (compared with how often that activity precedes any probe).
    slow = [r for r in probes if float(r["ms"]) >= p99_limit]
    if slow:
        starved = sum(1 for r in slow if wait_of(r) >= 0.5 * float(r["ms"]))
        p(f"\n{len(slow)} probes took >= {p99_limit:.0f} ms; in {starved} of "
          f"them the prober or a corefork thread waited for a CPU for at "
          f"least half of the time (schedstat run_delay).")
        events = drive.get("events", [])
        kinds = sorted({k for _, k in events})
        window = 2.0

        times = {k: sorted(et for et, kk in events if kk == k) for k in kinds}

        def near(r, kind):
            # An event of this kind at most `window` seconds before the probe.
            t = float(r["t"])
            i = bisect.bisect_right(times[kind], t)
            return i > 0 and t - times[kind][i - 1] <= window

        parts = []
        for kind in kinds:
            ns = sum(1 for r in slow if near(r, kind))
            na = sum(1 for r in probes if near(r, kind))
            parts.append(f"{kind} {100 * ns / len(slow):.0f}% "
                         f"(all probes: {100 * na / max(1, len(probes)):.0f}%)")
        if parts:
            p(f"Slow probes within {window:.0f} s after: " + ", ".join(parts))
    p("")

    # Activities.
    p("## activities (counts per outcome)\n")
    rows = []
    conns = read_json("conns") or {"counts": {}}
    for act, outcomes in sorted(drive["counts"].items()):
        rows.append([act, ", ".join(f"{k}={v}" for k, v in
                                    sorted(outcomes.items()))])
    for kind in ("idle", "slow"):
        o = dict(conns["counts"].get(kind, {}))
        o.pop("lifetime_ms_sum", None)
        extra = ""
        if conns.get("max_open"):
            extra = f" (target {conns.get(kind)}, max open at once " \
                    f"{conns['max_open'].get(kind)})"
        rows.append([f"{kind} admin conns{extra}",
                     ", ".join(f"{k}={v}" for k, v in sorted(o.items()))])
    wrk = parse_wrk(os.path.join(OUT, "wrk.txt"))
    if wrk:
        rows.append(["app load (wrk GET /)",
                     f"requests={wrk['requests']}, non_2xx={wrk['non_2xx']}, "
                     f"socket_errors={wrk['socket_errors']} {wrk['raw']}"])
    logsink = read_json("logsink")
    if logsink:
        rows.append(["corefork stderr", f"bytes={logsink['bytes']}"])
    p(table(["activity", "outcomes"], rows))
    p("")
    lat = drive.get("latency_ms", {})
    if lat:
        rows = [[k, v["n"], fmt(v["p50"], 2), fmt(v["p99"], 2),
                 fmt(v["max"], 2)] for k, v in sorted(lat.items())]
        p(table(["request latency", "n", "p50 ms", "p99 ms", "max ms"],
                rows))
        p("")

    # Every activity must have done something, else the soak proved nothing.
    def ok_count(act, key="ok"):
        return drive["counts"].get(act, {}).get(key, 0)

    needed = {"scrape /metrics": ok_count("scrape/metrics"),
              "scrape /status": ok_count("scrape/status"),
              "reload": ok_count("reload"),
              "scale": ok_count("scale_to_3") + ok_count("scale_to_2"),
              "spam job runs": ok_count("job_spam", "accepted"),
              "big job runs": ok_count("job_big", "accepted"),
              "wait clients": sum(drive["counts"].get("wait_client",
                                                      {}).values()),
              "worker kills": ok_count("kill_worker"),
              "idle conns": conns["counts"].get("idle", {}).get("opened", 0),
              "slow conns": conns["counts"].get("slow", {}).get("opened", 0)}
    for k, v in needed.items():
        if v == 0:
            failures.append(f"no successful {k}")
    for act in ("reload", "scale_to_3", "scale_to_2", "get_jobs"):
        bad = {k: v for k, v in drive["counts"].get(act, {}).items()
               if k.startswith("error") or k.startswith("http_5")}
        if bad:
            failures.append(f"control {act} failed: {bad}")

    for act in ("scrape/metrics", "scrape/status"):
        bad = {k: v for k, v in drive["counts"].get(act, {}).items()
               if k not in ("ok", "keepalive_closed")}
        if bad:
            failures.append(f"{act} failed: {bad}")
    for kind in ("idle", "slow"):
        bad = {k: v for k, v in conns["counts"].get(kind, {}).items()
               if k.startswith("connect_")}
        if bad:
            failures.append(f"{kind} admin connections refused: {bad}")
    ctl = lat.get("control")
    if ctl and ctl["max"] >= control_max_ms:
        failures.append(f"a control request took {ctl['max']:.0f} ms "
                        f"(limit {control_max_ms:.0f} ms)")

    stop = read_json("stop")
    if stop:
        p(f"corefork stop: {stop}")
        if stop.get("exit") != 0:
            failures.append(f"corefork did not stop cleanly: {stop}")

    p("")
    if failures:
        p("RESULT: FAIL")
        for f in failures:
            p(f"  - {f}")
    else:
        p("RESULT: PASS")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(OUT, "summary.md"), "w") as f:
        f.write(text + "\n")
    return 1 if failures else 0


ROLES = {"livez": role_livez, "conns": role_conns, "drive": role_drive,
         "sample": role_sample, "logsink": role_logsink,
         "summary": role_summary}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ROLES:
        sys.exit("usage: soak.py " + "|".join(ROLES))
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(ROLES[sys.argv[1]]() or 0)
