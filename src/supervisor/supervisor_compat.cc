// Supervisor: drop-in compatibility for unmodified apps. The listen shim
// (src/shim/) asks for its slot's listener and reports listen() over the
// notify socket; Node apps get an IPC channel so process.send('ready') and
// PM2's 'shutdown' message work. Part of the event loop; see supervisor.h.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "config/values.h"
#include "loop/loop_tags.h"
#include "supervisor/supervisor.h"
#include "util/json.h"

namespace corefork {
namespace {

// A Node IPC message longer than this closes the channel: corefork only
// understands a few short ones, and must not buffer without bound.
// Bytes read from one IPC channel per loop turn (level-triggered epoll
// brings us back for the rest).
constexpr size_t kIpcReadPerTurn = 64 * 1024;

constexpr std::string_view kListenerRequest = "COREFORK_LISTENER=";
constexpr std::string_view kListening = "COREFORK_LISTENING=";

// The port of a shim message, or -1 when it is not one.
int PortOf(std::string_view text) {
  Result<int> port = ParsePort(text);
  return port.ok() ? *port : -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool Supervisor::OnShimMessage(Worker& worker,
                               const NotifySocket::Datagram& d) {
  std::string_view text = Trim(d.text);
  if (text.starts_with(kListening)) {
    int port = PortOf(text.substr(kListening.size()));
    spdlog::debug("worker {} (pid {}, sender {}) listens on port {}",
                  worker.slot, worker.pid, d.sender, port);
    if (port == context_.listeners->FirstPort() &&
        config_.ready.mode == ReadyMode::kListen) {
      MarkReady(worker);
    }
    return true;
  }
  if (!text.starts_with(kListenerRequest)) return false;
  int port = PortOf(text.substr(kListenerRequest.size()));
  const std::vector<ListenerConfig>& configs = context_.listeners->configs();
  std::vector<int> fds = context_.listeners->FdsForSlot(worker.slot);
  int fd = -1;
  for (size_t i = 0; i < configs.size() && i < fds.size(); ++i) {
    if (configs[i].port == port) fd = fds[i];
  }
  Status s = fd >= 0 ? notify_socket_->Reply(d.reply_address, "OK", fd)
                     : notify_socket_->Reply(
                           d.reply_address,
                           fmt::format("ERR slot {} has no listener on port {}",
                                       worker.slot, port),
                           -1);
  spdlog::debug("worker {}: pid {} asked for the listener on port {}: {}",
                worker.slot, d.sender, port,
                s.ok() ? (fd >= 0 ? "sent" : "none") : s.message());
  return true;
}

void Supervisor::AddCompatEnvironment(std::vector<std::string>* env,
                                      int next_fd) const {
  const CompatPlan& compat = context_.compat;
  if (compat.shim()) {
    auto preload = std::find_if(env->begin(), env->end(), [](const auto& e) {
      return e.starts_with("LD_PRELOAD=");
    });
    if (preload == env->end()) {
      env->push_back("LD_PRELOAD=" + compat.shim_path);
    } else {
      *preload =
          "LD_PRELOAD=" + AppendPreload(preload->substr(11), compat.shim_path);
    }
    std::vector<int> ports;
    for (const ListenerConfig& l : context_.listeners->configs()) {
      ports.push_back(l.port);
    }
    env->push_back("COREFORK_SHIM_PORTS=" + ShimPorts(ports, 3));
  }
  if (compat.node_ipc) {
    env->push_back("NODE_CHANNEL_FD=" + std::to_string(next_fd));
    env->push_back("NODE_CHANNEL_SERIALIZATION_MODE=json");
  }
}

Status Supervisor::OpenIpc(Fd* ours, Fd* child_end) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return PosixError("socketpair (Node IPC)");
  }
  ours->Reset(pair[0]);
  child_end->Reset(pair[1]);
  fcntl(ours->get(), F_SETFL, O_NONBLOCK);
  return Status::Ok();
}

void Supervisor::ReadIpc(uint64_t serial) {
  // Not `auto& [pid, worker]`: clang 14 cannot capture a structured
  // binding in the lambda below (C++20 P1091, clang 16+).
  for (auto& entry : workers_) {
    Worker& worker = entry.second;
    if (worker.serial != serial || !worker.ipc.valid()) continue;
    char buf[4096];
    size_t total = 0;
    ssize_t n = 0;
    while (total < kIpcReadPerTurn &&
           (n = read(worker.ipc.get(), buf, sizeof buf)) > 0) {
      total += static_cast<size_t>(n);
      bool closed = false;
      worker.ipc_lines.Feed(std::string_view(buf, static_cast<size_t>(n)),
                            [&](std::string_view line, bool cut) {
                              if (cut) {
                                CloseIpc(worker, "a message over 64 KiB");
                                closed = true;
                                return false;
                              }
                              OnIpcMessage(worker, std::string(line));
                              return true;
                            });
      if (closed) return;
    }
    if (n == 0) CloseIpc(worker, "");  // the app closed its end
    return;
  }
}

void Supervisor::OnIpcMessage(Worker& worker, const std::string& json) {
  std::string_view message = Trim(json);
  // process.send('ready'): PM2's wait_ready. Lines are at most 64 KiB (the
  // splitter's bound); a line that is not JSON is ignored like any other.
  Result<Json> parsed = JsonParse(message);
  if (parsed.ok() && parsed->is_string() &&
      parsed->get_ref<const std::string&>() == "ready") {
    MarkReady(worker);
    return;
  }
  spdlog::debug("worker {} (pid {}): ignored IPC message {:.120}", worker.slot,
                worker.pid, message);
}

void Supervisor::CloseIpc(Worker& worker, const std::string& why) {
  if (!why.empty()) {
    spdlog::warn("worker {} (pid {}): closing its IPC channel: {}", worker.slot,
                 worker.pid, why);
  }
  worker.ipc.Reset();  // also leaves the epoll set: the fd was ours only
  worker.ipc_lines.Reset();
}

void Supervisor::AskToStop(Worker& worker) {
  if (config_.shutdown.message && worker.ipc.valid()) {
    static constexpr char kShutdown[] = "\"shutdown\"\n";
    ssize_t n = send(worker.ipc.get(), kShutdown, sizeof kShutdown - 1,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof kShutdown - 1)) {
      spdlog::debug("worker {} (pid {}): sent 'shutdown'", worker.slot,
                    worker.pid);
      return;
    }
    spdlog::warn(
        "worker {} (pid {}): cannot send 'shutdown' over IPC; "
        "sending the stop signal instead",
        worker.slot, worker.pid);
  }
  kill(worker.pid, config_.shutdown.stop_signal);
}

std::string Supervisor::CrashLoopHint() const {
  const CompatPlan& compat = context_.compat;
  if (compat.shim() || compat.no_shim_reason.empty()) return "";
  return fmt::format(
      ". Likely cause: {}, so corefork cannot hand it the port; if it binds "
      "PORT itself that fails with EADDRINUSE (the port is already corefork's)."
      " Serve the socket at fd 3 (LISTEN_FDS) or bind with SO_REUSEPORT",
      compat.no_shim_reason);
}

}  // namespace corefork
