/* chat: two processes talk over a WebRTC data channel (xp2p PeerConnection).
 *
 * The offerer listens on a Unix-domain socket (a filesystem path), the
 * answerer connects to it; that socket carries the signaling, one text
 * frame per message (4-byte big-endian length, then the text, see
 * signal.h):
 *   "v=0 ..."               the offer (offerer to answerer), then the answer
 *   "a=candidate:..."       one trickled candidate, sent as soon as the
 *                           PeerConnection reports it; applied on arrival
 *                           with xPeerConnectionAddIceCandidate
 *   "a=end-of-candidates"   the sender's gathering is over (optional: a
 *                           peer whose description already holds all its
 *                           candidates may send it at once, or nothing)
 *   "bye N"                 the N channels the sender opened are all
 *                           closed; the other side exits once it has seen
 *                           those N channels close too
 * The offerer creates the channel "chat" (--label) before the offer; the
 * answerer opens one more with --open-channel. Whoever opened a channel
 * sends on it, one message at a time: --count text lines
 * ("hello #1 from <pid>"), with --empty an empty text and an empty binary
 * message, and with each --size B a binary message of B bytes; the other
 * side prints each message and replies "echo: <text>" (for binary:
 * "echo: <B> bytes, fnv1a 0x<checksum>"). Once every reply was checked the
 * opener closes the channel; both sides print the close. Both exit 0 when
 * every message was echoed and every channel closed on both sides; 1 on a
 * wrong reply, a failed connection, or after --timeout (30) seconds.
 *
 * With --bulk N the side also opens a channel "bulk" and streams N bytes
 * on it as binary messages of the largest size the peer accepts (at most
 * 262144; xErrno_Again is back-pressure, retried on the next turn), then
 * the text "end N 0x<fnv1a>"; the receiver of a "bulk" channel checksums
 * what arrives, compares and replies "ok N 0x<fnv1a>" (a mismatch fails
 * it), after which the sender closes the channel. With --stall-ms M the
 * receiver of a "bulk" channel, a quarter into the stream, sleeps M ms
 * inside on_message (its loop stalls, as a slow application's would) and
 * prints "bulk: stalled M ms"; with the checksum line it then prints its
 * peak resident memory ("VmHWM N kB"), see README, "Receive flow control".
 *
 * The last lines are for scripts:
 *   chat: received R, replied R    (a side that echoed the peer's messages)
 *   chat: sent S, echoed S         (messages this side sent, replies checked)
 *
 * By hand, in two terminals (build the examples as said in
 * examples-c/CMakeLists.txt):
 *   XP2P_INTERFACES=lo build/examples/chat offer  --signal /tmp/chat.sock
 *   XP2P_INTERFACES=lo build/examples/chat answer --signal /tmp/chat.sock
 * Add --stun HOST:PORT to both to gather server-reflexive candidates too.
 *
 * TURN: --turn HOST:PORT with --turn-user U --turn-pass P (the
 * turn_server, turn_username and turn_password of xPeerConnectionConf)
 * gathers a relayed candidate as well. With --relay-only chat passes only
 * `typ relay` candidates to the peer (trickled ones and those in its
 * description) and drops every non-relay candidate the peer sends (trickled
 * or in its description), so only a path through a relay can connect; the
 * dropped ones are printed ("relay only: ...") and counted in the line
 *   chat: relay only, candidates sent S, dropped D local and R remote
 *
 * Diagnostics (README, "Diagnostics"): --log LEVEL sets the library's log
 * filter (xp2p/log.h: "debug", "ice=trace,sctp=info", ...; lines go to
 * stderr, as XP2P_LOG would). --stats prints the PeerConnection's and each
 * channel's statistics (xp2p/stats.h) once a second and at exit, as lines
 * starting with "stats".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/log.h>
#include <xp2p/peer_connection.h>
#include <xp2p/stats.h>

#include "options.h"
#include "signal.h"

#define MAX_PLAN 64       /* messages one channel sends */
#define MAX_CHANS 8       /* channels of both sides */
#define MAX_SIZE 16777216 /* largest --size */
#define MAX_CANDS 64      /* local candidates remembered (not sent twice) */

typedef struct Msg {
  int binary;
  size_t len;
  char *text; /* text messages */
  uint32_t seed; /* binary messages: the bytes are pattern(seed) */
} Msg;

typedef struct Chan {
  xDataChannel ch;
  char label[XDC_MAX_LABEL_LEN];
  int own;    /* opened by this side: we send, the peer echoes */
  int opened, closed, close_asked;
  /* own channels */
  int next;     /* next message of the plan to send */
  int waiting;  /* sent, reply not there yet */
  char *expect; /* the reply the message in flight should get */
  int echoed;
  /* remote channels */
  int received, replied;
  /* "bulk" channels: bytes sent or received so far and their FNV-1a */
  int bulk;
  size_t bulk_bytes;
  uint32_t bulk_fnv;
  uint32_t bulk_chunk;
} Chan;

static struct {
  /* Options. */
  ExOptions opt;
  const char *label;
  int count, quiet, empty, open_channel, timeout_s, stats;
  const char *log_filter; /* --log */
  uint64_t next_stats_at;
  size_t bulk; /* --bulk: bytes to stream on a "bulk" channel */
  long stall_ms; /* --stall-ms: stall once while receiving a bulk stream */
  size_t sizes[MAX_PLAN];
  int nsizes;
  /* Run. */
  uint64_t t0;
  xEventLoop loop;
  xPeerConnection pc;
  xPeerConnectionState state;
  int was_connected, failed, stop_signal;
  int listen_fd;
  SigConn sig;
  uint64_t next_connect_at;
  char *local_sdp; /* what we sent (its candidates are not trickled again) */
  int sent_desc, got_desc, sent_bye, got_bye, peer_channels, sig_eof;
  int trickled, remote_cands, end_sent, end_got;
  int relay_sent, dropped_local, dropped_remote; /* --relay-only */
  char *pending_cands[MAX_CANDS]; /* reported before our description was sent */
  int npending;
  Msg plan[MAX_PLAN];
  int nplan;
  uint8_t *buf; /* binary payloads */
  size_t max_size;
  Chan chans[MAX_CHANS];
  int nchans;
  int sent, echoed, received, replied, errors;
  size_t peer_max_message;
} app;

static uint64_t since_start(void) { return xMonoMs() - app.t0; }

static void vsay(int always, const char *fmt, va_list ap) {
  if (app.quiet && !always) return;
  printf("[%5" PRIu64 " ms] %s ", since_start(), app.opt.offer ? "offer " : "answer");
  vprintf(fmt, ap);
  putchar('\n');
}

/* Transcript lines (not with --quiet). */
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(0, fmt, ap);
  va_end(ap);
}

/* Problems: always printed, and the run fails. */
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(1, fmt, ap);
  va_end(ap);
  app.errors++;
}

static const char *state_name(xPeerConnectionState s) {
  switch (s) {
    case xPeerConnectionState_New: return "new";
    case xPeerConnectionState_Connecting: return "connecting";
    case xPeerConnectionState_Connected: return "connected";
    case xPeerConnectionState_Disconnected: return "disconnected";
    case xPeerConnectionState_Failed: return "failed";
    case xPeerConnectionState_Closed: return "closed";
  }
  return "?";
}

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static uint32_t fnv1a_more(uint32_t h, const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void pattern(uint8_t *p, size_t n, uint32_t seed) {
  size_t i;
  for (i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + 7 + seed);
}

static char *dup_printf(const char *fmt, ...) {
  va_list ap;
  int n;
  char *s;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  s = malloc((size_t)n + 1);
  if (!s) abort();
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* A message in the transcript: "chat> text" (sent), "chat< text" (received);
 * long text is cut at 80 bytes, binary shown as size and checksum. */
static void show(const char *dir, const Chan *c, const uint8_t *data, size_t len, int binary) {
  if (binary)
    say("%s%s %zu bytes of binary, fnv1a 0x%08x", c->label, dir, len, fnv1a(data, len));
  else if (len == 0)
    say("%s%s (empty text)", c->label, dir);
  else
    say("%s%s %.*s%s", c->label, dir, (int)(len > 80 ? 80 : len), (const char *)data,
        len > 80 ? "..." : "");
}

/* ---- channels ------------------------------------------------------------ */

static Chan *find(xDataChannel ch) {
  int i;
  for (i = 0; i < app.nchans; i++)
    if (app.chans[i].ch == ch) return &app.chans[i];
  return NULL;
}

static Chan *add_chan(xDataChannel ch, int own);

#define BULK_CHUNK 262144 /* the largest message libxp2p accepts */
#define BULK_BURST 64     /* messages sent per turn at most */

/* Streams the rest of --bulk on a "bulk" channel, then "end N 0x<fnv>". */
static void pump_bulk(Chan *c) {
  size_t chunk = BULK_CHUNK;
  int burst;
  xErrno e;
  if (c->waiting || c->close_asked) return;
  if (app.peer_max_message && app.peer_max_message < chunk) chunk = app.peer_max_message;
  for (burst = 0; burst < BULK_BURST && c->bulk_bytes < app.bulk; burst++) {
    size_t n = app.bulk - c->bulk_bytes < chunk ? app.bulk - c->bulk_bytes : chunk;
    pattern(app.buf, n, c->bulk_chunk);
    e = xDataChannelSendBinary(c->ch, app.buf, n);
    if (e == xErrno_Again) return;
    if (e != xErrno_Ok) {
      fail("%s: sending %zu bytes at offset %zu failed: %s", c->label, n, c->bulk_bytes,
           xstrerror(e));
      c->close_asked = 1;
      xDataChannelClose(c->ch);
      return;
    }
    c->bulk_fnv = fnv1a_more(c->bulk_fnv, app.buf, n);
    c->bulk_bytes += n;
    c->bulk_chunk++;
  }
  if (c->bulk_bytes < app.bulk) return;
  {
    char *end = dup_printf("end %zu 0x%08x", c->bulk_bytes, c->bulk_fnv);
    e = xDataChannelSendString(c->ch, end, strlen(end));
    if (e == xErrno_Again) {
      free(end);
      return;
    }
    if (e != xErrno_Ok) fail("%s: sending \"%s\" failed: %s", c->label, end, xstrerror(e));
    say("%s: %zu bytes sent in %u messages, %s", c->label, c->bulk_bytes, c->bulk_chunk, end);
    c->expect = dup_printf("ok %zu 0x%08x", c->bulk_bytes, c->bulk_fnv);
    c->waiting = 1;
    app.sent++;
    free(end);
  }
}

/* A message on a "bulk" channel the peer opened: checksum binary, check and
 * answer "end N 0x<fnv>". */
static void bulk_received(Chan *c, const uint8_t *data, size_t len, int binary) {
  size_t n = 0;
  unsigned h = 0;
  char *reply;
  char text[64];
  if (binary) {
    c->bulk_bytes += len;
    c->bulk_fnv = fnv1a_more(c->bulk_fnv, data, len);
    if (app.stall_ms > 0 && c->bulk_bytes >= app.bulk / 4) {
      struct timespec ts;
      ts.tv_sec = app.stall_ms / 1000;
      ts.tv_nsec = (app.stall_ms % 1000) * 1000000L;
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
      say("%s: stalled %ld ms at %zu bytes", c->label, app.stall_ms, c->bulk_bytes);
      app.stall_ms = 0;
    }
    return;
  }
  c->received++;
  app.received++;
  show("<", c, data, len, 0);
  if (len < sizeof text) {
    memcpy(text, data, len);
    text[len] = '\0';
  }
  if (len >= sizeof text || sscanf(text, "end %zu 0x%x", &n, &h) != 2) {
    fail("%s: unexpected text on the bulk channel", c->label);
    return;
  }
  if (n != c->bulk_bytes || h != c->bulk_fnv) {
    fail("%s: received %zu bytes, fnv1a 0x%08x; the sender says %zu, 0x%08x", c->label,
         c->bulk_bytes, c->bulk_fnv, n, h);
    reply = dup_printf("bad %zu 0x%08x", c->bulk_bytes, c->bulk_fnv);
  } else {
    say("%s: %zu bytes received, fnv1a 0x%08x matches", c->label, n, h);
    {
      char line[128];
      long kib = -1;
      FILE *f = fopen("/proc/self/status", "r");
      while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
      if (f) fclose(f);
      say("%s: VmHWM %ld kB", c->label, kib);
    }
    reply = dup_printf("ok %zu 0x%08x", c->bulk_bytes, c->bulk_fnv);
  }
  if (xDataChannelSendString(c->ch, reply, strlen(reply)) == xErrno_Ok) {
    c->replied++;
    app.replied++;
  } else {
    fail("%s: reply failed", c->label);
  }
  free(reply);
}

static Chan *add_chan(xDataChannel ch, int own) {
  Chan *c;
  if (app.nchans == MAX_CHANS) {
    fail("too many channels");
    return NULL;
  }
  c = &app.chans[app.nchans++];
  memset(c, 0, sizeof *c);
  c->ch = ch;
  c->own = own;
  snprintf(c->label, sizeof c->label, "%s", xDataChannelGetLabel(ch));
  c->bulk = strcmp(c->label, "bulk") == 0;
  c->bulk_fnv = 2166136261u;
  return c;
}

/* Sends the next message of the plan on an own channel, or closes it when
 * every reply is in. Called whenever something may have changed. */
static void pump(Chan *c) {
  const Msg *m;
  xErrno e;
  if (!c->own || !c->opened || c->closed || c->close_asked || c->waiting) return;
  if (c->bulk) {
    if (c->echoed) {
      c->close_asked = 1;
      xDataChannelClose(c->ch);
    } else {
      pump_bulk(c);
    }
    return;
  }
  if (c->next == app.nplan) {
    say("%s: all %d messages echoed, closing the channel", c->label, c->echoed);
    c->close_asked = 1;
    xDataChannelClose(c->ch);
    return;
  }
  m = &app.plan[c->next];
  if (m->binary) {
    pattern(app.buf, m->len, m->seed);
    e = xDataChannelSendBinary(c->ch, app.buf, m->len);
  } else {
    e = xDataChannelSendString(c->ch, m->text, m->len);
  }
  if (e == xErrno_Again) return; /* back-pressure: again on the next turn */
  if (e != xErrno_Ok) {
    fail("%s: sending message %d (%zu bytes) failed: %s", c->label, c->next + 1, m->len,
         xstrerror(e));
    if (app.peer_max_message && m->len > app.peer_max_message)
      fail("(the peer accepts messages of at most %zu bytes)", app.peer_max_message);
    c->close_asked = 1;
    xDataChannelClose(c->ch);
    return;
  }
  if (m->binary) {
    show(">", c, app.buf, m->len, 1);
    c->expect = dup_printf("echo: %zu bytes, fnv1a 0x%08x", m->len, fnv1a(app.buf, m->len));
  } else {
    show(">", c, (const uint8_t *)m->text, m->len, 0);
    c->expect = dup_printf("echo: %s", m->text);
  }
  c->waiting = 1;
  c->next++;
  app.sent++;
}

/* ---- PeerConnection callbacks (on this thread, from xEventWait) --------- */

static void on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  (void)arg;
  app.state = s;
  say("connection %s", state_name(s));
  if (s == xPeerConnectionState_Connected) app.was_connected = 1;
  if (s == xPeerConnectionState_Failed) app.failed = 1;
}

static void send_candidate(const char *line) {
  if (app.opt.relay_only && !ex_is_relay(line, strlen(line))) {
    app.dropped_local++;
    say("relay only: not sent %s", line);
    return;
  }
  if (sig_send(&app.sig, line) < 0) {
    fail("could not send a candidate: %s", strerror(errno));
    return;
  }
  app.trickled++;
  if (app.opt.relay_only) app.relay_sent++;
  say("trickled %s", line);
}

static void on_candidate(xPeerConnection pc, const char *line, void *arg) {
  char buf[512];
  size_t len;
  (void)pc;
  (void)arg;
  if (!line) {
    say("local gathering done (%d candidates trickled)", app.trickled + app.npending);
    if (!app.sent_desc) {
      if (app.npending < MAX_CANDS) app.pending_cands[app.npending++] = NULL;
      return;
    }
    if (sig_send(&app.sig, "a=end-of-candidates") < 0) fail("could not send end-of-candidates");
    app.end_sent = 1;
    return;
  }
  /* Always as an SDP attribute line, without line end. */
  len = strcspn(line, "\r\n");
  if (strncmp(line, "a=", 2) == 0)
    snprintf(buf, sizeof buf, "%.*s", (int)len, line);
  else
    snprintf(buf, sizeof buf, "a=%.*s", (int)len, line);
  if (!app.sent_desc) {
    if (app.npending < MAX_CANDS) app.pending_cands[app.npending++] = strdup(buf);
    return;
  }
  if (app.local_sdp && strstr(app.local_sdp, buf)) return; /* it was in our description */
  send_candidate(buf);
}

static void on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  Chan *c;
  (void)pc;
  (void)arg;
  c = add_chan(ch, 0);
  if (c) say("%s: channel opened by the peer", c->label);
}

static void on_open(xDataChannel ch, void *arg) {
  Chan *c = find(ch);
  (void)arg;
  if (!c) return;
  c->opened = 1;
  say("%s: open (stream %u)", c->label, xDataChannelGetStreamId(ch));
  pump(c);
}

static void on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data, size_t len,
                       void *arg) {
  Chan *c = find(ch);
  int binary = type == xDataChannelMsgType_Binary;
  xErrno e;
  char *reply;
  (void)arg;
  if (!c) return;
  if (c->own) {
    /* A reply to the message in flight. */
    show("<", c, data, len, binary);
    if (!c->waiting) {
      fail("%s: unexpected message", c->label);
      return;
    }
    if (binary || len != strlen(c->expect) || memcmp(data, c->expect, len) != 0)
      fail("%s: wrong reply, expected \"%s\"", c->label, c->expect);
    else
      c->echoed++, app.echoed++;
    free(c->expect);
    c->expect = NULL;
    c->waiting = 0;
    pump(c);
    return;
  }
  if (c->bulk) {
    bulk_received(c, data, len, binary);
    return;
  }
  /* The peer's message: print it, echo it. */
  c->received++;
  app.received++;
  show("<", c, data, len, binary);
  if (binary)
    reply = dup_printf("echo: %zu bytes, fnv1a 0x%08x", len, fnv1a(data, len));
  else
    reply = dup_printf("echo: %.*s", (int)len, (const char *)data);
  e = xDataChannelSendString(ch, reply, strlen(reply));
  if (e != xErrno_Ok) {
    fail("%s: reply failed: %s", c->label, xstrerror(e));
  } else {
    c->replied++;
    app.replied++;
    show(">", c, (const uint8_t *)reply, strlen(reply), 0);
  }
  free(reply);
}

static void on_close(xDataChannel ch, void *arg) {
  Chan *c = find(ch);
  (void)arg;
  if (!c || c->closed) return;
  c->closed = 1;
  if (c->own && !c->close_asked) {
    fail("%s: closed by the peer before all replies were in", c->label);
  } else {
    say("%s: closed%s", c->label, c->own ? "" : " by the peer");
  }
}

static void on_signal(int signo, void *arg) {
  *(int *)arg = signo;
}

/* ---- signaling ----------------------------------------------------------- */

static size_t sdp_max_message(const char *sdp) {
  const char *p = strstr(sdp, "a=max-message-size:");
  return p ? (size_t)strtoull(p + strlen("a=max-message-size:"), NULL, 10) : 65536;
}

static int count_candidates(const char *sdp) {
  int n = 0;
  const char *p = sdp;
  while ((p = strstr(p, "a=candidate:")) != NULL) n++, p++;
  return n;
}

/* Sends our description and the candidates reported before it. */
static void send_description(void) {
  char *sdp;
  int i;
  char *sent;
  sdp = app.opt.offer ? xPeerConnectionCreateOffer(app.pc) : xPeerConnectionCreateAnswer(app.pc);
  if (!sdp) {
    fail("could not create the %s", app.opt.offer ? "offer" : "answer");
    return;
  }
  if (xPeerConnectionSetLocalDescription(app.pc, sdp) != xErrno_Ok) {
    fail("SetLocalDescription failed");
    free(sdp);
    return;
  }
  /* --relay-only: the peer sees a copy without the non-relay candidates;
   * app.local_sdp stays the full description (candidates in it are not
   * trickled, nor counted as dropped, again). */
  sent = sdp;
  if (app.opt.relay_only) {
    int before = app.dropped_local;
    sent = ex_relay_sdp(sdp, &app.dropped_local);
    if (app.dropped_local > before)
      say("relay only: %d non-relay candidates left out of the %s", app.dropped_local - before,
          app.opt.offer ? "offer" : "answer");
    app.relay_sent += count_candidates(sent);
  }
  if (sig_send(&app.sig, sent) < 0) {
    fail("could not send the %s: %s", app.opt.offer ? "offer" : "answer", strerror(errno));
    if (sent != sdp) free(sent);
    free(sdp);
    return;
  }
  say("%s sent (%zu bytes, %d candidates in it)", app.opt.offer ? "offer" : "answer", strlen(sent),
      count_candidates(sent));
  if (sent != sdp) free(sent);
  app.local_sdp = sdp;
  app.sent_desc = 1;
  /* Candidates reported meanwhile (a NULL entry: gathering ended). */
  for (i = 0; i < app.npending; i++) {
    if (!app.pending_cands[i]) {
      if (sig_send(&app.sig, "a=end-of-candidates") < 0) fail("could not send end-of-candidates");
      app.end_sent = 1;
    } else {
      if (!strstr(sdp, app.pending_cands[i])) send_candidate(app.pending_cands[i]);
      free(app.pending_cands[i]);
    }
  }
  app.npending = 0;
}

static void open_channel(const char *label) {
  xDataChannelConf dc;
  xDataChannel ch;
  memset(&dc, 0, sizeof dc);
  snprintf(dc.label, sizeof dc.label, "%s", label);
  dc.ordered = true; /* callbacks: the PeerConnection's on_dc_* */
  ch = xPeerConnectionCreateDataChannel(app.pc, &dc);
  if (!ch) {
    fail("could not create the channel \"%s\"", app.label);
    return;
  }
  add_chan(ch, 1);
  if (strcmp(label, "bulk") == 0)
    say("bulk: channel created, %zu bytes to send", app.bulk);
  else
    say("%s: channel created, %d messages to send", label, app.nplan);
}

static void open_own_channel(void) {
  open_channel(app.label);
  if (app.bulk) open_channel("bulk");
}

static void handle_frame(char *msg) {
  xErrno e;
  if (strncmp(msg, "v=0", 3) == 0) {
    if (app.got_desc) {
      fail("a second description from the peer");
      return;
    }
    if (app.opt.relay_only) {
      int before = app.dropped_remote;
      char *kept = ex_relay_sdp(msg, &app.dropped_remote);
      if (app.dropped_remote > before)
        say("relay only: %d non-relay candidates of the %s dropped", app.dropped_remote - before,
            app.opt.offer ? "answer" : "offer");
      e = xPeerConnectionSetRemoteDescription(app.pc, kept);
      free(kept);
    } else {
      e = xPeerConnectionSetRemoteDescription(app.pc, msg);
    }
    if (e != xErrno_Ok) {
      fail("the peer's %s was rejected: %s", app.opt.offer ? "answer" : "offer", xstrerror(e));
      app.failed = 1;
      return;
    }
    app.got_desc = 1;
    app.peer_max_message = sdp_max_message(msg);
    say("%s received (%zu bytes, %d candidates in it; peer max-message-size %zu)",
        app.opt.offer ? "answer" : "offer", strlen(msg), count_candidates(msg),
        app.peer_max_message);
    if (!app.opt.offer) {
      if (app.open_channel) open_own_channel();
      send_description();
    }
  } else if (strncmp(msg, "a=candidate:", 12) == 0 || strncmp(msg, "candidate:", 10) == 0) {
    if (app.opt.relay_only && !ex_is_relay(msg, strlen(msg))) {
      app.dropped_remote++;
      say("relay only: dropped remote %s", msg);
      return;
    }
    e = xPeerConnectionAddIceCandidate(app.pc, msg);
    if (e != xErrno_Ok) {
      fail("remote candidate rejected (%s): %s", xstrerror(e), msg);
      return;
    }
    app.remote_cands++;
    say("remote %s", msg);
  } else if (strcmp(msg, "a=end-of-candidates") == 0) {
    e = xPeerConnectionAddIceCandidate(app.pc, msg);
    if (e != xErrno_Ok) fail("end-of-candidates rejected: %s", xstrerror(e));
    app.end_got = 1;
    say("remote gathering done (%d candidates trickled)", app.remote_cands);
  } else if (strncmp(msg, "bye ", 4) == 0) {
    app.got_bye = 1;
    app.peer_channels = atoi(msg + 4);
    say("peer: done (%d channel%s opened by it, closed)", app.peer_channels,
        app.peer_channels == 1 ? "" : "s");
  } else {
    say("ignoring signaling message \"%.40s\"", msg);
  }
}

/* ---- the run ------------------------------------------------------------- */

static int own_done(void) {
  int i;
  for (i = 0; i < app.nchans; i++)
    if (app.chans[i].own && !app.chans[i].closed) return 0;
  return 1;
}

static int remote_done(void) {
  int i, closed = 0;
  for (i = 0; i < app.nchans; i++) {
    if (app.chans[i].own) continue;
    if (!app.chans[i].closed) return 0;
    closed++;
  }
  return app.got_bye && closed >= app.peer_channels;
}

static int step(void) {
  static char msg[SIG_MAX_FRAME + 1];
  uint64_t now = xMonoMs();
  int i;

  if (app.sig.fd < 0) {
    if (app.opt.offer) {
      sig_accept(&app.sig, app.listen_fd);
    } else if (now >= app.next_connect_at) {
      sig_connect(&app.sig, app.opt.signal_path);
      app.next_connect_at = now + 100;
    }
    if (app.sig.fd < 0) return 0;
    say("signaling connected (%s)", app.opt.signal_path);
    if (app.opt.offer) send_description();
  }

  while (!app.sig_eof) {
    int r = sig_recv(&app.sig, msg);
    if (r == 0) break;
    if (r < 0) {
      app.sig_eof = 1;
      if (!app.got_bye) fail("signaling closed by the peer");
      break;
    }
    handle_frame(msg);
  }

  for (i = 0; i < app.nchans; i++) pump(&app.chans[i]);

  if (app.was_connected && own_done() && !app.sent_bye) {
    char bye[32];
    int own = 0;
    for (i = 0; i < app.nchans; i++) own += app.chans[i].own;
    snprintf(bye, sizeof bye, "bye %d", own);
    if (sig_send(&app.sig, bye) < 0) fail("could not say bye");
    app.sent_bye = 1;
  }
  if (app.sent_bye && remote_done()) return 1;
  if (app.failed) {
    fail("the connection failed");
    return 1;
  }
  if (app.errors) return 1;
  /* After "bye" the peer may exit at once: wait for its channels' close. */
  if (app.sig_eof && !app.got_bye) return 1;
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: chat offer|answer --signal PATH [options]\n"
          "  --signal PATH     Unix socket for the signaling (the offerer listens)\n"
          "  --stun HOST:PORT  STUN server for server-reflexive candidates\n"
          "  --turn HOST:PORT  TURN server (UDP) for a relayed candidate\n"
          "  --turn-user U     its long-term credentials (with --turn-pass)\n"
          "  --turn-pass P\n"
          "  --relay-only      signal only relayed candidates, drop the peer's others\n"
          "  --count N         text messages to send on our channel (default 5)\n"
          "  --size B          also one binary message of B bytes (may be repeated)\n"
          "  --empty           also an empty text and an empty binary message\n"
          "  --label L         label of our channel (default \"chat\"; answerer: \"chat-back\")\n"
          "  --open-channel    answerer: open a channel too (the offerer echoes on it)\n"
          "  --bulk N          also stream N bytes on a channel \"bulk\" (checksum checked)\n"
          "  --stall-ms M      stall the loop M ms a quarter into a received bulk stream\n"
          "  --timeout S       give up after S seconds (default 30)\n"
          "  --stats           print statistics once a second and at exit\n"
          "  --log LEVEL       library log filter: error|warn|info|debug|trace, or\n"
          "                    per component, e.g. ice=debug,dtls=info (to stderr)\n"
          "  --quiet           print only problems and the summary\n");
  exit(2);
}

static long num_arg(const char *s, long lo, long hi) { return ex_num_arg(s, lo, hi, usage); }

static void parse(int argc, char **argv) {
  int i, used;
  app.opt.offer = ex_role(argc, argv, usage);
  app.count = 5;
  app.timeout_s = 30;
  for (i = 2; i < argc; i++) {
    const char *o = argv[i];
    used = ex_option(&app.opt, argc, argv, i);
    if (used < 0) usage();
    if (used > 0) {
      i += used - 1;
    } else if (strcmp(o, "--quiet") == 0) {
      app.quiet = 1;
    } else if (strcmp(o, "--stats") == 0) {
      app.stats = 1;
    } else if (strcmp(o, "--empty") == 0) {
      app.empty = 1;
    } else if (strcmp(o, "--open-channel") == 0 && !app.opt.offer) {
      app.open_channel = 1;
    } else if (i + 1 >= argc) {
      usage();
    } else if (strcmp(o, "--count") == 0) {
      app.count = (int)num_arg(argv[++i], 0, 40);
    } else if (strcmp(o, "--size") == 0) {
      if (app.nsizes == 16) usage();
      app.sizes[app.nsizes++] = (size_t)num_arg(argv[++i], 0, MAX_SIZE);
    } else if (strcmp(o, "--bulk") == 0) {
      app.bulk = (size_t)num_arg(argv[++i], 1, 1L << 32);
    } else if (strcmp(o, "--stall-ms") == 0) {
      app.stall_ms = num_arg(argv[++i], 0, 600000);
    } else if (strcmp(o, "--label") == 0) {
      app.label = argv[++i];
      if (strlen(app.label) >= XDC_MAX_LABEL_LEN) usage();
    } else if (strcmp(o, "--timeout") == 0) {
      app.timeout_s = (int)num_arg(argv[++i], 1, 86400);
    } else if (strcmp(o, "--log") == 0) {
      app.log_filter = argv[++i];
    } else {
      usage();
    }
  }
  if (!app.opt.signal_path) usage();
  if (!app.label) app.label = app.opt.offer ? "chat" : "chat-back";
}

/* "ADDR:PORT" of an IPv4/IPv6 socket address, "-" for none. */
static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t n) {
  char ip[INET6_ADDRSTRLEN];
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else {
    snprintf(buf, n, "-");
  }
  return buf;
}

static const char *cand_type(xIceCandidateType t) {
  return t < 0 ? "-" : xIceCandidateTypeStr(t);
}

/* --stats: the PeerConnection, then each channel. */
static void print_stats(const char *when) {
  xPeerConnectionStats s;
  char la[64], ra[64], rs[64], rtt[32];
  int i;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  if (xPeerConnectionGetStats(app.pc, &s) != xErrno_Ok) return;
  if (s.rtt_us >= 0)
    snprintf(rtt, sizeof rtt, "%.3f ms", (double)s.rtt_us / 1000.0);
  else
    snprintf(rtt, sizeof rtt, "-");
  printf("stats %s t=%.1fs: %s; pair %s %s -> %s %s%s%s, rtt %s\n", when,
         (double)since_start() / 1000.0, state_name(s.state), cand_type(s.local_type),
         addr_text(&s.local_address, la, sizeof la), cand_type(s.remote_type),
         addr_text(&s.remote_address, ra, sizeof ra), s.relayed ? " via TURN " : "",
         s.relayed ? addr_text(&s.relay_server, rs, sizeof rs) : "", rtt);
  printf("stats   udp: sent %" PRIu64 " datagrams / %" PRIu64 " bytes, received %" PRIu64
         " / %" PRIu64 ", dropped %" PRIu64 " + %" PRIu64 " above ICE; checks %" PRIu64
         ", consent checks %" PRIu64 "\n",
         s.datagrams_sent, s.bytes_sent, s.datagrams_received, s.bytes_received, s.dropped,
         s.dropped_above_ice, s.checks_sent, s.consent_checks_sent);
  printf("stats   dtls: %s %s; sctp: srtt %u ms, rto %u ms, cwnd %u, peer rwnd %u, mtu %u, "
         "%" PRIu64 " chunks retransmitted; path mtu %u; %u open channels\n",
         s.dtls_version[0] ? s.dtls_version : "-", s.dtls_cipher[0] ? s.dtls_cipher : "-",
         s.sctp_srtt_ms, s.sctp_rto_ms, s.sctp_cwnd, s.sctp_peer_rwnd, s.sctp_mtu,
         s.sctp_retransmitted_chunks, s.path_mtu, s.open_channels);
  for (i = 0; i < app.nchans; i++) {
    xDataChannelStats c;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    if (xDataChannelGetStats(app.chans[i].ch, &c) != xErrno_Ok) continue;
    printf("stats   channel \"%s\" (stream %d): sent %" PRIu64 " messages / %" PRIu64
           " bytes, received %" PRIu64 " / %" PRIu64 ", buffered %" PRIu64 "\n",
           app.chans[i].label, c.stream_id, c.messages_sent, c.bytes_sent, c.messages_received,
           c.bytes_received, c.buffered_amount);
  }
}

static void make_plan(void) {
  int i;
  for (i = 0; i < app.count; i++) {
    Msg *m = &app.plan[app.nplan++];
    m->text = dup_printf("hello #%d from %ld", i + 1, (long)getpid());
    m->len = strlen(m->text);
  }
  if (app.empty) {
    Msg *m = &app.plan[app.nplan++];
    m->text = dup_printf("%s", "");
    m = &app.plan[app.nplan++];
    m->binary = 1;
  }
  for (i = 0; i < app.nsizes; i++) {
    Msg *m = &app.plan[app.nplan++];
    m->binary = 1;
    m->len = app.sizes[i];
    m->seed = (uint32_t)getpid() + (uint32_t)i;
    if (m->len > app.max_size) app.max_size = m->len;
  }
  if (app.bulk && app.max_size < BULK_CHUNK) app.max_size = BULK_CHUNK;
  app.buf = malloc(app.max_size ? app.max_size : 1);
  if (!app.buf) abort();
}

int main(int argc, char **argv) {
  xPeerConnectionConf conf;
  uint64_t deadline;
  int i, ok, own = 0;

  setvbuf(stdout, NULL, _IOLBF, 0);
  parse(argc, argv);
  make_plan();
  app.t0 = xMonoMs();
  app.listen_fd = -1;
  sig_init(&app.sig);

  if (app.log_filter && xP2PLogSetFilter(app.log_filter) != xErrno_Ok) {
    fprintf(stderr, "chat: bad --log filter \"%s\"\n", app.log_filter);
    usage();
  }

  /* Signals go through the loop; blocked before the library starts threads. */
  app.loop = ex_loop_start("chat", on_signal, &app.stop_signal);
  if (!app.loop) return 1;

  memset(&conf, 0, sizeof conf);
  EX_CONF_SERVERS(conf, app.opt);
  conf.on_state_change = on_state;
  conf.on_ice_candidate = on_candidate;
  conf.on_datachannel = on_datachannel;
  conf.on_dc_open = on_open;
  conf.on_dc_message = on_message;
  conf.on_dc_close = on_close;
  app.pc = xPeerConnectionCreate(app.loop, &conf);
  if (!app.pc) {
    fprintf(stderr, "chat: xPeerConnectionCreate failed\n");
    return 1;
  }

  if (app.opt.offer) {
    app.listen_fd = sig_listen(app.opt.signal_path);
    if (app.listen_fd < 0) {
      fprintf(stderr, "chat: cannot listen on %s: %s\n", app.opt.signal_path, strerror(errno));
      return 1;
    }
    open_own_channel(); /* before the offer: it opens when SCTP is up */
    say("waiting for the answerer on %s", app.opt.signal_path);
  } else {
    say("connecting to %s", app.opt.signal_path);
  }

  deadline = app.t0 + (uint64_t)app.timeout_s * 1000;
  while (!app.stop_signal) {
    xEventWait(app.loop, 10);
    if (app.stats && xMonoMs() >= app.next_stats_at) {
      if (app.next_stats_at) print_stats("every 1 s");
      app.next_stats_at = xMonoMs() + 1000;
    }
    if (step()) break;
    if (xMonoMs() >= deadline) {
      fail("timeout after %d s (connection %s)", app.timeout_s, state_name(app.state));
      break;
    }
  }
  if (app.stop_signal) fail("stopped by signal %d", app.stop_signal);

  for (i = 0; i < app.nchans; i++) {
    Chan *c = &app.chans[i];
    own += c->own;
    if (c->own && c->bulk && (c->echoed != 1 || !c->closed))
      fail("%s: %zu of %zu bytes sent, %s, %s", c->label, c->bulk_bytes, app.bulk,
           c->echoed ? "checksum confirmed" : "checksum not confirmed",
           c->closed ? "closed" : "not closed");
    else if (c->own && !c->bulk && (c->echoed != app.nplan || !c->closed))
      fail("%s: %d of %d messages echoed, %s", c->label, c->echoed, app.nplan,
           c->closed ? "closed" : "not closed");
    if (!c->own && !c->closed) fail("%s: the peer's channel is still open", c->label);
  }
  if (app.got_bye && app.peer_channels > app.nchans - own)
    fail("the peer opened %d channels, %d arrived", app.peer_channels, app.nchans - own);
  ok = app.errors == 0 && app.sent_bye && app.got_bye;
  if (!ok && app.errors == 0) fail("the peer did not finish");

  if (app.stats) print_stats("at exit");
  xPeerConnectionDestroy(app.pc); /* no callback runs after this */
  ex_signal_close(&app.sig, app.listen_fd, app.opt.signal_path);
  xEventLoopDestroy(app.loop);
  if (app.received) printf("chat: received %d, replied %d\n", app.received, app.replied);
  printf("chat: sent %d, echoed %d\n", app.sent, app.echoed);
  if (app.opt.relay_only)
    printf("chat: relay only, candidates sent %d, dropped %d local and %d remote\n",
           app.relay_sent, app.dropped_local, app.dropped_remote);
  for (i = 0; i < app.nplan; i++) free(app.plan[i].text);
  free(app.buf);
  free(app.local_sdp);
  return ok ? 0 : 1;
}
