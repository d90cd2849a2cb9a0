// Steering: the classic BPF program corefork attaches to a SO_REUSEPORT
// group (SO_ATTACH_REUSEPORT_CBPF) so that it, not the kernel's hash,
// decides which slot's socket gets each new connection:
//   - a connection from 127.0.0.0/8 or ::1 whose source port is one of
//     corefork's "line" ports goes to the slot that port names, so corefork
//     can talk to one particular worker through the shared port;
//   - every other connection is spread over the serving slots only (ready
//     workers), so dead, starting and draining slots get none.
// The program returns an index into the group's socket array, which is the
// order in which the sockets started listening; corefork keeps that order
// equal to slot order (bind in order, close from the top) and checks it with
// SelfTest(). Pure functions plus two syscalls; any thread.
#pragma once

#include <linux/filter.h>
#include <netinet/in.h>

#include <cstdint>
#include <vector>

#include "os/fd.h"
#include "util/status.h"

namespace corefork {

// Which source ports are lines: for slot s of a group of `group_size`, the
// ports base + s + k * group_size, for k in [0, ports_per_slot). Several
// ports per slot let connections rotate through them, so a port whose last
// connection sits in TIME_WAIT is not needed again soon.
struct LinePorts {
  uint16_t base = 0;  // 0: no lines
  int ports_per_slot = 16;

  uint32_t span(int group_size) const {
    return static_cast<uint32_t>(group_size) * ports_per_slot;
  }
  // The k-th line port of `slot` (k taken modulo ports_per_slot).
  uint16_t Port(int slot, int group_size, int k) const;
};

struct SteeringPlan {
  int group_size = 0;        // sockets in the group: slots 0..group_size-1
  std::vector<int> serving;  // slots that take new connections, ascending
  LinePorts lines;
};

// The program for `plan`. With no serving slot it returns an index past the
// group, which makes the kernel fall back to its own hash over all sockets.
// Fails if the plan does not fit a classic BPF program (BPF_MAXINSNS) or the
// line port range runs past 65535.
Result<std::vector<sock_filter>> BuildSteeringProgram(const SteeringPlan& plan);

// Attaches `program` to the reuseport group of `fd` (replacing any earlier
// program of that group).
Status AttachSteering(int fd, const std::vector<sock_filter>& program);

// Connects to `address` from 127.0.0.1 / ::1 at `source_port` (non-blocking;
// the connect may still be in progress). SO_REUSEADDR lets a port whose old
// connection is in TIME_WAIT on our side be bound again.
Result<Fd> ConnectFrom(const sockaddr_storage& address, socklen_t length,
                       uint16_t source_port);

// A line to `slot` of a group of `group_size`: ConnectFrom to loopback
// (`ipv6`: ::1, else 127.0.0.1) `port`, from the slot's line port number
// `turn`, or its next ones when a port is taken (another process bound it).
Result<Fd> ConnectLine(bool ipv6, int port, const LinePorts& lines, int slot,
                       int group_size, int turn);

// Checks that the group's order is slot order: one line connection per slot
// to `port` on loopback, each of which must arrive on that slot's socket
// (listeners[slot], which must be in the group and not yet accepting in any
// worker; each connection is accepted and closed here). Waits at most
// `timeout` in all.
Status SelfTest(const std::vector<int>& listeners, int port, bool ipv6,
                const LinePorts& lines, int timeout_ms);

}  // namespace corefork
