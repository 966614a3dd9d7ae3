/* options.h: what the C examples ice_echo and chat share besides the
 * signaling of signal.h: the role and the options both take (--signal,
 * --stun, the TURN options and --relay-only), number arguments, the
 * --relay-only filter for descriptions, and the start-up and shutdown of
 * the event loop and the signaling socket.
 *
 * Header-only: static inline functions (C99, the installed xp2p/xbase
 * headers only), so a program that does not use one of them compiles
 * without warnings.
 */
#ifndef XP2P_EXAMPLES_OPTIONS_H
#define XP2P_EXAMPLES_OPTIONS_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xbase/event.h>

#include "signal.h"

/* The options both examples take. */
typedef struct ExOptions {
  int offer; /* "offer" (1) or "answer" (0), the first argument */
  const char *signal_path; /* --signal PATH */
  const char *stun;        /* --stun HOST:PORT */
  const char *turn, *turn_user, *turn_pass; /* --turn, --turn-user, --turn-pass */
  int relay_only;          /* --relay-only */
} ExOptions;

/* The role from argv[1]: 1 for "offer", 0 for "answer"; calls `usage`
 * (which does not return) for anything else. */
static inline int ex_role(int argc, char **argv, void (*usage)(void)) {
  if (argc < 2) usage();
  if (strcmp(argv[1], "offer") == 0) return 1;
  if (strcmp(argv[1], "answer") != 0) usage();
  return 0;
}

/* If argv[i] is one of the shared options, stores it and returns how many
 * arguments it took (1 or 2); 0 if it is not one of them; -1 if its value
 * is missing. */
static inline int ex_option(ExOptions *o, int argc, char **argv, int i) {
  static const char *const names[] = {"--signal", "--stun", "--turn", "--turn-user",
                                      "--turn-pass"};
  const char **slots[5];
  int k;
  if (strcmp(argv[i], "--relay-only") == 0) {
    o->relay_only = 1;
    return 1;
  }
  slots[0] = &o->signal_path;
  slots[1] = &o->stun;
  slots[2] = &o->turn;
  slots[3] = &o->turn_user;
  slots[4] = &o->turn_pass;
  for (k = 0; k < 5; k++) {
    if (strcmp(argv[i], names[k]) != 0) continue;
    if (i + 1 >= argc) return -1;
    *slots[k] = argv[i + 1];
    return 2;
  }
  return 0;
}

/* A whole number in [lo, hi]; calls `usage` (which does not return) for
 * anything else. */
static inline long ex_num_arg(const char *s, long lo, long hi, void (*usage)(void)) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) usage();
  return v;
}

/* Whether the candidate line `line` (of `len` bytes) is a relayed one
 * (" typ relay"). */
static inline int ex_is_relay(const char *line, size_t len) {
  static const char typ[] = " typ relay";
  size_t n = sizeof typ - 1, i;
  for (i = 0; i + n <= len; i++) {
    if (memcmp(line + i, typ, n) == 0 && (i + n == len || line[i + n] == ' ' ||
                                           line[i + n] == '\r' || line[i + n] == '\n'))
      return 1;
  }
  return 0;
}

/* --relay-only: a copy (malloc) of the SDP without its non-relay
 * a=candidate lines; `*dropped` counts them. */
static inline char *ex_relay_sdp(const char *sdp, int *dropped) {
  size_t n = strlen(sdp);
  char *out = malloc(n + 1), *o = out;
  const char *p = sdp;
  if (!out) abort();
  while (*p) {
    size_t len = strcspn(p, "\n");
    size_t end = len + (p[len] == '\n');
    if (strncmp(p, "a=candidate:", 12) == 0 && !ex_is_relay(p, len)) {
      (*dropped)++;
    } else {
      memcpy(o, p, end);
      o += end;
    }
    p += end;
  }
  *o = '\0';
  return out;
}

/* The event loop, with SIGINT and SIGTERM delivered through it
 * (`on_signal`, `arg`): blocks them first (before the library starts its
 * threads) and ignores SIGPIPE. NULL, after a message
 * "<prog>: no event loop", when there is no loop. */
static inline xEventLoop ex_loop_start(const char *prog, xEventSignalFunc on_signal,
                                       void *arg) {
  sigset_t set;
  xEventLoop loop;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  loop = xEventLoopCreate();
  if (!loop) {
    fprintf(stderr, "%s: no event loop\n", prog);
    return NULL;
  }
  xEventLoopSignalWatch(loop, SIGINT, on_signal, arg);
  xEventLoopSignalWatch(loop, SIGTERM, on_signal, arg);
  return loop;
}

/* The STUN and TURN servers of the options into `conf`, an xIceConf or an
 * xPeerConnectionConf (both name those fields alike). */
#define EX_CONF_SERVERS(conf, o)          \
  do {                                    \
    (conf).stun_server = (o).stun;        \
    (conf).turn_server = (o).turn;        \
    (conf).turn_username = (o).turn_user; \
    (conf).turn_password = (o).turn_pass; \
  } while (0)

/* Closes the signaling connection and, on the offerer, the listening
 * socket and its file. */
static inline void ex_signal_close(SigConn *sig, int listen_fd, const char *path) {
  sig_close(sig);
  if (listen_fd >= 0) {
    close(listen_fd);
    unlink(path);
  }
}

#endif /* XP2P_EXAMPLES_OPTIONS_H */
