#include "admin/admin_views.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "cgroup/sizing.h"
#include "util/clock.h"
#include "util/json.h"

namespace corefork {
namespace {

double Millis(double seconds) { return std::round(seconds * 1000) / 1000; }

std::string NotReadyReason(const StateView& view) {
  if (view.draining) return "draining";
  if (view.stopping) return "stopping";
  if (!view.jobs_not_ready.empty()) return view.jobs_not_ready;
  if (view.ready_workers >= view.min_ready_workers) return "";
  return std::to_string(view.ready_workers) + " of " +
         std::to_string(view.desired_workers) + " workers ready, need " +
         std::to_string(view.min_ready_workers);
}

// A string, or null when empty.
Json OrNull(const std::string& s) { return s.empty() ? Json() : Json(s); }

Json Slot(const WorkerView& worker, const AnswerTime& now, const RssReader& rss,
          const CpuReader& cpu) {
  bool running = worker.pid > 0;
  double uptime =
      running ? std::chrono::duration<double>(now.steady - worker.started_at)
                    .count()
              : 0;
  Json json;
  json["id"] = worker.id;
  json["pid"] = running ? Json(worker.pid) : Json();
  json["state"] = worker.state;
  json["ready"] = worker.ready;
  json["restarts"] = worker.restarts;
  json["last_exit"] = OrNull(worker.last_exit);
  json["uptime_seconds"] = JsonNumber(Millis(std::max(uptime, 0.0)));
  json["rss_bytes"] = JsonOptional(running ? rss(worker.pid) : std::nullopt);
  std::optional<double> cpu_percent;
  if (running && cpu) cpu_percent = cpu(worker.id, worker.pid);
  json["cpu_percent"] =
      cpu_percent ? JsonNumber(std::round(*cpu_percent * 10) / 10) : Json();
  json["status_text"] = OrNull(worker.status_text);
  // recycle.max_lifetime: when this worker is due (its own drawn lifetime).
  const bool lifetime =
      running && worker.lifetime_ms > 0 &&
      worker.recycle_at != std::chrono::steady_clock::time_point::max();
  const double recycle_in =
      lifetime ? std::chrono::duration<double>(worker.recycle_at - now.steady)
                     .count()
               : 0;
  json["lifetime_seconds"] =
      lifetime ? JsonNumber(Millis(worker.lifetime_ms / 1000.0)) : Json();
  json["next_recycle_at"] =
      lifetime ? Json(Iso8601Utc(now.unix_seconds + recycle_in)) : Json();
  json["next_recycle_in_seconds"] =
      lifetime ? JsonNumber(Millis(recycle_in)) : Json();
  return json;
}

Json Ago(double unix_seconds, const AnswerTime& now) {
  return JsonNumber(Millis(std::max(now.unix_seconds - unix_seconds, 0.0)));
}

Json OptionalNumber(const std::optional<double>& value) {
  return value ? JsonNumber(*value) : Json();
}

// "recycle": the last recycle started and the next scheduled one.
Json RecycleJson(const StateView& view, const AnswerTime& now) {
  Json json;
  if (view.last_recycle) {
    const RecycleView& r = *view.last_recycle;
    json["last"] = {{"at", Iso8601Utc(r.unix_seconds)},
                    {"ago_seconds", Ago(r.unix_seconds, now)},
                    {"slot", r.slot},
                    {"pid", r.pid},
                    {"reason", r.reason},
                    {"detail", r.detail}};
  } else {
    json["last"] = Json();
  }
  json["next_scheduled_at"] =
      view.next_scheduled_recycle_unix > 0
          ? Json(Iso8601Utc(view.next_scheduled_recycle_unix))
          : Json();
  return json;
}

// sizing.last_limit_change: what sizing.follow saw last.
Json LimitChangeJson(const StateView& view, const AnswerTime& now) {
  if (!view.last_limit_change) return Json();
  const LimitChangeView& c = *view.last_limit_change;
  auto bytes = [](const std::optional<uint64_t>& b) {
    return b ? Json(*b) : Json();
  };
  return {
      {"at", Iso8601Utc(c.unix_seconds)},
      {"ago_seconds", Ago(c.unix_seconds, now)},
      {"changes", c.changes},
      {"cpu_quota_cores",
       {{"before", OptionalNumber(c.cpu_before)},
        {"after", OptionalNumber(c.cpu_after)}}},
      {"memory_limit_bytes",
       {{"before", bytes(c.memory_before)}, {"after", bytes(c.memory_after)}}},
      {"workers", {{"before", c.workers_before}, {"after", c.workers_after}}},
      {"reason", c.reason}};
}

Json Exits(const StateView& view, const AnswerTime& now) {
  Json exits = Json::array();
  if (!view.recent_exits) return exits;
  for (const ExitView& e : *view.recent_exits) {
    exits.push_back(
        {{"slot", e.slot},
         {"pid", e.pid},
         {"reason", e.reason},
         {"at", Iso8601Utc(e.unix_seconds)},
         {"ago_seconds",
          JsonNumber(Millis(std::max(now.unix_seconds - e.unix_seconds, 0.0)))},
         {"lived_seconds", JsonNumber(Millis(e.lived_seconds))}});
  }
  return exits;
}

Json Column(const std::vector<SampleRing::Sample>& samples,
            Json (*value)(const SampleRing::Sample&)) {
  Json column = Json::array();
  for (const SampleRing::Sample& s : samples) column.push_back(value(s));
  return column;
}

}  // namespace

AnswerTime AnswerTime::Now() {
  AnswerTime t;
  t.unix_seconds = UnixSeconds();
  t.steady = std::chrono::steady_clock::now();
  return t;
}

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
                       const AnswerTime& now, const RssReader& rss,
                       const CpuReader& cpu) {
  const double now_unix_seconds = now.unix_seconds;
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
                    {"reason", view.sizing.reason},
                    {"last_limit_change", LimitChangeJson(view, now)}};
  json["recycle"] = RecycleJson(view, now);
  json["cgroup"] = CgroupJson(view.cgroup, "version");
  json["slots"] = Json::array();
  for (const WorkerView& worker : view.workers) {
    json["slots"].push_back(Slot(worker, now, rss, cpu));
  }
  json["recent_exits"] = Exits(view, now);
  json["state_version"] = view.version;
  return JsonDump(json);
}

std::string StatusWithJobs(std::string status_json,
                           const std::optional<std::string>& jobs_object) {
  if (status_json.size() < 2 || status_json.back() != '}') return status_json;
  status_json.pop_back();
  // Spliced, not parsed: this runs on the loop thread when the loop
  // answers, and both documents are objects this program wrote.
  const bool object = jobs_object && jobs_object->size() > 2 &&
                      jobs_object->rfind("{\"jobs\":", 0) == 0 &&
                      jobs_object->back() == '}';
  if (status_json.size() > 1) status_json += ',';
  if (object) {
    status_json.append(*jobs_object, 1, std::string::npos);
  } else {
    status_json += "\"jobs\":null}";
  }
  return status_json;
}

std::string HistoryJson(const SampleRing& ring, const StateView& view,
                        double interval_seconds, double now_unix_seconds) {
  std::vector<int> ids;
  for (int id = 0; id < view.desired_workers; ++id) ids.push_back(id);
  for (const WorkerView& w : view.workers) ids.push_back(w.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Json slots = Json::array();
  for (int id : ids) {
    std::vector<SampleRing::Sample> samples = ring.History(id);
    if (samples.empty()) continue;
    using S = SampleRing::Sample;
    slots.push_back(
        {{"id", id},
         {"t", Column(samples,
                      [](const S& s) {
                        return JsonNumber(Millis(s.unix_seconds));
                      })},
         {"pid",
          Column(samples,
                 [](const S& s) { return s.pid > 0 ? Json(s.pid) : Json(); })},
         {"cpu_percent",
          Column(samples,
                 [](const S& s) {
                   return s.cpu_percent
                              ? JsonNumber(std::round(*s.cpu_percent * 10) / 10)
                              : Json();
                 })},
         {"rss_bytes", Column(samples, [](const S& s) {
            return JsonOptional(s.rss_bytes);
          })}});
  }
  Json json;
  json["now"] = JsonNumber(Millis(now_unix_seconds));
  json["interval_seconds"] = JsonNumber(interval_seconds);
  json["capacity"] = ring.capacity();
  json["max_slots"] = ring.max_slots();
  json["slots"] = std::move(slots);
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
