/* Statistics (xp2p/stats.h) against known transfers on loopback: two
 * PeerConnections exchange 1000 messages of 1000 bytes one way and 10 of 100
 * bytes the other; two ICE agents 1000 datagrams of 1000 bytes. Every
 * counter is checked against that truth (within protocol overhead), and the
 * versioned-struct contract (a caller's smaller or larger size) is checked.
 * No time bounds: waits are bounded loops that end as soon as they can. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/peer_connection.h>
#include <xp2p/stats.h>

#include "check.h"
#include "pc_pair.h"

#define MSGS 1000
#define MSG_SIZE 1000
#define BACK_MSGS 10
#define BACK_SIZE 100
#define WAIT_MS 120000

typedef int (*Cond)(void *arg);
static void spin(xEventLoop loop, int ms, Cond cond, void *arg) {
  uint64_t end = xMonoMs() + (cond ? check_wait_ms((uint64_t)ms) : (uint64_t)ms);
  while (xMonoMs() < end && !(cond && cond(arg))) xEventWait(loop, 5);
}

static PcSide A, B;
static int connected(void *arg) {
  (void)arg;
  return pc_pair_connected(&A, &B) && B.opened >= 1;
}
static int b_has_all(void *arg) {
  (void)arg;
  return B.msgs >= MSGS;
}
static int a_has_all(void *arg) {
  (void)arg;
  return A.msgs >= BACK_MSGS;
}
static int drained(void *arg) { return xDataChannelGetBufferedAmount((xDataChannel)arg) == 0; }
static int rtt_known(void *arg) {
  xPeerConnectionStats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  return xPeerConnectionGetStats((xPeerConnection)arg, &s) == xErrno_Ok && s.rtt_us >= 0;
}

static int dropped_more(void *arg) {
  xPeerConnectionStats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  return xPeerConnectionGetStats(A.pc, &s) == xErrno_Ok && s.dropped > *(uint64_t *)arg;
}
static int consent_checked(void *arg) {
  xPeerConnectionStats s;
  (void)arg;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  return xPeerConnectionGetStats(A.pc, &s) == xErrno_Ok && s.consent_checks_sent >= 1;
}

static int is_loopback_v4(const struct sockaddr_storage *ss) {
  const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
  return ss->ss_family == AF_INET && ntohl(sin->sin_addr.s_addr) == INADDR_LOOPBACK &&
         sin->sin_port != 0;
}

static xPeerConnectionStats pc_stats(xPeerConnection pc) {
  xPeerConnectionStats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  CHECK_EQ_INT(xPeerConnectionGetStats(pc, &s), xErrno_Ok);
  CHECK_EQ_INT(s.size, sizeof s);
  return s;
}

static xDataChannelStats dc_stats(xDataChannel ch) {
  xDataChannelStats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  CHECK_EQ_INT(xDataChannelGetStats(ch, &s), xErrno_Ok);
  CHECK_EQ_INT(s.size, sizeof s);
  return s;
}

/* The versioned-struct contract on a live PeerConnection and channel. */
static void versioned_structs(xPeerConnection pc, xDataChannel ch) {
  unsigned char buf[sizeof(xPeerConnectionStats) + 64];
  size_t old = offsetof(xPeerConnectionStats, dtls_version), i;
  xPeerConnectionStats *s = (xPeerConnectionStats *)(void *)buf;
  unsigned char cbuf[sizeof(xDataChannelStats) + 64];
  xDataChannelStats *c = (xDataChannelStats *)(void *)cbuf;
  size_t cold = offsetof(xDataChannelStats, messages_received);
  int untouched = 1;

  /* An older caller: only its prefix is written. */
  memset(buf, 0xAB, sizeof buf);
  s->size = old;
  CHECK_EQ_INT(xPeerConnectionGetStats(pc, s), xErrno_Ok);
  CHECK_EQ_INT(s->size, old);
  CHECK_EQ_INT(s->state, xPeerConnectionState_Connected);
  CHECK(s->has_selected_pair);
  CHECK(s->bytes_sent > 0);
  for (i = old; i < sizeof buf; i++) untouched &= buf[i] == 0xAB;
  CHECK(untouched);

  /* A newer caller (larger struct): what we have is written, the rest kept. */
  memset(buf, 0xCD, sizeof buf);
  s->size = sizeof buf;
  CHECK_EQ_INT(xPeerConnectionGetStats(pc, s), xErrno_Ok);
  CHECK_EQ_INT(s->size, sizeof(xPeerConnectionStats));
  CHECK(strcmp(s->dtls_version, "DTLSv1.2") == 0);
  untouched = 1;
  for (i = sizeof(xPeerConnectionStats); i < sizeof buf; i++) untouched &= buf[i] == 0xCD;
  CHECK(untouched);

  /* Too small to hold even `size`, NULL, stale: InvalidArg. */
  s->size = 4;
  CHECK_EQ_INT(xPeerConnectionGetStats(pc, s), xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionGetStats(pc, NULL), xErrno_InvalidArg);
  s->size = sizeof(xPeerConnectionStats);
  CHECK_EQ_INT(xPeerConnectionGetStats(NULL, s), xErrno_InvalidArg);
  CHECK_EQ_INT(xPeerConnectionGetStats((xPeerConnection)buf, s), xErrno_InvalidArg);

  memset(cbuf, 0xAB, sizeof cbuf);
  c->size = cold;
  CHECK_EQ_INT(xDataChannelGetStats(ch, c), xErrno_Ok);
  CHECK_EQ_INT(c->size, cold);
  CHECK_EQ_INT(c->messages_sent, MSGS);
  untouched = 1;
  for (i = cold; i < sizeof cbuf; i++) untouched &= cbuf[i] == 0xAB;
  CHECK(untouched);
  c->size = 0;
  CHECK_EQ_INT(xDataChannelGetStats(ch, c), xErrno_InvalidArg);
  c->size = sizeof(xDataChannelStats);
  CHECK_EQ_INT(xDataChannelGetStats(NULL, c), xErrno_InvalidArg);
  CHECK_EQ_INT(xDataChannelGetStats(ch, NULL), xErrno_InvalidArg);
}

static void peer_connection_transfer(xEventLoop loop) {
  static uint8_t payload[MSG_SIZE];
  xDataChannelConf dc;
  xDataChannel ch;
  xPeerConnectionStats sa, sb, s0;
  xDataChannelStats ta, tb;
  xIceStats is;
  int sent = 0, i;
  uint64_t payload_bytes = (uint64_t)MSGS * MSG_SIZE;

  if (!pc_pair_create(&A, loop, &B, loop)) return;

  /* Before anything happened. */
  s0 = pc_stats(A.pc);
  CHECK_EQ_INT(s0.state, xPeerConnectionState_New);
  CHECK(!s0.has_selected_pair);
  CHECK_EQ_INT(s0.local_type, -1);
  CHECK_EQ_INT(s0.bytes_sent, 0);
  CHECK_EQ_INT(s0.datagrams_received, 0);
  CHECK_EQ_INT(s0.rtt_us, -1);
  CHECK_EQ_INT(s0.dtls_version[0], 0);
  CHECK_EQ_INT(s0.sctp_cwnd, 0);
  CHECK_EQ_INT(s0.open_channels, 0);

  dc = pc_pair_channel("stats", true);
  ch = xPeerConnectionCreateDataChannel(A.pc, &dc);
  CHECK(ch != NULL);
  ta = dc_stats(ch);
  CHECK_EQ_INT(ta.state, xDataChannelState_Connecting);
  CHECK_EQ_INT(ta.messages_sent, 0);

  if (!pc_pair_negotiate(&A, &B)) return;
  spin(loop, WAIT_MS, connected, NULL);
  CHECK(connected(NULL));
  if (!connected(NULL)) return;

  for (i = 0; i < MSG_SIZE; i++) payload[i] = (uint8_t)i;
  {
    uint64_t end = xMonoMs() + WAIT_MS;
    while (sent < MSGS && xMonoMs() < end) {
      if (xDataChannelSendBinary(ch, payload, sizeof payload) == xErrno_Ok)
        sent++;
      else
        xEventWait(loop, 5);
      if (sent % 100 == 99) xEventWait(loop, 0);
    }
  }
  CHECK_EQ_INT(sent, MSGS);
  for (i = 0; i < BACK_MSGS; i++)
    CHECK_EQ_INT(xDataChannelSendBinary(B.remote, payload, BACK_SIZE), xErrno_Ok);
  spin(loop, WAIT_MS, b_has_all, NULL);
  spin(loop, WAIT_MS, a_has_all, NULL);
  spin(loop, WAIT_MS, drained, ch);
  spin(loop, WAIT_MS, rtt_known, A.pc);
  CHECK_EQ_INT(B.msgs, MSGS);
  CHECK_EQ_INT(B.bytes, payload_bytes);
  CHECK_EQ_INT(A.msgs, BACK_MSGS);

  /* Channels: exactly the application's messages and bytes. */
  ta = dc_stats(ch);
  tb = dc_stats(B.remote);
  CHECK_EQ_INT(ta.state, xDataChannelState_Open);
  CHECK_EQ_INT(tb.state, xDataChannelState_Open);
  CHECK(ta.stream_id >= 0);
  CHECK_EQ_INT(ta.stream_id, tb.stream_id);
  CHECK_EQ_INT(ta.messages_sent, MSGS);
  CHECK_EQ_INT(ta.bytes_sent, payload_bytes);
  CHECK_EQ_INT(ta.messages_received, BACK_MSGS);
  CHECK_EQ_INT(ta.bytes_received, BACK_MSGS * BACK_SIZE);
  CHECK_EQ_INT(tb.messages_sent, BACK_MSGS);
  CHECK_EQ_INT(tb.bytes_sent, BACK_MSGS * BACK_SIZE);
  CHECK_EQ_INT(tb.messages_received, MSGS);
  CHECK_EQ_INT(tb.bytes_received, payload_bytes);
  CHECK_EQ_INT(ta.buffered_amount, 0);
  CHECK_EQ_INT(ta.buffered_amount, xDataChannelGetBufferedAmount(ch));

  /* PeerConnections: B is read first, so what B received was sent by A
   * before A is read. */
  sb = pc_stats(B.pc);
  sa = pc_stats(A.pc);
  CHECK_EQ_INT(sa.state, xPeerConnectionState_Connected);
  CHECK_EQ_INT(sa.ice_state, xIceState_Connected);
  CHECK(sa.has_selected_pair && sb.has_selected_pair);
  CHECK(!sa.relayed && !sb.relayed);
  CHECK_EQ_INT(sa.relay_transport, XP2P_RELAY_NONE);
  CHECK_EQ_INT(sa.relay_server.ss_family, AF_UNSPEC);
  CHECK_EQ_INT(sa.local_type, xIceCandidateType_Host);
  CHECK(sa.remote_type == xIceCandidateType_Host || sa.remote_type == xIceCandidateType_Prflx);
  CHECK_EQ_INT(sa.protocol, 0);
  CHECK(is_loopback_v4(&sa.local_address));
  CHECK(is_loopback_v4(&sa.remote_address));
  /* A's local address is B's remote one. */
  CHECK(memcmp(&sa.local_address, &sb.remote_address, sizeof(struct sockaddr_in)) == 0);
  CHECK(sa.rtt_us >= 0);
  /* The payload plus per-packet DTLS and SCTP overhead (under 100 bytes a
   * message), the handshakes and STUN, and what SCTP retransmitted. */
  CHECK(sa.bytes_sent > payload_bytes);
  CHECK(sa.bytes_sent < payload_bytes + 100 * MSGS + 64 * 1024 +
                            sa.sctp_retransmitted_chunks * (MSG_SIZE + 100));
  CHECK(sa.datagrams_sent >= (uint64_t)MSGS * MSG_SIZE / 65536);
  CHECK(sb.bytes_received > payload_bytes);
  CHECK(sb.bytes_received <= sa.bytes_sent);
  CHECK(sb.datagrams_received <= sa.datagrams_sent);
  CHECK(sb.datagrams_received > 0 && sa.datagrams_received > 0);
  /* B sent SACKs and its 10 messages: far fewer bytes than A. */
  CHECK(sb.bytes_sent > BACK_MSGS * BACK_SIZE);
  CHECK(sb.bytes_sent < sa.bytes_sent);
  CHECK(sa.checks_sent >= 1);
  CHECK(strcmp(sa.dtls_version, "DTLSv1.2") == 0);
  CHECK(strcmp(sa.dtls_cipher, sb.dtls_cipher) == 0);
  CHECK(strstr(sa.dtls_cipher, "ECDHE") != NULL);
  CHECK(sa.sctp_cwnd > 0);
  CHECK(sa.sctp_peer_rwnd > 0);
  CHECK(sa.sctp_rto_ms > 0);
  CHECK(sa.sctp_mtu >= 1000 && sa.sctp_mtu <= 65535);
  CHECK(sa.path_mtu >= 1200);
  CHECK(sa.sctp_mtu < sa.path_mtu);
  CHECK_EQ_INT(sa.open_channels, 1);
  CHECK_EQ_INT(sb.open_channels, 1);
  CHECK_EQ_INT(sa.relay_failures, 0);
  printf("A: %llu datagrams / %llu bytes sent for %llu payload bytes (%.1f %% overhead), "
         "B: %llu / %llu received; rtt %lld us, srtt %u ms, cwnd %u, rwnd %u, sctp mtu %u, "
         "path mtu %u, %llu chunks retransmitted, %s %s\n",
         (unsigned long long)sa.datagrams_sent, (unsigned long long)sa.bytes_sent,
         (unsigned long long)payload_bytes,
         100.0 * (double)(sa.bytes_sent - payload_bytes) / (double)payload_bytes,
         (unsigned long long)sb.datagrams_received, (unsigned long long)sb.bytes_received,
         (long long)sa.rtt_us, sa.sctp_srtt_ms, sa.sctp_cwnd, sa.sctp_peer_rwnd, sa.sctp_mtu,
         sa.path_mtu, (unsigned long long)sa.sctp_retransmitted_chunks, sa.dtls_version,
         sa.dtls_cipher);

  /* A datagram from a stranger is dropped and counted; consent checks run
   * on the selected pair (about every 5 s) and are counted. */
  {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    static const uint8_t fake_dtls[] = {23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    uint64_t before = sa.dropped;
    CHECK(fd >= 0);
    if (fd >= 0) {
      CHECK(sendto(fd, fake_dtls, sizeof fake_dtls, 0, (const struct sockaddr *)&sa.local_address,
                   sizeof(struct sockaddr_in)) == (ssize_t)sizeof fake_dtls);
      spin(loop, WAIT_MS, dropped_more, &before);
      close(fd);
    }
    spin(loop, WAIT_MS, consent_checked, NULL);
    sa = pc_stats(A.pc);
    CHECK_EQ_INT(sa.dropped, before + 1);
    CHECK(sa.consent_checks_sent >= 1);
    CHECK(sa.rtt_us >= 0);
    CHECK_EQ_INT(sa.state, xPeerConnectionState_Connected);
  }

  /* The PeerConnection's agent view reports the same ICE part. */
  memset(&is, 0, sizeof is);
  is.size = sizeof is;
  CHECK_EQ_INT(xIceAgentGetStats(xPeerConnectionGetIceAgent(A.pc), &is), xErrno_Ok);
  CHECK_EQ_INT(is.size, sizeof is);
  CHECK_EQ_INT(is.state, xIceState_Connected);
  CHECK(is.has_selected_pair);
  CHECK(is.bytes_sent >= sa.bytes_sent);
  CHECK(memcmp(&is.local_address, &sa.local_address, sizeof(struct sockaddr_in)) == 0);

  versioned_structs(A.pc, ch);

  xPeerConnectionDestroy(A.pc);
  xPeerConnectionDestroy(B.pc);
  memset(&s0, 0, sizeof s0);
  s0.size = sizeof s0;
  CHECK_EQ_INT(xPeerConnectionGetStats(A.pc, &s0), xErrno_InvalidArg);
  memset(&ta, 0, sizeof ta);
  ta.size = sizeof ta;
  CHECK_EQ_INT(xDataChannelGetStats(ch, &ta), xErrno_InvalidArg);
  spin(loop, 100, NULL, NULL);
}

/* Two ICE agents: 1000 datagrams of 1000 bytes from A to B. */
typedef struct Agent {
  xIceAgent self;
  struct Agent *other;
  xIceState state;
  int received;
  uint64_t bytes;
} Agent;

static Agent P[2];
static void ice_on_state(xIceAgent agent, xIceState state, void *arg) {
  (void)agent;
  ((Agent *)arg)->state = state;
}
static void ice_on_candidate(xIceAgent agent, const char *line, void *arg) {
  Agent *p = (Agent *)arg;
  (void)agent;
  if (line && p->other->self) xIceAgentAddRemoteCandidate(p->other->self, line);
}
static void ice_on_data(xIceAgent agent, const uint8_t *data, size_t len, void *arg) {
  Agent *p = (Agent *)arg;
  (void)agent;
  (void)data;
  p->received++;
  p->bytes += len;
}
static int agents_connected(void *arg) {
  (void)arg;
  return P[0].state == xIceState_Connected && P[1].state == xIceState_Connected;
}
static int agent_b_has_all(void *arg) {
  (void)arg;
  return P[1].received >= MSGS;
}

static xIceStats ice_stats(xIceAgent a) {
  xIceStats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  CHECK_EQ_INT(xIceAgentGetStats(a, &s), xErrno_Ok);
  return s;
}

static void ice_agent_transfer(xEventLoop loop) {
  static uint8_t payload[MSG_SIZE];
  xIceConf c[2];
  char *offer, *answer;
  xIceStats s0, sa, sb;
  unsigned char buf[sizeof(xIceStats) + 16];
  xIceStats *old = (xIceStats *)(void *)buf;
  size_t old_size = offsetof(xIceStats, datagrams_sent), i;
  int sent = 0, k, untouched = 1;
  uint64_t payload_bytes = (uint64_t)MSGS * MSG_SIZE;

  memset(P, 0, sizeof P);
  P[0].other = &P[1];
  P[1].other = &P[0];
  for (k = 0; k < 2; k++) {
    memset(&c[k], 0, sizeof c[k]);
    c[k].role = k == 0 ? xIceRole_Controlling : xIceRole_Controlled;
    c[k].on_state_change = ice_on_state;
    c[k].on_candidate = ice_on_candidate;
    c[k].on_data = ice_on_data;
    c[k].ctx = &P[k];
    P[k].self = xIceAgentCreate(loop, &c[k]);
  }
  CHECK(P[0].self && P[1].self);
  if (!P[0].self || !P[1].self) return;
  s0 = ice_stats(P[0].self);
  CHECK_EQ_INT(s0.state, xIceState_New);
  CHECK(!s0.has_selected_pair);
  CHECK_EQ_INT(s0.datagrams_sent + s0.datagrams_received, 0);
  CHECK_EQ_INT(s0.rtt_us, -1);

  CHECK_EQ_INT(xIceAgentGather(P[0].self), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentGather(P[1].self), xErrno_Ok);
  offer = xIceAgentCreateOffer(P[0].self);
  answer = xIceAgentCreateAnswer(P[1].self);
  CHECK(offer && answer);
  if (offer && answer) {
    CHECK_EQ_INT(xIceAgentSetRemoteDescription(P[1].self, offer), xErrno_Ok);
    CHECK_EQ_INT(xIceAgentSetRemoteDescription(P[0].self, answer), xErrno_Ok);
  }
  free(offer);
  free(answer);
  spin(loop, WAIT_MS, agents_connected, NULL);
  CHECK(agents_connected(NULL));
  if (!agents_connected(NULL)) return;

  /* Application datagrams start with a byte outside STUN/DTLS ranges. */
  memset(payload, 0xC8, sizeof payload);
  {
    uint64_t end = xMonoMs() + WAIT_MS;
    while (sent < MSGS && xMonoMs() < end) {
      if (xIceAgentSend(P[0].self, payload, sizeof payload) == xErrno_Ok)
        sent++;
      else
        xEventWait(loop, 5);
      if (sent % 50 == 49) xEventWait(loop, 0);
    }
  }
  CHECK_EQ_INT(sent, MSGS);
  spin(loop, WAIT_MS, agent_b_has_all, NULL);
  sb = ice_stats(P[1].self);
  sa = ice_stats(P[0].self);
  CHECK_EQ_INT(P[1].received, MSGS);
  CHECK_EQ_INT(P[1].bytes, payload_bytes);
  CHECK(sa.has_selected_pair && !sa.relayed);
  CHECK_EQ_INT(sa.local_type, xIceCandidateType_Host);
  CHECK(is_loopback_v4(&sa.local_address) && is_loopback_v4(&sa.remote_address));
  /* 1000 datagrams plus STUN checks and consent: a few dozen at most. */
  CHECK(sa.datagrams_sent >= MSGS);
  CHECK(sa.datagrams_sent < MSGS + 200);
  CHECK(sa.bytes_sent >= payload_bytes);
  CHECK(sa.bytes_sent < payload_bytes + 200 * 200);
  CHECK(sb.datagrams_received >= MSGS);
  CHECK(sb.datagrams_received <= sa.datagrams_sent);
  CHECK(sb.bytes_received >= payload_bytes);
  CHECK(sb.bytes_received <= sa.bytes_sent);
  CHECK(sb.bytes_sent < 200 * 200);
  CHECK(sa.checks_sent >= 1);
  printf("ICE: A sent %llu datagrams / %llu bytes for %d x %d, B received %llu / %llu, "
         "rtt %lld us\n",
         (unsigned long long)sa.datagrams_sent, (unsigned long long)sa.bytes_sent, MSGS, MSG_SIZE,
         (unsigned long long)sb.datagrams_received, (unsigned long long)sb.bytes_received,
         (long long)sa.rtt_us);

  /* An older, smaller struct. */
  memset(buf, 0xEE, sizeof buf);
  old->size = old_size;
  CHECK_EQ_INT(xIceAgentGetStats(P[0].self, old), xErrno_Ok);
  CHECK_EQ_INT(old->size, old_size);
  CHECK_EQ_INT(old->state, xIceState_Connected);
  for (i = old_size; i < sizeof buf; i++) untouched &= buf[i] == 0xEE;
  CHECK(untouched);
  old->size = 1;
  CHECK_EQ_INT(xIceAgentGetStats(P[0].self, old), xErrno_InvalidArg);
  old->size = sizeof(xIceStats);
  CHECK_EQ_INT(xIceAgentGetStats(NULL, old), xErrno_InvalidArg);

  xIceAgentDestroy(P[0].self);
  xIceAgentDestroy(P[1].self);
  CHECK_EQ_INT(xIceAgentGetStats(P[0].self, old), xErrno_InvalidArg);
  spin(loop, 100, NULL, NULL);
}

int main(void) {
  xEventLoop loop = xEventLoopCreate();
  peer_connection_transfer(loop);
  ice_agent_transfer(loop);
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}
