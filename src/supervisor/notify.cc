#include "supervisor/notify.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace corefork {

std::map<std::string, std::string> ParseNotifyMessage(const std::string& text) {
  std::map<std::string, std::string> fields;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) {
      fields[line.substr(0, eq)] = line.substr(eq + 1);
    }
    start = end + 1;
  }
  return fields;
}

Result<NotifySocket> NotifySocket::Bind(const std::string& path) {
  sockaddr_un addr = {};
  if (path.size() >= sizeof addr.sun_path) {
    return Status::Error("notify socket path too long: " + path);
  }
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return PosixError("socket(AF_UNIX, SOCK_DGRAM)");
  int on = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return PosixError("setsockopt SO_PASSCRED");
  }
  // Room for bursts: every worker may report at once.
  int buffer = 256 * 1024;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());  // a stale socket from an earlier run
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return PosixError("bind notify socket " + path);
  }
  if (chmod(path.c_str(), 0600) != 0) return PosixError("chmod " + path);
  return NotifySocket(std::move(fd), path);
}

NotifySocket::~NotifySocket() {
  if (fd_.valid() && !path_.empty()) unlink(path_.c_str());
}

std::optional<NotifySocket::Datagram> NotifySocket::Receive() {
  char data[4096];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  iovec iov = {data, sizeof data};
  sockaddr_un from = {};
  msghdr msg = {};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return std::nullopt;
  Datagram datagram;
  datagram.text.assign(data, static_cast<size_t>(n));
  if (msg.msg_namelen > sizeof(sa_family_t) && msg.msg_namelen <= sizeof from) {
    datagram.reply_address.assign(reinterpret_cast<const char*>(&from),
                                  msg.msg_namelen);
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      datagram.sender = cred.pid;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      // Nobody should pass us fds; close them rather than leak them.
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
        close(passed);
      }
    }
  }
  return datagram;
}

Status NotifySocket::Reply(const std::string& address, const std::string& text,
                           int fd) {
  if (address.empty() || address.size() > sizeof(sockaddr_un)) {
    return Status::Error("no address to answer");
  }
  sockaddr_un to = {};
  std::memcpy(&to, address.data(), address.size());
  iovec iov = {const_cast<char*>(text.data()), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_name = &to;
  msg.msg_namelen = static_cast<socklen_t>(address.size());
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  if (sendmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    return PosixError("answer notify datagram");
  }
  return Status::Ok();
}

}  // namespace corefork
