// What the client commands print: /status and GET /jobs answers (JSON, as
// the servers send them) turned into aligned text tables for people, and
// one-line summaries of run, scale and reload answers. Pure functions over
// parsed JSON: missing or odd fields print as "-", never throw.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "util/json.h"

namespace corefork {

// Per-worker CPU use measured by the client (percent of one CPU), by pid;
// absent pids print "-".
using CpuByPid = std::map<long, double>;

// "1h 2m", "3m 4s", "12s", "0.4s"; "-" for null or negative.
std::string FormatUptime(const Json& seconds);
// "46.0 MiB", "812 KiB", "0 B"; "-" for null.
std::string FormatBytes(const Json& bytes);

// The `corefork status` text: a header line (version, uptime, ready count,
// reload/drain flags, sizing reason), one row per slot entry (SLOT PID STATE
// UPTIME RESTARTS CPU% RSS LAST EXIT), and, when `jobs` (a GET /jobs answer)
// is given, one summary line of the jobs.
std::string StatusText(const Json& status, const CpuByPid& cpu,
                       const std::optional<Json>& jobs);

// The `corefork jobs` table: NAME TRIGGERS RUNNING QUEUED LAST RESULT
// LAST FINISHED NEXT RUN.
std::string JobsText(const Json& jobs);

// One line about a run: "run 7 (fib): succeeded, exit 0, 0.021s".
std::string RunLine(const Json& run);

}  // namespace corefork
