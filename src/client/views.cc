#include "client/views.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace corefork {
namespace {

// Aligned columns, two spaces apart; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header) {
    rows_.push_back(std::move(header));
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const {
    std::vector<size_t> widths;
    for (const auto& row : rows_) {
      widths.resize(std::max(widths.size(), row.size()));
      for (size_t i = 0; i < row.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Text(const Json& json, const char* key) {
  if (!json.is_object()) return "-";
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return "-";
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    return s.empty() ? "-" : s;
  }
  if (it->is_number_integer() || it->is_number_unsigned()) {
    return std::to_string(it->get<long long>());
  }
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  return it->dump();
}

const Json& Field(const Json& json, const char* key) {
  static const Json kNull;
  if (!json.is_object()) return kNull;
  auto it = json.find(key);
  return it == json.end() ? kNull : *it;
}

long Int(const Json& json, const char* key, long fallback) {
  const Json& v = Field(json, key);
  return v.is_number() ? v.get<long>() : fallback;
}

}  // namespace

std::string FormatUptime(const Json& seconds) {
  if (!seconds.is_number()) return "-";
  const double s = seconds.get<double>();
  if (!std::isfinite(s) || s < 0) return "-";
  if (s < 10) return fmt::format("{:.1f}s", s);
  const long total = static_cast<long>(s);
  const long days = total / 86400, hours = total / 3600 % 24,
             minutes = total / 60 % 60, secs = total % 60;
  if (days > 0) return fmt::format("{}d {}h", days, hours);
  if (hours > 0) return fmt::format("{}h {}m", hours, minutes);
  if (minutes > 0) return fmt::format("{}m {}s", minutes, secs);
  return fmt::format("{}s", secs);
}

std::string FormatBytes(const Json& bytes) {
  if (!bytes.is_number()) return "-";
  const double b = bytes.get<double>();
  if (!std::isfinite(b) || b < 0) return "-";
  if (b < 1024) return fmt::format("{} B", static_cast<long long>(b));
  if (b < 1024.0 * 1024) return fmt::format("{:.0f} KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) {
    return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  }
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
}

std::string StatusText(const Json& status, const CpuByPid& cpu,
                       const std::optional<Json>& jobs) {
  std::string flags;
  for (const char* flag : {"reloading", "draining", "stopping"}) {
    if (Field(status, flag) == true) flags += std::string(", ") + flag;
  }
  std::string out = fmt::format(
      "corefork {}, up {}, {} of {} workers ready ({}){}\n",
      Text(status, "version"), FormatUptime(Field(status, "uptime_seconds")),
      Int(status, "ready_workers", 0), Int(status, "desired_workers", 0),
      Field(status, "ready") == true ? "ready" : "not ready", flags);
  const std::string reason = Text(Field(status, "sizing"), "reason");
  if (reason != "-") out += "sizing: " + reason + "\n";
  Table table({"SLOT", "PID", "STATE", "UPTIME", "RESTARTS", "CPU%", "RSS",
               "LAST EXIT"});
  const Json& slots = Field(status, "slots");
  if (slots.is_array()) {
    for (const Json& slot : slots) {
      const long pid = Int(slot, "pid", -1);
      auto it = cpu.find(pid);
      table.Add({Text(slot, "id"), Text(slot, "pid"), Text(slot, "state"),
                 pid > 0 ? FormatUptime(Field(slot, "uptime_seconds")) : "-",
                 Text(slot, "restarts"),
                 it == cpu.end() ? "-" : fmt::format("{:.1f}", it->second),
                 FormatBytes(Field(slot, "rss_bytes")),
                 Text(slot, "last_exit")});
    }
  }
  out += "\n" + table.Render();
  if (jobs) {
    const Json& list = Field(*jobs, "jobs");
    long running = 0, queued = 0, failed = 0, count = 0;
    if (list.is_array()) {
      for (const Json& job : list) {
        ++count;
        running += Int(job, "running", 0);
        queued += Int(job, "queued", 0);
        const std::string last = Text(job, "last_result");
        if (last != "-" && last != "succeeded") ++failed;
      }
    }
    out += fmt::format(
        "\njobs: {} defined, {} running, {} queued, {} whose last run did not "
        "succeed (corefork jobs)\n",
        count, running, queued, failed);
  }
  return out;
}

// A pool's processes: "2/4, 1 busy"; "-" for a job without a pool.
std::string PoolText(const Json& job) {
  const Json& pool = Field(job, "pool");
  if (!pool.is_object()) return "-";
  return fmt::format("{}/{}, {} busy", Text(pool, "processes"),
                     Text(pool, "size"), Text(pool, "busy"));
}

std::string JobsText(const Json& jobs) {
  Table table({"NAME", "TRIGGERS", "RUNNING", "QUEUED", "POOL", "LAST RESULT",
               "LAST FINISHED", "NEXT RUN"});
  const Json& list = Field(jobs, "jobs");
  if (!list.is_array() || list.empty()) return "no jobs configured\n";
  for (const Json& job : list) {
    std::string triggers;
    const Json& t = Field(job, "triggers");
    if (t.is_array()) {
      for (const Json& trigger : t) {
        if (!trigger.is_string()) continue;
        triggers += (triggers.empty() ? "" : ", ") + trigger.get<std::string>();
      }
    }
    table.Add({Text(job, "name"), triggers.empty() ? "-" : triggers,
               Text(job, "running"), Text(job, "queued"), PoolText(job),
               Text(job, "last_result"), Text(job, "last_finished_at"),
               Text(job, "next_run_at")});
  }
  return table.Render();
}

std::string RunLine(const Json& run) {
  std::string line = fmt::format("run {} ({}): {}", Text(run, "id"),
                                 Text(run, "job"), Text(run, "state"));
  if (Field(run, "exit_code").is_number()) {
    line += ", exit " + Text(run, "exit_code");
  }
  if (Field(run, "signal").is_string() || Field(run, "signal").is_number()) {
    line += ", signal " + Text(run, "signal");
  }
  const Json& duration = Field(run, "duration_seconds");
  if (duration.is_number()) {
    line += fmt::format(", {:.3f}s", duration.get<double>());
  }
  if (Field(run, "error").is_string()) {
    line += ": " + Text(run, "error").substr(0, 200);
  }
  return line;
}

}  // namespace corefork
