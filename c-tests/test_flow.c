/* Receive flow control (xp2p/flow.h) through the C API on loopback: two
 * PeerConnections on two event loops of this thread. While B's loop does
 * not run, its received messages wait in the library, bounded by the limit
 * set with xPeerConnectionSetRecvBufferLimit; the library then stops
 * reading, so A's buffered amount grows. When B's loop runs again every
 * message arrives, in order, and the queue empties. Also the extension's
 * argument checks. No time bounds: waits are bounded loops that end as soon
 * as they can. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/flow.h>
#include <xp2p/peer_connection.h>

#include "check.h"

#define MSG 65536
#define WAIT_MS 60000
/* A's buffered amount that shows B stopped taking data: beyond what B's
 * SCTP receive buffer (4 MiB) and its bound hold, and A's SCTP send buffer
 * (4 MiB) holds, A keeps the rest. */
#define BACKED_UP (1u << 20)
#define SEND_MSGS 192

typedef struct Side {
  xPeerConnection pc;
  xEventLoop loop;
  struct Side *other;
  xPeerConnectionState state;
  xDataChannel remote;
  int opened;
  int msgs;
  int out_of_order;
  size_t bytes;
} Side;

static Side A, B;
static uint8_t payload[MSG];

static void on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  ((Side *)arg)->state = s;
}

static void on_candidate(xPeerConnection pc, const char *line, void *arg) {
  Side *x = (Side *)arg;
  (void)pc;
  if (line && x->other->pc) xPeerConnectionAddIceCandidate(x->other->pc, line);
}

static void on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  (void)pc;
  ((Side *)arg)->remote = ch;
}

static void on_open(xDataChannel ch, void *arg) {
  (void)ch;
  ((Side *)arg)->opened++;
}

/* Message i is filled with the byte i % 251. */
static void on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data, size_t len,
                       void *arg) {
  Side *x = (Side *)arg;
  uint8_t want = (uint8_t)(x->msgs % 251);
  (void)ch;
  (void)type;
  if (len != MSG || data[0] != want || data[len - 1] != want) x->out_of_order++;
  x->msgs++;
  x->bytes += len;
}

static xPeerConnectionConf conf_for(Side *x) {
  xPeerConnectionConf c;
  memset(&c, 0, sizeof c);
  c.on_state_change = on_state;
  c.on_ice_candidate = on_candidate;
  c.on_datachannel = on_datachannel;
  c.on_dc_open = on_open;
  c.on_dc_message = on_message;
  c.ctx = x;
  return c;
}

typedef int (*Cond)(void *arg);
/* Runs both loops until `cond` holds or `ms` (scaled) pass. */
static void spin_both(unsigned long long ms, Cond cond, void *arg) {
  uint64_t end = xMonoMs() + check_wait_ms(ms);
  while (xMonoMs() < end && !(cond && cond(arg))) {
    xEventWait(A.loop, 1);
    xEventWait(B.loop, 1);
  }
}

static int connected(void *arg) {
  (void)arg;
  return A.state == xPeerConnectionState_Connected && B.state == xPeerConnectionState_Connected &&
         A.opened >= 1 && B.remote != NULL;
}

static int sent_msgs;
static int b_has_all(void *arg) {
  (void)arg;
  return B.msgs >= sent_msgs;
}

static void limit_api(void) {
  CHECK_EQ_INT(xPeerConnectionGetRecvBufferLimit(B.pc), XP2P_RECV_BUFFER_DEFAULT);
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, 1 << 20), xErrno_Ok);
  CHECK_EQ_INT(xPeerConnectionGetRecvBufferLimit(B.pc), 1 << 20);
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, 1), xErrno_Ok);
  CHECK_EQ_INT(xPeerConnectionGetRecvBufferLimit(B.pc), XP2P_RECV_BUFFER_MIN);
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, 0), xErrno_Ok);
  CHECK_EQ_INT(xPeerConnectionGetRecvBufferLimit(B.pc), XP2P_RECV_BUFFER_DEFAULT);
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(NULL, 1 << 20), xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit((xPeerConnection)payload, 1 << 20),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionGetRecvBufferLimit(NULL), 0);
  CHECK_EQ_INT(xPeerConnectionGetRecvBuffered(NULL), 0);
  CHECK_EQ_INT(xPeerConnectionGetRecvBuffered(B.pc), 0);
}

int main(void) {
  xPeerConnectionConf ca, cb;
  xDataChannelConf dc;
  xDataChannel ch;
  char *offer, *answer;
  size_t bound, queued, max_queued = 0, buffered = 0;
  uint64_t end;

  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  A.other = &B;
  B.other = &A;
  A.loop = xEventLoopCreate();
  B.loop = xEventLoopCreate();
  ca = conf_for(&A);
  cb = conf_for(&B);
  A.pc = xPeerConnectionCreate(A.loop, &ca);
  B.pc = xPeerConnectionCreate(B.loop, &cb);
  CHECK(A.pc && B.pc);
  if (!A.pc || !B.pc) return CHECK_DONE();
  limit_api();

  memset(&dc, 0, sizeof dc);
  snprintf(dc.label, sizeof dc.label, "flow");
  dc.ordered = true;
  ch = xPeerConnectionCreateDataChannel(A.pc, &dc);
  CHECK(ch != NULL);
  offer = xPeerConnectionCreateOffer(A.pc);
  CHECK(offer != NULL);
  if (!ch || !offer) return CHECK_DONE();
  xPeerConnectionSetLocalDescription(A.pc, offer);
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(B.pc, offer), xErrno_Ok);
  answer = xPeerConnectionCreateAnswer(B.pc);
  CHECK(answer != NULL);
  if (answer) {
    xPeerConnectionSetLocalDescription(B.pc, answer);
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(A.pc, answer), xErrno_Ok);
  }
  free(offer);
  free(answer);
  spin_both(WAIT_MS, connected, NULL);
  CHECK(connected(NULL));
  if (!connected(NULL)) return CHECK_DONE();

  /* B's loop stops; A sends 12 MiB, more than B's SCTP receive buffer
   * (4 MiB) and its bound plus A's SCTP send buffer (4 MiB) hold, and only
   * A's loop runs for a while. */
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, XP2P_RECV_BUFFER_MIN), xErrno_Ok);
  bound = XP2P_RECV_BUFFER_MIN + 2 * MSG + 64;
  end = xMonoMs() + check_wait_ms(WAIT_MS);
  while (sent_msgs < SEND_MSGS && xMonoMs() < end) {
    memset(payload, sent_msgs % 251, sizeof payload);
    if (xDataChannelSendBinary(ch, payload, sizeof payload) == xErrno_Ok)
      sent_msgs++;
    else
      xEventWait(A.loop, 5);
  }
  CHECK_EQ_INT(sent_msgs, SEND_MSGS);
  /* B's stack takes what its bound allows... */
  end = xMonoMs() + check_wait_ms(WAIT_MS);
  while (xMonoMs() < end && xPeerConnectionGetRecvBuffered(B.pc) < XP2P_RECV_BUFFER_MIN / 2)
    xEventWait(A.loop, 5);
  /* ...and no more: for 2 s (not scaled: nothing must happen) the rest stays
   * with A, unacknowledged. */
  end = xMonoMs() + 2000;
  while (xMonoMs() < end) {
    xEventWait(A.loop, 5);
    queued = xPeerConnectionGetRecvBuffered(B.pc);
    if (queued > max_queued) max_queued = queued;
  }
  buffered = xDataChannelGetBufferedAmount(ch);
  printf("B stalled: A sent %d messages, A buffered %zu, B queued at most %zu (bound %zu)\n",
         sent_msgs, buffered, max_queued, bound);
  CHECK(buffered >= BACKED_UP);
  CHECK_EQ_INT(B.msgs, 0);
  CHECK(max_queued >= XP2P_RECV_BUFFER_MIN / 2);
  CHECK(max_queued <= bound);

  /* B's loop runs again: everything arrives, in order. */
  spin_both(WAIT_MS, b_has_all, NULL);
  CHECK_EQ_INT(B.msgs, sent_msgs);
  CHECK_EQ_INT(B.bytes, (size_t)sent_msgs * MSG);
  CHECK_EQ_INT(B.out_of_order, 0);
  CHECK_EQ_INT(xPeerConnectionGetRecvBuffered(B.pc), 0);

  xPeerConnectionDestroy(A.pc);
  xPeerConnectionDestroy(B.pc);
  /* After Destroy the handle is stale. */
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, 1 << 20), xErrno_InvalidArg);
  xEventLoopDestroy(A.loop);
  xEventLoopDestroy(B.loop);
  return CHECK_DONE();
}
