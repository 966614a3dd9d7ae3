/* DTLS transports for the C tests that wire two of them in one process
 * through their send callbacks. */
#ifndef XP2P_CTEST_DTLS_PAIR_H
#define XP2P_CTEST_DTLS_PAIR_H

#include <stdlib.h>
#include <string.h>

#include <xp2p/dtls_transport.h>

/* A send callback that loses every datagram. */
static inline xErrno dtls_drop_all(const uint8_t *data, size_t len, void *arg) {
  (void)data;
  (void)len;
  (void)arg;
  return xErrno_Ok;
}

/* The configuration of a transport on `loop` in `role` that sends through
 * `send_fn(send_arg)` and reports to `on_state` and `on_data` (either may be
 * NULL) with `ctx`. */
static inline xDtlsTransportConf dtls_conf(xEventLoop loop, xDtlsRole role,
                                           xDtlsSendFn send_fn, void *send_arg,
                                           xDtlsOnStateChange on_state, xDtlsOnData on_data,
                                           void *ctx) {
  xDtlsTransportConf c;
  memset(&c, 0, sizeof c);
  c.loop = loop;
  c.role = role;
  c.send_fn = send_fn;
  c.send_arg = send_arg;
  c.on_state_change = on_state;
  c.on_data = on_data;
  c.ctx = ctx;
  return c;
}

/* A wire with latency between two transports in one process. Transports
 * call their send callbacks inside the API call (as upstream), so a send
 * callback that fed the peer at once would run a whole exchange inside one
 * call; tests that observe intermediate states queue the datagrams here
 * instead and deliver them from their loop turns with dtls_wire_flush(). */
typedef struct DtlsWirePkt {
  struct DtlsWirePkt *next;
  xDtlsTransport *to; /* the receiving slot; NULL (destroyed) drops it */
  size_t len;
  uint8_t data[];
} DtlsWirePkt;

static DtlsWirePkt *dtls_wire_head = NULL;
static DtlsWirePkt **dtls_wire_tail = &dtls_wire_head;

static inline void dtls_wire_queue(xDtlsTransport *to, const uint8_t *data, size_t len) {
  DtlsWirePkt *p = (DtlsWirePkt *)malloc(sizeof *p + len);
  if (!p) return;
  p->next = NULL;
  p->to = to;
  p->len = len;
  memcpy(p->data, data, len);
  *dtls_wire_tail = p;
  dtls_wire_tail = &p->next;
}

/* Delivers the datagrams queued so far (not those their delivery queues);
 * returns how many. */
static inline int dtls_wire_flush(void) {
  DtlsWirePkt *p = dtls_wire_head;
  int n = 0;
  dtls_wire_head = NULL;
  dtls_wire_tail = &dtls_wire_head;
  while (p) {
    DtlsWirePkt *next = p->next;
    if (*p->to) xDtlsTransportFeedInput(*p->to, p->data, p->len);
    free(p);
    p = next;
    n++;
  }
  return n;
}

#endif
