/* Two PeerConnections in one process through the real loop: offer/answer
 * with trickle, channels from both sides, messages of every size both ways,
 * fingerprint verification, bad handles and calls in the wrong state, and
 * the borrowed views of the components (ICE agent, DTLS and SCTP transports,
 * channel manager) before connecting, once connected and after Destroy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/peer_connection.h>

#include "check.h"
#include "pc_pair.h"
#include "datachannel_null.h"

#define MAX_MSGS 64
#define EXTRA 31 /* channels each side opens at once: 1 + 2 * 31 = 63 of the 64 allowed */

typedef struct Side {
  const char *name;
  xPeerConnection pc;
  struct Side *other;
  xPeerConnectionState state;
  int failed;
  int end_of_candidates;
  int remote_channels;
  int opened;
  int closed;
  int msgs;
  size_t sizes[MAX_MSGS];
  uint32_t sums[MAX_MSGS];
  int types[MAX_MSGS];
  int tamper;
  int destroy_on;  /* DESTROY_*: destroy our PC inside that callback */
  int destroyed;
  int after;       /* callbacks that ran after we destroyed our PC */
  int low_events;  /* on_buffered_amount_low */
} Side;

enum { DESTROY_NONE, DESTROY_STATE, DESTROY_CANDIDATE, DESTROY_DATACHANNEL, DESTROY_OPEN,
       DESTROY_MESSAGE };

/* Counts callbacks after our own destroy; destroys when asked to. */
static int visit(Side *x, int kind) {
  if (x->destroyed) {
    x->after++;
    return 1;
  }
  if (x->destroy_on == kind) {
    xPeerConnectionDestroy(x->pc);
    x->destroyed = 1;
    return 1;
  }
  return 0;
}

static uint32_t checksum(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  Side *x = (Side *)arg;
  (void)pc;
  if (s == xPeerConnectionState_Connected && visit(x, DESTROY_STATE)) return;
  x->state = s;
  if (s == xPeerConnectionState_Failed) x->failed = 1;
}

static void on_candidate(xPeerConnection pc, const char *line, void *arg) {
  Side *x = (Side *)arg;
  (void)pc;
  if (visit(x, DESTROY_CANDIDATE)) return;
  if (!line) {
    x->end_of_candidates = 1;
    return;
  }
  if (x->other && x->other->pc) xPeerConnectionAddIceCandidate(x->other->pc, line);
}

static void on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  Side *x = (Side *)arg;
  (void)pc;
  (void)ch;
  if (visit(x, DESTROY_DATACHANNEL)) return;
  x->remote_channels++;
}

static void on_open(xDataChannel ch, void *arg) {
  (void)ch;
  if (visit((Side *)arg, DESTROY_OPEN)) return;
  ((Side *)arg)->opened++;
}

static void on_low(xDataChannel ch, void *arg) {
  (void)ch;
  ((Side *)arg)->low_events++;
}

static void on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data, size_t len,
                       void *arg) {
  Side *x = (Side *)arg;
  (void)ch;
  if (visit(x, DESTROY_MESSAGE)) return;
  if (x->msgs < MAX_MSGS) {
    x->sizes[x->msgs] = len;
    x->sums[x->msgs] = checksum(data, len);
    x->types[x->msgs] = type;
  }
  x->msgs++;
}

static void on_close(xDataChannel ch, void *arg) {
  (void)ch;
  if (visit((Side *)arg, -1)) return;
  ((Side *)arg)->closed++;
}

static xPeerConnectionConf conf_for(Side *x) {
  xPeerConnectionConf c;
  memset(&c, 0, sizeof c);
  c.on_state_change = on_state;
  c.on_ice_candidate = on_candidate;
  c.on_datachannel = on_datachannel;
  c.on_dc_open = on_open;
  c.on_dc_message = on_message;
  c.on_dc_close = on_close;
  c.ctx = x;
  return c;
}

/* Clears both sides, links them and creates their PeerConnections. */
static void create_pair(xEventLoop loop, Side *a, Side *b) {
  xPeerConnectionConf ca, cb;
  memset(a, 0, sizeof *a);
  memset(b, 0, sizeof *b);
  a->other = b;
  b->other = a;
  ca = conf_for(a);
  cb = conf_for(b);
  a->pc = xPeerConnectionCreate(loop, &ca);
  b->pc = xPeerConnectionCreate(loop, &cb);
}

typedef int (*Cond)(Side *a, Side *b);
static void spin(xEventLoop loop, int ms, Cond cond, Side *a, Side *b) {
  uint64_t end = xMonoMs() + (cond ? check_wait_ms((uint64_t)ms) : (uint64_t)ms);
  while (xMonoMs() < end && !(cond && cond(a, b))) xEventWait(loop, 5);
}
static int connected(Side *a, Side *b) {
  return a->state == xPeerConnectionState_Connected && b->state == xPeerConnectionState_Connected &&
         a->opened >= 1 && b->opened >= 1;
}
static int failed(Side *a, Side *b) { return a->failed || b->failed; }
static int b_msgs_10(Side *a, Side *b) {
  (void)a;
  return b->msgs >= 10;
}
static int a_msgs_10(Side *a, Side *b) {
  (void)b;
  return a->msgs >= 10;
}
static int many_open(Side *a, Side *b) {
  return a->opened >= 1 + 2 * EXTRA && b->opened >= 1 + 2 * EXTRA;
}
static int last_arrived(Side *a, Side *b) {
  (void)a;
  return b->remote_channels >= 1 + EXTRA + 1;
}
static int both_closed(Side *a, Side *b) { return a->closed >= 1 && b->closed >= 1; }

/* Replaces the fingerprint's first hex pair so verification must fail. */
static void tamper(char *sdp) {
  char *fp = strstr(sdp, "a=fingerprint:sha-256 ");
  if (fp) {
    fp += strlen("a=fingerprint:sha-256 ");
    fp[0] = fp[0] == '0' ? '1' : '0';
  }
}

static void connect_pair(xEventLoop loop, Side *a, Side *b) {
  char *offer, *answer;
  offer = xPeerConnectionCreateOffer(a->pc);
  CHECK(offer != NULL);
  if (!offer) return;
  CHECK(strstr(offer, "m=application") && strstr(offer, "webrtc-datachannel"));
  CHECK(strstr(offer, "a=fingerprint:sha-256 ") && strstr(offer, "a=setup:actpass"));
  CHECK(strstr(offer, "a=max-message-size:"));
  CHECK_EQ_INT(xPeerConnectionSetLocalDescription(a->pc, offer), xErrno_Ok);
  if (a->tamper) tamper(offer);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b->pc, offer), xErrno_Ok);
  answer = xPeerConnectionCreateAnswer(b->pc);
  CHECK(answer != NULL);
  if (answer) {
    CHECK(strstr(answer, "a=setup:active") != NULL);
    CHECK_EQ_INT(xPeerConnectionSetLocalDescription(b->pc, answer), xErrno_Ok);
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a->pc, answer), xErrno_Ok);
  }
  free(offer);
  free(answer);
  (void)loop;
}

static void bad_handles(xEventLoop loop) {
  Side x;
  xPeerConnectionConf c;
  xPeerConnection pc;
  xDataChannelConf dc = pc_pair_channel("early", true);
  xDataChannel ch;
  memset(&x, 0, sizeof x);
  c = conf_for(&x);
  CHECK(xPeerConnectionCreate(NULL, &c) == NULL);
  CHECK(xPeerConnectionCreate(loop, NULL) == NULL);
  xPeerConnectionDestroy(NULL);
  CHECK(xPeerConnectionCreateOffer(NULL) == NULL);
  CHECK(xPeerConnectionCreateAnswer(NULL) == NULL);
  CHECK_EQ_INT(xPeerConnectionSetLocalDescription(NULL, "v=0"), xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(NULL, "v=0"), xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionAddIceCandidate(NULL, "candidate:1 1 UDP 1 127.0.0.1 9 typ host"),
               xErrno_InvalidArg);
  CHECK(xPeerConnectionCreateDataChannel(NULL, &dc) == NULL);
  CHECK_EQ_INT(xPeerConnectionGetState(NULL), xPeerConnectionState_Closed);
  datachannel_null_channel();

  pc = xPeerConnectionCreate(loop, &c);
  CHECK(pc != NULL);
  CHECK_EQ_INT(xPeerConnectionGetState(pc), xPeerConnectionState_New);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(pc, "garbage"), xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(pc, NULL), xErrno_InvalidArg);
  CHECK(xPeerConnectionAddIceCandidate(pc, "garbage") != xErrno_Ok);
  CHECK(xPeerConnectionCreateAnswer(pc) == NULL); /* no remote offer */
  CHECK(xPeerConnectionCreateDataChannel(pc, NULL) == NULL);
  ch = xPeerConnectionCreateDataChannel(pc, &dc);
  CHECK(ch != NULL); /* usable before the connection is up */
  CHECK(strcmp(xDataChannelGetLabel(ch), "early") == 0);
  CHECK_EQ_INT(xDataChannelGetState(ch), xDataChannelState_Connecting);
  CHECK_EQ_INT(xDataChannelSendString(ch, "x", 1), xErrno_InvalidState);
  CHECK_EQ_INT(xPeerConnectionGetState((xPeerConnection)loop), xPeerConnectionState_Closed);
  xPeerConnectionDestroy(pc);
  CHECK_EQ_INT(xPeerConnectionGetState(pc), xPeerConnectionState_Closed);
  CHECK(xPeerConnectionCreateOffer(pc) == NULL);
  CHECK_EQ_INT(xDataChannelSendString(ch, "x", 1), xErrno_InvalidArg);
  CHECK(strcmp(xDataChannelGetLabel(ch), "") == 0);
  xPeerConnectionDestroy(pc);
  spin(loop, 100, NULL, NULL, NULL);
}

static void full_exchange(xEventLoop loop) {
  static Side a, b;
  static uint8_t buf[262144 + 1];
  static const size_t sizes[] = {0, 1, 1200, 65536, 262144};
  xDataChannelConf dc = pc_pair_channel("chat", true);
  xDataChannel ach, extra[2 * EXTRA];
  size_t i;
  int k;
  create_pair(loop, &a, &b);
  a.name = "A";
  b.name = "B";
  CHECK(a.pc && b.pc);
  ach = xPeerConnectionCreateDataChannel(a.pc, &dc);
  CHECK(ach != NULL);
  connect_pair(loop, &a, &b);
  spin(loop, 20000, connected, &a, &b);
  CHECK_EQ_INT(a.state, xPeerConnectionState_Connected);
  CHECK_EQ_INT(b.state, xPeerConnectionState_Connected);
  CHECK_EQ_INT(b.remote_channels, 1);
  CHECK(a.opened == 1 && b.opened == 1);
  CHECK_EQ_INT(xDataChannelGetState(ach), xDataChannelState_Open);
  CHECK_EQ_INT(xDataChannelGetStreamId(ach) % 2, 1); /* A is DTLS server: odd ids */

  for (i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 31 + 7);
  for (i = 0; i < 5; i++) {
    CHECK_EQ_INT(xDataChannelSendBinary(ach, buf, sizes[i]), xErrno_Ok);
    CHECK_EQ_INT(xDataChannelSendString(ach, (const char *)buf, sizes[i]), xErrno_Ok);
  }
  CHECK(xDataChannelSendBinary(ach, buf, sizeof buf) != xErrno_Ok); /* over max-message-size */
  spin(loop, 20000, b_msgs_10, &a, &b);
  CHECK_EQ_INT(b.msgs, 10);
  for (k = 0; k < 10 && k < b.msgs; k++) {
    CHECK_EQ_INT(b.sizes[k], sizes[k / 2]);
    CHECK(b.sums[k] == checksum(buf, sizes[k / 2]));
    CHECK_EQ_INT(b.types[k], k % 2 ? xDataChannelMsgType_String : xDataChannelMsgType_Binary);
  }
  CHECK_EQ_INT(xDataChannelGetBufferedAmount(ach), 0);

  /* Channels from both sides at once: no stream id collisions. Each side
   * sees its own EXTRA channels open and the peer's EXTRA arrive. */
  for (k = 0; k < EXTRA; k++) {
    char label[16];
    xDataChannelConf c;
    snprintf(label, sizeof label, "a%d", k);
    c = pc_pair_channel(label, k % 2 == 0);
    extra[k] = xPeerConnectionCreateDataChannel(a.pc, &c);
    snprintf(label, sizeof label, "b%d", k);
    c = pc_pair_channel(label, k % 2 == 0);
    extra[EXTRA + k] = xPeerConnectionCreateDataChannel(b.pc, &c);
  }
  spin(loop, 20000, many_open, &a, &b);
  CHECK_EQ_INT(a.opened, 1 + 2 * EXTRA);
  CHECK_EQ_INT(b.opened, 1 + 2 * EXTRA);
  {
    static char used[65536];
    int collisions = 0;
    memset(used, 0, sizeof used);
    used[xDataChannelGetStreamId(ach)] = 1;
    for (k = 0; k < 2 * EXTRA; k++) {
      uint16_t sid = xDataChannelGetStreamId(extra[k]);
      CHECK_EQ_INT(xDataChannelGetState(extra[k]), xDataChannelState_Open);
      CHECK_EQ_INT(sid % 2, k < EXTRA ? 1 : 0);
      if (used[sid]) collisions++;
      used[sid] = 1;
    }
    CHECK_EQ_INT(collisions, 0);
  }
  /* XDC_MAX_CHANNELS (64) per PeerConnection, local and remote channels
   * together: one more fits on A, then neither side can add one. */
  {
    xDataChannelConf c = pc_pair_channel("last", true);
    xDataChannel last = xPeerConnectionCreateDataChannel(a.pc, &c);
    CHECK(last != NULL);
    CHECK(xPeerConnectionCreateDataChannel(a.pc, &c) == NULL);
    spin(loop, 20000, last_arrived, &a, &b);
    CHECK_EQ_INT(b.remote_channels, 1 + EXTRA + 1);
    CHECK(xPeerConnectionCreateDataChannel(b.pc, &c) == NULL);
  }
  /* Replies from B on one of its channels reach A. */
  for (k = 0; k < 10; k++) CHECK_EQ_INT(xDataChannelSendString(extra[EXTRA], "pong", 4), xErrno_Ok);
  spin(loop, 5000, a_msgs_10, &a, &b);
  CHECK_EQ_INT(a.msgs, 10);

  /* Close from one side: both see it. */
  a.closed = b.closed = 0;
  xDataChannelClose(ach);
  spin(loop, 5000, both_closed, &a, &b);
  CHECK(a.closed >= 1 && b.closed >= 1);
  CHECK_EQ_INT(xDataChannelGetState(ach), xDataChannelState_Closed);
  CHECK(xDataChannelSendString(ach, "x", 1) != xErrno_Ok);

  xPeerConnectionDestroy(a.pc);
  xPeerConnectionDestroy(b.pc);
  spin(loop, 100, NULL, NULL, NULL);
}

static xSctpTransport g_sctp;
static int sctp_drained(Side *a, Side *b) {
  (void)a;
  (void)b;
  return xSctpTransportGetBufferedAmount(g_sctp) == 0;
}
static int opened_4(Side *a, Side *b) { return a->opened >= 2 && b->opened >= 2; }

static void component_views(xEventLoop loop) {
  static Side a, b;
  static uint8_t buf[65536];
  xDataChannelConf dc = pc_pair_channel("via-mgr", true);
  xIceAgent ice;
  xDtlsTransport dtls, bdtls;
  xSctpTransport sctp;
  xDataChannelMgr mgr;
  xDataChannel ch, late;
  const xIceCandidate *cands;
  int n = -1;
  char fp[96], line[160], *offer, *answer;
  uint8_t raw[32];
  const char *ufrag;
  create_pair(loop, &a, &b);
  CHECK(a.pc && b.pc);
  CHECK(xPeerConnectionGetIceAgent(NULL) == NULL);
  CHECK(xPeerConnectionGetDtlsTransport(NULL) == NULL);
  CHECK(xPeerConnectionGetSctpTransport(NULL) == NULL);
  CHECK(xPeerConnectionGetDataChannelMgr(NULL) == NULL);

  /* Before connecting. */
  ice = xPeerConnectionGetIceAgent(a.pc);
  dtls = xPeerConnectionGetDtlsTransport(a.pc);
  mgr = xPeerConnectionGetDataChannelMgr(a.pc);
  CHECK(ice && dtls && mgr);
  CHECK(xPeerConnectionGetIceAgent(a.pc) == ice);
  CHECK(xPeerConnectionGetDtlsTransport(a.pc) == dtls);
  CHECK(xPeerConnectionGetDataChannelMgr(a.pc) == mgr);
  CHECK(xPeerConnectionGetSctpTransport(a.pc) == NULL); /* no association yet */
  ufrag = xIceAgentGetUfrag(ice);
  CHECK(ufrag && strlen(ufrag) >= 4 && xIceAgentGetPwd(ice) != NULL);
  CHECK(xIceAgentGetLoop(ice) == loop);
  cands = xIceAgentGetLocalCandidates(ice, &n);
  CHECK_EQ_INT(n, 0);
  (void)cands;
  CHECK_EQ_INT(xIceAgentGather(ice), xErrno_InvalidState);
  CHECK_EQ_INT(xIceAgentSend(ice, buf, 4), xErrno_InvalidState);
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(ice, "v=0\r\n"), xErrno_InvalidState);
  xIceAgentSetRole(ice, xIceRole_Controlled);
  xIceAgentDestroy(ice); /* borrowed: ignored */
  CHECK(xIceAgentGetUfrag(ice) == ufrag);
  CHECK_EQ_INT(xDtlsTransportGetState(dtls), xDtlsState_New);
  CHECK_EQ_INT(xDtlsTransportGetFingerprint(dtls, raw), xErrno_Ok);
  CHECK_EQ_INT(xDtlsTransportGetFingerprintStr(dtls, fp), xErrno_Ok);
  CHECK_EQ_INT(strlen(fp), 95);
  CHECK_EQ_INT(xDtlsTransportStart(dtls), xErrno_InvalidState);
  CHECK_EQ_INT(xDtlsTransportFeedInput(dtls, buf, 4), xErrno_InvalidState);
  CHECK_EQ_INT(xDtlsTransportSend(dtls, buf, 4), xErrno_InvalidState);
  CHECK_EQ_INT(xDtlsTransportSetRole(dtls, xDtlsRole_Active), xErrno_InvalidState);
  xDtlsTransportDestroy(dtls); /* borrowed: ignored */
  CHECK_EQ_INT(xDtlsTransportGetState(dtls), xDtlsState_New);
  /* The manager view creates channels of the PeerConnection. */
  ch = xDataChannelCreate(mgr, &dc);
  CHECK(ch != NULL);
  CHECK_EQ_INT(xDataChannelGetState(ch), xDataChannelState_Connecting);
  xDataChannelMgrOnData(mgr, 0, 51, buf, 4); /* fed by the PeerConnection: ignored */
  xDataChannelMgrOnStreamClose(mgr, 0);
  xDataChannelMgrOnBufferedAmountLow(mgr);
  xDataChannelMgrDestroy(mgr); /* borrowed: ignored */
  CHECK_EQ_INT(xDataChannelGetState(ch), xDataChannelState_Connecting);

  /* The offer carries what the views report. */
  offer = xPeerConnectionCreateOffer(a.pc);
  CHECK(offer != NULL);
  if (!offer) return;
  snprintf(line, sizeof line, "a=ice-ufrag:%s\r\n", ufrag);
  CHECK(strstr(offer, line) != NULL);
  snprintf(line, sizeof line, "a=fingerprint:sha-256 %s\r\n", fp);
  CHECK(strstr(offer, line) != NULL);
  cands = xIceAgentGetLocalCandidates(ice, &n);
  CHECK(cands != NULL && n >= 1);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b.pc, offer), xErrno_Ok);
  answer = xPeerConnectionCreateAnswer(b.pc);
  CHECK(answer != NULL);
  if (answer) CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a.pc, answer), xErrno_Ok);
  free(offer);
  free(answer);
  spin(loop, 20000, connected, &a, &b);
  CHECK_EQ_INT(a.state, xPeerConnectionState_Connected);

  /* Connected. */
  CHECK_EQ_INT(xDataChannelGetState(ch), xDataChannelState_Open);
  CHECK_EQ_INT(xDtlsTransportGetState(dtls), xDtlsState_Connected);
  bdtls = xPeerConnectionGetDtlsTransport(b.pc);
  CHECK_EQ_INT(xDtlsTransportGetRole(dtls), xDtlsRole_Passive); /* the answer said active */
  CHECK_EQ_INT(xDtlsTransportGetRole(bdtls), xDtlsRole_Active);
  sctp = xPeerConnectionGetSctpTransport(a.pc);
  CHECK(sctp != NULL);
  CHECK(xPeerConnectionGetSctpTransport(a.pc) == sctp);
  CHECK(xSctpTransportIsConnected(sctp));
  CHECK_EQ_INT(xSctpTransportStart(sctp), xErrno_InvalidState);
  CHECK_EQ_INT(xSctpTransportSend(sctp, 0, 53, buf, 4, true), xErrno_InvalidState);
  CHECK_EQ_INT(xSctpTransportFeedInput(sctp, buf, 4), xErrno_InvalidState);
  CHECK_EQ_INT(xSctpTransportCloseStream(sctp, 0), xErrno_InvalidState);
  xSctpTransportDestroy(sctp); /* borrowed: ignored */
  CHECK(xSctpTransportIsConnected(sctp));
  CHECK_EQ_INT(xDataChannelSendBinary(ch, buf, sizeof buf), xErrno_Ok);
  g_sctp = sctp;
  spin(loop, 5000, sctp_drained, &a, &b);
  CHECK_EQ_INT(xSctpTransportGetBufferedAmount(sctp), 0);
  /* A channel from the manager view once connected opens on both sides. */
  late = xDataChannelCreate(mgr, &dc);
  CHECK(late != NULL);
  spin(loop, 5000, opened_4, &a, &b);
  CHECK_EQ_INT(xDataChannelGetState(late), xDataChannelState_Open);
  CHECK(xDataChannelGetStreamId(late) != xDataChannelGetStreamId(ch));
  /* A trickled candidate through the agent view reaches the PeerConnection. */
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(ice, "a=end-of-candidates"), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(ice, "garbage"), xErrno_InvalidArg);

  /* After Destroy every view is stale. */
  xPeerConnectionDestroy(a.pc);
  CHECK(xIceAgentGetUfrag(ice) == NULL);
  CHECK(xIceAgentGetLoop(ice) == NULL);
  CHECK(xIceAgentGetLocalCandidates(ice, &n) == NULL && n == 0);
  CHECK(xIceAgentCreateOffer(ice) == NULL);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(ice, "a=end-of-candidates"), xErrno_InvalidArg);
  CHECK_EQ_INT(xDtlsTransportGetState(dtls), xDtlsState_Closed);
  CHECK_EQ_INT(xDtlsTransportGetFingerprint(dtls, raw), xErrno_InvalidArg);
  CHECK_EQ_INT(xDtlsTransportGetRole(dtls), xDtlsRole_Passive);
  CHECK(!xSctpTransportIsConnected(sctp));
  CHECK_EQ_INT(xSctpTransportGetBufferedAmount(sctp), 0);
  CHECK_EQ_INT(xSctpTransportSend(sctp, 0, 53, buf, 4, true), xErrno_InvalidArg);
  CHECK(xDataChannelCreate(mgr, &dc) == NULL);
  CHECK_EQ_INT(xDataChannelGetState(ch), xDataChannelState_Closed);
  xIceAgentDestroy(ice);
  xDtlsTransportDestroy(dtls);
  xSctpTransportDestroy(sctp);
  xDataChannelMgrDestroy(mgr);
  CHECK(xPeerConnectionGetIceAgent(a.pc) == NULL);
  CHECK(xPeerConnectionGetDtlsTransport(a.pc) == NULL);
  CHECK(xPeerConnectionGetSctpTransport(a.pc) == NULL);
  CHECK(xPeerConnectionGetDataChannelMgr(a.pc) == NULL);
  xPeerConnectionDestroy(b.pc);
  spin(loop, 100, NULL, NULL, NULL);
}

static void wrong_fingerprint(xEventLoop loop) {
  static Side a, b;
  xDataChannelConf dc = pc_pair_channel("chat", true);
  create_pair(loop, &a, &b);
  a.tamper = 1;
  xPeerConnectionCreateDataChannel(a.pc, &dc);
  connect_pair(loop, &a, &b);
  spin(loop, 15000, failed, &a, &b);
  spin(loop, 500, NULL, NULL, NULL);
  CHECK(a.failed || b.failed);
  CHECK_EQ_INT(a.opened + b.opened, 0);
  CHECK_EQ_INT(a.msgs + b.msgs, 0);
  xPeerConnectionDestroy(a.pc);
  xPeerConnectionDestroy(b.pc);
}

static int low_seen(Side *a, Side *b) {
  (void)b;
  return a->low_events > 0;
}

/* low_events when buffered_amount last waited for the next low event. */
static int low_mark;

static int low_again(Side *a, Side *b) {
  (void)b;
  return a->low_events > low_mark;
}

/* Buffered amount counts queued bytes and fires the low callback once it
 * drains to the threshold. */
static void buffered_amount(xEventLoop loop) {
  static Side a, b;
  static uint8_t chunk[65536];
  xDataChannelConf dc = pc_pair_channel("bulk", true);
  xDataChannel ch;
  size_t peak = 0;
  int k, sent = 0;
  create_pair(loop, &a, &b);
  dc.on_buffered_amount_low = on_low;
  dc.ctx = &a;
  ch = xPeerConnectionCreateDataChannel(a.pc, &dc);
  connect_pair(loop, &a, &b);
  spin(loop, 20000, connected, &a, &b);
  CHECK_EQ_INT(a.state, xPeerConnectionState_Connected);
  xDataChannelSetBufferedAmountLowThreshold(ch, 65536);
  /* 10 MiB: more than the SCTP send buffer (2 MiB) takes at once. */
  for (k = 0; k < 160; k++) {
    if (xDataChannelSendBinary(ch, chunk, sizeof chunk) == xErrno_Ok) sent++;
    if (xDataChannelGetBufferedAmount(ch) > peak) peak = xDataChannelGetBufferedAmount(ch);
  }
  CHECK(sent > 0);
  CHECK(peak > 65536);
  spin(loop, 20000, low_seen, &a, &b);
  CHECK(a.low_events >= 1);
  /* A low event may come from a drain while the loop above was still
   * sending (the I/O thread took the queue under the threshold between two
   * sends) and arrive first, with more queued since. The amount then rose
   * above the threshold again, so another low event follows its drain. */
  if (xDataChannelGetBufferedAmount(ch) > 65536) {
    low_mark = a.low_events;
    spin(loop, 20000, low_again, &a, &b);
    CHECK(a.low_events > low_mark);
  }
  CHECK(xDataChannelGetBufferedAmount(ch) <= 65536);
  /* As upstream, Destroy reports Closed inside the call. */
  CHECK_EQ_INT(a.state, xPeerConnectionState_Connected);
  xPeerConnectionDestroy(a.pc);
  CHECK_EQ_INT(a.state, xPeerConnectionState_Closed);
  xPeerConnectionDestroy(b.pc);
  spin(loop, 100, NULL, NULL, NULL);
}

static int b_destroyed(Side *a, Side *b) {
  (void)a;
  return b->destroyed;
}

/* Destroying a PeerConnection from inside each kind of its callbacks. */
static void destroy_inside(xEventLoop loop, int kind) {
  static Side a, b;
  xDataChannelConf dc = pc_pair_channel("chat", true);
  xDataChannel ch;
  create_pair(loop, &a, &b);
  b.destroy_on = kind;
  ch = xPeerConnectionCreateDataChannel(a.pc, &dc);
  connect_pair(loop, &a, &b);
  if (kind == DESTROY_MESSAGE) {
    spin(loop, 20000, connected, &a, &b);
    xDataChannelSendString(ch, "bye", 3);
    xDataChannelSendString(ch, "again", 5);
  }
  spin(loop, 20000, b_destroyed, &a, &b);
  CHECK(b.destroyed);
  spin(loop, 300, NULL, NULL, NULL);
  CHECK_EQ_INT(b.after, 0);
  b.pc = NULL;
  xPeerConnectionDestroy(a.pc);
  a.pc = NULL;
  spin(loop, 50, NULL, NULL, NULL);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  bad_handles(loop);
  full_exchange(loop);
  component_views(loop);
  wrong_fingerprint(loop);
  buffered_amount(loop);
  destroy_inside(loop, DESTROY_CANDIDATE);
  destroy_inside(loop, DESTROY_STATE);
  destroy_inside(loop, DESTROY_DATACHANNEL);
  destroy_inside(loop, DESTROY_OPEN);
  destroy_inside(loop, DESTROY_MESSAGE);
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}
