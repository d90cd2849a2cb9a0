// How the client finds the control socket and the admin port: the same
// precedence as the server, and the same default path.
#include "client/locate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "os/runtime_paths.h"

namespace corefork {
namespace {

// Sets or clears an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(LocateTest, FlagThenConfigThenEnvironmentThenDefault) {
  ScopedEnv env("COREFORK_CONTROL_SOCKET", "/env/control.sock");
  EXPECT_EQ(ControlSocketPath("/flag.sock", "/config.sock"), "/flag.sock");
  EXPECT_EQ(ControlSocketPath("", "/config.sock"), "/config.sock");
  EXPECT_EQ(ControlSocketPath("", ""), "/env/control.sock");
  {
    // The server ignores a relative value; so does the client.
    ScopedEnv relative("COREFORK_CONTROL_SOCKET", "relative.sock");
    EXPECT_EQ(ControlSocketPath("", ""), DefaultControlSocketPath());
  }
  ScopedEnv unset("COREFORK_CONTROL_SOCKET", nullptr);
  EXPECT_EQ(ControlSocketPath("", ""), DefaultControlSocketPath());
}

TEST(LocateTest, DefaultIsWhereTheServerPutsItsSocket) {
  ScopedEnv unset("COREFORK_CONTROL_SOCKET", nullptr);
  // Prepared first: the server may create the directory that the client's
  // choice then depends on.
  Result<RuntimePaths> server = PrepareRuntimePaths("");
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_EQ(DefaultControlSocketPath(), server->control_socket);
  unlink(server->notify_socket.c_str());
}

TEST(LocateTest, AdminEndpointReachesWildcardsOnLoopback) {
  struct Case {
    const char* admin;
    const char* describe;
  };
  const Case cases[] = {
      {"0.0.0.0:9180", "127.0.0.1:9180"},
      {"[::]:9181", "[::1]:9181"},
      {"127.0.0.2:80", "127.0.0.2:80"},
      {"localhost:9180", "127.0.0.1:9180"},
      {"[::1]:1", "[::1]:1"},
  };
  for (const Case& c : cases) {
    Result<Endpoint> e = AdminEndpoint(c.admin);
    ASSERT_TRUE(e.ok()) << c.admin << ": " << e.status().message();
    EXPECT_EQ(e->Describe(), c.describe) << c.admin;
  }
  Result<Endpoint> any_port = AdminEndpoint("127.0.0.1:0");
  ASSERT_FALSE(any_port.ok());
  EXPECT_NE(any_port.status().message().find("--admin"), std::string::npos);
  EXPECT_FALSE(AdminEndpoint("nonsense").ok());
}

}  // namespace
}  // namespace corefork
