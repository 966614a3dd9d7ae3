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
#include "pc_pair.h"

#define MSG 65536
#define WAIT_MS 60000
/* A's buffered amount that shows B stopped taking data: beyond what B's
 * SCTP receive buffer (4 MiB) and its bound hold, and A's SCTP send buffer
 * (2 MiB) holds, A keeps the rest. */
#define BACKED_UP (1u << 20)
#define SEND_MSGS 192

static PcSide A, B;
static xEventLoop loop_a, loop_b;
static int out_of_order;
static uint8_t payload[MSG];

/* Message i is filled with the byte i % 251. */
static void check_pattern(PcSide *x, const uint8_t *data, size_t len) {
  uint8_t want = (uint8_t)(x->msgs % 251);
  if (len != MSG || data[0] != want || data[len - 1] != want) out_of_order++;
}

typedef int (*Cond)(void *arg);
/* Runs both loops until `cond` holds or `ms` (scaled) pass. */
static void spin_both(unsigned long long ms, Cond cond, void *arg) {
  uint64_t end = xMonoMs() + check_wait_ms(ms);
  while (xMonoMs() < end && !(cond && cond(arg))) {
    xEventWait(loop_a, 1);
    xEventWait(loop_b, 1);
  }
}

static int connected(void *arg) {
  (void)arg;
  return pc_pair_connected(&A, &B);
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
  xDataChannelConf dc;
  xDataChannel ch;
  size_t bound, queued, max_queued = 0, buffered = 0;
  uint64_t end;

  loop_a = xEventLoopCreate();
  loop_b = xEventLoopCreate();
  if (!pc_pair_create(&A, loop_a, &B, loop_b)) return CHECK_DONE();
  B.on_msg = check_pattern;
  limit_api();

  dc = pc_pair_channel("flow", true);
  ch = xPeerConnectionCreateDataChannel(A.pc, &dc);
  CHECK(ch != NULL);
  if (!ch) return CHECK_DONE();
  pc_pair_negotiate(&A, &B);
  spin_both(WAIT_MS, connected, NULL);
  CHECK(connected(NULL));
  if (!connected(NULL)) return CHECK_DONE();

  /* B's loop stops; A sends 12 MiB, more than B's SCTP receive buffer
   * (4 MiB) and its bound plus A's SCTP send buffer (2 MiB) hold, and only
   * A's loop runs for a while. */
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, XP2P_RECV_BUFFER_MIN), xErrno_Ok);
  bound = XP2P_RECV_BUFFER_MIN + 2 * MSG + 64;
  end = xMonoMs() + check_wait_ms(WAIT_MS);
  while (sent_msgs < SEND_MSGS && xMonoMs() < end) {
    memset(payload, sent_msgs % 251, sizeof payload);
    if (xDataChannelSendBinary(ch, payload, sizeof payload) == xErrno_Ok)
      sent_msgs++;
    else
      xEventWait(loop_a, 5);
  }
  CHECK_EQ_INT(sent_msgs, SEND_MSGS);
  /* B's stack takes what its bound allows... */
  end = xMonoMs() + check_wait_ms(WAIT_MS);
  while (xMonoMs() < end && xPeerConnectionGetRecvBuffered(B.pc) < XP2P_RECV_BUFFER_MIN / 2)
    xEventWait(loop_a, 5);
  /* ...and no more: for 2 s (not scaled: nothing must happen) the rest stays
   * with A, unacknowledged. */
  end = xMonoMs() + 2000;
  while (xMonoMs() < end) {
    xEventWait(loop_a, 5);
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
  CHECK_EQ_INT(out_of_order, 0);
  CHECK_EQ_INT(xPeerConnectionGetRecvBuffered(B.pc), 0);

  xPeerConnectionDestroy(A.pc);
  xPeerConnectionDestroy(B.pc);
  /* After Destroy the handle is stale. */
  CHECK_EQ_INT(xPeerConnectionSetRecvBufferLimit(B.pc, 1 << 20), xErrno_InvalidArg);
  xEventLoopDestroy(loop_a);
  xEventLoopDestroy(loop_b);
  return CHECK_DONE();
}
