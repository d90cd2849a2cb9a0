/* libcorefork-listen.so: loaded into each worker with LD_PRELOAD, so an
 * unmodified app that binds its own port gets corefork's listener instead.
 *
 * Contract with corefork (the supervisor side must match it byte for byte):
 *   COREFORK_SHIM_PORTS="8080:3,9090:4"  port:fd of each inherited listener;
 *   NOTIFY_SOCKET=path|@abstract         corefork's SOCK_DGRAM notify socket;
 *   COREFORK_SHIM_TIMEOUT_MS=5000        how long to wait for its answer.
 * bind() of an AF_INET/AF_INET6 stream socket to a mapped port puts the
 * listener on the app's fd (dup3) and returns 0. The listener is the inherited
 * fd when it is still there (exec wrappers), else corefork is asked for it
 * (wrappers like npm close extra fds): request "COREFORK_LISTENER=<port>" from
 * an autobound socket, answer "OK" + one fd in SCM_RIGHTS or "ERR <text>".
 * listen() on a mapped port reports "COREFORK_LISTENING=<port>" (readiness)
 * and leaves corefork's socket as it is (its configured backlog).
 *
 * Plain C and libc only: this runs inside someone else's process. It never
 * aborts it and never allocates; whatever goes wrong, the app sees what it
 * would have seen without the shim (the real bind, one line on stderr). The
 * environment is read once, on the first bind/listen, not at load. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

enum { kMaxPorts = 32, kReplyMax = 256, kMaxFdsInReply = 8 };

typedef int (*BindFn)(int, const struct sockaddr*, socklen_t);
typedef int (*ListenFn)(int, int);

struct PortFd {
  int port;
  int fd;
};

/* Written once under pthread_once, read-only afterwards. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static BindFn g_real_bind;
static ListenFn g_real_listen;
static struct PortFd g_ports[kMaxPorts];
static int g_port_count; /* 0 = shim inactive: every call passes through */
static struct sockaddr_un g_notify;
static socklen_t g_notify_len; /* 0 = no NOTIFY_SOCKET */
static int g_timeout_ms = 5000;

/* Parses a decimal in [lo, hi] from *s, advancing *s; -1 when there is none. */
static long ParseNumber(const char** s, long lo, long hi) {
  long v = 0;
  const char* p = *s;
  if (*p < '0' || *p > '9') return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    v = v * 10 + (*p - '0');
    if (v > hi) return -1;
  }
  *s = p;
  return v < lo ? -1 : v;
}

/* "8080:3,9090:4". Any malformed pair disables the shim altogether: guessing
 * at a half-understood map could hijack a port corefork does not serve. */
static void ParsePorts(const char* s) {
  int n = 0;
  while (s && *s && n < kMaxPorts) {
    long port = ParseNumber(&s, 1, 65535);
    if (port < 0 || *s++ != ':') return;
    long fd = ParseNumber(&s, 0, 1 << 20);
    if (fd < 0 || (*s != ',' && *s != '\0')) return;
    if (*s == ',') s++;
    g_ports[n].port = (int)port;
    g_ports[n].fd = (int)fd;
    n++;
  }
  if (s && *s == '\0') g_port_count = n;
}

/* NOTIFY_SOCKET as systemd spells it: a path, or '@' for the abstract
 * namespace. */
static void ParseNotifySocket(const char* s) {
  size_t len = s ? strlen(s) : 0;
  if (len < 2 || len >= sizeof(g_notify.sun_path)) return;
  if (s[0] != '/' && s[0] != '@') return;
  g_notify.sun_family = AF_UNIX;
  memcpy(g_notify.sun_path, s, len);
  if (s[0] == '@') g_notify.sun_path[0] = '\0';
  g_notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                             (s[0] == '/' ? 1 : 0));
}

static void InitOnce(void) {
  int saved = errno;
  g_real_bind = (BindFn)dlsym(RTLD_NEXT, "bind");
  g_real_listen = (ListenFn)dlsym(RTLD_NEXT, "listen");
  ParsePorts(getenv("COREFORK_SHIM_PORTS"));
  ParseNotifySocket(getenv("NOTIFY_SOCKET"));
  const char* t = getenv("COREFORK_SHIM_TIMEOUT_MS");
  long ms = t ? ParseNumber(&t, 0, 600000) : -1;
  if (ms >= 0 && *t == '\0') g_timeout_ms = (int)ms;
  errno = saved;
}

static void Init(void) { pthread_once(&g_once, InitOnce); }

static const struct PortFd* FindPort(int port) {
  for (int i = 0; i < g_port_count; i++)
    if (g_ports[i].port == port) return &g_ports[i];
  return NULL;
}

static int PortOf(const struct sockaddr* addr, socklen_t len) {
  if (addr == NULL || len < sizeof(sa_family_t)) return -1;
  if (addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
    return ntohs(((const struct sockaddr_in*)addr)->sin_port);
  if (addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
    return ntohs(((const struct sockaddr_in6*)addr)->sin6_port);
  return -1;
}

static int IsStreamSocket(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
         type == SOCK_STREAM;
}

/* The local TCP port of fd, or -1 when fd is not an inet stream socket. */
static int LocalPort(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (!IsStreamSocket(fd)) return -1;
  if (getsockname(fd, (struct sockaddr*)&ss, &len) != 0) return -1;
  return PortOf((const struct sockaddr*)&ss, len);
}

/* True when fd is a listening TCP socket on port: the inherited number may
 * have been closed by a wrapper and reused for anything since. */
static int IsListenerFor(int fd, int port) {
  int on = 0;
  socklen_t len = sizeof(on);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0)
    return 0;
  return on == 1 && LocalPort(fd) == port;
}

/* Small appenders so that messages need neither stdio nor malloc. */
static size_t Append(char* buf, size_t cap, size_t at, const char* s) {
  while (*s && at + 1 < cap) buf[at++] = *s++;
  buf[at < cap ? at : cap - 1] = '\0';
  return at;
}

static size_t AppendInt(char* buf, size_t cap, size_t at, long v) {
  char digits[24];
  int n = 0;
  if (v < 0) return Append(buf, cap, at, "-1");
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0 && at + 1 < cap) buf[at++] = digits[--n];
  buf[at] = '\0';
  return at;
}

/* Sends "<key><port>" to NOTIFY_SOCKET from a fresh socket and returns it
 * (for the answer), or -1. Blocks at most the timeout when corefork's queue
 * is full (net.unix.max_dgram_qlen is only 10 by default, and many workers
 * start at once): a lost readiness report would leave a worker never ready. */
static int NotifyDatagram(const char* key, int port) {
  char msg[64];
  size_t n = Append(msg, sizeof(msg), 0, key);
  n = AppendInt(msg, sizeof(msg), n, port);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct timeval tv = {g_timeout_ms / 1000, (g_timeout_ms % 1000) * 1000};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  /* Autobind gives corefork an abstract address to answer to. */
  sa_family_t family = AF_UNIX;
  if (g_real_bind(s, (const struct sockaddr*)&family, sizeof(family)) != 0 ||
      sendto(s, msg, n, MSG_NOSIGNAL, (const struct sockaddr*)&g_notify,
             g_notify_len) != (ssize_t)n) {
    int err = errno;
    close(s);
    errno = err;
    return -1;
  }
  return s;
}

static long NowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Receives one datagram on s by deadline; -1 when none came. */
static ssize_t ReceiveBy(int s, long deadline, struct msghdr* msg) {
  size_t control_len = msg->msg_controllen;
  for (;;) {
    struct pollfd p = {s, POLLIN, 0};
    long left = deadline - NowMs();
    int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    msg->msg_controllen = control_len;
    ssize_t n = recvmsg(s, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0 || (errno != EINTR && errno != EAGAIN)) return n;
  }
}

/* The fds that came in SCM_RIGHTS: returns the first, closes the others (the
 * app must not leak what it cannot use) and counts them all in *count. */
static int KeepFirstFd(struct msghdr* msg, int* count) {
  int fd = -1;
  *count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++, (*count)++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (fd < 0) {
        fd = received;
      } else {
        close(received);
      }
    }
  }
  return fd;
}

/* Waits until deadline for corefork's one reply on s: "OK" with exactly one
 * fd, the listener, or "ERR <why>". Returns the fd, or -1 with why set. */
static int ReceiveListener(int s, int port, long deadline, char* why,
                           size_t cap) {
  char text[kReplyMax];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * kMaxFdsInReply)];
  } control;
  struct iovec iov = {text, sizeof(text) - 1};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  ssize_t n = ReceiveBy(s, deadline, &msg);
  if (n < 0) {
    size_t at = Append(why, cap, 0, "corefork did not answer within ");
    Append(why, cap, AppendInt(why, cap, at, g_timeout_ms), " ms");
    return -1;
  }
  text[n] = '\0';
  text[strcspn(text, "\r\n")] = '\0'; /* one line on stderr, whatever came */
  int count = 0;
  int fd = KeepFirstFd(&msg, &count);
  if (count == 1 && strcmp(text, "OK") == 0 && IsListenerFor(fd, port))
    return fd;
  if (fd >= 0) close(fd);
  if (count == 0 && strncmp(text, "ERR ", 4) == 0)
    Append(why, cap, Append(why, cap, 0, "corefork refused: "), text + 4);
  else
    Append(why, cap, 0, "corefork sent an unusable reply");
  return -1;
}

static int AskCorefork(int port, char* why, size_t cap) {
  if (g_notify_len == 0) {
    Append(why, cap, 0, "no inherited listener and NOTIFY_SOCKET is not set");
    return -1;
  }
  long deadline = NowMs() + g_timeout_ms;
  int s = NotifyDatagram("COREFORK_LISTENER=", port);
  if (s < 0) {
    Append(why, cap, Append(why, cap, 0, "cannot reach NOTIFY_SOCKET: "),
           strerror(errno));
    return -1;
  }
  int fd = ReceiveListener(s, port, deadline, why, cap);
  close(s);
  return fd;
}

static void Complain(int port, const char* why) {
  char line[320];
  size_t n =
      Append(line, sizeof(line), 0, "corefork-listen: cannot take over port ");
  n = AppendInt(line, sizeof(line), n, port);
  n = Append(line, sizeof(line), n, ": ");
  n = Append(line, sizeof(line), n, why);
  n = Append(line, sizeof(line), n, "\n");
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
}

/* Puts corefork's listener for port on fd, keeping the app's O_NONBLOCK and
 * FD_CLOEXEC choices. Returns 0, or -1 after saying why on stderr. */
static int TakeOver(int fd, const struct PortFd* entry) {
  int fl = fcntl(fd, F_GETFL);
  int fd_flags = fcntl(fd, F_GETFD);
  if (fl < 0 || fd_flags < 0) {
    Complain(entry->port, strerror(errno));
    return -1;
  }
  char why[256] = "";
  int received = -1;
  int listener = entry->fd;
  if (!IsListenerFor(listener, entry->port))
    listener = received = AskCorefork(entry->port, why, sizeof(why));
  /* listener == fd: the app binds the inherited socket itself, which already
   * is what it asks for. */
  int ok = listener >= 0 &&
           (listener == fd ||
            dup3(listener, fd, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) == fd);
  if (listener >= 0 && !ok) Append(why, sizeof(why), 0, strerror(errno));
  /* The description is shared with corefork's copy; only blocking mode is
   * the app's to choose, as it would be on a socket of its own. */
  int now = ok ? fcntl(fd, F_GETFL) : -1;
  if (now >= 0) fcntl(fd, F_SETFL, (now & ~O_NONBLOCK) | (fl & O_NONBLOCK));
  /* The inherited fd stays open: another bind in this process may need it. */
  if (received >= 0) close(received);
  if (!ok) Complain(entry->port, why);
  return ok ? 0 : -1;
}

SHIM_EXPORT int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  Init();
  if (g_real_bind == NULL) {
    errno = ENOSYS;
    return -1;
  }
  int saved = errno;
  int port = g_port_count > 0 ? PortOf(addr, len) : -1;
  const struct PortFd* entry = port > 0 ? FindPort(port) : NULL;
  if (entry != NULL && IsStreamSocket(fd) && TakeOver(fd, entry) == 0) {
    errno = saved;
    return 0;
  }
  errno = saved;
  return g_real_bind(fd, addr, len);
}

SHIM_EXPORT int listen(int fd, int backlog) {
  Init();
  if (g_real_listen == NULL) {
    errno = ENOSYS;
    return -1;
  }
  int port = g_port_count > 0 ? LocalPort(fd) : -1;
  int ours = port > 0 && FindPort(port) != NULL;
  /* corefork's socket already listens, with the backlog from its config:
   * the app's own (Python's http.server asks for 5) would shrink the queue
   * that holds connections while this slot's worker restarts. */
  int rc = ours && IsListenerFor(fd, port) ? 0 : g_real_listen(fd, backlog);
  if (rc != 0 || g_notify_len == 0) return rc;
  int saved = errno;
  if (ours) {
    int s = NotifyDatagram("COREFORK_LISTENING=", port);
    if (s >= 0) close(s);
  }
  errno = saved;
  return rc;
}
