/* An app that knows nothing about corefork, built with musl-gcc by
 * tests/musl/run.sh: it binds 0.0.0.0:$PORT itself (no SO_REUSEPORT, no fd
 * 3), listens, and answers every connection with one line of JSON: its pid
 * and the LD_PRELOAD / LD_LIBRARY_PATH it was started with, so the test sees
 * which shim reached it and that corefork's bundled glibc did not.
 * Run under corefork with several workers it only works through the listen
 * shim (each bind would otherwise fail with EADDRINUSE). */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char* Env(const char* name) {
  const char* value = getenv(name);
  return value ? value : "";
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const char* port_env = getenv("PORT");
  int port = port_env ? atoi(port_env) : 8080;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 ||
      listen(fd, 64) != 0) {
    perror("worker: bind/listen");
    return 1;
  }
  for (;;) {
    int conn = accept(fd, NULL, NULL);
    if (conn < 0) continue;
    /* Bounded: a client that sends nothing is dropped after 2 s. */
    struct timeval timeout = {2, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char request[2048];
    ssize_t n = recv(conn, request, sizeof request, 0);
    (void)n;
    char body[1024];
    int len =
        snprintf(body, sizeof body,
                 "{\"pid\":%d,\"ld_preload\":\"%.300s\","
                 "\"ld_library_path\":\"%.300s\"}\n",
                 (int)getpid(), Env("LD_PRELOAD"), Env("LD_LIBRARY_PATH"));
    char response[1400];
    int total = snprintf(response, sizeof response,
                         "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                         len, body);
    send(conn, response, (size_t)total, 0);
    close(conn);
  }
}
