// Test harness for whole-binary tests: real processes, real sockets, real
// signals. Everything here is for the single test thread; nothing is
// thread-safe. Every wait is bounded (PollUntil with a deadline, never a bare
// sleep), and every process a test starts is SIGKILLed and reaped by RAII
// even when the test fails half-way, together with everything it forked.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace corefork::harness {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// Calls `pred` every `interval` until it returns true or `timeout` passed.
// Returns the last result of `pred` (checked once more at the deadline).
bool PollUntil(const std::function<bool()>& pred, Millis timeout,
               Millis interval = Millis(15));

// A fresh directory under $TMPDIR (or /tmp), removed recursively on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Path(const std::string& name) const;

 private:
  std::string path_;
};

// Whole file as a string; "" when it cannot be read.
std::string ReadFile(const std::string& path);
std::optional<std::string> TryReadFile(const std::string& path);
// Creates/truncates `path` with `mode`; false on error.
bool WriteFile(const std::string& path, const std::string& content,
               mode_t mode = 0644);
bool FileExists(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bind :0, read, close).
int FreePort();

// Makes the test process a child subreaper so orphans of the processes it
// starts are re-parented to it (and reaped by ReapOrphans / ~Process) instead
// of to the machine's init.
void SetChildSubreaper();

// /proc views. ProcState: the state letter of /proc/PID/stat ('R', 'S', 'Z',
// ...) or '\0' when there is no /proc/PID. ProcessGone: no /proc/PID at all
// (a zombie is NOT gone). GoneOrZombie: either.
char ProcState(pid_t pid);
bool ProcessGone(pid_t pid);
bool GoneOrZombie(pid_t pid);
pid_t ParentPid(pid_t pid);  // -1 when gone
std::vector<pid_t> ChildrenOf(pid_t pid);
std::vector<pid_t> DescendantsOf(pid_t pid);  // children, grandchildren, ...
// The pid as the innermost pid namespace sees it (last NSpid field), or -1.
pid_t InnermostPid(pid_t pid);
// Names in /proc/PID/fd, sorted numerically; empty when unreadable.
std::vector<int> OpenFds(pid_t pid);

// Reaps (waitpid) every child of the test process that no live Process owns:
// re-parented orphans. Never blocks.
void ReapOrphans();

// Number of server-side TCP connections on local `port` that some process has
// accept()ed (ESTABLISHED with an inode in /proc/net/tcp{,6}); connections
// still queued in a listen backlog have no inode and are not counted.
int AcceptedConnections(int port);
// Inodes of the TCP sockets LISTENing on local `port`.
std::vector<unsigned long> ListeningInodes(int port);

// A child process in its own process group, stdin /dev/null, stdout/stderr to
// files (readable while it runs), a clean signal mask, default dispositions,
// no inherited fd above 2, and PR_SET_PDEATHSIG(SIGKILL) so it cannot outlive
// a crashed test. The destructor SIGKILLs it, its process group and all its
// descendants, and reaps what comes back to us.
class Process {
 public:
  // argv[0] is looked up in PATH when it has no '/'. `env` entries override or
  // add to the test's environment.
  Process(std::vector<std::string> argv,
          const std::map<std::string, std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // False when fork/exec failed; error() says why.
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }
  std::string CommandLine() const;

  bool Signal(int sig);  // kill(pid, sig); false once reaped
  bool Running();        // not yet exited (reaps if it has)
  // Exit code (WEXITSTATUS, or 128+signal) once it exits within `timeout`.
  std::optional<int> WaitExit(Millis timeout);
  std::optional<int> exit_code() const { return exit_code_; }

  std::string Stdout() const;
  std::string Stderr() const;

  // SIGKILL + reap everything now (the destructor does the same).
  void Kill();

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::optional<int> exit_code_;
  std::string error_;
  TempDir logs_;
};

// A minimal blocking HTTP/1.1 client over a real TCP socket.
struct HttpResponse {
  int status = 0;     // 0 when there was no complete response
  std::string body;   // de-chunked when Transfer-Encoding: chunked
  std::string error;  // why status is 0 ("connect: Connection refused", ...)
  std::string ToString() const;
};

// One connection that a test can open first and use later (e.g. to queue
// connections in a listen backlog while no worker is accepting).
class HttpConnection {
 public:
  HttpConnection() = default;
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // TCP connect within `timeout`; false with error() set on failure.
  bool Connect(const std::string& host, int port, Millis timeout);
  // Sends "GET path HTTP/1.1" with Connection: close.
  bool SendGet(const std::string& path);
  // Reads until the response is complete or EOF, bounded by `timeout`.
  HttpResponse ReadResponse(Millis timeout);
  const std::string& error() const { return error_; }
  void Close();

 private:
  int fd_ = -1;
  std::string error_;
};

HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     Millis timeout = Millis(5000));

// The raw text of `key`'s value in a flat JSON object: a string's contents
// (unescaped for \" and \\ only), or the token (number, true, null...).
std::optional<std::string> JsonField(const std::string& json,
                                     const std::string& key);

// examples/hello's body: {"worker":W,"pid":P}
struct HelloReply {
  int worker = -1;
  pid_t pid = -1;
};
std::optional<HelloReply> ParseHello(const std::string& body);

// Lower-cases ASCII (for case-insensitive message checks).
std::string Lower(std::string s);
bool ContainsNoCase(const std::string& haystack, const std::string& needle);

// The fixture every whole-binary test uses: a temp dir, the subreaper, owned
// processes (killed in TearDown), and their logs printed when a test fails.
class CoreforkTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts COREFORK_BIN with `args` (argv[0] is added).
  Process& StartCorefork(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {});
  // Starts any program.
  Process& Spawn(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env = {});
  // Kills every process this test started (and their descendants).
  void KillAll();

  // A file in this test's temp dir.
  std::string Path(const std::string& name) const { return tmp_.Path(name); }
  std::string WriteConfig(const std::string& yaml,
                          const std::string& name = "corefork.yaml");

  // Polls GET /healthz until it answers 200 (false if `proc` exits first).
  bool WaitServing(Process& proc, int port, Millis timeout = Millis(10000));
  // Sends requests (sequential, then concurrent /slow ones) until `n`
  // distinct worker ids answered; returns worker id -> pid seen last.
  std::map<int, pid_t> CollectWorkers(int port, size_t n,
                                      Millis timeout = Millis(5000));
  // Children of `proc` (its workers), polled until there are `n`.
  std::vector<pid_t> WaitChildren(Process& proc, size_t n,
                                  Millis timeout = Millis(5000));

  TempDir tmp_;
  std::vector<std::unique_ptr<Process>> procs_;
};

// Common argument lists.
std::vector<std::string> HelloArgs(int port, int workers);

std::string Str(const std::vector<pid_t>& pids);

}  // namespace corefork::harness
