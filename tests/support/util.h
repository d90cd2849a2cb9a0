// Small helpers for whole-binary tests: bounded polling, temp dirs, files,
// free ports and the few text parsers the tests need (flat JSON, hello's
// reply). For the single test thread; nothing here is thread-safe.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace corefork::harness {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// "what: strerror(err)".
std::string Errno(const std::string& what, int err = errno);

// The value at quantile p (0..1) of v, nearest rank; -1 for no values.
double Percentile(std::vector<double> v, double p);

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

// A FIFO made at `path` and held open for reading (O_RDWR, non-blocking),
// so that a process can open it for writing at once: read it when the test
// wants to, or never (a stderr nobody reads). Closed on destruction.
class HeldFifo {
 public:
  explicit HeldFifo(const std::string& path);
  ~HeldFifo();
  HeldFifo(const HeldFifo&) = delete;
  HeldFifo& operator=(const HeldFifo&) = delete;

  // -1 when it could not be made; error() says why.
  int fd() const { return fd_; }
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

// Whole file as a string; "" when it cannot be read.
std::string ReadFile(const std::string& path);
std::optional<std::string> TryReadFile(const std::string& path);
// Creates/truncates `path` with `mode`; false on error.
bool WriteFile(const std::string& path, const std::string& content,
               mode_t mode = 0644);
bool FileExists(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bind :0, read, close),
// and that no other test process of this user got from FreePort() while
// this one lives. Something else may still take it before corefork binds it:
// CoreforkTest::StartCoreforkOnFreePort retries on EADDRINUSE. Corefork's
// admin port needs none of this: it is bound to port 0 (harness.h).
int FreePort();

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

// "[1,2,3]" for messages.
std::string Str(const std::vector<pid_t>& pids);

}  // namespace corefork::harness
