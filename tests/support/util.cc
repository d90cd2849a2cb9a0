#include "support/util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace corefork::harness {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)))];
}

std::string Errno(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

bool PollUntil(const std::function<bool()>& pred, Millis timeout,
               Millis interval) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(interval);
  }
  return pred();
}

// ---- files -----------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/corefork-it-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << Errno("mkdtemp " + tmpl);
    return;
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

HeldFifo::HeldFifo(const std::string& path) {
  if (mkfifo(path.c_str(), 0600) != 0) {
    error_ = Errno("mkfifo " + path);
    return;
  }
  fd_ = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) error_ = Errno("open " + path);
}

HeldFifo::~HeldFifo() {
  if (fd_ >= 0) close(fd_);
}

std::string TempDir::Path(const std::string& name) const {
  return path_ + "/" + name;
}

std::optional<std::string> TryReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadFile(const std::string& path) {
  return TryReadFile(path).value_or("");
}

bool WriteFile(const std::string& path, const std::string& content,
               mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  fchmod(fd, mode);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return close(fd) == 0;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

namespace {

int KernelPickedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Claims `port` for this process among all test processes of this user: an
// flock on /tmp/corefork-test-ports.UID/PORT, held (fd never closed) until
// the process exits. Two tests that reuseport-bind the same port would share
// it silently, without EADDRINUSE; this keeps them apart.
bool ClaimPort(int port) {
  const std::string dir =
      "/tmp/corefork-test-ports." + std::to_string(getuid());
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return true;
  const std::string path = dir + "/" + std::to_string(port);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return true;  // no claim possible: fall back to the kernel's
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  return true;  // fd stays open: the claim lasts as long as this process
}

}  // namespace

int FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int port = KernelPickedPort();
    if (port == 0) return 0;
    if (ClaimPort(port)) return port;
  }
  return 0;
}

// ---- small parsers ---------------------------------------------------------

std::optional<std::string> JsonField(const std::string& json,
                                     const std::string& key) {
  size_t pos = json.find("\"" + key + "\"");
  if (pos == std::string::npos) return std::nullopt;
  pos = json.find_first_not_of(" \t\r\n", pos + key.size() + 2);
  if (pos == std::string::npos || json[pos] != ':') return std::nullopt;
  pos = json.find_first_not_of(" \t\r\n", pos + 1);
  if (pos == std::string::npos) return std::nullopt;
  if (json[pos] == '"') {
    std::string value;
    for (size_t i = pos + 1; i < json.size(); ++i) {
      if (json[i] == '\\' && i + 1 < json.size()) {
        value += json[++i];
      } else if (json[i] == '"') {
        return value;
      } else {
        value += json[i];
      }
    }
    return std::nullopt;
  }
  size_t end = json.find_first_of(",}] \t\r\n", pos);
  return json.substr(pos, end == std::string::npos ? end : end - pos);
}

std::optional<HelloReply> ParseHello(const std::string& body) {
  auto worker = JsonField(body, "worker");
  auto pid = JsonField(body, "pid");
  if (!worker || !pid) return std::nullopt;
  char* end = nullptr;
  HelloReply r;
  r.worker = static_cast<int>(std::strtol(worker->c_str(), &end, 10));
  if (end == worker->c_str() || *end != '\0') return std::nullopt;
  r.pid = static_cast<pid_t>(std::strtol(pid->c_str(), &end, 10));
  if (end == pid->c_str() || *end != '\0' || r.pid <= 0) return std::nullopt;
  return r;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool ContainsNoCase(const std::string& haystack, const std::string& needle) {
  return Lower(haystack).find(Lower(needle)) != std::string::npos;
}

std::string Str(const std::vector<pid_t>& pids) {
  std::string s = "[";
  for (pid_t p : pids) s += (s.size() > 1 ? "," : "") + std::to_string(p);
  return s + "]";
}

}  // namespace corefork::harness
