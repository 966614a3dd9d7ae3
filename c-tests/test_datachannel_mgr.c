/* The full stack in C through the standalone managers: two DTLS transports
 * wired through their send callbacks, an SCTP transport over each, and a
 * data channel manager over each, fed from the SCTP callbacks. Channels are
 * opened from both sides at once (stream ids by DTLS role, no collision),
 * carry text, binary and empty messages, count queued text in their
 * buffered amount, close from either side, and report association loss
 * through on_error; NULL and stale arguments are rejected. */
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/datachannel.h>

#include "check.h"
#include "datachannel_null.h"
#include "dtls_pair.h"

#define MAX_EV 256
/* Text messages of 64 KiB sent in one burst: more than the SCTP send
 * buffer (2 MiB) takes at once. */
#define TEXT_BURST 100

typedef struct Msg {
  xDataChannel ch;
  xDataChannelMsgType type;
  size_t len;
  uint8_t first;
} Msg;

typedef struct Side {
  xDtlsTransport dtls;
  xSctpTransport sctp;
  xDataChannelMgr mgr;
  struct Side *peer;
  xDtlsState dtls_state;
  int sctp_up;
  xDataChannel remote[8];
  int n_remote;
  xDataChannel opened[16];
  int n_open;
  xDataChannel closed[16];
  int n_closed;
  int n_error;
  xErrno last_error;
  int n_low;
  Msg msgs[MAX_EV];
  int n_msgs;
} Side;

static xErrno feed_peer(const uint8_t *data, size_t len, void *arg) {
  Side *s = (Side *)arg;
  if (s->peer) dtls_wire_queue(&s->peer->dtls, data, len);
  return xErrno_Ok;
}

static void on_dtls_state(xDtlsTransport t, xDtlsState st, void *arg) {
  (void)t;
  ((Side *)arg)->dtls_state = st;
}

static void on_sctp_state(xSctpTransport t, bool up, void *arg) {
  (void)t;
  ((Side *)arg)->sctp_up = up;
}

/* Set while the test is inside xDataChannelMgrOnData / OnStreamClose:
 * the on_remote_open, on_open, on_message and on_close they cause run
 * inside them (spec section 5). Only the association's end (which the
 * manager learns by itself, not from a feeding call) reports on_close
 * from the loop. */
static int g_feeding = 0;
static int g_inside = 0;
static int g_outside = 0;
static int g_closed_outside = 0;
#define note_context() note_context_(__func__)
static void note_context_(const char *fn) {
  if (g_feeding)
    g_inside++;
  else if (strcmp(fn, "on_close") == 0)
    g_closed_outside++;
  else
    g_outside++, fprintf(stderr, "outside a feeding call: %s\n", fn);
}

/* The SCTP callbacks feed the manager, as the PeerConnection does. */
static void on_sctp_data(xSctpTransport t, uint16_t sid, uint32_t ppid, const uint8_t *data,
                         size_t len, void *arg) {
  (void)t;
  g_feeding++;
  xDataChannelMgrOnData(((Side *)arg)->mgr, sid, ppid, data, len);
  g_feeding--;
}

static void on_sctp_close(xSctpTransport t, uint16_t sid, void *arg) {
  (void)t;
  g_feeding++;
  xDataChannelMgrOnStreamClose(((Side *)arg)->mgr, sid);
  g_feeding--;
}

static void on_sctp_low(xSctpTransport t, void *arg) {
  (void)t;
  xDataChannelMgrOnBufferedAmountLow(((Side *)arg)->mgr);
}

static void on_remote_open(xDataChannelMgr m, xDataChannel ch, void *arg) {
  Side *s = (Side *)arg;
  note_context();
  CHECK(m == s->mgr);
  if (s->n_remote < 8) s->remote[s->n_remote++] = ch;
}

static void on_open(xDataChannel ch, void *arg) {
  Side *s = (Side *)arg;
  note_context();
  if (s->n_open < 16) s->opened[s->n_open++] = ch;
}

static void on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data, size_t len,
                       void *arg) {
  Side *s = (Side *)arg;
  note_context();
  if (s->n_msgs < MAX_EV) {
    Msg *m = &s->msgs[s->n_msgs];
    m->ch = ch;
    m->type = type;
    m->len = len;
    m->first = len ? data[0] : 0;
  }
  s->n_msgs++;
}

static void on_close(xDataChannel ch, void *arg) {
  Side *s = (Side *)arg;
  note_context();
  if (s->n_closed < 16) s->closed[s->n_closed++] = ch;
}

static void on_error(xDataChannel ch, xErrno err, void *arg) {
  Side *s = (Side *)arg;
  (void)ch;
  s->n_error++;
  s->last_error = err;
}

static void on_low(xDataChannel ch, void *arg) {
  (void)ch;
  ((Side *)arg)->n_low++;
}

static int has(xDataChannel *list, int n, xDataChannel ch) {
  int i;
  for (i = 0; i < n; i++)
    if (list[i] == ch) return 1;
  return 0;
}

typedef int (*Cond)(Side *a, Side *b);
static int spin(xEventLoop loop, int ms, Cond cond, Side *a, Side *b) {
  uint64_t end = xMonoMs() + (cond ? check_wait_ms((uint64_t)ms) : (uint64_t)ms);
  while (xMonoMs() < end && !(cond && cond(a, b))) {
    dtls_wire_flush();
    xEventWait(loop, 5);
  }
  return cond ? cond(a, b) : 1;
}

static void make_side(xEventLoop loop, Side *s, xDtlsRole role) {
  xDtlsTransportConf d;
  xSctpTransportConf c;
  xDataChannelMgrConf m;
  d = dtls_conf(loop, role, feed_peer, s, on_dtls_state, NULL, s);
  s->dtls = xDtlsTransportCreate(&d);
  memset(&c, 0, sizeof c);
  c.loop = loop;
  c.dtls = s->dtls;
  c.on_state_change = on_sctp_state;
  c.on_data = on_sctp_data;
  c.on_stream_close = on_sctp_close;
  c.on_buffered_amount_low = on_sctp_low;
  c.ctx = s;
  s->sctp = xSctpTransportCreate(&c);
  memset(&m, 0, sizeof m);
  m.sctp = s->sctp;
  m.on_remote_open = on_remote_open;
  m.on_open = on_open;
  m.on_message = on_message;
  m.on_close = on_close;
  m.on_error = on_error;
  m.ctx = s;
  s->mgr = xDataChannelMgrCreate(&m);
  CHECK(s->dtls && s->sctp && s->mgr);
}

static xDataChannel open_channel(xDataChannelMgr mgr, const char *label, Side *ctx) {
  xDataChannelConf c;
  memset(&c, 0, sizeof c);
  strcpy(c.label, label);
  strcpy(c.protocol, "test");
  c.ordered = true;
  c.on_buffered_amount_low = on_low;
  c.ctx = ctx; /* the other callbacks fall back to the manager's */
  return xDataChannelCreate(mgr, &c);
}

static int dtls_up(Side *a, Side *b) {
  return a->dtls_state == xDtlsState_Connected && b->dtls_state == xDtlsState_Connected;
}
static int sctp_up(Side *a, Side *b) { return a->sctp_up && b->sctp_up; }
static int all_open(Side *a, Side *b) {
  return a->n_open >= 4 && b->n_open >= 4 && a->n_remote >= 1 && b->n_remote >= 3;
}
static int g_want_b, g_want_a;
static int msgs_in(Side *a, Side *b) { return b->n_msgs >= g_want_b && a->n_msgs >= g_want_a; }
static xDataChannel g_ch;
static int low_and_empty(Side *a, Side *b) {
  (void)b;
  return a->n_low > 0 && xDataChannelGetBufferedAmount(g_ch) == 0;
}
static xDataChannel g_wa, g_wb;
static int closed_both(Side *a, Side *b) {
  return has(a->closed, a->n_closed, g_wa) && has(b->closed, b->n_closed, g_wb);
}
static int b_error_and_closed(Side *a, Side *b) {
  (void)a;
  return b->n_error > 0 && has(b->closed, b->n_closed, g_wb);
}

static xDataChannel remote_by_label(Side *s, const char *label) {
  int i;
  for (i = 0; i < s->n_remote; i++)
    if (strcmp(xDataChannelGetLabel(s->remote[i]), label) == 0) return s->remote[i];
  return NULL;
}

static void null_arguments(void) {
  xDataChannelMgrConf m;
  xDataChannelConf c;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  CHECK(xDataChannelMgrCreate(NULL) == NULL);
  CHECK(xDataChannelMgrCreate(&m) == NULL);
  m.sctp = (xSctpTransport)(uintptr_t)0x7777770;
  CHECK(xDataChannelMgrCreate(&m) == NULL);
  xDataChannelMgrDestroy(NULL);
  xDataChannelMgrOnData(NULL, 0, 51, (const uint8_t *)"x", 1);
  xDataChannelMgrOnStreamClose(NULL, 0);
  xDataChannelMgrOnBufferedAmountLow(NULL);
  CHECK(xDataChannelCreate(NULL, &c) == NULL);
  datachannel_null_channel();
}

static void full_stack(xEventLoop loop) {
  Side *a = calloc(1, sizeof(Side)), *b = calloc(1, sizeof(Side));
  xDataChannel a0, a1, b0, a2, ra0, ra1, rb0, ra2;
  uint8_t *big = malloc(262145);
  int i, n, text_msgs = 0;
  size_t peak = 0;
  memset(big, 'z', 262145);
  a->peer = b;
  b->peer = a;
  make_side(loop, a, xDtlsRole_Active);
  make_side(loop, b, xDtlsRole_Passive);
  CHECK(xDataChannelCreate(a->mgr, NULL) == NULL);

  /* Channels from both sides before anything is connected. */
  a0 = open_channel(a->mgr, "from-a-0", a);
  a1 = open_channel(a->mgr, "from-a-1", a);
  b0 = open_channel(b->mgr, "from-b-0", b);
  CHECK(a0 && a1 && b0);
  CHECK_EQ_INT(xDataChannelGetState(a0), xDataChannelState_Connecting);
  CHECK(strcmp(xDataChannelGetLabel(a0), "from-a-0") == 0);
  CHECK_EQ_INT(xDataChannelSendString(a0, "early", 5), xErrno_InvalidState);

  CHECK_EQ_INT(xDtlsTransportStart(b->dtls), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportStart(a->dtls), xErrno_Ok);
  CHECK(spin(loop, 5000, dtls_up, a, b));
  CHECK_EQ_INT(xSctpTransportStart(a->sctp), xErrno_Ok);
  CHECK_EQ_INT(xSctpTransportStart(b->sctp), xErrno_Ok);
  CHECK(spin(loop, 10000, sctp_up, a, b));
  /* One more from a once the association is up. */
  a2 = open_channel(a->mgr, "from-a-2", a);
  CHECK(a2 != NULL);
  CHECK(spin(loop, 5000, all_open, a, b));
  CHECK(has(a->opened, a->n_open, a0) && has(a->opened, a->n_open, a1) &&
        has(a->opened, a->n_open, a2));
  CHECK(has(b->opened, b->n_open, b0));
  /* DTLS client even, server odd: no collision. */
  CHECK_EQ_INT(xDataChannelGetStreamId(a0) % 2, 0);
  CHECK_EQ_INT(xDataChannelGetStreamId(a1) % 2, 0);
  CHECK_EQ_INT(xDataChannelGetStreamId(a2) % 2, 0);
  CHECK_EQ_INT(xDataChannelGetStreamId(b0) % 2, 1);
  CHECK(xDataChannelGetStreamId(a0) != xDataChannelGetStreamId(a1));
  ra0 = remote_by_label(b, "from-a-0");
  ra1 = remote_by_label(b, "from-a-1");
  ra2 = remote_by_label(b, "from-a-2");
  rb0 = remote_by_label(a, "from-b-0");
  CHECK(ra0 && ra1 && ra2 && rb0);
  if (!(ra0 && ra1 && ra2 && rb0)) goto out;
  CHECK_EQ_INT(xDataChannelGetStreamId(ra0), xDataChannelGetStreamId(a0));
  CHECK_EQ_INT(xDataChannelGetStreamId(rb0), xDataChannelGetStreamId(b0));
  CHECK_EQ_INT(xDataChannelGetState(ra0), xDataChannelState_Open);
  /* A remote channel reports on_remote_open, then on_open. */
  CHECK(has(b->opened, b->n_open, ra0) && has(a->opened, a->n_open, rb0));

  /* Text, binary and empty messages, both ways. */
  CHECK_EQ_INT(xDataChannelSendString(a0, "hello", 5), xErrno_Ok);
  CHECK_EQ_INT(xDataChannelSendBinary(a0, big, 1000), xErrno_Ok);
  CHECK_EQ_INT(xDataChannelSendString(a0, "", 0), xErrno_Ok);
  CHECK_EQ_INT(xDataChannelSendBinary(a0, big, 0), xErrno_Ok);
  CHECK_EQ_INT(xDataChannelSendBinary(a0, big, 262144), xErrno_Ok);
  CHECK_EQ_INT(xDataChannelSendBinary(a0, big, 262145), xErrno_InvalidArg);
  CHECK_EQ_INT(xDataChannelSendString(b0, "back", 4), xErrno_Ok);
  CHECK_EQ_INT(xDataChannelSendString(a0, NULL, 1), xErrno_InvalidArg);
  g_want_b = 5;
  g_want_a = 1;
  CHECK(spin(loop, 10000, msgs_in, a, b));
  CHECK_EQ_INT(b->n_msgs, 5);
  CHECK(b->msgs[0].ch == ra0 && b->msgs[0].type == xDataChannelMsgType_String &&
        b->msgs[0].len == 5 && b->msgs[0].first == 'h');
  CHECK(b->msgs[1].type == xDataChannelMsgType_Binary && b->msgs[1].len == 1000);
  CHECK(b->msgs[2].type == xDataChannelMsgType_String && b->msgs[2].len == 0);
  CHECK(b->msgs[3].type == xDataChannelMsgType_Binary && b->msgs[3].len == 0);
  CHECK(b->msgs[4].type == xDataChannelMsgType_Binary && b->msgs[4].len == 262144);
  CHECK(a->msgs[0].ch == rb0 && a->msgs[0].len == 4 && a->msgs[0].first == 'b');

  /* Buffered amount counts text too: a burst beyond the SCTP send buffer
   * (2 MiB) waits in the manager, then drains, and the low callback fires. */
  g_ch = a1;
  xDataChannelSetBufferedAmountLowThreshold(a1, 1000);
  n = 0;
  for (i = 0; i < TEXT_BURST; i++) {
    xErrno r = xDataChannelSendString(a1, (const char *)big, 65536);
    size_t amt = xDataChannelGetBufferedAmount(a1);
    if (amt > peak) peak = amt;
    if (r == xErrno_Ok) n++;
    CHECK(r == xErrno_Ok || r == xErrno_Again);
  }
  CHECK_EQ_INT(n, TEXT_BURST);
  CHECK(peak >= 65536);
  CHECK(spin(loop, 20000, low_and_empty, a, b));
  g_want_b = 5 + TEXT_BURST;
  CHECK(spin(loop, 20000, msgs_in, a, b));
  for (i = 5; i < b->n_msgs && i < MAX_EV; i++)
    if (b->msgs[i].ch == ra1 && b->msgs[i].type == xDataChannelMsgType_String &&
        b->msgs[i].len == 65536)
      text_msgs++;
  CHECK_EQ_INT(text_msgs, TEXT_BURST);

  /* Close from a (a0) and from b (b0): both sides see on_close. */
  xDataChannelClose(a0);
  g_wa = a0;
  g_wb = ra0;
  CHECK(spin(loop, 5000, closed_both, a, b));
  xDataChannelClose(b0);
  g_wa = rb0;
  g_wb = b0;
  CHECK(spin(loop, 5000, closed_both, a, b));
  CHECK_EQ_INT(xDataChannelGetState(a0), xDataChannelState_Closed);
  CHECK_EQ_INT(xDataChannelGetState(ra0), xDataChannelState_Closed);
  CHECK_EQ_INT(xDataChannelGetState(b0), xDataChannelState_Closed);
  CHECK_EQ_INT(xDataChannelGetState(rb0), xDataChannelState_Closed);
  CHECK_EQ_INT(xDataChannelSendString(a0, "late", 4), xErrno_InvalidState);
  CHECK_EQ_INT(a->n_error, 0);
  CHECK_EQ_INT(b->n_error, 0);

  /* The association ends under b's open channels: on_error, then on_close. */
  CHECK_EQ_INT(g_closed_outside, 0);
  xSctpTransportDestroy(a->sctp);
  a->sctp = NULL;
  g_wb = ra1;
  CHECK(spin(loop, 5000, b_error_and_closed, a, b));
  CHECK_EQ_INT(b->last_error, xErrno_InvalidState);
  CHECK_EQ_INT(xDataChannelGetState(ra2), xDataChannelState_Closed);
  CHECK(open_channel(b->mgr, "after-loss", b) == NULL);

out:
  /* Destroying a manager makes its channel handles stale. */
  xDataChannelMgrDestroy(a->mgr);
  CHECK_EQ_INT(xDataChannelGetState(a1), xDataChannelState_Closed);
  CHECK_EQ_INT(xDataChannelSendString(a1, "x", 1), xErrno_InvalidArg);
  CHECK(strcmp(xDataChannelGetLabel(a1), "") == 0);
  CHECK_EQ_INT(xDataChannelGetStreamId(a1), 0);
  CHECK(xDataChannelCreate(a->mgr, NULL) == NULL);
  xDataChannelMgrDestroy(a->mgr);
  xDataChannelMgrDestroy(b->mgr);
  xSctpTransportDestroy(a->sctp);
  xSctpTransportDestroy(b->sctp);
  xDtlsTransportDestroy(a->dtls);
  xDtlsTransportDestroy(b->dtls);
  spin(loop, 20, NULL, NULL, NULL);
  free(big);
  free(a);
  free(b);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  null_arguments();
  full_stack(loop);
  while (dtls_wire_flush() > 0) {
  }
  xEventLoopDestroy(loop);
  printf("manager callbacks inside OnData/OnStreamClose: %d, outside: %d (+%d on_close at the "
         "association's end)\n",
         g_inside, g_outside, g_closed_outside);
  CHECK(g_inside > 0);
  CHECK_EQ_INT(g_outside, 0);
  return CHECK_DONE();
}
