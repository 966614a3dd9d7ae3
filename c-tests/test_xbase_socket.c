/* xSocket through the installed <xbase/socket.h>: a UDP pair on loopback,
 * mask changes, idle timeouts, adopting an fd, and NULL arguments. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <xbase/socket.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

typedef struct {
  int calls;
  int bytes;
  xSocket last_sock;
  xEventMask last_mask;
} SockLog;

static void on_sock(xSocket sock, xEventMask mask, void *arg) {
  SockLog *log = (SockLog *)arg;
  char buf[64];
  ssize_t n;
  log->calls++;
  log->last_sock = sock;
  log->last_mask = mask;
  if (mask & xEvent_Read) {
    while ((n = recv(xSocketFd(sock), buf, sizeof buf, 0)) > 0) log->bytes += (int)n;
  }
}

static struct sockaddr_in bind_loopback(int fd) {
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
  CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  return sin;
}

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void test_udp_pair(void) {
  xEventLoop lp = xEventLoopCreate();
  SockLog log;
  xSocket rx, tx;
  struct sockaddr_in addr;
  int fd;
  memset(&log, 0, sizeof log);
  rx = xSocketCreate(lp, AF_INET, SOCK_DGRAM, 0, xEvent_Read, on_sock, &log);
  tx = xSocketCreate(lp, AF_INET, SOCK_DGRAM, 0, 0, NULL, NULL);
  CHECK(rx != NULL && tx != NULL);
  fd = xSocketFd(rx);
  CHECK(fd >= 0);
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK_EQ_INT(xSocketMask(rx), xEvent_Read);
  addr = bind_loopback(fd);

  CHECK_EQ_INT(sendto(xSocketFd(tx), "hello", 5, 0, (struct sockaddr *)&addr, sizeof addr), 5);
  CHECK_EQ_INT(sendto(xSocketFd(tx), "hi", 2, 0, (struct sockaddr *)&addr, sizeof addr), 2);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(log.calls, 1);
  CHECK(log.last_sock == rx);
  CHECK_EQ_INT(log.last_mask, xEvent_Read);
  CHECK_EQ_INT(log.bytes, 7);

  CHECK_EQ_INT(xSocketSetMask(lp, rx, xEvent_Read | xEvent_Write), xErrno_Ok);
  CHECK_EQ_INT(xSocketMask(rx), xEvent_Read | xEvent_Write);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(log.last_mask, xEvent_Write);

  /* Read idle timeout. */
  CHECK_EQ_INT(xSocketSetMask(lp, rx, xEvent_Read), xErrno_Ok);
  log.calls = 0;
  {
    uint64_t start = xMonoMs();
    CHECK_EQ_INT(xSocketSetTimeout(rx, 20, 0), xErrno_Ok);
    while (log.calls == 0 && xMonoMs() - start < 3000) xEventWait(lp, 10);
    CHECK(xMonoMs() - start >= 20);
  }
  CHECK_EQ_INT(log.calls, 1);
  CHECK_EQ_INT(log.last_mask, xEvent_Timeout | xEvent_Read);
  CHECK_EQ_INT(xSocketSetTimeout(rx, 0, 0), xErrno_Ok);

  xSocketDestroy(lp, rx);
  CHECK(!is_open(fd) || xSocketFd(rx) == -1);
  CHECK_EQ_INT(xSocketFd(rx), -1);
  CHECK_EQ_INT(xSocketMask(rx), 0);
  xSocketDestroy(lp, tx);
  xEventLoopDestroy(lp);
}

static void test_from_fd(void) {
  xEventLoop lp = xEventLoopCreate();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  xSocket s = xSocketCreateFromFd(lp, fd, xEvent_Read, NULL, NULL);
  CHECK(s != NULL);
  CHECK_EQ_INT(xSocketFd(s), fd);
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK(xSocketCreateFromFd(lp, fd, xEvent_Read, NULL, NULL) == NULL);
  CHECK(is_open(fd));
  xEventLoopDestroy(lp);
  xSocketDestroy(NULL, s);
  CHECK(!is_open(fd));
}

static void test_null_arguments(void) {
  xEventLoop lp = xEventLoopCreate();
  CHECK(xSocketCreate(NULL, AF_INET, SOCK_DGRAM, 0, xEvent_Read, NULL, NULL) == NULL);
  CHECK(xSocketCreate(lp, -1, SOCK_DGRAM, 0, xEvent_Read, NULL, NULL) == NULL);
  CHECK(xSocketCreateFromFd(NULL, 0, xEvent_Read, NULL, NULL) == NULL);
  CHECK(xSocketCreateFromFd(lp, -1, xEvent_Read, NULL, NULL) == NULL);
  xSocketDestroy(NULL, NULL);
  xSocketDestroy(lp, NULL);
  CHECK_EQ_INT(xSocketSetMask(NULL, NULL, xEvent_Read), xErrno_InvalidArg);
  CHECK_EQ_INT(xSocketSetMask(lp, NULL, xEvent_Read), xErrno_InvalidArg);
  CHECK_EQ_INT(xSocketSetTimeout(NULL, 10, 10), xErrno_InvalidArg);
  CHECK_EQ_INT(xSocketFd(NULL), -1);
  CHECK_EQ_INT(xSocketMask(NULL), 0);
  xEventLoopDestroy(lp);
}

int main(void) {
  test_udp_pair();
  test_from_fd();
  test_null_arguments();
  return CHECK_DONE();
}
