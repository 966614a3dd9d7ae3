/* coturn for the C tests: started on 127.0.0.1 as a child process with its
 * log in a temporary file, waited for until it answers a STUN Binding
 * request, and stopped at the end. The pieces (a free loopback port, a
 * child process with its output redirected, the wait for a STUN answer)
 * also serve tests that start coturn with options of their own. */
#ifndef XP2P_CTEST_COTURN_H
#define XP2P_CTEST_COTURN_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <xp2p/stun_msg.h>

typedef struct {
  pid_t pid;
  int logfd;
  char logfile[32];
} Coturn;

/* True once something answers a Binding request on 127.0.0.1:port. */
static inline int stun_answers(int port) {
  uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  uint8_t buf[512];
  struct sockaddr_in to;
  struct timeval tv = {0, 100000};
  int fd = socket(AF_INET, SOCK_DGRAM, 0), ok = 0;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sendto(fd, req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
  ok = recv(fd, buf, sizeof buf, 0) >= 20 && xStunMsgIsStun(buf, 20);
  close(fd);
  return ok;
}

/* A free port on loopback for `socktype` (SOCK_DGRAM or SOCK_STREAM),
 * bound and released. */
static inline int coturn_free_port(int socktype) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, socktype, 0), port;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  getsockname(fd, (struct sockaddr *)&sa, &len);
  port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

/* Runs the NULL-terminated `argv` (argv[0] looked up in PATH) as a child
 * process with its stdout and stderr on `outfd` (on /dev/null when `outfd`
 * is negative). Returns what fork returned in the parent. */
static inline pid_t coturn_spawn(const char *const *argv, int outfd) {
  pid_t pid = fork();
  if (pid == 0) {
    if (outfd < 0) outfd = open("/dev/null", O_WRONLY);
    if (outfd >= 0) {
      dup2(outfd, 1);
      dup2(outfd, 2);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

/* Waits up to about 30 s for a STUN answer on 127.0.0.1:port; 1 once
 * there is one. */
static inline int coturn_wait_answer(int port) {
  int i, up = 0;
  for (i = 0; i < 300 && !up; i++) up = stun_answers(port);
  return up;
}

/* Starts turnserver listening on 127.0.0.1:port (no CLI, TLS or DTLS, a
 * simple log) with the NULL-terminated `extra` options added, and waits up
 * to about 30 s for it to answer. Returns 1 when it does; otherwise prints
 * where its log is, stops it and returns 0. */
static inline int coturn_start(Coturn *c, int port, const char *const *extra) {
  const char *fixed[] = {"turnserver", "-n", "--listening-ip=127.0.0.1", "--listening-port", NULL,
                         "--no-cli", "--no-tls", "--no-dtls", "--log-file=stdout", "--simple-log"};
  const char *argv[32];
  char port_arg[32];
  size_t n = 0, i;
  int up;

  snprintf(port_arg, sizeof port_arg, "%d", port);
  fixed[4] = port_arg;
  for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[n++] = fixed[i];
  for (i = 0; extra && extra[i] && n + 1 < sizeof argv / sizeof argv[0]; i++) argv[n++] = extra[i];
  argv[n] = NULL;

  snprintf(c->logfile, sizeof c->logfile, "%s", "/tmp/xp2p-coturn-XXXXXX");
  c->logfd = mkstemp(c->logfile);
  c->pid = coturn_spawn(argv, c->logfd);
  up = coturn_wait_answer(port);
  if (!up) {
    fprintf(stderr, "coturn did not start (is it installed? see %s)\n", c->logfile);
    kill(c->pid, SIGTERM);
  }
  return up;
}

/* Stops the server started by coturn_start and removes its log. */
static inline void coturn_stop(Coturn *c) {
  kill(c->pid, SIGTERM);
  waitpid(c->pid, NULL, 0);
  close(c->logfd);
  unlink(c->logfile);
}

#endif
