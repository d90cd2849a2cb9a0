// Load client for corefork's control socket: CONCURRENCY threads, each doing
// one HTTP/1.1 request per connection (as the control socket wants:
// Connection: close) in a loop for SECONDS, and checking every answer.
//
//   jobclient SOCKET CONCURRENCY SECONDS run JOB   POST /jobs/JOB/runs?wait=true,
//                                                  expects 200 + "state":"succeeded"
//   jobclient SOCKET CONCURRENCY SECONDS list      GET /jobs, expects 200 (the
//                                                  client + control socket alone)
//
// Prints "ok=N fail=M seconds=S rate=R cpu=C" (good answers per second, CPU
// seconds of the client) and the first failed answer, if any, on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr;
static char request[512];
static size_t request_len;
static const char *expect;  // must appear in the body; NULL for none
static double deadline;
static atomic_long ok, fail;
static atomic_int reported;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *what, const char *buf) {
  if (atomic_exchange(&reported, 1) == 0) {
    fprintf(stderr, "jobclient: first failure: %s%s%.400s\n", what,
            buf ? ": " : "", buf ? buf : "");
  }
}

static int one(char *buf, size_t cap) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(strerror(errno), NULL), 0;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    report(strerror(errno), "connect");
    close(fd);
    return 0;
  }
  size_t done = 0;
  while (done < request_len) {
    ssize_t n = write(fd, request + done, request_len - done);
    if (n <= 0) {
      report("write failed", NULL);
      close(fd);
      return 0;
    }
    done += (size_t)n;
  }
  size_t got = 0;
  for (;;) {  // the server closes after its answer
    if (got + 1 >= cap) break;
    ssize_t n = read(fd, buf + got, cap - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  buf[got] = '\0';
  close(fd);
  if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) return report("status", buf), 0;
  if (expect && strstr(buf, expect) == NULL) return report("body", buf), 0;
  return 1;
}

static void *loop(void *arg) {
  (void)arg;
  char *buf = malloc(1 << 16);
  while (now() < deadline) {
    if (one(buf, 1 << 16)) {
      atomic_fetch_add(&ok, 1);
    } else {
      atomic_fetch_add(&fail, 1);
    }
  }
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s SOCKET CONCURRENCY SECONDS run JOB | list\n", argv[0]);
    return 2;
  }
  int concurrency = atoi(argv[2]);
  double seconds = atof(argv[3]);
  if (concurrency < 1 || concurrency > 256 || seconds <= 0) return 2;
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  if (strcmp(argv[4], "run") == 0 && argc == 6) {
    request_len = (size_t)snprintf(request, sizeof request,
        "POST /jobs/%s/runs?wait=true HTTP/1.1\r\nHost: corefork\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n", argv[5]);
    expect = "\"state\":\"succeeded\"";
  } else if (strcmp(argv[4], "list") == 0) {
    request_len = (size_t)snprintf(request, sizeof request,
        "GET /jobs HTTP/1.1\r\nHost: corefork\r\nConnection: close\r\n\r\n");
    expect = NULL;
  } else {
    fprintf(stderr, "jobclient: unknown mode %s\n", argv[4]);
    return 2;
  }
  pthread_t threads[256];
  double start = now();
  deadline = start + seconds;
  for (int i = 0; i < concurrency; ++i) pthread_create(&threads[i], NULL, loop, NULL);
  for (int i = 0; i < concurrency; ++i) pthread_join(threads[i], NULL);
  double took = now() - start;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("ok=%ld fail=%ld seconds=%.3f rate=%.1f cpu=%.3f\n", atomic_load(&ok),
         atomic_load(&fail), took, atomic_load(&ok) / took, cpu);
  return atomic_load(&fail) == 0 ? 0 : 1;
}
