#include "support/dropin.h"

#include <memory>
#include <sstream>

#include "support/http.h"
#include "support/json.h"
#include "support/proc.h"

namespace corefork::harness {

std::string AppsDir() {
  return std::string(COREFORK_SOURCE_DIR) + "/tests/apps";
}

std::string MissingAppDeps(AppNeeds needs) {
  const std::string fix =
      " Run tests/apps/install.sh once (the test set-up; .ci/install-deps.sh "
      "test does it).";
  switch (needs) {
    case AppNeeds::kNothing:
      return "";
    case AppNeeds::kNodeModules:
      for (const char* pkg : {"express", "fastify", "koa"}) {
        std::string file = AppsDir() + "/node_modules/" + pkg + "/package.json";
        if (!FileExists(file)) return file + " is missing." + fix;
      }
      return "";
    case AppNeeds::kUvicorn:
      // Debian's python3-uvicorn puts the package here for /usr/bin/python3.
      for (const char* dir : {"/usr/lib/python3/dist-packages/uvicorn",
                              "/usr/local/lib/python3/dist-packages/uvicorn"}) {
        if (FileExists(std::string(dir) + "/__init__.py")) return "";
      }
      return "uvicorn for /usr/bin/python3 (Debian's python3-uvicorn) is "
             "missing." +
             fix;
  }
  return "";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::vector<std::string> GatedCommand(const std::string& gate_file,
                                      const std::string& command) {
  std::string script =
      "i=0; while [ ! -e " + ShellQuote(gate_file) +
      " ]; do [ $i -lt 1200 ] || exit 97; i=$((i+1)); sleep 0.05; done; cd " +
      ShellQuote(AppsDir()) + " && " + command;
  return {"/bin/sh", "-c", script};
}

std::optional<pid_t> PidFromBody(const std::string& body) {
  std::optional<JsonValue> v = ParseJson(body);
  if (!v || !v->is_object()) return std::nullopt;
  std::optional<double> pid = v->Num("pid");
  if (!pid || *pid <= 0) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

int AnswerCount::ok() const {
  int n = 0;
  for (const auto& [pid, count] : by_pid) n += count;
  return n;
}

std::string AnswerCount::Summary() const {
  std::ostringstream out;
  for (const auto& [pid, count] : by_pid) {
    out << "pid " << pid << ": " << count << ", ";
  }
  out << "failed " << failed;
  for (const std::string& e : errors) out << "; " << e;
  return out.str();
}

namespace {

void Record(const HttpResponse& r, AnswerCount* count) {
  std::optional<pid_t> pid =
      r.status == 200 ? PidFromBody(r.body) : std::nullopt;
  if (pid) {
    ++count->by_pid[*pid];
    return;
  }
  ++count->failed;
  if (count->errors.size() < 5) count->errors.push_back(r.ToString());
}

}  // namespace

AnswerCount CountAnswers(int port, int n, Millis per_request) {
  AnswerCount count;
  for (int i = 0; i < n; ++i) {
    Record(HttpGet("127.0.0.1", port, "/", per_request), &count);
  }
  return count;
}

AnswerCount ConnectAllThenRead(int port, int n, Millis timeout) {
  AnswerCount count;
  std::vector<std::unique_ptr<HttpConnection>> conns;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<HttpConnection>();
    // A listen backlog with room completes the handshake at once, with or
    // without a process accepting; a full one drops the SYN and the client
    // retries after 1 s. So a connect slower than that means a full queue.
    if (!c->Connect("127.0.0.1", port, Millis(900)) || !c->SendGet("/")) {
      HttpResponse failed;
      failed.error = "connection " + std::to_string(i) + ": " + c->error();
      Record(failed, &count);
      continue;
    }
    conns.push_back(std::move(c));
  }
  Clock::time_point deadline = Clock::now() + timeout;
  for (auto& c : conns) {
    Millis left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    Record(c->ReadResponse(std::max(left, Millis(1))), &count);
  }
  return count;
}

bool IsSelfOrAncestor(pid_t ancestor, pid_t pid) {
  for (int i = 0; i < 8 && pid > 1; ++i) {
    if (pid == ancestor) return true;
    pid = ParentPid(pid);
  }
  return false;
}

}  // namespace corefork::harness
