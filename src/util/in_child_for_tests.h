// Test utility (unit tests only): runs a function in a forked child and
// returns the string it produced, so a test can change its identity, install
// a seccomp filter or call something that may hang without touching the test
// process. nullopt when the child did not finish within `timeout`, died or
// exited non-zero; a late child is SIGKILLed and reaped.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace corefork {

inline std::optional<std::string> InChild(
    const std::function<std::string()>& body,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    close(p[0]);
    std::string out = body();
    for (size_t done = 0; done < out.size();) {
      ssize_t n = write(p[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(1);
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(p[1]);
  std::string out;
  bool finished = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{p[0], POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = read(p[0], buf, sizeof buf);
    if (n <= 0) finished = true;
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  if (!finished) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!finished || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace corefork
