/* The SCTP transport over two DTLS transports in one process, wired through
 * their send callbacks on a real loop: association up (one side started
 * before its DTLS handshake finished), messages of 1 to 262144 bytes ordered
 * and unordered, the max-message-size error, buffered amount and its low
 * callback, stream close seen on both sides, argument, state and stale-handle
 * checks, the association timeout, and Destroy aborting the peer. */
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/sctp_transport.h>

#include "check.h"
#include "dtls_pair.h"

#define MAX_MSGS 64

typedef struct Side {
  xDtlsTransport dtls;
  xSctpTransport sctp;
  struct Side *peer;
  xDtlsState dtls_state;
  int up, down, low, dtls_data;
  int closed_streams[8];
  int n_closed;
  int n;
  uint16_t sid[MAX_MSGS];
  uint32_t ppid[MAX_MSGS];
  size_t len[MAX_MSGS];
  uint32_t sum[MAX_MSGS];
} Side;

static uint32_t fnv(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static xErrno feed_peer(const uint8_t *data, size_t len, void *arg) {
  Side *s = (Side *)arg;
  if (s->peer) dtls_wire_queue(&s->peer->dtls, data, len);
  return xErrno_Ok;
}

static void on_dtls_state(xDtlsTransport t, xDtlsState st, void *arg) {
  (void)t;
  ((Side *)arg)->dtls_state = st;
}

static void on_dtls_data(xDtlsTransport t, const uint8_t *d, size_t n, void *arg) {
  (void)t;
  (void)d;
  (void)n;
  ((Side *)arg)->dtls_data++;
}

static void on_state(xSctpTransport t, bool connected, void *arg) {
  Side *s = (Side *)arg;
  (void)t;
  if (connected)
    s->up++;
  else
    s->down++;
}

static void on_data(xSctpTransport t, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len,
                    void *arg) {
  Side *s = (Side *)arg;
  (void)t;
  if (s->n < MAX_MSGS) {
    s->sid[s->n] = sid;
    s->ppid[s->n] = ppid;
    s->len[s->n] = len;
    s->sum[s->n] = fnv(data, len);
  }
  s->n++;
}

static void on_stream_close(xSctpTransport t, uint16_t sid, void *arg) {
  Side *s = (Side *)arg;
  (void)t;
  if (s->n_closed < 8) s->closed_streams[s->n_closed] = sid;
  s->n_closed++;
}

static void on_low(xSctpTransport t, void *arg) {
  (void)t;
  ((Side *)arg)->low++;
}

typedef int (*Cond)(Side *a, Side *b);
static int dtls_up(Side *a, Side *b) {
  return a->dtls_state == xDtlsState_Connected && b->dtls_state == xDtlsState_Connected;
}
static int sctp_up(Side *a, Side *b) { return a->up && b->up; }

static int spin(xEventLoop loop, int ms, Cond cond, Side *a, Side *b) {
  uint64_t end = xMonoMs() + (cond ? check_wait_ms((uint64_t)ms) : (uint64_t)ms);
  while (xMonoMs() < end && !(cond && cond(a, b))) {
    dtls_wire_flush();
    xEventWait(loop, 5);
  }
  return cond ? cond(a, b) : 1;
}

static xDtlsTransport make_dtls(xEventLoop loop, Side *s, xDtlsRole role, xDtlsSendFn fn) {
  xDtlsTransportConf c = dtls_conf(loop, role, fn, s, on_dtls_state, on_dtls_data, s);
  return xDtlsTransportCreate(&c);
}

static xSctpTransportConf sctp_conf(xEventLoop loop, Side *s) {
  xSctpTransportConf c;
  memset(&c, 0, sizeof c);
  c.loop = loop;
  c.dtls = s->dtls;
  c.on_state_change = on_state;
  c.on_data = on_data;
  c.on_stream_close = on_stream_close;
  c.on_buffered_amount_low = on_low;
  c.ctx = s;
  return c;
}

/* Sends, retrying while the send buffer is full. */
static xErrno send_msg(xEventLoop loop, Side *s, uint16_t sid, uint32_t ppid, const uint8_t *d,
                       size_t n, bool ordered) {
  uint64_t end = xMonoMs() + 20000;
  xErrno r;
  while ((r = xSctpTransportSend(s->sctp, sid, ppid, d, n, ordered)) == xErrno_Again &&
         xMonoMs() < end) {
    dtls_wire_flush();
    xEventWait(loop, 5);
  }
  return r;
}

static Side *g_b;
static size_t g_want;
static int b_has(Side *a, Side *b) {
  (void)a;
  return b->n >= (int)g_want;
}
static int a_low_and_empty(Side *a, Side *b) {
  (void)b;
  return a->low > 0 && xSctpTransportGetBufferedAmount(a->sctp) == 0;
}
static int both_closed_3(Side *a, Side *b) {
  int i, ia = 0, ib = 0;
  for (i = 0; i < a->n_closed && i < 8; i++) ia |= a->closed_streams[i] == 3;
  for (i = 0; i < b->n_closed && i < 8; i++) ib |= b->closed_streams[i] == 3;
  return ia && ib;
}
static int a_has_one(Side *a, Side *b) {
  (void)b;
  return a->n >= 1;
}
static int b_down(Side *a, Side *b) {
  (void)a;
  return b->down > 0;
}
static int a_down(Side *a, Side *b) {
  (void)b;
  return a->down > 0;
}

static void arguments(xEventLoop loop) {
  Side s;
  xSctpTransportConf c;
  uint8_t byte = 1;
  memset(&s, 0, sizeof s);
  CHECK(xSctpTransportCreate(NULL) == NULL);
  s.dtls = make_dtls(loop, &s, xDtlsRole_Active, dtls_drop_all);
  CHECK(s.dtls != NULL);
  c = sctp_conf(loop, &s);
  c.loop = NULL;
  CHECK(xSctpTransportCreate(&c) == NULL);
  c = sctp_conf(loop, &s);
  c.dtls = NULL;
  CHECK(xSctpTransportCreate(&c) == NULL);
  c.dtls = (xDtlsTransport)(uintptr_t)0x1234560;
  CHECK(xSctpTransportCreate(&c) == NULL);

  c = sctp_conf(loop, &s);
  s.sctp = xSctpTransportCreate(&c);
  CHECK(s.sctp != NULL);
  /* One SCTP transport per DTLS transport. */
  CHECK(xSctpTransportCreate(&c) == NULL);
  /* Wrong states: not started, not connected. */
  CHECK(!xSctpTransportIsConnected(s.sctp));
  CHECK_EQ_INT(xSctpTransportGetBufferedAmount(s.sctp), 0);
  CHECK_EQ_INT(xSctpTransportSend(s.sctp, 0, XSCTP_PPID_BINARY, &byte, 1, true),
               xErrno_InvalidState);
  CHECK_EQ_INT(xSctpTransportCloseStream(s.sctp, 0), xErrno_InvalidState);
  CHECK_EQ_INT(xSctpTransportSend(s.sctp, 0, XSCTP_PPID_BINARY, NULL, 1, true),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportSend(s.sctp, 0, XSCTP_PPID_BINARY, &byte, 0, true),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportFeedInput(s.sctp, NULL, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportFeedInput(s.sctp, &byte, 0), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportStart(s.sctp), xErrno_Ok);
  CHECK_EQ_INT(xSctpTransportStart(s.sctp), xErrno_InvalidState);
  /* Garbage is dropped. */
  {
    uint8_t junk[64];
    memset(junk, 0xAB, sizeof junk);
    CHECK_EQ_INT(xSctpTransportFeedInput(s.sctp, junk, sizeof junk), xErrno_Ok);
  }
  xSctpTransportDestroy(s.sctp);
  /* Stale and NULL handles. */
  CHECK_EQ_INT(xSctpTransportStart(s.sctp), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportSend(s.sctp, 0, 53, &byte, 1, true), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportFeedInput(s.sctp, &byte, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportCloseStream(s.sctp, 0), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportGetBufferedAmount(s.sctp), 0);
  CHECK(!xSctpTransportIsConnected(s.sctp));
  xSctpTransportDestroy(s.sctp);
  xSctpTransportDestroy(NULL);
  CHECK_EQ_INT(xSctpTransportStart(NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportSend(NULL, 0, 53, &byte, 1, true), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportFeedInput(NULL, &byte, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportCloseStream(NULL, 0), xErrno_InvalidArg);
  CHECK_EQ_INT(xSctpTransportGetBufferedAmount(NULL), 0);
  CHECK(!xSctpTransportIsConnected(NULL));
  /* The DTLS transport is free again for a new SCTP transport. */
  s.sctp = xSctpTransportCreate(&c);
  CHECK(s.sctp != NULL);
  xSctpTransportDestroy(s.sctp);
  xDtlsTransportDestroy(s.dtls);
  spin(loop, 20, NULL, NULL, NULL);
}

/* An SCTP transport whose DTLS never connects reports down at its
 * association timeout. */
static void association_timeout(xEventLoop loop) {
  Side s;
  xSctpTransportConf c;
  uint64_t t0;
  memset(&s, 0, sizeof s);
  s.dtls = make_dtls(loop, &s, xDtlsRole_Active, dtls_drop_all);
  c = sctp_conf(loop, &s);
  c.assoc_timeout_ms = 300;
  s.sctp = xSctpTransportCreate(&c);
  CHECK(s.sctp != NULL);
  t0 = xMonoMs();
  CHECK_EQ_INT(xSctpTransportStart(s.sctp), xErrno_Ok);
  CHECK(spin(loop, 3000, a_down, &s, &s));
  CHECK(xMonoMs() - t0 >= 250);
  CHECK_EQ_INT(s.up, 0);
  CHECK_EQ_INT(s.down, 1);
  xSctpTransportDestroy(s.sctp);
  xDtlsTransportDestroy(s.dtls);
}

static void full_path(xEventLoop loop) {
  Side *a = calloc(1, sizeof(Side)), *b = calloc(1, sizeof(Side));
  xSctpTransportConf c;
  static const size_t sizes[] = {1, 1200, 65536, 262144};
  uint8_t *buf = malloc(262145);
  uint32_t sums[8];
  size_t i, k;
  int j;
  a->peer = b;
  b->peer = a;
  g_b = b;
  for (i = 0; i < 262145; i++) buf[i] = (uint8_t)(i * 31 + 7);

  a->dtls = make_dtls(loop, a, xDtlsRole_Active, feed_peer);
  b->dtls = make_dtls(loop, b, xDtlsRole_Passive, feed_peer);
  c = sctp_conf(loop, a);
  c.local_port = 5001;
  c.remote_port = 5002;
  a->sctp = xSctpTransportCreate(&c);
  c = sctp_conf(loop, b);
  c.local_port = 5002;
  c.remote_port = 5001;
  b->sctp = xSctpTransportCreate(&c);
  CHECK(a->sctp && b->sctp);
  /* a's association starts before DTLS is up: its packets wait. */
  CHECK_EQ_INT(xSctpTransportStart(a->sctp), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportStart(b->dtls), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportStart(a->dtls), xErrno_Ok);
  CHECK(spin(loop, 5000, dtls_up, a, b));
  CHECK_EQ_INT(xSctpTransportStart(b->sctp), xErrno_Ok);
  CHECK(spin(loop, 10000, sctp_up, a, b));
  CHECK(xSctpTransportIsConnected(a->sctp) && xSctpTransportIsConnected(b->sctp));
  CHECK_EQ_INT(a->up, 1);
  CHECK_EQ_INT(b->up, 1);

  /* Ordered messages on stream 1, unordered on stream 2, both directions
   * of size checks. */
  for (k = 0; k < 4; k++) {
    CHECK_EQ_INT(send_msg(loop, a, 1, XSCTP_PPID_BINARY, buf, sizes[k], true), xErrno_Ok);
    sums[k] = fnv(buf, sizes[k]);
  }
  /* Accepted and not yet acknowledged. */
  CHECK(xSctpTransportGetBufferedAmount(a->sctp) > 0);
  for (k = 0; k < 4; k++) {
    CHECK_EQ_INT(send_msg(loop, a, 2, XSCTP_PPID_STRING, buf + 1, sizes[k], false), xErrno_Ok);
    sums[4 + k] = fnv(buf + 1, sizes[k]);
  }
  /* Above the max message size: a clear error, nothing sent. */
  CHECK_EQ_INT(xSctpTransportSend(a->sctp, 1, XSCTP_PPID_BINARY, buf, 262145, true),
               xErrno_InvalidArg);
  /* A stream beyond the negotiated ones. */
  CHECK_EQ_INT(xSctpTransportSend(a->sctp, 300, XSCTP_PPID_BINARY, buf, 10, true),
               xErrno_InvalidArg);
  g_want = 8;
  CHECK(spin(loop, 20000, b_has, a, b));
  CHECK_EQ_INT(b->n, 8);
  {
    int ordered_next = 0, unordered_seen = 0;
    for (j = 0; j < b->n && j < MAX_MSGS; j++) {
      if (b->sid[j] == 1) {
        /* In order, whole, intact. */
        CHECK_EQ_INT(b->ppid[j], XSCTP_PPID_BINARY);
        CHECK_EQ_INT(b->len[j], sizes[ordered_next]);
        CHECK_EQ_INT(b->sum[j], sums[ordered_next]);
        ordered_next++;
      } else {
        CHECK_EQ_INT(b->sid[j], 2);
        CHECK_EQ_INT(b->ppid[j], XSCTP_PPID_STRING);
        for (k = 0; k < 4; k++)
          if (b->len[j] == sizes[k] && b->sum[j] == sums[4 + k]) unordered_seen |= 1 << k;
      }
    }
    CHECK_EQ_INT(ordered_next, 4);
    CHECK_EQ_INT(unordered_seen, 15);
  }
  /* Everything acknowledged: the buffered amount fell to 0, once. */
  CHECK(spin(loop, 5000, a_low_and_empty, a, b));
  CHECK_EQ_INT(xSctpTransportGetBufferedAmount(a->sctp), 0);
  /* The other direction. */
  CHECK_EQ_INT(send_msg(loop, b, 5, XSCTP_PPID_BINARY, buf, 1200, true), xErrno_Ok);
  CHECK(spin(loop, 5000, a_has_one, a, b));
  if (a->n >= 1) {
    CHECK_EQ_INT(a->sid[0], 5);
    CHECK_EQ_INT(a->len[0], 1200);
    CHECK_EQ_INT(a->sum[0], fnv(buf, 1200));
  }
  /* The DTLS on_data is not called while SCTP consumes the records. */
  CHECK_EQ_INT(a->dtls_data, 0);
  CHECK_EQ_INT(b->dtls_data, 0);

  /* Stream close reaches both sides. */
  CHECK_EQ_INT(xSctpTransportCloseStream(a->sctp, 3), xErrno_Ok);
  CHECK(spin(loop, 5000, both_closed_3, a, b));

  /* Destroying a aborts b's association. */
  xSctpTransportDestroy(a->sctp);
  a->sctp = NULL;
  CHECK(spin(loop, 5000, b_down, a, b));
  CHECK_EQ_INT(b->down, 1);
  CHECK(!xSctpTransportIsConnected(b->sctp));
  CHECK_EQ_INT(xSctpTransportSend(b->sctp, 5, 53, buf, 10, true), xErrno_InvalidState);
  CHECK_EQ_INT(a->down, 0); /* no callback after Destroy */

  xSctpTransportDestroy(b->sctp);
  xDtlsTransportDestroy(a->dtls);
  xDtlsTransportDestroy(b->dtls);
  spin(loop, 20, NULL, NULL, NULL);
  free(buf);
  free(a);
  free(b);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  arguments(loop);
  association_timeout(loop);
  full_path(loop);
  while (dtls_wire_flush() > 0) {
  }
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}
