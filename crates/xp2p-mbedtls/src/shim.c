/*
 * The mbedTLS 2.28 side of libxp2p's mbedTLS DTLS backend.
 *
 * mbedTLS 2.28 contexts are caller-allocated structs with public fields
 * whose layout depends on the build configuration, so Rust never sees
 * them: this file owns them and exposes opaque handles and plain
 * functions (xm_*). Nothing here reads a clock or touches a socket: the
 * caller sets "now" before every call, feeds one datagram at a time, and
 * collects outgoing datagrams through a send callback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR != 2 || MBEDTLS_VERSION_MINOR < 16
#error "xp2p-mbedtls needs mbedTLS 2.16..2.28"
#endif
#if !defined(MBEDTLS_SSL_PROTO_DTLS) || !defined(MBEDTLS_PK_WRITE_C) || \
    !defined(MBEDTLS_ECDSA_C) || !defined(MBEDTLS_GCM_C)
#error "mbedTLS built without DTLS, key writing, ECDSA or GCM"
#endif
#if !defined(MBEDTLS_SSL_EXPORT_KEYS) || !defined(MBEDTLS_SSL_DTLS_ANTI_REPLAY)
#error "mbedTLS built without key export or DTLS anti-replay"
#endif

/* Return codes shared with the Rust side. */
#define XM_OK 0
#define XM_WANT 1        /* needs more input (or a timer) */
#define XM_CLOSED 2      /* the peer sent close_notify */
#define XM_ERR_TIMEOUT (-2) /* gave up retransmitting */

/* ---- randomness: one DRBG for the process (mbedTLS locks it) ---- */

static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static int g_drbg_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void drbg_init(void)
{
    static const unsigned char pers[] = "xp2p-dtls";
    mbedtls_entropy_init(&g_entropy);
    mbedtls_ctr_drbg_init(&g_drbg);
    g_drbg_ok = mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
                                      pers, sizeof pers - 1) == 0;
}

static int rng_ready(void)
{
    pthread_once(&g_once, drbg_init);
    return g_drbg_ok;
}

static int rng(void *unused, unsigned char *out, size_t len)
{
    (void)unused;
    return mbedtls_ctr_drbg_random(&g_drbg, out, len);
}

/* ---- hashing and errors ---- */

int xm_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    return mbedtls_sha256_ret(data, len, out, 0);
}

void xm_strerror(int code, char *buf, size_t len)
{
    mbedtls_strerror(code, buf, len);
}

/* ---- certificates ---- */

/*
 * The certificate is written here rather than with mbedtls_x509write_crt:
 * mbedTLS 2.28 gives the ecdsa-with-SHA256 AlgorithmIdentifier a NULL
 * parameter, which RFC 5758 forbids and strict parsers (aiortc's
 * `cryptography`) refuse.
 */

/* Appends tag, DER length and body to out at *pos; false if it won't fit. */
static int put_tlv(uint8_t *out, size_t cap, size_t *pos, uint8_t tag, const uint8_t *body,
                   size_t len)
{
    uint8_t hdr[4];
    size_t h = 0;
    hdr[h++] = tag;
    if (len < 0x80) {
        hdr[h++] = (uint8_t)len;
    } else if (len < 0x100) {
        hdr[h++] = 0x81;
        hdr[h++] = (uint8_t)len;
    } else if (len < 0x10000) {
        hdr[h++] = 0x82;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        return 0;
    }
    if (*pos + h + len > cap)
        return 0;
    memcpy(out + *pos, hdr, h);
    memmove(out + *pos + h, body, len);
    *pos += h + len;
    return 1;
}

/* Appends raw bytes. */
static int put_raw(uint8_t *out, size_t cap, size_t *pos, const uint8_t *data, size_t len)
{
    if (*pos + len > cap)
        return 0;
    memmove(out + *pos, data, len);
    *pos += len;
    return 1;
}

/* UTCTime (years before 2050) or GeneralizedTime, RFC 5280 4.1.2.5. */
static int put_time(uint8_t *out, size_t cap, size_t *pos, time_t t)
{
    struct tm tm;
    char text[20];
    gmtime_r(&t, &tm);
    if (tm.tm_year + 1900 < 2050) {
        strftime(text, sizeof text, "%y%m%d%H%M%SZ", &tm);
        return put_tlv(out, cap, pos, 0x17, (const uint8_t *)text, strlen(text));
    }
    strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &tm);
    return put_tlv(out, cap, pos, 0x18, (const uint8_t *)text, strlen(text));
}

/* Name ::= SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String } } } */
static int put_name(uint8_t *out, size_t cap, size_t *pos, const char *cn)
{
    static const uint8_t oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
    uint8_t atv[96], seq[100], set[104];
    size_t a = 0, q = 0, st = 0;
    return put_raw(atv, sizeof atv, &a, oid_cn, sizeof oid_cn) &&
           put_tlv(atv, sizeof atv, &a, 0x0c, (const uint8_t *)cn, strlen(cn)) &&
           put_tlv(seq, sizeof seq, &q, 0x30, atv, a) &&
           put_tlv(set, sizeof set, &st, 0x31, seq, q) &&
           put_tlv(out, cap, pos, 0x30, set, st);
}

/* AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters. */
static const uint8_t g_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x04, 0x03, 0x02};

/*
 * A fresh ECDSA P-256 key and a self-signed X.509 v3 certificate for it:
 * random 63-bit serial, subject = issuer = CN=<cn>, valid from now for
 * `days`, signed with ECDSA-SHA256. Both are written as DER into the
 * caller's buffers; the lengths come back in *cert_len and *key_len.
 */
int xm_cert_generate(const char *cn, unsigned days, uint8_t *cert, size_t *cert_len,
                     uint8_t *key, size_t *key_len)
{
    static const uint8_t version[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
    mbedtls_pk_context pk;
    uint8_t tbs_body[1024], tbs[1024], validity[64], spki[256], sig[MBEDTLS_ECDSA_MAX_LEN];
    uint8_t sigbits[MBEDTLS_ECDSA_MAX_LEN + 1], body[1536], hash[32], serial[8];
    size_t tb = 0, t = 0, v = 0, b = 0, sig_len = 0, c = 0;
    time_t now;
    int ret, n;

    if (!rng_ready())
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    if (strlen(cn) > 64)
        return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
    mbedtls_pk_init(&pk);
    ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), rng, NULL);
    if (ret == 0)
        ret = rng(NULL, serial, sizeof serial);
    if (ret != 0)
        goto out;
    /* Positive, minimal (top byte 0x40..0x7f), never zero. */
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
    n = mbedtls_pk_write_pubkey_der(&pk, spki, sizeof spki);
    if (n < 0) {
        ret = n;
        goto out;
    }
    memmove(spki, spki + sizeof spki - (size_t)n, (size_t)n);
    now = time(NULL);
    ret = MBEDTLS_ERR_X509_BUFFER_TOO_SMALL;
    if (!put_time(validity, sizeof validity, &v, now) ||
        !put_time(validity, sizeof validity, &v, now + (time_t)days * 86400))
        goto out;
    if (!put_raw(tbs_body, sizeof tbs_body, &tb, version, sizeof version) ||
        !put_tlv(tbs_body, sizeof tbs_body, &tb, 0x02, serial, sizeof serial) ||
        !put_raw(tbs_body, sizeof tbs_body, &tb, g_ecdsa_sha256, sizeof g_ecdsa_sha256) ||
        !put_name(tbs_body, sizeof tbs_body, &tb, cn) ||
        !put_tlv(tbs_body, sizeof tbs_body, &tb, 0x30, validity, v) ||
        !put_name(tbs_body, sizeof tbs_body, &tb, cn) ||
        !put_raw(tbs_body, sizeof tbs_body, &tb, spki, (size_t)n) ||
        !put_tlv(tbs, sizeof tbs, &t, 0x30, tbs_body, tb))
        goto out;
    ret = mbedtls_sha256_ret(tbs, t, hash, 0);
    if (ret == 0)
        ret = mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &sig_len, rng,
                              NULL);
    if (ret != 0)
        goto out;
    sigbits[0] = 0; /* no unused bits */
    memcpy(sigbits + 1, sig, sig_len);
    ret = MBEDTLS_ERR_X509_BUFFER_TOO_SMALL;
    if (!put_raw(body, sizeof body, &b, tbs, t) ||
        !put_raw(body, sizeof body, &b, g_ecdsa_sha256, sizeof g_ecdsa_sha256) ||
        !put_tlv(body, sizeof body, &b, 0x03, sigbits, sig_len + 1) ||
        !put_tlv(cert, *cert_len, &c, 0x30, body, b))
        goto out;
    *cert_len = c;
    n = mbedtls_pk_write_key_der(&pk, key, *key_len);
    if (n < 0) {
        ret = n;
        goto out;
    }
    memmove(key, key + *key_len - (size_t)n, (size_t)n);
    *key_len = (size_t)n;
    ret = 0;
out:
    mbedtls_pk_free(&pk);
    return ret;
}

/* ---- sessions ---- */

typedef int (*xm_send_fn)(void *arg, const unsigned char *buf, size_t len);

typedef struct xm_session {
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt own;
    mbedtls_pk_context key;
    /* One datagram offered to mbedTLS's next read. */
    const unsigned char *input;
    size_t input_len;
    /* The caller's clock, in milliseconds from its own origin. */
    uint64_t now_ms;
    uint64_t timer_start;
    uint32_t timer_int;
    uint32_t timer_fin; /* 0: cancelled */
    uint64_t expirations;
    /* Outgoing datagrams go to the caller. */
    xm_send_fn send;
    void *send_arg;
    /* Fingerprint pinning. */
    uint8_t expected[32];
    int has_expected;
    int mismatch;
    uint8_t remote[32];
    int has_remote;
    /* The key block of the last key derivation (RFC 5246 6.3): client and
     * server MAC keys, write keys and implicit IVs, in that order. */
    uint8_t keyblk[2 * 48 + 2 * 32 + 2 * 16];
    size_t maclen, keylen, ivlen;
    int has_keys;
} xm_session;

static const int g_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
#if defined(MBEDTLS_CHACHAPOLY_C)
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
#endif
    0,
};

static const mbedtls_ecp_group_id g_curves[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

#if defined(MBEDTLS_SSL_DTLS_SRTP)
/* Offered and accepted in use_srtp although data channels never use SRTP
 * keys: some stacks (aiortc) refuse a handshake without a profile.
 * mbedTLS 2.28 knows no AEAD-GCM profile. */
static const mbedtls_ssl_srtp_profile g_srtp[] = {
    MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80,
    MBEDTLS_TLS_SRTP_UNSET,
};
#endif

#if defined(MBEDTLS_DEBUG_C)
/* XP2P_MBEDTLS_DEBUG=1..4 prints mbedTLS's own trace to stderr. */
static void debug_cb(void *unused, int level, const char *file, int line, const char *msg)
{
    (void)unused;
    fprintf(stderr, "mbedtls %d %s:%d: %s", level, file, line, msg);
}

static int debug_level(void)
{
    const char *v = getenv("XP2P_MBEDTLS_DEBUG");
    return v != NULL ? atoi(v) : 0;
}
#endif

static void timer_set(void *p, uint32_t int_ms, uint32_t fin_ms)
{
    xm_session *s = p;
    s->timer_start = s->now_ms;
    s->timer_int = int_ms;
    s->timer_fin = fin_ms;
}

static int timer_get(void *p)
{
    xm_session *s = p;
    uint64_t elapsed;
    if (s->timer_fin == 0)
        return -1;
    elapsed = s->now_ms - s->timer_start;
    if (elapsed >= s->timer_fin) {
        s->expirations++;
        return 2;
    }
    if (elapsed >= s->timer_int)
        return 1;
    return 0;
}

static int bio_send(void *p, const unsigned char *buf, size_t len)
{
    xm_session *s = p;
    return s->send(s->send_arg, buf, len);
}

static int bio_recv(void *p, unsigned char *buf, size_t len)
{
    xm_session *s = p;
    size_t n;
    if (s->input == NULL)
        return MBEDTLS_ERR_SSL_WANT_READ;
    n = s->input_len < len ? s->input_len : len;
    memcpy(buf, s->input, n);
    s->input = NULL;
    s->input_len = 0;
    return (int)n;
}

/* Every certificate passes chain validation (they are self-signed); the
 * leaf must match the expected fingerprint when one is set. */
static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    xm_session *s = p;
    uint8_t fp[32];
    if (depth != 0) {
        *flags = 0;
        return 0;
    }
    if (mbedtls_sha256_ret(crt->raw.p, crt->raw.len, fp, 0) != 0) {
        *flags = MBEDTLS_X509_BADCERT_OTHER;
        return 0;
    }
    memcpy(s->remote, fp, 32);
    s->has_remote = 1;
    if (s->has_expected && memcmp(fp, s->expected, 32) != 0) {
        s->mismatch = 1;
        *flags = MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    } else {
        *flags = 0;
    }
    return 0;
}

/* mbedTLS hands over the key block when it derives the keys; the caller
 * protects application data with it (xm_record_keys). */
static int export_keys(void *p, const unsigned char *ms, const unsigned char *kb,
                       size_t maclen, size_t keylen, size_t ivlen,
                       const unsigned char client_random[32],
                       const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
    xm_session *s = p;
    size_t need = 2 * (maclen + keylen + ivlen);
    (void)ms;
    (void)client_random;
    (void)server_random;
    (void)prf;
    mbedtls_platform_zeroize(s->keyblk, sizeof s->keyblk);
    s->has_keys = 0;
    if (maclen > 48 || keylen > 32 || ivlen > 16 || need > sizeof s->keyblk)
        return 0; /* not a suite the caller protects itself */
    memcpy(s->keyblk, kb, need);
    s->maclen = maclen;
    s->keylen = keylen;
    s->ivlen = ivlen;
    s->has_keys = 1;
    return 0;
}

void xm_session_free(xm_session *s)
{
    if (s == NULL)
        return;
    mbedtls_platform_zeroize(s->keyblk, sizeof s->keyblk);
    mbedtls_ssl_free(&s->ssl);
    mbedtls_ssl_config_free(&s->conf);
    mbedtls_x509_crt_free(&s->own);
    mbedtls_pk_free(&s->key);
    free(s);
}

/*
 * A DTLS 1.2 session. `expected` (32 bytes) may be NULL. Datagrams leave
 * through `send(send_arg, …)`, one call per datagram. Returns NULL with an
 * mbedTLS error code in *err on failure.
 */
xm_session *xm_session_new(int server, const uint8_t *cert, size_t cert_len,
                           const uint8_t *key, size_t key_len, const uint8_t *expected,
                           uint16_t mtu, uint32_t retransmit_min_ms,
                           uint32_t retransmit_max_ms, xm_send_fn send, void *send_arg,
                           int *err)
{
    xm_session *s;
    int ret;

    *err = 0;
    if (!rng_ready()) {
        *err = MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        *err = MBEDTLS_ERR_SSL_ALLOC_FAILED;
        return NULL;
    }
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_ssl_init(&s->ssl);
    mbedtls_x509_crt_init(&s->own);
    mbedtls_pk_init(&s->key);
    if (expected != NULL) {
        memcpy(s->expected, expected, 32);
        s->has_expected = 1;
    }

    ret = mbedtls_x509_crt_parse_der(&s->own, cert, cert_len);
    if (ret == 0)
        ret = mbedtls_pk_parse_key(&s->key, key, key_len, NULL, 0);
    if (ret == 0)
        ret = mbedtls_ssl_config_defaults(&s->conf,
                                          server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0)
        goto fail;
    mbedtls_ssl_conf_rng(&s->conf, rng, NULL);
#if defined(MBEDTLS_DEBUG_C)
    if (debug_level() > 0) {
        mbedtls_debug_set_threshold(debug_level());
        mbedtls_ssl_conf_dbg(&s->conf, debug_cb, NULL);
    }
#endif
    mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&s->conf, g_suites);
    mbedtls_ssl_conf_curves(&s->conf, g_curves);
    /* The peer must present a certificate; the callback pins it. mbedTLS
     * wants some CA chain for a required peer certificate: our own
     * certificate serves, the callback decides anyway. */
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->own, NULL);
    mbedtls_ssl_conf_verify(&s->conf, verify_cb, s);
    ret = mbedtls_ssl_conf_own_cert(&s->conf, &s->own, &s->key);
    if (ret != 0)
        goto fail;
    /* No cookie exchange, no renegotiation, no session tickets. */
#if defined(MBEDTLS_SSL_DTLS_HELLO_VERIFY) && defined(MBEDTLS_SSL_SRV_C)
    mbedtls_ssl_conf_dtls_cookies(&s->conf, NULL, NULL, NULL);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(&s->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(&s->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
#if defined(MBEDTLS_SSL_DTLS_SRTP)
    ret = mbedtls_ssl_conf_dtls_srtp_protection_profiles(&s->conf, g_srtp);
    if (ret != 0)
        goto fail;
#endif
    mbedtls_ssl_conf_handshake_timeout(&s->conf, retransmit_min_ms, retransmit_max_ms);
    mbedtls_ssl_conf_export_keys_ext_cb(&s->conf, export_keys, s);
    ret = mbedtls_ssl_setup(&s->ssl, &s->conf);
    if (ret != 0)
        goto fail;
    mbedtls_ssl_set_mtu(&s->ssl, mtu);
    s->send = send;
    s->send_arg = send_arg;
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_timer_cb(&s->ssl, s, timer_set, timer_get);
    return s;
fail:
    *err = ret;
    xm_session_free(s);
    return NULL;
}

void xm_set_now(xm_session *s, uint64_t now_ms)
{
    s->now_ms = now_ms;
}

/* Offers one datagram to the next read; it must stay valid until the
 * next xm_clear_input. */
void xm_set_input(xm_session *s, const uint8_t *data, size_t len)
{
    s->input = data;
    s->input_len = len;
}

/* True if the offered datagram was not read. */
int xm_clear_input(xm_session *s)
{
    int unread = s->input != NULL;
    s->input = NULL;
    s->input_len = 0;
    return unread;
}

static int map(int ret)
{
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return XM_WANT;
    if (ret == MBEDTLS_ERR_SSL_TIMEOUT)
        return XM_ERR_TIMEOUT;
    return ret;
}

/* One handshake step: XM_OK when done, XM_WANT, or an error. */
int xm_handshake(xm_session *s)
{
    int ret = mbedtls_ssl_handshake(&s->ssl);
    return ret == 0 ? XM_OK : map(ret);
}

int xm_mismatch(const xm_session *s)
{
    return s->mismatch;
}

/* The fingerprint of the peer's leaf certificate, once the handshake has
 * seen it (also when it did not match). */
int xm_remote_fingerprint(const xm_session *s, uint8_t out[32])
{
    if (!s->has_remote)
        return 0;
    memcpy(out, s->remote, 32);
    return 1;
}

int xm_has_peer_cert(const xm_session *s)
{
    return mbedtls_ssl_get_peer_cert(&s->ssl) != NULL;
}

/* Reads one decrypted record into buf and returns its length with
 * *status = XM_OK; otherwise returns 0 with *status = XM_WANT (nothing
 * pending), XM_CLOSED (close_notify) or an error. */
int xm_read(xm_session *s, uint8_t *buf, size_t len, int *status)
{
    int ret = mbedtls_ssl_read(&s->ssl, buf, len);
    if (ret > 0) {
        *status = XM_OK;
        return ret;
    }
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        *status = XM_CLOSED;
        return 0;
    }
    *status = map(ret);
    return 0;
}

int xm_write(xm_session *s, const uint8_t *data, size_t len)
{
    int ret = mbedtls_ssl_write(&s->ssl, data, len);
    if (ret < 0)
        return map(ret);
    return (size_t)ret == len ? XM_OK : MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
}

int xm_close_notify(xm_session *s)
{
    return map(mbedtls_ssl_close_notify(&s->ssl));
}

void xm_set_mtu(xm_session *s, uint16_t mtu)
{
    mbedtls_ssl_set_mtu(&s->ssl, mtu);
}

int xm_max_payload(const xm_session *s)
{
    return mbedtls_ssl_get_max_out_record_payload(&s->ssl);
}

/* Milliseconds on the caller's clock at which the retransmission timer
 * expires, or UINT64_MAX when none runs. */
uint64_t xm_timer_deadline(const xm_session *s)
{
    if (s->timer_fin == 0)
        return UINT64_MAX;
    return s->timer_start + s->timer_fin;
}

uint64_t xm_timer_expirations(const xm_session *s)
{
    return s->expirations;
}

int xm_handshake_over(const xm_session *s)
{
    return s->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER;
}

/* Negotiated suite in OpenSSL's spelling (what the OpenSSL backend
 * reports), NULL before the handshake. */
const char *xm_cipher_name(const xm_session *s)
{
    int id;
    const char *name = mbedtls_ssl_get_ciphersuite(&s->ssl);
    if (name == NULL)
        return NULL;
    id = mbedtls_ssl_get_ciphersuite_id(name);
    switch (id) {
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
        return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
        return "ECDHE-ECDSA-AES256-GCM-SHA384";
#if defined(MBEDTLS_CHACHAPOLY_C)
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
        return "ECDHE-ECDSA-CHACHA20-POLY1305";
#endif
    default:
        return name;
    }
}

const char *xm_version(const xm_session *s)
{
    return mbedtls_ssl_get_version(&s->ssl);
}

/* The negotiated use_srtp profile (RFC 5764 value), 0 when none. */
unsigned xm_srtp_profile(const xm_session *s)
{
#if defined(MBEDTLS_SSL_DTLS_SRTP)
    mbedtls_dtls_srtp_info info;
    mbedtls_ssl_get_dtls_srtp_negotiation_result(&s->ssl, &info);
    return info.chosen_dtls_srtp_profile;
#else
    (void)s;
    return 0;
#endif
}

/* ---- application data records protected by the caller ---- */

/*
 * The negotiated suite (IANA number) and the keys of the established
 * epoch, once the handshake is over: write keys (keylen bytes each) and
 * implicit IVs (ivlen bytes each) of client and server. Returns 0 when
 * there are none or the suite uses MAC keys (not an AEAD suite).
 */
int xm_record_keys(const xm_session *s, uint16_t *suite, uint8_t client_key[32],
                   uint8_t server_key[32], size_t *keylen, uint8_t client_iv[16],
                   uint8_t server_iv[16], size_t *ivlen)
{
    const char *name;
    const uint8_t *k;
    if (!s->has_keys || s->maclen != 0 || s->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER)
        return 0;
    name = mbedtls_ssl_get_ciphersuite(&s->ssl);
    if (name == NULL)
        return 0;
    *suite = (uint16_t)mbedtls_ssl_get_ciphersuite_id(name);
    k = s->keyblk;
    memcpy(client_key, k, s->keylen);
    memcpy(server_key, k + s->keylen, s->keylen);
    memcpy(client_iv, k + 2 * s->keylen, s->ivlen);
    memcpy(server_iv, k + 2 * s->keylen + s->ivlen, s->ivlen);
    *keylen = s->keylen;
    *ivlen = s->ivlen;
    return 1;
}

/* Forgets the exported key block (the caller holds its own copy). */
void xm_forget_keys(xm_session *s)
{
    mbedtls_platform_zeroize(s->keyblk, sizeof s->keyblk);
    s->has_keys = 0;
}

/* The epoch of incoming records. */
uint16_t xm_in_epoch(const xm_session *s)
{
    return s->ssl.in_epoch;
}

/*
 * Takes the next outgoing record number (epoch << 48 | sequence) from the
 * counter mbedTLS writes its own records with, so the caller's records and
 * mbedTLS's (alerts, close_notify) share one sequence space. Returns -1 when
 * the sequence space of the epoch is exhausted (RFC 6347 4.1).
 */
int xm_take_out_seq(xm_session *s, uint64_t *epoch_seq)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v = (v << 8) | s->ssl.cur_out_ctr[i];
    if ((v & 0xffffffffffffULL) == 0xffffffffffffULL)
        return -1;
    *epoch_seq = v;
    v++;
    for (i = 7; i >= 0; i--) {
        s->ssl.cur_out_ctr[i] = (unsigned char)v;
        v >>= 8;
    }
    return 0;
}

/*
 * The replay window of incoming records (RFC 6347 4.1.2.6), the one
 * mbedTLS keeps for the records it reads: `seq` (48 bits) is fresh when
 * xm_replay_check returns 0; xm_replay_update marks it seen once the
 * record authenticated. Same semantics as mbedTLS's own check.
 */
int xm_replay_check(const xm_session *s, uint64_t seq)
{
    uint64_t bit;
    if (seq > s->ssl.in_window_top)
        return 0;
    bit = s->ssl.in_window_top - seq;
    if (bit >= 64)
        return -1;
    return (s->ssl.in_window & ((uint64_t)1 << bit)) != 0 ? -1 : 0;
}

void xm_replay_update(xm_session *s, uint64_t seq)
{
    if (seq > s->ssl.in_window_top) {
        uint64_t shift = seq - s->ssl.in_window_top;
        s->ssl.in_window = shift >= 64 ? 1 : (s->ssl.in_window << shift) | 1;
        s->ssl.in_window_top = seq;
    } else {
        uint64_t bit = s->ssl.in_window_top - seq;
        if (bit < 64)
            s->ssl.in_window |= (uint64_t)1 << bit;
    }
}
