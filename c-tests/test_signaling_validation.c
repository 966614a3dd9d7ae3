/* Signaling input validated as browsers validate it, through the C API:
 * candidates that can never work are refused with InvalidArg by
 * xPeerConnectionAddIceCandidate and xIceAgentAddRemoteCandidate (upstream's
 * 127.0.0.1:5000 still works), remote candidates are bounded (NoMemory
 * beyond 100), descriptions with illegal ufrag/pwd, sctp-port or
 * max-message-size are refused with InvalidArg, a description of the wrong
 * type in the wrong offer/answer state with InvalidState, at most 64 data
 * channels per PeerConnection, and after all of that the two
 * PeerConnections still connect and exchange a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/peer_connection.h>

#include "check.h"

#define MAX_REMOTE 100

static const char *const never_work[] = {
    "candidate:1 1 UDP 2130706431 0.0.0.0 5000 typ host",
    "candidate:1 1 UDP 2130706431 :: 5000 typ host",
    "candidate:1 1 UDP 2130706431 255.255.255.255 5000 typ host",
    "candidate:1 1 UDP 2130706431 224.0.0.251 5353 typ host",
    "candidate:1 1 UDP 2130706431 ff02::1 5000 typ host",
    "a=candidate:1 1 UDP 2130706431 10.0.0.9 0 typ host",
    "candidate:1 1 UDP 2130706431 9b36eaac-bb2e-49bb-bb78-21c41c499900.local 0 typ host",
};
#define N_NEVER (sizeof never_work / sizeof never_work[0])

typedef struct Side {
  xPeerConnection pc;
  struct Side *other;
  int connected;
  int opened;
  int msgs;
} Side;

static void on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  if (s == xPeerConnectionState_Connected) ((Side *)arg)->connected = 1;
}
static void on_candidate(xPeerConnection pc, const char *line, void *arg) {
  Side *x = (Side *)arg;
  (void)pc;
  if (line && x->other && x->other->pc) xPeerConnectionAddIceCandidate(x->other->pc, line);
}
static void on_open(xDataChannel ch, void *arg) {
  (void)ch;
  ((Side *)arg)->opened++;
}
static void on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data, size_t len,
                       void *arg) {
  (void)ch;
  (void)type;
  if (len == 10 && memcmp(data, "still here", 10) == 0) ((Side *)arg)->msgs++;
}

static xPeerConnection make_pc(xEventLoop loop, Side *x) {
  xPeerConnectionConf c;
  memset(&c, 0, sizeof c);
  c.on_state_change = on_state;
  c.on_ice_candidate = on_candidate;
  c.on_dc_open = on_open;
  c.on_dc_message = on_message;
  c.ctx = x;
  return xPeerConnectionCreate(loop, &c);
}

static void nth_candidate(char *buf, size_t n, int i) {
  snprintf(buf, n, "candidate:%d 1 UDP 2130706431 10.1.%d.%d 5000 typ host", i, i / 250,
           i % 250 + 1);
}

/* The SDP with the value of attribute `name` replaced (malloc'ed). */
static char *with_attr(const char *sdp, const char *name, const char *value) {
  char key[64];
  const char *at, *end;
  char *out;
  snprintf(key, sizeof key, "a=%s:", name);
  at = strstr(sdp, key);
  if (!at) return NULL;
  at += strlen(key);
  end = strstr(at, "\r\n");
  out = (char *)malloc(strlen(sdp) + strlen(value) + 1);
  memcpy(out, sdp, (size_t)(at - sdp));
  strcpy(out + (at - sdp), value);
  strcat(out, end);
  return out;
}

/* Applies a modified description to a fresh PeerConnection and returns the result. */
static xErrno apply_modified(xEventLoop loop, const char *sdp, const char *name, const char *value) {
  Side s;
  xErrno rc;
  char *text = with_attr(sdp, name, value);
  memset(&s, 0, sizeof s);
  s.pc = make_pc(loop, &s);
  CHECK(text != NULL);
  rc = text ? xPeerConnectionSetRemoteDescription(s.pc, text) : xErrno_Unknown;
  free(text);
  xPeerConnectionDestroy(s.pc);
  return rc;
}

static void pc_candidates(xEventLoop loop) {
  Side s;
  char line[128];
  size_t k;
  int i;
  memset(&s, 0, sizeof s);
  s.pc = make_pc(loop, &s);
  CHECK(s.pc != NULL);
  for (k = 0; k < N_NEVER; k++) {
    xErrno rc = xPeerConnectionAddIceCandidate(s.pc, never_work[k]);
    if (rc != xErrno_InvalidArg) fprintf(stderr, "accepted: %s\n", never_work[k]);
    CHECK_EQ_INT(rc, xErrno_InvalidArg);
  }
  CHECK_EQ_INT(
      xPeerConnectionAddIceCandidate(s.pc, "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host"),
      xErrno_Ok);
  for (i = 1; i < MAX_REMOTE; i++) {
    nth_candidate(line, sizeof line, i);
    CHECK_EQ_INT(xPeerConnectionAddIceCandidate(s.pc, line), xErrno_Ok);
  }
  nth_candidate(line, sizeof line, MAX_REMOTE);
  CHECK_EQ_INT(xPeerConnectionAddIceCandidate(s.pc, line), xErrno_NoMemory);
  /* The same through the PeerConnection's ICE agent view. */
  {
    xIceAgent view = xPeerConnectionGetIceAgent(s.pc);
    CHECK(view != NULL);
    CHECK_EQ_INT(xIceAgentAddRemoteCandidate(view, line), xErrno_NoMemory);
    CHECK_EQ_INT(xIceAgentAddRemoteCandidate(view, never_work[0]), xErrno_InvalidArg);
  }
  /* A candidate already known is no new one. */
  nth_candidate(line, sizeof line, 5);
  CHECK_EQ_INT(xPeerConnectionAddIceCandidate(s.pc, line), xErrno_Ok);
  xPeerConnectionDestroy(s.pc);
}

static void agent_candidates(xEventLoop loop) {
  xIceConf conf;
  xIceAgent agent;
  char line[128];
  size_t k;
  int i;
  memset(&conf, 0, sizeof conf);
  conf.role = xIceRole_Controlling;
  agent = xIceAgentCreate(loop, &conf);
  CHECK(agent != NULL);
  for (k = 0; k < N_NEVER; k++)
    CHECK_EQ_INT(xIceAgentAddRemoteCandidate(agent, never_work[k]), xErrno_InvalidArg);
  /* Upstream's AddRemoteCandidateWorks. */
  CHECK_EQ_INT(
      xIceAgentAddRemoteCandidate(agent, "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host"),
      xErrno_Ok);
  for (i = 1; i < MAX_REMOTE; i++) {
    nth_candidate(line, sizeof line, i);
    CHECK_EQ_INT(xIceAgentAddRemoteCandidate(agent, line), xErrno_Ok);
  }
  nth_candidate(line, sizeof line, MAX_REMOTE);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(agent, line), xErrno_NoMemory);
  xIceAgentDestroy(agent);
}

static void channel_limit(xEventLoop loop) {
  Side s;
  xDataChannelConf c;
  int i, made = 0;
  memset(&s, 0, sizeof s);
  s.pc = make_pc(loop, &s);
  memset(&c, 0, sizeof c);
  c.ordered = true;
  for (i = 0; i < 64; i++) {
    snprintf(c.label, sizeof c.label, "c%d", i);
    if (xPeerConnectionCreateDataChannel(s.pc, &c)) made++;
  }
  CHECK_EQ_INT(made, 64);
  snprintf(c.label, sizeof c.label, "c64");
  CHECK(xPeerConnectionCreateDataChannel(s.pc, &c) == NULL);
  xPeerConnectionDestroy(s.pc);
}

static int both_open(Side *a, Side *b) { return a->opened >= 1 && b->opened >= 1; }
static int b_got_it(Side *a, Side *b) {
  (void)a;
  return b->msgs >= 1;
}
static void spin(xEventLoop loop, int ms, int (*cond)(Side *, Side *), Side *a, Side *b) {
  uint64_t end = xMonoMs() + (uint64_t)ms;
  while (xMonoMs() < end && !cond(a, b)) xEventWait(loop, 5);
}

static void descriptions_then_connect(xEventLoop loop) {
  static Side a, b, c, d;
  xDataChannelConf dc;
  xDataChannel ch;
  char *offer, *other_offer, *answer, *passive;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(&c, 0, sizeof c);
  memset(&d, 0, sizeof d);
  a.other = &b;
  b.other = &a;
  a.pc = make_pc(loop, &a);
  b.pc = make_pc(loop, &b);
  c.pc = make_pc(loop, &c);
  d.pc = make_pc(loop, &d);
  memset(&dc, 0, sizeof dc);
  snprintf(dc.label, sizeof dc.label, "after-refusals");
  dc.ordered = true;
  ch = xPeerConnectionCreateDataChannel(a.pc, &dc);
  CHECK(ch != NULL);
  offer = xPeerConnectionCreateOffer(a.pc);
  other_offer = xPeerConnectionCreateOffer(c.pc);
  CHECK(offer && other_offer);
  if (!offer || !other_offer) return;

  /* Illegal values: InvalidArg. */
  CHECK_EQ_INT(apply_modified(loop, offer, "ice-ufrag", "abc"), xErrno_InvalidArg);
  CHECK_EQ_INT(apply_modified(loop, offer, "ice-ufrag", "ab:cd"), xErrno_InvalidArg);
  CHECK_EQ_INT(apply_modified(loop, offer, "ice-pwd", "abcdefghijklmnopqrstu"), xErrno_InvalidArg);
  CHECK_EQ_INT(apply_modified(loop, offer, "sctp-port", "0"), xErrno_InvalidArg);
  CHECK_EQ_INT(apply_modified(loop, offer, "sctp-port", "70000"), xErrno_InvalidArg);
  CHECK_EQ_INT(apply_modified(loop, offer, "max-message-size", "-1"), xErrno_InvalidArg);
  /* Legal bounds. */
  CHECK_EQ_INT(apply_modified(loop, offer, "ice-ufrag", "a+/9"), xErrno_Ok);
  CHECK_EQ_INT(apply_modified(loop, offer, "ice-pwd", "abcdefghijklmnopqrstuv"), xErrno_Ok);
  CHECK_EQ_INT(apply_modified(loop, offer, "sctp-port", "65535"), xErrno_Ok);
  CHECK_EQ_INT(apply_modified(loop, offer, "max-message-size", "0"), xErrno_Ok);

  /* The offer/answer state machine: InvalidState. */
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a.pc, offer), xErrno_InvalidState);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a.pc, other_offer), xErrno_InvalidState);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(d.pc, offer), xErrno_Ok);
  answer = xPeerConnectionCreateAnswer(d.pc);
  CHECK(answer != NULL);
  passive = answer ? with_attr(answer, "setup", "passive") : NULL;
  CHECK(passive != NULL);
  if (passive) CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b.pc, passive), xErrno_InvalidState);
  CHECK(xPeerConnectionCreateAnswer(b.pc) == NULL);
  free(answer);
  free(passive);
  xPeerConnectionDestroy(c.pc);
  xPeerConnectionDestroy(d.pc);
  c.pc = d.pc = NULL;

  /* The real exchange, a second offer refused, then a working connection. */
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b.pc, offer), xErrno_Ok);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b.pc, other_offer), xErrno_InvalidState);
  answer = xPeerConnectionCreateAnswer(b.pc);
  CHECK(answer != NULL);
  if (answer) {
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b.pc, answer), xErrno_InvalidState);
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a.pc, answer), xErrno_Ok);
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a.pc, answer), xErrno_InvalidState);
  }
  free(answer);
  free(offer);
  free(other_offer);
  spin(loop, 60000, both_open, &a, &b);
  CHECK(a.opened >= 1 && b.opened >= 1);
  CHECK_EQ_INT(xDataChannelSendString(ch, "still here", 10), xErrno_Ok);
  spin(loop, 60000, b_got_it, &a, &b);
  CHECK_EQ_INT(b.msgs, 1);
  CHECK_EQ_INT(xPeerConnectionGetState(a.pc), xPeerConnectionState_Connected);
  CHECK_EQ_INT(xPeerConnectionGetState(b.pc), xPeerConnectionState_Connected);
  xPeerConnectionDestroy(a.pc);
  xPeerConnectionDestroy(b.pc);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  pc_candidates(loop);
  agent_candidates(loop);
  channel_limit(loop);
  descriptions_then_connect(loop);
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}
