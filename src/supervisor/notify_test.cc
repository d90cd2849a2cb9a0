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

TEST(NotifyTest, LineBufferSplitsJoinsAndCaps) {
  LineBuffer buffer;
  EXPECT_TRUE(buffer.Append("REA", 3).empty());
  std::vector<std::string> lines = buffer.Append("DY=1\nSTATUS=x\nWAT", 17);
  EXPECT_EQ(lines, (std::vector<std::string>{"READY=1", "STATUS=x"}));
  std::string huge(LineBuffer::kMaxLine + 100, 'a');
  huge += "\nREADY=1\n";
  lines = buffer.Append(huge.data(), huge.size());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), LineBuffer::kMaxLine);  // cut, rest dropped
  EXPECT_EQ(lines[1], "READY=1");
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

}  // namespace
}  // namespace corefork
