/* Spec section 6, the codec half: the behaviours of upstream's
 * ice_candidate, ice_crypto, sdp, stun_attr, stun_msg and turn (channel
 * data) tests and datachannel's codec and NULL-handle cases, one function
 * each, written from the spec text. test_upstream_behaviours.c has the
 * transports, the agent, the transaction manager and the TURN client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <xp2p/datachannel.h>
#include <xp2p/ice_candidate.h>
#include <xp2p/ice_crypto.h>
#include <xp2p/ice_pair.h>
#include <xp2p/sctp_transport.h>
#include <xp2p/sdp.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>
#include <xp2p/turn_channel.h>

#include "upstream.h"

static const uint8_t kTxn[XSTUN_TXN_ID_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static struct sockaddr_storage v4(const char *ip, uint16_t port) {
  struct sockaddr_storage ss;
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  memset(&ss, 0, sizeof ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port) {
  struct sockaddr_storage ss;
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
  memset(&ss, 0, sizeof ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a->sin6_addr);
  return ss;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a,
                              *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
  }
}

/* ---- ice_candidate_test ---- */

static int ice_candidate_HostPriorityFormula(void) {
  EXPECT(xIceCandidatePriority(xIceCandidateType_Host, 65535, 1) == 2130706431u);
  return 1;
}
static int ice_candidate_SrflxPriorityFormula(void) {
  EXPECT(xIceCandidatePriority(xIceCandidateType_Srflx, 65535, 1) == 1694498815u);
  return 1;
}
static int ice_candidate_RelayPriorityFormula(void) {
  EXPECT(xIceCandidatePriority(xIceCandidateType_Relay, 65535, 1) == 16777215u);
  return 1;
}
static int ice_candidate_PriorityOrdering(void) {
  uint32_t h = xIceCandidatePriority(xIceCandidateType_Host, 65535, 1);
  uint32_t p = xIceCandidatePriority(xIceCandidateType_Prflx, 65535, 1);
  uint32_t s = xIceCandidatePriority(xIceCandidateType_Srflx, 65535, 1);
  uint32_t r = xIceCandidatePriority(xIceCandidateType_Relay, 65535, 1);
  EXPECT(h > p && p > s && s > r);
  return 1;
}
static int ice_candidate_ComponentIdAffectsPriority(void) {
  EXPECT(xIceCandidatePriority(xIceCandidateType_Host, 65535, 1) >
         xIceCandidatePriority(xIceCandidateType_Host, 65535, 2));
  return 1;
}
static xIceCandidate cand_with_base(xIceCandidateType type, const char *ip) {
  xIceCandidate c;
  memset(&c, 0, sizeof c);
  c.type = type;
  c.component_id = 1;
  c.base_addr = v4(ip, 5000);
  c.addr = c.base_addr;
  return c;
}
static int ice_candidate_SameTypeAndBaseGiveSameFoundation(void) {
  xIceCandidate a = cand_with_base(xIceCandidateType_Host, "192.168.1.2");
  xIceCandidate b = cand_with_base(xIceCandidateType_Host, "192.168.1.2");
  xIceCandidateFoundation(&a, NULL);
  xIceCandidateFoundation(&b, NULL);
  EXPECT(a.foundation[0] != 0);
  EXPECT(strcmp(a.foundation, b.foundation) == 0);
  return 1;
}
static int ice_candidate_DifferentTypeGivesDifferentFoundation(void) {
  xIceCandidate a = cand_with_base(xIceCandidateType_Host, "192.168.1.2");
  xIceCandidate b = cand_with_base(xIceCandidateType_Srflx, "192.168.1.2");
  xIceCandidateFoundation(&a, NULL);
  xIceCandidateFoundation(&b, NULL);
  EXPECT(strcmp(a.foundation, b.foundation) != 0);
  return 1;
}
static int ice_candidate_TypeStringRoundTrip(void) {
  static const xIceCandidateType types[] = {xIceCandidateType_Host, xIceCandidateType_Srflx,
                                            xIceCandidateType_Prflx, xIceCandidateType_Relay};
  static const char *names[] = {"host", "srflx", "prflx", "relay"};
  int i;
  for (i = 0; i < 4; i++) {
    xIceCandidateType t = (xIceCandidateType)-1;
    EXPECT(strcmp(xIceCandidateTypeStr(types[i]), names[i]) == 0);
    EXPECT(xIceCandidateTypeFromStr(names[i], &t) == xErrno_Ok);
    EXPECT(t == types[i]);
  }
  return 1;
}
static int ice_candidate_InvalidTypeString(void) {
  xIceCandidateType t;
  EXPECT(xIceCandidateTypeFromStr("bogus", &t) != xErrno_Ok);
  return 1;
}
static int ice_candidate_SockaddrPortIPv4(void) {
  struct sockaddr_storage a = v4("10.0.0.1", 12345);
  EXPECT(xSockaddrPort((struct sockaddr *)&a) == 12345);
  return 1;
}
static int ice_candidate_SockaddrIPv4String(void) {
  struct sockaddr_storage a = v4("10.0.0.1", 12345);
  char buf[64];
  EXPECT(xSockaddrIP((struct sockaddr *)&a, buf, sizeof buf) == buf);
  EXPECT(strcmp(buf, "10.0.0.1") == 0);
  return 1;
}
static int ice_candidate_PairPriorityFormula(void) {
  EXPECT(xIcePairPriority(100, 50) == ((uint64_t)50 << 32) + 201);
  return 1;
}
static int ice_candidate_PairPrioritySymmetry(void) {
  EXPECT(xIcePairPriority(100, 50) != xIcePairPriority(50, 100));
  return 1;
}
static int ice_candidate_PairPriorityEqual(void) {
  EXPECT(xIcePairPriority(100, 100) == ((uint64_t)100 << 32) + 200);
  return 1;
}
static int ice_candidate_SortDescending(void) {
  xIcePair p[3];
  memset(p, 0, sizeof p);
  p[0].priority = 100;
  p[1].priority = 300;
  p[2].priority = 200;
  xIcePairSort(p, 3);
  EXPECT(p[0].priority == 300 && p[1].priority == 200 && p[2].priority == 100);
  return 1;
}

/* ---- ice_crypto_test ---- */

static int md5_is(const void *in, size_t len, const char *hex) {
  uint8_t d[XICE_MD5_DIGEST_SIZE];
  char s[33];
  int i;
  xIceMD5((const uint8_t *)in, len, d);
  for (i = 0; i < 16; i++) snprintf(s + 2 * i, 3, "%02x", d[i]);
  return strcmp(s, hex) == 0;
}
static int ice_crypto_MD5Empty(void) {
  EXPECT(md5_is("", 0, "d41d8cd98f00b204e9800998ecf8427e"));
  return 1;
}
static int ice_crypto_MD5Hello(void) {
  EXPECT(md5_is("hello", 5, "5d41402abc4b2a76b9719d911017c592"));
  return 1;
}
static int ice_crypto_MD5ABCLower(void) {
  EXPECT(md5_is("abc", 3, "900150983cd24fb0d6963f7d28e17f72"));
  return 1;
}
static int ice_crypto_MD5LongTermCredential(void) {
  uint8_t a[16], b[16], c[16];
  const char *k1 = "user:realm:pass", *k2 = "user:realm:pasS";
  xIceMD5((const uint8_t *)k1, strlen(k1), a);
  xIceMD5((const uint8_t *)k1, strlen(k1), b);
  xIceMD5((const uint8_t *)k2, strlen(k2), c);
  EXPECT(memcmp(a, b, 16) == 0);
  EXPECT(memcmp(a, c, 16) != 0);
  return 1;
}
static int ice_crypto_MD5ExactBlockSize(void) {
  char in[55];
  memset(in, 'a', sizeof in);
  EXPECT(md5_is(in, sizeof in, "ef1772b6dff9a122358552954ad0df65"));
  return 1;
}
static int ice_crypto_MD5CrossBlockBoundary(void) {
  char in[56];
  uint8_t a[16], b[16];
  memset(in, 'a', sizeof in);
  xIceMD5((const uint8_t *)in, 56, a);
  xIceMD5((const uint8_t *)in, 55, b);
  EXPECT(memcmp(a, b, 16) != 0);
  EXPECT(md5_is(in, 56, "3b0c8ac703f828b04c6c197006d17218"));
  return 1;
}
static int ice_crypto_MD5MultiBlock(void) {
  uint8_t in[128], a[16], b[16];
  int i;
  for (i = 0; i < 128; i++) in[i] = (uint8_t)i;
  xIceMD5(in, 128, a);
  xIceMD5(in, 128, b);
  EXPECT(memcmp(a, b, 16) == 0);
  EXPECT(md5_is(in, 128, "37eff01866ba3f538421b30b7cbefcac"));
  return 1;
}

/* ---- sdp_test ---- */

static xIceCandidate host_cand(void) {
  xIceCandidate c;
  memset(&c, 0, sizeof c);
  strcpy(c.foundation, "12345");
  c.component_id = 1;
  c.priority = 2130706431u;
  c.type = xIceCandidateType_Host;
  c.addr = v4("192.168.1.100", 5000);
  return c;
}
static xIceCandidate srflx_cand(void) {
  xIceCandidate c;
  memset(&c, 0, sizeof c);
  strcpy(c.foundation, "67890");
  c.component_id = 1;
  c.priority = 1694498815u;
  c.type = xIceCandidateType_Srflx;
  c.addr = v4("203.0.113.5", 6000);
  c.rel_addr = v4("192.168.1.100", 5000);
  return c;
}
static int sdp_EncodeCandidateHost(void) {
  xIceCandidate c = host_cand();
  char line[256];
  EXPECT(xIceSdpEncodeCandidate(&c, line, sizeof line) > 0);
  EXPECT(strstr(line, "a=candidate:12345") != NULL);
  EXPECT(strstr(line, "192.168.1.100") != NULL);
  EXPECT(strstr(line, "5000") != NULL);
  EXPECT(strstr(line, "typ host") != NULL);
  return 1;
}
static int sdp_EncodeCandidateSrflx(void) {
  xIceCandidate c = srflx_cand();
  char line[256];
  EXPECT(xIceSdpEncodeCandidate(&c, line, sizeof line) > 0);
  EXPECT(strstr(line, "typ srflx") != NULL);
  EXPECT(strstr(line, "raddr 192.168.1.100") != NULL);
  EXPECT(strstr(line, "rport 5000") != NULL);
  return 1;
}
static int sdp_DecodeCandidateHost(void) {
  xIceCandidate c;
  struct sockaddr_storage want = v4("192.168.1.100", 5000);
  EXPECT(xIceSdpDecodeCandidate("a=candidate:12345 1 UDP 2130706431 192.168.1.100 5000 typ host",
                                &c) == xErrno_Ok);
  EXPECT(strcmp(c.foundation, "12345") == 0);
  EXPECT(c.component_id == 1);
  EXPECT(c.priority == 2130706431u);
  EXPECT(c.type == xIceCandidateType_Host);
  EXPECT(same_addr(&c.addr, &want));
  return 1;
}
static int sdp_DecodeCandidateSrflx(void) {
  xIceCandidate c;
  struct sockaddr_storage rel = v4("192.168.1.100", 5000);
  EXPECT(xIceSdpDecodeCandidate("candidate:67890 1 UDP 1694498815 203.0.113.5 6000 typ srflx "
                                "raddr 192.168.1.100 rport 5000",
                                &c) == xErrno_Ok);
  EXPECT(c.type == xIceCandidateType_Srflx);
  EXPECT(same_addr(&c.rel_addr, &rel));
  return 1;
}
static int sdp_CandidateRoundTrip(void) {
  xIceCandidate a = srflx_cand(), b;
  char line[256];
  EXPECT(xIceSdpEncodeCandidate(&a, line, sizeof line) > 0);
  EXPECT(xIceSdpDecodeCandidate(line, &b) == xErrno_Ok);
  EXPECT(strcmp(a.foundation, b.foundation) == 0);
  EXPECT(a.component_id == b.component_id && a.priority == b.priority && a.type == b.type);
  return 1;
}
static int sdp_FullSdpEncodeDecodeRoundTrip(void) {
  xIceCandidate c[2];
  char text[XSDP_MAX_SIZE];
  static xIceSdp d;
  c[0] = host_cand();
  c[1] = srflx_cand();
  EXPECT(xIceSdpEncode("ufragAB1", "passwordpasswordpassword", c, 2, true, text, sizeof text) > 0);
  EXPECT(xIceSdpDecode(text, strlen(text), &d) == xErrno_Ok);
  EXPECT(strcmp(d.ice_ufrag, "ufragAB1") == 0);
  EXPECT(strcmp(d.ice_pwd, "passwordpasswordpassword") == 0);
  EXPECT(d.trickle && !d.end_of_candidates);
  EXPECT(d.candidate_count == 2);
  EXPECT(d.candidates[0].type == xIceCandidateType_Host);
  EXPECT(d.candidates[1].type == xIceCandidateType_Srflx);
  return 1;
}
static int sdp_DecodeMissingUfragFails(void) {
  static xIceSdp d;
  const char *s = "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-pwd:passwordpasswordpassword\r\n";
  EXPECT(xIceSdpDecode(s, strlen(s), &d) != xErrno_Ok);
  return 1;
}
static int sdp_DecodeMissingPwdFails(void) {
  static xIceSdp d;
  const char *s = "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-ufrag:ufragAB1\r\n";
  EXPECT(xIceSdpDecode(s, strlen(s), &d) != xErrno_Ok);
  return 1;
}
static int sdp_DecodeEndOfCandidates(void) {
  static xIceSdp d;
  const char *s = "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-ufrag:ufragAB1\r\n"
                  "a=ice-pwd:passwordpasswordpassword\r\na=end-of-candidates\r\n";
  EXPECT(xIceSdpDecode(s, strlen(s), &d) == xErrno_Ok);
  EXPECT(d.end_of_candidates);
  return 1;
}
static int sdp_DecodeInvalidCandidateLineSkipped(void) {
  static xIceSdp d;
  const char *s = "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-ufrag:ufragAB1\r\n"
                  "a=ice-pwd:passwordpasswordpassword\r\na=candidate:garbage\r\n"
                  "a=candidate:1 1 UDP 2130706431 192.168.1.100 5000 typ host\r\n";
  EXPECT(xIceSdpDecode(s, strlen(s), &d) == xErrno_Ok);
  EXPECT(d.candidate_count == 1);
  return 1;
}

/* ---- stun_attr_test ---- */

/* A message of type `type` in buf: header, then the attributes a writer
 * puts after it; finish() stores the length and decodes it into *msg. */
static void begin(uint8_t *buf, size_t cap, xStunMsg *m, xStunAttrWriter *w) {
  xStunMsgInit(m, xStunMsgType_BindingRequest, kTxn);
  xStunMsgEncode(m, buf, cap);
  xStunAttrWriterInit(w, buf + XSTUN_HEADER_SIZE, cap - XSTUN_HEADER_SIZE);
}
static int finish(uint8_t *buf, size_t cap, xStunMsg *m, const xStunAttrWriter *w) {
  int n;
  m->attrs = NULL;
  m->attrs_len = (uint16_t)w->pos;
  n = xStunMsgEncode(m, buf, cap);
  if (n < 0 || xStunMsgDecode(m, buf, (size_t)n) != xErrno_Ok) return -1;
  return n;
}
static int first_attr(const xStunMsg *m, xStunAttrType t, xStunAttr *out) {
  xStunAttrIter it;
  xStunAttrIterInit(&it, m);
  while (xStunAttrIterNext(&it, out))
    if (out->type == t) return 1;
  return 0;
}
static int address_round_trip(struct sockaddr_storage in) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  struct sockaddr_storage out;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteXorMappedAddress(&w, (struct sockaddr *)&in, kTxn) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_XorMappedAddress, &a));
  EXPECT(xStunAttrDecodeXorMappedAddress(&a, kTxn, &out) == xErrno_Ok);
  EXPECT(same_addr(&in, &out));
  return 1;
}
static int stun_attr_XorMappedAddressIPv4RoundTrip(void) {
  return address_round_trip(v4("192.168.1.1", 12345));
}
static int stun_attr_XorMappedAddressIPv6RoundTrip(void) {
  return address_round_trip(v6("2001:db8::1", 54321));
}
static int stun_attr_UsernameRoundTrip(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  const char *want = "remote_ufrag:local_ufrag";
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteUsername(&w, "remote_ufrag", "local_ufrag") == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_Username, &a));
  EXPECT(a.length == strlen(want) && memcmp(a.value, want, a.length) == 0);
  return 1;
}
static int stun_attr_PriorityRoundTrip(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWritePriority(&w, 1862270975u) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_Priority, &a));
  EXPECT(a.length == 4 && xReadU32BE(a.value) == 1862270975u);
  return 1;
}
static int stun_attr_UseCandidateZeroLength(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteUseCandidate(&w) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_UseCandidate, &a));
  EXPECT(a.length == 0);
  return 1;
}
static int stun_attr_IceControllingRoundTrip(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteIceControlling(&w, 0x0123456789ABCDEFull) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_IceControlling, &a));
  EXPECT(a.length == 8 && xReadU64BE(a.value) == 0x0123456789ABCDEFull);
  return 1;
}
static int stun_attr_ErrorCodeRoundTrip(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  int code = 0;
  const char *reason = NULL;
  size_t rlen = 0;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteErrorCode(&w, 401, "Unauthorized") == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_ErrorCode, &a));
  EXPECT(xStunAttrDecodeErrorCode(&a, &code, &reason, &rlen) == xErrno_Ok);
  EXPECT(code == 401 && rlen == 12 && memcmp(reason, "Unauthorized", 12) == 0);
  return 1;
}
static int stun_attr_MessageIntegrityWriteAndVerify(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  int n;
  const uint8_t key[] = "secretkey", bad[] = "wrongkey!";
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWritePriority(&w, 7) == xErrno_Ok);
  EXPECT(xStunAttrWriteMessageIntegrity(&w, buf, key, 9) == xErrno_Ok);
  n = finish(buf, sizeof buf, &m, &w);
  EXPECT(n > 0);
  EXPECT(first_attr(&m, xStunAttrType_MessageIntegrity, &a));
  EXPECT(a.length == 20);
  EXPECT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, key, 9) == xErrno_Ok);
  EXPECT(xStunAttrVerifyMessageIntegrity(buf, (size_t)n, &a, bad, 9) != xErrno_Ok);
  return 1;
}
static int stun_attr_FingerprintWriteAndVerify(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  int n;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWritePriority(&w, 7) == xErrno_Ok);
  EXPECT(xStunAttrWriteFingerprint(&w, buf) == xErrno_Ok);
  n = finish(buf, sizeof buf, &m, &w);
  EXPECT(n > 0);
  EXPECT(first_attr(&m, xStunAttrType_Fingerprint, &a));
  EXPECT(xStunAttrVerifyFingerprint(buf, (size_t)n, &a) == xErrno_Ok);
  buf[XSTUN_HEADER_SIZE + 5] ^= 0xFF; /* inside the PRIORITY value */
  EXPECT(xStunAttrVerifyFingerprint(buf, (size_t)n, &a) != xErrno_Ok);
  return 1;
}
static int stun_attr_MultipleAttributeIteration(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttrIter it;
  xStunAttr a;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWritePriority(&w, 1) == xErrno_Ok);
  EXPECT(xStunAttrWriteUseCandidate(&w) == xErrno_Ok);
  EXPECT(xStunAttrWriteIceControlling(&w, 2) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  xStunAttrIterInit(&it, &m);
  EXPECT(xStunAttrIterNext(&it, &a) && a.type == xStunAttrType_Priority);
  EXPECT(xStunAttrIterNext(&it, &a) && a.type == xStunAttrType_UseCandidate);
  EXPECT(xStunAttrIterNext(&it, &a) && a.type == xStunAttrType_IceControlling);
  EXPECT(!xStunAttrIterNext(&it, &a));
  return 1;
}
static int stun_attr_ComprehensionRequired(void) {
  EXPECT(xStunAttrIsComprehensionRequired(xStunAttrType_Username));
  EXPECT(xStunAttrIsComprehensionRequired(xStunAttrType_Priority));
  EXPECT(!xStunAttrIsComprehensionRequired(xStunAttrType_Software));
  EXPECT(!xStunAttrIsComprehensionRequired(xStunAttrType_Fingerprint));
  EXPECT(!xStunAttrIsComprehensionRequired(xStunAttrType_IceControlling));
  return 1;
}
static int stun_attr_PaddingAlignment(void) {
  uint8_t buf[64];
  xStunAttrWriter w;
  xStunAttrWriterInit(&w, buf, sizeof buf);
  EXPECT(xStunAttrWriteUsername(&w, "ab", "cd") == xErrno_Ok);
  EXPECT(w.pos == 12);
  return 1;
}
static int stun_attr_LifetimeRoundTrip(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteLifetime(&w, 600) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_Lifetime, &a));
  EXPECT(a.length == 4 && xReadU32BE(a.value) == 600);
  return 1;
}
static int stun_attr_RequestedTransportRoundTrip(void) {
  uint8_t buf[256];
  xStunMsg m;
  xStunAttrWriter w;
  xStunAttr a;
  begin(buf, sizeof buf, &m, &w);
  EXPECT(xStunAttrWriteRequestedTransport(&w, 0x11000000u) == xErrno_Ok);
  EXPECT(finish(buf, sizeof buf, &m, &w) > 0);
  EXPECT(first_attr(&m, xStunAttrType_RequestedTransport, &a));
  EXPECT(a.length == 4 && xReadU32BE(a.value) == 0x11000000u);
  return 1;
}

/* ---- stun_msg_test ---- */

static int stun_msg_EncodeDecodeRoundTrip(void) {
  uint8_t buf[64];
  xStunMsg m, d;
  xStunMsgInit(&m, xStunMsgType_BindingRequest, kTxn);
  EXPECT(xStunMsgEncode(&m, buf, sizeof buf) == 20);
  EXPECT(xStunMsgDecode(&d, buf, 20) == xErrno_Ok);
  EXPECT(d.type == xStunMsgType_BindingRequest);
  EXPECT(d.length == 0 && d.attrs_len == 0 && d.attrs == NULL);
  EXPECT(memcmp(d.txn_id, kTxn, 12) == 0);
  return 1;
}
static int stun_msg_EncodeDecodeWithPayload(void) {
  uint8_t buf[64], payload[12];
  xStunMsg m, d;
  int i, n;
  for (i = 0; i < 12; i++) payload[i] = (uint8_t)(0xA0 + i);
  /* PRIORITY-shaped TLV: type 0x0024, length 8, 8 value bytes. */
  payload[0] = 0x00;
  payload[1] = 0x24;
  payload[2] = 0x00;
  payload[3] = 0x08;
  xStunMsgInit(&m, xStunMsgType_BindingRequest, kTxn);
  m.attrs = payload;
  m.attrs_len = 12;
  n = xStunMsgEncode(&m, buf, sizeof buf);
  EXPECT(n == 32);
  EXPECT(xStunMsgDecode(&d, buf, (size_t)n) == xErrno_Ok);
  EXPECT(d.attrs_len == 12 && memcmp(d.attrs, payload, 12) == 0);
  return 1;
}
static void header(uint8_t *buf, uint16_t type, uint16_t len, uint32_t cookie) {
  xWriteU16BE(buf, type);
  xWriteU16BE(buf + 2, len);
  xWriteU32BE(buf + 4, cookie);
  memcpy(buf + 8, kTxn, 12);
}
static int stun_msg_DecodeBufferTooSmall(void) {
  uint8_t buf[20];
  xStunMsg d;
  header(buf, 1, 0, 0x2112A442u);
  EXPECT(xStunMsgDecode(&d, buf, 10) != xErrno_Ok);
  return 1;
}
static int stun_msg_DecodeInvalidMagicCookie(void) {
  uint8_t buf[20];
  xStunMsg d;
  header(buf, 1, 0, 0xDEADBEEFu);
  EXPECT(xStunMsgDecode(&d, buf, 20) != xErrno_Ok);
  return 1;
}
static int stun_msg_DecodeFirstTwoBitsNotZero(void) {
  uint8_t buf[20];
  xStunMsg d;
  header(buf, 0xC001, 0, 0x2112A442u);
  EXPECT(xStunMsgDecode(&d, buf, 20) != xErrno_Ok);
  return 1;
}
static int stun_msg_DecodeLengthExceedsBuffer(void) {
  uint8_t buf[20];
  xStunMsg d;
  header(buf, 1, 100, 0x2112A442u);
  EXPECT(xStunMsgDecode(&d, buf, 20) != xErrno_Ok);
  return 1;
}
static int stun_msg_EncodeBufferTooSmall(void) {
  uint8_t buf[10];
  xStunMsg m;
  xStunMsgInit(&m, xStunMsgType_BindingRequest, kTxn);
  EXPECT(xStunMsgEncode(&m, buf, sizeof buf) == -1);
  return 1;
}
static int stun_msg_EncodeNullArgs(void) {
  uint8_t buf[64];
  xStunMsg m;
  xStunMsgInit(&m, xStunMsgType_BindingRequest, kTxn);
  EXPECT(xStunMsgEncode(NULL, buf, sizeof buf) == -1);
  EXPECT(xStunMsgEncode(&m, NULL, sizeof buf) == -1);
  return 1;
}
static int stun_msg_IsStunValid(void) {
  uint8_t buf[20];
  header(buf, 1, 0, 0x2112A442u);
  EXPECT(xStunMsgIsStun(buf, 20));
  return 1;
}
static int stun_msg_IsStunInvalid(void) {
  uint8_t buf[20];
  header(buf, 1, 0, 0x2112A442u);
  EXPECT(!xStunMsgIsStun(buf, 10));
  EXPECT(!xStunMsgIsStun(NULL, 20));
  buf[0] = 0xC0;
  EXPECT(!xStunMsgIsStun(buf, 20));
  header(buf, 1, 0, 0x12345678u);
  EXPECT(!xStunMsgIsStun(buf, 20));
  return 1;
}
static int stun_msg_IsStunChannelData(void) {
  uint8_t buf[20];
  header(buf, 1, 0, 0x2112A442u);
  buf[0] = 0x40;
  EXPECT(!xStunMsgIsStun(buf, 20));
  return 1;
}
static int stun_msg_MessageClassHelpers(void) {
  EXPECT(xStunMsgIsRequest(xStunMsgType_BindingRequest));
  EXPECT(xStunMsgIsIndication(xStunMsgType_BindingIndication));
  EXPECT(xStunMsgIsSuccessResponse(xStunMsgType_BindingResponse));
  EXPECT(xStunMsgIsErrorResponse(xStunMsgType_BindingErrorResponse));
  EXPECT(!xStunMsgIsRequest(xStunMsgType_BindingResponse));
  EXPECT(!xStunMsgIsSuccessResponse(xStunMsgType_BindingErrorResponse));
  return 1;
}

/* ---- turn_test: ChannelData codec ---- */

static int turn_EncodeDecodeRoundTrip(void) {
  uint8_t out[64];
  const uint8_t *data = NULL;
  uint16_t ch = 0, len = 0;
  EXPECT(xTurnChannelDataEncode(0x4001, (const uint8_t *)"hello", 5, out, sizeof out) == 12);
  EXPECT(xTurnChannelDataDecode(out, 12, &ch, &data, &len) == xErrno_Ok);
  EXPECT(ch == 0x4001 && len == 5 && memcmp(data, "hello", 5) == 0);
  return 1;
}
static int turn_DecodeInvalidChannel(void) {
  uint8_t buf[8] = {0x00, 0x01, 0x00, 0x04, 1, 2, 3, 4};
  const uint8_t *data;
  uint16_t ch, len;
  EXPECT(xTurnChannelDataDecode(buf, sizeof buf, &ch, &data, &len) != xErrno_Ok);
  return 1;
}
static int turn_DecodeTooShort(void) {
  uint8_t buf[3] = {0x40, 0x00, 0x00};
  const uint8_t *data;
  uint16_t ch, len;
  EXPECT(xTurnChannelDataDecode(buf, sizeof buf, &ch, &data, &len) != xErrno_Ok);
  return 1;
}
static int turn_IsChannelData(void) {
  EXPECT(xTurnIsChannelData(0x40) && xTurnIsChannelData(0x7F));
  EXPECT(!xTurnIsChannelData(0x00) && !xTurnIsChannelData(0x80) && !xTurnIsChannelData(0x3F));
  return 1;
}
static int turn_EncodeBufferTooSmall(void) {
  uint8_t out[8];
  EXPECT(xTurnChannelDataEncode(0x4001, (const uint8_t *)"hello", 5, out, sizeof out) == -1);
  return 1;
}

/* ---- datachannel_test (libx copy) ---- */

static int datachannel_OpenMessageRoundTrip(void) {
  /* The DATA_CHANNEL_OPEN layout of RFC 8832, built by hand and read back. */
  uint8_t m[64];
  const char *label = "chat", *proto = "json";
  size_t n = 12;
  m[0] = XDCEP_DATA_CHANNEL_OPEN;
  m[1] = XDCEP_CHANNEL_RELIABLE;
  xWriteU16BE(m + 2, 0);
  xWriteU32BE(m + 4, 0);
  xWriteU16BE(m + 8, (uint16_t)strlen(label));
  xWriteU16BE(m + 10, (uint16_t)strlen(proto));
  memcpy(m + n, label, 4);
  memcpy(m + n + 4, proto, 4);
  EXPECT(m[0] == 0x03 && m[1] == 0x00);
  EXPECT(xReadU16BE(m + 8) == 4 && xReadU16BE(m + 10) == 4);
  EXPECT(memcmp(m + 12, "chat", 4) == 0 && memcmp(m + 16, "json", 4) == 0);
  return 1;
}
static int datachannel_AckMessage(void) {
  EXPECT(XDCEP_DATA_CHANNEL_ACK == 0x02);
  return 1;
}
static int datachannel_ChannelTypeUnordered(void) {
  EXPECT(XDCEP_CHANNEL_RELIABLE_UNORDERED == 0x80);
  return 1;
}
static int datachannel_ChannelTypePartialRetransmit(void) {
  EXPECT(XDCEP_CHANNEL_PARTIAL_RTXS == 0x01 && XDCEP_CHANNEL_PARTIAL_RTXS_UNORDERED == 0x81);
  return 1;
}
static int datachannel_ChannelTypePartialTime(void) {
  EXPECT(XDCEP_CHANNEL_PARTIAL_TIME == 0x02 && XDCEP_CHANNEL_PARTIAL_TIME_UNORDERED == 0x82);
  return 1;
}
static int datachannel_EncodeWebRTCSdp(void) {
  char s[XSDP_MAX_SIZE];
  EXPECT(xIceSdpEncodeWebRTC("ufragAB1", "passwordpasswordpassword", NULL, 0, true,
                             "sha-256 AA:BB:CC", xIceSdpSetup_Actpass, "0", 5000, s,
                             sizeof s) > 0);
  EXPECT(strstr(s, "v=0") && strstr(s, "a=group:BUNDLE 0"));
  EXPECT(strstr(s, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"));
  EXPECT(strstr(s, "a=mid:0") && strstr(s, "a=ice-ufrag:ufragAB1"));
  EXPECT(strstr(s, "a=ice-pwd:passwordpasswordpassword"));
  EXPECT(strstr(s, "a=fingerprint:sha-256 AA:BB:CC") && strstr(s, "a=setup:actpass"));
  EXPECT(strstr(s, "a=sctp-port:5000") && strstr(s, "a=ice-options:trickle"));
  return 1;
}
static const char *kWebRtc =
    "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
    "a=ice-ufrag:ufragAB1\r\na=ice-pwd:passwordpasswordpassword\r\n"
    "a=fingerprint:sha-256 AA:BB:CC\r\na=setup:active\r\na=sctp-port:5000\r\n"
    "a=ice-options:trickle\r\n";
static int datachannel_DecodeWebRTCSdp(void) {
  static xIceSdp d;
  EXPECT(xIceSdpDecode(kWebRtc, strlen(kWebRtc), &d) == xErrno_Ok);
  EXPECT(strcmp(d.ice_ufrag, "ufragAB1") == 0);
  EXPECT(strcmp(d.ice_pwd, "passwordpasswordpassword") == 0);
  EXPECT(d.is_webrtc && d.trickle);
  EXPECT(strstr(d.fingerprint, "AA:BB:CC") != NULL);
  EXPECT(d.setup == xIceSdpSetup_Active);
  EXPECT(strcmp(d.mid, "0") == 0 && d.sctp_port == 5000);
  return 1;
}
static int datachannel_DecodeWebRTCSdpMissingFingerprint(void) {
  static xIceSdp d;
  char s[1024];
  const char *fp = strstr(kWebRtc, "a=fingerprint:");
  const char *end = strstr(fp, "\r\n") + 2;
  size_t head = (size_t)(fp - kWebRtc);
  memcpy(s, kWebRtc, head);
  strcpy(s + head, end);
  EXPECT(xIceSdpDecode(s, strlen(s), &d) == xErrno_InvalidArg);
  return 1;
}
static int datachannel_DecodePureIceSdpBackwardCompat(void) {
  static xIceSdp d;
  const char *s = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                  "m=application 9 UDP/ICE 0\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:ufragAB1\r\n"
                  "a=ice-pwd:passwordpasswordpassword\r\n";
  EXPECT(xIceSdpDecode(s, strlen(s), &d) == xErrno_Ok);
  EXPECT(!d.is_webrtc);
  return 1;
}
static int datachannel_EncodeDecodeRoundTrip(void) {
  static xIceSdp d;
  char s[XSDP_MAX_SIZE];
  EXPECT(xIceSdpEncodeWebRTC("ufragAB1", "passwordpasswordpassword", NULL, 0, true,
                             "sha-256 AA:BB:CC", xIceSdpSetup_Passive, "data", 5000, s,
                             sizeof s) > 0);
  EXPECT(xIceSdpDecode(s, strlen(s), &d) == xErrno_Ok);
  EXPECT(d.setup == xIceSdpSetup_Passive);
  EXPECT(strcmp(d.mid, "data") == 0 && d.sctp_port == 5000);
  return 1;
}
static int datachannel_CreateManagerNullSctp(void) {
  xDataChannelMgrConf c;
  memset(&c, 0, sizeof c);
  EXPECT(xDataChannelMgrCreate(&c) == NULL);
  EXPECT(xDataChannelMgrCreate(NULL) == NULL);
  return 1;
}
static int datachannel_DestroyNull(void) {
  xDataChannelMgrDestroy(NULL);
  return 1;
}
static int datachannel_OnDataNull(void) {
  xDataChannelMgrOnData(NULL, 0, XSCTP_PPID_BINARY, (const uint8_t *)"x", 1);
  return 1;
}
static int datachannel_OnStreamCloseNull(void) {
  xDataChannelMgrOnStreamClose(NULL, 0);
  return 1;
}
static int datachannel_SendStringNull(void) {
  EXPECT(xDataChannelSendString(NULL, "x", 1) == xErrno_InvalidArg);
  return 1;
}
static int datachannel_SendBinaryNull(void) {
  EXPECT(xDataChannelSendBinary(NULL, (const uint8_t *)"x", 1) == xErrno_InvalidArg);
  return 1;
}
static int datachannel_CloseNull(void) {
  xDataChannelClose(NULL);
  return 1;
}
static int datachannel_GetLabelNull(void) {
  const char *l = xDataChannelGetLabel(NULL);
  EXPECT(l != NULL && l[0] == 0);
  return 1;
}
static int datachannel_GetStateNull(void) {
  EXPECT(xDataChannelGetState(NULL) == xDataChannelState_Closed);
  return 1;
}
static int datachannel_GetStreamIdNull(void) {
  EXPECT(xDataChannelGetStreamId(NULL) == 0);
  return 1;
}
static int datachannel_PpidValues(void) {
  EXPECT(XSCTP_PPID_DCEP == 50 && XSCTP_PPID_STRING == 51 && XSCTP_PPID_BINARY == 53);
  EXPECT(XSCTP_PPID_STRING_EMPTY == 56 && XSCTP_PPID_BINARY_EMPTY == 57);
  return 1;
}

static const Behaviour kBehaviours[] = {
    BEHAVIOUR(ice_candidate, HostPriorityFormula),
    BEHAVIOUR(ice_candidate, SrflxPriorityFormula),
    BEHAVIOUR(ice_candidate, RelayPriorityFormula),
    BEHAVIOUR(ice_candidate, PriorityOrdering),
    BEHAVIOUR(ice_candidate, ComponentIdAffectsPriority),
    BEHAVIOUR(ice_candidate, SameTypeAndBaseGiveSameFoundation),
    BEHAVIOUR(ice_candidate, DifferentTypeGivesDifferentFoundation),
    BEHAVIOUR(ice_candidate, TypeStringRoundTrip),
    BEHAVIOUR(ice_candidate, InvalidTypeString),
    BEHAVIOUR(ice_candidate, SockaddrPortIPv4),
    BEHAVIOUR(ice_candidate, SockaddrIPv4String),
    BEHAVIOUR(ice_candidate, PairPriorityFormula),
    BEHAVIOUR(ice_candidate, PairPrioritySymmetry),
    BEHAVIOUR(ice_candidate, PairPriorityEqual),
    BEHAVIOUR(ice_candidate, SortDescending),
    BEHAVIOUR(ice_crypto, MD5Empty),
    BEHAVIOUR(ice_crypto, MD5Hello),
    BEHAVIOUR(ice_crypto, MD5ABCLower),
    BEHAVIOUR(ice_crypto, MD5LongTermCredential),
    BEHAVIOUR(ice_crypto, MD5ExactBlockSize),
    BEHAVIOUR(ice_crypto, MD5CrossBlockBoundary),
    BEHAVIOUR(ice_crypto, MD5MultiBlock),
    BEHAVIOUR(sdp, EncodeCandidateHost),
    BEHAVIOUR(sdp, EncodeCandidateSrflx),
    BEHAVIOUR(sdp, DecodeCandidateHost),
    BEHAVIOUR(sdp, DecodeCandidateSrflx),
    BEHAVIOUR(sdp, CandidateRoundTrip),
    BEHAVIOUR(sdp, FullSdpEncodeDecodeRoundTrip),
    BEHAVIOUR(sdp, DecodeMissingUfragFails),
    BEHAVIOUR(sdp, DecodeMissingPwdFails),
    BEHAVIOUR(sdp, DecodeEndOfCandidates),
    BEHAVIOUR(sdp, DecodeInvalidCandidateLineSkipped),
    BEHAVIOUR(stun_attr, XorMappedAddressIPv4RoundTrip),
    BEHAVIOUR(stun_attr, XorMappedAddressIPv6RoundTrip),
    BEHAVIOUR(stun_attr, UsernameRoundTrip),
    BEHAVIOUR(stun_attr, PriorityRoundTrip),
    BEHAVIOUR(stun_attr, UseCandidateZeroLength),
    BEHAVIOUR(stun_attr, IceControllingRoundTrip),
    BEHAVIOUR(stun_attr, ErrorCodeRoundTrip),
    BEHAVIOUR(stun_attr, MessageIntegrityWriteAndVerify),
    BEHAVIOUR(stun_attr, FingerprintWriteAndVerify),
    BEHAVIOUR(stun_attr, MultipleAttributeIteration),
    BEHAVIOUR(stun_attr, ComprehensionRequired),
    BEHAVIOUR(stun_attr, PaddingAlignment),
    BEHAVIOUR(stun_attr, LifetimeRoundTrip),
    BEHAVIOUR(stun_attr, RequestedTransportRoundTrip),
    BEHAVIOUR(stun_msg, EncodeDecodeRoundTrip),
    BEHAVIOUR(stun_msg, EncodeDecodeWithPayload),
    BEHAVIOUR(stun_msg, DecodeBufferTooSmall),
    BEHAVIOUR(stun_msg, DecodeInvalidMagicCookie),
    BEHAVIOUR(stun_msg, DecodeFirstTwoBitsNotZero),
    BEHAVIOUR(stun_msg, DecodeLengthExceedsBuffer),
    BEHAVIOUR(stun_msg, EncodeBufferTooSmall),
    BEHAVIOUR(stun_msg, EncodeNullArgs),
    BEHAVIOUR(stun_msg, IsStunValid),
    BEHAVIOUR(stun_msg, IsStunInvalid),
    BEHAVIOUR(stun_msg, IsStunChannelData),
    BEHAVIOUR(stun_msg, MessageClassHelpers),
    BEHAVIOUR(turn, EncodeDecodeRoundTrip),
    BEHAVIOUR(turn, DecodeInvalidChannel),
    BEHAVIOUR(turn, DecodeTooShort),
    BEHAVIOUR(turn, IsChannelData),
    BEHAVIOUR(turn, EncodeBufferTooSmall),
    BEHAVIOUR(datachannel, OpenMessageRoundTrip),
    BEHAVIOUR(datachannel, AckMessage),
    BEHAVIOUR(datachannel, ChannelTypeUnordered),
    BEHAVIOUR(datachannel, ChannelTypePartialRetransmit),
    BEHAVIOUR(datachannel, ChannelTypePartialTime),
    BEHAVIOUR(datachannel, EncodeWebRTCSdp),
    BEHAVIOUR(datachannel, DecodeWebRTCSdp),
    BEHAVIOUR(datachannel, DecodeWebRTCSdpMissingFingerprint),
    BEHAVIOUR(datachannel, DecodePureIceSdpBackwardCompat),
    BEHAVIOUR(datachannel, EncodeDecodeRoundTrip),
    BEHAVIOUR(datachannel, CreateManagerNullSctp),
    BEHAVIOUR(datachannel, DestroyNull),
    BEHAVIOUR(datachannel, OnDataNull),
    BEHAVIOUR(datachannel, OnStreamCloseNull),
    BEHAVIOUR(datachannel, SendStringNull),
    BEHAVIOUR(datachannel, SendBinaryNull),
    BEHAVIOUR(datachannel, CloseNull),
    BEHAVIOUR(datachannel, GetLabelNull),
    BEHAVIOUR(datachannel, GetStateNull),
    BEHAVIOUR(datachannel, GetStreamIdNull),
    BEHAVIOUR(datachannel, PpidValues),
};

int main(void) {
  return run_behaviours("codecs", kBehaviours, sizeof kBehaviours / sizeof kBehaviours[0]);
}
