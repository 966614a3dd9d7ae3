/* signal.h: the signaling channel of the C examples (ice_echo, chat).
 *
 * A Unix-domain stream socket at a filesystem path (so it also works between
 * network namespaces of one host): the offerer listens, the answerer
 * connects. Each message is a frame: a 4-byte big-endian length, then the
 * bytes (text in both examples, without a terminating NUL).
 *
 * Header-only: static inline functions, so a program that does not use one of
 * them compiles without warnings. Every function returns -1 with errno set on
 * failure; the program prints the message it wants.
 */
#ifndef XP2P_EXAMPLES_SIGNAL_H
#define XP2P_EXAMPLES_SIGNAL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SIG_MAX_FRAME 65536  /* largest signaling message */
#define SIG_SEND_WAIT_MS 2000 /* longest wait for room in the socket buffer */

/* One end of the signaling connection: the socket and what was read of the
 * next frame. */
typedef struct SigConn {
  int fd; /* -1 while not connected */
  uint8_t rx[SIG_MAX_FRAME + 4];
  size_t rx_len;
} SigConn;

static inline void sig_init(SigConn *c) {
  c->fd = -1;
  c->rx_len = 0;
}

static inline int sig_set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static inline int sig_unix_addr(struct sockaddr_un *sun, const char *path) {
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun->sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(sun->sun_path, path);
  return 0;
}

/* The offerer's listening socket (non-blocking; a stale socket file at
 * `path` is replaced), or -1. */
static inline int sig_listen(const char *path) {
  struct sockaddr_un sun;
  int fd, err;
  if (sig_unix_addr(&sun, path) < 0) return -1;
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, 1) < 0 ||
      sig_set_nonblocking(fd) < 0) {
    err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/* Accepts the answerer if it is there: 1 when connected, 0 when not yet. */
static inline int sig_accept(SigConn *c, int listen_fd) {
  int fd = accept(listen_fd, NULL, NULL);
  if (fd < 0) return 0;
  sig_set_nonblocking(fd);
  c->fd = fd;
  c->rx_len = 0;
  return 1;
}

/* One attempt to reach the offerer: 1 when connected, 0 when it isn't
 * listening yet. */
static inline int sig_connect(SigConn *c, const char *path) {
  struct sockaddr_un sun;
  int fd;
  if (sig_unix_addr(&sun, path) < 0) return 0;
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || sig_set_nonblocking(fd) < 0) {
    close(fd);
    return 0;
  }
  c->fd = fd;
  c->rx_len = 0;
  return 1;
}

/* Sends one frame (waits up to SIG_SEND_WAIT_MS for buffer room). */
static inline int sig_send(SigConn *c, const char *msg) {
  size_t len = strlen(msg), off = 0;
  uint8_t *frame;
  int rc = 0;
  if (c->fd < 0 || len > SIG_MAX_FRAME) {
    errno = c->fd < 0 ? ENOTCONN : EMSGSIZE;
    return -1;
  }
  frame = (uint8_t *)malloc(len + 4);
  if (!frame) return -1;
  frame[0] = (uint8_t)(len >> 24);
  frame[1] = (uint8_t)(len >> 16);
  frame[2] = (uint8_t)(len >> 8);
  frame[3] = (uint8_t)len;
  memcpy(frame + 4, msg, len);
  while (off < len + 4) {
    ssize_t n = send(c->fd, frame + off, len + 4 - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd p;
      p.fd = c->fd;
      p.events = POLLOUT;
      p.revents = 0;
      if (poll(&p, 1, SIG_SEND_WAIT_MS) <= 0) {
        errno = ETIMEDOUT;
        rc = -1;
        break;
      }
    } else {
      rc = -1;
      break;
    }
  }
  free(frame);
  return rc;
}

/* Reads what has arrived; 1 with a NUL-terminated message in `out` (room
 * for SIG_MAX_FRAME + 1 bytes), 0 when no whole message is there yet, -1 at
 * end of stream or on error. */
static inline int sig_recv(SigConn *c, char *out) {
  if (c->fd < 0) return -1;
  for (;;) {
    if (c->rx_len >= 4) {
      size_t len = ((size_t)c->rx[0] << 24) | ((size_t)c->rx[1] << 16) |
                   ((size_t)c->rx[2] << 8) | c->rx[3];
      if (len > SIG_MAX_FRAME) {
        errno = EMSGSIZE;
        return -1;
      }
      if (c->rx_len >= len + 4) {
        memcpy(out, c->rx + 4, len);
        out[len] = '\0';
        memmove(c->rx, c->rx + 4 + len, c->rx_len - 4 - len);
        c->rx_len -= 4 + len;
        return 1;
      }
    }
    {
      ssize_t n = recv(c->fd, c->rx + c->rx_len, sizeof c->rx - c->rx_len, 0);
      if (n > 0) {
        c->rx_len += (size_t)n;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
      if (n == 0) errno = 0;
      return -1;
    }
  }
}

static inline void sig_close(SigConn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->rx_len = 0;
}

#endif /* XP2P_EXAMPLES_SIGNAL_H */
