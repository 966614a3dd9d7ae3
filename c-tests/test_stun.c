/* STUN message and attribute codec through the C API: the upstream
 * stun_msg / stun_attr test behaviours and the RFC 5769 test vectors
 * (decode, verify MESSAGE-INTEGRITY and FINGERPRINT, re-encode exactly). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <xp2p/ice_crypto.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>

#include "check.h"

static const uint8_t kTxn[XSTUN_TXN_ID_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* Starts a message in buf: the header (length 0) and a writer after it. */
static void begin(uint8_t *buf, size_t cap, xStunMsgType type, const uint8_t *txn,
                  xStunMsg *msg, xStunAttrWriter *w) {
  xStunMsgInit(msg, type, txn);
  CHECK_EQ_INT(xStunMsgEncode(msg, buf, cap), 20);
  xStunAttrWriterInit(w, buf + XSTUN_HEADER_SIZE, cap - XSTUN_HEADER_SIZE);
}

/* Stores the writer position as the header length; returns the size. */
static int finish(uint8_t *buf, size_t cap, xStunMsg *msg, const xStunAttrWriter *w) {
  msg->attrs = NULL; /* attributes are already in place */
  msg->attrs_len = (uint16_t)w->pos;
  return xStunMsgEncode(msg, buf, cap);
}

/* The first attribute of type t in a decoded message. */
static bool find_attr(const xStunMsg *msg, xStunAttrType t, xStunAttr *out) {
  xStunAttrIter it;
  xStunAttrIterInit(&it, msg);
  while (xStunAttrIterNext(&it, out)) {
    if (out->type == t) return true;
  }
  return false;
}

static struct sockaddr_in v4(const char *ip, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

/* ---- stun_msg ------------------------------------------------------------ */

static void test_msg(void) {
  uint8_t buf[128];
  xStunMsg m, d;

  /* EncodeDecodeRoundTrip */
  xStunMsgInit(&m, xStunMsgType_BindingRequest, kTxn);
  CHECK_EQ_INT(xStunMsgEncode(&m, buf, sizeof buf), 20);
  CHECK_EQ_INT(xStunMsgDecode(&d, buf, 20), xErrno_Ok);
  CHECK_EQ_INT(d.type, xStunMsgType_BindingRequest);
  CHECK_EQ_INT(d.length, 0);
  CHECK_EQ_INT(d.attrs_len, 0);
  CHECK(d.attrs == NULL);
  CHECK(memcmp(d.txn_id, kTxn, 12) == 0);
  CHECK_EQ_INT(xReadU32BE(buf + 4), XSTUN_MAGIC_COOKIE);

  /* EncodeDecodeWithPayload */
  {
    const uint8_t payload[12] = {0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4, 0x00, 0x25, 0x00, 0x00};
    m.attrs = payload;
    m.attrs_len = sizeof payload;
    CHECK_EQ_INT(xStunMsgEncode(&m, buf, sizeof buf), 32);
    CHECK_EQ_INT(xStunMsgDecode(&d, buf, 32), xErrno_Ok);
    CHECK_EQ_INT(d.length, 12);
    CHECK_EQ_INT(d.attrs_len, 12);
    CHECK(d.attrs == buf + 20);
    CHECK(memcmp(d.attrs, payload, 12) == 0);
    /* EncodeBufferTooSmall */
    CHECK_EQ_INT(xStunMsgEncode(&m, buf, 31), -1);
  }

  /* Decode errors */
  CHECK_EQ_INT(xStunMsgDecode(&d, buf, 19), xErrno_InvalidArg);
  {
    uint8_t bad[20];
    xStunMsgInit(&m, xStunMsgType_BindingRequest, kTxn);
    xStunMsgEncode(&m, bad, sizeof bad);
    bad[4] ^= 0xFF;
    CHECK_EQ_INT(xStunMsgDecode(&d, bad, 20), xErrno_InvalidArg);
    CHECK(!xStunMsgIsStun(bad, 20));
    bad[4] ^= 0xFF;
    bad[0] |= 0xC0;
    CHECK_EQ_INT(xStunMsgDecode(&d, bad, 20), xErrno_InvalidArg);
    CHECK(!xStunMsgIsStun(bad, 20));
    bad[0] &= 0x3F;
    bad[3] = 8; /* claims 8 attribute bytes that are not there */
    CHECK_EQ_INT(xStunMsgDecode(&d, bad, 20), xErrno_InvalidArg);
    CHECK(xStunMsgIsStun(bad, 20));
  }

  /* EncodeNullArgs / DecodeNullArgs */
  CHECK_EQ_INT(xStunMsgEncode(NULL, buf, sizeof buf), -1);
  CHECK_EQ_INT(xStunMsgEncode(&m, NULL, sizeof buf), -1);
  CHECK_EQ_INT(xStunMsgDecode(NULL, buf, 20), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunMsgDecode(&d, NULL, 20), xErrno_InvalidArg);
  xStunMsgInit(NULL, xStunMsgType_BindingRequest, kTxn);

  /* IsStun */
  xStunMsgInit(&m, xStunMsgType_BindingResponse, kTxn);
  xStunMsgEncode(&m, buf, sizeof buf);
  CHECK(xStunMsgIsStun(buf, 20));
  CHECK(!xStunMsgIsStun(buf, 19));
  CHECK(!xStunMsgIsStun(NULL, 20));
  {
    uint8_t chan[20] = {0x40, 0x00, 0x00, 0x10};
    CHECK(!xStunMsgIsStun(chan, sizeof chan)); /* ChannelData */
  }

  /* MessageClassHelpers */
  CHECK(xStunMsgIsRequest(xStunMsgType_BindingRequest));
  CHECK(!xStunMsgIsRequest(xStunMsgType_BindingResponse));
  CHECK(xStunMsgIsIndication(xStunMsgType_BindingIndication));
  CHECK(xStunMsgIsIndication(xStunMsgType_DataIndication));
  CHECK(xStunMsgIsSuccessResponse(xStunMsgType_BindingResponse));
  CHECK(xStunMsgIsSuccessResponse(xStunMsgType_AllocateResponse));
  CHECK(!xStunMsgIsSuccessResponse(xStunMsgType_BindingErrorResponse));
  CHECK(xStunMsgIsErrorResponse(xStunMsgType_BindingErrorResponse));
  CHECK(xStunMsgIsErrorResponse(xStunMsgType_ChannelBindErrorResponse));
  CHECK(!xStunMsgIsErrorResponse(xStunMsgType_BindingRequest));
}

/* ---- stun_attr ----------------------------------------------------------- */

static void test_attr_round_trips(void) {
  uint8_t buf[512];
  xStunMsg m, d;
  xStunAttrWriter w;
  xStunAttr a;
  struct sockaddr_storage out;

  /* XorMappedAddressIPv4RoundTrip + IPv6RoundTrip + MappedAddress */
  {
    struct sockaddr_in a4 = v4("203.0.113.7", 54321);
    struct sockaddr_in6 a6 = v6("2001:db8::abcd", 443);
    begin(buf, sizeof buf, xStunMsgType_BindingResponse, kTxn, &m, &w);
    CHECK_EQ_INT(xStunAttrWriteXorMappedAddress(&w, (struct sockaddr *)&a4, kTxn), xErrno_Ok);
    CHECK_EQ_INT(w.pos, 12);
    CHECK_EQ_INT(xStunAttrWriteXorMappedAddress(&w, (struct sockaddr *)&a6, kTxn), xErrno_Ok);
    CHECK_EQ_INT(w.pos, 36);
    CHECK_EQ_INT(xStunAttrWriteMappedAddress(&w, (struct sockaddr *)&a4), xErrno_Ok);
    CHECK_EQ_INT(xStunAttrWriteXorPeerAddress(&w, (struct sockaddr *)&a6, kTxn), xErrno_Ok);
    CHECK_EQ_INT(finish(buf, sizeof buf, &m, &w), 20 + 36 + 12 + 24);
    CHECK_EQ_INT(xStunMsgDecode(&d, buf, sizeof buf), xErrno_Ok);
    {
      xStunAttrIter it;
      int i = 0;
      xStunAttrIterInit(&it, &d);
      while (xStunAttrIterNext(&it, &a)) {
        if (i == 0 || i == 1 || i == 3) {
          CHECK_EQ_INT(xStunAttrDecodeXorMappedAddress(&a, d.txn_id, &out), xErrno_Ok);
        } else {
          CHECK_EQ_INT(xStunAttrDecodeMappedAddress(&a, &out), xErrno_Ok);
        }
        if (i == 0 || i == 2) {
          const struct sockaddr_in *o = (const struct sockaddr_in *)&out;
          CHECK_EQ_INT(o->sin_family, AF_INET);
          CHECK_EQ_INT(ntohs(o->sin_port), 54321);
          CHECK(o->sin_addr.s_addr == a4.sin_addr.s_addr);
        } else {
          const struct sockaddr_in6 *o = (const struct sockaddr_in6 *)&out;
          CHECK_EQ_INT(o->sin6_family, AF_INET6);
          CHECK_EQ_INT(ntohs(o->sin6_port), 443);
          CHECK(memcmp(&o->sin6_addr, &a6.sin6_addr, 16) == 0);
        }
        i++;
      }
      CHECK_EQ_INT(i, 4);
    }
    CHECK(find_attr(&d, xStunAttrType_XorMappedAddress, &a));
    CHECK_EQ_INT(a.length, 8);
    CHECK_EQ_INT(xStunAttrDecodeXorMappedAddress(&a, NULL, &out), xErrno_InvalidArg);
    CHECK_EQ_INT(xStunAttrDecodeXorMappedAddress(NULL, d.txn_id, &out), xErrno_InvalidArg);
  }

  /* UsernameRoundTrip */
  begin(buf, sizeof buf, xStunMsgType_BindingRequest, kTxn, &m, &w);
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, "remote_ufrag", "local_ufrag"), xErrno_Ok);
  finish(buf, sizeof buf, &m, &w);
  CHECK_EQ_INT(xStunMsgDecode(&d, buf, sizeof buf), xErrno_Ok);
  CHECK(find_attr(&d, xStunAttrType_Username, &a));
  CHECK_EQ_INT(a.length, strlen("remote_ufrag:local_ufrag"));
  CHECK(memcmp(a.value, "remote_ufrag:local_ufrag", a.length) == 0);

  /* PaddingAlignment */
  begin(buf, sizeof buf, xStunMsgType_BindingRequest, kTxn, &m, &w);
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, "ab", "cd"), xErrno_Ok);
  CHECK_EQ_INT(w.pos, 12);
  CHECK_EQ_INT(buf[20 + 4 + 5], 0); /* zero padding */

  /* Priority (length 4), UseCandidate (0), IceControlling (8) and iteration */
  begin(buf, sizeof buf, xStunMsgType_BindingRequest, kTxn, &m, &w);
  CHECK_EQ_INT(xStunAttrWritePriority(&w, 0x6E0001FFu), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteUseCandidate(&w), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteIceControlling(&w, 0x0123456789ABCDEFull), xErrno_Ok);
  finish(buf, sizeof buf, &m, &w);
  CHECK_EQ_INT(xStunMsgDecode(&d, buf, sizeof buf), xErrno_Ok);
  {
    xStunAttrIter it;
    xStunAttrIterInit(&it, &d);
    CHECK(xStunAttrIterNext(&it, &a));
    CHECK_EQ_INT(a.type, xStunAttrType_Priority);
    CHECK_EQ_INT(a.length, 4);
    CHECK(xReadU32BE(a.value) == 0x6E0001FFu);
    CHECK(xStunAttrIterNext(&it, &a));
    CHECK_EQ_INT(a.type, xStunAttrType_UseCandidate);
    CHECK_EQ_INT(a.length, 0);
    CHECK(xStunAttrIterNext(&it, &a));
    CHECK_EQ_INT(a.type, xStunAttrType_IceControlling);
    CHECK_EQ_INT(a.length, 8);
    CHECK(xReadU64BE(a.value) == 0x0123456789ABCDEFull);
    CHECK(!xStunAttrIterNext(&it, &a));
  }

  /* IceControlled, ErrorCode 401, Lifetime 600, RequestedTransport, Realm, Nonce, Software,
   * ChannelNumber, Data */
  begin(buf, sizeof buf, xStunMsgType_AllocateErrorResponse, kTxn, &m, &w);
  CHECK_EQ_INT(xStunAttrWriteIceControlled(&w, 42), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteErrorCode(&w, 401, "Unauthorized"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteLifetime(&w, 600), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteRequestedTransport(&w, XTURN_TRANSPORT_UDP), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteRealm(&w, "example.org"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteNonce(&w, "abc"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteSoftware(&w, "xp2p"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteChannelNumber(&w, 0x4001), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteData(&w, (const uint8_t *)"hello", 5), xErrno_Ok);
  finish(buf, sizeof buf, &m, &w);
  CHECK_EQ_INT(xStunMsgDecode(&d, buf, sizeof buf), xErrno_Ok);
  CHECK(find_attr(&d, xStunAttrType_IceControlled, &a) && xReadU64BE(a.value) == 42);
  CHECK(find_attr(&d, xStunAttrType_ErrorCode, &a));
  {
    int code = 0;
    const char *reason = NULL;
    size_t reason_len = 0;
    CHECK_EQ_INT(xStunAttrDecodeErrorCode(&a, &code, &reason, &reason_len), xErrno_Ok);
    CHECK_EQ_INT(code, 401);
    CHECK_EQ_INT(reason_len, 12);
    CHECK(reason && memcmp(reason, "Unauthorized", 12) == 0);
    CHECK_EQ_INT(xStunAttrDecodeErrorCode(&a, &code, NULL, NULL), xErrno_Ok);
    CHECK_EQ_INT(xStunAttrDecodeErrorCode(&a, NULL, NULL, NULL), xErrno_InvalidArg);
  }
  CHECK(find_attr(&d, xStunAttrType_Lifetime, &a) && a.length == 4 && xReadU32BE(a.value) == 600);
  CHECK(find_attr(&d, xStunAttrType_RequestedTransport, &a) && a.length == 4 &&
        xReadU32BE(a.value) == 0x11000000u);
  CHECK(find_attr(&d, xStunAttrType_Realm, &a) && a.length == 11 &&
        memcmp(a.value, "example.org", 11) == 0);
  CHECK(find_attr(&d, xStunAttrType_Nonce, &a) && a.length == 3);
  CHECK(find_attr(&d, xStunAttrType_Software, &a) && a.length == 4);
  CHECK(find_attr(&d, xStunAttrType_ChannelNumber, &a) && a.length == 4 &&
        xReadU16BE(a.value) == 0x4001 && a.value[2] == 0 && a.value[3] == 0);
  CHECK(find_attr(&d, xStunAttrType_Data, &a) && a.length == 5 &&
        memcmp(a.value, "hello", 5) == 0);

  /* ComprehensionRequired */
  CHECK(xStunAttrIsComprehensionRequired(xStunAttrType_Username));
  CHECK(xStunAttrIsComprehensionRequired(xStunAttrType_XorMappedAddress));
  CHECK(xStunAttrIsComprehensionRequired(xStunAttrType_UseCandidate));
  CHECK(!xStunAttrIsComprehensionRequired(xStunAttrType_Software));
  CHECK(!xStunAttrIsComprehensionRequired(xStunAttrType_Fingerprint));
  CHECK(!xStunAttrIsComprehensionRequired(xStunAttrType_IceControlling));
}

static void test_attr_integrity(void) {
  uint8_t buf[256];
  uint8_t header_before[20];
  xStunMsg m, d;
  xStunAttrWriter w;
  xStunAttr a;
  const uint8_t key[] = "password";
  const uint8_t bad_key[] = "passwore";

  /* MessageIntegrityWriteAndVerify + FingerprintWriteAndVerify */
  begin(buf, sizeof buf, xStunMsgType_BindingRequest, kTxn, &m, &w);
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, "ab", "cd"), xErrno_Ok);
  memcpy(header_before, buf, 20);
  CHECK_EQ_INT(xStunAttrWriteMessageIntegrity(&w, buf, key, 8), xErrno_Ok);
  CHECK(memcmp(header_before, buf, 20) == 0); /* header length left as it was */
  CHECK_EQ_INT(xStunAttrWriteFingerprint(&w, buf), xErrno_Ok);
  CHECK_EQ_INT(w.pos, 12 + 24 + 8);
  {
    int n = finish(buf, sizeof buf, &m, &w);
    CHECK_EQ_INT(n, 64);
    CHECK_EQ_INT(xStunMsgDecode(&d, buf, (size_t)n), xErrno_Ok);
    CHECK(find_attr(&d, xStunAttrType_MessageIntegrity, &a));
    CHECK_EQ_INT(a.length, 20);
    CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, key, 8), xErrno_Ok);
    CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, bad_key, 8), xErrno_InvalidArg);
    CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, NULL, 0), xErrno_InvalidArg);
    CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(NULL, (size_t)n, &a, key, 8), xErrno_InvalidArg);
    CHECK(find_attr(&d, xStunAttrType_Fingerprint, &a));
    CHECK_EQ_INT(a.length, 4);
    CHECK_EQ_INT(xStunAttrVerifyFingerprint(buf, (size_t)n, &a), xErrno_Ok);
    /* Wrong attribute passed to the other verifier: wrong length. */
    CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, key, 8), xErrno_InvalidArg);
    buf[25] ^= 0x01; /* corrupt the username */
    CHECK_EQ_INT(xStunAttrVerifyFingerprint(buf, (size_t)n, &a), xErrno_InvalidArg);
    CHECK(find_attr(&d, xStunAttrType_MessageIntegrity, &a));
    CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, key, 8), xErrno_InvalidArg);
  }
}

static void test_attr_errors(void) {
  uint8_t small[8];
  uint8_t buf[512];
  char long_ufrag[200];
  xStunAttrWriter w;
  struct sockaddr_storage unspec;
  struct sockaddr_in a4 = v4("10.0.0.1", 1);
  xStunAttr a;
  struct sockaddr_storage out;
  const uint8_t fam3[8] = {0, 3, 0, 1, 1, 2, 3, 4};

  xStunAttrWriterInit(&w, small, sizeof small);
  CHECK_EQ_INT(xStunAttrWritePriority(&w, 1), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWritePriority(&w, 1), xErrno_NoMemory);
  CHECK_EQ_INT(xStunAttrWriteUseCandidate(&w), xErrno_NoMemory);
  CHECK_EQ_INT(w.pos, 8);
  CHECK_EQ_INT(xStunAttrWritePriority(NULL, 1), xErrno_InvalidArg);
  xStunAttrWriterInit(NULL, small, sizeof small);

  xStunAttrWriterInit(&w, buf, sizeof buf);
  memset(long_ufrag, 'a', sizeof long_ufrag - 1);
  long_ufrag[sizeof long_ufrag - 1] = '\0';
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, long_ufrag, long_ufrag), xErrno_NoMemory);
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, NULL, "x"), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, "x", NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteErrorCode(&w, 299, "x"), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteErrorCode(&w, 700, "x"), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteRealm(&w, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteNonce(&w, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteSoftware(&w, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteMessageIntegrity(&w, NULL, (const uint8_t *)"k", 1), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteMessageIntegrity(&w, buf, NULL, 1), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteFingerprint(&w, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteFingerprint(NULL, buf), xErrno_InvalidArg);
  memset(&unspec, 0, sizeof unspec);
  CHECK_EQ_INT(xStunAttrWriteMappedAddress(&w, (struct sockaddr *)&unspec), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteXorMappedAddress(&w, (struct sockaddr *)&unspec, kTxn), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteXorMappedAddress(&w, NULL, kTxn), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrWriteXorMappedAddress(&w, (struct sockaddr *)&a4, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(w.pos, 0);

  a.type = xStunAttrType_MappedAddress;
  a.length = 7;
  a.value = fam3;
  CHECK_EQ_INT(xStunAttrDecodeMappedAddress(&a, &out), xErrno_InvalidArg);
  a.length = 8;
  CHECK_EQ_INT(xStunAttrDecodeMappedAddress(&a, &out), xErrno_InvalidArg); /* family 3 */
  CHECK_EQ_INT(xStunAttrDecodeMappedAddress(&a, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrDecodeMappedAddress(NULL, &out), xErrno_InvalidArg);
  CHECK_EQ_INT(xStunAttrVerifyFingerprint(buf, sizeof buf, NULL), xErrno_InvalidArg);

  {
    xStunAttrIter it;
    CHECK(!xStunAttrIterNext(NULL, &a));
    xStunAttrIterInit(&it, NULL);
    CHECK(!xStunAttrIterNext(&it, &a));
    xStunAttrIterInit(NULL, NULL);
  }
}

/* ---- RFC 5769 ------------------------------------------------------------ */

static const uint8_t kReq[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
    0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
    0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
    0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
    0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
    0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

static const uint8_t kRespV4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
    0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
    0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
    0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

static const uint8_t kRespV6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
    0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
    0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6,
    0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const uint8_t kLongTerm[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
    0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3,
    0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9,
    0x00, 0x00, 0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39,
    0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54,
    0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70,
    0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2,
    0x8c, 0xa8, 0x96, 0x66};

static const char kShortTermPwd[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t kRfcTxn[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
/* "マトリックス" in UTF-8 */
static const char kMatrixUser[] =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

/* Decodes a sample and checks MESSAGE-INTEGRITY (with key) and, when
 * has_fp, FINGERPRINT; returns the attribute count. */
static int verify_sample(const uint8_t *msg, size_t len, const uint8_t *key, size_t key_len,
                         bool has_fp) {
  xStunMsg d;
  xStunAttrIter it;
  xStunAttr a;
  int n = 0, mi = 0, fp = 0;
  CHECK(xStunMsgIsStun(msg, len));
  CHECK_EQ_INT(xStunMsgDecode(&d, msg, len), xErrno_Ok);
  CHECK_EQ_INT(20 + d.length, len);
  xStunAttrIterInit(&it, &d);
  while (xStunAttrIterNext(&it, &a)) {
    n++;
    if (a.type == xStunAttrType_MessageIntegrity) {
      mi++;
      CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(msg, len, &a, key, key_len), xErrno_Ok);
      CHECK_EQ_INT(xStunAttrVerifyMessageIntegrity(msg, len, &a, key, key_len - 1),
                   xErrno_InvalidArg);
    }
    if (a.type == xStunAttrType_Fingerprint) {
      fp++;
      CHECK_EQ_INT(xStunAttrVerifyFingerprint(msg, len, &a), xErrno_Ok);
    }
  }
  CHECK_EQ_INT(mi, 1);
  CHECK_EQ_INT(fp, has_fp ? 1 : 0);
  return n;
}

static void test_rfc5769_request(void) {
  uint8_t buf[256];
  xStunMsg m, d;
  xStunAttrWriter w;
  xStunAttr a;
  const uint8_t *key = (const uint8_t *)kShortTermPwd;
  size_t key_len = strlen(kShortTermPwd);

  CHECK_EQ_INT(verify_sample(kReq, sizeof kReq, key, key_len, true), 6);
  CHECK_EQ_INT(xStunMsgDecode(&d, kReq, sizeof kReq), xErrno_Ok);
  CHECK_EQ_INT(d.type, xStunMsgType_BindingRequest);
  CHECK(memcmp(d.txn_id, kRfcTxn, 12) == 0);
  CHECK(find_attr(&d, xStunAttrType_Username, &a) && a.length == 9 &&
        memcmp(a.value, "evtj:h6vY", 9) == 0);
  CHECK(find_attr(&d, xStunAttrType_Priority, &a) && xReadU32BE(a.value) == 0x6e0001ffu);
  CHECK(find_attr(&d, xStunAttrType_IceControlled, &a) &&
        xReadU64BE(a.value) == 0x932ff9b151263b36ull);
  CHECK(find_attr(&d, xStunAttrType_Software, &a) && a.length == 16 &&
        memcmp(a.value, "STUN test client", 16) == 0);

  /* Re-encode with the writers; the sample pads USERNAME with spaces. */
  begin(buf, sizeof buf, xStunMsgType_BindingRequest, kRfcTxn, &m, &w);
  CHECK_EQ_INT(xStunAttrWriteSoftware(&w, "STUN test client"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWritePriority(&w, 0x6e0001ffu), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteIceControlled(&w, 0x932ff9b151263b36ull), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteUsername(&w, "evtj", "h6vY"), xErrno_Ok);
  memset(w.buf + w.pos - 3, ' ', 3);
  CHECK_EQ_INT(xStunAttrWriteMessageIntegrity(&w, buf, key, key_len), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteFingerprint(&w, buf), xErrno_Ok);
  CHECK_EQ_INT(finish(buf, sizeof buf, &m, &w), sizeof kReq);
  CHECK(memcmp(buf, kReq, sizeof kReq) == 0);
}

static void test_rfc5769_responses(void) {
  uint8_t buf[256];
  xStunMsg m, d;
  xStunAttrWriter w;
  xStunAttr a;
  struct sockaddr_storage out;
  const uint8_t *key = (const uint8_t *)kShortTermPwd;
  size_t key_len = strlen(kShortTermPwd);
  struct sockaddr_in e4 = v4("192.0.2.1", 32853);
  struct sockaddr_in6 e6 = v6("2001:db8:1234:5678:11:2233:4455:6677", 32853);
  int v;

  for (v = 0; v < 2; v++) {
    const uint8_t *sample = v == 0 ? kRespV4 : kRespV6;
    size_t len = v == 0 ? sizeof kRespV4 : sizeof kRespV6;
    const struct sockaddr *addr = v == 0 ? (const struct sockaddr *)&e4
                                         : (const struct sockaddr *)&e6;

    CHECK_EQ_INT(verify_sample(sample, len, key, key_len, true), 4);
    CHECK_EQ_INT(xStunMsgDecode(&d, sample, len), xErrno_Ok);
    CHECK(xStunMsgIsSuccessResponse(d.type));
    CHECK(find_attr(&d, xStunAttrType_XorMappedAddress, &a));
    CHECK_EQ_INT(xStunAttrDecodeXorMappedAddress(&a, d.txn_id, &out), xErrno_Ok);
    if (v == 0) {
      const struct sockaddr_in *o = (const struct sockaddr_in *)&out;
      CHECK_EQ_INT(o->sin_family, AF_INET);
      CHECK_EQ_INT(ntohs(o->sin_port), 32853);
      CHECK(o->sin_addr.s_addr == e4.sin_addr.s_addr);
    } else {
      const struct sockaddr_in6 *o = (const struct sockaddr_in6 *)&out;
      CHECK_EQ_INT(o->sin6_family, AF_INET6);
      CHECK_EQ_INT(ntohs(o->sin6_port), 32853);
      CHECK(memcmp(&o->sin6_addr, &e6.sin6_addr, 16) == 0);
    }

    begin(buf, sizeof buf, xStunMsgType_BindingResponse, kRfcTxn, &m, &w);
    CHECK_EQ_INT(xStunAttrWriteSoftware(&w, "test vector"), xErrno_Ok);
    w.buf[w.pos - 1] = ' '; /* the samples pad SOFTWARE with a space */
    CHECK_EQ_INT(xStunAttrWriteXorMappedAddress(&w, addr, kRfcTxn), xErrno_Ok);
    CHECK_EQ_INT(xStunAttrWriteMessageIntegrity(&w, buf, key, key_len), xErrno_Ok);
    CHECK_EQ_INT(xStunAttrWriteFingerprint(&w, buf), xErrno_Ok);
    CHECK_EQ_INT(finish(buf, sizeof buf, &m, &w), len);
    CHECK(memcmp(buf, sample, len) == 0);
  }
}

static void test_rfc5769_long_term(void) {
  uint8_t buf[256];
  uint8_t key[XICE_MD5_DIGEST_SIZE];
  char cred[128];
  xStunMsg m, d;
  xStunAttrWriter w;
  xStunAttr a;
  size_t ulen = strlen(kMatrixUser);
  const uint8_t txn[12] = {0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e};

  /* key = MD5(username ":" realm ":" password) */
  strcpy(cred, kMatrixUser);
  strcat(cred, ":example.org:TheMatrIX");
  xIceMD5((const uint8_t *)cred, strlen(cred), key);

  CHECK_EQ_INT(verify_sample(kLongTerm, sizeof kLongTerm, key, sizeof key, false), 4);
  CHECK_EQ_INT(xStunMsgDecode(&d, kLongTerm, sizeof kLongTerm), xErrno_Ok);
  CHECK(memcmp(d.txn_id, txn, 12) == 0);
  CHECK(find_attr(&d, xStunAttrType_Username, &a) && a.length == ulen &&
        memcmp(a.value, kMatrixUser, ulen) == 0);
  CHECK(find_attr(&d, xStunAttrType_Realm, &a) && a.length == 11);
  CHECK(find_attr(&d, xStunAttrType_Nonce, &a) && a.length == 28 &&
        memcmp(a.value, "f//499k954d6OL34oL9FSTvy64sA", 28) == 0);

  /* Re-encode. xStunAttrWriteUsername writes the ICE form "remote:local",
   * so this plain TURN username is laid out by hand. */
  begin(buf, sizeof buf, xStunMsgType_BindingRequest, txn, &m, &w);
  xWriteU16BE(w.buf, xStunAttrType_Username);
  xWriteU16BE(w.buf + 2, (uint16_t)ulen);
  memcpy(w.buf + 4, kMatrixUser, ulen);
  memset(w.buf + 4 + ulen, 0, XSTUN_ALIGN4(ulen) - ulen);
  w.pos = 4 + XSTUN_ALIGN4(ulen);
  CHECK_EQ_INT(xStunAttrWriteNonce(&w, "f//499k954d6OL34oL9FSTvy64sA"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteRealm(&w, "example.org"), xErrno_Ok);
  CHECK_EQ_INT(xStunAttrWriteMessageIntegrity(&w, buf, key, sizeof key), xErrno_Ok);
  CHECK_EQ_INT(finish(buf, sizeof buf, &m, &w), sizeof kLongTerm);
  CHECK(memcmp(buf, kLongTerm, sizeof kLongTerm) == 0);
}

int main(void) {
  test_msg();
  test_attr_round_trips();
  test_attr_integrity();
  test_attr_errors();
  test_rfc5769_request();
  test_rfc5769_responses();
  test_rfc5769_long_term();
  return CHECK_DONE();
}
