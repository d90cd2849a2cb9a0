#include "admin/control_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "admin/control_routes.h"
#include "admin/http_lite.h"
#include "admin/task_pool.h"
#include "os/fd.h"

namespace corefork {
namespace {

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return Status::Error("control: no socket path");
  if (path.size() >= sizeof addr.sun_path) {
    return Status::Error("control socket path " + path + " is too long (" +
                         std::to_string(path.size()) + " bytes, at most " +
                         std::to_string(sizeof addr.sun_path - 1) + ")");
  }
  path.copy(addr.sun_path, path.size());
  return addr;
}

// mkdir -p of the socket's directory; directories made here are 0700.
Status MakeParentDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return PosixError("control: mkdir " + dir);
    }
  }
  return Status::Ok();
}

// Refuses a path where a server answers; removes a stale socket file.
Status ClaimPath(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::Ok() : PosixError("control: stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::Error("control: " + path + " exists and is not a socket");
  }
  Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return PosixError("control: socket");
  if (connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr),
              sizeof addr) == 0) {
    return Status::Error("control socket " + path +
                         " is in use by another process");
  }
  if (errno != ECONNREFUSED) return PosixError("control: connect " + path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PosixError("control: remove stale socket " + path);
  }
  return Status::Ok();
}

// Empty when the peer is our own user or root; else why it is refused.
std::string PeerRefusal(int fd) {
  ucred cred = {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return "cannot identify the peer";
  }
  if (cred.uid == 0 || cred.uid == geteuid()) return "";
  return "uid " + std::to_string(cred.uid) +
         " may not use this socket (only uid " + std::to_string(geteuid()) +
         " or root)";
}

// After an error response while the client may still be sending: stop
// writing, then read what comes for a moment so that closing does not turn
// into a reset that could cost the client our response.
void LingerClose(int fd, int stop_fd) {
  shutdown(fd, SHUT_WR);
  auto deadline = HttpClock::now() + std::chrono::milliseconds(500);
  char buf[4096];
  for (int i = 0; i < 256; ++i) {
    if (WaitReady(fd, POLLIN, deadline, stop_fd) != IoResult::kOk) return;
    if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) return;
  }
}

}  // namespace

struct ControlServer::Impl {
  ControlOptions options;
  CommandQueue* commands;
  Router router;
  Fd listen_fd;
  Fd stop_fd;  // eventfd; readable once Stop() began
  ino_t socket_inode = 0;
  std::unique_ptr<TaskPool> pool;
  std::thread listener;

  std::mutex mu;
  std::condition_variable slot_freed;
  int active = 0;  // connections being served
  bool stopping = false;

  Status Bind(const sockaddr_un& addr);
  void Listen();
  bool AcquireSlot();
  void ReleaseSlot();
  void Serve(Fd conn);
  HttpResponse Respond(int fd, RequestParser& parser, IoResult read);
};

Status ControlServer::Impl::Bind(const sockaddr_un& addr) {
  const std::string& path = options.path;
  listen_fd.Reset(
      socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd.valid()) return PosixError("control: socket");
  if (bind(listen_fd.get(), reinterpret_cast<const sockaddr*>(&addr),
           sizeof addr) != 0) {
    return PosixError("control: bind " + path);
  }
  // Not listening yet, so nobody can connect before the mode is tight.
  struct stat st;
  if (chmod(path.c_str(), 0600) != 0 || lstat(path.c_str(), &st) != 0) {
    return PosixError("control: chmod 0600 " + path);
  }
  socket_inode = st.st_ino;
  if (listen(listen_fd.get(), options.listen_backlog) != 0) {
    return PosixError("control: listen " + path);
  }
  return Status::Ok();
}

bool ControlServer::Impl::AcquireSlot() {
  std::unique_lock<std::mutex> lock(mu);
  slot_freed.wait(lock,
                  [&] { return stopping || active < options.max_connections; });
  if (stopping) return false;
  ++active;
  return true;
}

void ControlServer::Impl::ReleaseSlot() {
  std::lock_guard<std::mutex> lock(mu);
  --active;
  slot_freed.notify_all();
}

// The listener thread. It takes a connection only when a handler slot is
// free, so beyond max_connections clients wait in the kernel's backlog.
void ControlServer::Impl::Listen() {
  while (AcquireSlot()) {
    IoResult ready = WaitReady(listen_fd.get(), POLLIN,
                               HttpClock::time_point::max(), stop_fd.get());
    if (ready != IoResult::kOk) {
      ReleaseSlot();
      if (ready == IoResult::kStopped) return;
      continue;
    }
    int fd = accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      ReleaseSlot();
      if (errno == EMFILE || errno == ENFILE) {  // wait, do not spin
        spdlog::warn("control: accept: {}", std::strerror(errno));
        WaitReady(stop_fd.get(), POLLIN,
                  HttpClock::now() + std::chrono::milliseconds(100), -1);
      }
      continue;
    }
    pool->Enqueue([this, fd] {
      Serve(Fd(fd));
      ReleaseSlot();
    });
  }
}

void ControlServer::Impl::Serve(Fd conn) {
  HttpLimits limits{options.max_header_bytes, options.max_body_bytes};
  RequestParser parser(limits);
  IoResult read =
      ReadRequest(conn.get(), parser, HttpClock::now() + options.read_timeout,
                  stop_fd.get());
  if (read != IoResult::kOk && read != IoResult::kTimeout) return;
  HttpResponse response = Respond(conn.get(), parser, read);
  IoResult written =
      WriteAll(conn.get(), FormatResponse(response),
               HttpClock::now() + options.write_timeout, stop_fd.get());
  if (written == IoResult::kOk &&
      parser.state() == RequestParser::State::kError) {
    LingerClose(conn.get(), stop_fd.get());
  }
}

HttpResponse ControlServer::Impl::Respond(int fd, RequestParser& parser,
                                          IoResult read) {
  if (read == IoResult::kTimeout) {
    return ErrorResponse(408, "request not received within " +
                                  std::to_string(options.read_timeout.count()) +
                                  "ms");
  }
  if (std::string refusal = PeerRefusal(fd); !refusal.empty()) {
    return ErrorResponse(403, refusal);
  }
  if (parser.state() == RequestParser::State::kError) return parser.error();
  return router.Route(std::move(parser.request()));
}

ControlServer::ControlServer(ControlOptions options, CommandQueue* commands)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->commands = commands;
  AddControlRoutes(impl_->router, commands, impl_->options.command_timeout);
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Handle(std::string method, const std::string& pattern,
                           HttpHandler handler) {
  impl_->router.Handle(std::move(method), pattern, std::move(handler));
}

Status ControlServer::Start() {
  Impl& impl = *impl_;
  if (impl.listener.joinable())
    return Status::Error("control: already started");
  Result<sockaddr_un> addr = UnixAddress(impl.options.path);
  if (!addr.ok()) return addr.status();
  Status s = MakeParentDirs(impl.options.path);
  if (s.ok()) s = ClaimPath(impl.options.path, *addr);
  if (s.ok()) s = impl.Bind(*addr);
  if (!s.ok()) {
    impl.listen_fd.Reset();
    return s;
  }
  impl.stop_fd.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  impl.stopping = false;
  TaskPoolOptions pool;
  pool.min_threads = 1;
  pool.max_threads =
      static_cast<size_t>(std::max(impl.options.max_connections, 1));
  impl.options.max_connections = static_cast<int>(pool.max_threads);
  impl.pool = std::make_unique<TaskPool>(pool);
  impl.listener = std::thread([&impl] { impl.Listen(); });
  return Status::Ok();
}

void ControlServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.listener.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    impl.stopping = true;
  }
  impl.slot_freed.notify_all();
  uint64_t one = 1;
  ssize_t n = write(impl.stop_fd.get(), &one, sizeof one);
  (void)n;
  impl.listener.join();
  impl.pool->Shutdown();  // connections see stop_fd and end at once
  impl.listen_fd.Reset();
  // Unlink only our own socket: a newer server may have taken the path.
  struct stat st;
  if (lstat(impl.options.path.c_str(), &st) == 0 &&
      st.st_ino == impl.socket_inode) {
    unlink(impl.options.path.c_str());
  }
}

const std::string& ControlServer::path() const { return impl_->options.path; }

}  // namespace corefork
