#include "client/commands.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "client/http_client.h"
#include "client/locate.h"
#include "client/views.h"
#include "metrics/proc_stats.h"
#include "util/json.h"

namespace corefork {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxReplyBytes = 16 << 20;  // run JSON: 2 x 1 MiB escaped

int Code(ClientExit e) { return static_cast<int>(e); }

// One client command: where corefork is, and how to say what went wrong.
class Client {
 public:
  Client(const Invocation& invocation, const Config& config)
      : inv_(invocation),
        config_(config),
        socket_(ControlSocketPath(invocation.client.socket,
                                  config.control.socket)) {}

  int Run();

 private:
  int Status();
  int Reload();
  int Scale();
  int Jobs();
  int RunJob();
  int Cancel();
  int Probe();

  // "corefork NAME: message" on stderr; returns `code`.
  int Say(ClientExit code, const std::string& message) const;
  // A request that failed before any answer: nothing there, or no answer.
  int TransportError(const corefork::Status& s, const std::string& what) const;
  // A non-2xx answer: its {"error":...} text.
  int Refused(const HttpReply& reply) const;

  Result<HttpReply> Control(
      const std::string& method, const std::string& target,
      const std::string& body = "",
      milliseconds timeout = milliseconds(kRequestTimeoutMs)) const;
  Result<HttpReply> Admin(
      const std::string& path,
      milliseconds timeout = milliseconds(kRequestTimeoutMs));
  // GET /status on the admin port as JSON; on failure *exit is set.
  std::optional<Json> AdminStatus(int* exit);
  Result<std::string> ReadInput() const;
  int WaitForReload(const Json& before);

  const Invocation& inv_;
  const Config& config_;
  std::string socket_;
  std::string admin_where_;
};

int Client::Say(ClientExit code, const std::string& message) const {
  std::fprintf(stderr, "corefork %s: %s\n", inv_.client.name.c_str(),
               message.c_str());
  return Code(code);
}

int Client::TransportError(const corefork::Status& s,
                           const std::string& what) const {
  if (s.IsUnavailable() || s.IsDeadlineExceeded()) {
    return Say(ClientExit::kUnreachable,
               "nothing answers at " + what + " (" + s.message() +
                   "); is corefork running? see corefork --help for how the "
                   "address is found");
  }
  if (s.IsInvalidArgument() && s.message().starts_with("connect ")) {
    return Say(ClientExit::kUsage, s.message());
  }
  return Say(ClientExit::kFailed, s.message());
}

int Client::Refused(const HttpReply& reply) const {
  std::string message = reply.body;
  Result<Json> json = JsonParse(reply.body, kMaxReplyBytes);
  if (json.ok() && json->is_object() && json->contains("error") &&
      (*json)["error"].is_string()) {
    message = (*json)["error"].get<std::string>();
  }
  if (message.size() > 500) message = message.substr(0, 500) + "...";
  return Say(
      ClientExit::kFailed,
      "corefork answered " + std::to_string(reply.status) + ": " + message);
}

Result<HttpReply> Client::Control(const std::string& method,
                                  const std::string& target,
                                  const std::string& body,
                                  milliseconds timeout) const {
  HttpCall call;
  call.method = method;
  call.target = target;
  call.body = body;
  call.timeout = timeout;
  call.max_reply_bytes = kMaxReplyBytes;
  return HttpExchange(Endpoint::Unix(socket_), call);
}

Result<HttpReply> Client::Admin(const std::string& path, milliseconds timeout) {
  Result<Endpoint> admin = AdminEndpoint(config_.admin);
  if (!admin.ok()) return admin.status();
  admin_where_ = "admin " + admin->Describe();
  HttpCall call;
  call.target = path;
  call.timeout = timeout;
  call.max_reply_bytes = kMaxReplyBytes;
  return HttpExchange(*admin, call);
}

std::optional<Json> Client::AdminStatus(int* exit) {
  Result<HttpReply> reply = Admin("/status");
  if (!reply.ok()) {
    *exit = admin_where_.empty()  // the admin address itself is bad
                ? Say(ClientExit::kUsage, reply.status().message())
                : TransportError(reply.status(), admin_where_);
    return std::nullopt;
  }
  if (reply->status != 200) {
    *exit = Refused(*reply);
    return std::nullopt;
  }
  Result<Json> json = JsonParse(reply->body, kMaxReplyBytes);
  if (!json.ok() || !json->is_object()) {
    *exit = Say(ClientExit::kFailed, admin_where_ + " /status is not JSON");
    return std::nullopt;
  }
  return std::move(json).value();
}

// CPU use of each worker over a short window, read from /proc: works where
// the client shares corefork's pid namespace (kubectl exec, docker exec).
CpuByPid SampleCpu(const Json& status) {
  std::map<long, double> first;
  if (status.contains("slots") && status["slots"].is_array()) {
    for (const Json& slot : status["slots"]) {
      if (!slot.contains("pid") || !slot["pid"].is_number()) continue;
      long pid = slot["pid"].get<long>();
      auto stats = ReadProcStats(static_cast<pid_t>(pid));
      if (stats) first[pid] = stats->cpu_seconds;
    }
  }
  CpuByPid cpu;
  if (first.empty()) return cpu;
  const auto start = Clock::now();
  poll(nullptr, 0, 300);  // the measuring window, not a synchronisation
  const double window =
      std::chrono::duration<double>(Clock::now() - start).count();
  for (const auto& [pid, before] : first) {
    auto stats = ReadProcStats(static_cast<pid_t>(pid));
    if (stats && window > 0) {
      cpu[pid] = std::max(0.0, (stats->cpu_seconds - before) / window * 100);
    }
  }
  return cpu;
}

int Client::Status() {
  int exit = 0;
  std::optional<Json> status = AdminStatus(&exit);
  if (!status) return exit;
  std::optional<Json> jobs;
  std::string jobs_note;
  Result<HttpReply> reply = Control("GET", "/jobs", "", milliseconds(2'000));
  if (reply.ok() && reply->status == 200) {
    Result<Json> json = JsonParse(reply->body, kMaxReplyBytes);
    if (json.ok()) jobs = std::move(json).value();
  } else {
    jobs_note = "jobs: control socket " + socket_ + ": " +
                (reply.ok() ? "answered " + std::to_string(reply->status)
                            : reply.status().message());
  }
  if (inv_.json) {
    if (jobs && jobs->contains("jobs")) (*status)["jobs"] = (*jobs)["jobs"];
    std::printf("%s\n", JsonDump(*status).c_str());
    return 0;
  }
  std::string text = StatusText(*status, SampleCpu(*status), jobs);
  if (!jobs_note.empty()) text += "\n" + jobs_note + "\n";
  std::fputs(text.c_str(), stdout);
  return 0;
}

int Client::Reload() {
  std::optional<Json> before;
  if (inv_.client.wait) {
    int exit = 0;
    before = AdminStatus(&exit);
    if (!before) return exit;
  }
  Result<HttpReply> reply = Control("POST", "/reload");
  if (!reply.ok()) {
    return TransportError(reply.status(), "control socket " + socket_);
  }
  if (reply->status != 202) return Refused(*reply);
  Result<Json> json = JsonParse(reply->body);
  long workers = json.ok() && json->is_object() && json->contains("workers") &&
                         (*json)["workers"].is_number()
                     ? (*json)["workers"].get<long>()
                     : 0;
  std::printf("reload started: replacing %ld worker(s) one at a time\n",
              workers);
  std::fflush(stdout);
  return before ? WaitForReload(*before) : 0;
}

// pids of the entries of `status` that are ready, by slot.
std::map<long, long> ReadyPids(const Json& status) {
  std::map<long, long> ready;
  if (!status.contains("slots") || !status["slots"].is_array()) return ready;
  for (const Json& slot : status["slots"]) {
    if (slot.is_object() && slot.value("ready", false) &&
        slot.contains("pid") && slot["pid"].is_number() &&
        slot.contains("id") && slot["id"].is_number()) {
      ready[slot["id"].get<long>()] = slot["pid"].get<long>();
    }
  }
  return ready;
}

// Polls /status until the reload is over. A snapshot read right after the
// 202 may predate it: only one published later (a higher state_version),
// one that shows the reload, or one with every slot replaced can end the
// wait.
int Client::WaitForReload(const Json& before) {
  std::set<long> old_pids;
  for (const auto& [slot, pid] : ReadyPids(before)) old_pids.insert(pid);
  const auto deadline =
      Clock::now() + std::chrono::minutes(kReloadWaitLimitMinutes);
  std::optional<long> first_version;
  bool saw_reloading = false;
  for (int turn = 0; Clock::now() < deadline && turn < 1'000'000; ++turn) {
    if (turn > 0) poll(nullptr, 0, 200);
    int exit = 0;
    std::optional<Json> now = AdminStatus(&exit);
    if (!now) return exit;
    const long version = now->value("state_version", 0L);
    if (!first_version) first_version = version;
    if (now->value("stopping", false) || now->value("draining", false)) {
      return Say(ClientExit::kFailed, "corefork is shutting down");
    }
    if (now->value("reloading", false)) {
      saw_reloading = true;
      continue;
    }
    const long desired = now->value("desired_workers", 0L);
    std::map<long, long> ready = ReadyPids(*now);
    long replaced = 0;
    for (const auto& [slot, pid] : ready) {
      if (slot < desired && !old_pids.contains(pid)) ++replaced;
    }
    if (replaced == desired && desired > 0) {
      std::printf("reload complete: %ld worker(s) replaced\n", replaced);
      return 0;
    }
    if (saw_reloading || version > *first_version) {
      return Say(ClientExit::kFailed,
                 "the reload ended with " + std::to_string(replaced) + " of " +
                     std::to_string(desired) +
                     " workers replaced (aborted; corefork's log says why)");
    }
  }
  return Say(ClientExit::kFailed, "the reload did not end within " +
                                      std::to_string(kReloadWaitLimitMinutes) +
                                      " minutes; it goes on");
}

int Client::Scale() {
  const std::string& arg = inv_.client.argument;
  const long n = std::stol(arg);
  // +N / -N: the loop adds to the count it has when the command arrives,
  // so concurrent relative scales all count and no admin port is needed.
  const bool relative = arg[0] == '+' || arg[0] == '-';
  Result<HttpReply> reply =
      Control("POST", relative ? "/scale?by=" + std::to_string(n)
                               : "/scale?workers=" + std::to_string(n));
  if (!reply.ok()) {
    return TransportError(reply.status(), "control socket " + socket_);
  }
  if (reply->status != 200) return Refused(*reply);
  Result<Json> json = JsonParse(reply->body);
  if (json.ok() && json->is_object()) {
    std::printf("workers: %ld (was %ld)\n", json->value("workers", n),
                json->value("previous", 0L));
  }
  return 0;
}

int Client::Jobs() {
  Result<HttpReply> reply = Control("GET", "/jobs");
  if (!reply.ok()) {
    return TransportError(reply.status(), "control socket " + socket_);
  }
  if (reply->status != 200) return Refused(*reply);
  if (inv_.json) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  Result<Json> json = JsonParse(reply->body, kMaxReplyBytes);
  if (!json.ok()) return Say(ClientExit::kFailed, "GET /jobs is not JSON");
  std::fputs(JobsText(*json).c_str(), stdout);
  return 0;
}

// At most kMaxInputBytes from `fd`, to its end.
Result<std::string> ReadAll(int fd, const std::string& name) {
  std::string data;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n == 0) return data;
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read " + name);
    }
    if (data.size() + static_cast<size_t>(n) > kMaxInputBytes) {
      return Status::InvalidArgument(name + " is over " +
                                     std::to_string(kMaxInputBytes) +
                                     " bytes, the control socket's body limit");
    }
    data.append(buffer, static_cast<size_t>(n));
  }
}

Result<std::string> Client::ReadInput() const {
  if (!inv_.client.input) return std::string();
  const std::string& path = *inv_.client.input;
  if (path == "-") return ReadAll(STDIN_FILENO, "stdin");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("--input " + path);
  Result<std::string> data = ReadAll(fd, "--input " + path);
  close(fd);
  return data;
}

// Job names travel in the path: percent-encode all but unreserved bytes.
std::string PathSegment(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

int Client::RunJob() {
  Result<std::string> input = ReadInput();
  if (!input.ok()) return Say(ClientExit::kUsage, input.status().message());
  const bool wait = inv_.client.wait;
  std::string target = "/jobs/" + PathSegment(inv_.client.argument) + "/runs";
  if (wait) target += "?wait=true";
  Result<HttpReply> reply =
      Control("POST", target, *input,
              wait ? std::chrono::hours(kRunWaitLimitHours)
                   : milliseconds(kRequestTimeoutMs));
  if (!reply.ok() && wait && reply.status().IsDeadlineExceeded()) {
    return Say(ClientExit::kFailed, "the run did not end within " +
                                        std::to_string(kRunWaitLimitHours) +
                                        " hours; it goes on");
  }
  if (!reply.ok()) {
    return TransportError(reply.status(), "control socket " + socket_);
  }
  if (reply->status != 200 && reply->status != 202) return Refused(*reply);
  Result<Json> run = JsonParse(reply->body, kMaxReplyBytes);
  if (!run.ok() || !run->is_object()) {
    return Say(ClientExit::kFailed, "the run's answer is not JSON");
  }
  if (inv_.json) std::printf("%s\n", reply->body.c_str());
  if (!wait) {
    if (!inv_.json) std::printf("%s\n", RunLine(*run).c_str());
    return 0;
  }
  if (!inv_.json) {
    std::fputs(run->value("stdout", std::string()).c_str(), stdout);
    std::fflush(stdout);
    std::fputs(run->value("stderr", std::string()).c_str(), stderr);
  }
  if (run->value("state", std::string()) == "succeeded") return 0;
  return Say(ClientExit::kFailed, RunLine(*run));
}

int Client::Cancel() {
  Result<HttpReply> reply =
      Control("DELETE", "/jobs/runs/" + inv_.client.argument);
  if (!reply.ok()) {
    return TransportError(reply.status(), "control socket " + socket_);
  }
  if (reply->status != 200 && reply->status != 202) return Refused(*reply);
  Result<Json> run = JsonParse(reply->body, kMaxReplyBytes);
  if (!run.ok()) return Say(ClientExit::kFailed, "the answer is not JSON");
  std::printf(
      "%s%s\n", RunLine(*run).c_str(),
      reply->status == 202 ? " (SIGTERM sent; SIGKILL after its grace)" : "");
  return 0;
}

// Docker's HEALTHCHECK reads 0 as healthy and 1 as unhealthy (2 is reserved),
// so every failure to get a 200 is 1.
int Client::Probe() {
  const std::string path =
      "/" + (inv_.client.argument.empty() ? "readyz" : inv_.client.argument);
  Result<HttpReply> reply = Admin(path, milliseconds(kProbeTimeoutMs));
  if (!reply.ok()) {
    if (admin_where_.empty()) {
      return Say(ClientExit::kUsage, reply.status().message());
    }
    return Say(ClientExit::kFailed, "nothing answers at " + admin_where_ +
                                        " (" + reply.status().message() + ")");
  }
  if (reply->status == 200) return 0;
  std::string body = reply->body.substr(0, 300);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
    body.pop_back();
  }
  return Say(ClientExit::kFailed, admin_where_ + path + " answered " +
                                      std::to_string(reply->status) + " " +
                                      body);
}

int Client::Run() {
  const std::string& name = inv_.client.name;
  if (name == "status") return Status();
  if (name == "reload") return Reload();
  if (name == "scale") return Scale();
  if (name == "jobs") return Jobs();
  if (name == "run") return RunJob();
  if (name == "cancel") return Cancel();
  if (name == "probe") return Probe();
  return Say(ClientExit::kUsage, "unknown command");
}

}  // namespace

int RunClientCommand(const Invocation& invocation, const Config& config) {
  Client client(invocation, config);
  return client.Run();
}

}  // namespace corefork
