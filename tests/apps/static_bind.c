/* A statically linked server that binds $PORT itself, the way a Go or static
 * Rust binary does: an LD_PRELOAD shim can never reach it. corefork must
 * name the cause (tests/dropin_test.cc) instead of only counting crashes. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  const char* port = getenv("PORT");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(port ? port : "8080"));
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    perror("static_bind: bind");
    return 1;
  }
  listen(fd, 16);
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c >= 0) close(c);
  }
}
