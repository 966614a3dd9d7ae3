/* The xTurnClient C API against a real TURN server: coturn, started here on
 * loopback with long-term credentials. A client allocates through the real
 * event loop and a UDP socket polled on it, installs a permission and a
 * channel for a second UDP socket acting as the peer, and data crosses the
 * relay both ways as Send/Data indications and as ChannelData. A wrong
 * password ends in Failed with xErrno_InvalidArg, a server that never
 * answers in Failed with xErrno_Timeout (39.5 s of retransmissions; that
 * client runs alongside the others), and NULL arguments get the neutral
 * results. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/stun_msg.h>
#include <xp2p/turn_channel.h>
#include <xp2p/turn_client.h>

#include "check.h"
#include "coturn.h"

#define REALM "xp2p.test"

/* 1 while the test is inside Allocate (no callback may run then), 2 inside
 * OnMessage / OnChannelData (where the callbacks they cause run). */
static int in_api = 0;
static int callback_inside_api = 0;
/* on_allocated / on_data calls that did not run inside OnMessage or
 * OnChannelData (upstream ran them there, and so do we). */
static int not_inside_on_message = 0;

typedef struct {
  xTurnClient tc;
  int fd;
  xEventSource src;
  int allocated, failed;
  xErrno err;
  struct sockaddr_storage relayed, mapped;
  int have_mapped;
  uint32_t lifetime;
  int sends;
  uint8_t last_sent_first_byte;
  int data_count, channel_data_in;
  int fail_sends;        /* send_fn reports failure */
  int destroy_in_failed; /* xTurnClientDestroy from inside on_failed */
  int raw_null; /* pass NULL raw_buf: the library rebuilds the bytes from the xStunMsg */
  char data[256];
  size_t data_len;
  struct sockaddr_storage data_from;
  uint64_t failed_at;
} Client;

typedef struct {
  int fd;
  int count;
  char data[256];
  size_t len;
  struct sockaddr_storage from;
} Peer;

static int udp_socket(struct sockaddr_in *bound) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  getsockname(fd, (struct sockaddr *)&sa, &len);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (bound) *bound = sa;
  return fd;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_in *b) {
  const struct sockaddr_in *x = (const struct sockaddr_in *)a;
  return x->sin_family == AF_INET && x->sin_port == b->sin_port &&
         x->sin_addr.s_addr == b->sin_addr.s_addr;
}

static xErrno send_fn(const uint8_t *data, size_t len, const struct sockaddr *addr, void *arg) {
  Client *c = (Client *)arg;
  socklen_t alen = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  c->sends++;
  if (len > 0) c->last_sent_first_byte = data[0];
  if (c->fail_sends) return xErrno_SysError;
  return sendto(c->fd, data, len, 0, addr, alen) == (ssize_t)len ? xErrno_Ok : xErrno_SysError;
}

static void on_allocated(const struct sockaddr *relayed, const struct sockaddr *mapped,
                         uint32_t lifetime, void *arg) {
  Client *c = (Client *)arg;
  if (in_api == 1) callback_inside_api++;
  if (in_api != 2) not_inside_on_message++;
  c->allocated++;
  memcpy(&c->relayed, relayed, sizeof(struct sockaddr_in));
  if (mapped) {
    memcpy(&c->mapped, mapped, sizeof(struct sockaddr_in));
    c->have_mapped = 1;
  }
  c->lifetime = lifetime;
}

static void on_failed(xErrno err, void *arg) {
  Client *c = (Client *)arg;
  if (in_api == 1) callback_inside_api++;
  c->failed++;
  c->err = err;
  c->failed_at = xMonoMs();
  if (c->destroy_in_failed) xTurnClientDestroy(&c->tc);
}

static void on_data(const uint8_t *data, size_t len, const struct sockaddr *from, void *arg) {
  Client *c = (Client *)arg;
  if (in_api == 1) callback_inside_api++;
  if (in_api != 2) not_inside_on_message++;
  c->data_count++;
  c->data_len = len < sizeof c->data ? len : sizeof c->data;
  memcpy(c->data, data, c->data_len);
  memcpy(&c->data_from, from, sizeof(struct sockaddr_in));
}

/* Datagrams from the server: STUN to OnMessage, ChannelData to OnChannelData. */
static void client_readable(int fd, xEventMask mask, void *arg) {
  Client *c = (Client *)arg;
  uint8_t buf[2048];
  struct sockaddr_storage from;
  socklen_t flen;
  ssize_t n;
  (void)mask;
  for (;;) {
    flen = sizeof from;
    n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    if (n < 0) break;
    in_api = 2;
    if (n > 0 && xTurnIsChannelData(buf[0])) {
      if (xTurnClientOnChannelData(&c->tc, buf, (size_t)n)) c->channel_data_in++;
    } else if (xStunMsgIsStun(buf, (size_t)n)) {
      xStunMsg msg;
      if (xStunMsgDecode(&msg, buf, (size_t)n) == xErrno_Ok)
        xTurnClientOnMessage(&c->tc, &msg, c->raw_null ? NULL : buf, c->raw_null ? 0 : (size_t)n,
                             (struct sockaddr *)&from);
    }
    in_api = 0;
  }
}

static void peer_readable(int fd, xEventMask mask, void *arg) {
  Peer *p = (Peer *)arg;
  char buf[2048];
  socklen_t flen;
  ssize_t n;
  (void)mask;
  for (;;) {
    flen = sizeof p->from;
    n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&p->from, &flen);
    if (n < 0) break;
    p->count++;
    p->len = (size_t)n < sizeof p->data ? (size_t)n : sizeof p->data;
    memcpy(p->data, buf, p->len);
  }
}

static void client_init(Client *c, xEventLoop loop, int port, const char *user, const char *pass) {
  xTurnConfig cfg;
  struct sockaddr_in *srv = (struct sockaddr_in *)&cfg.server;
  memset(&cfg, 0, sizeof cfg);
  srv->sin_family = AF_INET;
  srv->sin_port = htons((uint16_t)port);
  srv->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  snprintf(cfg.username, sizeof cfg.username, "%s", user);
  snprintf(cfg.password, sizeof cfg.password, "%s", pass);
  cfg.send_fn = send_fn;
  cfg.send_arg = c;
  cfg.on_allocated = on_allocated;
  cfg.on_failed = on_failed;
  cfg.on_data = on_data;
  cfg.ctx = c;
  c->fd = udp_socket(NULL);
  c->src = xEventAdd(loop, c->fd, xEvent_Read, client_readable, c);
  xTurnClientInit(&c->tc, loop, &cfg);
}

static void client_close(Client *c, xEventLoop loop) {
  xTurnClientDestroy(&c->tc);
  xEventDel(loop, c->src);
  close(c->fd);
}

/* Runs the loop until *flag becomes non-zero or ms pass; returns *flag. */
static int run_until(xEventLoop loop, const int *flag, int ms) {
  uint64_t end = xMonoMs() + check_wait_ms((uint64_t)ms);
  while (!*flag && xMonoMs() < end) xEventWait(loop, 10);
  return *flag;
}

/* A loopback UDP port nothing listens on (bound, read, closed). */
static int free_udp_port(void) {
  struct sockaddr_in sa;
  int fd = udp_socket(&sa);
  close(fd);
  return ntohs(sa.sin_port);
}

static void null_arguments(void) {
  xTurnClient zero;
  struct sockaddr_in peer;
  uint8_t b[4] = {0x40, 0, 0, 0};
  xStunMsg msg;
  memset(&zero, 0, sizeof zero);
  memset(&peer, 0, sizeof peer);
  memset(&msg, 0, sizeof msg);
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  xTurnClientInit(NULL, NULL, NULL);
  xTurnClientDestroy(NULL);
  CHECK_EQ_INT(xTurnClientAllocate(NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnClientCreatePermission(NULL, (struct sockaddr *)&peer), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnClientChannelBind(NULL, (struct sockaddr *)&peer), -1);
  CHECK_EQ_INT(xTurnClientSendData(NULL, (struct sockaddr *)&peer, b, 4), xErrno_InvalidArg);
  CHECK(!xTurnClientOnMessage(NULL, &msg, b, 4, (struct sockaddr *)&peer));
  CHECK(!xTurnClientOnChannelData(NULL, b, 4));
  /* A struct never initialised, and one initialised without a config. */
  CHECK_EQ_INT(xTurnClientAllocate(&zero), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnClientChannelBind(&zero, (struct sockaddr *)&peer), -1);
  xTurnClientInit(&zero, NULL, NULL);
  CHECK_EQ_INT(zero.state, xTurnState_Idle);
  CHECK_EQ_INT(zero.next_channel, 0x4000);
  CHECK_EQ_INT(xTurnClientAllocate(&zero), xErrno_InvalidArg);
  CHECK(!xTurnClientOnMessage(&zero, NULL, b, 4, (struct sockaddr *)&peer));
  CHECK(!xTurnClientOnChannelData(&zero, NULL, 4));
  xTurnClientDestroy(&zero);
}

int main(void) {
  static const char *const turn_options[] = {
      "--relay-ip=127.0.0.1", "--lt-cred-mech", "--user=alice:secret", "--realm=" REALM,
      "--allow-loopback-peers", "--no-tcp", NULL};
  int port = free_udp_port();
  Coturn turn;
  int i, up, number, bound = 0, sends_before;
  xEventLoop loop;
  static Client good, wrong, silent;
  Peer peer;
  struct sockaddr_in peer_addr, mapped_expect;
  socklen_t slen = sizeof mapped_expect;
  uint64_t silent_start;
  const char *msg;

  null_arguments();

  up = coturn_start(&turn, port, turn_options);
  CHECK(up);
  if (!up) return CHECK_DONE();
  loop = xEventLoopCreate();

  /* The silent server first: it runs alongside everything else. */
  client_init(&silent, loop, free_udp_port(), "alice", "secret");
  silent_start = xMonoMs();
  CHECK_EQ_INT(xTurnClientAllocate(&silent.tc), xErrno_Ok);
  CHECK_EQ_INT(silent.tc.state, xTurnState_Allocating);

  /* Allocation with long-term credentials. */
  client_init(&good, loop, port, "alice", "secret");
  CHECK_EQ_INT(good.tc.state, xTurnState_Idle);
  CHECK_EQ_INT(good.tc.next_channel, 0x4000);
  CHECK(good.tc.loop == loop);
  CHECK(good.tc.txn_mgr.loop == loop && good.tc.txn_mgr.count == 0);
  CHECK_EQ_INT(xTurnClientCreatePermission(&good.tc, (struct sockaddr *)&good.tc.config.server),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnClientChannelBind(&good.tc, (struct sockaddr *)&good.tc.config.server), -1);
  in_api = 1;
  CHECK_EQ_INT(xTurnClientAllocate(&good.tc), xErrno_Ok);
  CHECK_EQ_INT(xTurnClientAllocate(&good.tc), xErrno_InvalidArg);
  in_api = 0;
  CHECK_EQ_INT(good.sends, 1);
  CHECK_EQ_INT(good.tc.state, xTurnState_Allocating);
  CHECK(run_until(loop, &good.allocated, 5000));
  CHECK_EQ_INT(good.tc.state, xTurnState_Allocated);
  CHECK(good.tc.has_credentials);
  CHECK(strcmp(good.tc.realm, REALM) == 0);
  CHECK(strlen(good.tc.nonce) > 0);
  CHECK(good.lifetime > 0);
  CHECK_EQ_INT(good.tc.lifetime, good.lifetime);
  CHECK(good.tc.refresh_timer != NULL);
  CHECK_EQ_INT(good.relayed.ss_family, AF_INET);
  CHECK(memcmp(&good.tc.relayed_addr, &good.relayed, sizeof(struct sockaddr_in)) == 0);
  getsockname(good.fd, (struct sockaddr *)&mapped_expect, &slen);
  CHECK(good.have_mapped && same_addr(&good.mapped, &mapped_expect));
  CHECK(same_addr(&good.tc.mapped_addr, &mapped_expect));
  printf("allocated %s:%d for %u s after %d sends\n",
         inet_ntoa(((struct sockaddr_in *)&good.relayed)->sin_addr),
         ntohs(((struct sockaddr_in *)&good.relayed)->sin_port), good.lifetime, good.sends);

  /* From here on the client's STUN input is given as a decoded xStunMsg
   * only: responses must still pass MESSAGE-INTEGRITY. */
  good.raw_null = 1;

  /* The peer: a second UDP socket on loopback. */
  memset(&peer, 0, sizeof peer);
  peer.fd = udp_socket(&peer_addr);
  xEventSource peer_src = xEventAdd(loop, peer.fd, xEvent_Read, peer_readable, &peer);
  CHECK_EQ_INT(xTurnClientSendData(&good.tc, (struct sockaddr *)&peer_addr, (const uint8_t *)"x", 1),
               xErrno_NotFound);
  CHECK_EQ_INT(xTurnClientCreatePermission(&good.tc, (struct sockaddr *)&peer_addr), xErrno_Ok);
  CHECK_EQ_INT(good.tc.permission_count, 1);
  CHECK_EQ_INT(((struct sockaddr_in *)&good.tc.permissions[0])->sin_addr.s_addr,
               peer_addr.sin_addr.s_addr);
  sends_before = good.sends;
  /* Let the CreatePermission complete (coturn answers within milliseconds). */
  run_until(loop, &bound, 300);

  /* Send indication → the peer; the peer → Data indication. */
  msg = "hello through a Send indication";
  CHECK_EQ_INT(xTurnClientSendData(&good.tc, (struct sockaddr *)&peer_addr, (const uint8_t *)msg,
                                   strlen(msg)),
               xErrno_Ok);
  CHECK(good.sends > sends_before);
  CHECK_EQ_INT(good.last_sent_first_byte, 0x00);
  CHECK(run_until(loop, &peer.count, 3000));
  CHECK(peer.len == strlen(msg) && memcmp(peer.data, msg, peer.len) == 0);
  CHECK(same_addr(&peer.from, (struct sockaddr_in *)&good.relayed));
  msg = "reply through a Data indication";
  sendto(peer.fd, msg, strlen(msg), 0, (struct sockaddr *)&good.relayed, sizeof(struct sockaddr_in));
  CHECK(run_until(loop, &good.data_count, 3000));
  CHECK(good.data_len == strlen(msg) && memcmp(good.data, msg, good.data_len) == 0);
  CHECK(same_addr(&good.data_from, &peer_addr));
  CHECK_EQ_INT(good.channel_data_in, 0);

  /* A channel: ChannelData both ways once the server confirmed it. */
  number = xTurnClientChannelBind(&good.tc, (struct sockaddr *)&peer_addr);
  CHECK_EQ_INT(number, 0x4000);
  CHECK_EQ_INT(xTurnClientChannelBind(&good.tc, (struct sockaddr *)&peer_addr), 0x4000);
  CHECK_EQ_INT(good.tc.channel_count, 1);
  CHECK_EQ_INT(good.tc.next_channel, 0x4001);
  CHECK_EQ_INT(good.tc.channels[0].number, 0x4000);
  CHECK(same_addr(&good.tc.channels[0].peer, &peer_addr));
  for (i = 0; i < 300 && !good.tc.channels[0].bound; i++) xEventWait(loop, 10);
  CHECK(good.tc.channels[0].bound);
  msg = "hello through ChannelData";
  peer.count = 0;
  CHECK_EQ_INT(xTurnClientSendData(&good.tc, (struct sockaddr *)&peer_addr, (const uint8_t *)msg,
                                   strlen(msg)),
               xErrno_Ok);
  CHECK_EQ_INT(good.last_sent_first_byte, 0x40);
  CHECK(run_until(loop, &peer.count, 3000));
  CHECK(peer.len == strlen(msg) && memcmp(peer.data, msg, peer.len) == 0);
  msg = "reply through ChannelData";
  good.data_count = 0;
  sendto(peer.fd, msg, strlen(msg), 0, (struct sockaddr *)&good.relayed, sizeof(struct sockaddr_in));
  CHECK(run_until(loop, &good.data_count, 3000));
  CHECK(good.data_len == strlen(msg) && memcmp(good.data, msg, good.data_len) == 0);
  CHECK(same_addr(&good.data_from, &peer_addr));
  CHECK_EQ_INT(good.channel_data_in, 1);

  /* Destroy deallocates (one Refresh with LIFETIME 0) and stops everything. */
  sends_before = good.sends;
  client_close(&good, loop);
  CHECK_EQ_INT(good.sends, sends_before + 1);
  CHECK_EQ_INT(good.tc.state, xTurnState_Idle);
  CHECK(good.tc.refresh_timer == NULL);
  CHECK_EQ_INT(xTurnClientAllocate(&good.tc), xErrno_InvalidArg);

  /* A wrong password: the authenticated retry gets a 401 too. */
  client_init(&wrong, loop, port, "alice", "not-the-password");
  CHECK_EQ_INT(xTurnClientAllocate(&wrong.tc), xErrno_Ok);
  CHECK(run_until(loop, &wrong.failed, 5000));
  CHECK_EQ_INT(wrong.err, xErrno_InvalidArg);
  CHECK_EQ_INT(wrong.tc.state, xTurnState_Failed);
  CHECK_EQ_INT(wrong.allocated, 0);
  CHECK_EQ_INT(xTurnClientAllocate(&wrong.tc), xErrno_InvalidArg);
  client_close(&wrong, loop);

  /* A first Allocate that cannot be sent: the error comes back, the client
   * is Idle again, and a retry allocates. */
  memset(&wrong, 0, sizeof wrong);
  client_init(&wrong, loop, port, "alice", "secret");
  wrong.fail_sends = 1;
  CHECK_EQ_INT(xTurnClientAllocate(&wrong.tc), xErrno_SysError);
  CHECK_EQ_INT(wrong.tc.state, xTurnState_Idle);
  wrong.fail_sends = 0;
  CHECK_EQ_INT(xTurnClientAllocate(&wrong.tc), xErrno_Ok);
  CHECK(run_until(loop, &wrong.allocated, 5000));
  CHECK_EQ_INT(wrong.tc.state, xTurnState_Allocated);
  CHECK_EQ_INT(wrong.failed, 0);
  client_close(&wrong, loop);

  /* Destroyed inside its own on_failed: nothing runs afterwards. */
  memset(&wrong, 0, sizeof wrong);
  client_init(&wrong, loop, port, "alice", "still-wrong");
  wrong.destroy_in_failed = 1;
  CHECK_EQ_INT(xTurnClientAllocate(&wrong.tc), xErrno_Ok);
  CHECK(run_until(loop, &wrong.failed, 5000));
  CHECK_EQ_INT(wrong.tc.state, xTurnState_Idle);
  CHECK(wrong.tc.refresh_timer == NULL);
  CHECK_EQ_INT(xTurnClientAllocate(&wrong.tc), xErrno_InvalidArg);
  client_close(&wrong, loop);

  /* The silent server: Failed with Timeout after the retransmissions. */
  CHECK(run_until(loop, &silent.failed, 45000));
  CHECK_EQ_INT(silent.err, xErrno_Timeout);
  CHECK_EQ_INT(silent.tc.state, xTurnState_Failed);
  CHECK_EQ_INT(silent.sends, 7);
  printf("silent server: failed after %llu ms and %d sends\n",
         (unsigned long long)(silent.failed_at - silent_start), silent.sends);
  CHECK(silent.failed_at - silent_start >= 39000); /* not before the RFC 5389 timeout */
  client_close(&silent, loop);
  /* The destroyed clients heard nothing more while the loop ran on. */
  CHECK_EQ_INT(good.allocated, 1);
  CHECK_EQ_INT(good.failed, 0);
  CHECK_EQ_INT(wrong.failed, 1);

  /* No callback inside Allocate; every on_allocated / on_data inside the
   * OnMessage / OnChannelData call that caused it. */
  CHECK_EQ_INT(callback_inside_api, 0);
  CHECK_EQ_INT(not_inside_on_message, 0);
  xEventDel(loop, peer_src);
  close(peer.fd);
  xEventLoopDestroy(loop);
  coturn_stop(&turn);
  return CHECK_DONE();
}
