// Steering: which slot's socket gets a new connection (net/steering.h).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "net/steering.h"
#include "supervisor/supervisor.h"

namespace corefork {
namespace {

// How long a connection may still be in its handshake after the program
// stopped sending new ones to a slot: a SYN already taken lands in the
// slot's queue when the handshake completes.
constexpr std::chrono::milliseconds kHandshakeGrace{200};
constexpr int kSelfTestMs = 2000;

LinePorts LinesOf(const Config& config) {
  LinePorts lines;
  lines.base = static_cast<uint16_t>(config.steering.line_ports);
  lines.ports_per_slot = 4;
  return lines;
}

}  // namespace

void Supervisor::SetUpSteering() {
  if (config_.steering.mode == SteeringMode::kOff) return;
  const ListenerSet& listeners = *context_.listeners;
  for (size_t i = 0; i < listeners.configs().size(); ++i) {
    const std::vector<int> group = listeners.Group(i);
    if (group.empty()) continue;
    // Until a worker is ready the kernel spreads over all slots, as without
    // a program; lines already reach their slot, which the self-test needs.
    if (!AttachSteeringTo(i, {})) return;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    getsockname(group[0], reinterpret_cast<sockaddr*>(&local), &length);
    const bool ipv6 = local.ss_family == AF_INET6;
    if (i == 0) lines_ipv6_ = ipv6;
    Status s = SelfTest(group, listeners.configs()[i].port, ipv6,
                        LinesOf(config_), kSelfTestMs);
    if (!s.ok()) return StopSteering(s.message());
    steering_ = true;
  }
  if (steering_) {
    spdlog::info(
        "steering: new connections go to ready workers only; lines "
        "to each worker from ports {}+",
        config_.steering.line_ports);
  }
}

bool Supervisor::AttachSteeringTo(size_t listener,
                                  const std::vector<int>& serving) {
  const std::vector<int> group = context_.listeners->Group(listener);
  if (group.empty()) {
    StopSteering("listener " + context_.listeners->configs()[listener].name +
                 "'s sockets are not in slot order");
    return false;
  }
  SteeringPlan plan;
  plan.group_size = static_cast<int>(group.size());
  for (int slot : serving) {
    if (slot < plan.group_size) plan.serving.push_back(slot);
  }
  plan.lines = LinesOf(config_);
  Result<std::vector<sock_filter>> program = BuildSteeringProgram(plan);
  Status s =
      program.ok() ? AttachSteering(group[0], *program) : program.status();
  if (!s.ok()) {
    StopSteering(s.message());
    return false;
  }
  return true;
}

void Supervisor::StopSteering(const std::string& why) {
  if (steering_ || config_.steering.mode != SteeringMode::kOff) {
    spdlog::warn(
        "steering off: {}; the kernel spreads new connections over "
        "every slot",
        why);
  }
  steering_ = false;
  // A program that stays attached would still pick slots: detach it.
  const ListenerSet& listeners = *context_.listeners;
  for (size_t i = 0; i < listeners.configs().size(); ++i) {
    for (int fd : listeners.Group(i)) {
      int unused = 0;
      setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused,
                 sizeof unused);
      break;
    }
  }
}

void Supervisor::UpdateSteering() {
  if (!steering_ || phase_ == Phase::kStopping) return;
  std::vector<int> serving;
  for (int id = 0; id < desired_; ++id) {
    Worker* w = PrimaryWorker(id);
    // A worker whose last probe failed gets no new connections while it
    // is given its remaining chances (and replaced).
    if (w != nullptr && w->state == WorkerState::kReady &&
        w->probe_failures == 0) {
      serving.push_back(id);
    }
  }
  const ListenerSet& listeners = *context_.listeners;
  std::vector<size_t> groups;
  for (size_t i = 0; i < listeners.configs().size(); ++i) {
    groups.push_back(listeners.Group(i).size());
  }
  if (serving == steered_ && groups == steered_groups_) return;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (listeners.configs()[i].mode != ShareMode::kReusePort) continue;
    if (!AttachSteeringTo(i, serving)) return;
  }
  spdlog::debug("steering: new connections to {} of {} slot(s)", serving.size(),
                groups.empty() ? 0 : groups.front());
  steered_ = std::move(serving);
  steered_groups_ = std::move(groups);
}

LinesView Supervisor::Lines() const {
  LinesView lines;
  const ListenerSet& listeners = *context_.listeners;
  if (!steering_ || listeners.configs().empty()) return lines;
  const std::vector<int> group = listeners.Group(0);
  if (group.empty()) return lines;
  lines.on = true;
  lines.port = listeners.configs()[0].port;
  lines.ipv6 = lines_ipv6_;
  lines.line_base = config_.steering.line_ports;
  lines.group_size = static_cast<int>(group.size());
  return lines;
}

size_t Supervisor::QueuedConnections(int slot) const {
  size_t queued = 0;
  for (int fd : context_.listeners->FdsForSlot(slot)) {
    tcp_info info{};
    socklen_t length = sizeof info;
    // On a listening socket, tcpi_unacked is its accept queue's length.
    if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0) {
      queued += info.tcpi_unacked;
    }
  }
  return queued;
}

// Workers of slots above desired_ keep accepting until the program sends
// their slot nothing new and its queue is empty; then they stop, and their
// sockets close with nothing in them. Without steering they stop at once.
void Supervisor::RetireLeavingWorkers() {
  for (auto& [pid, worker] : workers_) {
    if (worker.slot < desired_ || worker.retiring) continue;
    Slot& slot = slots_[worker.slot];
    if (slot.leaving_since == TimePoint{}) slot.leaving_since = now_;
    const bool settled = now_ >= slot.leaving_since + kHandshakeGrace &&
                         QueuedConnections(worker.slot) == 0;
    const bool overdue = now_ >= slot.leaving_since + config_.shutdown.timeout;
    if (!steering_ || worker.state != WorkerState::kReady || settled ||
        overdue) {
      Retire(worker, "scaled down to " + std::to_string(desired_));
    }
  }
}

}  // namespace corefork
