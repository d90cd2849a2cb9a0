// Tests for the listen shim (listen_shim.c): real programs (Debian's python3,
// node, /bin/sh and wrappers around them) run with the shim preloaded and a
// listener made here, at a chosen fd; this test also plays corefork on a
// notify socket (answers COREFORK_LISTENER, sees COREFORK_LISTENING).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kNode[] = "/usr/bin/node";
constexpr int kInheritedFd = 3;
constexpr auto kDeadline = std::chrono::seconds(20);

// A python app that binds the port it is told (env FAMILY, TYPE, HOST, PORT)
// and prints what it got: "bound PORT INODE PID NONBLOCK INHERITABLE" or
// "bind-error ERRNO MILLISECONDS"; with SERVE it then answers one connection.
constexpr char kProbe[] = R"py(
import fcntl, os, socket, sys, time
e = os.environ
fam = socket.AF_INET6 if e.get('FAMILY') == '6' else socket.AF_INET
typ = socket.SOCK_DGRAM if e.get('TYPE') == 'udp' else socket.SOCK_STREAM
s = socket.socket(fam, typ)
t = time.monotonic()
try:
    s.bind((e.get('HOST', ''), int(e['PORT'])))
except OSError as err:
    ms = round((time.monotonic() - t) * 1000)
    print('bind-error', err.errno, ms, flush=True)
    sys.exit(3)
if typ == socket.SOCK_STREAM:
    s.listen()
nonblock = int(bool(fcntl.fcntl(s.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK))
print('bound', s.getsockname()[1], os.fstat(s.fileno()).st_ino, os.getpid(),
      nonblock, int(os.get_inheritable(s.fileno())), flush=True)
if e.get('SERVE'):
    c, _ = s.accept()
    c.sendall(b'hello from %d' % os.getpid())
    c.close()
)py";

constexpr char kNodeApp[] =
    "require('http').createServer((q,r)=>r.end(String(process.pid)))"
    ".listen(+process.env.PORT)";

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

int PollMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

ino_t InodeOf(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return st.st_ino;
}

struct Listener {
  UniqueFd fd;
  int port = 0;
  ino_t ino = 0;
};

// A loopback listener with SO_REUSEPORT, as corefork's per-slot sockets are.
Listener MakeListener(int family, int extra_type_flags = 0) {
  Listener l;
  l.fd = UniqueFd(
      socket(family, SOCK_STREAM | SOCK_CLOEXEC | extra_type_flags, 0));
  int on = 1;
  setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof(*a);
  }
  if (bind(l.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      listen(l.fd.get(), 16) != 0) {
    return Listener();
  }
  getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  l.port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  l.ino = InodeOf(l.fd.get());
  return l;
}

// One real process in its own process group (so wrappers' children die with
// it), stdout and stderr captured. Killed at destruction if still running.
class Child {
 public:
  Child(const std::vector<std::string>& argv,
        const std::vector<std::string>& env, int listener_fd) {
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    args.push_back(nullptr);
    envp.push_back(nullptr);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {  // async-signal-safe calls only until exec
      setpgid(0, 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      // dup2 onto itself would keep FD_CLOEXEC: clear it instead.
      if (listener_fd == kInheritedFd) fcntl(listener_fd, F_SETFD, 0);
      if (listener_fd >= 0) dup2(listener_fd, kInheritedFd);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = UniqueFd(out[0]);
    err_ = UniqueFd(err[0]);
    pidfd_ = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_text_; }
  const std::string& err() const { return err_text_; }

  // Reads output until done() holds or the deadline passes.
  bool PumpUntil(const std::function<bool()>& done,
                 Clock::time_point deadline = Clock::now() + kDeadline) {
    while (!done()) {
      std::array<pollfd, 3> fds{{{out_.get(), POLLIN, 0},
                                 {err_.get(), POLLIN, 0},
                                 {pidfd_.get(), POLLIN, 0}}};
      if (poll(fds.data(), fds.size(), PollMs(deadline)) <= 0) return done();
      ReadInto(out_, fds[0].revents, out_text_);
      ReadInto(err_, fds[1].revents, err_text_);
      if (fds[2].revents != 0 && waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        pidfd_ = UniqueFd();
      }
    }
    return true;
  }

  // The first stdout line, once complete.
  std::string FirstLine() {
    PumpUntil([&] { return out_text_.find('\n') != std::string::npos; });
    return out_text_.substr(0, out_text_.find('\n'));
  }

  // Exit code after all output, or -1 on timeout or signal.
  int Wait() {
    bool ok =
        PumpUntil([&] { return exited_ && out_.get() < 0 && err_.get() < 0; });
    return ok && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  static void ReadInto(UniqueFd& fd, short revents, std::string& text) {
    if (revents == 0) return;
    char buf[4096];
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n > 0 && text.size() < (1u << 20)) text.append(buf, n);
    if (n == 0 || (n < 0 && errno != EINTR)) fd = UniqueFd();
  }

  pid_t pid_ = -1;
  UniqueFd out_, err_, pidfd_;
  std::string out_text_, err_text_;
  bool exited_ = false;
  int status_ = 0;
};

struct Datagram {
  std::string text;
  pid_t pid = 0;
  sockaddr_un from{};
  socklen_t from_len = 0;
};

// Plays corefork's notify socket: SO_PASSCRED, so every datagram carries the
// sender's pid, as the supervisor sees it.
class FakeCorefork {
 public:
  // abstract: bound in the abstract namespace, named "@..." as systemd does.
  explicit FakeCorefork(bool abstract = false) {
    char tmpl[] = "/tmp/shim_test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = abstract ? "@" + dir_ : dir_ + "/notify.sock";
    fd_ = UniqueFd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int on = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, path_.c_str(), path_.size());
    if (abstract) a.sun_path[0] = '\0';
    bind(fd_.get(), reinterpret_cast<sockaddr*>(&a),
         offsetof(sockaddr_un, sun_path) + path_.size() + (abstract ? 0 : 1));
  }
  ~FakeCorefork() { std::filesystem::remove_all(dir_); }

  std::string env() const { return "NOTIFY_SOCKET=" + path_; }
  const std::string& dir() const { return dir_; }

  // The next datagram, or nothing by the deadline (now: only what is queued).
  std::optional<Datagram> Receive(Clock::time_point deadline) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, PollMs(deadline)) != 1) return std::nullopt;
    Datagram d;
    char text[512];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{text, sizeof(text)};
    msghdr msg{};
    msg.msg_name = &d.from;
    msg.msg_namelen = sizeof(d.from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    d.text.assign(text, n);
    d.from_len = msg.msg_namelen;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c != nullptr && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      d.pid = cred.pid;
    }
    return d;
  }
  std::optional<Datagram> Receive() {
    return Receive(Clock::now() + kDeadline);
  }

  // Answers a COREFORK_LISTENER request: text, plus fd in SCM_RIGHTS if >= 0.
  bool Reply(const Datagram& to, const std::string& text, int fd) {
    iovec iov{const_cast<char*>(text.data()), text.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr_un*>(&to.from);
    msg.msg_namelen = to.from_len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) ==
           static_cast<ssize_t>(text.size());
  }

 private:
  std::string dir_, path_;
  UniqueFd fd_;
};

// The worker environment corefork gives: the listener at kInheritedFd. Entries
// in extra replace defaults with the same name (no duplicates: getenv takes
// the first, some runtimes the last).
std::vector<std::string> ShimEnv(const Listener& l, const FakeCorefork* fake,
                                 const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env = {
      "PATH=/usr/bin:/bin", std::string("LD_PRELOAD=") + COREFORK_SHIM_PATH,
      "COREFORK_SHIM_PORTS=" + std::to_string(l.port) + ":" +
          std::to_string(kInheritedFd),
      "PORT=" + std::to_string(l.port)};
  if (fake != nullptr) env.push_back(fake->env());
  for (const std::string& e : extra) {
    std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(env,
                  [&](const std::string& d) { return d.starts_with(name); });
    env.push_back(e);
  }
  return env;
}

std::vector<std::string> Split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Connects to the listener's port and returns everything the app sends back
// (a request is sent first when one is given).
std::string Exchange(const Listener& l, int family, const std::string& req) {
  UniqueFd s(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    *a = sockaddr_in{};
    a->sin_family = AF_INET;
    a->sin_port = htons(l.port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(l.port);
    a->sin6_addr = in6addr_loopback;
    len = sizeof(*a);
  }
  // The listener queues the connection whether or not the app has got to
  // accept() yet, so no wait for the app is needed before connecting.
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return "";
  if (!req.empty()) send(s.get(), req.data(), req.size(), MSG_NOSIGNAL);
  std::string got;
  auto deadline = Clock::now() + kDeadline;
  for (char buf[4096];;) {
    pollfd p{s.get(), POLLIN, 0};
    if (poll(&p, 1, PollMs(deadline)) != 1) return got + "<timeout>";
    ssize_t n = read(s.get(), buf, sizeof(buf));
    if (n <= 0) return got;
    got.append(buf, n);
  }
}

std::string HttpBody(const Listener& l, int family) {
  std::string r = Exchange(l, family, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
  auto at = r.find("\r\n\r\n");
  return at == std::string::npos ? r : r.substr(at + 4);
}

std::string Listening(const Listener& l) {
  return "COREFORK_LISTENING=" + std::to_string(l.port);
}

TEST(ListenShim, PythonWildcardBindGetsTheInheritedListener) {
  // Non-blocking here, while python wants a blocking socket: the shim must
  // carry the app's choice onto the shared description.
  Listener l = MakeListener(AF_INET, SOCK_NONBLOCK);
  ASSERT_GT(l.port, 0);
  FakeCorefork fake;
  Child app({kPython, "-c", kProbe}, ShimEnv(l, &fake, {"SERVE=1"}),
            l.fd.get());
  auto words = Split(app.FirstLine());
  ASSERT_EQ(words.size(), 6u) << app.out() << app.err();
  EXPECT_EQ(words[0], "bound");
  EXPECT_EQ(words[1], std::to_string(l.port));
  EXPECT_EQ(words[2], std::to_string(l.ino)) << "not the inherited socket";
  EXPECT_EQ(words[4], "0") << "O_NONBLOCK not taken from the app's socket";
  EXPECT_EQ(words[5], "0") << "FD_CLOEXEC not taken from the app's socket";
  EXPECT_EQ(fcntl(l.fd.get(), F_GETFL) & O_NONBLOCK, 0);
  // The inherited fd was usable, so corefork is not asked: the first
  // datagram is the listen report, from the app itself.
  auto report = fake.Receive();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->text, Listening(l));
  EXPECT_EQ(report->pid, app.pid());
  // The app's listen() (python's default backlog, 128) must leave the
  // socket's queue as corefork made it (16): it holds the connections that
  // wait while a slot's worker restarts. For a listening socket TCP_INFO's
  // tcpi_sacked is the maximum backlog.
  tcp_info info{};
  socklen_t info_len = sizeof info;
  ASSERT_EQ(getsockopt(l.fd.get(), IPPROTO_TCP, TCP_INFO, &info, &info_len), 0);
  EXPECT_EQ(info.tcpi_sacked, 16u) << "the app's backlog replaced ours";
  EXPECT_EQ(Exchange(l, AF_INET, ""),
            "hello from " + std::to_string(app.pid()));
  EXPECT_EQ(app.Wait(), 0) << app.err();
  EXPECT_EQ(app.err(), "");
}

TEST(ListenShim, AbstractNotifySocket) {
  Listener l = MakeListener(AF_INET);
  ASSERT_GT(l.port, 0);
  FakeCorefork fake(/*abstract=*/true);
  Child app({kPython, "-c", kProbe}, ShimEnv(l, &fake), l.fd.get());
  auto report = fake.Receive();
  ASSERT_TRUE(report.has_value()) << app.err();
  EXPECT_EQ(report->text, Listening(l));
  EXPECT_EQ(report->pid, app.pid());
  EXPECT_EQ(app.Wait(), 0) << app.err();
}

TEST(ListenShim, AnyAddressAndEitherFamily) {
  struct Case {
    const char* name;
    int listener_family;
    const char* app_family;
    const char* host;
  } cases[] = {
      {"ipv4 loopback", AF_INET, "4", "127.0.0.1"},
      {"ipv6 wildcard on ipv4 listener", AF_INET, "6", "::"},
      {"ipv4 wildcard on ipv6 listener", AF_INET6, "4", "0.0.0.0"},
      {"ipv6 loopback on ipv6 listener", AF_INET6, "6", "::1"},
  };
  for (const Case& c : cases) {
    Listener l = MakeListener(c.listener_family);
    ASSERT_GT(l.port, 0) << c.name;
    Child app({kPython, "-c", kProbe},
              ShimEnv(l, nullptr,
                      {std::string("FAMILY=") + c.app_family,
                       std::string("HOST=") + c.host}),
              l.fd.get());
    auto words = Split(app.FirstLine());
    ASSERT_EQ(words.size(), 6u) << c.name << app.out() << app.err();
    EXPECT_EQ(words[1], std::to_string(l.port)) << c.name;
    EXPECT_EQ(words[2], std::to_string(l.ino)) << c.name;
    EXPECT_EQ(app.Wait(), 0) << c.name << app.err();
  }
}

TEST(ListenShim, NodeServesOnTheInheritedListener) {
  Listener l = MakeListener(AF_INET);
  ASSERT_GT(l.port, 0);
  FakeCorefork fake;
  Child app({kNode, "-e", kNodeApp}, ShimEnv(l, &fake), l.fd.get());
  // Node binds '::' by default: an IPv6 socket on this IPv4 listener.
  EXPECT_EQ(HttpBody(l, AF_INET), std::to_string(app.pid())) << app.err();
  auto report = fake.Receive();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->text, Listening(l));
  EXPECT_EQ(report->pid, app.pid());
}

TEST(ListenShim, ShellExecPassesTheFdThrough) {
  Listener l = MakeListener(AF_INET);
  ASSERT_GT(l.port, 0);
  FakeCorefork fake;
  auto env = ShimEnv(l, &fake, {"SERVE=1", std::string("PROBE=") + kProbe});
  Child app({"/bin/sh", "-c", "exec /usr/bin/python3 -c \"$PROBE\""}, env,
            l.fd.get());
  auto words = Split(app.FirstLine());
  ASSERT_EQ(words.size(), 6u) << app.out() << app.err();
  EXPECT_EQ(words[2], std::to_string(l.ino));
  auto report = fake.Receive();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->text, Listening(l)) << "corefork asked, fd was there";
  EXPECT_EQ(Exchange(l, AF_INET, ""),
            "hello from " + std::to_string(app.pid()));
  EXPECT_EQ(app.Wait(), 0) << app.err();
}

// Wrappers that close fds (npm, yarn: libuv passes only 0-2; here python's
// close_fds and node's spawn): the app asks corefork, which answers with the
// listener in SCM_RIGHTS.
TEST(ListenShim, WrapperThatClosesFdsGetsTheListenerFromCorefork) {
  const std::string py_wrapper =
      "import subprocess, sys; "
      "sys.exit(subprocess.call(sys.argv[1:], close_fds=True))";
  const std::string node_wrapper =
      "require('child_process').spawn(process.argv[1], "
      "process.argv.slice(2), {stdio: 'inherit'})"
      ".on('exit', c => process.exit(c))";
  struct Case {
    const char* name;
    std::vector<std::string> argv;
    bool http;
  } cases[] = {
      {"python close_fds",
       {kPython, "-c", py_wrapper, kPython, "-c", kProbe},
       false},
      {"node spawn", {kNode, "-e", node_wrapper, kNode, "-e", kNodeApp}, true},
  };
  for (const Case& c : cases) {
    Listener l = MakeListener(AF_INET);
    ASSERT_GT(l.port, 0) << c.name;
    FakeCorefork fake;
    Child wrapper(c.argv, ShimEnv(l, &fake, {"SERVE=1"}), l.fd.get());
    auto ask = fake.Receive();
    ASSERT_TRUE(ask.has_value()) << c.name << wrapper.err();
    EXPECT_EQ(ask->text, "COREFORK_LISTENER=" + std::to_string(l.port));
    EXPECT_NE(ask->pid, wrapper.pid()) << c.name << ": asked by the wrapper";
    ASSERT_TRUE(fake.Reply(*ask, "OK", l.fd.get())) << c.name;
    auto report = fake.Receive();
    ASSERT_TRUE(report.has_value()) << c.name << wrapper.err();
    EXPECT_EQ(report->text, Listening(l)) << c.name;
    EXPECT_EQ(report->pid, ask->pid) << c.name;
    std::string app_pid = std::to_string(ask->pid);
    if (c.http) {
      EXPECT_EQ(HttpBody(l, AF_INET), app_pid) << c.name << wrapper.err();
    } else {
      auto words = Split(wrapper.FirstLine());
      ASSERT_EQ(words.size(), 6u) << c.name << wrapper.out() << wrapper.err();
      EXPECT_EQ(words[2], std::to_string(l.ino)) << c.name;
      EXPECT_EQ(Exchange(l, AF_INET, ""), "hello from " + app_pid) << c.name;
      EXPECT_EQ(wrapper.Wait(), 0) << c.name << wrapper.err();
    }
  }
}

// No usable listener: one line on stderr, then the real bind, which fails as
// it would without the shim.
TEST(ListenShim, NoListenerFallsBackToTheRealBind) {
  struct Case {
    const char* name;
    bool notify_socket;
    const char* reply;  // nullptr: corefork never answers
    bool send_fd;       // a non-listening fd, in an "OK" reply
    const char* reason;
  } cases[] = {
      {"no notify socket", false, nullptr, false,
       "no inherited listener and NOTIFY_SOCKET is not set"},
      {"corefork silent", true, nullptr, false,
       "corefork did not answer within 300 ms"},
      {"corefork refuses", true, "ERR port not served", false,
       "corefork refused: port not served"},
      {"corefork sends a non-listener", true, "OK", true,
       "corefork sent an unusable reply"},
  };
  for (const Case& c : cases) {
    Listener l = MakeListener(AF_INET);
    ASSERT_GT(l.port, 0) << c.name;
    FakeCorefork fake;
    auto env = ShimEnv(l, c.notify_socket ? &fake : nullptr,
                       {"HOST=127.0.0.1", "COREFORK_SHIM_TIMEOUT_MS=300"});
    Child app({kPython, "-c", kProbe}, env, /*listener_fd=*/-1);
    if (c.reply != nullptr) {
      auto ask = fake.Receive();
      ASSERT_TRUE(ask.has_value()) << c.name;
      UniqueFd not_listening(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      fake.Reply(*ask, c.reply, c.send_fd ? not_listening.get() : -1);
    }
    auto words = Split(app.FirstLine());
    ASSERT_EQ(words.size(), 3u) << c.name << app.out() << app.err();
    EXPECT_EQ(words[0], "bind-error") << c.name;
    EXPECT_EQ(words[1], std::to_string(EADDRINUSE)) << c.name;
    EXPECT_LT(std::stoi(words[2]), 1500) << c.name << ": waited too long";
    EXPECT_EQ(app.Wait(), 3) << c.name;
    EXPECT_EQ(app.err(), "corefork-listen: cannot take over port " +
                             std::to_string(l.port) + ": " + c.reason + "\n")
        << c.name;
  }
}

TEST(ListenShim, TimeoutIsHonoured) {
  Listener l = MakeListener(AF_INET);
  ASSERT_GT(l.port, 0);
  FakeCorefork fake;  // never answers
  Child app({kPython, "-c", kProbe},
            ShimEnv(l, &fake, {"COREFORK_SHIM_TIMEOUT_MS=300"}), -1);
  auto words = Split(app.FirstLine());
  ASSERT_EQ(words.size(), 3u) << app.out() << app.err();
  EXPECT_GE(std::stoi(words[2]), 290);
  EXPECT_LT(std::stoi(words[2]), 1500);
}

// Other ports, UDP on the same number, unix sockets: as without the shim.
TEST(ListenShim, EverythingElsePassesThrough) {
  struct Case {
    const char* name;
    std::vector<std::string> env;
    bool same_port;
  } cases[] = {
      {"port 0", {"HOST=127.0.0.1", "PORT=0"}, false},
      {"udp on the same port", {"HOST=127.0.0.1", "TYPE=udp"}, true},
  };
  for (const Case& c : cases) {
    Listener l = MakeListener(AF_INET);
    ASSERT_GT(l.port, 0) << c.name;
    FakeCorefork fake;
    Child app({kPython, "-c", kProbe}, ShimEnv(l, &fake, c.env), l.fd.get());
    auto words = Split(app.FirstLine());
    ASSERT_EQ(words.size(), 6u) << c.name << app.out() << app.err();
    EXPECT_EQ(words[1] == std::to_string(l.port), c.same_port) << c.name;
    EXPECT_NE(words[2], std::to_string(l.ino)) << c.name;
    EXPECT_EQ(app.Wait(), 0) << c.name << app.err();
    EXPECT_FALSE(fake.Receive(Clock::now()).has_value()) << c.name;
  }
  Listener l = MakeListener(AF_INET);
  FakeCorefork fake;
  std::string path = fake.dir() + "/app.sock";
  Child unix_app({kPython, "-c",
                  "import socket, sys; s = socket.socket(socket.AF_UNIX); "
                  "s.bind(sys.argv[1]); s.listen(); print(s.getsockname())",
                  path},
                 ShimEnv(l, &fake), l.fd.get());
  EXPECT_EQ(unix_app.Wait(), 0) << unix_app.err();
  EXPECT_EQ(unix_app.out(), path + "\n");
  EXPECT_FALSE(fake.Receive(Clock::now()).has_value());
}

TEST(ListenShim, WithoutItsEnvironmentTheShimDoesNothing) {
  struct Case {
    const char* name;
    const char* ports;  // nullptr: unset
  } cases[] = {{"unset", nullptr}, {"malformed", "8080:x"}, {"empty", ""}};
  for (const Case& c : cases) {
    Listener l = MakeListener(AF_INET);
    ASSERT_GT(l.port, 0) << c.name;
    std::vector<std::string> env = {
        "PATH=/usr/bin:/bin", std::string("LD_PRELOAD=") + COREFORK_SHIM_PATH,
        "PORT=" + std::to_string(l.port), "HOST=127.0.0.1"};
    if (c.ports != nullptr) {
      env.push_back(std::string("COREFORK_SHIM_PORTS=") + c.ports);
    }
    Child app({kPython, "-c", kProbe}, env, l.fd.get());
    EXPECT_EQ(app.Wait(), 3) << c.name << app.out();
    auto words = Split(app.out());
    ASSERT_EQ(words.size(), 3u) << c.name << app.out();
    EXPECT_EQ(words[1], std::to_string(EADDRINUSE)) << c.name;
    EXPECT_EQ(app.err(), "") << c.name;
  }
}

// The shim is loaded into other people's processes: it must bring no C++
// runtime and export nothing but the two calls it interposes.
TEST(ListenShim, SharedObjectNeedsOnlyLibc) {
  const std::string so = COREFORK_SHIM_PATH;
  Child readelf({"/usr/bin/readelf", "-d", so}, {}, -1);
  ASSERT_EQ(readelf.Wait(), 0) << readelf.err();
  std::istringstream lines(readelf.out());
  int needed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    needed++;
    EXPECT_TRUE(line.find("[libc.so.6]") != std::string::npos ||
                line.find("[libdl.so.2]") != std::string::npos)
        << line;
  }
  EXPECT_GE(needed, 1);
  Child nm({"/usr/bin/nm", "-D", "--defined-only", so}, {}, -1);
  ASSERT_EQ(nm.Wait(), 0) << nm.err();
  std::vector<std::string> symbols;
  std::istringstream nm_lines(nm.out());
  for (std::string line; std::getline(nm_lines, line);) {
    symbols.push_back(Split(line).back());
  }
  EXPECT_EQ(symbols, (std::vector<std::string>{"bind", "listen"}));
}

}  // namespace
