// Latency client for corefork's control socket (the pool bench, pool.sh):
// CONCURRENCY threads, each doing POST /jobs/JOB/runs?wait=true with BODY,
// one request per connection (the control socket answers with Connection:
// close), back to back for SECONDS. Every answer must be 200 with
// "state":"succeeded" and contain EXPECT (e.g. "stdout":"6765).
//
//   poolclient SOCKET CONCURRENCY SECONDS JOB BODY EXPECT
//
// Prints one line:
//   ok=N fail=M seconds=S rate=R cpu=C p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. pids=P
// rate: good answers per second; cpu: the client's own CPU seconds; the
// latencies are of good answers, from connect() to the server's close;
// pids: distinct non-null "pid" values in the run JSON (the processes that
// served; a pool's run keeps its pool process's pid, a spawned run's may be
// null once reaped). The first
// failed answer goes to stderr. bench/jobs/jobclient.c is the same loop
// without latencies.
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
static char request[4096];
static size_t request_len;
static const char *expect;
static double deadline;
static atomic_long fail;
static atomic_int reported;

// One thread's samples (latency in seconds and the serving pid per good run).
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
    fprintf(stderr, "poolclient: first failure: %s%s%.400s\n", what,
            buf ? ": " : "", buf ? buf : "");
  }
}

// One request; returns the serving pid (0 if the JSON has none), -1 on failure.
static long one(char *buf, size_t cap) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(strerror(errno), NULL), -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    report(strerror(errno), "connect");
    close(fd);
    return -1;
  }
  size_t done = 0;
  while (done < request_len) {
    ssize_t n = write(fd, request + done, request_len - done);
    if (n <= 0) {
      report("write failed", NULL);
      close(fd);
      return -1;
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
  if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) return report("status", buf), -1;
  if (strstr(buf, "\"state\":\"succeeded\"") == NULL) return report("state", buf), -1;
  if (strstr(buf, expect) == NULL) return report("body", buf), -1;
  const char *p = strstr(buf, "\"pid\":");
  return p ? strtol(p + 6, NULL, 10) : 0;
}

static void add(struct samples *s, double latency, long pid) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->latency = realloc(s->latency, s->cap * sizeof *s->latency);
    s->pid = realloc(s->pid, s->cap * sizeof *s->pid);
    if (!s->latency || !s->pid) abort();
  }
  s->latency[s->n] = latency;
  s->pid[s->n] = pid;
  s->n++;
}

static void *loop(void *arg) {
  struct samples *s = arg;
  char *buf = malloc(1 << 16);
  while (now() < deadline) {
    double t0 = now();
    long pid = one(buf, 1 << 16);
    if (pid >= 0) {
      add(s, now() - t0, pid);
    } else {
      atomic_fetch_add(&fail, 1);
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

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s SOCKET CONCURRENCY SECONDS JOB BODY EXPECT\n", argv[0]);
    return 2;
  }
  int concurrency = atoi(argv[2]);
  double seconds = atof(argv[3]);
  if (concurrency < 1 || concurrency > 256 || seconds <= 0) return 2;
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  int len = snprintf(request, sizeof request,
      "POST /jobs/%s/runs?wait=true HTTP/1.1\r\nHost: corefork\r\n"
      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
      "Connection: close\r\n\r\n%s", argv[4], strlen(argv[5]), argv[5]);
  if (len < 0 || (size_t)len >= sizeof request) return 2;
  request_len = (size_t)len;
  expect = argv[6];

  pthread_t threads[256];
  struct samples per[256] = {0};
  double start = now();
  deadline = start + seconds;
  for (int i = 0; i < concurrency; ++i) pthread_create(&threads[i], NULL, loop, &per[i]);
  for (int i = 0; i < concurrency; ++i) pthread_join(threads[i], NULL);
  double took = now() - start;

  size_t n = 0;
  for (int i = 0; i < concurrency; ++i) n += per[i].n;
  double *all = malloc((n + 1) * sizeof *all);
  long *pids = malloc((n + 1) * sizeof *pids);
  size_t k = 0;
  for (int i = 0; i < concurrency; ++i) {
    memcpy(all + k, per[i].latency, per[i].n * sizeof *all);
    memcpy(pids + k, per[i].pid, per[i].n * sizeof *pids);
    k += per[i].n;
  }
  qsort(all, n, sizeof *all, cmp_double);
  qsort(pids, n, sizeof *pids, cmp_long);
  size_t distinct = 0;  // a pid of 0 (null in the JSON) is not counted
  for (size_t i = 0; i < n; ++i) distinct += pids[i] > 0 && (i == 0 || pids[i] != pids[i - 1]);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("ok=%zu fail=%ld seconds=%.3f rate=%.1f cpu=%.3f p50_ms=%.3f p90_ms=%.3f "
         "p99_ms=%.3f max_ms=%.3f pids=%zu\n", n, atomic_load(&fail), took, n / took, cpu,
         pct_ms(all, n, 50), pct_ms(all, n, 90), pct_ms(all, n, 99),
         n ? all[n - 1] * 1000 : 0, distinct);
  return atomic_load(&fail) == 0 ? 0 : 1;
}
