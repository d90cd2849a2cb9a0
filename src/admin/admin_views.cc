#include "admin/admin_views.h"

#include <time.h>

#include <cmath>

#include "admin/json_lite.h"

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

void WriteCgroup(const CgroupInfo& info, JsonWriter& json) {
  json.BeginObject();
  json.Key("version").String(info.version);
  json.Key("cpu_cgroup_path").String(info.cpu_cgroup_path);
  json.Key("cpu_quota_cores")
      .Optional(info.cpu_quota_cores, &JsonWriter::Double);
  json.Key("quota_source").String(info.quota_source);
  json.Key("cpuset_cpus").Optional(info.cpuset_cpus, &JsonWriter::Int);
  json.Key("cpuset_source").String(info.cpuset_source);
  json.Key("affinity_cpus").Int(info.affinity_cpus);
  json.Key("host_cpus").Int(info.host_cpus);
  json.Key("memory_limit_bytes")
      .Optional(info.memory_limit_bytes, &JsonWriter::Uint);
  json.Key("memory_source").String(info.memory_source);
  json.Key("effective_cpus").Double(info.effective_cpus);
  json.Key("notes").BeginArray();
  for (const std::string& note : info.notes) json.String(note);
  json.EndArray();
  json.EndObject();
}

void WriteSlot(const WorkerView& worker, const RssReader& rss,
               JsonWriter& json) {
  bool running = worker.pid > 0;
  json.BeginObject();
  json.Key("id").Int(worker.id);
  json.Key("pid");
  running ? json.Int(worker.pid) : json.Null();
  json.Key("state").String(worker.state);
  json.Key("ready").Bool(worker.ready);
  json.Key("restarts").Int(worker.restarts);
  json.Key("last_exit");
  worker.last_exit.empty() ? json.Null() : json.String(worker.last_exit);
  json.Key("uptime_seconds").Double(Millis(worker.uptime_seconds));
  json.Key("rss_bytes")
      .Optional(running ? rss(worker.pid) : std::nullopt, &JsonWriter::Uint);
  json.Key("status_text");
  worker.status_text.empty() ? json.Null() : json.String(worker.status_text);
  json.EndObject();
}

}  // namespace

Readiness CheckReadiness(const StateView& view) {
  Readiness r;
  r.reason = NotReadyReason(view);
  r.ready = r.reason.empty();
  JsonWriter json;
  json.BeginObject().Key("ready").Bool(r.ready);
  if (!r.ready) json.Key("reason").String(r.reason);
  json.Key("ready_workers").Int(view.ready_workers);
  json.Key("desired_workers").Int(view.desired_workers);
  json.EndObject();
  r.body = json.str();
  return r;
}

std::string StatusJson(const StateView& view, const std::string& version,
                       double now_unix_seconds, const RssReader& rss) {
  int actual = 0;
  for (const WorkerView& w : view.workers) actual += w.pid > 0 ? 1 : 0;
  bool started = view.started_unix_seconds > 0;
  JsonWriter json;
  json.BeginObject();
  json.Key("version").String(version);
  json.Key("started_at");
  started ? json.String(Iso8601Utc(view.started_unix_seconds)) : json.Null();
  json.Key("uptime_seconds");
  started ? json.Double(Millis(now_unix_seconds - view.started_unix_seconds))
          : json.Null();
  json.Key("ready").Bool(CheckReadiness(view).ready);
  json.Key("draining").Bool(view.draining);
  json.Key("stopping").Bool(view.stopping);
  json.Key("reloading").Bool(view.reloading);
  json.Key("desired_workers").Int(view.desired_workers);
  json.Key("actual_workers").Int(actual);
  json.Key("ready_workers").Int(view.ready_workers);
  json.Key("min_ready_workers").Int(view.min_ready_workers);
  json.Key("sizing").BeginObject();
  json.Key("workers").Int(view.sizing.workers);
  json.Key("cpus_used").Double(view.sizing.cpus_used);
  json.Key("reason").String(view.sizing.reason);
  json.EndObject();
  json.Key("cgroup");
  WriteCgroup(view.cgroup, json);
  json.Key("slots").BeginArray();
  for (const WorkerView& worker : view.workers) WriteSlot(worker, rss, json);
  json.EndArray();
  json.Key("state_version").Uint(view.version);
  json.EndObject();
  return json.str();
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
