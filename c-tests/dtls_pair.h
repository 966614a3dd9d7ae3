/* DTLS transports for the C tests that wire two of them in one process
 * through their send callbacks. */
#ifndef XP2P_CTEST_DTLS_PAIR_H
#define XP2P_CTEST_DTLS_PAIR_H

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

#endif
