#include "admin/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "admin/control_routes.h"
#include "admin/http_server.h"
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

}  // namespace

struct ControlServer::Impl {
  ControlOptions options;
  CommandQueue* commands;
  Router router;
  Fd listen_fd;
  ino_t socket_inode = 0;
  std::unique_ptr<HttpServer> server;

  Status Bind(const sockaddr_un& addr);
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
  return Status::Ok();
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
  if (impl.server) return Status::Error("control: already started");
  const ControlOptions& o = impl.options;
  Result<sockaddr_un> addr = UnixAddress(o.path);
  if (!addr.ok()) return addr.status();
  Status s = MakeParentDirs(o.path);
  if (s.ok()) s = ClaimPath(o.path, *addr);
  if (s.ok()) s = impl.Bind(*addr);
  if (!s.ok()) {
    impl.listen_fd.Reset();
    return s;
  }
  HttpServerOptions h;
  h.name = "control";
  h.max_header_bytes = o.max_header_bytes;
  h.max_body_bytes = o.max_body_bytes;
  h.header_timeout = o.read_timeout;
  h.body_timeout = o.read_timeout;
  h.write_timeout = o.write_timeout;
  h.idle_timeout = o.read_timeout;
  h.answer_timeout = o.command_timeout;
  h.keep_alive = false;  // every response closes (docs/endpoints.md)
  h.max_connections = static_cast<size_t>(std::max(o.max_connections, 1));
  h.max_long_waits = static_cast<size_t>(std::max(o.max_long_waits, 0));
  h.max_waiting = h.max_connections;
  h.listen_backlog = o.listen_backlog;
  h.check_peer = &PeerRefusal;
  auto server = std::make_unique<HttpServer>(
      h, [&impl](HttpRequest& req, Responder reply) {
        impl.router.Route(std::move(req), std::move(reply));
      });
  s = server->Start(std::move(impl.listen_fd));
  if (!s.ok()) return s.Wrap("control");
  impl.server = std::move(server);
  return Status::Ok();
}

void ControlServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.server) return;
  impl.server->Stop();
  impl.server.reset();
  // Unlink only our own socket: a newer server may have taken the path.
  struct stat st;
  if (lstat(impl.options.path.c_str(), &st) == 0 &&
      st.st_ino == impl.socket_inode) {
    unlink(impl.options.path.c_str());
  }
}

const std::string& ControlServer::path() const { return impl_->options.path; }

int ControlServer::connections() const {
  return impl_->server ? impl_->server->connections() : 0;
}

int ControlServer::waiting() const {
  return impl_->server ? impl_->server->waiting() : 0;
}

}  // namespace corefork
