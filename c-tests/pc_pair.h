/* Two PeerConnections that trickle their candidates to each other, for the
 * C tests that need a connected pair: one side's state and what it saw
 * (PcSide), its callbacks and conf, the pair's creation, the offer/answer
 * exchange and the "connected with a channel open" condition. Include after
 * check.h. A test that wants more per message sets `on_msg`. */
#ifndef XP2P_CTEST_PC_PAIR_H
#define XP2P_CTEST_PC_PAIR_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xp2p/peer_connection.h>

typedef struct PcSide {
  xPeerConnection pc;
  struct PcSide *other;
  xPeerConnectionState state;
  xDataChannel remote; /* the latest channel the peer opened */
  int opened;          /* on_dc_open calls */
  int msgs;            /* messages received, and their bytes */
  size_t bytes;
  /* Called for each message before it is counted (NULL: none). */
  void (*on_msg)(struct PcSide *x, const uint8_t *data, size_t len);
} PcSide;

static inline void pc_side_on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  ((PcSide *)arg)->state = s;
}

static inline void pc_side_on_candidate(xPeerConnection pc, const char *line, void *arg) {
  PcSide *x = (PcSide *)arg;
  (void)pc;
  if (line && x->other && x->other->pc) xPeerConnectionAddIceCandidate(x->other->pc, line);
}

static inline void pc_side_on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  (void)pc;
  ((PcSide *)arg)->remote = ch;
}

static inline void pc_side_on_open(xDataChannel ch, void *arg) {
  (void)ch;
  ((PcSide *)arg)->opened++;
}

static inline void pc_side_on_message(xDataChannel ch, xDataChannelMsgType type,
                                      const uint8_t *data, size_t len, void *arg) {
  PcSide *x = (PcSide *)arg;
  (void)ch;
  (void)type;
  if (x->on_msg) x->on_msg(x, data, len);
  x->msgs++;
  x->bytes += len;
}

/* A conf whose callbacks update `x`. */
static inline xPeerConnectionConf pc_side_conf(PcSide *x) {
  xPeerConnectionConf c;
  memset(&c, 0, sizeof c);
  c.on_state_change = pc_side_on_state;
  c.on_ice_candidate = pc_side_on_candidate;
  c.on_datachannel = pc_side_on_datachannel;
  c.on_dc_open = pc_side_on_open;
  c.on_dc_message = pc_side_on_message;
  c.ctx = x;
  return c;
}

/* Clears both sides, links them and creates their PeerConnections on
 * `la` and `lb` (the same loop or one each). 1 when both exist. */
static inline int pc_pair_create(PcSide *a, xEventLoop la, PcSide *b, xEventLoop lb) {
  xPeerConnectionConf ca, cb;
  memset(a, 0, sizeof *a);
  memset(b, 0, sizeof *b);
  a->other = b;
  b->other = a;
  ca = pc_side_conf(a);
  cb = pc_side_conf(b);
  a->pc = xPeerConnectionCreate(la, &ca);
  b->pc = xPeerConnectionCreate(lb, &cb);
  CHECK(a->pc && b->pc);
  return a->pc && b->pc;
}

/* An (un)ordered, reliable channel conf labelled `label`. */
static inline xDataChannelConf pc_pair_channel(const char *label, bool ordered) {
  xDataChannelConf c;
  memset(&c, 0, sizeof c);
  snprintf(c.label, sizeof c.label, "%s", label);
  c.ordered = ordered;
  return c;
}

/* a offers, b answers; each sets its own description and the other's. 1
 * when both descriptions were made and taken. */
static inline int pc_pair_negotiate(PcSide *a, PcSide *b) {
  char *offer, *answer = NULL;
  int ok = 0;
  offer = xPeerConnectionCreateOffer(a->pc);
  CHECK(offer != NULL);
  if (offer) {
    CHECK_EQ_INT(xPeerConnectionSetLocalDescription(a->pc, offer), xErrno_Ok);
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b->pc, offer), xErrno_Ok);
    answer = xPeerConnectionCreateAnswer(b->pc);
    CHECK(answer != NULL);
  }
  if (answer) {
    CHECK_EQ_INT(xPeerConnectionSetLocalDescription(b->pc, answer), xErrno_Ok);
    ok = xPeerConnectionSetRemoteDescription(a->pc, answer) == xErrno_Ok;
    CHECK(ok);
  }
  free(offer);
  free(answer);
  return ok;
}

/* Both Connected, a's channel open and b told of it. */
static inline int pc_pair_connected(const PcSide *a, const PcSide *b) {
  return a->state == xPeerConnectionState_Connected && b->state == xPeerConnectionState_Connected &&
         a->opened >= 1 && b->remote != NULL;
}

#endif
