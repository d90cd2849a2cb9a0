// Load client for corefork's control socket (run.sh and pool.sh):
// CONCURRENCY threads, each doing one HTTP/1.1 request per connection (as the
// control socket wants: Connection: close) back to back for SECONDS, and
// checking every answer.
//
//   jobclient [--latency] SOCKET CONCURRENCY SECONDS run JOB [BODY EXPECT]
//       POST /jobs/JOB/runs?wait=true (with the JSON BODY, if given); every
//       answer must be 200 with "state":"succeeded" (and contain EXPECT, e.g.
//       "stdout":"6765)
//   jobclient [--latency] SOCKET CONCURRENCY SECONDS list
//       GET /jobs, expects 200 (the client + control socket alone)
//
// Prints one line, "ok=N fail=M seconds=S rate=R cpu=C" (good answers per
// second, the client's own CPU seconds); with --latency (pool.sh) it goes on
// with " p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. pids=P": latencies of good
// answers, from connect() to the server's close, and the distinct non-null
// "pid" values in the answers (the processes that served; a pool's run keeps
// its pool process's pid, a spawned run's may be null once reaped). Without
// --latency no clock is read per request. The first failed answer goes to
// stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr;
static char request[4096];
static size_t request_len;
static bool expect_succeeded;  // run: the answer must say "state":"succeeded"
static const char *expect;     // must appear in the body; NULL for none
static bool latency;           // --latency: sample latency and pid per request
static double deadline;
static atomic_long ok, fail;
static atomic_int reported;

// One thread's samples (latency in seconds and the serving pid per good
// answer); filled only with --latency.
struct samples {
  double *latency;
  long *pid;
  size_t n, cap;
};

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

// Sends the request and reads the answer into buf (NUL-terminated); false
// (reported) if the exchange itself failed.
static bool exchange(char *buf, size_t cap) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(strerror(errno), NULL), false;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    report(strerror(errno), "connect");
    close(fd);
    return false;
  }
  size_t done = 0;
  while (done < request_len) {
    ssize_t n = write(fd, request + done, request_len - done);
    if (n <= 0) {
      report("write failed", NULL);
      close(fd);
      return false;
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
  return true;
}

// One request; returns the serving pid with --latency (0 if the JSON has
// none), 0 without, -1 on failure.
static long one(char *buf, size_t cap) {
  if (!exchange(buf, cap)) return -1;
  if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) return report("status", buf), -1;
  if (expect_succeeded && strstr(buf, "\"state\":\"succeeded\"") == NULL) {
    return report("state", buf), -1;
  }
  if (expect && strstr(buf, expect) == NULL) return report("body", buf), -1;
  if (!latency) return 0;
  const char *p = strstr(buf, "\"pid\":");
  return p ? strtol(p + 6, NULL, 10) : 0;
}

static void add(struct samples *s, double seconds, long pid) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->latency = realloc(s->latency, s->cap * sizeof *s->latency);
    s->pid = realloc(s->pid, s->cap * sizeof *s->pid);
    if (!s->latency || !s->pid) abort();
  }
  s->latency[s->n] = seconds;
  s->pid[s->n] = pid;
  s->n++;
}

static void *loop(void *arg) {
  struct samples *s = arg;
  char *buf = malloc(1 << 16);
  while (now() < deadline) {
    double t0 = latency ? now() : 0;
    long pid = one(buf, 1 << 16);
    if (pid < 0) {
      atomic_fetch_add(&fail, 1);
    } else {
      atomic_fetch_add(&ok, 1);
      if (latency) add(s, now() - t0, pid);
    }
  }
  free(buf);
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

// Nearest-rank percentile of sorted v[0..n), in milliseconds.
static double pct_ms(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)(p / 100 * n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1] * 1000;
}

// Formats " p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. pids=P" over all threads'
// samples into out.
static void format_latency(const struct samples *per, int concurrency, char *out, size_t cap) {
  size_t n = 0;
  for (int i = 0; i < concurrency; ++i) n += per[i].n;
  double *all = malloc((n + 1) * sizeof *all);
  long *pids = malloc((n + 1) * sizeof *pids);
  if (!all || !pids) abort();
  size_t k = 0;
  for (int i = 0; i < concurrency; ++i) {
    if (per[i].n == 0) continue;
    memcpy(all + k, per[i].latency, per[i].n * sizeof *all);
    memcpy(pids + k, per[i].pid, per[i].n * sizeof *pids);
    k += per[i].n;
  }
  qsort(all, n, sizeof *all, cmp_double);
  qsort(pids, n, sizeof *pids, cmp_long);
  size_t distinct = 0;  // a pid of 0 (null in the JSON) is not counted
  for (size_t i = 0; i < n; ++i) distinct += pids[i] > 0 && (i == 0 || pids[i] != pids[i - 1]);
  snprintf(out, cap, " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f pids=%zu", pct_ms(all, n, 50),
         pct_ms(all, n, 90), pct_ms(all, n, 99), n ? all[n - 1] * 1000 : 0, distinct);
  free(all);
  free(pids);
}

// Builds the request from MODE [JOB [BODY EXPECT]]; false on a bad mode.
static bool build_request(int argc, char **argv) {
  int len;
  if (argc == 2 && strcmp(argv[0], "run") == 0) {
    len = snprintf(request, sizeof request,
        "POST /jobs/%s/runs?wait=true HTTP/1.1\r\nHost: corefork\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n", argv[1]);
    expect_succeeded = true;
  } else if (argc == 4 && strcmp(argv[0], "run") == 0) {
    len = snprintf(request, sizeof request,
        "POST /jobs/%s/runs?wait=true HTTP/1.1\r\nHost: corefork\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n"
        "Connection: close\r\n\r\n%s", argv[1], strlen(argv[2]), argv[2]);
    expect_succeeded = true;
    expect = argv[3];
  } else if (argc == 1 && strcmp(argv[0], "list") == 0) {
    len = snprintf(request, sizeof request,
        "GET /jobs HTTP/1.1\r\nHost: corefork\r\nConnection: close\r\n\r\n");
  } else {
    return false;
  }
  if (len < 0 || (size_t)len >= sizeof request) return false;
  request_len = (size_t)len;
  return true;
}

int main(int argc, char **argv) {
  const char *prog = argv[0];
  if (argc > 1 && strcmp(argv[1], "--latency") == 0) {
    latency = true;
    argv++;
    argc--;
  }
  if (argc < 5) {
    fprintf(stderr, "usage: %s [--latency] SOCKET CONCURRENCY SECONDS "
            "run JOB [BODY EXPECT] | list\n", prog);
    return 2;
  }
  int concurrency = atoi(argv[2]);
  double seconds = atof(argv[3]);
  if (concurrency < 1 || concurrency > 256 || seconds <= 0) return 2;
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  if (!build_request(argc - 4, argv + 4)) {
    fprintf(stderr, "jobclient: bad mode or arguments: %s\n", argv[4]);
    return 2;
  }

  pthread_t threads[256];
  static struct samples per[256];
  double start = now();
  deadline = start + seconds;
  for (int i = 0; i < concurrency; ++i) pthread_create(&threads[i], NULL, loop, &per[i]);
  for (int i = 0; i < concurrency; ++i) pthread_join(threads[i], NULL);
  double took = now() - start;
  char latency_fields[256] = "";  // before getrusage: its sorting is client CPU
  if (latency) format_latency(per, concurrency, latency_fields, sizeof latency_fields);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("ok=%ld fail=%ld seconds=%.3f rate=%.1f cpu=%.3f%s\n", atomic_load(&ok),
         atomic_load(&fail), took, atomic_load(&ok) / took, cpu, latency_fields);
  return atomic_load(&fail) == 0 ? 0 : 1;
}
