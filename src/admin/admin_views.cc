#include "admin/admin_views.h"

#include <time.h>

#include <cmath>

#include "cgroup/sizing.h"
#include "util/json.h"

namespace corefork {
namespace {

double Millis(double seconds) { return std::round(seconds * 1000) / 1000; }

std::string NotReadyReason(const StateView& view) {
  if (view.draining) return "draining";
  if (view.stopping) return "stopping";
  if (view.ready_workers >= view.min_ready_workers) return "";
  return std::to_string(view.ready_workers) + " of " +
         std::to_string(view.desired_workers) + " workers ready, need " +
         std::to_string(view.min_ready_workers);
}

// A string, or null when empty.
Json OrNull(const std::string& s) { return s.empty() ? Json() : Json(s); }

Json Slot(const WorkerView& worker, const RssReader& rss) {
  bool running = worker.pid > 0;
  Json json;
  json["id"] = worker.id;
  json["pid"] = running ? Json(worker.pid) : Json();
  json["state"] = worker.state;
  json["ready"] = worker.ready;
  json["restarts"] = worker.restarts;
  json["last_exit"] = OrNull(worker.last_exit);
  json["uptime_seconds"] = JsonNumber(Millis(worker.uptime_seconds));
  json["rss_bytes"] = JsonOptional(running ? rss(worker.pid) : std::nullopt);
  json["status_text"] = OrNull(worker.status_text);
  return json;
}

}  // namespace

Readiness CheckReadiness(const StateView& view) {
  Readiness r;
  r.reason = NotReadyReason(view);
  r.ready = r.reason.empty();
  Json json;
  json["ready"] = r.ready;
  if (!r.ready) json["reason"] = r.reason;
  json["ready_workers"] = view.ready_workers;
  json["desired_workers"] = view.desired_workers;
  r.body = JsonDump(json);
  return r;
}

std::string StatusJson(const StateView& view, const std::string& version,
                       double now_unix_seconds, const RssReader& rss) {
  int actual = 0;
  for (const WorkerView& w : view.workers) actual += w.pid > 0 ? 1 : 0;
  bool started = view.started_unix_seconds > 0;
  Json json;
  json["version"] = version;
  json["started_at"] =
      started ? Json(Iso8601Utc(view.started_unix_seconds)) : Json();
  json["uptime_seconds"] =
      started ? JsonNumber(Millis(now_unix_seconds - view.started_unix_seconds))
              : Json();
  json["ready"] = CheckReadiness(view).ready;
  json["draining"] = view.draining;
  json["stopping"] = view.stopping;
  json["reloading"] = view.reloading;
  json["desired_workers"] = view.desired_workers;
  json["actual_workers"] = actual;
  json["ready_workers"] = view.ready_workers;
  json["min_ready_workers"] = view.min_ready_workers;
  json["sizing"] = {{"workers", view.sizing.workers},
                    {"cpus_used", JsonNumber(view.sizing.cpus_used)},
                    {"reason", view.sizing.reason}};
  json["cgroup"] = CgroupJson(view.cgroup, "version");
  json["slots"] = Json::array();
  for (const WorkerView& worker : view.workers) {
    json["slots"].push_back(Slot(worker, rss));
  }
  json["state_version"] = view.version;
  return JsonDump(json);
}

std::string Iso8601Utc(double unix_seconds) {
  time_t t = static_cast<time_t>(std::floor(unix_seconds));
  tm parts = {};
  gmtime_r(&t, &parts);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

}  // namespace corefork
