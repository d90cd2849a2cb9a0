#include "os/signals.h"

#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace corefork {

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2,
                  SIGWINCH, SIGTTIN, SIGTTOU}) {
    sigaddset(&set, sig);
  }
  return set;
}

Status BlockHandledSignals() {
  sigset_t set = HandledSignals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    return PosixError("sigprocmask");
  }
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  if (sigaction(SIGPIPE, &ignore, nullptr) != 0) {
    return PosixError("sigaction SIGPIPE");
  }
  return Status::Ok();
}

Result<Fd> OpenSignalFd() {
  sigset_t set = HandledSignals();
  Fd fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return PosixError("signalfd");
  return fd;
}

Status BecomeChildSubreaper() {
  if (getpid() == 1) return Status::Ok();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return PosixError("prctl(PR_SET_CHILD_SUBREAPER)");
  }
  return Status::Ok();
}

}  // namespace corefork
