#include "config/jobs_config.h"

#include <fmt/format.h>

#include <array>
#include <climits>

#include "config/values.h"
#include "schedule/cron.h"
#include "schedule/zone.h"

namespace corefork {
namespace {

Status ApplyBool(std::string_view v, bool* out) {
  if (v == "true" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "no" || v == "off") {
    *out = false;
  } else {
    return Status::InvalidArgument(
        fmt::format("expected true or false, got {}", Quote(v)));
  }
  return Status::Ok();
}

Status ApplyOverlap(std::string_view v, JobConfig* j) {
  if (v == "skip") {
    j->overlap = Overlap::kSkip;
  } else if (v == "queue") {
    j->overlap = Overlap::kQueue;
  } else if (v == "allow") {
    j->overlap = Overlap::kAllow;
  } else {
    return Status::InvalidArgument(
        fmt::format("expected skip, queue or allow, got {}", Quote(v)));
  }
  return Status::Ok();
}

Status ApplySchedule(std::string_view v, JobConfig* j) {
  return StoreParsed(CronSchedule::Parse(v), &j->schedule);
}

Status ApplyTimezone(std::string_view v, JobConfig* j) {
  return StoreParsed(TimeZone::Load(v), &j->timezone);
}

Status ApplyName(std::string_view v, std::string* out) {
  if (v.empty() || v.find_first_of(" \t/:") != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("expected a name, got {}", Quote(v)));
  }
  *out = std::string(v);
  return Status::Ok();
}

// Scalar fields; command, env and pool are lists/maps, handled separately.
constexpr std::array<YamlField<JobConfig>, 19> kJobFields = {{
    {"shell",
     [](std::string_view v, JobConfig* j) { return ApplyBool(v, &j->shell); }},
    {"workdir",
     [](std::string_view v, JobConfig* j) {
       j->workdir = std::string(v);
       return Status::Ok();
     }},
    {"user",
     [](std::string_view v, JobConfig* j) { return ApplyName(v, &j->user); }},
    {"group",
     [](std::string_view v, JobConfig* j) { return ApplyName(v, &j->group); }},
    {"timeout",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseDuration(v), &j->timeout);
     }},
    {"kill_grace",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseDuration(v), &j->kill_grace);
     }},
    {"concurrency",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseInt(v, 1, 100'000), &j->concurrency);
     }},
    {"queue",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseInt(v, 0, 1'000'000), &j->queue);
     }},
    {"retries",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseInt(v, 0, 100), &j->retries);
     }},
    {"retry_delay",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseDuration(v), &j->retry_delay);
     }},
    {"max_output",
     [](std::string_view v, JobConfig* j) {
       return StoreParsed(ParseSize(v), &j->max_output);
     }},
    {"at_start", [](std::string_view v,
                    JobConfig* j) { return ApplyBool(v, &j->at_start); }},
    {"required", [](std::string_view v,
                    JobConfig* j) { return ApplyBool(v, &j->required); }},
    {"schedule", ApplySchedule},
    {"timezone", ApplyTimezone},
    {"every",
     [](std::string_view v, JobConfig* j) {
       Result<Duration> d = ParseDuration(v);
       if (d.ok() && d->count() < 1000) {
         return Status::InvalidArgument(fmt::format(
             "expected a duration of at least 1s, got {}", Quote(v)));
       }
       return StoreParsed(std::move(d), &j->every);
     }},
    {"overlap", ApplyOverlap},
    {"on_demand", [](std::string_view v,
                     JobConfig* j) { return ApplyBool(v, &j->on_demand); }},
    {"description", [](std::string_view, JobConfig*) { return Status::Ok(); }},
}};

// jobs.NAME.pool (docs/jobs.md, "Pools").
Status ApplyPoolSize(std::string_view v, JobPoolConfig* p) {
  if (v == "auto") {
    p->size = 0;  // the CPU count, resolved when the pool starts
    return Status::Ok();
  }
  Result<int> size = ParseInt(v, 1, 1024);
  if (!size.ok()) {
    return Status::InvalidArgument(
        fmt::format("expected an integer 1..1024 or auto, got {}", Quote(v)));
  }
  p->size = *size;
  return Status::Ok();
}

Status ApplyPoolMaxRss(std::string_view v, JobPoolConfig* p) {
  return StoreParsed(ParseMaxRss(v), &p->max_rss);
}

Status ApplyPoolMaxAnswer(std::string_view v, JobPoolConfig* p) {
  Result<uint64_t> bytes = ParseSize(v);
  if (bytes.ok() && (*bytes < 1024 || *bytes > (uint64_t{4} << 20))) {
    return Status::InvalidArgument(
        fmt::format("expected a size 1Ki..4Mi, got {}", Quote(v)));
  }
  return StoreParsed(std::move(bytes), &p->max_answer);
}

constexpr std::array<YamlField<JobPoolConfig>, 8> kPoolFields = {{
    {"size", ApplyPoolSize},
    {"min",
     [](std::string_view v, JobPoolConfig* p) {
       return StoreParsed(ParseInt(v, 0, 1024), &p->min);
     },
     [](JobPoolConfig* p) { p->min.reset(); }},
    {"max_runs",
     [](std::string_view v, JobPoolConfig* p) {
       return StoreParsed(ParseInt(v, 0, 1'000'000'000), &p->max_runs);
     }},
    {"idle_timeout",
     [](std::string_view v, JobPoolConfig* p) {
       return StoreParsed(ParseDuration(v), &p->idle_timeout);
     }},
    {"warm", [](std::string_view v,
                JobPoolConfig* p) { return ApplyBool(v, &p->warm); }},
    {"readiness", [](std::string_view v,
                     JobPoolConfig* p) { return ApplyBool(v, &p->readiness); }},
    {"max_rss", ApplyPoolMaxRss, [](JobPoolConfig* p) { p->max_rss.reset(); }},
    {"max_answer", ApplyPoolMaxAnswer},
}};

// `pool: {}` and `pool:` (null) both mean a pool with every default.
void ApplyJobPool(YamlReader& r, const YamlEntry& e, JobConfig* job) {
  if (!e.value.IsNull() && !e.value.IsMap()) {
    return r.Expected(e, "a map (the pool's settings), or {} for defaults");
  }
  JobPoolConfig pool;
  r.ApplyFields<JobPoolConfig>(e, kPoolFields, &pool);
  if (pool.readiness) pool.warm = true;  // readiness needs a process running
  const Origin at = r.At(e.key_node, e.path);
  if (pool.readiness && pool.min && *pool.min == 0) {
    r.Error(at, "pool.readiness needs min >= 1");
  }
  if (pool.size > 0 && pool.min && *pool.min > pool.size) {
    r.Error(at, fmt::format("pool.min ({}) is larger than pool.size ({})",
                            *pool.min, pool.size));
  }
  job->pool = std::move(pool);
}

std::vector<std::string_view> JobKeys() {
  std::vector<std::string_view> keys = {"command", "env", "pool"};
  for (const auto& field : kJobFields) keys.push_back(field.key);
  return keys;
}

void ApplyJobCommand(YamlReader& r, const YamlEntry& e, JobConfig* job) {
  if (e.value.IsScalar()) {
    job->command = {e.value.Scalar()};  // a shell string; checked below
    return;
  }
  if (!e.value.IsSequence() || e.value.size() == 0) {
    return r.Expected(e,
                      "a list of strings (argv), or a string with shell: true");
  }
  job->command.clear();
  for (size_t i = 0; i < e.value.size(); ++i) {
    if (!e.value[i].IsScalar()) {
      YamlEntry item{"", fmt::format("{}[{}]", e.path, i), e.key_node,
                     e.value[i]};
      return r.Expected(item, "a string");
    }
    job->command.push_back(e.value[i].Scalar());
  }
}

void ApplyJobEnv(YamlReader& r, const YamlEntry& e, JobConfig* job) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) return r.Expected(e, "a map of NAME: value");
  for (const YamlEntry& var : r.Entries(e.value, e.path, nullptr)) {
    if (var.key.empty() || var.key.find('=') != std::string::npos) {
      r.Error(r.At(var.key_node, e.path),
              "expected a variable name without '='");
    } else if (!var.value.IsNull() && !var.value.IsScalar()) {
      r.Expected(var, "a string");
    } else {
      job->env[var.key] = var.value.IsNull() ? "" : var.value.Scalar();
    }
  }
}

// Rules that involve several keys of one job.
void CheckJob(YamlReader& r, const YamlEntry& e, JobConfig* job,
              bool command_is_string) {
  const Origin at = r.At(e.key_node, e.path);
  if (job->command.empty()) {
    r.Error(at, "no command: set command: [program, args...]");
  } else if (job->shell && !command_is_string) {
    r.Error(
        at,
        "shell: true needs command to be one string, e.g. command: \"a | b\"");
  } else if (!job->shell && command_is_string) {
    r.Error(at,
            "command is a string: make it a list (argv), or set shell: true");
  }
  if (job->shell && !job->command.empty()) {
    job->command = {"/bin/sh", "-c", job->command[0]};
  }
  if (!job->at_start && !job->on_demand && !job->schedule &&
      job->every.count() == 0) {
    r.Error(at, "no trigger: set at_start, schedule, every or on_demand");
  }
  if (job->schedule && job->every.count() > 0) {
    r.Error(at, "set either schedule or every, not both");
  }
  if (job->pool && job->concurrency != 0) {
    r.Error(at,
            "set pool.size, not concurrency: a pool's size is its "
            "concurrency");
  }
}

void ApplyJob(YamlReader& r, const YamlEntry& e, JobConfig* job) {
  static const std::vector<std::string_view> keys = JobKeys();
  if (!e.value.IsMap()) return r.Expected(e, "a map (the job's spec)");
  bool command_is_string = false;
  for (const YamlEntry& field : r.Entries(e.value, e.path, &keys)) {
    if (field.key == "command") {
      command_is_string = field.value.IsScalar();
      ApplyJobCommand(r, field, job);
    } else if (field.key == "env") {
      ApplyJobEnv(r, field, job);
    } else if (field.key == "pool") {
      ApplyJobPool(r, field, job);
    } else {
      for (const auto& f : kJobFields) {
        if (f.key == field.key) r.ApplyScalar(field, f, job);
      }
    }
  }
  CheckJob(r, e, job, command_is_string);
}

constexpr std::array<YamlField<JobHistoryConfig>, 3> kHistoryFields = {{
    {"max_runs",
     [](std::string_view v, JobHistoryConfig* h) {
       return StoreParsed(ParseInt(v, 0, 1'000'000), &h->max_runs);
     }},
    {"max_age",
     [](std::string_view v, JobHistoryConfig* h) {
       return StoreParsed(ParseDuration(v), &h->max_age);
     }},
    {"max_bytes",
     [](std::string_view v, JobHistoryConfig* h) {
       return StoreParsed(ParseSize(v), &h->max_bytes);
     }},
}};

}  // namespace

void ApplyJobs(YamlReader& r, const YamlEntry& section, Config* config) {
  if (section.value.IsNull()) return;
  if (!section.value.IsMap()) {
    return r.Expected(section, "a map from job name to its spec");
  }
  for (const YamlEntry& e : r.Entries(section.value, section.path, nullptr)) {
    JobConfig job;
    Status name = ApplyName(e.key, &job.name);
    if (!name.ok()) {
      r.Error(r.At(e.key_node, section.path), "job " + name.message());
      continue;
    }
    ApplyJob(r, e, &job);
    config->jobs[job.name] = std::move(job);
  }
}

void ApplyJobHistory(YamlReader& r, const YamlEntry& section, Config* config) {
  r.ApplyFields<JobHistoryConfig>(section, kHistoryFields,
                                  &config->job_history);
}

}  // namespace corefork
