// ListenerSet: the listening sockets corefork binds before any worker starts
// and hands to workers as fds 3, 4, ... (systemd socket activation order =
// config order). A `shared` listener is one socket for every slot; a
// `reuseport` listener is one SO_REUSEPORT socket per worker slot, kept open
// by corefork while that slot's worker restarts so queued connections wait
// for the replacement instead of being reset. Owned by the event-loop thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "os/fd.h"
#include "util/status.h"

namespace corefork {

// Binds and listens on host:port (SOCK_CLOEXEC, SO_REUSEADDR, optionally
// SO_REUSEPORT; "::" is dual-stack). Errors read like
// "bind 0.0.0.0:8080: Address already in use".
Result<Fd> BindListener(const std::string& host, int port, int backlog,
                        bool reuseport);

// The local port a bound socket got (useful after binding port 0).
Result<int> LocalPort(int fd);

class ListenerSet {
 public:
  explicit ListenerSet(std::vector<ListenerConfig> configs);

  // Binds every listener, and the per-slot sockets of reuseport listeners
  // for slots 0..slots-1. Port 0 binds an ephemeral port once and reuses it.
  Status Open(int slots);
  // Makes sure a slot (e.g. after scaling up) has its reuseport sockets.
  Status EnsureSlot(int slot);
  // Closes a removed slot's reuseport sockets.
  void CloseSlot(int slot);
  // Closes every socket corefork holds (shutdown: stop new connections).
  void CloseAll();

  // The fds to pass to `slot`'s worker, in config order (-1 once closed).
  std::vector<int> FdsForSlot(int slot) const;
  // A reuseport listener's sockets in slot order: the kernel's reuseport
  // group, whose index is what a steering program returns. Empty for a
  // shared listener, or when some slot below the highest open one has no
  // socket (the group would not be in slot order: close from the top).
  std::vector<int> Group(size_t listener) const;
  // LISTEN_FDNAMES value: names joined by ':'.
  std::string FdNames() const;
  // Port of the first listener, as bound (for PORT).
  int FirstPort() const;
  const std::vector<ListenerConfig>& configs() const { return configs_; }

 private:
  Status BindSlotSocket(size_t listener, int slot);

  std::vector<ListenerConfig> configs_;  // port filled in after binding 0
  std::vector<Fd> shared_;               // per listener; empty when reuseport
  // Per reuseport listener: slot -> socket.
  std::vector<std::map<int, Fd>> per_slot_;
};

}  // namespace corefork
