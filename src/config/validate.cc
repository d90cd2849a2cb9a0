#include "config/validate.h"

#include <fmt/format.h>

#include "config/values.h"

namespace corefork {
namespace {

// Whether two bind addresses on the same port would collide. "::" is
// dual-stack, so it covers IPv4 too; "0.0.0.0" covers every IPv4 address.
bool HostsOverlap(std::string_view a, std::string_view b) {
  auto covers = [](std::string_view wide, std::string_view other) {
    if (wide == "::") return true;
    return wide == "0.0.0.0" && other.find(':') == std::string_view::npos;
  };
  return a == b || covers(a, b) || covers(b, a);
}

std::string Address(std::string_view host, int port) {
  bool ipv6 = host.find(':') != std::string_view::npos;
  return ipv6 ? fmt::format("[{}]:{}", host, port)
              : fmt::format("{}:{}", host, port);
}

const Origin& ListenerOrigin(const Origins& origins, size_t i) {
  static const Origin kUnknown{"defaults", 0, 0, "listeners"};
  return i < origins.listeners.size() ? origins.listeners[i] : kUnknown;
}

void CheckListenerPair(const Config& config, const Origins& origins, size_t a,
                       size_t b, std::vector<ConfigError>* errors) {
  const ListenerConfig& first = config.listeners[a];
  const ListenerConfig& second = config.listeners[b];
  const Origin& at = ListenerOrigin(origins, b);
  if (first.name == second.name) {
    errors->push_back(ErrorAt(
        at,
        fmt::format("listener name {} is used twice (also by listeners[{}]);"
                    " give each listener its own `name:`",
                    Quote(second.name), a)));
  }
  if (first.port == second.port && HostsOverlap(first.host, second.host)) {
    errors->push_back(ErrorAt(
        at, fmt::format("address {} of listener {} overlaps listener {} ({})",
                        Address(second.host, second.port), Quote(second.name),
                        Quote(first.name), Address(first.host, first.port))));
  }
}

void CheckAdminClash(const Config& config, const Origins& origins,
                     std::vector<ConfigError>* errors) {
  Result<HostPort> admin = ParseHostPort(config.admin);
  if (!admin.ok() || admin->port == 0) return;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const ListenerConfig& listener = config.listeners[i];
    if (listener.port != admin->port ||
        !HostsOverlap(listener.host, admin->host)) {
      continue;
    }
    // Blame whichever side the user wrote, not the built-in default.
    const Origin& listener_at = ListenerOrigin(origins, i);
    const Origin& at =
        listener_at.file == "defaults" ? origins.admin : listener_at;
    errors->push_back(ErrorAt(
        at, fmt::format("address {} of listener {} overlaps the admin server "
                        "({}); move one of them (admin: or --admin)",
                        Address(listener.host, listener.port),
                        Quote(listener.name), config.admin)));
  }
}

}  // namespace

ConfigError ErrorAt(const Origin& origin, std::string_view message) {
  std::string text = origin.path.empty()
                         ? std::string(message)
                         : fmt::format("{}: {}", origin.path, message);
  return ConfigError{origin.file, origin.line, origin.column, std::move(text)};
}

void CheckClashes(const Config& config, const Origins& origins,
                  std::vector<ConfigError>* errors) {
  for (size_t b = 1; b < config.listeners.size(); ++b) {
    for (size_t a = 0; a < b; ++a) {
      CheckListenerPair(config, origins, a, b, errors);
    }
  }
  CheckAdminClash(config, origins, errors);
  const SizingConfig& sizing = config.workers;
  if (sizing.max < sizing.min) {
    // Blame max when the user set it, else the min that went past it.
    const Origin& at = origins.sizing_max;
    errors->push_back(ErrorAt(
        at, at.path == "sizing.min"
                ? fmt::format("expected an integer <= sizing.max ({}), got "
                              "\"{}\"",
                              sizing.max, sizing.min)
                : fmt::format("expected an integer >= sizing.min ({}), got "
                              "\"{}\"",
                              sizing.min, sizing.max)));
  }
}

void CheckCommand(const Config& config, const Origins& origins,
                  std::vector<ConfigError>* errors) {
  if (config.command.empty()) {
    errors->push_back(ErrorAt(origins.command,
                              "no command given: set `command:` in the config "
                              "file or pass -- COMMAND"));
  }
}

}  // namespace corefork
