/* STUN transactions through the C API: the upstream stun_txn test
 * behaviours, NULL arguments, and retransmission on a real event loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>
#include <xp2p/stun_txn.h>

#include "check.h"

typedef struct {
  int sends;
  uint8_t last[XSTUN_MAX_MSG_SIZE];
  size_t last_len;
  uint8_t first[XSTUN_MAX_MSG_SIZE];
  size_t first_len;
  xErrno result;
  xStunTxnMgr *cancel_on_send; /* CancelAll from inside the send callback */
  int cancel_at;
  uint64_t at[8]; /* xMonoMs() of the first sends */
} SendLog;

typedef struct {
  int calls;
  int with_msg;
  int with_addr;
  xStunMsgType type;
} DoneLog;

static xErrno on_send(const uint8_t *data, size_t len, const struct sockaddr *addr, void *arg) {
  SendLog *s = (SendLog *)arg;
  (void)addr;
  s->sends++;
  if (s->sends <= 8) s->at[s->sends - 1] = xMonoMs();
  memcpy(s->last, data, len);
  s->last_len = len;
  if (s->sends == 1) {
    memcpy(s->first, data, len);
    s->first_len = len;
  }
  if (s->cancel_on_send && s->sends == s->cancel_at) xStunTxnMgrCancelAll(s->cancel_on_send);
  return s->result;
}

static void on_done(const xStunMsg *msg, const struct sockaddr *addr, void *arg) {
  DoneLog *d = (DoneLog *)arg;
  d->calls++;
  if (msg) {
    d->with_msg++;
    d->type = msg->type;
  }
  if (addr) d->with_addr++;
}

static struct sockaddr_in server(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(3478);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  return a;
}

static xErrno send_binding(xStunTxnMgr *mgr, SendLog *s, DoneLog *d) {
  struct sockaddr_in dst = server();
  uint8_t attrs[64];
  xStunAttrWriter w;
  xStunAttrWriterInit(&w, attrs, sizeof attrs);
  xStunAttrWritePriority(&w, 1234);
  return xStunTxnMgrSend(mgr, xStunMsgType_BindingRequest, attrs, (uint16_t)w.pos,
                         (const struct sockaddr *)&dst, on_send, s, on_done, d);
}

/* A success response carrying the transaction id of mgr->txns[i]. */
static xStunMsg response_for(const uint8_t txn_id[XSTUN_TXN_ID_SIZE]) {
  xStunMsg m;
  xStunMsgInit(&m, xStunMsgType_BindingResponse, txn_id);
  return m;
}

static void test_basic(void) {
  xStunTxnMgr mgr;
  SendLog s;
  DoneLog d;
  xStunMsg resp, dec;
  struct sockaddr_in from = server();
  uint8_t other[XSTUN_TXN_ID_SIZE];

  memset(&s, 0, sizeof s);
  memset(&d, 0, sizeof d);
  xStunTxnMgrInit(&mgr, NULL); /* no loop: no retransmission timers */

  /* SendCreatesTransaction */
  CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_Ok);
  CHECK_EQ_INT(mgr.count, 1);
  CHECK_EQ_INT(s.sends, 1);
  CHECK_EQ_INT(s.last_len, 20 + 8);
  CHECK(xStunMsgIsStun(s.last, s.last_len));
  CHECK_EQ_INT(xStunMsgDecode(&dec, s.last, s.last_len), xErrno_Ok);
  CHECK_EQ_INT(dec.type, xStunMsgType_BindingRequest);
  CHECK(memcmp(dec.txn_id, mgr.txns[0]->txn_id, XSTUN_TXN_ID_SIZE) == 0);
  CHECK_EQ_INT(mgr.txns[0]->rto_ms, 500);
  CHECK_EQ_INT(mgr.txns[0]->retransmit_count, 0);
  CHECK(!mgr.txns[0]->cancelled);

  /* UnmatchedResponseDiscarded */
  memcpy(other, mgr.txns[0]->txn_id, sizeof other);
  other[0] ^= 0xFF;
  resp = response_for(other);
  CHECK(!xStunTxnMgrOnResponse(&mgr, &resp, NULL, 0, (const struct sockaddr *)&from));
  CHECK_EQ_INT(d.calls, 0);
  CHECK_EQ_INT(mgr.count, 1);

  /* ResponseMatchesTransaction */
  resp = response_for(mgr.txns[0]->txn_id);
  CHECK(xStunTxnMgrOnResponse(&mgr, &resp, NULL, 0, (const struct sockaddr *)&from));
  CHECK_EQ_INT(d.calls, 1);
  CHECK_EQ_INT(d.with_msg, 1);
  CHECK_EQ_INT(d.with_addr, 1);
  CHECK_EQ_INT(d.type, xStunMsgType_BindingResponse);
  CHECK_EQ_INT(mgr.count, 0);
  /* A second copy of the response matches nothing. */
  CHECK(!xStunTxnMgrOnResponse(&mgr, &resp, NULL, 0, (const struct sockaddr *)&from));
  CHECK_EQ_INT(d.calls, 1);

  /* MultipleTransactionsMultiplex */
  {
    uint8_t ids[3][XSTUN_TXN_ID_SIZE];
    int i;
    for (i = 0; i < 3; i++) CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_Ok);
    CHECK_EQ_INT(mgr.count, 3);
    for (i = 0; i < 3; i++) memcpy(ids[i], mgr.txns[i]->txn_id, XSTUN_TXN_ID_SIZE);
    CHECK(memcmp(ids[0], ids[1], XSTUN_TXN_ID_SIZE) != 0);
    CHECK(memcmp(ids[1], ids[2], XSTUN_TXN_ID_SIZE) != 0);
    resp = response_for(ids[1]);
    CHECK(xStunTxnMgrOnResponse(&mgr, &resp, NULL, 0, (const struct sockaddr *)&from));
    CHECK_EQ_INT(mgr.count, 2);
    /* The last one moved into the hole. */
    CHECK(memcmp(mgr.txns[0]->txn_id, ids[0], XSTUN_TXN_ID_SIZE) == 0);
    CHECK(memcmp(mgr.txns[1]->txn_id, ids[2], XSTUN_TXN_ID_SIZE) == 0);
    CHECK(mgr.txns[2] == NULL);
  }

  /* CancelAllCleansUp (no completion callbacks) */
  CHECK_EQ_INT(d.calls, 2);
  xStunTxnMgrCancelAll(&mgr);
  CHECK_EQ_INT(mgr.count, 0);
  CHECK_EQ_INT(d.calls, 2);

  /* SendFailReturnsError */
  s.result = xErrno_SysError;
  CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_SysError);
  CHECK_EQ_INT(mgr.count, 0);
  s.result = xErrno_Ok;

  /* SendRawWorks */
  {
    uint8_t raw[20];
    const uint8_t id[XSTUN_TXN_ID_SIZE] = {0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6,
                                           0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC};
    struct sockaddr_in dst = server();
    xStunMsg m;
    xStunMsgInit(&m, xStunMsgType_BindingRequest, id);
    CHECK_EQ_INT(xStunMsgEncode(&m, raw, sizeof raw), 20);
    CHECK_EQ_INT(xStunTxnMgrSendRaw(&mgr, raw, sizeof raw, (const struct sockaddr *)&dst, on_send,
                                    &s, on_done, &d),
                 xErrno_Ok);
    CHECK_EQ_INT(mgr.count, 1);
    CHECK(memcmp(mgr.txns[0]->txn_id, id, XSTUN_TXN_ID_SIZE) == 0);
    CHECK_EQ_INT(s.last_len, 20);
    CHECK(memcmp(s.last, raw, 20) == 0);
    CHECK_EQ_INT(xStunTxnMgrSendRaw(&mgr, raw, 19, (const struct sockaddr *)&dst, on_send, &s,
                                    on_done, &d),
                 xErrno_InvalidArg);
    CHECK_EQ_INT(xStunTxnMgrSendRaw(&mgr, raw, XSTUN_MAX_MSG_SIZE + 1,
                                    (const struct sockaddr *)&dst, on_send, &s, on_done, &d),
                 xErrno_InvalidArg);
  }

  /* Limit of 32 pending. */
  xStunTxnMgrCancelAll(&mgr);
  {
    int i;
    for (i = 0; i < XSTUN_TXN_MAX; i++) CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_Ok);
    CHECK_EQ_INT(mgr.count, XSTUN_TXN_MAX);
    CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_NoMemory);
    CHECK_EQ_INT(mgr.count, XSTUN_TXN_MAX);
  }
  xStunTxnMgrDestroy(&mgr);
  CHECK_EQ_INT(mgr.count, 0);
}

static void test_null_args(void) {
  xStunTxnMgr mgr;
  SendLog s;
  struct sockaddr_in dst = server();
  struct sockaddr_storage unspec;
  xStunMsg m;
  const uint8_t id[XSTUN_TXN_ID_SIZE] = {0};

  memset(&s, 0, sizeof s);
  memset(&unspec, 0, sizeof unspec);
  xStunTxnMgrInit(&mgr, NULL);
  CHECK_EQ_INT(xStunTxnMgrSend(NULL, xStunMsgType_BindingRequest, NULL, 0,
                               (const struct sockaddr *)&dst, on_send, &s, NULL, NULL),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xStunTxnMgrSend(&mgr, xStunMsgType_BindingRequest, NULL, 0, NULL, on_send, &s,
                               NULL, NULL),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xStunTxnMgrSend(&mgr, xStunMsgType_BindingRequest, NULL, 0,
                               (const struct sockaddr *)&dst, NULL, &s, NULL, NULL),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xStunTxnMgrSend(&mgr, xStunMsgType_BindingRequest, NULL, 0,
                               (const struct sockaddr *)&unspec, on_send, &s, NULL, NULL),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xStunTxnMgrSendRaw(&mgr, NULL, 20, (const struct sockaddr *)&dst, on_send, &s,
                                  NULL, NULL),
               xErrno_InvalidArg);
  CHECK_EQ_INT(s.sends, 0);
  CHECK_EQ_INT(mgr.count, 0);
  xStunMsgInit(&m, xStunMsgType_BindingResponse, id);
  CHECK(!xStunTxnMgrOnResponse(NULL, &m, NULL, 0, NULL));
  CHECK(!xStunTxnMgrOnResponse(&mgr, NULL, NULL, 0, NULL));
  CHECK(!xStunTxnMgrOnResponse(&mgr, &m, NULL, 0, NULL));
  /* No on_complete is fine too. */
  CHECK_EQ_INT(xStunTxnMgrSend(&mgr, xStunMsgType_BindingRequest, NULL, 0,
                               (const struct sockaddr *)&dst, on_send, &s, NULL, NULL),
               xErrno_Ok);
  xStunMsgInit(&m, xStunMsgType_BindingResponse, mgr.txns[0]->txn_id);
  CHECK(xStunTxnMgrOnResponse(&mgr, &m, NULL, 0, NULL));
  xStunTxnMgrCancelAll(NULL);
  xStunTxnMgrDestroy(NULL);
  xStunTxnMgrInit(NULL, NULL);
  xStunTxnMgrDestroy(&mgr);
}

/* Runs the loop in short slices for about ms milliseconds. */
static void drive(xEventLoop loop, uint64_t ms) {
  uint64_t end = xMonoMs() + ms;
  while (xMonoMs() < end) xEventWait(loop, 10);
}

/* Runs the loop until `n` sends happened (or a generous limit passed). */
static void drive_until_sends(xEventLoop loop, const SendLog *s, int n) {
  uint64_t end = xMonoMs() + check_wait_ms(5000);
  while (s->sends < n && xMonoMs() < end) xEventWait(loop, 10);
}

static void test_retransmission_on_loop(void) {
  xEventLoop loop = xEventLoopCreate();
  xStunTxnMgr mgr;
  SendLog s;
  DoneLog d;
  xStunMsg resp;

  CHECK(loop != NULL);
  if (!loop) return;
  memset(&s, 0, sizeof s);
  memset(&d, 0, sizeof d);
  xStunTxnMgrInit(&mgr, loop);
  CHECK(mgr.loop == loop);

  /* First retransmission 500 ms after the first send (not before; the
   * timer is armed beside the send, hence a few ms of tolerance). */
  CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_Ok);
  CHECK(mgr.txns[0]->timer != NULL);
  CHECK(mgr.txns[0]->loop == loop);
  drive_until_sends(loop, &s, 2);
  CHECK_EQ_INT(s.sends, 2);
  CHECK(s.at[1] - s.at[0] >= 490);
  CHECK_EQ_INT(s.last_len, s.first_len);
  CHECK(memcmp(s.last, s.first, s.first_len) == 0);
  CHECK_EQ_INT(mgr.count, 1);
  CHECK_EQ_INT(mgr.txns[0]->retransmit_count, 1);
  CHECK_EQ_INT(mgr.txns[0]->rto_ms, 1000);
  CHECK(mgr.txns[0]->timer != NULL);
  CHECK_EQ_INT(d.calls, 0);

  /* Cancel: no more sends. */
  xStunTxnMgrCancelAll(&mgr);
  CHECK_EQ_INT(mgr.count, 0);
  drive(loop, 1100);
  CHECK_EQ_INT(s.sends, 2);
  CHECK_EQ_INT(d.calls, 0);

  /* A matched response stops retransmission. */
  CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_Ok);
  resp = response_for(mgr.txns[0]->txn_id);
  CHECK(xStunTxnMgrOnResponse(&mgr, &resp, NULL, 0, NULL));
  CHECK_EQ_INT(d.calls, 1);
  drive(loop, 600);
  CHECK_EQ_INT(s.sends, 3);

  /* CancelAll from inside the retransmission's send callback. */
  s.cancel_on_send = &mgr;
  s.cancel_at = 5;
  CHECK_EQ_INT(send_binding(&mgr, &s, &d), xErrno_Ok); /* send 4 */
  drive_until_sends(loop, &s, 5);                      /* send 5 cancels */
  CHECK_EQ_INT(s.sends, 5);
  CHECK_EQ_INT(mgr.count, 0);
  drive(loop, 1100);
  CHECK_EQ_INT(s.sends, 5);
  CHECK_EQ_INT(d.calls, 1);

  xStunTxnMgrDestroy(&mgr);
  xEventLoopDestroy(loop);
}

int main(void) {
  test_basic();
  test_null_args();
  test_retransmission_on_loop();
  return CHECK_DONE();
}
