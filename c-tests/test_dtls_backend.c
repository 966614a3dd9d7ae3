/* The DTLS backend vtable (xDtlsBackendGet): two contexts handshake by
 * passing their datagrams through send_fn, the fingerprints each side sees
 * match the other's, data flows both ways; a lost first flight is
 * retransmitted by a later handshake() call; argument and state checks. */
#include <string.h>
#include <time.h>

#include <xp2p/dtls_backend.h>

#include "check.h"

/* The backend the package was built with (c-tests/CMakeLists.txt). */
#ifndef XP2P_EXPECT_DTLS_BACKEND
#define XP2P_EXPECT_DTLS_BACKEND "openssl"
#endif

typedef struct Link {
  const xDtlsBackend *be;
  xDtlsBackendCtx *peer;
  int sent;
  int drop_first; /* datagrams to drop before delivering */
} Link;

static xErrno deliver(const uint8_t *data, size_t len, void *arg) {
  Link *l = (Link *)arg;
  l->sent++;
  if (l->drop_first > 0) {
    l->drop_first--;
    return xErrno_Ok;
  }
  if (l->peer) l->be->feed_input(l->peer, data, len);
  return xErrno_Ok;
}

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* Drives both handshakes; pause_ms between rounds lets timers expire. */
static int handshake(const xDtlsBackend *be, xDtlsBackendCtx *a, xDtlsBackendCtx *b, int rounds,
                     int pause_ms) {
  int i;
  for (i = 0; i < rounds; i++) {
    xErrno ra = be->handshake(a);
    xErrno rb = be->handshake(b);
    CHECK(ra == xErrno_Ok || ra == xErrno_Again);
    CHECK(rb == xErrno_Ok || rb == xErrno_Again);
    if (ra == xErrno_Ok && rb == xErrno_Ok) return 1;
    if (pause_ms) sleep_ms(pause_ms);
  }
  return 0;
}

static void table(const xDtlsBackend *be) {
  CHECK(be != NULL);
  CHECK(xDtlsBackendGet() == be);
  CHECK(strcmp(be->name, XP2P_EXPECT_DTLS_BACKEND) == 0);
  CHECK(be->create && be->destroy && be->set_role && be->get_fingerprint && be->handshake &&
        be->flush_output && be->feed_input && be->encrypt_send && be->decrypt_read &&
        be->get_remote_fingerprint && be->is_handshake_done);
}

static void arguments(const xDtlsBackend *be) {
  Link l;
  xDtlsBackendCtx *c;
  uint8_t buf[32];
  size_t n = 99;
  memset(&l, 0, sizeof l);
  l.be = be;
  CHECK(be->create(xDtlsRole_Active, NULL, &l) == NULL);
  be->destroy(NULL);
  CHECK_EQ_INT(be->set_role(NULL, xDtlsRole_Active), xErrno_InvalidArg);
  CHECK_EQ_INT(be->get_fingerprint(NULL, buf), xErrno_InvalidArg);
  CHECK_EQ_INT(be->handshake(NULL), xErrno_InvalidArg);
  be->flush_output(NULL);
  CHECK_EQ_INT(be->feed_input(NULL, buf, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(be->encrypt_send(NULL, buf, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(be->decrypt_read(NULL, buf, sizeof buf, &n), xErrno_InvalidArg);
  CHECK_EQ_INT(be->get_remote_fingerprint(NULL, buf), xErrno_InvalidArg);
  CHECK(!be->is_handshake_done(NULL));

  c = be->create(xDtlsRole_Passive, deliver, &l);
  CHECK(c != NULL);
  CHECK_EQ_INT(be->get_fingerprint(c, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(be->feed_input(c, NULL, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(be->feed_input(c, buf, 0), xErrno_InvalidArg);
  CHECK_EQ_INT(be->decrypt_read(c, buf, sizeof buf, NULL), xErrno_InvalidArg);
  /* Before the handshake: no peer certificate, no data. */
  CHECK_EQ_INT(be->get_remote_fingerprint(c, buf), xErrno_InvalidState);
  CHECK_EQ_INT(be->encrypt_send(c, buf, 4), xErrno_InvalidState);
  CHECK_EQ_INT(be->decrypt_read(c, buf, sizeof buf, &n), xErrno_Again);
  CHECK_EQ_INT(n, 0);
  CHECK(!be->is_handshake_done(c));
  /* Garbage is dropped without harm. */
  memset(buf, 0xAB, sizeof buf);
  CHECK_EQ_INT(be->feed_input(c, buf, sizeof buf), xErrno_Ok);
  /* The role can change until the handshake starts. */
  CHECK_EQ_INT(be->set_role(c, xDtlsRole_Active), xErrno_Ok);
  CHECK_EQ_INT(be->handshake(c), xErrno_Again);
  CHECK(l.sent >= 1); /* the ClientHello left through send_fn */
  CHECK_EQ_INT(be->set_role(c, xDtlsRole_Passive), xErrno_InvalidState);
  be->destroy(c);
  /* A destroyed context is stale. */
  CHECK_EQ_INT(be->handshake(c), xErrno_InvalidArg);
  CHECK_EQ_INT(be->get_fingerprint(c, buf), xErrno_InvalidArg);
  CHECK(!be->is_handshake_done(c));
  be->destroy(c);
}

static void exchange(const xDtlsBackend *be, int drop_first) {
  Link la, lb;
  xDtlsBackendCtx *a, *b;
  uint8_t fa[32], fb[32], ra[32], rb[32], buf[2048], big[1000];
  size_t n = 0;
  int i;
  memset(&la, 0, sizeof la);
  memset(&lb, 0, sizeof lb);
  la.be = lb.be = be;
  la.drop_first = drop_first;
  a = be->create(xDtlsRole_Active, deliver, &la);
  b = be->create(xDtlsRole_Passive, deliver, &lb);
  CHECK(a && b);
  la.peer = b;
  lb.peer = a;
  CHECK_EQ_INT(be->get_fingerprint(a, fa), xErrno_Ok);
  CHECK_EQ_INT(be->get_fingerprint(b, fb), xErrno_Ok);
  CHECK(memcmp(fa, fb, 32) != 0);
  if (drop_first) {
    /* The lost ClientHello comes again from a later handshake() call once
     * the retransmission timer (1 s) has expired. */
    CHECK(!handshake(be, a, b, 5, 0));
    CHECK(handshake(be, a, b, 60, 100));
    CHECK(la.sent >= 2);
  } else {
    CHECK(handshake(be, a, b, 20, 0));
  }
  CHECK(be->is_handshake_done(a) && be->is_handshake_done(b));
  CHECK_EQ_INT(be->get_remote_fingerprint(a, rb), xErrno_Ok);
  CHECK_EQ_INT(be->get_remote_fingerprint(b, ra), xErrno_Ok);
  CHECK(memcmp(rb, fb, 32) == 0);
  CHECK(memcmp(ra, fa, 32) == 0);

  /* Data both ways. */
  CHECK_EQ_INT(be->encrypt_send(a, (const uint8_t *)"ping", 4), xErrno_Ok);
  CHECK_EQ_INT(be->decrypt_read(b, buf, sizeof buf, &n), xErrno_Ok);
  CHECK(n == 4 && memcmp(buf, "ping", 4) == 0);
  CHECK_EQ_INT(be->decrypt_read(b, buf, sizeof buf, &n), xErrno_Again);
  for (i = 0; i < (int)sizeof big; i++) big[i] = (uint8_t)(i * 13);
  CHECK_EQ_INT(be->encrypt_send(b, big, sizeof big), xErrno_Ok);
  /* Too small a buffer: the needed length, the message stays. */
  CHECK_EQ_INT(be->decrypt_read(a, buf, 10, &n), xErrno_NoMemory);
  CHECK_EQ_INT(n, sizeof big);
  CHECK_EQ_INT(be->decrypt_read(a, buf, sizeof buf, &n), xErrno_Ok);
  CHECK(n == sizeof big && memcmp(buf, big, sizeof big) == 0);
  CHECK_EQ_INT(be->encrypt_send(a, buf, 0), xErrno_InvalidArg);
  be->flush_output(a);
  be->destroy(a);
  be->destroy(b);
}

int main(void) {
  const xDtlsBackend *be = xDtlsBackendGet();
  table(be);
  if (!be) return CHECK_DONE();
  arguments(be);
  exchange(be, 0);
  exchange(be, 1);
  return CHECK_DONE();
}
