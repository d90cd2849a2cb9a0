#include "net/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>

namespace corefork {
namespace {

std::string Address(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Status SetInt(int fd, int level, int option, int value, const char* name) {
  if (setsockopt(fd, level, option, &value, sizeof value) != 0) {
    return PosixError(std::string("setsockopt ") + name);
  }
  return Status::Ok();
}

}  // namespace

Result<Fd> BindListener(const std::string& host, int port, int backlog,
                        bool reuseport) {
  const std::string where = Address(host, port);
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(),
                       &hints, &found);
  if (rc != 0) {
    return Status::Error("resolve " + where + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found,
                                                           &freeaddrinfo);
  Fd fd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("socket " + where);
  Status s = SetInt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (s.ok() && reuseport) {
    s = SetInt(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
  }
  if (s.ok() && found->ai_family == AF_INET6) {
    // "::" should accept IPv4 too, whatever the sysctl default says.
    s = SetInt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
  }
  if (!s.ok()) return s.Wrap(where);
  if (bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    return PosixError("bind " + where);
  }
  if (listen(fd.get(), backlog) != 0) return PosixError("listen " + where);
  return fd;
}

Result<int> LocalPort(int fd) {
  sockaddr_storage addr = {};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return PosixError("getsockname");
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

ListenerSet::ListenerSet(std::vector<ListenerConfig> configs)
    : configs_(std::move(configs)),
      shared_(configs_.size()),
      per_slot_(configs_.size()) {}

Status ListenerSet::Open(int slots) {
  for (size_t i = 0; i < configs_.size(); ++i) {
    ListenerConfig& c = configs_[i];
    if (c.mode == ShareMode::kShared) {
      Result<Fd> fd = BindListener(c.host, c.port, c.backlog, false);
      if (!fd.ok()) return fd.status().Wrap("listener " + c.name);
      shared_[i] = std::move(fd).value();
      if (c.port == 0) c.port = LocalPort(shared_[i].get()).value();
      continue;
    }
    for (int slot = 0; slot < slots; ++slot) {
      Status s = BindSlotSocket(i, slot);
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status ListenerSet::BindSlotSocket(size_t listener, int slot) {
  ListenerConfig& c = configs_[listener];
  if (per_slot_[listener].count(slot) != 0) return Status::Ok();
  Result<Fd> fd = BindListener(c.host, c.port, c.backlog, true);
  if (!fd.ok()) return fd.status().Wrap("listener " + c.name);
  if (c.port == 0) {
    // Later slots must join the same ephemeral port's reuseport group.
    Result<int> port = LocalPort(fd->get());
    if (!port.ok()) return port.status();
    c.port = *port;
  }
  per_slot_[listener][slot] = std::move(fd).value();
  return Status::Ok();
}

Status ListenerSet::EnsureSlot(int slot) {
  for (size_t i = 0; i < configs_.size(); ++i) {
    if (configs_[i].mode != ShareMode::kReusePort) continue;
    Status s = BindSlotSocket(i, slot);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

void ListenerSet::CloseSlot(int slot) {
  for (auto& slots : per_slot_) slots.erase(slot);
}

void ListenerSet::CloseAll() {
  for (Fd& fd : shared_) fd.Reset();
  for (auto& slots : per_slot_) slots.clear();
}

std::vector<int> ListenerSet::FdsForSlot(int slot) const {
  std::vector<int> fds;
  for (size_t i = 0; i < configs_.size(); ++i) {
    if (configs_[i].mode == ShareMode::kShared) {
      fds.push_back(shared_[i].get());
      continue;
    }
    auto it = per_slot_[i].find(slot);
    fds.push_back(it == per_slot_[i].end() ? -1 : it->second.get());
  }
  return fds;
}

std::vector<int> ListenerSet::Group(size_t listener) const {
  std::vector<int> fds;
  if (configs_[listener].mode != ShareMode::kReusePort) return fds;
  for (const auto& [slot, fd] : per_slot_[listener]) {
    if (slot != static_cast<int>(fds.size())) return {};
    fds.push_back(fd.get());
  }
  return fds;
}

std::string ListenerSet::FdNames() const {
  std::string names;
  for (const ListenerConfig& c : configs_) {
    if (!names.empty()) names += ':';
    names += c.name;
  }
  return names;
}

int ListenerSet::FirstPort() const {
  return configs_.empty() ? 0 : configs_.front().port;
}

}  // namespace corefork
