#include "support/jobs.h"

#include <cstdlib>
#include <sstream>

namespace corefork::harness {

bool IsFinalState(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "timed_out" ||
         state == "cancelled";
}

std::string YamlQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string ShCommand(const std::string& script) {
  return "[\"/bin/sh\", \"-c\", " + YamlQuote(script) + "]";
}

std::optional<double> MetricSample(
    const std::string& text, const std::string& name,
    const std::map<std::string, std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    size_t pos = name.size();
    std::string label_text;
    if (pos < line.size() && line[pos] == '{') {
      size_t close = line.find('}', pos);
      if (close == std::string::npos) continue;
      label_text = line.substr(pos + 1, close - pos - 1);
      pos = close + 1;
    }
    if (pos >= line.size() || line[pos] != ' ') continue;  // longer name
    bool all = true;
    for (const auto& [k, v] : labels) {
      const std::string want = k + "=\"" + v + "\"";
      // Each label is at the start or after a comma.
      size_t at = label_text.find(want);
      bool found = false;
      while (at != std::string::npos) {
        if ((at == 0 || label_text[at - 1] == ',') &&
            (at + want.size() == label_text.size() ||
             label_text[at + want.size()] == ',')) {
          found = true;
          break;
        }
        at = label_text.find(want, at + 1);
      }
      if (!found) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    return std::strtod(line.c_str() + pos + 1, nullptr);
  }
  return std::nullopt;
}

Process& JobsTest::StartJobs(const std::string& yaml,
                             const std::vector<std::string>& worker,
                             const std::vector<std::string>& extra_flags) {
  std::string config = yaml;
  if (config.find("\nshutdown:") == std::string::npos &&
      config.rfind("shutdown:", 0) != 0) {
    config += "\nshutdown: {drain_delay: 0s, timeout: 5s}\n";
  }
  const std::string path = WriteConfig(config);
  return StartCoreforkOnFreePort([&](int port) {
    std::vector<std::string> args = {
        "--config",  path,     "--workers",          "1",           "--host",
        "127.0.0.1", "--port", std::to_string(port), "--log-level", "debug"};
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    args.push_back("--");
    if (worker.empty()) {
      args.push_back(HELLO_BIN);
    } else {
      args.insert(args.end(), worker.begin(), worker.end());
    }
    return args;
  });
}

bool JobsTest::WaitControl(Process& cf, Millis timeout) {
  return PollUntil(
             [&] {
               if (!cf.Running()) return true;  // reported below
               return UnixHttpRequest(ControlSocket(), "GET", "/jobs", "",
                                      Millis(1000))
                          .status == 200;
             },
             timeout, Millis(10)) &&
         cf.Running();
}

UnixHttpResponse JobsTest::Control(const std::string& method,
                                   const std::string& target,
                                   const std::string& body, Millis timeout) {
  return UnixHttpRequest(ControlSocket(), method, target, body, timeout);
}

UnixHttpResponse JobsTest::Submit(const std::string& job,
                                  const std::string& body, bool wait,
                                  Millis timeout) {
  return Control("POST", "/jobs/" + job + "/runs" + (wait ? "?wait=true" : ""),
                 body, timeout);
}

JsonValue JobsTest::Body(const UnixHttpResponse& r) {
  std::string error;
  std::optional<JsonValue> v = ParseJson(r.body, &error);
  if (!v || !v->is_object()) {
    ADD_FAILURE() << "not a JSON object (" << error << "): " << r.ToString();
    return JsonValue(nlohmann::json::object());
  }
  return *v;
}

uint64_t JobsTest::RunId(const JsonValue& run) {
  std::optional<double> id = run.Num("id");
  return id && *id > 0 ? static_cast<uint64_t>(*id) : 0;
}

JsonValue JobsTest::WaitRunEnded(uint64_t id, Millis timeout) {
  JsonValue last;
  PollUntil(
      [&] {
        UnixHttpResponse r = Control("GET", "/jobs/runs/" + std::to_string(id),
                                     "", Millis(2000));
        if (r.status != 200) return false;
        std::optional<JsonValue> v = ParseJson(r.body);
        if (!v) return false;
        last = *v;
        return IsFinalState(last.Str("state").value_or(""));
      },
      timeout, Millis(10));
  return last;
}

bool JobsTest::WaitRunState(uint64_t id, const std::string& state,
                            Millis timeout) {
  return PollUntil(
      [&] {
        UnixHttpResponse r = Control("GET", "/jobs/runs/" + std::to_string(id),
                                     "", Millis(2000));
        if (r.status != 200) return false;
        std::optional<JsonValue> v = ParseJson(r.body);
        return v && v->Str("state").value_or("") == state;
      },
      timeout, Millis(10));
}

std::string JobsTest::MetricsText() {
  HttpResponse r = HttpGet("127.0.0.1", admin_port(), "/metrics", Millis(3000));
  return r.status == 200 ? r.body : "";
}

double JobsTest::Metric(const std::string& name,
                        const std::map<std::string, std::string>& labels) {
  return MetricSample(MetricsText(), name, labels).value_or(0);
}

std::vector<pid_t> ReadPids(const std::string& file) {
  std::vector<pid_t> pids;
  std::istringstream in(ReadFile(file));
  long pid;
  while (in >> pid) pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

}  // namespace corefork::harness
