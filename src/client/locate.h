// Where the client commands find corefork: the control socket the way the
// server chooses it (os/runtime_paths.h), and the admin port from the
// `admin` setting. Reads the environment and the filesystem, creates
// nothing. Plain functions; call from main's thread (getenv).
#pragma once

#include <string>
#include <string_view>

#include "client/http_client.h"
#include "util/status.h"

namespace corefork {

// The control socket: `flag` (--socket) wins, then `config_socket`
// (control.socket from --config / $COREFORK_CONFIG), then
// $COREFORK_CONTROL_SOCKET when it is an absolute path, then the default
// the server would pick (os/runtime_paths.h DefaultControlSocketPath).
std::string ControlSocketPath(const std::string& flag,
                              const std::string& config_socket);

// The admin server to reach from this host for an `admin` value like
// "0.0.0.0:9180" or "[::]:9180": a wildcard address is reached on loopback,
// "localhost" is 127.0.0.1. InvalidArgument for port 0 (the server picked
// one at random: name it with --admin).
Result<Endpoint> AdminEndpoint(std::string_view admin);

}  // namespace corefork
