/* Spec section 6, the stateful half: the behaviours of upstream's
 * dtls_transport, ice_agent, stun_txn and turn (client) tests, one function
 * each, written from the spec text, plus the synchronous callback contexts
 * of spec section 5 made safe (no lock held: the object may be destroyed
 * from inside such a callback). Waits tick the loop in bounded loops that
 * succeed as soon as the condition holds; no upper time bound is asserted.
 * Behaviours that hold only when the test writes the library's
 * caller-owned struct fields to force a state are run and reported as
 * excused (see README, "The one exception: tests that write the library's fields"). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/dtls_transport.h>
#include <xp2p/ice_agent.h>
#include <xp2p/ice_crypto.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>
#include <xp2p/stun_txn.h>
#include <xp2p/turn_client.h>

#include "upstream.h"

/* Generous bound for waits: fail only after this long (valgrind, busy CI). */
#define WAIT_MS 60000

static xEventLoop g_loop;

typedef int (*Cond)(void *arg);

/* Ticks the loop (5 ms waits) until cond(arg) holds or ms pass (stretched
 * by check_wait_ms when there is a condition). */
static int tick_until(int ms, Cond cond, void *arg) {
  uint64_t end = xMonoMs() + (cond ? check_wait_ms((uint64_t)ms) : (uint64_t)(unsigned)ms);
  for (;;) {
    if (cond && cond(arg)) return 1;
    if (xMonoMs() >= end) return cond ? cond(arg) : 1;
    xEventWait(g_loop, 5);
  }
}

/* ================= dtls_transport_test ================= */

typedef struct End {
  xDtlsTransport self;
  struct End *peer;
  xDtlsState state;
  int connecting;
  int closed;
  int failed;
  int received;
  size_t got_len;
  uint8_t got[20000];
  int destroy_on_connecting;
} End;

static xErrno dtls_feed_peer(const uint8_t *data, size_t len, void *arg) {
  End *e = (End *)arg;
  if (e->peer && e->peer->self) xDtlsTransportFeedInput(e->peer->self, data, len);
  return xErrno_Ok;
}
static xErrno dtls_drop(const uint8_t *data, size_t len, void *arg) {
  (void)data;
  (void)len;
  (void)arg;
  return xErrno_Ok;
}
static void dtls_on_state(xDtlsTransport t, xDtlsState s, void *arg) {
  End *e = (End *)arg;
  e->state = s;
  if (s == xDtlsState_Connecting) e->connecting++;
  if (s == xDtlsState_Closed) e->closed++;
  if (s == xDtlsState_Failed) e->failed++;
  if (s == xDtlsState_Connecting && e->destroy_on_connecting) {
    xDtlsTransportDestroy(t);
    e->self = NULL;
  }
}
static void dtls_on_data(xDtlsTransport t, const uint8_t *data, size_t len, void *arg) {
  End *e = (End *)arg;
  (void)t;
  e->received++;
  if (e->got_len + len <= sizeof e->got) {
    memcpy(e->got + e->got_len, data, len);
    e->got_len += len;
  }
}
static xDtlsTransportConf dtls_conf(End *e, xDtlsRole role, xDtlsSendFn send) {
  xDtlsTransportConf c;
  memset(&c, 0, sizeof c);
  c.loop = g_loop;
  c.role = role;
  c.send_fn = send;
  c.send_arg = e;
  c.on_state_change = dtls_on_state;
  c.on_data = dtls_on_data;
  c.ctx = e;
  return c;
}
static xDtlsTransport dtls_make(End *e, xDtlsRole role) {
  xDtlsTransportConf c = dtls_conf(e, role, dtls_drop);
  memset(e, 0, sizeof *e);
  e->self = xDtlsTransportCreate(&c);
  return e->self;
}
static void dtls_free(End *e) {
  if (e->self) xDtlsTransportDestroy(e->self);
  e->self = NULL;
}

static int dtls_ParseValidFingerprint(void) {
  uint8_t fp[32];
  EXPECT(xDtlsFingerprintFromStr("00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:"
                                 "14:15:16:17:18:19:1A:1B:1C:1D:1E:1F",
                                 fp) == xErrno_Ok);
  EXPECT(fp[0] == 0 && fp[1] == 1 && fp[2] == 2 && fp[15] == 15 && fp[16] == 16 && fp[31] == 31);
  return 1;
}
static int dtls_ParseLowercaseFingerprint(void) {
  uint8_t fp[32];
  EXPECT(xDtlsFingerprintFromStr("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:"
                                 "23:45:67:89:ab:cd:ef:01:23:45:67:89",
                                 fp) == xErrno_Ok);
  EXPECT(fp[0] == 0xAB && fp[2] == 0xEF);
  return 1;
}
static int dtls_ParseTooShort(void) {
  uint8_t fp[32];
  EXPECT(xDtlsFingerprintFromStr("AA:BB:CC", fp) != xErrno_Ok);
  return 1;
}
static int dtls_ParseNull(void) {
  uint8_t fp[32];
  EXPECT(xDtlsFingerprintFromStr(NULL, fp) != xErrno_Ok);
  EXPECT(xDtlsFingerprintFromStr("AA:BB", NULL) != xErrno_Ok);
  return 1;
}
static int dtls_ParseInvalidChar(void) {
  uint8_t fp[32];
  EXPECT(xDtlsFingerprintFromStr("GG:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:"
                                 "14:15:16:17:18:19:1A:1B:1C:1D:1E:1F",
                                 fp) != xErrno_Ok);
  return 1;
}
static int create_and_destroy(xDtlsRole role, xDtlsRole want) {
  End e;
  EXPECT(dtls_make(&e, role) != NULL);
  EXPECT(xDtlsTransportGetState(e.self) == xDtlsState_New);
  EXPECT(xDtlsTransportGetRole(e.self) == want);
  dtls_free(&e);
  return 1;
}
static int dtls_CreateActiveAndDestroy(void) {
  return create_and_destroy(xDtlsRole_Active, xDtlsRole_Active);
}
static int dtls_CreatePassiveAndDestroy(void) {
  return create_and_destroy(xDtlsRole_Passive, xDtlsRole_Passive);
}
static int dtls_CreateActpassResolvesToPassive(void) {
  return create_and_destroy(xDtlsRole_Actpass, xDtlsRole_Passive);
}
static int dtls_CreateNullConf(void) {
  EXPECT(xDtlsTransportCreate(NULL) == NULL);
  return 1;
}
static int dtls_CreateNullLoop(void) {
  End e;
  xDtlsTransportConf c = dtls_conf(&e, xDtlsRole_Active, dtls_drop);
  c.loop = NULL;
  EXPECT(xDtlsTransportCreate(&c) == NULL);
  return 1;
}
static int dtls_CreateNullSendFn(void) {
  End e;
  xDtlsTransportConf c = dtls_conf(&e, xDtlsRole_Active, NULL);
  EXPECT(xDtlsTransportCreate(&c) == NULL);
  return 1;
}
static int dtls_DestroyNull(void) {
  xDtlsTransportDestroy(NULL);
  return 1;
}
static int dtls_GetFingerprintRaw(void) {
  End e;
  uint8_t fp[32], zero[32];
  int r;
  memset(zero, 0, sizeof zero);
  dtls_make(&e, xDtlsRole_Active);
  r = xDtlsTransportGetFingerprint(e.self, fp);
  dtls_free(&e);
  EXPECT(r == xErrno_Ok);
  EXPECT(memcmp(fp, zero, 32) != 0);
  return 1;
}
static int dtls_GetFingerprintStr(void) {
  End e;
  char s[XDTLS_FINGERPRINT_STR_SIZE];
  int i, r;
  dtls_make(&e, xDtlsRole_Active);
  r = xDtlsTransportGetFingerprintStr(e.self, s);
  dtls_free(&e);
  EXPECT(r == xErrno_Ok);
  EXPECT(strlen(s) == 95);
  for (i = 2; i < 95; i += 3) EXPECT(s[i] == ':');
  return 1;
}
static int dtls_FingerprintRoundTrip(void) {
  End e;
  uint8_t raw[32], parsed[32];
  char s[XDTLS_FINGERPRINT_STR_SIZE];
  dtls_make(&e, xDtlsRole_Passive);
  xDtlsTransportGetFingerprint(e.self, raw);
  xDtlsTransportGetFingerprintStr(e.self, s);
  dtls_free(&e);
  EXPECT(xDtlsFingerprintFromStr(s, parsed) == xErrno_Ok);
  EXPECT(memcmp(raw, parsed, 32) == 0);
  return 1;
}
static int dtls_TwoTransportsDifferentFingerprints(void) {
  End a, b;
  uint8_t fa[32], fb[32];
  dtls_make(&a, xDtlsRole_Active);
  dtls_make(&b, xDtlsRole_Active);
  xDtlsTransportGetFingerprint(a.self, fa);
  xDtlsTransportGetFingerprint(b.self, fb);
  dtls_free(&a);
  dtls_free(&b);
  EXPECT(memcmp(fa, fb, 32) != 0);
  return 1;
}
static int dtls_GetFingerprintNull(void) {
  End e;
  uint8_t fp[32];
  int r;
  EXPECT(xDtlsTransportGetFingerprint(NULL, fp) != xErrno_Ok);
  dtls_make(&e, xDtlsRole_Active);
  r = xDtlsTransportGetFingerprint(e.self, NULL);
  dtls_free(&e);
  EXPECT(r != xErrno_Ok);
  return 1;
}
static int dtls_GetStateNull(void) {
  EXPECT(xDtlsTransportGetState(NULL) == xDtlsState_Closed);
  return 1;
}
static int dtls_GetRoleNull(void) {
  EXPECT(xDtlsTransportGetRole(NULL) == xDtlsRole_Passive);
  return 1;
}
static int dtls_StartNull(void) {
  EXPECT(xDtlsTransportStart(NULL) != xErrno_Ok);
  return 1;
}
static int dtls_FeedInputNull(void) {
  uint8_t b[4] = {22, 254, 253, 0};
  EXPECT(xDtlsTransportFeedInput(NULL, b, sizeof b) != xErrno_Ok);
  return 1;
}
static int dtls_SendNull(void) {
  EXPECT(xDtlsTransportSend(NULL, (const uint8_t *)"x", 1) != xErrno_Ok);
  return 1;
}
static int dtls_GetFingerprintStrNull(void) {
  char s[XDTLS_FINGERPRINT_STR_SIZE];
  EXPECT(xDtlsTransportGetFingerprintStr(NULL, s) != xErrno_Ok);
  return 1;
}
/* Start: Ok, state Connecting, and on_state_change(Connecting) already ran
 * when Start returned (spec section 5: inside the call). */
static int start_connects(xDtlsRole role) {
  End e;
  xErrno r;
  xDtlsState s;
  int seen;
  dtls_make(&e, role);
  r = xDtlsTransportStart(e.self);
  s = xDtlsTransportGetState(e.self);
  seen = e.connecting;
  dtls_free(&e);
  EXPECT(r == xErrno_Ok);
  EXPECT(s == xDtlsState_Connecting);
  EXPECT(seen == 1);
  return 1;
}
static int dtls_StartActiveTransitionsToConnecting(void) { return start_connects(xDtlsRole_Active); }
static int dtls_StartPassiveTransitionsToConnecting(void) {
  return start_connects(xDtlsRole_Passive);
}
static int dtls_DoubleStartFails(void) {
  End e;
  xErrno first, second;
  dtls_make(&e, xDtlsRole_Active);
  first = xDtlsTransportStart(e.self);
  second = xDtlsTransportStart(e.self);
  dtls_free(&e);
  EXPECT(first == xErrno_Ok && second != xErrno_Ok);
  return 1;
}
static int dtls_SendBeforeHandshakeFails(void) {
  End e;
  xErrno before, connecting;
  dtls_make(&e, xDtlsRole_Active);
  before = xDtlsTransportSend(e.self, (const uint8_t *)"x", 1);
  xDtlsTransportStart(e.self);
  connecting = xDtlsTransportSend(e.self, (const uint8_t *)"x", 1);
  dtls_free(&e);
  EXPECT(before != xErrno_Ok && connecting != xErrno_Ok);
  return 1;
}

/* Two transports whose send callbacks feed each other synchronously. */
static End g_a, g_b;
static int both_connected(void *arg) {
  (void)arg;
  return g_a.state == xDtlsState_Connected && g_b.state == xDtlsState_Connected;
}
static int a_failed(void *arg) {
  (void)arg;
  return g_a.state == xDtlsState_Failed;
}
static int pair_start(int verify, int wrong) {
  xDtlsTransportConf ca, cb;
  memset(&g_a, 0, sizeof g_a);
  memset(&g_b, 0, sizeof g_b);
  g_a.peer = &g_b;
  g_b.peer = &g_a;
  ca = dtls_conf(&g_a, xDtlsRole_Active, dtls_feed_peer);
  cb = dtls_conf(&g_b, xDtlsRole_Passive, dtls_feed_peer);
  g_b.self = xDtlsTransportCreate(&cb);
  if (verify) {
    ca.verify_fingerprint = true;
    if (wrong)
      memset(ca.remote_fingerprint, 0xDE, 32);
    else
      xDtlsTransportGetFingerprint(g_b.self, ca.remote_fingerprint);
  }
  g_a.self = xDtlsTransportCreate(&ca);
  if (!g_a.self || !g_b.self) return 0;
  if (xDtlsTransportStart(g_b.self) != xErrno_Ok) return 0;
  if (xDtlsTransportStart(g_a.self) != xErrno_Ok) return 0;
  return 1;
}
static void pair_free(void) {
  dtls_free(&g_a);
  dtls_free(&g_b);
}
static int dtls_ActivePassiveHandshakeCompletes(void) {
  int ok = pair_start(0, 0) && tick_until(WAIT_MS, both_connected, NULL);
  pair_free();
  EXPECT(ok);
  return 1;
}
static int dtls_HandshakeWithFingerprintVerification(void) {
  int ok = pair_start(1, 0) && tick_until(WAIT_MS, both_connected, NULL);
  pair_free();
  EXPECT(ok);
  return 1;
}
static int dtls_DataExchangeAfterHandshake(void) {
  int ok = pair_start(1, 0) && tick_until(WAIT_MS, both_connected, NULL);
  xErrno ra = xErrno_Unknown, rb = xErrno_Unknown;
  if (ok) {
    ra = xDtlsTransportSend(g_a.self, (const uint8_t *)"hello from active!", 18);
    rb = xDtlsTransportSend(g_b.self, (const uint8_t *)"hello from passive!", 19);
  }
  pair_free();
  EXPECT(ok && ra == xErrno_Ok && rb == xErrno_Ok);
  /* Delivered inside the peer's FeedInput, itself inside Send. */
  EXPECT(g_b.got_len == 18 && memcmp(g_b.got, "hello from active!", 18) == 0);
  EXPECT(g_a.got_len == 19 && memcmp(g_a.got, "hello from passive!", 19) == 0);
  return 1;
}
/* One payload of `len` bytes from active to passive, which must receive it
 * complete (in on_data calls of at most 4096 bytes, spec section 4.4). */
static int large_payload(size_t len) {
  static uint8_t payload[16384];
  size_t i;
  int ok = pair_start(1, 0) && tick_until(WAIT_MS, both_connected, NULL);
  xErrno r = xErrno_Unknown;
  for (i = 0; i < len; i++) payload[i] = (uint8_t)(i * 7 + 3);
  if (ok) r = xDtlsTransportSend(g_a.self, payload, len);
  pair_free();
  EXPECT(ok);
  EXPECT(r == xErrno_Ok);
  EXPECT(g_b.got_len == len && memcmp(g_b.got, payload, len) == 0);
  EXPECT(g_b.received == (int)((len + 4095) / 4096));
  return 1;
}
static int dtls_LargeDataExchange(void) { return large_payload(4000); }
static int dtls_LargeDataExchangeRecordLimit(void) {
  static uint8_t big[16385];
  int ok;
  xErrno r = xErrno_Ok;
  EXPECT(large_payload(1200));
  EXPECT(large_payload(16384));
  ok = pair_start(1, 0) && tick_until(WAIT_MS, both_connected, NULL);
  if (ok) r = xDtlsTransportSend(g_a.self, big, sizeof big);
  pair_free();
  EXPECT(ok);
  EXPECT(r == xErrno_InvalidArg);
  EXPECT(g_b.got_len == 0);
  return 1;
}
static int dtls_WrongFingerprintCausesFailure(void) {
  int ok = pair_start(1, 1) && tick_until(WAIT_MS, a_failed, NULL);
  pair_free();
  EXPECT(ok);
  return 1;
}
static End g_lone;
static int lone_failed(void *arg) {
  (void)arg;
  return g_lone.state == xDtlsState_Failed;
}
static int times_out(xDtlsRole role) {
  xDtlsTransportConf c;
  int connecting_at_start, ok;
  memset(&g_lone, 0, sizeof g_lone);
  c = dtls_conf(&g_lone, role, dtls_drop);
  c.handshake_timeout_ms = 200;
  g_lone.self = xDtlsTransportCreate(&c);
  EXPECT(g_lone.self != NULL);
  EXPECT(xDtlsTransportStart(g_lone.self) == xErrno_Ok);
  connecting_at_start = g_lone.connecting;
  ok = tick_until(WAIT_MS, lone_failed, NULL);
  dtls_free(&g_lone);
  EXPECT(connecting_at_start == 1);
  EXPECT(ok);
  return 1;
}
static int dtls_PassiveTimesOutWithoutPeer(void) { return times_out(xDtlsRole_Passive); }
static int dtls_ActiveTimesOutWithoutPeer(void) { return times_out(xDtlsRole_Active); }
static int dtls_ActiveRoleIsActive(void) {
  return create_and_destroy(xDtlsRole_Active, xDtlsRole_Active);
}
static int dtls_PassiveRoleIsPassive(void) {
  return create_and_destroy(xDtlsRole_Passive, xDtlsRole_Passive);
}
static int dtls_ActpassResolvesToPassive(void) {
  return create_and_destroy(xDtlsRole_Actpass, xDtlsRole_Passive);
}
static int dtls_FeedInputNullData(void) {
  End e;
  xErrno r;
  dtls_make(&e, xDtlsRole_Passive);
  r = xDtlsTransportFeedInput(e.self, NULL, 10);
  dtls_free(&e);
  EXPECT(r != xErrno_Ok);
  return 1;
}
static int dtls_FeedInputZeroLen(void) {
  End e;
  uint8_t b = 22;
  xErrno r;
  dtls_make(&e, xDtlsRole_Passive);
  r = xDtlsTransportFeedInput(e.self, &b, 0);
  dtls_free(&e);
  EXPECT(r != xErrno_Ok);
  return 1;
}
static int dtls_FeedGarbageDoesNotCrash(void) {
  End e;
  uint8_t junk[64];
  xDtlsState s;
  memset(junk, 0xAB, sizeof junk);
  dtls_make(&e, xDtlsRole_Passive);
  xDtlsTransportStart(e.self);
  xDtlsTransportFeedInput(e.self, junk, sizeof junk);
  s = xDtlsTransportGetState(e.self);
  dtls_free(&e);
  EXPECT(s == xDtlsState_Connecting || s == xDtlsState_Failed);
  return 1;
}
/* Spec section 5 made safe: Closed inside Destroy; a transport destroyed
 * from inside on_state_change(Connecting), itself inside Start. */
static int sync_DtlsClosedInsideDestroy(void) {
  End e;
  dtls_make(&e, xDtlsRole_Active);
  xDtlsTransportDestroy(e.self);
  EXPECT(e.closed == 1);
  tick_until(100, NULL, NULL);
  EXPECT(e.closed == 1);
  return 1;
}
static int sync_DtlsDestroyInsideStartCallback(void) {
  End e;
  xDtlsTransport t;
  dtls_make(&e, xDtlsRole_Active);
  t = e.self;
  e.destroy_on_connecting = 1;
  EXPECT(xDtlsTransportStart(t) == xErrno_Ok);
  EXPECT(e.self == NULL && e.connecting == 1 && e.closed == 1);
  EXPECT(xDtlsTransportGetState(t) == xDtlsState_Closed);
  tick_until(300, NULL, NULL);
  EXPECT(e.connecting == 1 && e.closed == 1 && e.failed == 0);
  return 1;
}

/* ================= ice_agent_test ================= */

typedef struct {
  xIceAgent self;
  int states[32];
  int n_states;
  int candidates;
  int host;
  int non_host;
  int eoc;
  int closed;
  int destroy_on_gathering;
} Agent;

static void ice_on_state(xIceAgent a, xIceState s, void *arg) {
  Agent *g = (Agent *)arg;
  if (g->n_states < 32) g->states[g->n_states++] = s;
  if (s == xIceState_Closed) g->closed++;
  if (s == xIceState_Gathering && g->destroy_on_gathering) {
    xIceAgentDestroy(a);
    g->self = NULL;
  }
}
static void ice_on_candidate(xIceAgent a, const char *line, void *arg) {
  Agent *g = (Agent *)arg;
  (void)a;
  if (!line) {
    g->eoc++;
    return;
  }
  g->candidates++;
  if (strstr(line, "typ host"))
    g->host++;
  else
    g->non_host++;
}
static xIceConf ice_conf(Agent *g, xIceRole role) {
  xIceConf c;
  memset(&c, 0, sizeof c);
  c.role = role;
  c.on_state_change = ice_on_state;
  c.on_candidate = ice_on_candidate;
  c.ctx = g;
  return c;
}
static xIceAgent ice_make(Agent *g, xIceConf *c) {
  memset(g, 0, sizeof *g);
  g->self = xIceAgentCreate(g_loop, c);
  return g->self;
}
static int ice_state(const Agent *g) { return g->n_states ? g->states[g->n_states - 1] : 0; }
static void ice_free(Agent *g) {
  if (g->self) xIceAgentDestroy(g->self);
  g->self = NULL;
}

static int ice_agent_CreateDestroy(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  EXPECT(ice_make(&g, &c) != NULL);
  xIceAgentDestroy(g.self);
  EXPECT(g.closed == 1 && ice_state(&g) == xIceState_Closed);
  return 1;
}
static int ice_agent_CreateNullConfigFails(void) {
  EXPECT(xIceAgentCreate(g_loop, NULL) == NULL);
  return 1;
}
static int ice_agent_CreateNullLoopFails(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  EXPECT(xIceAgentCreate(NULL, &c) == NULL);
  return 1;
}
static int ice_agent_DestroyNullIsNoop(void) {
  xIceAgentDestroy(NULL);
  return 1;
}
/* Gather: Ok; Gathering, a host candidate and (no servers) end-of-candidates
 * all delivered before Gather returns. */
static int gathers_host_at_once(Agent *g) {
  EXPECT(xIceAgentGather(g->self) == xErrno_Ok);
  EXPECT(g->n_states >= 1 && g->states[0] == xIceState_Gathering);
  EXPECT(g->host >= 1);
  return 1;
}
static int ice_agent_GatherProducesHostCandidate(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  int ok, eoc;
  ice_make(&g, &c);
  ok = gathers_host_at_once(&g);
  eoc = g.eoc;
  ice_free(&g);
  EXPECT(ok);
  EXPECT(eoc == 1);
  return 1;
}
static int ice_agent_GatherTwiceFails(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  xErrno first, second;
  ice_make(&g, &c);
  first = xIceAgentGather(g.self);
  second = xIceAgentGather(g.self);
  ice_free(&g);
  EXPECT(first == xErrno_Ok && second != xErrno_Ok);
  return 1;
}
static int ice_agent_CreateOfferContainsIceParams(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  char *offer;
  int ok;
  ice_make(&g, &c);
  xIceAgentGather(g.self);
  offer = xIceAgentCreateOffer(g.self);
  ice_free(&g);
  EXPECT(offer != NULL);
  ok = strstr(offer, "a=ice-ufrag:") && strstr(offer, "a=ice-pwd:") &&
       strstr(offer, "a=ice-options:trickle") && strstr(offer, "a=candidate:");
  free(offer);
  EXPECT(ok);
  return 1;
}
static const char *kIceSdp = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                             "m=application 9 UDP/ICE 0\r\nc=IN IP4 0.0.0.0\r\n"
                             "a=ice-ufrag:remUfrag\r\na=ice-pwd:remotepasswordremotepass\r\n"
                             "a=ice-options:trickle\r\n"
                             "a=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n";
static int ice_agent_SetRemoteDescriptionParsesCredentials(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlled);
  xErrno r;
  ice_make(&g, &c);
  r = xIceAgentSetRemoteDescription(g.self, kIceSdp);
  ice_free(&g);
  EXPECT(r == xErrno_Ok);
  return 1;
}
static int ice_agent_SetRemoteDescriptionInvalidSdpFails(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlled);
  xErrno r;
  ice_make(&g, &c);
  r = xIceAgentSetRemoteDescription(g.self, "garbage");
  ice_free(&g);
  EXPECT(r != xErrno_Ok);
  return 1;
}
static int ice_agent_AddRemoteCandidateWorks(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlled);
  xErrno r;
  ice_make(&g, &c);
  r = xIceAgentAddRemoteCandidate(g.self, "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host");
  ice_free(&g);
  EXPECT(r == xErrno_Ok);
  return 1;
}
static int ice_agent_AddRemoteCandidateInvalidFails(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlled);
  xErrno r;
  ice_make(&g, &c);
  r = xIceAgentAddRemoteCandidate(g.self, "garbage");
  ice_free(&g);
  EXPECT(r != xErrno_Ok);
  return 1;
}
static int ice_agent_SendBeforeConnectedFails(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  xErrno r;
  ice_make(&g, &c);
  xIceAgentGather(g.self);
  r = xIceAgentSend(g.self, (const uint8_t *)"hello", 5);
  ice_free(&g);
  EXPECT(r != xErrno_Ok);
  return 1;
}
static Agent g_ia, g_ib;
static int beyond_gathering(const Agent *g) {
  int s = ice_state(g);
  return s != xIceState_New && s != xIceState_Gathering;
}
static int both_beyond_gathering(void *arg) {
  (void)arg;
  return beyond_gathering(&g_ia) && beyond_gathering(&g_ib);
}
static int ice_agent_FullLocalLoopback(void) {
  xIceConf ca = ice_conf(&g_ia, xIceRole_Controlling), cb = ice_conf(&g_ib, xIceRole_Controlled);
  char *offer, *answer;
  int ok;
  ice_make(&g_ia, &ca);
  ice_make(&g_ib, &cb);
  xIceAgentGather(g_ia.self);
  xIceAgentGather(g_ib.self);
  offer = xIceAgentCreateOffer(g_ia.self);
  answer = xIceAgentCreateAnswer(g_ib.self);
  EXPECT(offer && answer);
  xIceAgentSetRemoteDescription(g_ib.self, offer);
  xIceAgentSetRemoteDescription(g_ia.self, answer);
  free(offer);
  free(answer);
  ok = tick_until(WAIT_MS, both_beyond_gathering, NULL);
  ice_free(&g_ia);
  ice_free(&g_ib);
  EXPECT(ok);
  return 1;
}
static int ia_beyond(void *arg) {
  (void)arg;
  return beyond_gathering(&g_ia);
}
static int ice_agent_TrickleIceAddCandidate(void) {
  xIceConf ca = ice_conf(&g_ia, xIceRole_Controlling), cb = ice_conf(&g_ib, xIceRole_Controlled);
  const xIceCandidate *lc;
  int n = 0, ok;
  char line[256], sdp[512], ip[64];
  ice_make(&g_ia, &ca);
  ice_make(&g_ib, &cb);
  xIceAgentGather(g_ia.self);
  xIceAgentGather(g_ib.self);
  lc = xIceAgentGetLocalCandidates(g_ib.self, &n);
  EXPECT(lc && n >= 1);
  snprintf(sdp, sizeof sdp,
           "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/ICE 0\r\n"
           "c=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n",
           xIceAgentGetUfrag(g_ib.self), xIceAgentGetPwd(g_ib.self));
  EXPECT(xIceAgentSetRemoteDescription(g_ia.self, sdp) == xErrno_Ok);
  xSockaddrIP((const struct sockaddr *)&lc[0].addr, ip, sizeof ip);
  snprintf(line, sizeof line, "candidate:%s 1 UDP %u %s %u typ host", lc[0].foundation,
           lc[0].priority, ip, xSockaddrPort((const struct sockaddr *)&lc[0].addr));
  EXPECT(xIceAgentAddRemoteCandidate(g_ia.self, line) == xErrno_Ok);
  ok = tick_until(WAIT_MS, ia_beyond, NULL);
  ice_free(&g_ia);
  ice_free(&g_ib);
  EXPECT(ok);
  return 1;
}
static int ia_failed(void *arg) {
  (void)arg;
  return ice_state(&g_ia) == xIceState_Failed;
}
static int ice_agent_AllPairsFailLeadsToFailedState(void) {
  xIceConf c = ice_conf(&g_ia, xIceRole_Controlling);
  const char *sdp = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                    "m=application 9 UDP/ICE 0\r\nc=IN IP4 0.0.0.0\r\n"
                    "a=ice-ufrag:remUfrag\r\na=ice-pwd:remotepasswordremotepass\r\n"
                    "a=candidate:1 1 UDP 2130706431 192.0.2.1 1 typ host\r\n";
  int ok;
  ice_make(&g_ia, &c);
  xIceAgentGather(g_ia.self);
  EXPECT(xIceAgentSetRemoteDescription(g_ia.self, sdp) == xErrno_Ok);
  ok = tick_until(WAIT_MS, ia_failed, NULL);
  ice_free(&g_ia);
  EXPECT(ok);
  return 1;
}
static int ia_eoc(void *arg) {
  (void)arg;
  return g_ia.eoc > 0;
}
/* A server that cannot be used: host candidates at once, end-of-candidates
 * eventually (after the 5 s gather timeout at the latest). */
static int gathers_despite(const char *stun, const char *turn, const char *user, const char *pass) {
  xIceConf c = ice_conf(&g_ia, xIceRole_Controlling);
  int at_once, ok;
  c.stun_server = stun;
  c.turn_server = turn;
  c.turn_username = user;
  c.turn_password = pass;
  ice_make(&g_ia, &c);
  at_once = gathers_host_at_once(&g_ia);
  ok = tick_until(WAIT_MS, ia_eoc, NULL);
  ice_free(&g_ia);
  EXPECT(at_once);
  EXPECT(ok && g_ia.eoc == 1);
  return 1;
}
static int ice_agent_GatherWithInvalidStunServerStillSucceeds(void) {
  return gathers_despite("stun.invalid:3478", NULL, NULL, NULL);
}
static int ice_agent_GatherWithInvalidTurnServerStillSucceeds(void) {
  return gathers_despite(NULL, "turn.invalid:3478", "user", "pass");
}
/* Without servers (or TURN without credentials) gathering completes inside
 * Gather, host candidates only. */
static int host_only(const char *turn, const char *user) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  int ok, eoc, non_host;
  c.turn_server = turn;
  c.turn_username = user;
  ice_make(&g, &c);
  ok = gathers_host_at_once(&g);
  eoc = g.eoc;
  tick_until(100, NULL, NULL);
  non_host = g.non_host;
  ice_free(&g);
  EXPECT(ok);
  EXPECT(eoc == 1);
  EXPECT(non_host == 0);
  return 1;
}
static int ice_agent_GatherWithNullTurnCredentialsSkipsTurn(void) {
  return host_only("127.0.0.1:3478", NULL);
}
static int ice_agent_ConfWithoutServersGathersHostOnly(void) { return host_only(NULL, NULL); }
/* Spec section 5: Checking inside SetRemoteDescription (gathered agent,
 * remote credentials and a candidate), and inside AddRemoteCandidate (the
 * first remote candidate after a description without any). */
static int sync_IceCheckingInsideSetRemoteDescription(void) {
  xIceConf ca = ice_conf(&g_ia, xIceRole_Controlling), cb = ice_conf(&g_ib, xIceRole_Controlled);
  char *answer;
  int state;
  ice_make(&g_ia, &ca);
  ice_make(&g_ib, &cb);
  xIceAgentGather(g_ia.self);
  xIceAgentGather(g_ib.self);
  answer = xIceAgentCreateAnswer(g_ib.self);
  EXPECT(answer != NULL);
  EXPECT(xIceAgentSetRemoteDescription(g_ia.self, answer) == xErrno_Ok);
  state = ice_state(&g_ia);
  free(answer);
  ice_free(&g_ia);
  ice_free(&g_ib);
  EXPECT(state == xIceState_Checking);
  return 1;
}
static int sync_IceCheckingInsideAddRemoteCandidate(void) {
  xIceConf c = ice_conf(&g_ia, xIceRole_Controlling);
  const char *sdp = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                    "m=application 9 UDP/ICE 0\r\nc=IN IP4 0.0.0.0\r\n"
                    "a=ice-ufrag:remUfrag\r\na=ice-pwd:remotepasswordremotepass\r\n";
  int before, after;
  ice_make(&g_ia, &c);
  xIceAgentGather(g_ia.self);
  EXPECT(xIceAgentSetRemoteDescription(g_ia.self, sdp) == xErrno_Ok);
  before = ice_state(&g_ia);
  EXPECT(xIceAgentAddRemoteCandidate(g_ia.self,
                                     "candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host") ==
         xErrno_Ok);
  after = ice_state(&g_ia);
  ice_free(&g_ia);
  EXPECT(before == xIceState_Gathering || before == xIceState_New);
  EXPECT(after == xIceState_Checking);
  return 1;
}
/* Spec section 5 made safe: an agent destroyed from inside its Gathering
 * callback, itself inside Gather. */
static int sync_IceDestroyInsideGatherCallback(void) {
  Agent g;
  xIceConf c = ice_conf(&g, xIceRole_Controlling);
  xIceAgent a;
  ice_make(&g, &c);
  a = g.self;
  g.destroy_on_gathering = 1;
  EXPECT(xIceAgentGather(a) == xErrno_Ok);
  EXPECT(g.self == NULL && g.closed == 1 && g.candidates == 0 && g.eoc == 0);
  EXPECT(xIceAgentGather(a) == xErrno_InvalidArg);
  tick_until(300, NULL, NULL);
  EXPECT(g.closed == 1 && g.candidates == 0 && g.eoc == 0);
  return 1;
}

/* ================= stun_txn_test ================= */

typedef struct {
  int sends;
  xErrno result;
  uint8_t last[1500];
  size_t last_len;
  int done;
  int with_msg;
} Txn;

static xErrno txn_send(const uint8_t *data, size_t len, const struct sockaddr *addr, void *arg) {
  Txn *t = (Txn *)arg;
  (void)addr;
  t->sends++;
  if (len <= sizeof t->last) {
    memcpy(t->last, data, len);
    t->last_len = len;
  }
  return t->result;
}
static void txn_done(const xStunMsg *msg, const struct sockaddr *addr, void *arg) {
  Txn *t = (Txn *)arg;
  (void)addr;
  t->done++;
  if (msg) t->with_msg++;
}
static struct sockaddr_in txn_dest(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(3478);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  return a;
}
static xErrno txn_binding(xStunTxnMgr *m, Txn *t) {
  struct sockaddr_in d = txn_dest();
  return xStunTxnMgrSend(m, xStunMsgType_BindingRequest, NULL, 0, (struct sockaddr *)&d, txn_send,
                         t, txn_done, t);
}
static int txn_respond(xStunTxnMgr *m, const uint8_t *txn_id) {
  xStunMsg r;
  uint8_t buf[32];
  struct sockaddr_in from = txn_dest();
  int n;
  xStunMsgInit(&r, xStunMsgType_BindingResponse, txn_id);
  n = xStunMsgEncode(&r, buf, sizeof buf);
  xStunMsgDecode(&r, buf, (size_t)n);
  return xStunTxnMgrOnResponse(m, &r, buf, (size_t)n, (struct sockaddr *)&from);
}
static int stun_txn_SendCreatesTransaction(void) {
  xStunTxnMgr m;
  Txn t;
  memset(&t, 0, sizeof t);
  xStunTxnMgrInit(&m, g_loop);
  EXPECT(txn_binding(&m, &t) == xErrno_Ok);
  EXPECT(t.sends == 1 && m.count == 1);
  EXPECT(xStunMsgIsStun(t.last, t.last_len));
  xStunTxnMgrDestroy(&m);
  return 1;
}
static int stun_txn_ResponseMatchesTransaction(void) {
  xStunTxnMgr m;
  Txn t;
  uint8_t id[12];
  int matched;
  memset(&t, 0, sizeof t);
  xStunTxnMgrInit(&m, g_loop);
  EXPECT(txn_binding(&m, &t) == xErrno_Ok);
  memcpy(id, m.txns[0]->txn_id, 12);
  matched = txn_respond(&m, id);
  /* on_complete ran inside OnResponse (spec section 5). */
  EXPECT(matched && t.done == 1 && t.with_msg == 1);
  EXPECT(m.count == 0);
  xStunTxnMgrDestroy(&m);
  return 1;
}
static int stun_txn_UnmatchedResponseDiscarded(void) {
  xStunTxnMgr m;
  Txn t;
  uint8_t id[12];
  memset(&t, 0, sizeof t);
  memset(id, 0x77, sizeof id);
  xStunTxnMgrInit(&m, g_loop);
  EXPECT(txn_binding(&m, &t) == xErrno_Ok);
  EXPECT(!txn_respond(&m, id));
  EXPECT(t.done == 0 && m.count == 1);
  xStunTxnMgrDestroy(&m);
  return 1;
}
static int stun_txn_CancelAllCleansUp(void) {
  xStunTxnMgr m;
  Txn t;
  memset(&t, 0, sizeof t);
  xStunTxnMgrInit(&m, g_loop);
  txn_binding(&m, &t);
  txn_binding(&m, &t);
  EXPECT(m.count == 2);
  xStunTxnMgrCancelAll(&m);
  EXPECT(m.count == 0);
  xStunTxnMgrDestroy(&m);
  return 1;
}
static int stun_txn_SendFailReturnsError(void) {
  xStunTxnMgr m;
  Txn t;
  memset(&t, 0, sizeof t);
  t.result = xErrno_SysError;
  xStunTxnMgrInit(&m, g_loop);
  EXPECT(txn_binding(&m, &t) != xErrno_Ok);
  EXPECT(m.count == 0);
  xStunTxnMgrDestroy(&m);
  return 1;
}
static int stun_txn_SendRawWorks(void) {
  xStunTxnMgr m;
  Txn t;
  xStunMsg msg;
  uint8_t buf[32], id[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12};
  struct sockaddr_in d = txn_dest();
  int n;
  memset(&t, 0, sizeof t);
  xStunTxnMgrInit(&m, g_loop);
  xStunMsgInit(&msg, xStunMsgType_BindingRequest, id);
  n = xStunMsgEncode(&msg, buf, sizeof buf);
  EXPECT(xStunTxnMgrSendRaw(&m, buf, (size_t)n, (struct sockaddr *)&d, txn_send, &t, txn_done,
                            &t) == xErrno_Ok);
  EXPECT(m.count == 1 && memcmp(m.txns[0]->txn_id, id, 12) == 0);
  xStunTxnMgrDestroy(&m);
  return 1;
}
static int stun_txn_MultipleTransactionsMultiplex(void) {
  xStunTxnMgr m;
  Txn t;
  uint8_t id[12];
  int i, j, found = -1;
  uint8_t ids[3][12];
  memset(&t, 0, sizeof t);
  xStunTxnMgrInit(&m, g_loop);
  for (i = 0; i < 3; i++) {
    EXPECT(txn_binding(&m, &t) == xErrno_Ok);
    /* The id just sent is in the last datagram's header. */
    memcpy(ids[i], t.last + 8, 12);
  }
  memcpy(id, ids[1], 12);
  for (j = 0; j < m.count; j++)
    if (memcmp(m.txns[j]->txn_id, id, 12) == 0) found = j;
  EXPECT(found >= 0);
  EXPECT(txn_respond(&m, id));
  EXPECT(m.count == 2 && t.done == 1);
  xStunTxnMgrDestroy(&m);
  return 1;
}

/* ================= turn_test (client) ================= */

#define TURN_USER "user"
#define TURN_PASS "pass"
#define TURN_REALM "example.org"

typedef struct {
  xTurnClient tc;
  int sends;
  uint8_t sent[8][1500];
  size_t sent_len[8];
  int allocated;
  uint32_t lifetime;
  int failed;
  xErrno err;
  int destroy_on_allocated;
} Turn;

static struct sockaddr_storage turn_server_addr(void) {
  struct sockaddr_storage ss;
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  memset(&ss, 0, sizeof ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(3478);
  inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
  return ss;
}
static struct sockaddr_storage turn_peer_addr(void) {
  struct sockaddr_storage ss = turn_server_addr();
  inet_pton(AF_INET, "192.0.2.77", &((struct sockaddr_in *)&ss)->sin_addr);
  ((struct sockaddr_in *)&ss)->sin_port = htons(40000);
  return ss;
}
static xErrno turn_send(const uint8_t *data, size_t len, const struct sockaddr *addr, void *arg) {
  Turn *t = (Turn *)arg;
  (void)addr;
  if (t->sends < 8 && len <= sizeof t->sent[0]) {
    memcpy(t->sent[t->sends], data, len);
    t->sent_len[t->sends] = len;
  }
  t->sends++;
  return xErrno_Ok;
}
static void turn_on_allocated(const struct sockaddr *relayed, const struct sockaddr *mapped,
                              uint32_t lifetime, void *arg) {
  Turn *t = (Turn *)arg;
  (void)relayed;
  (void)mapped;
  t->allocated++;
  t->lifetime = lifetime;
  if (t->destroy_on_allocated) xTurnClientDestroy(&t->tc);
}
static void turn_on_failed(xErrno err, void *arg) {
  Turn *t = (Turn *)arg;
  t->failed++;
  t->err = err;
}
static void turn_init(Turn *t) {
  xTurnConfig c;
  memset(t, 0, sizeof *t);
  memset(&c, 0, sizeof c);
  c.server = turn_server_addr();
  strcpy(c.username, TURN_USER);
  strcpy(c.password, TURN_PASS);
  c.send_fn = turn_send;
  c.send_arg = t;
  c.on_allocated = turn_on_allocated;
  c.on_failed = turn_on_failed;
  c.ctx = t;
  xTurnClientInit(&t->tc, g_loop, &c);
}
static int sent_has(const Turn *t, int i, xStunAttrType type, xStunMsg *msg, xStunAttr *out) {
  xStunAttrIter it;
  if (xStunMsgDecode(msg, t->sent[i], t->sent_len[i]) != xErrno_Ok) return 0;
  xStunAttrIterInit(&it, msg);
  while (xStunAttrIterNext(&it, out))
    if (out->type == type) return 1;
  return 0;
}
/* Answers request i (its txn id) with a response of `type`: attributes
 * from `write`, MESSAGE-INTEGRITY with the long-term key if `mi`. Fed to
 * OnMessage; returns its result. */
typedef void (*WriteAttrs)(xStunAttrWriter *w, const uint8_t *txn);
static int turn_respond(Turn *t, int i, xStunMsgType type, WriteAttrs write, int mi) {
  uint8_t buf[512], txn[12], key[16];
  xStunMsg m;
  xStunAttrWriter w;
  struct sockaddr_storage from = turn_server_addr();
  char cred[128];
  int n;
  memcpy(txn, t->sent[i] + 8, 12);
  xStunMsgInit(&m, type, txn);
  xStunMsgEncode(&m, buf, sizeof buf);
  xStunAttrWriterInit(&w, buf + XSTUN_HEADER_SIZE, sizeof buf - XSTUN_HEADER_SIZE);
  if (write) write(&w, txn);
  if (mi) {
    snprintf(cred, sizeof cred, "%s:%s:%s", TURN_USER, TURN_REALM, TURN_PASS);
    xIceMD5((const uint8_t *)cred, strlen(cred), key);
    xStunAttrWriteMessageIntegrity(&w, buf, key, 16);
  }
  m.attrs = NULL;
  m.attrs_len = (uint16_t)w.pos;
  n = xStunMsgEncode(&m, buf, sizeof buf);
  xStunMsgDecode(&m, buf, (size_t)n);
  return xTurnClientOnMessage(&t->tc, &m, buf, (size_t)n, (struct sockaddr *)&from);
}
static void write_401(xStunAttrWriter *w, const uint8_t *txn) {
  (void)txn;
  xStunAttrWriteErrorCode(w, 401, "Unauthorized");
  xStunAttrWriteRealm(w, TURN_REALM);
  xStunAttrWriteNonce(w, "nonce-123456");
}
/* XOR-RELAYED-ADDRESS has the XOR-PEER-ADDRESS encoding: written as one,
 * then retyped. */
static void write_allocated(xStunAttrWriter *w, const uint8_t *txn) {
  struct sockaddr_storage relayed = turn_server_addr(), mapped = turn_server_addr();
  size_t at = w->pos;
  ((struct sockaddr_in *)&relayed)->sin_port = htons(50000);
  ((struct sockaddr_in *)&mapped)->sin_port = htons(50001);
  xStunAttrWriteXorPeerAddress(w, (struct sockaddr *)&relayed, txn);
  xWriteU16BE(w->buf + at, xStunAttrType_XorRelayedAddress);
  xStunAttrWriteXorMappedAddress(w, (struct sockaddr *)&mapped, txn);
  xStunAttrWriteLifetime(w, 600);
}
static int turn_AllocateSendsRequest(void) {
  Turn t;
  xStunMsg m;
  xStunAttr a;
  int ok;
  turn_init(&t);
  EXPECT(xTurnClientAllocate(&t.tc) == xErrno_Ok);
  ok = t.sends == 1 && sent_has(&t, 0, xStunAttrType_RequestedTransport, &m, &a) &&
       m.type == xStunMsgType_AllocateRequest && a.length == 4 &&
       xReadU32BE(a.value) == 0x11000000u;
  xTurnClientDestroy(&t.tc);
  EXPECT(ok);
  return 1;
}
static int turn_AllocateDoubleCallFails(void) {
  Turn t;
  xErrno first, second;
  turn_init(&t);
  first = xTurnClientAllocate(&t.tc);
  second = xTurnClientAllocate(&t.tc);
  xTurnClientDestroy(&t.tc);
  EXPECT(first == xErrno_Ok && second != xErrno_Ok);
  return 1;
}
/* Upstream forces the state by writing the caller-owned struct; here the
 * fields are a read-only view of the client, so this cannot hold. */
static int turn_ChannelDataSendViaChannel(void) {
  Turn t;
  struct sockaddr_storage peer = turn_peer_addr();
  int ch, sends, after;
  xErrno r;
  turn_init(&t);
  t.tc.state = xTurnState_Allocated;
  ch = xTurnClientChannelBind(&t.tc, (struct sockaddr *)&peer);
  sends = t.sends;
  r = xTurnClientSendData(&t.tc, (struct sockaddr *)&peer, (const uint8_t *)"hi", 2);
  after = t.sends;
  xTurnClientDestroy(&t.tc);
  EXPECT(ch >= 0x4000 && ch <= 0x7FFF);
  EXPECT(r == xErrno_Ok && after == sends + 1 && xTurnIsChannelData(t.sent[sends][0]));
  return 1;
}
static int turn_SendDataFallbackToIndication(void) {
  Turn t;
  struct sockaddr_storage peer = turn_peer_addr();
  int sends;
  xErrno r;
  turn_init(&t);
  t.tc.state = xTurnState_Allocated;
  r = xTurnClientSendData(&t.tc, (struct sockaddr *)&peer, (const uint8_t *)"hi", 2);
  sends = t.sends;
  xTurnClientDestroy(&t.tc);
  EXPECT(r == xErrno_Ok && sends == 1);
  EXPECT(xReadU16BE(t.sent[0]) == xStunMsgType_SendIndication);
  return 1;
}
/* The same two behaviours on a client the (scripted) server allocated. */
static void write_nothing(xStunAttrWriter *w, const uint8_t *txn) {
  (void)w;
  (void)txn;
}
static int allocate_scripted(Turn *t) {
  turn_init(t);
  EXPECT(xTurnClientAllocate(&t->tc) == xErrno_Ok);
  EXPECT(turn_respond(t, 0, xStunMsgType_AllocateResponse, write_allocated, 0));
  EXPECT(t->tc.state == xTurnState_Allocated && t->allocated == 1);
  return 1;
}
static int turn_ChannelDataSendViaChannelWhenAllocated(void) {
  Turn t;
  struct sockaddr_storage peer = turn_peer_addr();
  int ch, bind_req, sends, after;
  xErrno r;
  EXPECT(allocate_scripted(&t));
  bind_req = t.sends;
  ch = xTurnClientChannelBind(&t.tc, (struct sockaddr *)&peer);
  EXPECT(ch >= 0x4000 && ch <= 0x7FFF);
  EXPECT(t.sends > bind_req);
  EXPECT(xReadU16BE(t.sent[t.sends - 1]) == xStunMsgType_ChannelBindRequest);
  EXPECT(turn_respond(&t, t.sends - 1, xStunMsgType_ChannelBindResponse, write_nothing, 0));
  sends = t.sends;
  r = xTurnClientSendData(&t.tc, (struct sockaddr *)&peer, (const uint8_t *)"hi", 2);
  after = t.sends;
  xTurnClientDestroy(&t.tc);
  EXPECT(r == xErrno_Ok && after == sends + 1);
  EXPECT(sends < 8 && xTurnIsChannelData(t.sent[sends][0]));
  EXPECT(xReadU16BE(t.sent[sends]) == ch);
  return 1;
}
static int turn_SendDataFallbackToIndicationWhenAllocated(void) {
  Turn t;
  struct sockaddr_storage peer = turn_peer_addr();
  int sends, after;
  xErrno r;
  EXPECT(allocate_scripted(&t));
  EXPECT(xTurnClientCreatePermission(&t.tc, (struct sockaddr *)&peer) == xErrno_Ok);
  sends = t.sends;
  r = xTurnClientSendData(&t.tc, (struct sockaddr *)&peer, (const uint8_t *)"hi", 2);
  after = t.sends;
  xTurnClientDestroy(&t.tc);
  EXPECT(r == xErrno_Ok && after == sends + 1 && sends < 8);
  EXPECT(xReadU16BE(t.sent[sends]) == xStunMsgType_SendIndication);
  return 1;
}
static int turn_AllocateWith401ThenRetryWithCredentials(void) {
  Turn t;
  xStunMsg m;
  xStunAttr a;
  int ok;
  turn_init(&t);
  EXPECT(xTurnClientAllocate(&t.tc) == xErrno_Ok);
  EXPECT(turn_respond(&t, 0, xStunMsgType_AllocateErrorResponse, write_401, 0));
  ok = t.sends == 2 && sent_has(&t, 1, xStunAttrType_Username, &m, &a) &&
       m.type == xStunMsgType_AllocateRequest && sent_has(&t, 1, xStunAttrType_Realm, &m, &a) &&
       sent_has(&t, 1, xStunAttrType_Nonce, &m, &a) &&
       sent_has(&t, 1, xStunAttrType_MessageIntegrity, &m, &a) &&
       sent_has(&t, 1, xStunAttrType_RequestedTransport, &m, &a);
  EXPECT(ok);
  EXPECT(strcmp(t.tc.realm, TURN_REALM) == 0 && strcmp(t.tc.nonce, "nonce-123456") == 0);
  EXPECT(t.tc.has_credentials);
  /* The authenticated success: on_allocated inside OnMessage. */
  EXPECT(turn_respond(&t, 1, xStunMsgType_AllocateResponse, write_allocated, 1));
  ok = t.allocated == 1 && t.tc.state == xTurnState_Allocated;
  xTurnClientDestroy(&t.tc);
  EXPECT(ok);
  return 1;
}
static int turn_RefreshTimerScheduledOnAllocateSuccess(void) {
  Turn t;
  int ok;
  turn_init(&t);
  EXPECT(xTurnClientAllocate(&t.tc) == xErrno_Ok);
  EXPECT(turn_respond(&t, 0, xStunMsgType_AllocateResponse, write_allocated, 0));
  /* on_allocated ran inside OnMessage (spec section 5). */
  ok = t.allocated == 1 && t.lifetime == 600 && t.tc.state == xTurnState_Allocated &&
       t.tc.lifetime == 600 && t.tc.refresh_timer != NULL;
  xTurnClientDestroy(&t.tc);
  EXPECT(ok);
  tick_until(100, NULL, NULL);
  EXPECT(t.allocated == 1);
  return 1;
}
/* Spec section 5: on_failed inside OnMessage for an error response. */
static void write_403(xStunAttrWriter *w, const uint8_t *txn) {
  (void)txn;
  xStunAttrWriteErrorCode(w, 403, "Forbidden");
}
static int sync_TurnFailedInsideOnMessage(void) {
  Turn t;
  turn_init(&t);
  EXPECT(xTurnClientAllocate(&t.tc) == xErrno_Ok);
  EXPECT(turn_respond(&t, 0, xStunMsgType_AllocateErrorResponse, write_403, 0));
  EXPECT(t.failed == 1 && t.tc.state == xTurnState_Failed);
  xTurnClientDestroy(&t.tc);
  tick_until(100, NULL, NULL);
  EXPECT(t.failed == 1);
  return 1;
}
static int sync_TurnDestroyInsideOnAllocated(void) {
  Turn t;
  turn_init(&t);
  t.destroy_on_allocated = 1;
  EXPECT(xTurnClientAllocate(&t.tc) == xErrno_Ok);
  EXPECT(turn_respond(&t, 0, xStunMsgType_AllocateResponse, write_allocated, 0));
  EXPECT(t.allocated == 1 && t.tc.state == xTurnState_Idle && t.tc.refresh_timer == NULL);
  /* Destroyed: later calls are refused and no timer fires for it. */
  EXPECT(xTurnClientAllocate(&t.tc) == xErrno_InvalidArg);
  tick_until(200, NULL, NULL);
  EXPECT(t.allocated == 1 && t.failed == 0);
  return 1;
}

#define STRUCT_WRITE "forces state by writing the caller-owned xTurnClient fields"

static const Behaviour kBehaviours[] = {
    BEHAVIOUR(dtls, ParseValidFingerprint),
    BEHAVIOUR(dtls, ParseLowercaseFingerprint),
    BEHAVIOUR(dtls, ParseTooShort),
    BEHAVIOUR(dtls, ParseNull),
    BEHAVIOUR(dtls, ParseInvalidChar),
    BEHAVIOUR(dtls, CreateActiveAndDestroy),
    BEHAVIOUR(dtls, CreatePassiveAndDestroy),
    BEHAVIOUR(dtls, CreateActpassResolvesToPassive),
    BEHAVIOUR(dtls, CreateNullConf),
    BEHAVIOUR(dtls, CreateNullLoop),
    BEHAVIOUR(dtls, CreateNullSendFn),
    BEHAVIOUR(dtls, DestroyNull),
    BEHAVIOUR(dtls, GetFingerprintRaw),
    BEHAVIOUR(dtls, GetFingerprintStr),
    BEHAVIOUR(dtls, FingerprintRoundTrip),
    BEHAVIOUR(dtls, TwoTransportsDifferentFingerprints),
    BEHAVIOUR(dtls, GetFingerprintNull),
    BEHAVIOUR(dtls, GetStateNull),
    BEHAVIOUR(dtls, GetRoleNull),
    BEHAVIOUR(dtls, StartNull),
    BEHAVIOUR(dtls, FeedInputNull),
    BEHAVIOUR(dtls, SendNull),
    BEHAVIOUR(dtls, GetFingerprintStrNull),
    BEHAVIOUR(dtls, StartActiveTransitionsToConnecting),
    BEHAVIOUR(dtls, StartPassiveTransitionsToConnecting),
    BEHAVIOUR(dtls, DoubleStartFails),
    BEHAVIOUR(dtls, SendBeforeHandshakeFails),
    BEHAVIOUR(dtls, ActivePassiveHandshakeCompletes),
    BEHAVIOUR(dtls, HandshakeWithFingerprintVerification),
    BEHAVIOUR(dtls, DataExchangeAfterHandshake),
    BEHAVIOUR(dtls, LargeDataExchange),
    BEHAVIOUR(dtls, WrongFingerprintCausesFailure),
    BEHAVIOUR(dtls, PassiveTimesOutWithoutPeer),
    BEHAVIOUR(dtls, ActiveTimesOutWithoutPeer),
    BEHAVIOUR(dtls, ActiveRoleIsActive),
    BEHAVIOUR(dtls, PassiveRoleIsPassive),
    BEHAVIOUR(dtls, ActpassResolvesToPassive),
    BEHAVIOUR(dtls, FeedInputNullData),
    BEHAVIOUR(dtls, FeedInputZeroLen),
    BEHAVIOUR(dtls, FeedGarbageDoesNotCrash),
    BEHAVIOUR(ice_agent, CreateDestroy),
    BEHAVIOUR(ice_agent, CreateNullConfigFails),
    BEHAVIOUR(ice_agent, CreateNullLoopFails),
    BEHAVIOUR(ice_agent, DestroyNullIsNoop),
    BEHAVIOUR(ice_agent, GatherProducesHostCandidate),
    BEHAVIOUR(ice_agent, GatherTwiceFails),
    BEHAVIOUR(ice_agent, CreateOfferContainsIceParams),
    BEHAVIOUR(ice_agent, SetRemoteDescriptionParsesCredentials),
    BEHAVIOUR(ice_agent, SetRemoteDescriptionInvalidSdpFails),
    BEHAVIOUR(ice_agent, AddRemoteCandidateWorks),
    BEHAVIOUR(ice_agent, AddRemoteCandidateInvalidFails),
    BEHAVIOUR(ice_agent, SendBeforeConnectedFails),
    BEHAVIOUR(ice_agent, FullLocalLoopback),
    BEHAVIOUR(ice_agent, TrickleIceAddCandidate),
    BEHAVIOUR(ice_agent, AllPairsFailLeadsToFailedState),
    BEHAVIOUR(ice_agent, GatherWithInvalidStunServerStillSucceeds),
    BEHAVIOUR(ice_agent, GatherWithInvalidTurnServerStillSucceeds),
    BEHAVIOUR(ice_agent, GatherWithNullTurnCredentialsSkipsTurn),
    BEHAVIOUR(ice_agent, ConfWithoutServersGathersHostOnly),
    BEHAVIOUR(stun_txn, SendCreatesTransaction),
    BEHAVIOUR(stun_txn, ResponseMatchesTransaction),
    BEHAVIOUR(stun_txn, UnmatchedResponseDiscarded),
    BEHAVIOUR(stun_txn, CancelAllCleansUp),
    BEHAVIOUR(stun_txn, SendFailReturnsError),
    BEHAVIOUR(stun_txn, SendRawWorks),
    BEHAVIOUR(stun_txn, MultipleTransactionsMultiplex),
    BEHAVIOUR(turn, AllocateSendsRequest),
    BEHAVIOUR(turn, AllocateDoubleCallFails),
    EXCUSED(turn, ChannelDataSendViaChannel, STRUCT_WRITE),
    EXCUSED(turn, SendDataFallbackToIndication, STRUCT_WRITE),
    BEHAVIOUR(turn, AllocateWith401ThenRetryWithCredentials),
    BEHAVIOUR(turn, RefreshTimerScheduledOnAllocateSuccess),
    /* Ours: the two excused behaviours on a client really allocated, the
     * record limit of LargeDataExchange, and the section 5 contexts made
     * safe. */
    OURS(turn, ChannelDataSendViaChannelWhenAllocated),
    OURS(turn, SendDataFallbackToIndicationWhenAllocated),
    OURS(dtls, LargeDataExchangeRecordLimit),
    OURS(sync, DtlsClosedInsideDestroy),
    OURS(sync, DtlsDestroyInsideStartCallback),
    OURS(sync, IceDestroyInsideGatherCallback),
    OURS(sync, IceCheckingInsideSetRemoteDescription),
    OURS(sync, IceCheckingInsideAddRemoteCandidate),
    OURS(sync, TurnFailedInsideOnMessage),
    OURS(sync, TurnDestroyInsideOnAllocated),
};

int main(void) {
  int rc;
  g_loop = xEventLoopCreate();
  rc = run_behaviours("transports", kBehaviours, sizeof kBehaviours / sizeof kBehaviours[0]);
  tick_until(100, NULL, NULL);
  xEventLoopDestroy(g_loop);
  return rc;
}
