#include "supervisor/notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace corefork {
namespace {

TEST(NotifyTest, ParsesSdNotifyMessages) {
  struct Case {
    const char* text;
    std::map<std::string, std::string> fields;
  } cases[] = {
      {"READY=1", {{"READY", "1"}}},
      {"READY=1\nSTATUS=warming up\n",
       {{"READY", "1"}, {"STATUS", "warming up"}}},
      {"WATCHDOG=1\ngarbage\n=x\nSTATUS=a=b",
       {{"WATCHDOG", "1"}, {"STATUS", "a=b"}}},
      {"", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseNotifyMessage(c.text), c.fields) << c.text;
  }
}

TEST(NotifyTest, SocketReportsTheSendersPid) {
  char dir[] = "/tmp/notify_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/notify.sock";
  {
    Result<NotifySocket> socket = NotifySocket::Bind(path);
    ASSERT_TRUE(socket.ok()) << socket.status().message();
    EXPECT_FALSE(socket->Receive().has_value());

    // A real sender process, as a worker would be.
    pid_t child = fork();
    if (child == 0) {
      int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
      sockaddr_un addr = {};
      addr.sun_family = AF_UNIX;
      std::strcpy(addr.sun_path, path.c_str());
      const char msg[] = "READY=1\nSTATUS=serving";
      sendto(fd, msg, sizeof msg - 1, 0, reinterpret_cast<sockaddr*>(&addr),
             sizeof addr);
      _exit(0);
    }
    waitpid(child, nullptr, 0);
    std::optional<NotifySocket::Datagram> d = socket->Receive();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->sender, child);
    EXPECT_EQ(d->text, "READY=1\nSTATUS=serving");
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "socket file removed";
  rmdir(dir);
}

// The listen shim asks from an autobound address and gets an fd back.
TEST(NotifyTest, ReplyCarriesAnFdToTheAsker) {
  char dir[] = "/tmp/notify_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/notify.sock";
  Result<NotifySocket> socket = NotifySocket::Bind(path);
  ASSERT_TRUE(socket.ok()) << socket.status().message();

  int asker = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un self = {};
  self.sun_family = AF_UNIX;
  ASSERT_EQ(
      bind(asker, reinterpret_cast<sockaddr*>(&self), sizeof(sa_family_t)),
      0);  // autobind: the kernel picks an abstract name
  sockaddr_un to = {};
  to.sun_family = AF_UNIX;
  std::strcpy(to.sun_path, path.c_str());
  const char ask[] = "COREFORK_LISTENER=8080";
  ASSERT_GT(sendto(asker, ask, sizeof ask - 1, 0,
                   reinterpret_cast<sockaddr*>(&to), sizeof to),
            0);
  std::optional<NotifySocket::Datagram> d = socket->Receive();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->sender, getpid());
  ASSERT_FALSE(d->reply_address.empty());

  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  Status s = socket->Reply(d->reply_address, "OK", pipe_fds[1]);
  ASSERT_TRUE(s.ok()) << s.message();

  char text[16] = {};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  iovec iov = {text, sizeof text};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ASSERT_EQ(recvmsg(asker, &msg, MSG_DONTWAIT), 2);
  EXPECT_EQ(std::string(text, 2), "OK");
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cmsg_type, SCM_RIGHTS);
  int received;
  std::memcpy(&received, CMSG_DATA(c), sizeof received);
  // The fd we got is the pipe's write end: what we write arrives.
  ASSERT_EQ(write(received, "x", 1), 1);
  char got = 0;
  ASSERT_EQ(read(pipe_fds[0], &got, 1), 1);
  EXPECT_EQ(got, 'x');
  for (int fd : {received, pipe_fds[0], pipe_fds[1], asker}) close(fd);
  // No address (an unbound sender) cannot be answered.
  EXPECT_FALSE(socket->Reply("", "OK", -1).ok());
}

}  // namespace
}  // namespace corefork
