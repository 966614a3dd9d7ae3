/* xp2p_bench: data-channel benchmarks of libxp2p (scripts/bench.sh runs it).
 *
 * Two processes, signaling through a Unix-domain socket (the server listens;
 * a socket path works across network namespaces):
 *   xp2p_bench server --signal PATH [--recv-delay-us U] [--stall-ms M]
 *                     [--stall-at B] [--recv-limit L]
 *   xp2p_bench client --signal PATH --mode MODE [--bytes N] [--msg-size S]
 *                     [--count C] [--repeat R] [--first-size F]
 * Modes (the client offers and creates one reliable ordered channel):
 *   throughput  the client sends N bytes (default 200 MB) in S-byte messages
 *               (default 65536) as fast as back-pressure allows; every
 *               message starts with its sequence number (8 bytes, big
 *               endian; the rest is a seeded pseudo-random stream); the
 *               server checks the sequence, hashes the stream (SHA-256),
 *               compares it with the sender's digest and reports MB/s
 *               (10^6 bytes per second). Both ends also report the CPU time
 *               (getrusage, all threads) they spent from the channel's
 *               opening to the end of the stream
 *   rate        the same with C messages (default 200000) of 100 bytes;
 *               reports messages per second
 *   pingpong    C round trips (default 1000, after 10 not counted) of one
 *               S-byte message (default 100) that the server echoes; the
 *               client checks every echo byte for byte and reports the
 *               median and 99th percentile of the round-trip times
 *   open        R times (default 10), in a fresh pair of PeerConnections:
 *               milliseconds from the client's xPeerConnectionCreate (the
 *               server has created its PeerConnection already and waits for
 *               the offer) to the channel's on_open on the client; then, at
 *               that on_open, the client sends one F-byte message (default
 *               65536) that the server echoes: milliseconds from that send
 *               to the echo's arrival (checked byte for byte)
 * One process:
 *   xp2p_bench memory [--pairs P[,P2,...]] [--idle S]  (also: client --mode memory)
 *               creates connected pairs of PeerConnections with an open
 *               channel each in this process, up to P pairs (default 100),
 *               then P2..., and at each level reports the VmRSS growth per
 *               PeerConnection and, over S seconds (default 0: not
 *               measured) of doing nothing, the CPU time of the process as
 *               a percentage of one core
 *
 * Each run ends with one machine-readable line on stdout (memory: one a level):
 *   RESULT mode=throughput bytes=... msgs=... secs=... mbps=... msgps=... match=1
 *          seq_errors=0 cpu_client_s=... cpu_server_s=... cpu_s_per_gb=...
 *   RESULT mode=pingpong size=S rounds=C median_ms=... p99_ms=... min_ms=... max_ms=... match=1
 *   RESULT mode=open rounds=R median_ms=... min_ms=... max_ms=...
 *          first_median_ms=... first_min_ms=... first_max_ms=... match=1
 *   RESULT mode=memory pairs=P pcs=2P kib_per_pc=... idle_cpu_pct=... rss_before_kib=...
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
 * A failed check (sequence, digest, byte count, echo content) ends the run
 * with match=0 and exit status 1.
 * Set XP2P_INTERFACES (e.g. lo) to choose the interfaces of host candidates.
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
#include <sys/resource.h>
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

typedef enum Mode { M_THROUGHPUT, M_RATE, M_OPEN, M_MEMORY, M_PINGPONG } Mode;

static const char *mode_name(Mode m) {
  switch (m) {
    case M_THROUGHPUT: return "throughput";
    case M_RATE: return "rate";
    case M_OPEN: return "open";
    case M_MEMORY: return "memory";
    case M_PINGPONG: return "pingpong";
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

/* CPU time of this process (all threads), seconds. */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static void put_be64(uint8_t *p, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* The 99th percentile (nearest rank) and the median of n sorted values. */
static double pct99(const double *v, int n) {
  int k = (99 * n + 99) / 100;
  return v[(k < 1 ? 1 : k) - 1];
}

static double median_of(const double *v, int n) {
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
  int repeat, wait_s, idle_s;
  int pairs[8], npairs;
  size_t first_size;
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
  double *open_ms, *conn_ms, *first_ms;
  int first_sent, first_back;
  uint64_t first_ns;
  int phase; /* client: 0 signaling, 1 connecting, 2 transfer, 3 waiting for the result */
  /* Sender. */
  uint8_t *buf;
  size_t buf_len; /* message in buf not sent yet (0: none) */
  uint64_t sent, sent_msgs, rng, start_ns, last_progress_ns, blocked_ns;
  int blocked, low_event, end_sent;
  long again, low_events, poll_retries;
  EVP_MD_CTX *md;
  char sender_hex[65];
  double cpu_start;
  /* Ping-pong (client). */
  long pp_round;
  uint64_t pp_sent_ns;
  double *pp_ms;
  /* Receiver. */
  uint64_t received, recv_msgs, first_rx_ns, last_ns, peer_start_ns, seq_errors;
  double cpu_open;
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
static void send_first(void);
static void pingpong_echo(const uint8_t *data, size_t len);

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
  if (app.server) {
    app.cpu_open = cpu_s();
    sig_send("open");
  } else if (app.mode == M_OPEN) {
    send_first();
  }
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
  if (type == xDataChannelMsgType_Binary && (app.mode == M_PINGPONG || app.mode == M_OPEN)) {
    xErrno e = xDataChannelSendBinary(ch, data, len);
    if (e != xErrno_Ok) note("echo of %zu bytes failed: xErrno %d", len, (int)e);
    return;
  }
  if (type == xDataChannelMsgType_Binary) {
    if (!app.recv_msgs) app.first_rx_ns = t;
    if (len >= 8 && get_be64(data) != app.recv_msgs) {
      if (app.seq_errors++ < 5)
        note("message %" PRIu64 " carries sequence number %" PRIu64, app.recv_msgs,
             get_be64(data));
    }
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
    double secs, cpu = cpu_s() - app.cpu_open;
    memcpy(text, data, n);
    text[n] = '\0';
    if (sscanf(text, "end %64s %llu", sender, &start) != 2) {
      note("unexpected text message: %s", text);
      return;
    }
    EVP_DigestFinal_ex(app.md, d, &dlen);
    hex(d, 32, mine);
    match = strcmp(mine, sender) == 0 && app.received == app.bytes && app.seq_errors == 0;
    /* Both processes read the same CLOCK_MONOTONIC: from the sender's first
     * send to the last byte here. */
    secs = (double)(app.last_ns - (uint64_t)start) / 1e9;
    printf("receiver sha256 %s\n", mine);
    printf("receiver vmhwm_kib=%ld\n", vm_hwm_kib());
    printf("receiver: %" PRIu64 " bytes in %" PRIu64 " messages, %.3f s, %.1f MB/s, %.0f msg/s, "
           "sha256 %s, %" PRIu64 " sequence errors, CPU %.3f s\n",
           app.received, app.recv_msgs, secs, (double)app.received / secs / 1e6,
           (double)app.recv_msgs / secs, match ? "match" : "MISMATCH", app.seq_errors, cpu);
    snprintf(text, sizeof text, "result %s %d %" PRIu64 " %" PRIu64 " %.6f %" PRIu64 " %.6f", mine,
             match, app.received, app.recv_msgs, secs, app.seq_errors, cpu);
    if (xDataChannelSendString(ch, text, strlen(text)) != xErrno_Ok) note("could not send result");
    app.ok = match;
  }
}

static void client_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data,
                           size_t len) {
  (void)ch;
  if (type == xDataChannelMsgType_Binary && app.mode == M_OPEN) {
    if (!app.first_sent || app.first_back) {
      note("unexpected echo (round %d)", app.round);
      app.failed = 1;
      return;
    }
    if (len != app.buf_len || memcmp(data, app.buf, len) != 0) {
      note("round %d: the echo of the first message differs (%zu bytes, sent %zu)", app.round,
           len, app.buf_len);
      app.failed = 1;
      return;
    }
    app.first_back = 1;
    app.first_ms[app.round] = (double)(now_ns() - app.first_ns) / 1e6;
    return;
  }
  if (type == xDataChannelMsgType_Binary && app.mode == M_PINGPONG) {
    pingpong_echo(data, len);
    return;
  }
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
      app.mode = strcmp(mode, "open") == 0       ? M_OPEN
                 : strcmp(mode, "rate") == 0     ? M_RATE
                 : strcmp(mode, "pingpong") == 0 ? M_PINGPONG
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
      if (app.mode == M_OPEN || app.mode == M_PINGPONG) app.ok = 1;
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

/* A message: its sequence number (8 bytes, big endian; none in a message
 * under 8 bytes), then xorshift64 bytes, the same stream on every run. */
static void fill_msg(size_t n, uint64_t seq) {
  size_t i;
  for (i = 0; i < n; i += 8) {
    uint64_t x = app.rng;
    size_t k = n - i < 8 ? n - i : 8;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    app.rng = x;
    memcpy(app.buf + i, &x, k);
  }
  if (n >= 8) put_be64(app.buf, seq);
  app.buf_len = n;
}

static void fill_next(void) {
  size_t n = app.msg_size;
  uint64_t left = app.bytes - app.sent;
  if (n > left) n = (size_t)left;
  fill_msg(n, app.sent_msgs);
}

/* Open mode: the first message, sent at the channel's on_open. */
static void send_first(void) {
  xErrno e;
  fill_msg(app.first_size, (uint64_t)app.round);
  app.first_sent = 1;
  app.first_back = 0;
  app.first_ns = now_ns();
  e = xDataChannelSendBinary(app.ch, app.buf, app.buf_len);
  if (e != xErrno_Ok) die("first message: xErrno %d", (int)e);
}

/* Ping-pong: rounds below 0 warm up and are not counted. */
#define PP_WARMUP 10

static void pingpong_send(void) {
  xErrno e;
  fill_msg(app.msg_size, (uint64_t)(app.pp_round + PP_WARMUP));
  app.pp_sent_ns = now_ns();
  e = xDataChannelSendBinary(app.ch, app.buf, app.buf_len);
  if (e != xErrno_Ok) die("ping-pong send: xErrno %d", (int)e);
}

static void pingpong_echo(const uint8_t *data, size_t len) {
  uint64_t t = now_ns();
  if (app.phase != 2 || app.pp_round >= app.count) {
    note("unexpected echo");
    app.failed = 1;
    return;
  }
  if (len != app.buf_len || memcmp(data, app.buf, len) != 0) {
    note("round %ld: the echo differs from the message (%zu bytes, sent %zu)", app.pp_round, len,
         app.buf_len);
    app.failed = 1;
    return;
  }
  if (app.pp_round >= 0) app.pp_ms[app.pp_round] = (double)(t - app.pp_sent_ns) / 1e6;
  app.pp_round++;
  app.last_progress_ns = t;
  if (app.pp_round < app.count)
    pingpong_send();
  else
    app.phase = 3;
}

static void client_report_pingpong(void) {
  double *v = app.pp_ms;
  int n = (int)app.count;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  printf("pingpong: %d round trips of %zu bytes (after %d not counted): median %.3f ms, "
         "p99 %.3f, min %.3f, max %.3f; every echo matched\n",
         n, app.msg_size, PP_WARMUP, median_of(v, n), pct99(v, n), v[0], v[n - 1]);
  printf("RESULT mode=pingpong size=%zu rounds=%d median_ms=%.4f p99_ms=%.4f min_ms=%.4f "
         "max_ms=%.4f match=1\n",
         app.msg_size, n, median_of(v, n), pct99(v, n), v[0], v[n - 1]);
  app.ok = 1;
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
  unsigned long long bytes = 0, msgs = 0, seq_errors = 0;
  double secs = 0, cpu_server = 0, cpu_client = cpu_s() - app.cpu_start;
  if (sscanf(app.result, "result %64s %d %llu %llu %lf %llu %lf", rhex, &match, &bytes, &msgs,
             &secs, &seq_errors, &cpu_server) != 7)
    die("bad result: %s", app.result);
  match = match && strcmp(rhex, app.sender_hex) == 0 && bytes == app.bytes && seq_errors == 0;
  printf("%s: %llu bytes in %llu messages of %zu bytes, %.3f s: %.1f MB/s, %.0f msg/s; "
         "sha256 %s (back-pressure: %ld waits, %ld events, %ld timed retries)\n",
         mode_name(app.mode), bytes, msgs, app.msg_size, secs, (double)bytes / secs / 1e6,
         (double)msgs / secs, match ? "match" : "MISMATCH", app.again, app.low_events,
         app.poll_retries);
  printf("%s: CPU (user + system, all threads, from the channel's opening): client %.3f s, "
         "server %.3f s: %.3f CPU seconds per GB; %llu sequence errors\n",
         mode_name(app.mode), cpu_client, cpu_server,
         (cpu_client + cpu_server) / (double)bytes * 1e9, seq_errors);
  printf("RESULT mode=%s bytes=%llu msgs=%llu secs=%.6f mbps=%.2f msgps=%.0f match=%d "
         "seq_errors=%llu cpu_client_s=%.3f cpu_server_s=%.3f cpu_s_per_gb=%.3f\n",
         mode_name(app.mode), bytes, msgs, secs, (double)bytes / secs / 1e6, (double)msgs / secs,
         match, seq_errors, cpu_client, cpu_server,
         (cpu_client + cpu_server) / (double)bytes * 1e9);
  app.ok = match;
}

static void client_report_open(void) {
  double *v = malloc((size_t)app.repeat * sizeof *v), *f = malloc((size_t)app.repeat * sizeof *f);
  double med, fmed;
  int i, n = app.repeat;
  if (!v || !f) die("out of memory");
  memcpy(v, app.open_ms, (size_t)n * sizeof *v);
  memcpy(f, app.first_ms, (size_t)n * sizeof *f);
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  qsort(f, (size_t)n, sizeof *f, cmp_double);
  med = median_of(v, n);
  fmed = median_of(f, n);
  printf("open: %d rounds, create to channel open: median %.2f ms, min %.2f, max %.2f\n", n, med,
         v[0], v[n - 1]);
  printf("open: first %zu-byte message echoed after the channel opened: median %.2f ms, "
         "min %.2f, max %.2f (every echo matched)\n",
         app.first_size, fmed, f[0], f[n - 1]);
  printf("open: per round, create to PeerConnection Connected / to channel open / first echo "
         "(ms):");
  for (i = 0; i < n; i++) printf(" %.1f/%.1f/%.1f", app.conn_ms[i], app.open_ms[i], app.first_ms[i]);
  printf("\n");
  printf("RESULT mode=open rounds=%d median_ms=%.3f min_ms=%.3f max_ms=%.3f first_size=%zu "
         "first_median_ms=%.3f first_min_ms=%.3f first_max_ms=%.3f match=1\n",
         n, med, v[0], v[n - 1], app.first_size, fmed, f[0], f[n - 1]);
  free(v);
  free(f);
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
        if (!app.peer_open || !app.first_back) break;
        app.open_ms[app.round] = (double)(app.open_ns - app.created_ns) / 1e6;
        app.conn_ms[app.round] =
            app.connected_ns ? (double)(app.connected_ns - app.created_ns) / 1e6 : -1;
        app.round++;
        app.first_sent = app.first_back = 0;
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
      app.cpu_start = cpu_s();
      if (app.mode == M_PINGPONG) {
        app.pp_round = -PP_WARMUP;
        pingpong_send();
      } else {
        pump();
      }
      break;
    case 2:
      if (app.report_ms && t >= app.next_report_ns) {
        printf("buffered %" PRIu64 " %zu %" PRIu64 "\n", t, xDataChannelGetBufferedAmount(app.ch),
               app.sent);
        app.next_report_ns = t + app.report_ms * 1000000u;
      }
      if (app.mode != M_PINGPONG &&
          (!app.blocked || app.low_event || t - app.blocked_ns >= (uint64_t)POLL_MS * 1000000u))
        pump();
      /* fall through */
    case 3:
      if (app.mode == M_PINGPONG && app.phase == 3) {
        client_report_pingpong();
        sig_send("bye");
        app.done = 1;
      } else if (app.got_result) {
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
  end = xMonoMs() + 60000 + 60 * (uint64_t)n;
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
  note("only %d of %d PeerConnections connected with an open channel after %d s", opened, 2 * n,
       60 + 60 * n / 1000);
  return -1;
}

static void free_pairs(Peer *peers, int n) {
  int i;
  for (i = 0; i < 2 * n; i++) {
    xPeerConnectionDestroy(peers[i].pc);
    peers[i].pc = NULL;
  }
}

/* Connected pairs (all channels open, every PeerConnection Connected). */
static int count_connected(Peer *peers, int n) {
  int i, c = 0;
  for (i = 0; i < 2 * n; i++)
    if (peers[i].open && xPeerConnectionGetState(peers[i].pc) == xPeerConnectionState_Connected)
      c++;
  return c;
}

static int run_memory(void) {
  int max = app.pairs[app.npairs - 1], have = 0, l;
  Peer *peers = calloc((size_t)(2 * max), sizeof *peers);
  Peer warm[2];
  long before;
  int i;
  if (!peers) die("out of memory");
  /* One pair first, so one-time set-up (certificates, thread pools, the
   * crypto library) is not charged to the pairs measured. */
  memset(warm, 0, sizeof warm);
  if (make_pairs(warm, 1) < 0) return 1;
  free_pairs(warm, 1);
  for (i = 0; i < 50; i++) xEventWait(app.loop, 2);
  before = vmrss_kib();
  for (l = 0; l < app.npairs; l++) {
    int want = app.pairs[l], connected, added = want - have;
    uint64_t t0 = now_ns(), idle_end;
    double secs, per, cpu0, cpu1, wall0, wall, pct = -1;
    long after;
    if (want > have) {
      if (make_pairs(peers + 2 * have, want - have) < 0) return 1;
      have = want;
    }
    secs = (double)(now_ns() - t0) / 1e9;
    /* Let the last handshakes' after-effects settle. */
    for (i = 0; i < 100; i++) xEventWait(app.loop, 10);
    after = vmrss_kib();
    per = (double)(after - before) / (2.0 * have);
    if (app.idle_s > 0) {
      wall0 = (double)now_ns() / 1e9;
      cpu0 = cpu_s();
      idle_end = xMonoMs() + (uint64_t)app.idle_s * 1000;
      while (xMonoMs() < idle_end) xEventWait(app.loop, 100);
      cpu1 = cpu_s();
      wall = (double)now_ns() / 1e9 - wall0;
      pct = (cpu1 - cpu0) / wall * 100.0;
    }
    connected = count_connected(peers, have);
    if (connected != 2 * have)
      die("%d of %d PeerConnections still connected after the idle period", connected, 2 * have);
    printf("memory: %d connected PeerConnections (%d pairs, one open channel each; the last %d "
           "pairs set up in %.2f s); VmRSS %ld -> %ld KiB: %.1f KiB per PeerConnection; "
           "idle for %d s: %.2f%% of one core\n",
           2 * have, have, added, secs, before, after, per, app.idle_s, pct);
    printf("RESULT mode=memory pairs=%d pcs=%d kib_per_pc=%.1f idle_cpu_pct=%.3f idle_s=%d "
           "rss_before_kib=%ld rss_after_kib=%ld setup_secs=%.3f\n",
           have, 2 * have, per, pct, app.idle_s, before, after, secs);
  }
  free_pairs(peers, have);
  free(peers);
  return 0;
}

/* ---- options and main ---------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: xp2p_bench server --signal PATH [--recv-delay-us U] [--stall-ms M]\n"
          "                         [--stall-at B] [--recv-limit L]\n"
          "       xp2p_bench client --signal PATH --mode throughput|rate|pingpong|open|memory\n"
          "                         [--bytes N] [--msg-size S] [--count C] [--repeat R]\n"
          "                         [--first-size F] [--report-ms R]\n"
          "       xp2p_bench memory [--pairs P[,P2...]] [--idle S]\n"
          "  --bytes N       throughput: bytes to send (default 200000000)\n"
          "  --msg-size S    message size, 1..%d (throughput 65536, rate and pingpong 100)\n"
          "  --count C       rate: messages to send (default 200000); pingpong: round trips\n"
          "                  (default 1000)\n"
          "  --repeat R      open: fresh connections to time (default 10)\n"
          "  --first-size F  open: size of the message echoed after opening (default 65536)\n"
          "  --pairs P,...   memory: pairs of PeerConnections, ascending levels (default 100)\n"
          "  --idle S        memory: seconds of idle CPU measured at each level (default 0)\n"
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
  int i, have_bytes = 0, have_size = 0, have_count = 0;
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
  app.pairs[0] = 100;
  app.npairs = 1;
  app.first_size = 65536;
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
      else if (strcmp(m, "pingpong") == 0) app.mode = M_PINGPONG;
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
      have_count = 1;
    } else if (strcmp(o, "--repeat") == 0) {
      app.repeat = (int)num_arg(argv[++i], 1, 100000);
    } else if (strcmp(o, "--first-size") == 0) {
      app.first_size = (size_t)num_arg(argv[++i], 1, MAX_MSG);
    } else if (strcmp(o, "--idle") == 0) {
      app.idle_s = (int)num_arg(argv[++i], 0, 86400);
    } else if (strcmp(o, "--pairs") == 0) {
      char list[256], *tok, *save = NULL;
      snprintf(list, sizeof list, "%s", argv[++i]);
      app.npairs = 0;
      for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (app.npairs == (int)(sizeof app.pairs / sizeof app.pairs[0])) usage();
        app.pairs[app.npairs] = (int)num_arg(tok, 1, 10000);
        if (app.npairs && app.pairs[app.npairs] < app.pairs[app.npairs - 1]) usage();
        app.npairs++;
      }
      if (!app.npairs) usage();
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
  if (app.mode == M_PINGPONG) {
    if (!have_size) app.msg_size = 100;
    if (!have_count) app.count = 1000;
  } else if (app.mode == M_RATE) {
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
    app.buf = malloc(app.msg_size > app.first_size ? app.msg_size : app.first_size);
    app.open_ms = calloc((size_t)app.repeat, sizeof *app.open_ms);
    app.conn_ms = calloc((size_t)app.repeat, sizeof *app.conn_ms);
    app.first_ms = calloc((size_t)app.repeat, sizeof *app.first_ms);
    app.pp_ms = calloc(app.mode == M_PINGPONG ? (size_t)app.count : 1, sizeof *app.pp_ms);
    if (!app.buf || !app.open_ms || !app.conn_ms || !app.first_ms || !app.pp_ms)
      die("out of memory");
  }

  deadline = xMonoMs() + (uint64_t)app.wait_s * 1000;
  while (!app.done && !app.stop_signal) {
    /* The sender of throughput and rate spins while it can send; everything
     * else waits for the loop's events. */
    int busy = !app.server && app.phase == 2 && app.mode != M_PINGPONG &&
               (!app.blocked || app.low_event);
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
  free(app.first_ms);
  free(app.pp_ms);
  return app.ok ? 0 : 1;
}
