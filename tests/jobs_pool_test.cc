// Whole-binary tests of job pools (docs/jobs.md "Pools" and "Pools
// (protocol)"): long-lived Node, Python and shell processes that take runs
// over a line protocol on their stdin/stdout. Real interpreters
// (/usr/bin/node, Debian's /usr/bin/python3), real pipes, real signals:
// process reuse under concurrent load, the size as the concurrency and the
// queue, timeouts, cancels and crashes that take only their own process (and
// its group), max_runs, max_rss, min and idle_timeout, protocol breaks and
// max_answer, error answers, JSON and string input, warm start and
// readiness, shutdown, and the pool metrics.
#include <dirent.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr char kNode[] = "/usr/bin/node";
constexpr char kPython[] = "/usr/bin/python3";

// A test pool worker. A JSON input (not a string) is answered as
// {"json":input}; a string input names what it does:
//   "<n>"      answers {"fib":fib(n),"pid":its pid}; "" answers "empty";
//              any other string not listed here: the error "not a number: S"
//   "echo:S"   answers the string S; "len:S" answers S's length
//   "hang"     starts a `sleep 30` child (its pid in $POOL_DIR/hang-child.pid)
//              and loops forever; "hang-stubborn" loops forever ignoring
//              SIGTERM
//   "wrongid"  answers with another id
//   "exact:N"  answers a string, the whole answer line N bytes long
//   "split"    answers "split" in two writes 100 ms apart
//   "crash"    writes a line to stderr and exits 3
//   "garbage"  writes a line that is not JSON
//   "big"      answers a 4 KiB string
//   "flood"    writes 32 MiB without a newline
//   "err"      answers {"error":"bad n"}
//   "hold"     waits for $POOL_DIR/release, then answers {"held":true,"pid":..}
//   "note"     writes a line to stderr, then answers "noted"
//   "after"    answers "after", then writes "between runs" to stderr 100 ms
//              later (while idle)
//   "twice"    answers twice
//   "close"    closes its stdout and waits for the next request
//   "grow"     allocates and keeps 100 MiB (touched), answers "grown";
//              "grow-child" has a child do that and answers once it did
const char kNodeWorker[] = R"JS('use strict';
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const dir = process.env.POOL_DIR;
const kept = [];
const fib = (k) => (k < 2 ? k : fib(k - 1) + fib(k - 2));
const send = (answer) => process.stdout.write(JSON.stringify(answer) + '\n');
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function serve(id, what) {
  if (what === '') return send({ id, output: 'empty' });
  if (what.startsWith('echo:')) return send({ id, output: what.slice(5) });
  if (what.startsWith('len:')) return send({ id, output: what.length - 4 });
  if (what.startsWith('exact:')) {
    const head = `{"id":${id},"output":"`;
    const pad = Number(what.slice(6)) - head.length - 2;
    return process.stdout.write(head + 'e'.repeat(pad) + '"}\n');
  }
  switch (what) {
    case 'hang': {
      const child = spawn('sleep', ['30'], { stdio: 'ignore' });
      fs.writeFileSync(`${dir}/hang-child.pid`, `${child.pid}\n`);
      for (;;) {}
    }
    case 'hang-stubborn':
      process.on('SIGTERM', () => {});
      for (;;) {}
    case 'wrongid':
      return send({ id: id + 1000, output: 'x' });
    case 'split':
      process.stdout.write(`{"id":${id},"out`);
      await pause(100);
      process.stdout.write('put":"split"}\n');
      return;
    case 'crash':
      process.stderr.write('crashing on purpose\n');
      process.exit(3);
    case 'garbage':
      process.stdout.write('this is not json\n');
      return;
    case 'big':
      return send({ id, output: 'x'.repeat(4096) });
    case 'flood':
      process.stdout.write('y'.repeat(32 << 20));
      return;
    case 'err':
      return send({ id, error: 'bad n' });
    case 'hold':
      while (!fs.existsSync(`${dir}/release`)) await pause(10);
      return send({ id, output: { held: true, pid: process.pid } });
    case 'note':
      process.stderr.write('note from the worker\n');
      return send({ id, output: 'noted' });
    case 'after':
      send({ id, output: 'after' });
      setTimeout(() => process.stderr.write('between runs\n'), 100);
      return;
    case 'twice':
      send({ id, output: 'once' });
      return send({ id, output: 'twice' });
    case 'close':
      fs.closeSync(1);
      return;
    case 'grow':
      kept.push(Buffer.alloc(100 << 20, 1));
      return send({ id, output: 'grown' });
    case 'grow-child': {
      const marker = `${dir}/grown-${id}`;
      const code = `b=Buffer.alloc(100<<20,1);require('fs').writeFileSync('${marker}','');setInterval(()=>b,1000)`;
      spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
      while (!fs.existsSync(marker)) await pause(10);
      return send({ id, output: 'grown' });
    }
  }
  const n = Number(what);
  if (!Number.isInteger(n)) return send({ id, error: `not a number: ${what}` });
  return send({ id, output: { fib: fib(n), pid: process.pid } });
}

(async () => {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const { id, input } = JSON.parse(line);
    if (typeof input === 'string') await serve(id, input);
    else send({ id, output: { json: input } });
  }
})();
)JS";

const char kPythonWorker[] = R"PY(import json
import os
import signal
import subprocess
import sys
import time

DIR = os.environ["POOL_DIR"]
kept = []


def fib(k):
    a, b = 0, 1
    for _ in range(k):
        a, b = b, a + b
    return a


def send(answer):
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def serve(rid, what):
    if what == "":
        return send({"id": rid, "output": "empty"})
    if what.startswith("echo:"):
        return send({"id": rid, "output": what[5:]})
    if what.startswith("len:"):
        return send({"id": rid, "output": len(what) - 4})
    if what.startswith("exact:"):
        head = '{"id":%d,"output":"' % rid
        pad = int(what[6:]) - len(head) - 2
        sys.stdout.write(head + "e" * pad + '"}\n')
        sys.stdout.flush()
        return
    if what == "split":
        sys.stdout.write('{"id":%d,"out' % rid)
        sys.stdout.flush()
        time.sleep(0.1)
        sys.stdout.write('put":"split"}\n')
        sys.stdout.flush()
        return
    if what == "hang":
        child = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL)
        with open(os.path.join(DIR, "hang-child.pid"), "w") as f:
            f.write(f"{child.pid}\n")
        while True:
            pass
    if what == "hang-stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            pass
    if what == "wrongid":
        return send({"id": rid + 1000, "output": "x"})
    if what == "crash":
        sys.stderr.write("crashing on purpose\n")
        sys.stderr.flush()
        os._exit(3)
    if what == "garbage":
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()
        return
    if what == "big":
        return send({"id": rid, "output": "x" * 4096})
    if what == "flood":
        sys.stdout.write("y" * (32 << 20))
        sys.stdout.flush()
        return
    if what == "err":
        return send({"id": rid, "error": "bad n"})
    if what == "hold":
        while not os.path.exists(os.path.join(DIR, "release")):
            time.sleep(0.01)
        return send({"id": rid, "output": {"held": True, "pid": os.getpid()}})
    if what == "note":
        sys.stderr.write("note from the worker\n")
        sys.stderr.flush()
        return send({"id": rid, "output": "noted"})
    if what == "after":
        send({"id": rid, "output": "after"})
        time.sleep(0.1)
        sys.stderr.write("between runs\n")
        sys.stderr.flush()
        return
    if what == "twice":
        send({"id": rid, "output": "once"})
        return send({"id": rid, "output": "twice"})
    if what == "close":
        os.close(1)
        return
    if what == "grow":
        kept.append(b"x" * (100 << 20))
        return send({"id": rid, "output": "grown"})
    if what == "grow-child":
        marker = os.path.join(DIR, f"grown-{rid}")
        code = ("import time; b = b'x' * (100 << 20); "
                f"open({marker!r}, 'w').close(); time.sleep(60)")
        kept.append(subprocess.Popen([sys.executable, "-c", code],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL))
        while not os.path.exists(marker):
            time.sleep(0.01)
        return send({"id": rid, "output": "grown"})
    try:
        n = int(what)
    except ValueError:
        return send({"id": rid, "error": f"not a number: {what}"})
    send({"id": rid, "output": {"fib": fib(n), "pid": os.getpid()}})


for line in sys.stdin.buffer:
    request = json.loads(line)
    if isinstance(request["input"], str):
        serve(request["id"], request["input"])
    else:
        send({"id": request["id"], "output": {"json": request["input"]}})
)PY";

// The two languages each test worker exists in; the job is named after it.
struct Lang {
  const char* job;
  const char* interpreter;
  const char* file;
  const char* source;
};
const Lang kLangs[] = {{"node", kNode, "worker.js", kNodeWorker},
                       {"py", kPython, "worker.py", kPythonWorker}};

uint64_t Fib(int n) {
  uint64_t a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    const uint64_t next = a + b;
    a = b;
    b = next;
  }
  return a;
}

pid_t RunPid(const JsonValue& run) {
  return static_cast<pid_t>(run.Num("pid").value_or(-1));
}

// The process group of `pid` from /proc/PID/stat, or -1.
pid_t GroupOf(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  char state = 0;
  int ppid = 0, pgrp = -1;
  if (close == std::string::npos ||
      std::sscanf(stat.c_str() + close + 1, " %c %d %d", &state, &ppid,
                  &pgrp) != 3) {
    return -1;
  }
  return pgrp;
}

// Members of process group `pgid` (zombies included), from /proc.
std::vector<pid_t> GroupMembers(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return members;
  while (dirent* e = readdir(dir)) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid > 0 && GroupOf(pid) == pgid) members.push_back(pid);
  }
  closedir(dir);
  return members;
}

// The pid and its whole process group are gone (reaped, not zombies).
bool GoneWithGroup(pid_t pid, const std::vector<pid_t>& also = {}) {
  std::vector<pid_t> all = also;
  all.push_back(pid);
  return AllGone(all) && GroupMembers(pid).empty();
}

std::string Cmdline(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : s) {
    if (c == '\0') c = ' ';
  }
  return s;
}

// Children of `parent` whose command line mentions `needle`.
std::vector<pid_t> ChildrenRunning(pid_t parent, const std::string& needle) {
  std::vector<pid_t> out;
  for (pid_t pid : ChildrenOf(parent)) {
    if (ProcState(pid) != 'Z' &&
        Cmdline(pid).find(needle) != std::string::npos) {
      out.push_back(pid);
    }
  }
  return out;
}

// A /proc/PID/status value in kB (VmRSS, VmHWM), or -1.
long StatusKb(pid_t pid, const std::string& key) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::atol(line.c_str() + key.size() + 1);
    }
  }
  return -1;
}

// One raw HTTP exchange on the unix socket at `path` (for headers the
// other clients do not send, such as Content-Type), within `timeout`.
HttpResponse RawUnixExchange(const std::string& path,
                             const std::string& request, Millis timeout) {
  HttpResponse out;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    out.error = Errno("socket");
    return out;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    out.error = Errno("connect " + path);
    close(fd);
    return out;
  }
  for (size_t off = 0; off < request.size();) {
    const ssize_t n = write(fd, request.data() + off, request.size() - off);
    if (n <= 0) break;  // an early answer may still be there to read
    off += static_cast<size_t>(n);
  }
  const auto deadline = Clock::now() + timeout;
  std::string raw;
  char buf[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      out.error = "no complete answer in time: " + raw;
      break;
    }
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      if (!ParseHttpResponse(raw, /*eof=*/true, &out)) out.error = raw;
      break;
    }
    raw.append(buf, static_cast<size_t>(n));
    if (ParseHttpResponse(raw, /*eof=*/false, &out)) break;
  }
  close(fd);
  return out;
}

// Times GET /jobs on the control socket from a thread of its own until
// stopped: how long corefork's loop keeps a client waiting meanwhile.
class ControlProber {
 public:
  explicit ControlProber(std::string socket) : socket_(std::move(socket)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ControlProber() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int probes() const { return probes_; }
  int failures() const { return failures_; }
  long max_ms() const { return max_ms_; }

 private:
  void Loop() {
    while (!stop_) {
      const auto start = Clock::now();
      UnixHttpResponse r =
          UnixHttpRequest(socket_, "GET", "/jobs", "", milliseconds(5000));
      const long ms =
          std::chrono::duration_cast<milliseconds>(Clock::now() - start)
              .count();
      ++probes_;
      if (r.status != 200) ++failures_;
      if (ms > max_ms_) max_ms_ = ms;
      std::this_thread::sleep_for(milliseconds(10));  // pacing, not sync
    }
  }

  std::string socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> probes_{0};
  std::atomic<int> failures_{0};
  std::atomic<long> max_ms_{0};
};

class JobsPoolTest : public JobsTest {
 protected:
  void SetUp() override {
    JobsTest::SetUp();
    if (access(kNode, X_OK) != 0 || access(kPython, X_OK) != 0) {
      GTEST_SKIP() << kNode << " or " << kPython << " is missing";
    }
    for (const Lang& lang : kLangs) {
      ASSERT_TRUE(WriteFile(Path(lang.file), lang.source)) << lang.file;
    }
  }

  // The command of the test worker in `lang`, as a YAML flow list.
  std::string Command(const Lang& lang) {
    return "[" + YamlQuote(lang.interpreter) + ", " +
           YamlQuote(Path(lang.file)) + "]";
  }
  // One on-demand pool job: `pool` a YAML flow map, `extra` more key lines
  // of the job (each "    key: value\n").
  std::string PoolJob(const std::string& name, const std::string& command,
                      const std::string& pool, const std::string& extra = "") {
    return "  " + name + ":\n    command: " + command +
           "\n    on_demand: true\n    env: {POOL_DIR: " +
           YamlQuote(tmp_.path()) + "}\n    pool: " + pool + "\n" + extra;
  }
  // The same for the test worker of each language (jobs "node", "py").
  std::string PoolJobs(const std::string& pool, const std::string& extra = "") {
    std::string yaml;
    for (const Lang& lang : kLangs) {
      yaml += PoolJob(lang.job, Command(lang), pool, extra);
    }
    return yaml;
  }

  // The job's entry in GET /jobs (null when absent or no answer).
  JsonValue JobEntry(const std::string& name) {
    UnixHttpResponse r = Control("GET", "/jobs", "", milliseconds(3000));
    if (r.status != 200) return JsonValue();
    std::optional<JsonValue> v = ParseJson(r.body);
    if (!v) return JsonValue();
    for (const JsonValue& job : (*v)["jobs"].Items()) {
      if (job.Str("name").value_or("") == name) return job;
    }
    return JsonValue();
  }
  JsonValue PoolOf(const std::string& name) { return JobEntry(name)["pool"]; }
  // Polls the job's "pool" object until `pred` holds; *last gets the last
  // one seen (for messages).
  bool WaitPool(const std::string& name,
                const std::function<bool(const JsonValue&)>& pred,
                Millis timeout, JsonValue* last) {
    return PollUntil(
        [&] {
          *last = PoolOf(name);
          return last->is_object() && pred(*last);
        },
        timeout, milliseconds(10));
  }
  static double N(const JsonValue& pool, const char* key) {
    return pool.Num(key).value_or(-1);
  }

  // A fib answer of the test worker: succeeded, no error, and the process
  // that says it computed it is the run's `pid`.
  void ExpectFib(const JsonValue& run, int n, const std::string& where) {
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded")
        << where << ": " << run.json().dump();
    EXPECT_TRUE(run.IsNull("error")) << where << ": " << run.json().dump();
    // The process's exit code and signal only when it died during the run.
    EXPECT_TRUE(run.IsNull("exit_code") && run.IsNull("signal"))
        << where << ": " << run.json().dump();
    std::optional<JsonValue> out = ParseJson(run.Str("stdout").value_or(""));
    ASSERT_TRUE(out && out->is_object()) << where << ": " << run.json().dump();
    EXPECT_EQ(out->Num("fib").value_or(-1), static_cast<double>(Fib(n)))
        << where << ": " << run.json().dump();
    EXPECT_EQ(out->Num("pid").value_or(-1), RunPid(run))
        << where << ": the run's pid is not the process that answered: "
        << run.json().dump();
  }
  // Submit(wait) and the run JSON (a test failure if not 200).
  JsonValue RunWait(const std::string& job, const std::string& body,
                    Millis timeout = milliseconds(20000)) {
    UnixHttpResponse r = Submit(job, body, /*wait=*/true, timeout);
    EXPECT_EQ(r.status, 200) << job << " " << body << ": " << r.ToString();
    return r.status == 200 ? Body(r) : JsonValue();
  }
  uint64_t SubmitAsync(const std::string& job, const std::string& body) {
    UnixHttpResponse r = Submit(job, body);
    EXPECT_EQ(r.status, 202) << job << " " << body << ": " << r.ToString();
    return RunId(Body(r));
  }
  JsonValue GetRun(uint64_t id) {
    UnixHttpResponse r = Control("GET", "/jobs/runs/" + std::to_string(id));
    if (r.status != 200) return JsonValue();
    std::optional<JsonValue> v = ParseJson(r.body);
    return v ? *v : JsonValue();
  }
  // Polls until the run has a pool process (its "pid"); -1 if never.
  pid_t WaitRunPid(uint64_t id) {
    pid_t pid = -1;
    PollUntil(
        [&] {
          pid = RunPid(GetRun(id));
          return pid > 0;
        },
        milliseconds(10000), milliseconds(10));
    return pid;
  }
  double PoolExits(const std::string& job, const std::string& reason) {
    return Metric("corefork_job_pool_process_exits_total",
                  {{"job", job}, {"reason", reason}});
  }
};

// 1,000 runs through a Node pool and a Python pool of size 2 (the
// examples' workers), from 4 client threads at once: every answer right,
// and no more processes than the size served them all.
TEST_F(JobsPoolTest, AThousandRunsReuseTheProcessesOfNodeAndPythonPools) {
  const std::string examples = std::string(COREFORK_SOURCE_DIR) + "/examples";
  const std::string yaml =
      "jobs:\n" +
      PoolJob("fib-node",
              "[" + YamlQuote(kNode) + ", " +
                  YamlQuote(examples + "/pool/pool_worker.js") + "]",
              "{size: 2}") +
      PoolJob("fib-py",
              "[" + YamlQuote(kPython) + ", " +
                  YamlQuote(examples + "/pool/pool_worker.py") + "]",
              "{size: 2}");
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  constexpr int kRuns = 1000;
  constexpr int kClients = 4;
  for (const char* job : {"fib-node", "fib-py"}) {
    std::vector<UnixHttpResponse> answers(kRuns);
    std::atomic<int> next{0};
    const auto start = Clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, job] {
        for (int i = next++; i < kRuns; i = next++) {
          answers[i] = Submit(job, std::to_string(i * 7 % 26), /*wait=*/true,
                              milliseconds(30000));
        }
      });
    }
    for (std::thread& t : clients) t.join();
    const auto took =
        std::chrono::duration_cast<milliseconds>(Clock::now() - start);

    std::map<pid_t, int> runs_per_pid;
    int right = 0;
    for (int i = 0; i < kRuns; ++i) {
      const int n = i * 7 % 26;
      ASSERT_EQ(answers[i].status, 200)
          << job << " run " << i << ": " << answers[i].ToString();
      const JsonValue run = Body(answers[i]);
      const bool ok =
          run.Str("state").value_or("") == "succeeded" &&
          run.Str("stdout").value_or("") == std::to_string(Fib(n)) &&
          run.IsNull("error");
      EXPECT_TRUE(ok) << job << " fib(" << n << "): " << answers[i].body;
      right += ok;
      ++runs_per_pid[RunPid(run)];
    }
    EXPECT_EQ(right, kRuns) << job;
    std::vector<pid_t> pids;
    for (const auto& entry : runs_per_pid) pids.push_back(entry.first);
    EXPECT_LE(pids.size(), 2u)
        << job << ": more processes than the pool's size served: " << Str(pids);
    for (pid_t pid : pids) {
      EXPECT_GT(pid, 0) << job << ": a run without a pid";
      EXPECT_EQ(ParentPid(pid), cf.pid())
          << job << ": pool process " << pid << " not a live child of corefork";
    }
    const JsonValue pool = PoolOf(job);
    EXPECT_EQ(N(pool, "starts"), static_cast<double>(pids.size()))
        << pool.json().dump();
    EXPECT_EQ(N(pool, "size"), 2) << pool.json().dump();
    EXPECT_EQ(N(pool, "busy"), 0) << pool.json().dump();
    EXPECT_EQ(N(pool, "processes"), static_cast<double>(pids.size()))
        << pool.json().dump();
    std::cout << "[ figures  ] " << job << ": " << kRuns << " runs, "
              << kClients << " clients, " << took.count() << " ms ("
              << (kRuns * 1000.0 / std::max<long>(1, took.count()))
              << " runs/s), " << pids.size() << " process(es)\n";
  }
  EXPECT_TRUE(cf.Running());
}

// The size is the concurrency: of 5 held runs in a pool of 2, exactly 2
// run at once and 3 wait in the queue, then all finish on those 2.
TEST_F(JobsPoolTest, RunsBeyondThePoolSizeWaitInTheQueue) {
  Process& cf = StartJobs(
      "jobs:\n" + PoolJob("held", Command(kLangs[0]), "{size: 2}") +
      PoolJob("tiny", Command(kLangs[1]), "{size: 1}", "    queue: 1\n"));
  ASSERT_TRUE(WaitControl(cf));
  EXPECT_EQ(JobEntry("held").Num("concurrency").value_or(-1), 2)
      << "the pool's size is the job's concurrency: "
      << JobEntry("held").json().dump();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(SubmitAsync("held", "hold"));
  ASSERT_TRUE(PollUntil(
      [&] {
        const JsonValue job = JobEntry("held");
        return job.Num("running").value_or(-1) == 2 &&
               job.Num("queued").value_or(-1) == 3 &&
               N(job["pool"], "busy") == 2;
      },
      milliseconds(15000)))
      << JobEntry("held").json().dump();

  // While they are held (for 300 ms), never more than 2 run.
  int samples = 0;
  PollUntil(
      [&] {
        int running = 0, queued = 0;
        for (uint64_t id : ids) {
          const std::string state = GetRun(id).Str("state").value_or("");
          running += state == "running";
          queued += state == "queued";
        }
        EXPECT_EQ(running, 2) << "sample " << samples;
        EXPECT_EQ(queued, 3) << "sample " << samples;
        ++samples;
        return false;
      },
      milliseconds(300), milliseconds(20));
  const JsonValue pool = PoolOf("held");
  EXPECT_EQ(N(pool, "processes"), 2) << pool.json().dump();
  EXPECT_EQ(N(pool, "idle"), 0) << pool.json().dump();

  // queue still bounds the waiting runs: 1 runs, 1 waits, the next is 429.
  const uint64_t tiny_running = SubmitAsync("tiny", "hold");
  ASSERT_GT(WaitRunPid(tiny_running), 0);
  const uint64_t tiny_queued = SubmitAsync("tiny", "hold");
  const UnixHttpResponse refused = Submit("tiny", "hold");
  EXPECT_EQ(refused.status, 429) << refused.ToString();

  ASSERT_TRUE(WriteFile(Path("release"), ""));
  std::set<pid_t> pids;
  for (uint64_t id : ids) {
    const JsonValue run = WaitRunEnded(id, milliseconds(15000));
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << run.json().dump();
    std::optional<JsonValue> out = ParseJson(run.Str("stdout").value_or(""));
    EXPECT_TRUE(out && out->Bool("held") == std::optional<bool>(true))
        << run.json().dump();
    pids.insert(RunPid(run));
  }
  EXPECT_EQ(pids.size(), 2u) << "the 5 runs were served by other than 2 "
                                "processes";
  EXPECT_EQ(N(PoolOf("held"), "starts"), 2);
  for (uint64_t id : {tiny_running, tiny_queued}) {
    EXPECT_EQ(WaitRunEnded(id).Str("state").value_or(""), "succeeded");
  }
  EXPECT_TRUE(cf.Running());
}

// A run past its timeout ends timed_out; its process and everything in
// its group are gone, and a fresh process serves the next run.
TEST_F(JobsPoolTest, ATimedOutRunTakesItsProcessAndGroupAlong) {
  Process& cf = StartJobs("jobs:\n" +
                          PoolJobs("{size: 1, warm: true}",
                                   "    timeout: 500ms\n    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    JsonValue pool;
    ASSERT_TRUE(WaitPool(
        lang.job, [](const JsonValue& p) { return N(p, "idle") == 1; },
        milliseconds(10000), &pool))
        << lang.job << ": " << pool.json().dump();
    unlink(Path("hang-child.pid").c_str());

    const auto start = Clock::now();
    const JsonValue run = RunWait(lang.job, "hang");
    const auto took = Clock::now() - start;
    EXPECT_EQ(run.Str("state").value_or(""), "timed_out")
        << lang.job << ": " << run.json().dump();
    EXPECT_GE(took, milliseconds(500)) << lang.job;
    EXPECT_LT(took, milliseconds(5000)) << lang.job;
    const pid_t hung = RunPid(run);
    ASSERT_GT(hung, 0) << lang.job << ": " << run.json().dump();
    const pid_t child = std::atoi(ReadFile(Path("hang-child.pid")).c_str());
    EXPECT_GT(child, 0) << lang.job << ": the worker's child never started";
    EXPECT_TRUE(PollUntil([&] { return GoneWithGroup(hung, {child}); },
                          milliseconds(3000)))
        << lang.job
        << ": left of the timed-out process: " << States({hung, child})
        << ", group " << Str(GroupMembers(hung));

    // The replacement (warm: min 1) takes the next run.
    ASSERT_TRUE(WaitPool(
        lang.job,
        [](const JsonValue& p) {
          return N(p, "idle") == 1 && N(p, "processes") == 1;
        },
        milliseconds(10000), &pool))
        << lang.job << ": " << pool.json().dump();
    const JsonValue next = RunWait(lang.job, "20");
    ExpectFib(next, 20, lang.job);
    EXPECT_NE(RunPid(next), hung) << lang.job;
    EXPECT_EQ(ParentPid(RunPid(next)), cf.pid()) << lang.job;
    EXPECT_EQ(N(PoolOf(lang.job), "starts"), 2) << lang.job;
  }
  EXPECT_TRUE(cf.Running());
}

// A process that exits during a run fails that run only (exit code and
// stderr are its); the run another process serves meanwhile, and the runs
// after, succeed.
TEST_F(JobsPoolTest, ACrashFailsOnlyItsRun) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 2}"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    unlink(Path("release").c_str());
    const uint64_t held = SubmitAsync(lang.job, "hold");
    const pid_t holder = WaitRunPid(held);
    ASSERT_GT(holder, 0) << lang.job;

    const JsonValue crash = RunWait(lang.job, "crash");
    EXPECT_EQ(crash.Str("state").value_or(""), "failed")
        << lang.job << ": " << crash.json().dump();
    EXPECT_EQ(crash.Num("exit_code").value_or(-1), 3)
        << lang.job << ": " << crash.json().dump();
    EXPECT_TRUE(crash.IsNull("signal")) << crash.json().dump();
    EXPECT_FALSE(crash.Str("error").value_or("").empty())
        << lang.job
        << ": no error saying what went wrong: " << crash.json().dump();
    EXPECT_NE(crash.Str("stderr").value_or("").find("crashing on purpose"),
              std::string::npos)
        << lang.job << ": " << crash.json().dump();
    const pid_t crashed = RunPid(crash);
    EXPECT_GT(crashed, 0) << crash.json().dump();
    EXPECT_NE(crashed, holder) << lang.job;
    EXPECT_TRUE(
        PollUntil([&] { return GoneWithGroup(crashed); }, milliseconds(3000)))
        << States({crashed});

    const JsonValue later = RunWait(lang.job, "21");
    ExpectFib(later, 21, lang.job + std::string(" after the crash"));
    EXPECT_NE(RunPid(later), crashed);

    EXPECT_FALSE(ProcessGone(holder)) << lang.job << ": the other process died";
    EXPECT_EQ(GetRun(held).Str("state").value_or(""), "running");
    ASSERT_TRUE(WriteFile(Path("release"), ""));
    const JsonValue done = WaitRunEnded(held, milliseconds(10000));
    EXPECT_EQ(done.Str("state").value_or(""), "succeeded")
        << lang.job << ": " << done.json().dump();
    EXPECT_EQ(RunPid(done), holder) << done.json().dump();
    EXPECT_TRUE(PollUntil([&] { return PoolExits(lang.job, "crashed") == 1; },
                          milliseconds(5000)))
        << MetricsText();
  }
  EXPECT_TRUE(cf.Running());
}

// max_runs: 3: a process serves 3 runs, then a new one takes over; the
// retired ones are gone.
TEST_F(JobsPoolTest, MaxRunsReplacesAProcessAfterItsRuns) {
  Process& cf = StartJobs(
      "jobs:\n" + PoolJob("r", Command(kLangs[0]), "{size: 1, max_runs: 3}"));
  ASSERT_TRUE(WaitControl(cf));
  std::vector<pid_t> order;
  std::map<pid_t, int> runs_per_pid;
  for (int i = 0; i < 7; ++i) {
    const JsonValue run = RunWait("r", std::to_string(10 + i));
    ExpectFib(run, 10 + i, "run " + std::to_string(i));
    order.push_back(RunPid(run));
    ++runs_per_pid[RunPid(run)];
  }
  EXPECT_GE(runs_per_pid.size(), 3u) << Str(order);
  std::vector<pid_t> retired;
  for (const auto& entry : runs_per_pid) {
    EXPECT_LE(entry.second, 3) << "pid " << entry.first << " in " << Str(order);
    if (entry.second == 3) retired.push_back(entry.first);
  }
  EXPECT_EQ(retired.size(), 2u) << Str(order);
  EXPECT_TRUE(PollUntil([&] { return AllGone(retired); }, milliseconds(5000)))
      << "retired processes still there: " << States(retired);
  EXPECT_TRUE(PollUntil([&] { return PoolExits("r", "max_runs") == 2; },
                        milliseconds(5000)))
      << MetricsText();
  EXPECT_TRUE(cf.Running());
}

// A malformed answer, one over max_answer, and 32 MiB without a newline
// fail their run and replace the process; corefork neither buffers the
// flood nor stops answering meanwhile.
TEST_F(JobsPoolTest, ProtocolBreaksFailTheRunAndReplaceTheProcess) {
  Process& cf = StartJobs(
      "jobs:\n" + PoolJobs("{size: 1, max_answer: 1Ki}", "    timeout: 20s\n"));
  ASSERT_TRUE(WaitControl(cf));
  ControlProber prober(ControlSocket());
  struct Case {
    const char* input;
    const char* error;  // the run's error contains it
  };
  const Case cases[] = {{"garbage", "malformed pool answer"},
                        {"wrongid", "id"},
                        {"big", "limit"},
                        {"flood", "limit"}};
  for (const Lang& lang : kLangs) {
    ExpectFib(RunWait(lang.job, "5"), 5, lang.job);
    for (const Case& c : cases) {
      const std::string name = lang.job + std::string(" ") + c.input;
      const long hwm_before = StatusKb(cf.pid(), "VmHWM");
      const JsonValue run = RunWait(lang.job, c.input);
      EXPECT_EQ(run.Str("state").value_or(""), "failed")
          << name << ": " << run.json().dump();
      EXPECT_NE(run.Str("error").value_or("").find(c.error), std::string::npos)
          << name << ": " << run.json().dump();
      const pid_t broken = RunPid(run);
      EXPECT_GT(broken, 0) << name << ": " << run.json().dump();
      EXPECT_TRUE(
          PollUntil([&] { return GoneWithGroup(broken); }, milliseconds(5000)))
          << name << ": " << States({broken});
      const long hwm_after = StatusKb(cf.pid(), "VmHWM");
      EXPECT_LT(hwm_after - hwm_before, 16 * 1024)
          << name << ": corefork's peak RSS grew from " << hwm_before
          << " kB to " << hwm_after << " kB";

      const JsonValue next = RunWait(lang.job, "12");
      ExpectFib(next, 12, name + ", the next run");
      EXPECT_NE(RunPid(next), broken) << name;
    }
    EXPECT_TRUE(PollUntil([&] { return PoolExits(lang.job, "protocol") == 4; },
                          milliseconds(5000)))
        << MetricsText();
  }
  prober.Stop();
  std::cout << "[ figures  ] GET /jobs during protocol breaks: "
            << prober.probes() << " probes, slowest " << prober.max_ms()
            << " ms\n";
  EXPECT_GT(prober.probes(), 10);
  EXPECT_EQ(prober.failures(), 0);
  EXPECT_LT(prober.max_ms(), 500) << "the control socket stalled";
  EXPECT_TRUE(cf.Running());
}

// An error answer fails the run with the worker's text; the process
// survived its own error and serves the next run. stderr written during a
// run is the run's.
TEST_F(JobsPoolTest, AnErrorAnswerFailsTheRunButKeepsTheProcess) {
  Process& cf = StartJobs(
      "jobs:\n" +
      PoolJobs("{size: 1}", "    retries: 1\n    retry_delay: 100ms\n"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    const JsonValue first = RunWait(lang.job, "20");
    ExpectFib(first, 20, lang.job);
    const pid_t pid = RunPid(first);

    const JsonValue failed = RunWait(lang.job, "err");
    EXPECT_EQ(failed.Str("state").value_or(""), "failed")
        << lang.job << ": " << failed.json().dump();
    EXPECT_EQ(failed.Str("error").value_or(""), "bad n")
        << lang.job << ": " << failed.json().dump();
    EXPECT_EQ(RunPid(failed), pid) << failed.json().dump();
    EXPECT_TRUE(failed.IsNull("exit_code")) << failed.json().dump();
    EXPECT_EQ(failed.Num("attempt").value_or(0), 2)
        << "retries apply to an error answer: " << failed.json().dump();

    const JsonValue noted = RunWait(lang.job, "note");
    EXPECT_EQ(noted.Str("state").value_or(""), "succeeded")
        << noted.json().dump();
    EXPECT_EQ(noted.Str("stdout").value_or(""), "noted") << noted.json().dump();
    EXPECT_EQ(noted.Str("stderr").value_or(""), "note from the worker\n")
        << lang.job << ": " << noted.json().dump();

    const JsonValue next = RunWait(lang.job, "21");
    ExpectFib(next, 21, lang.job + std::string(" after the error"));
    EXPECT_EQ(RunPid(next), pid) << lang.job << ": the process was replaced";
    EXPECT_FALSE(ProcessGone(pid));
    EXPECT_EQ(N(PoolOf(lang.job), "starts"), 1) << lang.job;
  }
  const std::string text = MetricsText();
  for (const Lang& lang : kLangs) {
    for (const char* reason : {"crashed", "protocol", "timeout"}) {
      EXPECT_EQ(MetricSample(text, "corefork_job_pool_process_exits_total",
                             {{"job", lang.job}, {"reason", reason}})
                    .value_or(0),
                0)
          << lang.job << " " << reason << "\n"
          << text;
    }
  }
  EXPECT_TRUE(cf.Running());
}

// warm: true starts the pool's processes before any run; the other
// pools start on first use; a job without a pool shows "pool": null.
TEST_F(JobsPoolTest, AWarmPoolStartsItsProcessesBeforeAnyRun) {
  const std::string yaml =
      "jobs:\n" + PoolJob("warm", Command(kLangs[0]), "{size: 2, warm: true}") +
      PoolJob("lazy", Command(kLangs[1]), "{size: 2}") +
      PoolJob("auto", Command(kLangs[1]), "{}") +
      "  plain:\n    command: [cat]\n    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  JsonValue pool;
  ASSERT_TRUE(WaitPool(
      "warm",
      [](const JsonValue& p) {
        return N(p, "processes") == 2 && N(p, "idle") == 2;
      },
      milliseconds(10000), &pool))
      << pool.json().dump();
  EXPECT_EQ(N(pool, "size"), 2) << pool.json().dump();
  EXPECT_EQ(N(pool, "min"), 2) << "min defaults to size with warm";
  EXPECT_EQ(N(pool, "busy"), 0) << pool.json().dump();
  EXPECT_EQ(N(pool, "retiring"), 0) << pool.json().dump();
  EXPECT_EQ(N(pool, "starts"), 2) << pool.json().dump();
  EXPECT_EQ(N(pool, "backoff_seconds"), 0) << pool.json().dump();
  std::vector<pid_t> warm;
  ASSERT_TRUE(PollUntil(
      [&] {
        warm = ChildrenRunning(cf.pid(), Path(kLangs[0].file));
        return warm.size() == 2;
      },
      milliseconds(5000)))
      << "corefork's children: " << Str(ChildrenOf(cf.pid()));
  for (pid_t pid : warm) {
    EXPECT_EQ(GroupOf(pid), pid)
        << "pool process " << pid << " does not lead its own process group";
  }
  const JsonValue lazy = PoolOf("lazy");
  EXPECT_EQ(N(lazy, "processes"), 0) << lazy.json().dump();
  EXPECT_EQ(N(lazy, "min"), 0) << lazy.json().dump();
  EXPECT_TRUE(ChildrenRunning(cf.pid(), Path(kLangs[1].file)).empty());
  const JsonValue plain = JobEntry("plain");
  EXPECT_TRUE(plain.is_object() && plain.IsNull("pool")) << plain.json().dump();
  // size: auto is the CPU count, the default concurrency of a plain job.
  const JsonValue automatic = JobEntry("auto");
  EXPECT_GE(N(automatic["pool"], "size"), 1) << automatic.json().dump();
  EXPECT_EQ(N(automatic["pool"], "size"), plain.Num("concurrency").value_or(-2))
      << automatic.json().dump() << "\n"
      << plain.json().dump();
  EXPECT_EQ(automatic.Num("concurrency"), plain.Num("concurrency"));

  const JsonValue run = RunWait("warm", "15");
  ExpectFib(run, 15, "warm");
  EXPECT_TRUE(RunPid(run) == warm[0] || RunPid(run) == warm[1])
      << RunPid(run) << " not one of the warm " << Str(warm);
  EXPECT_EQ(N(PoolOf("warm"), "starts"), 2);
  ExpectFib(RunWait("lazy", "15"), 15, "lazy");
  EXPECT_EQ(N(PoolOf("lazy"), "starts"), 1);
}

// readiness: true keeps /readyz at 503 while the pool has no process
// running: here its command exits at once until a file exists (a crash
// loop, with back-off); then it runs and /readyz turns 200.
TEST_F(JobsPoolTest, ReadinessWaitsForARunningPoolProcess) {
  const std::string go = Path("go");
  const std::string yaml =
      "jobs:\n" +
      PoolJob("gated",
              ShCommand("[ -f '" + go + "' ] || exit 1; exec " +
                        std::string(kNode) + " '" + Path(kLangs[0].file) + "'"),
              "{size: 1, readiness: true}");
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  HttpResponse ready;
  ASSERT_TRUE(PollUntil(
      [&] {
        ready =
            HttpGet("127.0.0.1", admin_port(), "/readyz", milliseconds(2000));
        return ready.status == 503 &&
               ready.body.find("job gated: no pool process running") !=
                   std::string::npos;
      },
      milliseconds(10000)))
      << ready.ToString();
  JsonValue pool;
  EXPECT_TRUE(WaitPool(
      "gated",
      [](const JsonValue& p) {
        return N(p, "starts") >= 2 && N(p, "backoff_seconds") > 0;
      },
      milliseconds(10000), &pool))
      << "no restarts with back-off: " << pool.json().dump();
  EXPECT_GE(PoolExits("gated", "crashed"), 1) << MetricsText();

  ASSERT_TRUE(WriteFile(go, ""));
  EXPECT_TRUE(PollUntil(
      [&] {
        ready =
            HttpGet("127.0.0.1", admin_port(), "/readyz", milliseconds(2000));
        return ready.status == 200;
      },
      milliseconds(20000)))
      << ready.ToString() << "\n"
      << PoolOf("gated").json().dump();
  pool = PoolOf("gated");
  EXPECT_EQ(N(pool, "processes"), 1) << pool.json().dump();
  ExpectFib(RunWait("gated", "10"), 10, "gated");
}

// SIGTERM with idle pool processes: they are retired at once and
// corefork exits 0 promptly, leaving none behind.
TEST_F(JobsPoolTest, ShutdownRetiresIdleProcesses) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 2, warm: true}"));
  ASSERT_TRUE(WaitControl(cf));
  std::vector<pid_t> pool_pids;
  for (const Lang& lang : kLangs) {
    JsonValue pool;
    ASSERT_TRUE(WaitPool(
        lang.job, [](const JsonValue& p) { return N(p, "idle") == 2; },
        milliseconds(10000), &pool))
        << lang.job << ": " << pool.json().dump();
    std::vector<pid_t> pids = ChildrenRunning(cf.pid(), Path(lang.file));
    EXPECT_EQ(pids.size(), 2u) << lang.job << ": " << Str(pids);
    pool_pids.insert(pool_pids.end(), pids.begin(), pids.end());
  }
  // Each has answered, so each reads its stdin.
  ExpectFib(RunWait("node", "3"), 3, "node");
  ExpectFib(RunWait("py", "3"), 3, "py");
  const auto start = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  const std::optional<int> code = cf.WaitExit(milliseconds(10000));
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(code, std::optional<int>(0)) << cf.Stderr();
  EXPECT_LT(took, milliseconds(3000));
  EXPECT_TRUE(PollUntil([&] { return AllGone(pool_pids); }, milliseconds(2000)))
      << States(pool_pids);
  std::cout << "[ figures  ] SIGTERM to exit with 4 idle pool processes: "
            << took.count() << " ms\n";
}

// SIGTERM while a run is busy: the run may finish within
// shutdown.timeout, its waiting request gets the answer, then corefork
// exits 0 and the process is gone.
TEST_F(JobsPoolTest, ShutdownLetsABusyRunFinish) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1}") +
                          "shutdown: {drain_delay: 0s, timeout: 10s}\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpConnection waiting;
  ASSERT_TRUE(waiting.Connect(ControlSocket(), milliseconds(2000)))
      << waiting.error();
  ASSERT_TRUE(waiting.Send("POST", "/jobs/node/runs?wait=true", "hold"))
      << waiting.error();
  uint64_t id = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (uint64_t i = 1; i <= 3 && id == 0; ++i) {
          if (GetRun(i).Str("state").value_or("") == "running") id = i;
        }
        return id != 0;
      },
      milliseconds(10000)));
  const pid_t pid = WaitRunPid(id);
  ASSERT_GT(pid, 0);
  const uint64_t queued = SubmitAsync("node", "1");
  EXPECT_EQ(GetRun(queued).Str("state").value_or(""), "queued");
  ASSERT_TRUE(cf.Signal(SIGTERM));
  EXPECT_TRUE(PollUntil(
      [&] { return GetRun(queued).Str("state").value_or("") == "cancelled"; },
      milliseconds(3000)))
      << "a queued run not cancelled at shutdown: "
      << GetRun(queued).json().dump();
  // Still running a moment after the SIGTERM: the run is not cut short.
  EXPECT_FALSE(PollUntil([&] { return !cf.Running(); }, milliseconds(500)));
  EXPECT_FALSE(ProcessGone(pid));
  ASSERT_TRUE(WriteFile(Path("release"), ""));
  const HttpResponse answer = waiting.ReadResponse(milliseconds(10000));
  ASSERT_EQ(answer.status, 200) << answer.ToString();
  const JsonValue run = Body(answer);
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << answer.body;
  EXPECT_EQ(RunPid(run), pid);
  EXPECT_EQ(cf.WaitExit(milliseconds(10000)), std::optional<int>(0))
      << cf.Stderr();
  EXPECT_TRUE(PollUntil([&] { return GoneWithGroup(pid); }, milliseconds(2000)))
      << States({pid});
}

// A pool worker that answers "ok", ignores SIGTERM and lives on after its
// stdin ends: only SIGKILL stops it.
const char kStubbornWorker[] =
    "process.on('SIGTERM', () => {});\n"
    "setInterval(() => {}, 1000);\n"
    "require('node:readline').createInterface({ input: process.stdin })\n"
    "  .on('line', (line) => process.stdout.write(\n"
    "    JSON.stringify({ id: JSON.parse(line).id, output: 'ok' }) + "
    "'\\n'));\n";

// A pool process that ignores both its stdin's end and SIGTERM is
// SIGKILLed kill_grace after the shutdown retired it (not at the end of
// shutdown.timeout).
TEST_F(JobsPoolTest, ShutdownKillsAStubbornProcessAfterKillGrace) {
  const std::string stubborn = Path("stubborn.js");
  ASSERT_TRUE(WriteFile(stubborn, kStubbornWorker));
  Process& cf = StartJobs(
      "jobs:\n" +
      PoolJob("stubborn",
              "[" + YamlQuote(kNode) + ", " + YamlQuote(stubborn) + "]",
              "{size: 1}", "    kill_grace: 500ms\n") +
      "shutdown: {drain_delay: 0s, timeout: 10s}\n");
  ASSERT_TRUE(WaitControl(cf));
  const JsonValue run = RunWait("stubborn", "x");
  EXPECT_EQ(run.Str("stdout").value_or(""), "ok") << run.json().dump();
  const pid_t pid = RunPid(run);
  ASSERT_GT(pid, 0);
  const auto start = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  const std::optional<int> code = cf.WaitExit(milliseconds(15000));
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(code, std::optional<int>(0)) << cf.Stderr();
  EXPECT_GE(took, milliseconds(450)) << "killed before kill_grace";
  EXPECT_LT(took, milliseconds(4000))
      << "waited for shutdown.timeout, not kill_grace";
  EXPECT_TRUE(PollUntil([&] { return GoneWithGroup(pid); }, milliseconds(2000)))
      << States({pid});
  std::cout << "[ figures  ] SIGTERM to exit with a stubborn pool process "
               "(kill_grace 500ms): "
            << took.count() << " ms\n";
}

// A busy run past shutdown.timeout: SIGKILLed with its group, the run
// ends cancelled (its waiting request gets that), corefork exits.
TEST_F(JobsPoolTest, ShutdownKillsABusyRunAtTheDeadline) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1}") +
                          "shutdown: {drain_delay: 0s, timeout: 1s}\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpConnection waiting;
  ASSERT_TRUE(waiting.Connect(ControlSocket(), milliseconds(2000)))
      << waiting.error();
  ASSERT_TRUE(waiting.Send("POST", "/jobs/py/runs?wait=true", "hold"))
      << waiting.error();
  const pid_t pid = WaitRunPid(1);
  ASSERT_GT(pid, 0);
  const auto start = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  const HttpResponse answer = waiting.ReadResponse(milliseconds(10000));
  ASSERT_EQ(answer.status, 200) << answer.ToString();
  EXPECT_EQ(Body(answer).Str("state").value_or(""), "cancelled") << answer.body;
  EXPECT_TRUE(cf.WaitExit(milliseconds(10000)).has_value());
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_GE(took, milliseconds(900)) << "cut short before shutdown.timeout";
  EXPECT_LT(took, milliseconds(4000));
  EXPECT_TRUE(PollUntil([&] { return GoneWithGroup(pid); }, milliseconds(2000)))
      << States({pid});
}

// A retiring process (max_runs reached, ignoring its stdin's end and
// SIGTERM for kill_grace) is not counted in size: the next run starts at
// once on a new process.
TEST_F(JobsPoolTest, ARetiringProcessIsNotCountedInTheSize) {
  const std::string stubborn = Path("stubborn.js");
  ASSERT_TRUE(WriteFile(stubborn, kStubbornWorker));
  Process& cf = StartJobs(
      "jobs:\n" +
      PoolJob("s", "[" + YamlQuote(kNode) + ", " + YamlQuote(stubborn) + "]",
              "{size: 1, max_runs: 1}", "    kill_grace: 3s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const JsonValue first = RunWait("s", "a");
  EXPECT_EQ(first.Str("stdout").value_or(""), "ok") << first.json().dump();
  const pid_t old = RunPid(first);
  ASSERT_GT(old, 0);
  const auto start = Clock::now();
  const JsonValue second = RunWait("s", "b");
  EXPECT_LT(Clock::now() - start, milliseconds(2000))
      << "the next run waited for the retiring process";
  EXPECT_EQ(second.Str("stdout").value_or(""), "ok") << second.json().dump();
  EXPECT_NE(RunPid(second), old);
  const JsonValue pool = PoolOf("s");
  EXPECT_FALSE(ProcessGone(old)) << "retired before kill_grace";
  EXPECT_EQ(N(pool, "retiring"), 2) << pool.json().dump();
  EXPECT_TRUE(PollUntil([&] { return GoneWithGroup(old); }, milliseconds(6000)))
      << "not SIGKILLed after kill_grace: " << States({old});
  EXPECT_TRUE(PollUntil([&] { return PoolExits("s", "max_runs") == 2; },
                        milliseconds(6000)))
      << MetricsText();
  EXPECT_TRUE(cf.Running());
}

// DELETE of a queued pool run removes it; of a running one kills its
// process with its group, the run ends cancelled, a fresh process takes the
// next run.
TEST_F(JobsPoolTest, CancellingARunningRunReplacesItsProcess) {
  Process& cf =
      StartJobs("jobs:\n" + PoolJob("c", Command(kLangs[0]), "{size: 1}",
                                    "    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const uint64_t running = SubmitAsync("c", "hold");
  const pid_t pid = WaitRunPid(running);
  ASSERT_GT(pid, 0);
  const uint64_t queued = SubmitAsync("c", "hold");
  EXPECT_EQ(GetRun(queued).Str("state").value_or(""), "queued");
  UnixHttpResponse del =
      Control("DELETE", "/jobs/runs/" + std::to_string(queued));
  EXPECT_EQ(del.status, 200) << del.ToString();
  EXPECT_EQ(GetRun(queued).Str("state").value_or(""), "cancelled");

  del = Control("DELETE", "/jobs/runs/" + std::to_string(running));
  EXPECT_EQ(del.status, 202) << del.ToString();
  const JsonValue run = WaitRunEnded(running, milliseconds(5000));
  EXPECT_EQ(run.Str("state").value_or(""), "cancelled") << run.json().dump();
  EXPECT_EQ(RunPid(run), pid) << run.json().dump();
  EXPECT_TRUE(PollUntil([&] { return GoneWithGroup(pid); }, milliseconds(3000)))
      << States({pid});
  const JsonValue next = RunWait("c", "9");
  ExpectFib(next, 9, "after the cancel");
  EXPECT_NE(RunPid(next), pid);
  EXPECT_TRUE(PollUntil([&] { return PoolExits("c", "cancelled") == 1; },
                        milliseconds(5000)))
      << MetricsText();
  EXPECT_TRUE(cf.Running());
}

// Pools (protocol): a request whose Content-Type is JSON arrives parsed
// (pretty-printed JSON on one line); one that only claims JSON, and any
// other body, arrive as a string, control characters escaped and invalid
// UTF-8 replaced, so a request is always one line.
TEST_F(JobsPoolTest, JsonBodiesArriveParsedAndStringsStayOneLine) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1}"));
  ASSERT_TRUE(WaitControl(cf));
  struct Case {
    const char* name;
    const char* content_type;  // "" for none
    std::string body;
    const char* state;
    std::string out;  // the run's stdout, or its error when failed
  };
  const Case cases[] = {
      {"pretty JSON", "application/json",
       "{\n  \"a\": [1, 2],\n  \"b\": "
       "\"x\\ny\"\n}\n",
       "succeeded", R"({"json":{"a":[1,2],"b":"x\ny"}})"},
      {"JSON with charset", "application/json; charset=utf-8", "42",
       "succeeded", R"({"json":42})"},
      {"+json type", "application/vnd.api+json", "[1, {\"k\": null}]",
       "succeeded", R"({"json":[1,{"k":null}]})"},
      {"claims JSON, is not", "application/json", "{bad", "failed",
       "not a number: {bad"},
      {"claims JSON, duplicate key", "application/json", R"({"a":1,"a":2})",
       "failed", R"(not a number: {"a":1,"a":2})"},
      {"claims JSON, trailing text", "application/json", "[1] [2]", "failed",
       "not a number: [1] [2]"},
      {"JSON as text/plain", "text/plain", R"({"a":1})", "failed",
       R"(not a number: {"a":1})"},
      {"newlines and controls", "", "echo:a\nb\r\n\x01\tc\n", "succeeded",
       "a\nb\r\n\x01\tc\n"},
      {"invalid UTF-8", "", "echo:caf\xC3\xA9 \xFF!", "succeeded",
       "caf\xC3\xA9 \xEF\xBF\xBD!"},
  };
  for (const Lang& lang : kLangs) {
    for (const Case& c : cases) {
      const std::string name = lang.job + std::string(": ") + c.name;
      std::string request = "POST /jobs/" + std::string(lang.job) +
                            "/runs?wait=true HTTP/1.1\r\nHost: corefork\r\n"
                            "Connection: close\r\n";
      if (*c.content_type) {
        request += "Content-Type: " + std::string(c.content_type) + "\r\n";
      }
      request += "Content-Length: " + std::to_string(c.body.size()) +
                 "\r\n\r\n" + c.body;
      const HttpResponse r =
          RawUnixExchange(ControlSocket(), request, milliseconds(10000));
      ASSERT_EQ(r.status, 200) << name << ": " << r.ToString();
      const JsonValue run = Body(r);
      EXPECT_EQ(run.Str("state").value_or(""), c.state)
          << name << ": " << r.body;
      const std::string got = std::string(c.state) == "failed"
                                  ? run.Str("error").value_or("")
                                  : run.Str("stdout").value_or("");
      EXPECT_EQ(got, c.out) << name << ": " << r.body;
    }
    EXPECT_EQ(N(PoolOf(lang.job), "starts"), 1)
        << lang.job << ": a request broke the protocol";
  }
  EXPECT_TRUE(cf.Running());
}

// A body larger than the pipe (900 KiB) reaches a process that is still
// starting: written as the pipe drains, while corefork keeps answering.
TEST_F(JobsPoolTest, ALargeBodyIsWrittenAsThePipeDrains) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1}"));
  ASSERT_TRUE(WaitControl(cf));
  ControlProber prober(ControlSocket());
  const std::string payload(900 * 1024, 'z');
  for (const Lang& lang : kLangs) {
    for (int i = 0; i < 3; ++i) {
      const JsonValue run = RunWait(lang.job, "len:" + payload);
      EXPECT_EQ(run.Str("state").value_or(""), "succeeded")
          << lang.job << " " << i << ": " << run.json().dump().substr(0, 500);
      EXPECT_EQ(run.Str("stdout").value_or(""), std::to_string(payload.size()))
          << lang.job << " " << i;
    }
    EXPECT_EQ(N(PoolOf(lang.job), "starts"), 1) << lang.job;
  }
  prober.Stop();
  std::cout << "[ figures  ] GET /jobs during 900 KiB requests: "
            << prober.probes() << " probes, slowest " << prober.max_ms()
            << " ms\n";
  EXPECT_EQ(prober.failures(), 0);
  EXPECT_LT(prober.max_ms(), 500) << "the control socket stalled";
  EXPECT_TRUE(cf.Running());
}

// A pool process that dies at start (its program missing, or exiting at
// once) fails the run it was started for; nothing waits forever, and a
// second run fails the same way after the back-off. retries retry a
// crashed run on a fresh process.
TEST_F(JobsPoolTest, AProcessThatDiesAtStartFailsItsRun) {
  Process& cf = StartJobs(
      "jobs:\n" + PoolJob("missing", "[/nonexistent/program]", "{size: 1}") +
      PoolJob("quits", ShCommand("echo quitting >&2; exit 1"), "{size: 1}") +
      PoolJob("retried", Command(kLangs[0]), "{size: 1}",
              "    retries: 1\n    retry_delay: 100ms\n"));
  ASSERT_TRUE(WaitControl(cf));
  for (int i = 0; i < 2; ++i) {
    const auto start = Clock::now();
    JsonValue run = RunWait("missing", "1");
    EXPECT_EQ(run.Str("state").value_or(""), "failed") << run.json().dump();
    EXPECT_NE((run.Str("error").value_or("") + run.Str("stderr").value_or(""))
                  .find("/nonexistent/program"),
              std::string::npos)
        << "nothing says what went wrong: " << run.json().dump();
    run = RunWait("quits", "1");
    EXPECT_EQ(run.Str("state").value_or(""), "failed") << run.json().dump();
    EXPECT_EQ(run.Num("exit_code").value_or(-1), 1) << run.json().dump();
    EXPECT_EQ(run.Str("stderr").value_or(""), "quitting\n")
        << run.json().dump();
    EXPECT_LT(Clock::now() - start, milliseconds(5000)) << "attempt " << i;
  }
  const JsonValue retried = RunWait("retried", "crash");
  EXPECT_EQ(retried.Str("state").value_or(""), "failed")
      << retried.json().dump();
  EXPECT_EQ(retried.Num("attempt").value_or(0), 2) << retried.json().dump();
  EXPECT_EQ(retried.Num("exit_code").value_or(-1), 3) << retried.json().dump();
  EXPECT_TRUE(PollUntil([&] { return PoolExits("retried", "crashed") == 2; },
                        milliseconds(5000)))
      << MetricsText();
  ExpectFib(RunWait("retried", "7"), 7, "retried");
  EXPECT_TRUE(cf.Running());
}

// min: processes kept while idle (one killed from outside is replaced even
// with nothing to run); above min, an idle one stops after idle_timeout.
TEST_F(JobsPoolTest, MinIsKeptAndIdleProcessesAboveItStop) {
  Process& cf = StartJobs(
      "jobs:\n" + PoolJob("p", Command(kLangs[1]),
                          "{size: 2, min: 1, warm: true, idle_timeout: 1s}"));
  ASSERT_TRUE(WaitControl(cf));
  JsonValue pool;
  ASSERT_TRUE(WaitPool(
      "p", [](const JsonValue& p) { return N(p, "idle") == 1; },
      milliseconds(10000), &pool))
      << pool.json().dump();
  EXPECT_EQ(N(pool, "min"), 1) << pool.json().dump();
  std::vector<pid_t> kept = ChildrenRunning(cf.pid(), Path(kLangs[1].file));
  ASSERT_EQ(kept.size(), 1u) << Str(kept);

  // Killed from outside while idle: replaced.
  ASSERT_EQ(kill(kept[0], SIGKILL), 0);
  EXPECT_TRUE(WaitPool(
      "p",
      [](const JsonValue& p) {
        return N(p, "starts") == 2 && N(p, "idle") == 1;
      },
      milliseconds(10000), &pool))
      << pool.json().dump();
  EXPECT_TRUE(
      PollUntil([&] { return ProcessGone(kept[0]); }, milliseconds(3000)));
  EXPECT_TRUE(PollUntil([&] { return PoolExits("p", "crashed") == 1; },
                        milliseconds(5000)))
      << MetricsText();

  // Two held runs: a second process; after the runs, it stops when idle
  // for 1s, and the pool is back at min.
  unlink(Path("release").c_str());
  const uint64_t a = SubmitAsync("p", "hold");
  const uint64_t b = SubmitAsync("p", "hold");
  ASSERT_TRUE(WaitPool(
      "p", [](const JsonValue& p) { return N(p, "busy") == 2; },
      milliseconds(10000), &pool))
      << pool.json().dump();
  ASSERT_TRUE(WriteFile(Path("release"), ""));
  EXPECT_EQ(WaitRunEnded(a).Str("state").value_or(""), "succeeded");
  EXPECT_EQ(WaitRunEnded(b).Str("state").value_or(""), "succeeded");
  const auto idle_from = Clock::now();
  EXPECT_TRUE(WaitPool(
      "p",
      [](const JsonValue& p) {
        return N(p, "processes") == 1 && N(p, "idle") == 1;
      },
      milliseconds(10000), &pool))
      << pool.json().dump();
  const auto took = Clock::now() - idle_from;
  EXPECT_GE(took, milliseconds(800)) << "stopped before idle_timeout";
  EXPECT_TRUE(PollUntil([&] { return PoolExits("p", "idle") == 1; },
                        milliseconds(5000)))
      << MetricsText();
  // The one kept stays.
  EXPECT_FALSE(PollUntil([&] { return N(PoolOf("p"), "processes") != 1; },
                         milliseconds(1500)))
      << "min: 1 not kept: " << PoolOf("p").json().dump();
  EXPECT_TRUE(cf.Running());
}

// max_rss: a run that leaves its process above it succeeds, and the process
// is replaced (reason "memory").
TEST_F(JobsPoolTest, MaxRssReplacesAProcessThatGrew) {
  Process& cf = StartJobs("jobs:\n" + PoolJob("py", Command(kLangs[1]),
                                              "{size: 1, max_rss: 64Mi}"));
  ASSERT_TRUE(WaitControl(cf));
  const JsonValue small = RunWait("py", "10");
  ExpectFib(small, 10, "before growing");
  const JsonValue grew = RunWait("py", "grow");
  EXPECT_EQ(grew.Str("state").value_or(""), "succeeded") << grew.json().dump();
  EXPECT_EQ(grew.Str("stdout").value_or(""), "grown") << grew.json().dump();
  const pid_t big = RunPid(grew);
  EXPECT_EQ(big, RunPid(small)) << "the small process was replaced";
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(big); }, milliseconds(5000)))
      << "a process over max_rss still runs: " << States({big});
  EXPECT_TRUE(PollUntil([&] { return PoolExits("py", "memory") == 1; },
                        milliseconds(5000)))
      << MetricsText();
  const JsonValue next = RunWait("py", "11");
  ExpectFib(next, 11, "after the replacement");
  EXPECT_NE(RunPid(next), big);
}

// max_rss counts the process's descendants too: a child that grows past it
// gets its parent replaced, and goes with the group.
TEST_F(JobsPoolTest, MaxRssCountsTheProcessDescendants) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1, max_rss: 64Mi}"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    const JsonValue run = RunWait(lang.job, "grow-child");
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded")
        << lang.job << ": " << run.json().dump();
    const pid_t parent = RunPid(run);
    ASSERT_GT(parent, 0);
    EXPECT_TRUE(
        PollUntil([&] { return GoneWithGroup(parent); }, milliseconds(5000)))
        << lang.job << ": a process whose child is over max_rss still runs: "
        << States({parent}) << ", group " << Str(GroupMembers(parent));
    EXPECT_TRUE(PollUntil([&] { return PoolExits(lang.job, "memory") == 1; },
                          milliseconds(5000)))
        << MetricsText();
    const JsonValue next = RunWait(lang.job, "5");
    ExpectFib(next, 5, lang.job);
    EXPECT_NE(RunPid(next), parent);
  }
}

// More protocol breaks: a second answer for a finished run (a line when no
// run was sent) and a closed stdout; the process is killed and replaced.
TEST_F(JobsPoolTest, UnaskedLinesAndAClosedStdoutBreakTheProtocol) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1}"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    const JsonValue twice = RunWait(lang.job, "twice");
    EXPECT_EQ(twice.Str("state").value_or(""), "succeeded")
        << lang.job << ": " << twice.json().dump();
    EXPECT_EQ(twice.Str("stdout").value_or(""), "once") << twice.json().dump();
    const pid_t chatty = RunPid(twice);
    EXPECT_TRUE(
        PollUntil([&] { return GoneWithGroup(chatty); }, milliseconds(5000)))
        << lang.job << ": a process that answered twice still runs "
        << States({chatty});
    EXPECT_TRUE(PollUntil([&] { return PoolExits(lang.job, "protocol") == 1; },
                          milliseconds(5000)))
        << MetricsText();
    JsonValue next = RunWait(lang.job, "8");
    ExpectFib(next, 8, lang.job + std::string(" after twice"));

    // stdout closed is a protocol break like the others (docs/jobs.md
    // "Crash"): the process is killed at once, not after a grace.
    const auto close_start = Clock::now();
    const JsonValue closed = RunWait(lang.job, "close");
    const auto close_took =
        std::chrono::duration_cast<milliseconds>(Clock::now() - close_start);
    EXPECT_EQ(closed.Str("state").value_or(""), "failed")
        << lang.job << ": " << closed.json().dump();
    EXPECT_LT(close_took, milliseconds(2000))
        << lang.job << ": the run of a process that closed its stdout ended "
        << close_took.count() << " ms later: " << closed.json().dump();
    EXPECT_FALSE(closed.Str("error").value_or("").empty())
        << closed.json().dump();
    const pid_t mute = RunPid(closed);
    EXPECT_TRUE(
        PollUntil([&] { return GoneWithGroup(mute); }, milliseconds(3000)))
        << lang.job << ": " << States({mute});
    EXPECT_TRUE(PollUntil([&] { return PoolExits(lang.job, "protocol") == 2; },
                          milliseconds(5000)))
        << lang.job << ": stdout closed not counted as reason=\"protocol\"\n"
        << MetricsText();
    next = RunWait(lang.job, "9");
    ExpectFib(next, 9, lang.job + std::string(" after close"));
    EXPECT_NE(RunPid(next), mute);
  }
  EXPECT_TRUE(cf.Running());
}

// stderr written while idle is logged as "job NAME pool process PID
// stderr: ..." and is not part of the next run.
TEST_F(JobsPoolTest, StderrBetweenRunsIsLoggedNotKept) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1}"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    const JsonValue run = RunWait(lang.job, "after");
    EXPECT_EQ(run.Str("stdout").value_or(""), "after") << run.json().dump();
    const std::string logged = "job " + std::string(lang.job) +
                               " pool process " + std::to_string(RunPid(run)) +
                               " stderr: between runs";
    EXPECT_TRUE(
        PollUntil([&] { return cf.Stderr().find(logged) != std::string::npos; },
                  milliseconds(3000)))
        << "not logged: '" << logged << "'";
    const JsonValue next = RunWait(lang.job, "6");
    ExpectFib(next, 6, lang.job);
    EXPECT_EQ(next.Str("stderr").value_or("x"), "") << next.json().dump();
  }
}

// at_start and every runs go through the pool too.
TEST_F(JobsPoolTest, AtStartAndScheduledRunsGoThroughThePool) {
  const std::string yaml =
      "jobs:\n"
      "  boot:\n    command: " +
      Command(kLangs[0]) +
      "\n    at_start: true\n    env: {POOL_DIR: " + YamlQuote(tmp_.path()) +
      "}\n    pool: {size: 1}\n"
      "  tick:\n    command: " +
      Command(kLangs[0]) +
      "\n    every: 1s\n    env: {POOL_DIR: " + YamlQuote(tmp_.path()) +
      "}\n    pool: {size: 1}\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  // Their runs have no body: the worker answers "empty".
  std::map<std::string, JsonValue> first;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (uint64_t id = 1; id <= 4; ++id) {
          const JsonValue run = GetRun(id);
          const std::string job = run.Str("job").value_or("");
          if (!job.empty() && IsFinalState(run.Str("state").value_or("")) &&
              !first.count(job)) {
            first[job] = run;
          }
        }
        return first.count("boot") && first.count("tick");
      },
      milliseconds(10000)))
      << "runs seen: " << first.size();
  for (const char* job : {"boot", "tick"}) {
    const JsonValue& run = first[job];
    EXPECT_GT(RunPid(run), 0)
        << job << ": not served by a pool process: " << run.json().dump();
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << run.json().dump();
    EXPECT_EQ(run.Str("stdout").value_or(""), "empty")
        << job << ": " << run.json().dump();
  }
  EXPECT_EQ(first["boot"].Str("trigger").value_or(""), "at_start");
  EXPECT_GE(N(PoolOf("tick"), "starts"), 1);
}

// A timed-out run whose process ignores SIGTERM: SIGKILL after kill_grace
// ends it (the run's signal), and the next run gets a fresh process.
TEST_F(JobsPoolTest, ATimedOutRunThatIgnoresSigtermIsKilledAfterKillGrace) {
  Process& cf = StartJobs(
      "jobs:\n" +
      PoolJobs("{size: 1}", "    timeout: 500ms\n    kill_grace: 400ms\n"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    const pid_t before = RunPid(RunWait(lang.job, "3"));
    const auto start = Clock::now();
    const JsonValue run = RunWait(lang.job, "hang-stubborn");
    const auto took = Clock::now() - start;
    EXPECT_EQ(run.Str("state").value_or(""), "timed_out")
        << lang.job << ": " << run.json().dump();
    EXPECT_EQ(run.Str("signal").value_or(""), "SIGKILL")
        << lang.job << ": " << run.json().dump();
    EXPECT_EQ(RunPid(run), before) << "the idle process did not take the run";
    EXPECT_GE(took, milliseconds(850)) << lang.job << ": before kill_grace";
    EXPECT_LT(took, milliseconds(5000)) << lang.job;
    EXPECT_TRUE(
        PollUntil([&] { return GoneWithGroup(before); }, milliseconds(3000)))
        << States({before});
    const JsonValue next = RunWait(lang.job, "4");
    ExpectFib(next, 4, lang.job);
    EXPECT_NE(RunPid(next), before);
  }
  EXPECT_TRUE(cf.Running());
}

// An answer line of exactly max_answer bytes is accepted, one byte more is
// not (docs/jobs.md: "at most pool.max_answer, before its \n"); an answer
// written in two pieces is one answer.
TEST_F(JobsPoolTest, AnswerLinesUpToMaxAnswerAreAccepted) {
  Process& cf = StartJobs("jobs:\n" + PoolJobs("{size: 1, max_answer: 1Ki}"));
  ASSERT_TRUE(WaitControl(cf));
  for (const Lang& lang : kLangs) {
    JsonValue run = RunWait(lang.job, "exact:1024");
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded")
        << lang.job << ": a 1024-byte answer with max_answer 1Ki: "
        << run.json().dump().substr(0, 400);
    const pid_t pid = RunPid(run);
    EXPECT_GT(run.Str("stdout").value_or("").size(), 1000u);
    run = RunWait(lang.job, "split");
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << run.json().dump();
    EXPECT_EQ(run.Str("stdout").value_or(""), "split") << run.json().dump();
    EXPECT_EQ(RunPid(run), pid) << lang.job;
    run = RunWait(lang.job, "exact:1025");
    EXPECT_EQ(run.Str("state").value_or(""), "failed")
        << lang.job << ": a 1025-byte answer with max_answer 1Ki: "
        << run.json().dump().substr(0, 400);
    EXPECT_NE(run.Str("error").value_or("").find("limit"), std::string::npos)
        << run.json().dump().substr(0, 400);
    EXPECT_TRUE(PollUntil([&] { return ProcessGone(pid); }, milliseconds(3000)))
        << States({pid});
  }
}

// A worker that answers once and exits (a spawn-per-run program in a pool)
// is a process that "exits without being asked": a run handed to it in the
// moment between its answer and its exit fails (docs/jobs.md "Crash"), but
// nothing waits forever, each process answers once, and since each one
// answered, the back-off stays at its first step instead of doubling.
TEST_F(JobsPoolTest, AWorkerThatExitsAfterEachAnswerKeepsTheBackoffShort) {
  const std::string script =
      "IFS= read -r line; id=${line#*\\\"id\\\":}; id=${id%%[!0-9]*}; "
      "printf '{\"id\":%s,\"output\":\"one\"}\\n' \"$id\"";
  Process& cf =
      StartJobs("jobs:\n" + PoolJob("once", ShCommand(script), "{size: 1}"));
  ASSERT_TRUE(WaitControl(cf));
  std::map<pid_t, int> answered;
  int succeeded = 0;
  const auto start = Clock::now();
  for (int i = 0; i < 8; ++i) {
    const JsonValue run = RunWait("once", "x");
    const std::string state = run.Str("state").value_or("");
    if (state == "succeeded") {
      ++succeeded;
      ++answered[RunPid(run)];
      EXPECT_EQ(run.Str("stdout").value_or(""), "one") << run.json().dump();
    } else {
      EXPECT_EQ(state, "failed") << "run " << i << ": " << run.json().dump();
      EXPECT_FALSE(run.Str("error").value_or("").empty()) << run.json().dump();
    }
  }
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_GE(succeeded, 1);
  for (const auto& entry : answered) {
    EXPECT_EQ(entry.second, 1) << "pid " << entry.first << " answered twice";
  }
  // 8 runs with a back-off doubling from 100 ms would take 25 s.
  EXPECT_LT(took, milliseconds(5000)) << "the back-off was not reset";
  std::cout << "[ figures  ] 8 runs of a worker that exits after answering: "
            << took.count() << " ms, " << succeeded << " succeeded\n";
}

// SIGTERM while a pool crash-loops in its back-off: corefork exits at once,
// starting no new process.
TEST_F(JobsPoolTest, ShutdownDuringACrashLoopIsPrompt) {
  Process& cf = StartJobs("jobs:\n" + PoolJob("loop", ShCommand("exit 1"),
                                              "{size: 1, min: 1, warm: true}"));
  ASSERT_TRUE(WaitControl(cf));
  JsonValue pool;
  ASSERT_TRUE(WaitPool(
      "loop", [](const JsonValue& p) { return N(p, "starts") >= 3; },
      milliseconds(10000), &pool))
      << pool.json().dump();
  const auto start = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  EXPECT_EQ(cf.WaitExit(milliseconds(10000)), std::optional<int>(0))
      << cf.Stderr();
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_TRUE(PollUntil([&] { return DescendantsOf(cf.pid()).empty(); },
                        milliseconds(2000)));
}

// A pool worker that reports how it was started: its open fds (and what
// they are), its blocked signals, its process group and pid.
const char kCleanWorker[] = R"PY(import json
import os
import sys

for line in sys.stdin.buffer:
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # the directory listdir had open
    with open("/proc/self/status") as f:
        status = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    answer = {"fds": fds, "sigblk": status["SigBlk"], "pgrp": os.getpgrp(),
              "pid": os.getpid()}
    sys.stdout.write(json.dumps({"id": json.loads(line)["id"],
                                 "output": answer}) + "\n")
    sys.stdout.flush()
)PY";

// A pool process starts like a run does (docs/jobs.md "Execution"): its
// own process group, no signal blocked, no fd of corefork's but its three
// pipes as 0, 1 and 2.
TEST_F(JobsPoolTest, APoolProcessStartsClean) {
  ASSERT_TRUE(WriteFile(Path("clean.py"), kCleanWorker));
  Process& cf =
      StartJobs("jobs:\n" + PoolJob("clean",
                                    "[" + YamlQuote(kPython) + ", " +
                                        YamlQuote(Path("clean.py")) + "]",
                                    "{size: 1}"));
  ASSERT_TRUE(WaitControl(cf));
  const JsonValue run = RunWait("clean", "x");
  ASSERT_EQ(run.Str("state").value_or(""), "succeeded") << run.json().dump();
  std::optional<JsonValue> out = ParseJson(run.Str("stdout").value_or(""));
  ASSERT_TRUE(out && out->is_object()) << run.json().dump();
  const JsonValue fds = (*out)["fds"];
  EXPECT_EQ(fds.size(), 3u)
      << "fds other than 0, 1, 2 in the pool process: " << fds.json().dump();
  for (const char* fd : {"0", "1", "2"}) {
    EXPECT_EQ(fds.Str(fd).value_or("").rfind("pipe:", 0), 0u)
        << "fd " << fd << ": " << fds.json().dump();
  }
  EXPECT_EQ(out->Str("sigblk").value_or(""), "0000000000000000")
      << out->json().dump();
  EXPECT_EQ(out->Num("pgrp").value_or(-1), out->Num("pid").value_or(-2))
      << "the pool process does not lead its own group: " << out->json().dump();
  EXPECT_EQ(out->Num("pid").value_or(-1), RunPid(run));
}

// The job's env, workdir and user apply to its pool processes: a /bin/sh
// worker answers with what it sees.
TEST_F(JobsPoolTest, APoolProcessGetsTheJobsEnvWorkdirAndUser) {
  const std::string dir = Path("work");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  // nobody may enter the test's temp dir to reach `work`.
  ASSERT_EQ(chmod(tmp_.path().c_str(), 0711), 0);
  const std::string script =
      "while IFS= read -r line; do id=${line#*\\\"id\\\":}; "
      "id=${id%%[!0-9]*}; printf '{\"id\":%s,\"output\":\"%s %s %s %s\"}\\n' "
      "\"$id\" \"$GREETING\" \"$COREFORK_JOB\" \"$(pwd)\" \"$(id -u)\"; done";
  const bool root = geteuid() == 0;
  std::string yaml = "jobs:\n  sh:\n    command: " + ShCommand(script) +
                     "\n    on_demand: true\n    env: {GREETING: hi there}\n"
                     "    workdir: " +
                     YamlQuote(dir) + "\n    pool: {size: 1}\n";
  if (root) yaml += "    user: nobody\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  const JsonValue run = RunWait("sh", "x");
  ASSERT_EQ(run.Str("state").value_or(""), "succeeded") << run.json().dump();
  const passwd* nobody = getpwnam("nobody");
  const uid_t uid = root && nobody != nullptr ? nobody->pw_uid : geteuid();
  EXPECT_EQ(run.Str("stdout").value_or(""),
            "hi there sh " + dir + " " + std::to_string(uid))
      << run.json().dump();
}

// The pool metrics: processes per state, and exits per reason (a crash
// in one pool, a timeout in another).
TEST_F(JobsPoolTest, MetricsCountProcessesAndTheirExits) {
  Process& cf =
      StartJobs("jobs:\n" + PoolJob("m", Command(kLangs[0]), "{size: 2}") +
                PoolJob("t", Command(kLangs[0]), "{size: 1}",
                        "    timeout: 500ms\n    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const std::map<std::string, std::string> idle = {{"job", "m"},
                                                   {"state", "idle"}};
  const std::map<std::string, std::string> busy = {{"job", "m"},
                                                   {"state", "busy"}};
  ExpectFib(RunWait("m", "10"), 10, "m");
  std::string text = MetricsText();
  ASSERT_FALSE(text.empty()) << "no /metrics on the admin port";
  EXPECT_NE(text.find("# TYPE corefork_job_pool_processes gauge"),
            std::string::npos)
      << text;

  const uint64_t held = SubmitAsync("m", "hold");
  ASSERT_GT(WaitRunPid(held), 0);
  EXPECT_TRUE(PollUntil(
      [&] {
        text = MetricsText();
        return MetricSample(text, "corefork_job_pool_processes", busy) == 1.0 &&
               MetricSample(text, "corefork_job_pool_processes", idle) == 0.0;
      },
      milliseconds(5000)))
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_pool_processes",
                         {{"job", "m"}, {"state", "retiring"}}),
            0.0)
      << text;
  ASSERT_TRUE(WriteFile(Path("release"), ""));
  EXPECT_EQ(WaitRunEnded(held).Str("state").value_or(""), "succeeded");

  EXPECT_EQ(RunWait("m", "crash").Str("state").value_or(""), "failed");
  EXPECT_EQ(RunWait("t", "hang").Str("state").value_or(""), "timed_out");
  // The crash took m's only process: a new one serves this run and stays.
  ExpectFib(RunWait("m", "11"), 11, "m after the crash");
  EXPECT_TRUE(PollUntil(
      [&] {
        text = MetricsText();
        return MetricSample(text, "corefork_job_pool_process_exits_total",
                            {{"job", "m"}, {"reason", "crashed"}}) == 1.0 &&
               MetricSample(text, "corefork_job_pool_process_exits_total",
                            {{"job", "t"}, {"reason", "timeout"}}) == 1.0 &&
               MetricSample(text, "corefork_job_pool_processes", busy) == 0.0 &&
               MetricSample(text, "corefork_job_pool_processes", idle) == 1.0;
      },
      milliseconds(5000)))
      << text;
  EXPECT_NE(text.find("# TYPE corefork_job_pool_process_exits_total counter"),
            std::string::npos)
      << text;
  for (const auto& [job, reason] :
       std::vector<std::pair<std::string, std::string>>{
           {"m", "timeout"}, {"t", "crashed"}, {"m", "protocol"}}) {
    EXPECT_EQ(MetricSample(text, "corefork_job_pool_process_exits_total",
                           {{"job", job}, {"reason", reason}})
                  .value_or(0),
              0)
        << job << " " << reason << "\n"
        << text;
  }
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "t"}, {"result", "timed_out"}}),
            1.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "m"}, {"result", "failed"}}),
            1.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "m"}, {"result", "succeeded"}}),
            3.0)
      << text;
  EXPECT_TRUE(cf.Running());
}

// The pool gauges exist from the start, as corefork_jobs_running does (0
// before any run), and a warm pool's show its idle processes.
TEST_F(JobsPoolTest, PoolGaugesExistBeforeAnyRun) {
  Process& cf =
      StartJobs("jobs:\n" + PoolJob("lazy", Command(kLangs[0]), "{size: 2}") +
                PoolJob("warm", Command(kLangs[1]), "{size: 2, warm: true}"));
  ASSERT_TRUE(WaitControl(cf));
  JsonValue pool;
  ASSERT_TRUE(WaitPool(
      "warm", [](const JsonValue& p) { return N(p, "idle") == 2; },
      milliseconds(10000), &pool))
      << pool.json().dump();
  std::string text;
  EXPECT_TRUE(PollUntil(
      [&] {
        text = MetricsText();
        return MetricSample(text, "corefork_job_pool_processes",
                            {{"job", "warm"}, {"state", "idle"}}) == 2.0;
      },
      milliseconds(5000)))
      << text;
  for (const char* state : {"idle", "busy", "retiring"}) {
    EXPECT_EQ(MetricSample(text, "corefork_job_pool_processes",
                           {{"job", "lazy"}, {"state", state}}),
              std::optional<double>(0.0))
        << "no corefork_job_pool_processes{job=\"lazy\",state=\"" << state
        << "\"} before the pool's first run\n"
        << text;
  }
  EXPECT_EQ(MetricSample(text, "corefork_jobs_running", {{"job", "lazy"}}),
            std::optional<double>(0.0))
      << text;
}

}  // namespace
}  // namespace corefork::harness
