/* The ICE agent through the real loop: two agents connect on loopback and
 * exchange datagrams; callbacks run on the loop thread; bad handles, bad
 * input and hostile packets are handled. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>

#include "check.h"

#define DATAGRAMS 1000

typedef struct Dtls {
  int count;
  int port_ok;
  uint8_t first;
} Dtls;

static void on_dtls(const uint8_t *data, size_t len, const struct sockaddr *from, void *arg) {
  Dtls *d = (Dtls *)arg;
  d->count++;
  d->first = len ? data[0] : 0;
  d->port_ok = from && from->sa_family == AF_INET &&
               ((const struct sockaddr_in *)from)->sin_port != 0;
}

typedef struct Peer {
  const char *name;
  xIceAgent self;
  struct Peer *other;
  xIceState state;
  int closed;
  int gathering_done;
  int candidates;
  int received;
  int out_of_order;
  int wrong_thread;
} Peer;

static pthread_t loop_thread;

static void note_thread(Peer *p) {
  if (!pthread_equal(pthread_self(), loop_thread)) p->wrong_thread++;
}

static void on_state(xIceAgent agent, xIceState state, void *arg) {
  Peer *p = (Peer *)arg;
  (void)agent;
  note_thread(p);
  p->state = state;
  if (state == xIceState_Closed) p->closed++;
}

static void on_candidate(xIceAgent agent, const char *line, void *arg) {
  Peer *p = (Peer *)arg;
  (void)agent;
  note_thread(p);
  if (!line) {
    p->gathering_done = 1;
    return;
  }
  p->candidates++;
  if (p->other && p->other->self) xIceAgentAddRemoteCandidate(p->other->self, line);
}

static void on_data(xIceAgent agent, const uint8_t *data, size_t len, void *arg) {
  Peer *p = (Peer *)arg;
  (void)agent;
  note_thread(p);
  if (len == 8 && data[0] == 200) {
    int seq = (int)xReadU32BE(data + 4);
    if (seq != p->received) p->out_of_order++;
    p->received++;
  }
}

static xIceConf conf_for(Peer *p, xIceRole role) {
  xIceConf c;
  memset(&c, 0, sizeof c);
  c.role = role;
  c.on_state_change = on_state;
  c.on_candidate = on_candidate;
  c.on_data = on_data;
  c.ctx = p;
  return c;
}

static void spin(xEventLoop loop, int ms, int (*done)(void *), void *arg) {
  uint64_t end = xMonoMs() + (done ? check_wait_ms((uint64_t)ms) : (uint64_t)ms);
  while (xMonoMs() < end && !(done && done(arg))) xEventWait(loop, 10);
}

static int both_connected(void *arg) {
  Peer *p = (Peer *)arg;
  return p[0].state == xIceState_Connected && p[1].state == xIceState_Connected;
}

static int both_received(void *arg) {
  Peer *p = (Peer *)arg;
  return p[0].received >= DATAGRAMS && p[1].received >= DATAGRAMS;
}

static int dtls_seen(void *arg) { return ((Dtls *)arg)->count > 0; }


static void null_and_stale_handles(xEventLoop loop) {
  Peer p;
  int n = 7;
  xIceConf c;
  xIceAgent a;
  memset(&p, 0, sizeof p);
  c = conf_for(&p, xIceRole_Controlling);
  CHECK(xIceAgentCreate(NULL, &c) == NULL);
  CHECK(xIceAgentCreate(loop, NULL) == NULL);
  xIceAgentDestroy(NULL);
  CHECK(xIceAgentGather(NULL) != xErrno_Ok);
  CHECK(xIceAgentCreateOffer(NULL) == NULL);
  CHECK(xIceAgentCreateAnswer(NULL) == NULL);
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(NULL, "v=0"), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(NULL, "candidate:1 1 UDP 1 127.0.0.1 9 typ host"),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xIceAgentSend(NULL, (const uint8_t *)"x", 1), xErrno_InvalidArg);
  CHECK(xIceAgentGetUfrag(NULL) == NULL);
  CHECK(xIceAgentGetPwd(NULL) == NULL);
  CHECK(xIceAgentGetLoop(NULL) == NULL);
  CHECK(xIceAgentGetLocalCandidates(NULL, &n) == NULL);
  CHECK_EQ_INT(n, 0);
  xIceAgentSetDtlsInputCallback(NULL, NULL, NULL);
  xIceAgentSetRole(NULL, xIceRole_Controlled);

  a = xIceAgentCreate(loop, &c);
  CHECK(a != NULL);
  CHECK(xIceAgentGetLoop(a) == loop);
  CHECK_EQ_INT(strlen(xIceAgentGetUfrag(a)), 8);
  CHECK_EQ_INT(strlen(xIceAgentGetPwd(a)), 24);
  /* Wrong input on a live agent. */
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(a, "garbage"), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(a, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(a, "garbage"), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(a, NULL), xErrno_InvalidArg);
  CHECK(xIceAgentSend(a, (const uint8_t *)"x", 1) != xErrno_Ok);
  CHECK_EQ_INT(xIceAgentSend(a, NULL, 1), xErrno_InvalidArg);
  /* A handle of another kind is foreign. */
  CHECK_EQ_INT(xIceAgentGather((xIceAgent)loop), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceAgentGather(a), xErrno_Ok);
  CHECK(xIceAgentGather(a) != xErrno_Ok);
  xIceAgentDestroy(a);
  /* Closed was reported inside Destroy, as upstream. */
  CHECK_EQ_INT(p.closed, 1);
  /* Destroyed: the handle is stale, every call is rejected. */
  CHECK_EQ_INT(xIceAgentGather(a), xErrno_InvalidArg);
  CHECK(xIceAgentGetUfrag(a) == NULL);
  CHECK(xIceAgentCreateOffer(a) == NULL);
  xIceAgentDestroy(a);
  /* No callback runs for a destroyed agent afterwards: its ctx may be freed
   * at once. */
  spin(loop, 300, NULL, NULL);
  CHECK_EQ_INT(p.closed, 1);
  CHECK_EQ_INT(p.wrong_thread, 0);
}

/* Sends hostile datagrams at an agent's host candidate. */
static void attack(const xIceCandidate *target) {
  uint8_t buf[256];
  uint8_t txn[XSTUN_TXN_ID_SIZE] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  xStunMsg m;
  xStunAttrWriter w;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  socklen_t alen = sizeof(struct sockaddr_in);
  int i;
  /* Garbage of every first-byte class. */
  for (i = 0; i < 256; i++) {
    memset(buf, i, sizeof buf);
    sendto(fd, buf, 1 + (size_t)i % 100, 0, (const struct sockaddr *)&target->addr, alen);
  }
  /* A well-formed Binding request without credentials. */
  xStunMsgInit(&m, xStunMsgType_BindingRequest, txn);
  xStunMsgEncode(&m, buf, sizeof buf);
  xStunAttrWriterInit(&w, buf + XSTUN_HEADER_SIZE, sizeof buf - XSTUN_HEADER_SIZE);
  xStunAttrWriteUsername(&w, "nobody", "nobody");
  xStunAttrWriteMessageIntegrity(&w, buf, (const uint8_t *)"not-the-password-at-all", 23);
  xStunAttrWriteFingerprint(&w, buf);
  xWriteU16BE(buf + 2, (uint16_t)w.pos);
  sendto(fd, buf, XSTUN_HEADER_SIZE + w.pos, 0, (const struct sockaddr *)&target->addr, alen);
  /* No answer may come back. */
  {
    struct timeval tv = {0, 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(recv(fd, buf, sizeof buf, 0) < 0);
  }
  close(fd);
}

static void connect_and_exchange(xEventLoop loop) {
  static Peer p[2];
  xIceConf ca, cb;
  char *offer, *answer;
  const xIceCandidate *cands;
  int n = 0, i;
  uint8_t msg[8];

  memset(p, 0, sizeof p);
  p[0].name = "A";
  p[1].name = "B";
  p[0].other = &p[1];
  p[1].other = &p[0];
  ca = conf_for(&p[0], xIceRole_Controlling);
  cb = conf_for(&p[1], xIceRole_Controlled);
  p[0].self = xIceAgentCreate(loop, &ca);
  p[1].self = xIceAgentCreate(loop, &cb);
  CHECK(p[0].self && p[1].self);
  CHECK_EQ_INT(xIceAgentGather(p[0].self), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentGather(p[1].self), xErrno_Ok);
  cands = xIceAgentGetLocalCandidates(p[0].self, &n);
  CHECK(cands != NULL && n >= 1);
  if (n >= 1) CHECK_EQ_INT(cands[0].type, xIceCandidateType_Host);

  offer = xIceAgentCreateOffer(p[0].self);
  answer = xIceAgentCreateAnswer(p[1].self);
  CHECK(offer && strstr(offer, "a=ice-ufrag:") && strstr(offer, "a=candidate:"));
  CHECK(answer && strstr(answer, "a=ice-options:trickle"));
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(p[1].self, offer), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(p[0].self, answer), xErrno_Ok);
  free(offer);
  free(answer);

  /* Hostile traffic while checks run changes nothing. */
  if (n >= 1) attack(&cands[0]);

  spin(loop, 15000, both_connected, p);
  CHECK_EQ_INT(p[0].state, xIceState_Connected);
  CHECK_EQ_INT(p[1].state, xIceState_Connected);
  CHECK(p[0].gathering_done && p[1].gathering_done);
  CHECK(p[0].candidates >= 1 && p[1].candidates >= 1);

  for (i = 0; i < DATAGRAMS; i++) {
    msg[0] = 200;
    msg[1] = msg[2] = msg[3] = 0;
    xWriteU32BE(msg + 4, (uint32_t)i);
    CHECK_EQ_INT(xIceAgentSend(p[0].self, msg, sizeof msg), xErrno_Ok);
    CHECK_EQ_INT(xIceAgentSend(p[1].self, msg, sizeof msg), xErrno_Ok);
    if (i % 100 == 99) xEventWait(loop, 0);
  }
  spin(loop, 10000, both_received, p);
  CHECK_EQ_INT(p[0].received, DATAGRAMS);
  CHECK_EQ_INT(p[1].received, DATAGRAMS);
  CHECK_EQ_INT(p[0].out_of_order + p[1].out_of_order, 0);
  CHECK_EQ_INT(p[0].wrong_thread + p[1].wrong_thread, 0);

  /* DTLS-range datagrams (first byte 20-63) go to the DTLS input hook, not
   * to on_data. */
  {
    static Dtls dtls;
    uint8_t record[13] = {22, 0xfe, 0xfd};
    int before = p[1].received;
    xIceAgentSetDtlsInputCallback(p[1].self, on_dtls, &dtls);
    CHECK_EQ_INT(xIceAgentSend(p[0].self, record, sizeof record), xErrno_Ok);
    spin(loop, 3000, dtls_seen, &dtls);
    CHECK_EQ_INT(dtls.count, 1);
    CHECK_EQ_INT(dtls.first, 22);
    CHECK(dtls.port_ok);
    CHECK_EQ_INT(p[1].received, before);
  }

  {
    int before0 = p[0].received, before1 = p[1].received;
    xIceAgentSend(p[0].self, msg, sizeof msg);
    xIceAgentDestroy(p[0].self);
    xIceAgentDestroy(p[1].self);
    /* Closed inside each Destroy; nothing is delivered afterwards. */
    CHECK_EQ_INT(p[0].closed + p[1].closed, 2);
    spin(loop, 300, NULL, NULL);
    CHECK_EQ_INT(p[0].closed + p[1].closed, 2);
    CHECK_EQ_INT(p[0].received, before0);
    CHECK_EQ_INT(p[1].received, before1);
  }
}

/* Destroying an agent from inside its own callback. */
static Peer victim;
static void destroy_on_candidate(xIceAgent agent, const char *line, void *arg) {
  (void)line;
  (void)arg;
  victim.candidates++;
  xIceAgentDestroy(agent);
}

static void destroy_inside_callback(xEventLoop loop) {
  xIceConf c;
  xIceAgent a;
  memset(&victim, 0, sizeof victim);
  c = conf_for(&victim, xIceRole_Controlling);
  c.on_candidate = destroy_on_candidate;
  a = xIceAgentCreate(loop, &c);
  CHECK_EQ_INT(xIceAgentGather(a), xErrno_Ok);
  /* Destroyed inside its first candidate callback, inside Gather: Closed was
   * reported by that Destroy, and no further callback ran, then or later. */
  CHECK_EQ_INT(victim.candidates, 1);
  CHECK_EQ_INT(victim.closed, 1);
  spin(loop, 500, NULL, NULL);
  CHECK_EQ_INT(victim.candidates, 1);
  CHECK_EQ_INT(victim.closed, 1);
  CHECK_EQ_INT(xIceAgentGather(a), xErrno_InvalidArg);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  loop_thread = pthread_self();
  null_and_stale_handles(loop);
  destroy_inside_callback(loop);
  connect_and_exchange(loop);
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}
