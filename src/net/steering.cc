#include "net/steering.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace corefork {
namespace {

// Offsets from the network header: the program runs with the packet's data
// already past the TCP header, so it reads the headers through SKF_NET_OFF.
constexpr uint32_t kNet = static_cast<uint32_t>(SKF_NET_OFF);
constexpr uint32_t kRxHash = static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_RXHASH);
constexpr uint32_t kNoIndex = 0xffffffff;  // past any group: kernel's hash

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

// A tiny assembler: jumps name labels, resolved when the program is done.
// Classic BPF jumps go forward only, at most 255 instructions for a
// conditional jump.
class Program {
 public:
  static constexpr int kNext = -1;  // fall through to the next instruction

  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Place(int label) { labels_[label] = static_cast<int>(code_.size()); }
  void Add(uint16_t code, uint32_t k) { code_.push_back({Stmt(code, k)}); }
  void If(uint16_t code, uint32_t k, int if_true, int if_false) {
    code_.push_back({Jump(code, k, 0, 0), if_true, if_false, kNext});
  }
  void Goto(int label) {
    code_.push_back({Stmt(BPF_JMP | BPF_JA, 0), kNext, kNext, label});
  }
  size_t size() const { return code_.size(); }

  // The instructions, or an empty vector if a jump cannot be encoded.
  std::vector<sock_filter> Resolve() const {
    std::vector<sock_filter> out;
    for (size_t at = 0; at < code_.size(); ++at) {
      sock_filter f = code_[at].insn;
      int64_t off;
      if (!Offset(at, code_[at].goto_label, &off)) return {};
      if (code_[at].goto_label != kNext) f.k = static_cast<uint32_t>(off);
      if (!Offset(at, code_[at].jt, &off) || off > 255) return {};
      f.jt = static_cast<uint8_t>(off);
      if (!Offset(at, code_[at].jf, &off) || off > 255) return {};
      f.jf = static_cast<uint8_t>(off);
      out.push_back(f);
    }
    return out;
  }

 private:
  struct Insn {
    sock_filter insn;
    int jt = kNext, jf = kNext, goto_label = kNext;
  };
  bool Offset(size_t at, int label, int64_t* off) const {
    if (label == kNext) {
      *off = 0;
      return true;
    }
    *off = static_cast<int64_t>(labels_[label]) - static_cast<int64_t>(at) - 1;
    return labels_[label] >= 0 && *off >= 0;
  }
  std::vector<Insn> code_;
  std::vector<int> labels_;
};

}  // namespace

uint16_t LinePorts::Port(int slot, int group_size, int k) const {
  const int turn = ((k % ports_per_slot) + ports_per_slot) % ports_per_slot;
  return static_cast<uint16_t>(base + slot + turn * group_size);
}

Result<std::vector<sock_filter>> BuildSteeringProgram(
    const SteeringPlan& plan) {
  if (plan.group_size <= 0) return Status::InvalidArgument("empty group");
  for (int slot : plan.serving) {
    if (slot < 0 || slot >= plan.group_size) {
      return Status::InvalidArgument("serving slot " + std::to_string(slot) +
                                     " is outside the group");
    }
  }
  const uint32_t base = plan.lines.base;
  const uint32_t span = plan.lines.span(plan.group_size);
  if (base != 0 && (plan.lines.ports_per_slot <= 0 || base + span > 65536)) {
    return Status::InvalidArgument("line ports " + std::to_string(base) + "+" +
                                   std::to_string(span) + " run past 65535");
  }
  Program p;
  const int ipv4 = p.NewLabel(), have_header = p.NewLabel(),
            spread = p.NewLabel();
  // X = IP header length (IPv4: IHL * 4; IPv6: 40, no extension headers on
  // the loopback connections that matter), M[0] = the TCP source port.
  p.Add(BPF_LD | BPF_B | BPF_ABS, kNet);
  p.Add(BPF_ALU | BPF_RSH | BPF_K, 4);
  p.Add(BPF_ST, 1);  // M[1] = IP version
  p.If(BPF_JMP | BPF_JEQ | BPF_K, 4, ipv4, Program::kNext);
  p.Add(BPF_LDX | BPF_IMM, 40);
  p.Goto(have_header);
  p.Place(ipv4);
  p.Add(BPF_LDX | BPF_B | BPF_MSH, kNet);
  p.Place(have_header);
  p.Add(BPF_LD | BPF_H | BPF_IND, kNet);
  p.Add(BPF_ST, 0);

  if (base != 0) {
    const int v6_source = p.NewLabel(), loopback = p.NewLabel();
    // From loopback? IPv4: a source in 127/8. IPv6: the source ::1.
    p.Add(BPF_LD | BPF_MEM, 1);
    p.If(BPF_JMP | BPF_JEQ | BPF_K, 6, v6_source, Program::kNext);
    p.Add(BPF_LD | BPF_W | BPF_ABS, kNet + 12);
    p.Add(BPF_ALU | BPF_RSH | BPF_K, 24);
    p.If(BPF_JMP | BPF_JEQ | BPF_K, 127, loopback, spread);
    p.Place(v6_source);
    for (uint32_t word = 0; word < 4; ++word) {
      p.Add(BPF_LD | BPF_W | BPF_ABS, kNet + 8 + 4 * word);
      p.If(BPF_JMP | BPF_JEQ | BPF_K, word == 3 ? 1 : 0, Program::kNext,
           spread);
    }
    // A loopback connection: is its source port a line port?
    p.Place(loopback);
    p.Add(BPF_LD | BPF_MEM, 0);
    p.If(BPF_JMP | BPF_JGE | BPF_K, base, Program::kNext, spread);
    p.If(BPF_JMP | BPF_JGE | BPF_K, base + span, spread, Program::kNext);
    p.Add(BPF_ALU | BPF_SUB | BPF_K, base);
    p.Add(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(plan.group_size));
    p.Add(BPF_RET | BPF_A, 0);
  }
  p.Place(spread);
  const size_t n = plan.serving.size();
  if (n == 0) {
    p.Add(BPF_RET | BPF_K, kNoIndex);
  } else {
    // A = (rxhash ^ source port) % n, then the n-th serving slot. The
    // source port keeps connections apart where the hash is not set.
    p.Add(BPF_LD | BPF_W | BPF_ABS, kRxHash);
    p.Add(BPF_LDX | BPF_MEM, 0);
    p.Add(BPF_ALU | BPF_XOR | BPF_X, 0);
    p.Add(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(n));
    bool identity = true;
    for (size_t i = 0; i < n; ++i) identity &= plan.serving[i] == int(i);
    if (identity) {
      p.Add(BPF_RET | BPF_A, 0);
    } else {
      for (size_t i = 0; i + 1 < n; ++i) {
        const int other = p.NewLabel();
        p.If(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(i),
             Program::kNext, other);
        p.Add(BPF_RET | BPF_K, static_cast<uint32_t>(plan.serving[i]));
        p.Place(other);
      }
      p.Add(BPF_RET | BPF_K, static_cast<uint32_t>(plan.serving[n - 1]));
    }
  }
  std::vector<sock_filter> program = p.Resolve();
  if (program.empty() || program.size() > BPF_MAXINSNS) {
    return Status::InvalidArgument("steering program too large for " +
                                   std::to_string(plan.group_size) + " slots");
  }
  return program;
}

Status AttachSteering(int fd, const std::vector<sock_filter>& program) {
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(program.size());
  fprog.filter = const_cast<sock_filter*>(program.data());
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
                 sizeof fprog) != 0) {
    return PosixError("SO_ATTACH_REUSEPORT_CBPF");
  }
  return Status::Ok();
}

Result<Fd> ConnectFrom(const sockaddr_storage& address, socklen_t length,
                       uint16_t source_port) {
  const int family = address.ss_family;
  Fd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return PosixError("socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage local{};
  socklen_t local_length;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&local);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons(source_port);
    local_length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&local);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons(source_port);
    local_length = sizeof(sockaddr_in);
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), local_length) != 0) {
    return PosixError("bind line port " + std::to_string(source_port));
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) !=
          0 &&
      errno != EINPROGRESS) {
    return PosixError("connect from line port " + std::to_string(source_port));
  }
  return fd;
}

Result<Fd> ConnectLine(bool ipv6, int port, const LinePorts& lines, int slot,
                       int group_size, int turn) {
  sockaddr_storage to{};
  socklen_t length;
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&to);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&to);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  }
  Result<Fd> fd = Status::Unavailable("no line port");
  for (int k = 0; k < lines.ports_per_slot && !fd.ok(); ++k) {
    fd = ConnectFrom(to, length, lines.Port(slot, group_size, turn + k));
  }
  return fd;
}

Status SelfTest(const std::vector<int>& listeners, int port, bool ipv6,
                const LinePorts& lines, int timeout_ms) {
  const int group = static_cast<int>(listeners.size());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int slot = 0; slot < group; ++slot) {
    Result<Fd> line = ConnectLine(ipv6, port, lines, slot, group, 0);
    if (!line.ok()) return line.status().Wrap("steering self-test");
    std::vector<pollfd> fds(group);
    for (int i = 0; i < group; ++i) fds[i] = {listeners[i], POLLIN, 0};
    int arrived = -1;
    while (arrived < 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Status::DeadlineExceeded(
            "steering self-test: the line connection for slot " +
            std::to_string(slot) + " arrived nowhere");
      }
      const int n =
          poll(fds.data(), fds.size(), static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) return PosixError("poll");
      for (int i = 0; i < group && n > 0; ++i) {
        if ((fds[i].revents & POLLIN) == 0) continue;
        Fd accepted(accept4(listeners[i], nullptr, nullptr,
                            SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (accepted.valid() && arrived < 0) arrived = i;
      }
    }
    if (arrived != slot) {
      return Status::FailedPrecondition(
          "steering self-test: slot " + std::to_string(slot) +
          "'s line connection arrived on slot " + std::to_string(arrived) +
          "'s socket (the group is not in slot order)");
    }
  }
  return Status::Ok();
}

}  // namespace corefork
