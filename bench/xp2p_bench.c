/* xp2p_bench: data-channel benchmarks of libxp2p over loopback.
 *
 * Two processes, signaling through a Unix-domain socket (the server listens):
 *   xp2p_bench server --signal PATH [--recv-delay-us U] [--stall-ms M]
 *                     [--stall-at B] [--recv-limit L]
 *   xp2p_bench client --signal PATH --mode MODE [--bytes N] [--msg-size S]
 *                     [--count C] [--repeat R]
 * Modes (the client offers and creates one reliable ordered channel):
 *   throughput  the client sends N bytes (default 200 MB) in S-byte messages
 *               (default 65536) as fast as back-pressure allows; the server
 *               hashes the stream (SHA-256), compares it with the sender's
 *               digest and reports MB/s (10^6 bytes per second)
 *   rate        the same with C messages (default 200000) of 100 bytes;
 *               reports messages per second
 *   open        R times (default 10), in a fresh pair of PeerConnections:
 *               milliseconds from the client's xPeerConnectionCreate (the
 *               server has created its PeerConnection already and waits for
 *               the offer) to the channel's on_open on the client
 * One process:
 *   xp2p_bench memory [--pairs P]   (also: client --mode memory)
 *               creates P (default 100) connected pairs of PeerConnections
 *               with an open channel each, in this process, and reports the
 *               VmRSS growth per PeerConnection
 *
 * Each run ends with one machine-readable line on stdout:
 *   RESULT mode=throughput bytes=... msgs=... secs=... mbps=... msgps=... match=1
 *   RESULT mode=open rounds=R median_ms=... min_ms=... max_ms=...
 *   RESULT mode=memory pcs=200 kib_per_pc=... rss_before_kib=... rss_after_kib=...
 * The server prints "receiver sha256 HEX" and the client "sender sha256 HEX".
 * A slow receiver (throughput mode; tests/transfer/slow_receiver.sh): the
 * server sleeps U microseconds in each binary on_message, and once B bytes
 * arrived (default a quarter of the stream) sleeps M milliseconds inside
 * that callback, so its loop stalls; it prints "stall START_NS END_NS" and,
 * at the end, its peak resident memory ("receiver vmhwm_kib=N", from
 * /proc/self/status). --recv-limit sets xPeerConnectionSetRecvBufferLimit.
 * The client with --report-ms R prints "buffered NS BYTES SENT" every R ms of
 * the transfer: the channel's buffered amount and the bytes the channel
 * accepted so far (NS: CLOCK_MONOTONIC nanoseconds).
 * Set XP2P_INTERFACES=lo to keep the host candidates on loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/datachannel.h>
#include <xp2p/flow.h>
#include <xp2p/peer_connection.h>

#define MAX_MSG 262144        /* the peer's max-message-size */
#define MAX_FRAME (1 << 20)   /* largest signaling message */
#define SETUP_WAIT_MS 20000   /* offer to open channel */
#define STALL_MS 30000        /* no progress for that long: the run fails */
#define POLL_MS 500          /* blocked sender: retry after that long without the event */

typedef enum Mode { M_THROUGHPUT, M_RATE, M_OPEN, M_MEMORY } Mode;

static const char *mode_name(Mode m) {
  switch (m) {
    case M_THROUGHPUT: return "throughput";
    case M_RATE: return "rate";
    case M_OPEN: return "open";
    case M_MEMORY: return "memory";
  }
  return "?";
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void die(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "xp2p_bench: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void note(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "xp2p_bench: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void hex(const uint8_t *d, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ---- list of strings (candidates waiting for our description) ----------- */

typedef struct StrList {
  char **v;
  int n, cap;
} StrList;

static void strlist_push(StrList *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 8;
    l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
    if (!l->v) die("out of memory");
  }
  l->v[l->n] = strdup(s);
  if (!l->v[l->n]) die("out of memory");
  l->n++;
}

static void strlist_clear(StrList *l) {
  int i;
  for (i = 0; i < l->n; i++) free(l->v[i]);
  l->n = 0;
}

/* ---- state of the two-process modes ------------------------------------- */

static struct App {
  /* Options. */
  int server;
  const char *signal_path;
  Mode mode;
  uint64_t bytes;
  size_t msg_size;
  long count;
  int repeat, pairs, wait_s;
  /* Slow receiver (server) and buffered-amount reports (client). */
  uint64_t recv_delay_us, stall_ms, stall_at, recv_limit, report_ms;
  int stalled;
  uint64_t next_report_ns;
  /* Loop and signaling. */
  xEventLoop loop;
  int listen_fd, sig_fd;
  xEventSource listen_src, sig_src;
  uint8_t *rx;
  size_t rx_len;
  int sig_eof, stop_signal;
  uint64_t next_connect_ns;
  /* The current PeerConnection. */
  xPeerConnection pc;
  xDataChannel ch;
  int desc_sent;
  StrList pending;
  int ch_open, peer_open, failed;
  uint64_t created_ns, open_ns, connected_ns;
  /* Client rounds (open mode) and phases. */
  int got_ready, round;
  double *open_ms, *conn_ms;
  int phase; /* client: 0 signaling, 1 connecting, 2 transfer, 3 waiting for the result */
  /* Sender. */
  uint8_t *buf;
  size_t buf_len; /* message in buf not sent yet (0: none) */
  uint64_t sent, sent_msgs, rng, start_ns, last_progress_ns, blocked_ns;
  int blocked, low_event, end_sent;
  long again, low_events, poll_retries;
  EVP_MD_CTX *md;
  char sender_hex[65];
  /* Receiver. */
  uint64_t received, recv_msgs, first_ns, last_ns, peer_start_ns;
  char result[512];
  int got_result;
  int done, ok;
} app;

/* ---- signaling: 4-byte big-endian length, then the message -------------- */

static int set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int unix_addr(struct sockaddr_un *sun, const char *path) {
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun->sun_path) return -1;
  strcpy(sun->sun_path, path);
  return 0;
}

static void sig_send(const char *msg) {
  size_t len = strlen(msg), off = 0;
  uint8_t *frame;
  if (app.sig_fd < 0) return;
  frame = malloc(len + 4);
  if (!frame) die("out of memory");
  frame[0] = (uint8_t)(len >> 24);
  frame[1] = (uint8_t)(len >> 16);
  frame[2] = (uint8_t)(len >> 8);
  frame[3] = (uint8_t)len;
  memcpy(frame + 4, msg, len);
  while (off < len + 4) {
    ssize_t n = send(app.sig_fd, frame + off, len + 4 - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd p = {app.sig_fd, POLLOUT, 0};
      if (poll(&p, 1, 5000) <= 0) break;
    } else {
      break;
    }
  }
  free(frame);
}

static void sig_sendf(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sig_send(msg);
}

static void on_sig_message(char *msg);

static void on_sig_readable(int fd, xEventMask mask, void *arg) {
  (void)fd;
  (void)mask;
  (void)arg;
  for (;;) {
    ssize_t n;
    while (app.rx_len >= 4) {
      size_t len = ((size_t)app.rx[0] << 24) | ((size_t)app.rx[1] << 16) |
                   ((size_t)app.rx[2] << 8) | app.rx[3];
      char *msg;
      if (len > MAX_FRAME) die("signaling frame too large");
      if (app.rx_len < len + 4) break;
      msg = malloc(len + 1);
      if (!msg) die("out of memory");
      memcpy(msg, app.rx + 4, len);
      msg[len] = '\0';
      memmove(app.rx, app.rx + 4 + len, app.rx_len - 4 - len);
      app.rx_len -= 4 + len;
      on_sig_message(msg);
      free(msg);
      if (app.sig_fd < 0) return;
    }
    n = recv(app.sig_fd, app.rx + app.rx_len, MAX_FRAME + 4 - app.rx_len, 0);
    if (n > 0) {
      app.rx_len += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    app.sig_eof = 1;
    xEventDel(app.loop, app.sig_src);
    app.sig_src = NULL;
    return;
  }
}

static void sig_attach(int fd) {
  set_nonblocking(fd);
  app.sig_fd = fd;
  app.sig_src = xEventAdd(app.loop, fd, xEvent_Read, on_sig_readable, NULL);
  if (!app.sig_src) die("xEventAdd failed");
  on_sig_readable(fd, xEvent_Read, NULL);
}

static void on_listen_readable(int fd, xEventMask mask, void *arg) {
  int c;
  (void)mask;
  (void)arg;
  if (app.sig_fd >= 0) return;
  c = accept(fd, NULL, NULL);
  if (c >= 0) sig_attach(c);
}

/* ---- PeerConnection callbacks ------------------------------------------- */

static void send_candidate(const char *line) {
  char *m = malloc(strlen(line) + 6);
  if (!m) die("out of memory");
  sprintf(m, "cand %s", line);
  sig_send(m);
  free(m);
}

static void on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  (void)arg;
  if (s == xPeerConnectionState_Connected && !app.connected_ns) app.connected_ns = now_ns();
  if (s == xPeerConnectionState_Failed) {
    note("PeerConnection failed");
    app.failed = 1;
  }
}

static void on_candidate(xPeerConnection pc, const char *line, void *arg) {
  (void)pc;
  (void)arg;
  if (!line) line = "a=end-of-candidates";
  if (app.desc_sent)
    send_candidate(line);
  else
    strlist_push(&app.pending, line);
}

static void on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  (void)pc;
  (void)arg;
  if (app.server) app.ch = ch;
}

static void on_open(xDataChannel ch, void *arg) {
  (void)arg;
  if (ch != app.ch) return;
  app.ch_open = 1;
  app.open_ns = now_ns();
  if (app.server) sig_send("open");
}

static void on_close(xDataChannel ch, void *arg) {
  (void)arg;
  if (ch == app.ch && app.ch_open && !app.done) note("channel closed");
}

static void on_low(xDataChannel ch, void *arg) {
  (void)ch;
  (void)arg;
  app.low_event = 1;
  app.low_events++;
}

/* Peak resident memory of this process (VmHWM), KiB; 0 if unknown. */
static long vm_hwm_kib(void) {
  char line[256];
  long kib = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

/* The receiver: hash and count binary messages; "end HEX START_NS" closes the
 * stream and is answered with "result ...". */
static void server_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data,
                           size_t len) {
  uint64_t t = now_ns();
  if (type == xDataChannelMsgType_Binary) {
    if (!app.recv_msgs) app.first_ns = t;
    app.recv_msgs++;
    app.received += len;
    app.last_ns = t;
    EVP_DigestUpdate(app.md, data, len);
    if (app.recv_delay_us) sleep_ns(app.recv_delay_us * 1000u);
    if (app.stall_ms && !app.stalled &&
        app.received >= (app.stall_at ? app.stall_at : app.bytes / 4)) {
      /* The loop does not run meanwhile: nothing is delivered. */
      uint64_t from = now_ns();
      app.stalled = 1;
      sleep_ns(app.stall_ms * 1000000u);
      printf("stall %" PRIu64 " %" PRIu64 " at %" PRIu64 " bytes\n", from, now_ns(),
             app.received);
      app.last_ns = now_ns();
    }
    return;
  }
  {
    char text[256], sender[65], mine[65];
    uint8_t d[32];
    unsigned dlen = 0;
    unsigned long long start = 0;
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    int match;
    double secs;
    memcpy(text, data, n);
    text[n] = '\0';
    if (sscanf(text, "end %64s %llu", sender, &start) != 2) {
      note("unexpected text message: %s", text);
      return;
    }
    EVP_DigestFinal_ex(app.md, d, &dlen);
    hex(d, 32, mine);
    match = strcmp(mine, sender) == 0 && app.received == app.bytes;
    /* Both processes read the same CLOCK_MONOTONIC: from the sender's first
     * send to the last byte here. */
    secs = (double)(app.last_ns - (uint64_t)start) / 1e9;
    printf("receiver sha256 %s\n", mine);
    printf("receiver vmhwm_kib=%ld\n", vm_hwm_kib());
    printf("receiver: %" PRIu64 " bytes in %" PRIu64 " messages, %.3f s, %.1f MB/s, %.0f msg/s, "
           "sha256 %s\n",
           app.received, app.recv_msgs, secs, (double)app.received / secs / 1e6,
           (double)app.recv_msgs / secs, match ? "match" : "MISMATCH");
    snprintf(text, sizeof text, "result %s %d %" PRIu64 " %" PRIu64 " %.6f", mine, match,
             app.received, app.recv_msgs, secs);
    if (xDataChannelSendString(ch, text, strlen(text)) != xErrno_Ok) note("could not send result");
    app.ok = match;
  }
}

static void client_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data,
                           size_t len) {
  (void)ch;
  if (type == xDataChannelMsgType_String && len < sizeof app.result && len > 7 &&
      memcmp(data, "result ", 7) == 0) {
    memcpy(app.result, data, len);
    app.result[len] = '\0';
    app.got_result = 1;
  }
}

static void on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data, size_t len,
                       void *arg) {
  (void)arg;
  if (ch != app.ch) return;
  if (app.server)
    server_message(ch, type, data, len);
  else
    client_message(ch, type, data, len);
}

static void on_stop_signal(int signo, void *arg) {
  (void)arg;
  app.stop_signal = signo;
}

static xPeerConnectionConf pc_conf(void *ctx) {
  xPeerConnectionConf c;
  memset(&c, 0, sizeof c);
  c.on_state_change = on_state;
  c.on_ice_candidate = on_candidate;
  c.on_datachannel = on_datachannel;
  c.on_dc_open = on_open;
  c.on_dc_message = on_message;
  c.on_dc_close = on_close;
  c.ctx = ctx;
  return c;
}

static void pc_new(void) {
  xPeerConnectionConf c = pc_conf(NULL);
  strlist_clear(&app.pending);
  app.desc_sent = app.ch_open = app.peer_open = 0;
  app.connected_ns = 0;
  app.ch = NULL;
  app.created_ns = now_ns();
  app.pc = xPeerConnectionCreate(app.loop, &c);
  if (!app.pc) die("xPeerConnectionCreate failed");
  if (app.recv_limit && xPeerConnectionSetRecvBufferLimit(app.pc, app.recv_limit) != xErrno_Ok)
    die("xPeerConnectionSetRecvBufferLimit failed");
}

static void pc_free(void) {
  xPeerConnectionDestroy(app.pc); /* no callback runs after this */
  app.pc = NULL;
  app.ch = NULL;
}

static void desc_sent(void) {
  int i;
  app.desc_sent = 1;
  for (i = 0; i < app.pending.n; i++) send_candidate(app.pending.v[i]);
  strlist_clear(&app.pending);
}

/* ---- signaling messages -------------------------------------------------- */

static void on_sig_message(char *msg) {
  if (strncmp(msg, "cand ", 5) == 0) {
    if (app.pc && xPeerConnectionAddIceCandidate(app.pc, msg + 5) != xErrno_Ok)
      note("candidate rejected: %s", msg + 5);
    return;
  }
  if (app.server) {
    if (strncmp(msg, "hello ", 6) == 0) {
      char mode[32];
      unsigned long long bytes = 0;
      if (sscanf(msg + 6, "%31s %llu", mode, &bytes) != 2) die("bad hello");
      app.bytes = bytes;
      app.mode = strcmp(mode, "open") == 0 ? M_OPEN : strcmp(mode, "rate") == 0 ? M_RATE
                                                                               : M_THROUGHPUT;
      printf("server: client mode %s, %llu bytes\n", mode, bytes);
      pc_new();
      sig_send("ready");
    } else if (strncmp(msg, "offer\n", 6) == 0) {
      char *answer;
      if (!app.pc) die("offer before hello");
      if (xPeerConnectionSetRemoteDescription(app.pc, msg + 6) != xErrno_Ok)
        die("offer rejected");
      answer = xPeerConnectionCreateAnswer(app.pc);
      if (!answer) die("xPeerConnectionCreateAnswer failed");
      if (xPeerConnectionSetLocalDescription(app.pc, answer) != xErrno_Ok)
        die("xPeerConnectionSetLocalDescription failed");
      sig_sendf("answer\n%s", answer);
      free(answer);
      desc_sent();
    } else if (strcmp(msg, "next") == 0) {
      pc_free();
      pc_new();
      sig_send("ready");
    } else if (strcmp(msg, "bye") == 0) {
      if (app.mode == M_OPEN) app.ok = 1;
      app.done = 1;
    }
    return;
  }
  /* Client. */
  if (strcmp(msg, "ready") == 0) {
    app.got_ready = 1;
  } else if (strncmp(msg, "answer\n", 7) == 0) {
    if (!app.pc || xPeerConnectionSetRemoteDescription(app.pc, msg + 7) != xErrno_Ok)
      die("answer rejected");
  } else if (strcmp(msg, "open") == 0) {
    app.peer_open = 1;
  }
}

/* ---- client -------------------------------------------------------------- */

static void client_connect_pc(void) {
  xDataChannelConf dc;
  char *offer;
  pc_new();
  memset(&dc, 0, sizeof dc);
  snprintf(dc.label, sizeof dc.label, "bench");
  dc.ordered = true;
  dc.on_buffered_amount_low = on_low;
  app.ch = xPeerConnectionCreateDataChannel(app.pc, &dc);
  if (!app.ch) die("xPeerConnectionCreateDataChannel failed");
  offer = xPeerConnectionCreateOffer(app.pc);
  if (!offer) die("xPeerConnectionCreateOffer failed");
  if (xPeerConnectionSetLocalDescription(app.pc, offer) != xErrno_Ok)
    die("xPeerConnectionSetLocalDescription failed");
  sig_sendf("offer\n%s", offer);
  free(offer);
  desc_sent();
}

/* The sender's stream: xorshift64 bytes, the same on every run. */
static void fill_next(void) {
  size_t n = app.msg_size, i;
  uint64_t left = app.bytes - app.sent;
  if (n > left) n = (size_t)left;
  for (i = 0; i < n; i += 8) {
    uint64_t x = app.rng;
    size_t k = n - i < 8 ? n - i : 8;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    app.rng = x;
    memcpy(app.buf + i, &x, k);
  }
  app.buf_len = n;
}

static void pump(void) {
  uint64_t t = now_ns();
  while (app.sent < app.bytes) {
    xErrno e;
    if (!app.buf_len) fill_next();
    e = xDataChannelSendBinary(app.ch, app.buf, app.buf_len);
    if (e == xErrno_Again) {
      size_t amount = xDataChannelGetBufferedAmount(app.ch);
      if (!app.blocked) {
        app.blocked = 1;
        app.blocked_ns = t;
        app.low_event = 0;
        app.again++;
        /* Half of what is buffered now: the event follows its crossing. */
        xDataChannelSetBufferedAmountLowThreshold(app.ch, amount / 2);
      }
      return;
    }
    if (e != xErrno_Ok) die("xDataChannelSendBinary: xErrno %d", (int)e);
    if (app.blocked && !app.low_event) app.poll_retries++;
    app.blocked = 0;
    EVP_DigestUpdate(app.md, app.buf, app.buf_len);
    app.sent += app.buf_len;
    app.sent_msgs++;
    app.buf_len = 0;
    app.last_progress_ns = t;
  }
  if (!app.end_sent) {
    uint8_t d[32];
    unsigned dlen = 0;
    char text[160];
    EVP_DigestFinal_ex(app.md, d, &dlen);
    hex(d, 32, app.sender_hex);
    snprintf(text, sizeof text, "end %s %" PRIu64, app.sender_hex, app.start_ns);
    if (xDataChannelSendString(app.ch, text, strlen(text)) == xErrno_Ok) {
      app.end_sent = 1;
      app.phase = 3;
      printf("sender sha256 %s\n", app.sender_hex);
    }
  }
}

static void client_report_transfer(void) {
  char rhex[65];
  int match = 0;
  unsigned long long bytes = 0, msgs = 0;
  double secs = 0;
  if (sscanf(app.result, "result %64s %d %llu %llu %lf", rhex, &match, &bytes, &msgs, &secs) != 5)
    die("bad result: %s", app.result);
  match = match && strcmp(rhex, app.sender_hex) == 0;
  printf("%s: %llu bytes in %llu messages of %zu bytes, %.3f s: %.1f MB/s, %.0f msg/s; "
         "sha256 %s (back-pressure: %ld waits, %ld events, %ld timed retries)\n",
         mode_name(app.mode), bytes, msgs, app.msg_size, secs, (double)bytes / secs / 1e6,
         (double)msgs / secs, match ? "match" : "MISMATCH", app.again, app.low_events,
         app.poll_retries);
  printf("RESULT mode=%s bytes=%llu msgs=%llu secs=%.6f mbps=%.2f msgps=%.0f match=%d\n",
         mode_name(app.mode), bytes, msgs, secs, (double)bytes / secs / 1e6, (double)msgs / secs,
         match);
  app.ok = match;
}

static void client_report_open(void) {
  double *v = malloc((size_t)app.repeat * sizeof *v), med;
  int i;
  if (!v) die("out of memory");
  memcpy(v, app.open_ms, (size_t)app.repeat * sizeof *v);
  qsort(v, (size_t)app.repeat, sizeof *v, cmp_double);
  med = app.repeat % 2 ? v[app.repeat / 2] : (v[app.repeat / 2 - 1] + v[app.repeat / 2]) / 2;
  printf("open: %d rounds, create to channel open: median %.2f ms, min %.2f, max %.2f\n",
         app.repeat, med, v[0], v[app.repeat - 1]);
  printf("open: per round, create to PeerConnection Connected / to channel open (ms):");
  for (i = 0; i < app.repeat; i++) printf(" %.1f/%.1f", app.conn_ms[i], app.open_ms[i]);
  printf("\n");
  printf("RESULT mode=open rounds=%d median_ms=%.3f min_ms=%.3f max_ms=%.3f\n", app.repeat, med,
         v[0], v[app.repeat - 1]);
  free(v);
  app.ok = 1;
}

/* One turn of the client after each dispatch. */
static void client_step(void) {
  uint64_t t = now_ns();
  if (app.sig_fd < 0) {
    if (t >= app.next_connect_ns) {
      struct sockaddr_un sun;
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      if (fd >= 0 && unix_addr(&sun, app.signal_path) == 0 &&
          connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
        sig_attach(fd);
        sig_sendf("hello %s %" PRIu64, mode_name(app.mode), app.bytes);
      } else {
        if (fd >= 0) close(fd);
        app.next_connect_ns = t + 50000000u;
      }
    }
    return;
  }
  if (app.sig_eof && !app.done) die("signaling closed by the server");
  if (app.failed) die("PeerConnection failed");
  switch (app.phase) {
    case 0:
      if (app.got_ready) {
        app.got_ready = 0;
        client_connect_pc();
        app.phase = 1;
      }
      break;
    case 1:
      if (t - app.created_ns > (uint64_t)SETUP_WAIT_MS * 1000000u)
        die("channel not open %d ms after the offer (round %d)", SETUP_WAIT_MS, app.round);
      if (!app.ch_open) break;
      if (app.mode == M_OPEN) {
        if (!app.peer_open) break;
        app.open_ms[app.round] = (double)(app.open_ns - app.created_ns) / 1e6;
        app.conn_ms[app.round] =
            app.connected_ns ? (double)(app.connected_ns - app.created_ns) / 1e6 : -1;
        app.round++;
        pc_free();
        if (app.round < app.repeat) {
          sig_send("next");
          app.phase = 0;
        } else {
          client_report_open();
          sig_send("bye");
          app.done = 1;
        }
        break;
      }
      app.phase = 2;
      app.start_ns = app.last_progress_ns = now_ns();
      pump();
      break;
    case 2:
      if (app.report_ms && t >= app.next_report_ns) {
        printf("buffered %" PRIu64 " %zu %" PRIu64 "\n", t, xDataChannelGetBufferedAmount(app.ch),
               app.sent);
        app.next_report_ns = t + app.report_ms * 1000000u;
      }
      if (!app.blocked || app.low_event || t - app.blocked_ns >= (uint64_t)POLL_MS * 1000000u)
        pump();
      /* fall through */
    case 3:
      if (app.got_result) {
        client_report_transfer();
        sig_send("bye");
        app.done = 1;
      } else if (now_ns() - app.last_progress_ns > (uint64_t)STALL_MS * 1000000u) {
        die("stalled: %" PRIu64 " of %" PRIu64 " bytes accepted, %zu buffered, channel state %d, "
            "connection state %d, end %s",
            app.sent, app.bytes, xDataChannelGetBufferedAmount(app.ch),
            (int)xDataChannelGetState(app.ch), (int)xPeerConnectionGetState(app.pc),
            app.end_sent ? "sent" : "not sent");
      }
      break;
  }
}

static void server_step(void) {
  static uint64_t last_bytes, last_change;
  uint64_t t = now_ns();
  if (app.sig_eof) app.done = 1;
  if (app.failed) die("PeerConnection failed");
  if (app.received != last_bytes || !last_change) {
    last_bytes = app.received;
    last_change = t;
  } else if (app.recv_msgs && !app.ok && t - last_change > (uint64_t)STALL_MS * 1000000u) {
    die("stalled: %" PRIu64 " of %" PRIu64 " bytes received", app.received, app.bytes);
  }
}

/* ---- memory mode: P pairs in this process -------------------------------- */

typedef struct Peer {
  xPeerConnection pc;
  struct Peer *other;
  int open, failed;
} Peer;

static void m_on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  if (s == xPeerConnectionState_Failed) ((Peer *)arg)->failed = 1;
}

static void m_on_candidate(xPeerConnection pc, const char *line, void *arg) {
  Peer *p = (Peer *)arg;
  (void)pc;
  if (line && p->other->pc) xPeerConnectionAddIceCandidate(p->other->pc, line);
}

static void m_on_open(xDataChannel ch, void *arg) {
  (void)ch;
  ((Peer *)arg)->open++;
}

static long vmrss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

/* Creates n pairs and waits until every channel is open on both ends. */
static int make_pairs(Peer *peers, int n) {
  xPeerConnectionConf c;
  xDataChannelConf dc;
  uint64_t end;
  int i, opened = 0;
  memset(&c, 0, sizeof c);
  c.on_state_change = m_on_state;
  c.on_ice_candidate = m_on_candidate;
  c.on_dc_open = m_on_open;
  memset(&dc, 0, sizeof dc);
  snprintf(dc.label, sizeof dc.label, "mem");
  dc.ordered = true;
  for (i = 0; i < 2 * n; i++) {
    peers[i].other = &peers[i ^ 1];
    c.ctx = &peers[i];
    peers[i].pc = xPeerConnectionCreate(app.loop, &c);
    if (!peers[i].pc) die("xPeerConnectionCreate failed (%d)", i);
  }
  for (i = 0; i < n; i++) {
    Peer *a = &peers[2 * i], *b = &peers[2 * i + 1];
    char *offer, *answer;
    if (!xPeerConnectionCreateDataChannel(a->pc, &dc)) die("xPeerConnectionCreateDataChannel");
    offer = xPeerConnectionCreateOffer(a->pc);
    if (!offer || xPeerConnectionSetLocalDescription(a->pc, offer) != xErrno_Ok ||
        xPeerConnectionSetRemoteDescription(b->pc, offer) != xErrno_Ok)
      die("offer of pair %d", i);
    answer = xPeerConnectionCreateAnswer(b->pc);
    if (!answer || xPeerConnectionSetLocalDescription(b->pc, answer) != xErrno_Ok ||
        xPeerConnectionSetRemoteDescription(a->pc, answer) != xErrno_Ok)
      die("answer of pair %d", i);
    free(offer);
    free(answer);
  }
  end = xMonoMs() + 60000;
  while (xMonoMs() < end) {
    xEventWait(app.loop, 20);
    opened = 0;
    for (i = 0; i < 2 * n; i++) {
      if (peers[i].failed) die("PeerConnection %d failed", i);
      if (peers[i].open && xPeerConnectionGetState(peers[i].pc) == xPeerConnectionState_Connected)
        opened++;
    }
    if (opened == 2 * n) return 0;
  }
  note("only %d of %d PeerConnections connected with an open channel after 60 s", opened, 2 * n);
  return -1;
}

static void free_pairs(Peer *peers, int n) {
  int i;
  for (i = 0; i < 2 * n; i++) {
    xPeerConnectionDestroy(peers[i].pc);
    peers[i].pc = NULL;
  }
}

static int run_memory(void) {
  Peer *peers = calloc((size_t)(2 * app.pairs), sizeof *peers);
  Peer warm[2];
  long before, after, destroyed;
  uint64_t t0;
  double secs, per;
  int i;
  if (!peers) die("out of memory");
  /* One pair first, so one-time set-up (certificates, thread pools, the
   * crypto library) is not charged to the pairs measured. */
  memset(warm, 0, sizeof warm);
  if (make_pairs(warm, 1) < 0) return 1;
  free_pairs(warm, 1);
  for (i = 0; i < 50; i++) xEventWait(app.loop, 2);
  before = vmrss_kib();
  t0 = now_ns();
  if (make_pairs(peers, app.pairs) < 0) return 1;
  secs = (double)(now_ns() - t0) / 1e9;
  for (i = 0; i < 50; i++) xEventWait(app.loop, 2);
  after = vmrss_kib();
  free_pairs(peers, app.pairs);
  for (i = 0; i < 50; i++) xEventWait(app.loop, 2);
  destroyed = vmrss_kib();
  per = (double)(after - before) / (2.0 * app.pairs);
  printf("memory: %d connected PeerConnections (%d pairs, one open channel each) in %.2f s; "
         "VmRSS %ld -> %ld KiB: %.1f KiB per PeerConnection (after destroying all: %ld KiB)\n",
         2 * app.pairs, app.pairs, secs, before, after, per, destroyed);
  printf("RESULT mode=memory pcs=%d kib_per_pc=%.1f rss_before_kib=%ld rss_after_kib=%ld "
         "rss_destroyed_kib=%ld setup_secs=%.3f\n",
         2 * app.pairs, per, before, after, destroyed, secs);
  free(peers);
  return 0;
}

/* ---- options and main ---------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: xp2p_bench server --signal PATH [--recv-delay-us U] [--stall-ms M]\n"
          "                         [--stall-at B] [--recv-limit L]\n"
          "       xp2p_bench client --signal PATH --mode throughput|rate|open|memory\n"
          "                         [--bytes N] [--msg-size S] [--count C] [--repeat R]\n"
          "                         [--report-ms R]\n"
          "       xp2p_bench memory [--pairs P]\n"
          "  --bytes N     throughput: bytes to send (default 200000000)\n"
          "  --msg-size S  message size, 1..%d (throughput 65536, rate 100)\n"
          "  --count C     rate: messages to send (default 200000)\n"
          "  --repeat R    open: fresh connections to time (default 10)\n"
          "  --pairs P     memory: pairs of PeerConnections (default 100)\n"
          "  --wait S      how long to wait for the peer on PATH (default 30)\n",
          MAX_MSG);
  exit(2);
}

static unsigned long long num_arg(const char *s, unsigned long long lo, unsigned long long hi) {
  char *end;
  unsigned long long v;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno || v < lo || v > hi) usage();
  return v;
}

static void parse(int argc, char **argv) {
  int i, have_bytes = 0, have_size = 0;
  if (argc < 2) usage();
  if (strcmp(argv[1], "server") == 0) {
    app.server = 1;
  } else if (strcmp(argv[1], "memory") == 0) {
    app.mode = M_MEMORY;
  } else if (strcmp(argv[1], "client") != 0) {
    usage();
  } else {
    app.mode = (Mode)-1;
  }
  app.count = 200000;
  app.repeat = 10;
  app.pairs = 100;
  app.wait_s = 30;
  for (i = 2; i < argc; i++) {
    const char *o = argv[i];
    if (i + 1 >= argc) usage();
    if (strcmp(o, "--signal") == 0) {
      app.signal_path = argv[++i];
    } else if (strcmp(o, "--mode") == 0) {
      const char *m = argv[++i];
      if (strcmp(m, "throughput") == 0) app.mode = M_THROUGHPUT;
      else if (strcmp(m, "rate") == 0) app.mode = M_RATE;
      else if (strcmp(m, "open") == 0) app.mode = M_OPEN;
      else if (strcmp(m, "memory") == 0) app.mode = M_MEMORY;
      else usage();
    } else if (strcmp(o, "--bytes") == 0) {
      app.bytes = num_arg(argv[++i], 1, 1ull << 50);
      have_bytes = 1;
    } else if (strcmp(o, "--msg-size") == 0) {
      app.msg_size = (size_t)num_arg(argv[++i], 1, MAX_MSG);
      have_size = 1;
    } else if (strcmp(o, "--count") == 0) {
      app.count = (long)num_arg(argv[++i], 1, 1000000000);
    } else if (strcmp(o, "--repeat") == 0) {
      app.repeat = (int)num_arg(argv[++i], 1, 100000);
    } else if (strcmp(o, "--pairs") == 0) {
      app.pairs = (int)num_arg(argv[++i], 1, 10000);
    } else if (strcmp(o, "--recv-delay-us") == 0) {
      app.recv_delay_us = num_arg(argv[++i], 0, 10000000);
    } else if (strcmp(o, "--stall-ms") == 0) {
      app.stall_ms = num_arg(argv[++i], 0, 3600000);
    } else if (strcmp(o, "--stall-at") == 0) {
      app.stall_at = num_arg(argv[++i], 1, 1ull << 50);
    } else if (strcmp(o, "--recv-limit") == 0) {
      app.recv_limit = num_arg(argv[++i], 0, 1ull << 40);
    } else if (strcmp(o, "--report-ms") == 0) {
      app.report_ms = num_arg(argv[++i], 1, 3600000);
    } else if (strcmp(o, "--wait") == 0) {
      app.wait_s = (int)num_arg(argv[++i], 1, 86400);
    } else {
      usage();
    }
  }
  if (app.server) {
    if (!app.signal_path) usage();
    return;
  }
  if (app.mode == (Mode)-1) usage();
  if (app.mode == M_MEMORY) return;
  if (!app.signal_path) usage();
  if (app.mode == M_RATE) {
    if (!have_size) app.msg_size = 100;
    if (!have_bytes) app.bytes = (uint64_t)app.count * app.msg_size;
  } else {
    if (!have_size) app.msg_size = 65536;
    if (!have_bytes) app.bytes = 200000000;
  }
}

int main(int argc, char **argv) {
  sigset_t set;
  int rc;
  uint64_t deadline;

  setvbuf(stdout, NULL, _IOLBF, 0);
  parse(argc, argv);
  app.listen_fd = app.sig_fd = -1;
  app.rng = 0x9e3779b97f4a7c15ull;

  /* Signals go through the loop; block them before the library starts threads. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  app.loop = xEventLoopCreate();
  if (!app.loop) die("no event loop");
  xEventLoopSignalWatch(app.loop, SIGINT, on_stop_signal, NULL);
  xEventLoopSignalWatch(app.loop, SIGTERM, on_stop_signal, NULL);

  if (app.mode == M_MEMORY && !app.server) {
    rc = run_memory();
    xEventLoopDestroy(app.loop);
    return rc;
  }

  app.rx = malloc(MAX_FRAME + 4);
  app.md = EVP_MD_CTX_new();
  if (!app.rx || !app.md || !EVP_DigestInit_ex(app.md, EVP_sha256(), NULL)) die("set-up failed");
  if (app.server) {
    struct sockaddr_un sun;
    if (unix_addr(&sun, app.signal_path) < 0) die("signal path too long");
    app.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (app.listen_fd < 0) die("socket: %s", strerror(errno));
    unlink(app.signal_path);
    if (bind(app.listen_fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
        listen(app.listen_fd, 1) < 0 || set_nonblocking(app.listen_fd) < 0)
      die("cannot listen on %s: %s", app.signal_path, strerror(errno));
    app.listen_src = xEventAdd(app.loop, app.listen_fd, xEvent_Read, on_listen_readable, NULL);
    if (!app.listen_src) die("xEventAdd failed");
  } else {
    app.buf = malloc(app.msg_size);
    app.open_ms = calloc((size_t)app.repeat, sizeof *app.open_ms);
    app.conn_ms = calloc((size_t)app.repeat, sizeof *app.conn_ms);
    if (!app.buf || !app.open_ms || !app.conn_ms) die("out of memory");
  }

  deadline = xMonoMs() + (uint64_t)app.wait_s * 1000;
  while (!app.done && !app.stop_signal) {
    int busy = !app.server && app.phase == 2 && (!app.blocked || app.low_event);
    xEventWait(app.loop, busy ? 0 : app.phase == 2 ? 1 : 20);
    if (app.server)
      server_step();
    else
      client_step();
    if (app.sig_fd < 0 && xMonoMs() > deadline)
      die("no peer on %s after %d s", app.signal_path, app.wait_s);
  }
  if (app.stop_signal) {
    note("stopped by signal %d", app.stop_signal);
    app.ok = 0;
  }
  /* The server lingers until the client hangs up, so its last message
   * (the result) leaves before the association goes away. */
  if (app.server && app.pc) {
    uint64_t end = xMonoMs() + 5000;
    while (!app.sig_eof && !app.stop_signal && xMonoMs() < end) xEventWait(app.loop, 20);
  }
  if (app.pc) pc_free();
  if (app.sig_fd >= 0) close(app.sig_fd);
  if (app.listen_fd >= 0) {
    close(app.listen_fd);
    unlink(app.signal_path);
  }
  xEventLoopDestroy(app.loop);
  EVP_MD_CTX_free(app.md);
  strlist_clear(&app.pending);
  free(app.pending.v);
  free(app.rx);
  free(app.buf);
  free(app.open_ms);
  free(app.conn_ms);
  return app.ok ? 0 : 1;
}
