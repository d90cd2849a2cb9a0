#include "support/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace corefork::harness {
namespace {

std::string Errno(const std::string& what, int err = errno) {
  return what + ": " + std::strerror(err);
}

// Pids owned by live Process objects: ReapOrphans must leave them to their
// owner's WaitExit. Test-support global, single test thread.
std::set<pid_t>& OwnedPids() {
  static std::set<pid_t> pids;
  return pids;
}

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = readdir(dir)) {
    if (IsNumber(e->d_name)) pids.push_back(std::atoi(e->d_name));
  }
  closedir(dir);
  return pids;
}

// Fields of /proc/PID/stat after the "(comm)" part: [0] = state, [1] = ppid.
std::vector<std::string> StatFields(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

std::string ResolveInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // exec reports ENOENT
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Child side of Process: only async-signal-safe calls, ends in exec or _exit.
[[noreturn]] void ExecChild(int out_fd, int err_fd, int null_fd, int report_fd,
                            const char* file, char* const* argv,
                            char* const* envp) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  dup2(null_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  // No stray fd of the test runner may reach corefork: it is corefork's own
  // fds the tests check. Keep only the CLOEXEC report pipe.
  if (report_fd > 3) close_range(3, report_fd - 1, 0);
  close_range(report_fd + 1, ~0U, 0);
  execve(file, argv, envp);
  int err = errno;
  (void)!write(report_fd, &err, sizeof err);
  _exit(127);
}

}  // namespace

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

int FreePort() {
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

void SetChildSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    ADD_FAILURE() << Errno("prctl(PR_SET_CHILD_SUBREAPER)");
  }
}

// ---- /proc -----------------------------------------------------------------

char ProcState(pid_t pid) {
  std::vector<std::string> f = StatFields(pid);
  return f.empty() || f[0].empty() ? '\0' : f[0][0];
}

bool ProcessGone(pid_t pid) {
  return !FileExists("/proc/" + std::to_string(pid));
}

bool GoneOrZombie(pid_t pid) {
  char s = ProcState(pid);
  return s == '\0' || s == 'Z' || s == 'X';
}

pid_t ParentPid(pid_t pid) {
  std::vector<std::string> f = StatFields(pid);
  return f.size() < 2 ? -1 : std::atoi(f[1].c_str());
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  for (pid_t pid : AllPids()) {
    if (ParentPid(pid) == parent) children.push_back(pid);
  }
  std::sort(children.begin(), children.end());
  return children;
}

std::vector<pid_t> DescendantsOf(pid_t root) {
  std::map<pid_t, pid_t> parent_of;
  for (pid_t pid : AllPids()) parent_of[pid] = ParentPid(pid);
  std::vector<pid_t> result;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    pid_t p = frontier.back();
    frontier.pop_back();
    for (const auto& [child, parent] : parent_of) {
      if (parent == p && child != root) {
        result.push_back(child);
        frontier.push_back(child);
      }
    }
  }
  return result;
}

pid_t InnermostPid(pid_t pid) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    pid_t last = -1, v;
    while (fields >> v) last = v;
    return last;
  }
  return -1;
}

std::vector<int> OpenFds(pid_t pid) {
  std::vector<int> fds;
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return fds;
  while (dirent* e = readdir(dir)) {
    if (IsNumber(e->d_name)) fds.push_back(std::atoi(e->d_name));
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  return fds;
}

void ReapOrphans() {
  for (pid_t child : ChildrenOf(getpid())) {
    if (OwnedPids().count(child)) continue;
    int status;
    waitpid(child, &status, WNOHANG);
  }
}

namespace {

struct TcpEntry {
  int local_port;
  int state;
  unsigned long inode;
};

std::vector<TcpEntry> TcpTable() {
  std::vector<TcpEntry> entries;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream in(ReadFile(file));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout;
      unsigned long inode = 0;
      if (!(f >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >>
            timeout >> inode)) {
        continue;
      }
      size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      entries.push_back(
          {static_cast<int>(std::stoul(local.substr(colon + 1), nullptr, 16)),
           static_cast<int>(std::stoul(st, nullptr, 16)), inode});
    }
  }
  return entries;
}

}  // namespace

int AcceptedConnections(int port) {
  int n = 0;
  for (const TcpEntry& e : TcpTable()) {
    if (e.local_port == port && e.state == 0x01 && e.inode != 0) ++n;
  }
  return n;
}

std::vector<unsigned long> ListeningInodes(int port) {
  std::vector<unsigned long> inodes;
  for (const TcpEntry& e : TcpTable()) {
    if (e.local_port == port && e.state == 0x0A) inodes.push_back(e.inode);
  }
  return inodes;
}

// ---- Process ---------------------------------------------------------------

Process::Process(std::vector<std::string> argv,
                 const std::map<std::string, std::string>& env)
    : argv_(std::move(argv)) {
  if (argv_.empty()) {
    error_ = "empty argv";
    return;
  }
  std::string file = ResolveInPath(argv_[0]);

  // Everything the child needs is built before fork.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (!env.count(key)) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv_) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  int out_fd = open(logs_.Path("stdout").c_str(), flags, 0644);
  int err_fd = open(logs_.Path("stderr").c_str(), flags, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];
  if (out_fd < 0 || err_fd < 0 || null_fd < 0 || pipe2(report, O_CLOEXEC)) {
    error_ = Errno("opening child files");
    for (int fd : {out_fd, err_fd, null_fd}) {
      if (fd >= 0) close(fd);
    }
    return;
  }

  pid_t pid = fork();
  if (pid == 0) {
    ExecChild(out_fd, err_fd, null_fd, report[1], file.c_str(), cargv.data(),
              cenv.data());
  }
  int fork_errno = errno;
  close(out_fd);
  close(err_fd);
  close(null_fd);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    error_ = Errno("fork", fork_errno);
    return;
  }
  setpgid(pid, pid);  // also here, so the group exists before we signal it
  pid_ = pid;
  OwnedPids().insert(pid_);

  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof child_errno) {
    error_ = Errno("exec " + file, child_errno);
    WaitExit(Millis(5000));
    pid_ = -1;
  }
}

Process::~Process() { Kill(); }

std::string Process::CommandLine() const {
  std::string s;
  for (const auto& a : argv_) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

bool Process::Signal(int sig) {
  if (pid_ <= 0 || reaped_) return false;
  return kill(pid_, sig) == 0;
}

bool Process::Running() {
  if (pid_ <= 0 || reaped_) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = ExitCodeOf(status);
    OwnedPids().erase(pid_);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    reaped_ = true;  // reaped elsewhere; status unknown
    OwnedPids().erase(pid_);
    return false;
  }
  return true;
}

std::optional<int> Process::WaitExit(Millis timeout) {
  if (pid_ <= 0 && exit_code_) return exit_code_;
  PollUntil([&] { return !Running(); }, timeout, Millis(10));
  return exit_code_;
}

std::string Process::Stdout() const { return ReadFile(logs_.Path("stdout")); }
std::string Process::Stderr() const { return ReadFile(logs_.Path("stderr")); }

void Process::Kill() {
  if (pid_ <= 0) return;
  // Snapshot the tree first: once the root dies its children re-parent.
  std::vector<pid_t> tree =
      reaped_ ? std::vector<pid_t>{} : DescendantsOf(pid_);
  if (!reaped_) {
    kill(pid_, SIGKILL);
    kill(-pid_, SIGKILL);
    for (pid_t p : tree) kill(p, SIGKILL);
    int status;
    if (waitpid(pid_, &status, 0) == pid_) exit_code_ = ExitCodeOf(status);
    reaped_ = true;
  }
  OwnedPids().erase(pid_);
  // Orphans come to us (subreaper): kill and reap them, bounded. Anything
  // spawned after the snapshot is one of our unowned children by now.
  PollUntil(
      [&] {
        for (pid_t child : ChildrenOf(getpid())) {
          if (!OwnedPids().count(child)) kill(child, SIGKILL);
        }
        ReapOrphans();
        for (pid_t child : ChildrenOf(getpid())) {
          if (!OwnedPids().count(child)) return false;
        }
        return std::all_of(tree.begin(), tree.end(),
                           [](pid_t p) { return GoneOrZombie(p); });
      },
      Millis(3000));
  ReapOrphans();
  pid_ = -1;
}

// ---- HTTP ------------------------------------------------------------------

namespace {

// Returns true when `raw` holds a complete response (by Content-Length or
// the chunked terminator); without either, only EOF completes it.
bool ParseResponse(const std::string& raw, bool eof, HttpResponse* out) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  std::string head = raw.substr(0, head_end);
  std::string rest = raw.substr(head_end + 4);
  std::istringstream lines(head);
  std::string status_line;
  std::getline(lines, status_line);
  int status = 0;
  if (std::sscanf(status_line.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
    out->error = "bad status line: " + status_line;
    return eof;
  }
  std::optional<size_t> content_length;
  bool chunked = false;
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = Lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "content-length") content_length = std::stoul(value);
    if (name == "transfer-encoding" && ContainsNoCase(value, "chunked")) {
      chunked = true;
    }
  }
  if (content_length) {
    if (rest.size() < *content_length) return false;
    out->status = status;
    out->body = rest.substr(0, *content_length);
    return true;
  }
  if (chunked) {
    std::string body;
    size_t pos = 0;
    while (true) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) return false;
      size_t size = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) break;
      if (rest.size() < eol + 2 + size) return false;
      body += rest.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    out->status = status;
    out->body = body;
    return true;
  }
  if (!eof) return false;
  out->status = status;
  out->body = rest;
  return true;
}

}  // namespace

std::string HttpResponse::ToString() const {
  return "status=" + std::to_string(status) + " body=" + body +
         (error.empty() ? "" : " error=" + error);
}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool HttpConnection::Connect(const std::string& host, int port,
                             Millis timeout) {
  Close();
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    error_ = "bad address " + host;
    return false;
  }
  fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    error_ = Errno("socket");
    return false;
  }
  if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      error_ = Errno("connect");
      Close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    int r = poll(&p, 1, static_cast<int>(timeout.count()));
    if (r <= 0) {
      error_ = r == 0 ? "connect: timeout" : Errno("poll");
      Close();
      return false;
    }
    int err = 0;
    socklen_t errlen = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &errlen);
    if (err != 0) {
      error_ = Errno("connect", err);
      Close();
      return false;
    }
  }
  return true;
}

bool HttpConnection::SendGet(const std::string& path) {
  if (fd_ < 0) return false;
  std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  size_t done = 0;
  const auto deadline = Clock::now() + Millis(5000);
  while (done < req.size()) {
    ssize_t n = send(fd_, req.data() + done, req.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && Clock::now() < deadline) {
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, 20);
      continue;
    }
    error_ = Errno("send");
    return false;
  }
  return true;
}

HttpResponse HttpConnection::ReadResponse(Millis timeout) {
  HttpResponse resp;
  if (fd_ < 0) {
    resp.error = error_.empty() ? "not connected" : error_;
    return resp;
  }
  const auto deadline = Clock::now() + timeout;
  std::string raw;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) {
      resp.error = "read: timeout after " + std::to_string(timeout.count()) +
                   "ms (got " + std::to_string(raw.size()) + " bytes)";
      return resp;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // the deadline check above reports the timeout
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      resp.error = Errno("read");
      resp.status = 0;
      return resp;
    }
    if (n == 0) {
      if (!ParseResponse(raw, true, &resp) || resp.status == 0) {
        resp.status = 0;
        if (resp.error.empty()) {
          resp.error = raw.empty() ? "connection closed before any response"
                                   : "truncated response: " + raw;
        }
      }
      Close();
      return resp;
    }
    raw.append(buf, static_cast<size_t>(n));
    HttpResponse tmp;
    if (ParseResponse(raw, false, &tmp) && tmp.status != 0) {
      Close();
      return tmp;
    }
  }
}

HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     Millis timeout) {
  const auto start = Clock::now();
  HttpConnection conn;
  HttpResponse resp;
  if (!conn.Connect(host, port, timeout) || !conn.SendGet(path)) {
    resp.error = conn.error();
    return resp;
  }
  auto left =
      timeout - std::chrono::duration_cast<Millis>(Clock::now() - start);
  return conn.ReadResponse(std::max(left, Millis(1)));
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

std::vector<std::string> HelloArgs(int port, int workers) {
  return {"--workers",   std::to_string(workers),
          "--host",      "127.0.0.1",
          "--port",      std::to_string(port),
          "--log-level", "debug",
          "--",          HELLO_BIN};
}

// ---- fixture ---------------------------------------------------------------

void CoreforkTest::SetUp() {
  SetChildSubreaper();
  ASSERT_FALSE(tmp_.path().empty());
}

void CoreforkTest::TearDown() {
  if (HasFailure()) {
    for (const auto& p : procs_) {
      std::cerr << "---- " << p->CommandLine() << " (pid " << p->pid()
                << ", exit "
                << (p->exit_code() ? std::to_string(*p->exit_code()) : "-")
                << ")\n---- stdout:\n"
                << p->Stdout() << "---- stderr:\n"
                << p->Stderr() << "---- end\n";
    }
  }
  KillAll();
}

void CoreforkTest::KillAll() {
  for (auto& p : procs_) p->Kill();
  ReapOrphans();
}

Process& CoreforkTest::StartCorefork(
    const std::vector<std::string>& args,
    const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{COREFORK_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return Spawn(argv, env);
}

Process& CoreforkTest::Spawn(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env) {
  procs_.push_back(std::make_unique<Process>(argv, env));
  Process& p = *procs_.back();
  EXPECT_TRUE(p.ok()) << p.CommandLine() << ": " << p.error();
  return p;
}

std::string CoreforkTest::WriteConfig(const std::string& yaml,
                                      const std::string& name) {
  std::string path = Path(name);
  EXPECT_TRUE(WriteFile(path, yaml)) << path;
  return path;
}

bool CoreforkTest::WaitServing(Process& proc, int port, Millis timeout) {
  return PollUntil(
             [&] {
               if (!proc.Running()) return true;  // reported below
               return HttpGet("127.0.0.1", port, "/healthz", Millis(500))
                          .status == 200;
             },
             timeout, Millis(20)) &&
         proc.Running();
}

std::map<int, pid_t> CoreforkTest::CollectWorkers(int port, size_t n,
                                                  Millis timeout) {
  std::map<int, pid_t> seen;
  auto record = [&](const HttpResponse& r) {
    if (r.status != 200) return;
    if (auto h = ParseHello(r.body)) seen[h->worker] = h->pid;
  };
  int round = 0;
  PollUntil(
      [&] {
        if (round++ % 2 == 0) {
          // Sequential: each new connection gets a new source port, which
          // SO_REUSEPORT hashes over the slots.
          for (int i = 0; i < 20 && seen.size() < n; ++i) {
            record(HttpGet("127.0.0.1", port, "/", Millis(2000)));
          }
        } else {
          // Concurrent slow requests: a busy worker leaves the next
          // connection of a shared socket to another one.
          std::vector<std::unique_ptr<HttpConnection>> conns;
          for (size_t i = 0; i < 2 * n; ++i) {
            auto c = std::make_unique<HttpConnection>();
            if (c->Connect("127.0.0.1", port, Millis(1000)) &&
                c->SendGet("/slow?ms=50")) {
              conns.push_back(std::move(c));
            }
          }
          for (auto& c : conns) record(c->ReadResponse(Millis(2000)));
        }
        return seen.size() >= n;
      },
      timeout, Millis(1));
  return seen;
}

std::vector<pid_t> CoreforkTest::WaitChildren(Process& proc, size_t n,
                                              Millis timeout) {
  std::vector<pid_t> children;
  PollUntil(
      [&] {
        children.clear();
        for (pid_t c : ChildrenOf(proc.pid())) {
          if (!GoneOrZombie(c)) children.push_back(c);
        }
        return children.size() >= n;
      },
      timeout);
  return children;
}

}  // namespace corefork::harness
