// Whole-binary tests of the client commands (docs/cli.md): the real corefork
// binary run as `corefork status|reload|scale|jobs|run|cancel|probe` against
// a real corefork with examples/hello workers, on this test's own control
// socket (COREFORK_CONTROL_SOCKET) and admin port. Every command for real,
// with its exit code (docs/exit-codes.md) and its one-line errors.
#include <signal.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_fixture.h"
#include "support/jobs.h"
#include "util/json.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr int kUnreachable = 69;

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Show(const CliResult& r) {
  return "exit " + std::to_string(r.code) + "\nstdout: " + r.out +
         "\nstderr: " + r.err;
}

// Lines in `text` (a final newline does not start another).
size_t LineCount(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

class ClientTest : public JobsTest {
 protected:
  static constexpr const char* kJobs =
      "jobs:\n"
      "  upper:\n"
      "    command: [tr, a-z, A-Z]\n"
      "    on_demand: true\n"
      "  fail:\n"
      "    command: [/bin/sh, -c, 'echo oops >&2; exit 3']\n"
      "    on_demand: true\n"
      "  nap:\n"
      "    command: [sleep, '30']\n"
      "    on_demand: true\n"
      "    kill_grace: 1s\n";

  // Starts corefork with kJobs (+ `extra` YAML) and `workers` hello workers,
  // waits until the control socket answers (when it is ControlSocket()) and
  // every worker is ready, and
  // remembers the admin port for the client.
  Process& StartServer(int workers, const std::string& extra = "",
                       bool on_test_socket = true) {
    Process& cf = StartJobs(std::string(kJobs) + extra, {},
                            {"--workers", std::to_string(workers)});
    if (on_test_socket) {
      EXPECT_TRUE(WaitControl(cf)) << cf.Stderr();
    }
    admin_ = "127.0.0.1:" + std::to_string(admin_port());
    EXPECT_TRUE(PollUntil(
        [&] {
          Json status = AdminStatus();
          return status.is_object() &&
                 status.value("ready_workers", 0) == workers &&
                 status.value("desired_workers", 0) == workers;
        },
        milliseconds(10000)))
        << cf.Stderr();
    return cf;
  }

  // Runs `corefork ARGS...` with this test's socket and admin port in its
  // environment (unless `env` says otherwise) and waits for it to exit.
  CliResult Cli(const std::vector<std::string>& args,
                std::map<std::string, std::string> env = {},
                Millis timeout = Millis(20000)) {
    std::vector<std::string> argv = {COREFORK_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("COREFORK_CONTROL_SOCKET", ControlSocket());
    env.emplace("COREFORK_ADMIN", admin_);
    env.emplace("COREFORK_CONFIG", "");
    return Finish(Process(argv, env), timeout);
  }

  // `script` run by /bin/sh with $CF = the corefork binary (for pipes).
  CliResult Shell(const std::string& script) {
    return Finish(Process({"/bin/sh", "-c", script},
                          {{"CF", COREFORK_BIN},
                           {"COREFORK_CONTROL_SOCKET", ControlSocket()},
                           {"COREFORK_ADMIN", admin_}}),
                  Millis(20000));
  }

  static CliResult Finish(Process&& p, Millis timeout) {
    CliResult r;
    std::optional<int> code = p.WaitExit(timeout);
    r.code = code.value_or(-1);
    r.out = p.Stdout();
    r.err = p.Stderr();
    return r;
  }

  Json AdminStatus() {
    UnixHttpResponse r =
        TcpHttpRequest("127.0.0.1", admin_port(), "GET", "/status");
    Result<Json> json = JsonParse(r.body, 8 << 20);
    return json.ok() ? *json : Json();
  }

  std::string admin_ = "127.0.0.1:1";  // nothing listens there before start
};

TEST_F(ClientTest, NothingAnsweringIsOneLineNamingTheAddressAndExit69) {
  const std::string socket = ControlSocket();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"jobs"},
                                             {"reload"},
                                             {"scale", "2"},
                                             {"run", "upper"},
                                             {"cancel", "1"}}) {
    CliResult r = Cli(args);
    EXPECT_EQ(r.code, kUnreachable) << args[0] << "\n" << Show(r);
    EXPECT_EQ(LineCount(r.err), 1u) << Show(r);
    EXPECT_TRUE(r.err.starts_with("corefork " + args[0] +
                                  ": nothing answers "
                                  "at control socket " +
                                  socket))
        << Show(r);
    EXPECT_NE(r.err.find("No such file or directory"), std::string::npos)
        << Show(r);
    EXPECT_EQ(r.out, "");
  }
  CliResult status = Cli({"status"});
  EXPECT_EQ(status.code, kUnreachable) << Show(status);
  EXPECT_EQ(LineCount(status.err), 1u) << Show(status);
  EXPECT_NE(status.err.find("admin 127.0.0.1:1"), std::string::npos)
      << Show(status);
  EXPECT_NE(status.err.find("Connection refused"), std::string::npos)
      << Show(status);

  // --socket wins over the environment.
  CliResult flagged = Cli({"jobs", "--socket", Path("other.sock")});
  EXPECT_EQ(flagged.code, kUnreachable);
  EXPECT_NE(flagged.err.find(Path("other.sock")), std::string::npos)
      << Show(flagged);

  // A probe says 1 (unhealthy), never 69: Docker reads anything else as
  // unhealthy too, but 1 is what it documents.
  CliResult probe = Cli({"probe"});
  EXPECT_EQ(probe.code, 1) << Show(probe);
  EXPECT_EQ(LineCount(probe.err), 1u) << Show(probe);
  EXPECT_NE(probe.err.find("127.0.0.1:1"), std::string::npos) << Show(probe);
}

TEST_F(ClientTest, BadArgumentsAreUsageErrorsWithExit2) {
  const std::vector<std::vector<std::string>> cases = {
      {"scale"},
      {"scale", "lots"},
      {"cancel", "abc"},
      {"probe", "metrics"},
      {"status", "--bogus"},
      {"run"},
      {"run", "upper", "--input"},
      {"jobs", "extra"},
      {"status", "--admin", "nonsense"},
      {"status", "--admin", "127.0.0.1:0"},
  };
  for (const auto& args : cases) {
    CliResult r = Cli(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << "\n" << Show(r);
    EXPECT_EQ(LineCount(r.err), 1u) << Show(r);
    EXPECT_EQ(r.out, "") << Show(r);
  }
  CliResult missing = Cli({"run", "upper", "--input", Path("no-such-file")});
  EXPECT_EQ(missing.code, 2) << Show(missing);
  EXPECT_EQ(missing.err, "corefork run: --input " + Path("no-such-file") +
                             ": No such file or directory\n");
  // Over the control socket's 1 MiB body limit: refused before sending.
  ASSERT_TRUE(WriteFile(Path("big"), std::string((1 << 20) + 1, 'x')));
  CliResult big = Cli({"run", "upper", "--input", Path("big")});
  EXPECT_EQ(big.code, 2) << Show(big);
  EXPECT_NE(big.err.find("over 1048576 bytes"), std::string::npos) << Show(big);
}

TEST_F(ClientTest, StatusShowsEveryWorkerAndTheJobs) {
  Process& cf = StartServer(2);
  Json before = AdminStatus();
  ASSERT_TRUE(before.is_object());

  CliResult r = Cli({"status"});
  ASSERT_EQ(r.code, 0) << Show(r);
  EXPECT_NE(r.out.find(", 2 of 2 workers ready (ready)\n"), std::string::npos)
      << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("\nSLOT +PID +STATE +UPTIME +RESTARTS +CPU% +RSS +"
                        "LAST EXIT\n")))
      << r.out;
  for (const Json& slot : before["slots"]) {
    const std::string row = "\n" + std::to_string(slot["id"].get<int>()) +
                            " +" + std::to_string(slot["pid"].get<int>()) +
                            " +ready +[0-9.smhd ]+ +0 +[0-9.]+ +[0-9.]+ "
                            "(KiB|MiB) +-\n";
    EXPECT_TRUE(std::regex_search(r.out, std::regex(row)))
        << "no row like " << row << " in\n"
        << r.out;
  }
  EXPECT_NE(r.out.find("\njobs: 3 defined, 0 running, 0 queued"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.err, "");

  CliResult json = Cli({"status", "--json"});
  ASSERT_EQ(json.code, 0) << Show(json);
  Result<Json> parsed = JsonParse(json.out, 8 << 20);
  ASSERT_TRUE(parsed.ok()) << json.out;
  EXPECT_EQ((*parsed)["slots"].size(), 2u);
  EXPECT_EQ((*parsed)["jobs"].size(), 3u);

  // The admin address from --admin instead of the environment.
  CliResult flagged =
      Cli({"status", "--admin", admin_}, {{"COREFORK_ADMIN", "127.0.0.1:1"}});
  EXPECT_EQ(flagged.code, 0) << Show(flagged);

  // A worker killed from outside shows its restart and how it ended.
  const pid_t victim = before["slots"][0]["pid"].get<pid_t>();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(PollUntil(
      [&] {
        Json s = AdminStatus();
        return s.is_object() && s.value("ready_workers", 0) == 2 &&
               s["slots"][0]["restarts"] == 1;
      },
      milliseconds(10000)))
      << cf.Stderr();
  CliResult after = Cli({"status"});
  EXPECT_TRUE(std::regex_search(
      after.out, std::regex("\n0 +[0-9]+ +ready .* 1 .*killed by SIGKILL\n")))
      << after.out;
}

TEST_F(ClientTest, JobsListsEveryJob) {
  StartServer(1);
  CliResult r = Cli({"jobs"});
  ASSERT_EQ(r.code, 0) << Show(r);
  EXPECT_TRUE(
      r.out.starts_with("NAME   TRIGGERS   RUNNING  QUEUED  POOL  LAST "
                        "RESULT"))
      << r.out;
  for (const char* name : {"\nfail ", "\nnap ", "\nupper "}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name << " in " << r.out;
  }
  CliResult json = Cli({"jobs", "--json"});
  ASSERT_EQ(json.code, 0) << Show(json);
  Result<Json> parsed = JsonParse(json.out);
  ASSERT_TRUE(parsed.ok()) << json.out;
  EXPECT_EQ((*parsed)["jobs"].size(), 3u);
}

TEST_F(ClientTest, ScaleSetsAddsAndRemovesWorkers) {
  Process& cf = StartServer(2);
  auto desired_and_ready = [&](int n) {
    return PollUntil(
        [&] {
          Json s = AdminStatus();
          return s.is_object() && s.value("desired_workers", 0) == n &&
                 s.value("ready_workers", 0) >= n;
        },
        milliseconds(10000));
  };
  CliResult r = Cli({"scale", "3"});
  EXPECT_EQ(r.code, 0) << Show(r);
  EXPECT_EQ(r.out, "workers: 3 (was 2)\n");
  ASSERT_TRUE(desired_and_ready(3)) << cf.Stderr();
  r = Cli({"scale", "-2"});
  EXPECT_EQ(r.code, 0) << Show(r);
  EXPECT_EQ(r.out, "workers: 1 (was 3)\n");
  ASSERT_TRUE(desired_and_ready(1)) << cf.Stderr();
  r = Cli({"scale", "+1"});
  EXPECT_EQ(r.code, 0) << Show(r);
  EXPECT_EQ(r.out, "workers: 2 (was 1)\n");

  // corefork says no: the server's reason, exit 1.
  r = Cli({"scale", "0"});
  EXPECT_EQ(r.code, 1) << Show(r);
  EXPECT_EQ(r.err,
            "corefork scale: corefork answered 400: workers must be an "
            "integer from 1 to 1024, got \"0\"\n");
  r = Cli({"scale", "-5"});
  EXPECT_EQ(r.code, 1) << Show(r);
  EXPECT_NE(r.err.find("workers must be 1.."), std::string::npos) << Show(r);
  EXPECT_NE(r.err.find("got -3"), std::string::npos) << Show(r);

  // Relative scales add up in the loop, with no admin port: two at once
  // both count (2 -> 4), which reading the count first could not promise.
  CliResult other;
  std::thread second([&] {
    other = Cli({"scale", "+1"}, {{"COREFORK_ADMIN", "127.0.0.1:1"}});
  });
  r = Cli({"scale", "+1"}, {{"COREFORK_ADMIN", "127.0.0.1:1"}});
  second.join();
  EXPECT_EQ(r.code, 0) << Show(r);
  EXPECT_EQ(other.code, 0) << Show(other);
  ASSERT_TRUE(desired_and_ready(4)) << cf.Stderr();
}

TEST_F(ClientTest, RunFeedsInputAndWaitsForTheResult) {
  StartServer(1);
  ASSERT_TRUE(WriteFile(Path("in.txt"), "hello\nworld\n"));
  CliResult r = Cli({"run", "upper", "--wait", "--input", Path("in.txt")});
  EXPECT_EQ(r.code, 0) << Show(r);
  EXPECT_EQ(r.out, "HELLO\nWORLD\n");
  EXPECT_EQ(r.err, "");

  CliResult piped = Shell(
      "printf 'from stdin' | \"$CF\" run upper --wait "
      "--input -");
  EXPECT_EQ(piped.code, 0) << Show(piped);
  EXPECT_EQ(piped.out, "FROM STDIN");

  // A failed run: its stderr, then one line saying how it ended; exit 1.
  CliResult failed = Cli({"run", "fail", "--wait"});
  EXPECT_EQ(failed.code, 1) << Show(failed);
  EXPECT_TRUE(std::regex_match(
      failed.err,
      std::regex("oops\ncorefork run: run [0-9]+ \\(fail\\): failed, exit 3, "
                 "[0-9.]+s\n")))
      << Show(failed);

  CliResult json =
      Cli({"run", "upper", "--wait", "--json", "--input", Path("in.txt")});
  EXPECT_EQ(json.code, 0) << Show(json);
  Result<Json> run = JsonParse(json.out);
  ASSERT_TRUE(run.ok()) << json.out;
  EXPECT_EQ((*run)["stdout"], "HELLO\nWORLD\n");
  EXPECT_EQ((*run)["state"], "succeeded");

  CliResult unknown = Cli({"run", "nope"});
  EXPECT_EQ(unknown.code, 1) << Show(unknown);
  EXPECT_EQ(unknown.err,
            "corefork run: corefork answered 404: no job named \"nope\"\n");
}

TEST_F(ClientTest, RunWithoutWaitThenCancel) {
  StartServer(1);
  CliResult started = Cli({"run", "nap"});
  ASSERT_EQ(started.code, 0) << Show(started);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      started.out, m, std::regex("run ([0-9]+) \\(nap\\): (queued|running)\n")))
      << started.out;
  const std::string id = m[1];
  ASSERT_TRUE(WaitRunState(std::stoull(id), "running"));

  CliResult cancelled = Cli({"cancel", id});
  EXPECT_EQ(cancelled.code, 0) << Show(cancelled);
  EXPECT_EQ(cancelled.out, "run " + id +
                               " (nap): running (SIGTERM sent; SIGKILL after "
                               "its grace)\n");
  JsonValue ended = WaitRunEnded(std::stoull(id));
  EXPECT_EQ(ended.Str("state").value_or(""), "cancelled");

  CliResult again = Cli({"cancel", id});
  EXPECT_EQ(again.code, 1) << Show(again);
  EXPECT_EQ(again.err, "corefork cancel: corefork answered 409: run " + id +
                           " already cancelled\n");
  CliResult missing = Cli({"cancel", "999999"});
  EXPECT_EQ(missing.code, 1) << Show(missing);
  EXPECT_EQ(missing.err,
            "corefork cancel: corefork answered 404: no run 999999\n");
}

TEST_F(ClientTest, ReloadWaitReturnsOnceEveryWorkerIsReplaced) {
  Process& cf = StartServer(2);
  std::set<int> old_pids;
  const Json before = AdminStatus();  // kept: the loop ranges over a part
  for (const Json& slot : before["slots"]) {
    old_pids.insert(slot["pid"].get<int>());
  }
  CliResult r = Cli({"reload", "--wait"});
  ASSERT_EQ(r.code, 0) << Show(r) << cf.Stderr();
  EXPECT_EQ(r.out,
            "reload started: replacing 2 worker(s) one at a time\n"
            "reload complete: 2 worker(s) replaced\n");
  // When it returns, the ready worker of every slot is a new one.
  Json now = AdminStatus();
  int ready_new = 0;
  for (const Json& slot : now["slots"]) {
    if (slot.value("ready", false) &&
        !old_pids.contains(slot["pid"].get<int>())) {
      ++ready_new;
    }
  }
  EXPECT_EQ(ready_new, 2) << now.dump();

  CliResult quick = Cli({"reload"});
  EXPECT_EQ(quick.code, 0) << Show(quick);
  EXPECT_EQ(quick.out, "reload started: replacing 2 worker(s) one at a time\n");
  // A second one while the first runs: corefork says no.
  CliResult second = Cli({"reload"});
  if (second.code != 0) {
    EXPECT_EQ(second.code, 1) << Show(second);
    EXPECT_EQ(second.err,
              "corefork reload: corefork answered 409: a reload is already in "
              "progress\n");
  }
}

TEST_F(ClientTest, ProbeIsZeroOn200AndOneOn503) {
  Process& cf = StartServer(1, "shutdown: {drain_delay: 10s, timeout: 5s}\n");
  CliResult ready = Cli({"probe"});
  EXPECT_EQ(ready.code, 0) << Show(ready);
  EXPECT_EQ(ready.out + ready.err, "");
  CliResult live = Cli({"probe", "livez", "--admin", admin_},
                       {{"COREFORK_ADMIN", "127.0.0.1:1"}});
  EXPECT_EQ(live.code, 0) << Show(live);

  // SIGTERM: draining, /readyz turns 503 while /livez stays 200.
  ASSERT_TRUE(cf.Signal(SIGTERM));
  ASSERT_TRUE(PollUntil([&] { return AdminStatus().value("draining", false); },
                        milliseconds(5000)));
  CliResult draining = Cli({"probe", "readyz"});
  EXPECT_EQ(draining.code, 1) << Show(draining);
  EXPECT_EQ(draining.err,
            "corefork probe: admin " + admin_ +
                "/readyz answered 503 "
                "{\"ready\":false,\"reason\":\"draining\",\"ready_workers\":1,"
                "\"desired_workers\":1}\n");
  EXPECT_EQ(Cli({"probe", "livez"}).code, 0);
}

TEST_F(ClientTest, FindsTheSocketThroughTheConfigFileLikeTheServer) {
  // control.socket in the config wins over COREFORK_CONTROL_SOCKET, for the
  // server and for the client alike.
  const std::string socket = Path("from-config.sock");
  StartServer(1, "control: {socket: " + socket + "}\n",
              /*on_test_socket=*/false);
  CliResult r = Cli({"jobs"}, {{"COREFORK_CONFIG", Path("corefork.yaml")}});
  EXPECT_EQ(r.code, 0) << Show(r);
  CliResult flag = Cli({"jobs", "--config", Path("corefork.yaml")});
  EXPECT_EQ(flag.code, 0) << Show(flag);
  CliResult env_only = Cli({"jobs"});
  EXPECT_EQ(env_only.code, kUnreachable) << Show(env_only);
}

}  // namespace
}  // namespace corefork::harness
