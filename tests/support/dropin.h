// Helpers for tests/dropin_test.cc, which runs the unmodified apps of
// tests/apps (Express, Fastify, Koa, npm start, Python) as corefork workers:
// where the apps are and whether their dependencies are installed, the shell
// gate that holds an app back before listen(), and HTTP clients that count
// which app process answered. For the single test thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/util.h"

namespace corefork::harness {

// tests/apps in the source tree.
std::string AppsDir();

// What an app needs beyond node and /usr/bin/python3.
enum class AppNeeds { kNothing, kNodeModules, kUvicorn };

// "" when what `needs` is installed; otherwise a message that says what is
// missing and to run tests/apps/install.sh (tests never install anything).
std::string MissingAppDeps(AppNeeds needs);

// Single-quoted for /bin/sh.
std::string ShellQuote(const std::string& s);

// argv of `/bin/sh -c SCRIPT` where SCRIPT waits (at most ~60 s) until
// `gate_file` exists, then cds to AppsDir() and runs `command` (a shell
// command line, usually `exec ...`). The wrapper is also the `sh -c` case.
std::vector<std::string> GatedCommand(const std::string& gate_file,
                                      const std::string& command);

// The "pid" member of an app's JSON answer ({"pid": 123}).
std::optional<pid_t> PidFromBody(const std::string& body);

// Which process answered a batch of requests.
struct AnswerCount {
  std::map<pid_t, int> by_pid;      // answered 200 with a pid
  int failed = 0;                   // anything else
  std::vector<std::string> errors;  // the first few failures, described
  int ok() const;
  std::string Summary() const;  // "pid 12: 97, pid 13: 103, failed 0"
};

// `n` GETs of / to 127.0.0.1:port one after another, each on a fresh
// connection (so SO_REUSEPORT hashes each one anew).
AnswerCount CountAnswers(int port, int n, Millis per_request = Millis(5000));

// Opens `n` connections to 127.0.0.1:port and sends a GET / on each before
// reading any answer, then reads them all within `timeout`: connections that
// sit in a listen backlog while no process accepts on it. A connect that
// takes over 900 ms (the SYN dropped by a full backlog) counts as failed.
AnswerCount ConnectAllThenRead(int port, int n, Millis timeout);

// True when `ancestor` is `pid` or one of its parents (up to 8 levels):
// the app process behind a wrapper (npm, sh) that corefork started.
bool IsSelfOrAncestor(pid_t ancestor, pid_t pid);

}  // namespace corefork::harness
