#include "client/locate.h"

#include <cstdlib>

#include "config/values.h"
#include "os/runtime_paths.h"

namespace corefork {

std::string ControlSocketPath(const std::string& flag,
                              const std::string& config_socket) {
  if (!flag.empty()) return flag;
  if (!config_socket.empty()) return config_socket;
  const char* env = std::getenv("COREFORK_CONTROL_SOCKET");
  if (env != nullptr && env[0] == '/') return env;
  return DefaultControlSocketPath();
}

Result<Endpoint> AdminEndpoint(std::string_view admin) {
  Result<HostPort> address = ParseHostPort(admin);
  if (!address.ok()) return address.status().Wrap("admin");
  if (address->port == 0) {
    return Status::InvalidArgument(
        "admin " + std::string(admin) +
        ": port 0 means the server picked a free port; name it with --admin "
        "ADDR:PORT");
  }
  std::string host = address->host;
  if (host.empty() || host == "0.0.0.0" || host == "localhost") {
    host = "127.0.0.1";
  } else if (host == "::") {
    host = "::1";
  }
  return Endpoint::Tcp(host, address->port);
}

}  // namespace corefork
