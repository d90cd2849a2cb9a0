// The practical limit of this machine for starting trivial programs:
// CONCURRENCY threads, each running posix_spawn(PROGRAM) + waitpid in a loop
// for SECONDS. Prints "ok=N fail=M seconds=S rate=R cpu=C children_cpu=K"
// (runs per second; CPU seconds of this process itself, and of the children
// it reaped).
//
//   spawnloop PROGRAM CONCURRENCY SECONDS
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static const char *program;
static double deadline;
static atomic_long ok, fail;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *loop(void *arg) {
  (void)arg;
  char *argv[] = {(char *)program, NULL};
  while (now() < deadline) {
    pid_t pid;
    if (posix_spawn(&pid, program, NULL, NULL, argv, environ) != 0) {
      atomic_fetch_add(&fail, 1);
      continue;
    }
    int status;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0) {
      atomic_fetch_add(&ok, 1);
    } else {
      atomic_fetch_add(&fail, 1);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PROGRAM CONCURRENCY SECONDS\n", argv[0]);
    return 2;
  }
  program = argv[1];
  int concurrency = atoi(argv[2]);
  double seconds = atof(argv[3]);
  if (concurrency < 1 || concurrency > 256 || seconds <= 0) return 2;
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
  struct rusage kids;
  getrusage(RUSAGE_CHILDREN, &kids);
  double children_cpu = kids.ru_utime.tv_sec + kids.ru_utime.tv_usec / 1e6 +
                        kids.ru_stime.tv_sec + kids.ru_stime.tv_usec / 1e6;
  printf("ok=%ld fail=%ld seconds=%.3f rate=%.1f cpu=%.3f children_cpu=%.3f\n",
         atomic_load(&ok), atomic_load(&fail), took, atomic_load(&ok) / took, cpu,
         children_cpu);
  return atomic_load(&fail) == 0 ? 0 : 1;
}
