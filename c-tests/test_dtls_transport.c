/* The DTLS transport through the real loop: fingerprints, argument checks,
 * a handshake between two transports whose send callbacks feed each other,
 * data both ways, fingerprint verification (right and wrong), timeouts and
 * garbage input. */
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/dtls_transport.h>

#include "check.h"
#include "dtls_pair.h"

typedef struct End {
  xDtlsTransport self;
  struct End *peer;
  xDtlsState state;
  int connecting_seen;
  int closed;
  int received;
  size_t last_len;
  uint8_t last[4096];
} End;

static xErrno feed_peer(const uint8_t *data, size_t len, void *arg) {
  End *e = (End *)arg;
  if (e->peer && e->peer->self) xDtlsTransportFeedInput(e->peer->self, data, len);
  return xErrno_Ok;
}

static void on_state(xDtlsTransport t, xDtlsState s, void *arg) {
  End *e = (End *)arg;
  (void)t;
  e->state = s;
  if (s == xDtlsState_Connecting) e->connecting_seen = 1;
  if (s == xDtlsState_Closed) e->closed++;
}

static void on_data(xDtlsTransport t, const uint8_t *data, size_t len, void *arg) {
  End *e = (End *)arg;
  (void)t;
  e->received++;
  e->last_len = len < sizeof e->last ? len : sizeof e->last;
  memcpy(e->last, data, e->last_len);
}

static xDtlsTransportConf conf_for(xEventLoop loop, End *e, xDtlsRole role) {
  return dtls_conf(loop, role, feed_peer, e, on_state, on_data, e);
}

typedef int (*Cond)(End *a, End *b);
static int both_connected(End *a, End *b) {
  return a->state == xDtlsState_Connected && b->state == xDtlsState_Connected;
}
static int a_failed(End *a, End *b) {
  (void)b;
  return a->state == xDtlsState_Failed;
}
static int b_has_two(End *a, End *b) {
  (void)a;
  return b->received >= 2;
}
static int a_has_one(End *a, End *b) {
  (void)b;
  return a->received >= 1;
}

static void spin(xEventLoop loop, int ms, Cond cond, End *a, End *b) {
  uint64_t end = xMonoMs() + (cond ? check_wait_ms((uint64_t)ms) : (uint64_t)ms);
  while (xMonoMs() < end && !(cond && cond(a, b))) xEventWait(loop, 5);
}

static void fingerprints(void) {
  uint8_t fp[32], raw[32];
  char s[96];
  int i;
  const char *upper =
      "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:"
      "1D:1E:FF";
  CHECK_EQ_INT(xDtlsFingerprintFromStr(upper, fp), xErrno_Ok);
  CHECK(fp[0] == 0 && fp[1] == 1 && fp[2] == 2 && fp[15] == 15 && fp[16] == 16 && fp[31] == 0xFF);
  CHECK_EQ_INT(xDtlsFingerprintFromStr(
                   "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:"
                   "44:55:66:77:88:99",
                   fp),
               xErrno_Ok);
  CHECK(fp[0] == 0xAA && fp[5] == 0xFF);
  CHECK(xDtlsFingerprintFromStr("AA:BB:CC", fp) != xErrno_Ok);
  CHECK(xDtlsFingerprintFromStr(NULL, fp) != xErrno_Ok);
  CHECK(xDtlsFingerprintFromStr(upper, NULL) != xErrno_Ok);
  CHECK(xDtlsFingerprintFromStr("GG:01", fp) != xErrno_Ok);
  for (i = 0; i < 32; i++) raw[i] = (uint8_t)(i * 7);
  xDtlsFingerprintToStr(raw, s);
  CHECK_EQ_INT(strlen(s), 95);
  CHECK_EQ_INT(xDtlsFingerprintFromStr(s, fp), xErrno_Ok);
  CHECK(memcmp(fp, raw, 32) == 0);
}

static void arguments(xEventLoop loop) {
  End e;
  xDtlsTransportConf c;
  xDtlsTransport a, b;
  uint8_t fa[32], fb[32];
  char s[96];
  int i, colons_ok = 1;
  memset(&e, 0, sizeof e);
  c = conf_for(loop, &e, xDtlsRole_Active);
  CHECK(xDtlsTransportCreate(NULL) == NULL);
  c.loop = NULL;
  CHECK(xDtlsTransportCreate(&c) == NULL);
  c = conf_for(loop, &e, xDtlsRole_Active);
  c.send_fn = NULL;
  CHECK(xDtlsTransportCreate(&c) == NULL);
  xDtlsTransportDestroy(NULL);
  CHECK_EQ_INT(xDtlsTransportGetState(NULL), xDtlsState_Closed);
  CHECK_EQ_INT(xDtlsTransportGetRole(NULL), xDtlsRole_Passive);
  CHECK(xDtlsTransportStart(NULL) != xErrno_Ok);
  CHECK(xDtlsTransportFeedInput(NULL, fa, 1) != xErrno_Ok);
  CHECK(xDtlsTransportSend(NULL, fa, 1) != xErrno_Ok);
  CHECK(xDtlsTransportGetFingerprint(NULL, fa) != xErrno_Ok);
  CHECK(xDtlsTransportGetFingerprintStr(NULL, s) != xErrno_Ok);
  CHECK(xDtlsTransportSetRole(NULL, xDtlsRole_Active) != xErrno_Ok);

  c = conf_for(loop, &e, xDtlsRole_Active);
  a = xDtlsTransportCreate(&c);
  c.role = xDtlsRole_Actpass;
  b = xDtlsTransportCreate(&c);
  CHECK(a && b);
  CHECK_EQ_INT(xDtlsTransportGetState(a), xDtlsState_New);
  CHECK_EQ_INT(xDtlsTransportGetRole(a), xDtlsRole_Active);
  CHECK_EQ_INT(xDtlsTransportGetRole(b), xDtlsRole_Passive);
  CHECK_EQ_INT(xDtlsTransportGetFingerprint(a, fa), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportGetFingerprint(b, fb), xErrno_Ok);
  CHECK(memcmp(fa, fb, 32) != 0);
  CHECK(xDtlsTransportGetFingerprint(a, NULL) != xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportGetFingerprintStr(a, s), xErrno_Ok);
  CHECK_EQ_INT(strlen(s), 95);
  for (i = 2; i < 95; i += 3) colons_ok &= s[i] == ':';
  CHECK(colons_ok);
  CHECK_EQ_INT(xDtlsFingerprintFromStr(s, fb), xErrno_Ok);
  CHECK(memcmp(fa, fb, 32) == 0);
  /* Role changes only before Start; the fingerprint stays. */
  CHECK_EQ_INT(xDtlsTransportSetRole(a, xDtlsRole_Passive), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportGetRole(a), xDtlsRole_Passive);
  CHECK_EQ_INT(xDtlsTransportSetRole(a, xDtlsRole_Active), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportGetFingerprint(a, fb), xErrno_Ok);
  CHECK(memcmp(fa, fb, 32) == 0);
  CHECK(xDtlsTransportSend(a, fa, 4) != xErrno_Ok);
  CHECK(xDtlsTransportFeedInput(a, NULL, 4) != xErrno_Ok);
  CHECK(xDtlsTransportFeedInput(a, fa, 0) != xErrno_Ok);
  xDtlsTransportDestroy(a);
  xDtlsTransportDestroy(b);
  CHECK_EQ_INT(xDtlsTransportGetState(a), xDtlsState_Closed);
  CHECK(xDtlsTransportStart(a) != xErrno_Ok);
  /* Closed was reported inside each Destroy (as upstream), and no
   * callback runs for destroyed transports afterwards. */
  CHECK_EQ_INT(e.closed, 2);
  spin(loop, 200, NULL, NULL, NULL);
  CHECK_EQ_INT(e.closed, 2);
}

static void handshake_and_data(xEventLoop loop, int verify, int wrong) {
  static End a, b;
  xDtlsTransportConf ca, cb;
  uint8_t big[1000];
  int i;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  a.peer = &b;
  b.peer = &a;
  ca = conf_for(loop, &a, xDtlsRole_Active);
  cb = conf_for(loop, &b, xDtlsRole_Passive);
  b.self = xDtlsTransportCreate(&cb);
  if (verify) {
    ca.verify_fingerprint = true;
    if (wrong)
      memset(ca.remote_fingerprint, 0xDE, 32);
    else
      xDtlsTransportGetFingerprint(b.self, ca.remote_fingerprint);
  }
  a.self = xDtlsTransportCreate(&ca);
  CHECK(a.self && b.self);
  CHECK(xDtlsTransportSend(a.self, big, 10) != xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportStart(b.self), xErrno_Ok);
  CHECK(xDtlsTransportSend(b.self, big, 10) != xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportStart(a.self), xErrno_Ok);
  CHECK(xDtlsTransportStart(a.self) != xErrno_Ok);
  if (wrong) {
    spin(loop, 5000, a_failed, &a, &b);
    CHECK_EQ_INT(a.state, xDtlsState_Failed);
    CHECK(b.state != xDtlsState_Connected);
    CHECK(xDtlsTransportSend(a.self, big, 10) != xErrno_Ok);
    CHECK_EQ_INT(b.received, 0);
  } else {
    spin(loop, 3000, both_connected, &a, &b);
    CHECK(a.connecting_seen && b.connecting_seen);
    CHECK_EQ_INT(a.state, xDtlsState_Connected);
    CHECK_EQ_INT(b.state, xDtlsState_Connected);
    CHECK_EQ_INT(xDtlsTransportSend(a.self, (const uint8_t *)"hello from active!", 18), xErrno_Ok);
    for (i = 0; i < (int)sizeof big; i++) big[i] = (uint8_t)i;
    CHECK_EQ_INT(xDtlsTransportSend(a.self, big, sizeof big), xErrno_Ok);
    CHECK_EQ_INT(xDtlsTransportSend(b.self, (const uint8_t *)"hello from passive!", 19), xErrno_Ok);
    spin(loop, 2000, b_has_two, &a, &b);
    spin(loop, 2000, a_has_one, &a, &b);
    CHECK_EQ_INT(b.received, 2);
    CHECK(b.last_len == sizeof big && memcmp(b.last, big, sizeof big) == 0);
    CHECK_EQ_INT(a.received, 1);
    CHECK(a.last_len == 19 && memcmp(a.last, "hello from passive!", 19) == 0);
    /* Garbage into a connected transport: dropped, still connected. */
    memset(big, 0xAB, 64);
    CHECK_EQ_INT(xDtlsTransportFeedInput(a.self, big, 64), xErrno_Ok);
    spin(loop, 50, NULL, NULL, NULL);
    CHECK_EQ_INT(xDtlsTransportGetState(a.self), xDtlsState_Connected);
  }
  xDtlsTransportDestroy(a.self);
  xDtlsTransportDestroy(b.self);
  a.self = b.self = NULL;
  spin(loop, 100, NULL, NULL, NULL);
}

static void timeouts(xEventLoop loop, xDtlsRole role) {
  End e;
  xDtlsTransportConf c;
  xDtlsTransport t;
  uint8_t junk[64];
  memset(&e, 0, sizeof e);
  c = conf_for(loop, &e, role);
  c.send_fn = dtls_drop_all;
  c.handshake_timeout_ms = 200;
  t = xDtlsTransportCreate(&c);
  CHECK_EQ_INT(xDtlsTransportStart(t), xErrno_Ok);
  memset(junk, 0xAB, sizeof junk);
  CHECK_EQ_INT(xDtlsTransportFeedInput(t, junk, sizeof junk), xErrno_Ok);
  spin(loop, 50, NULL, NULL, NULL);
  CHECK(e.connecting_seen);
  CHECK(xDtlsTransportGetState(t) == xDtlsState_Connecting ||
        xDtlsTransportGetState(t) == xDtlsState_Failed);
  spin(loop, 1500, a_failed, &e, NULL);
  CHECK_EQ_INT(e.state, xDtlsState_Failed);
  xDtlsTransportDestroy(t);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  fingerprints();
  arguments(loop);
  handshake_and_data(loop, 0, 0);
  handshake_and_data(loop, 1, 0);
  handshake_and_data(loop, 1, 1);
  timeouts(loop, xDtlsRole_Active);
  timeouts(loop, xDtlsRole_Passive);
  spin(loop, 100, NULL, NULL, NULL);
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}
