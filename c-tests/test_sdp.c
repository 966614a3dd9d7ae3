/* sdp.h through the installed header: the upstream sdp_test and
 * datachannel_test SDP behaviours, browser SDP (LF-only, mDNS, TCP), the
 * 32-candidate limit, struct layout and NULL arguments. */
#include "check.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <xp2p/sdp.h>

static void set_v4(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin->sin_addr);
}

static xIceCandidate make_cand(const char *foundation, xIceCandidateType type, const char *ip,
                               uint16_t port) {
  xIceCandidate c;
  memset(&c, 0, sizeof(c));
  strcpy(c.foundation, foundation);
  c.component_id = 1;
  c.type = type;
  c.priority = xIceCandidatePriority(type, 65535, 1);
  set_v4(&c.addr, ip, port);
  return c;
}

static uint16_t port_of(const struct sockaddr_storage *ss) {
  return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static int ip_is(const struct sockaddr_storage *ss, const char *ip) {
  struct in_addr want;
  inet_pton(AF_INET, ip, &want);
  return ss->ss_family == AF_INET &&
         ((const struct sockaddr_in *)ss)->sin_addr.s_addr == want.s_addr;
}

static void test_layout(void) {
  CHECK_EQ_INT(sizeof(xIceSdp), 14456);
  CHECK_EQ_INT(offsetof(xIceSdp, ice_ufrag), 0);
  CHECK_EQ_INT(offsetof(xIceSdp, ice_pwd), 64);
  CHECK_EQ_INT(offsetof(xIceSdp, trickle), 192);
  CHECK_EQ_INT(offsetof(xIceSdp, end_of_candidates), 193);
  CHECK_EQ_INT(offsetof(xIceSdp, candidates), 200);
  CHECK_EQ_INT(offsetof(xIceSdp, candidate_count), 14280);
  CHECK_EQ_INT(offsetof(xIceSdp, is_webrtc), 14284);
  CHECK_EQ_INT(offsetof(xIceSdp, fingerprint), 14285);
  CHECK_EQ_INT(offsetof(xIceSdp, setup), 14416);
  CHECK_EQ_INT(offsetof(xIceSdp, mid), 14420);
  CHECK_EQ_INT(offsetof(xIceSdp, sctp_port), 14452);
  CHECK_EQ_INT(XSDP_MAX_SIZE, 4096);
  CHECK_EQ_INT(XSDP_MAX_FINGERPRINT_LEN, 128);
  CHECK_EQ_INT(XSDP_MAX_SETUP_LEN, 16);
  CHECK_EQ_INT(XSDP_MAX_MID_LEN, 32);
  CHECK_EQ_INT(xIceSdpSetup_Active, 0);
  CHECK_EQ_INT(xIceSdpSetup_Passive, 1);
  CHECK_EQ_INT(xIceSdpSetup_Actpass, 2);
}

static void test_candidate_lines(void) {
  char buf[256];
  xIceCandidate c = make_cand("12345", xIceCandidateType_Host, "192.168.1.100", 5000);
  xIceCandidate d;
  int n = xIceSdpEncodeCandidate(&c, buf, sizeof(buf));
  /* EncodeCandidateHost */
  CHECK_EQ_INT(n, (int)strlen(buf));
  CHECK(strcmp(buf, "a=candidate:12345 1 UDP 2130706431 192.168.1.100 5000 typ host\r\n") == 0);
  /* EncodeCandidateSrflx */
  c = make_cand("678", xIceCandidateType_Srflx, "203.0.113.5", 6000);
  set_v4(&c.rel_addr, "192.168.1.100", 5000);
  CHECK(xIceSdpEncodeCandidate(&c, buf, sizeof(buf)) > 0);
  CHECK(strstr(buf, "typ srflx") != NULL);
  CHECK(strstr(buf, "raddr 192.168.1.100") != NULL);
  CHECK(strstr(buf, "rport 5000") != NULL);
  /* Unset related address of a relay candidate is written as 0.0.0.0 0. */
  c = make_cand("9", xIceCandidateType_Relay, "198.51.100.1", 50000);
  CHECK(xIceSdpEncodeCandidate(&c, buf, sizeof(buf)) > 0);
  CHECK(strstr(buf, "typ relay raddr 0.0.0.0 rport 0\r\n") != NULL);
  /* Too small a buffer, NULLs. */
  CHECK_EQ_INT(xIceSdpEncodeCandidate(&c, buf, 10), -1);
  CHECK_EQ_INT(xIceSdpEncodeCandidate(NULL, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeCandidate(&c, NULL, sizeof(buf)), -1);

  /* DecodeCandidateHost */
  memset(&d, 0xAB, sizeof(d));
  CHECK_EQ_INT(xIceSdpDecodeCandidate("a=candidate:12345 1 UDP 2130706431 192.168.1.100 5000 typ host",
                                      &d),
               xErrno_Ok);
  CHECK(strcmp(d.foundation, "12345") == 0);
  CHECK_EQ_INT(d.component_id, 1);
  CHECK_EQ_INT(d.transport, 0);
  CHECK_EQ_INT(d.priority, 2130706431u);
  CHECK_EQ_INT(d.type, xIceCandidateType_Host);
  CHECK(ip_is(&d.addr, "192.168.1.100"));
  CHECK_EQ_INT(port_of(&d.addr), 5000);
  CHECK_EQ_INT(d.base_addr.ss_family, 0);
  CHECK(d.sock == NULL);
  /* DecodeCandidateSrflx, "candidate:" prefix and Chromium extensions */
  CHECK_EQ_INT(xIceSdpDecodeCandidate("candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ "
                                      "srflx raddr 10.0.0.5 rport 61666 generation 0 ufrag EsAw "
                                      "network-id 1 network-cost 10",
                                      &d),
               xErrno_Ok);
  CHECK_EQ_INT(d.type, xIceCandidateType_Srflx);
  CHECK(ip_is(&d.rel_addr, "10.0.0.5"));
  CHECK_EQ_INT(port_of(&d.rel_addr), 61666);
  /* IPv6 literal, bare line */
  CHECK_EQ_INT(xIceSdpDecodeCandidate("1 1 UDP 100 2001:db8::1 4000 typ host", &d), xErrno_Ok);
  CHECK_EQ_INT(d.addr.ss_family, AF_INET6);
  /* CandidateRoundTrip */
  c = make_cand("4242", xIceCandidateType_Prflx, "10.1.2.3", 7000);
  set_v4(&c.rel_addr, "10.9.9.9", 7001);
  CHECK(xIceSdpEncodeCandidate(&c, buf, sizeof(buf)) > 0);
  CHECK_EQ_INT(xIceSdpDecodeCandidate(buf, &d), xErrno_Ok);
  CHECK(strcmp(d.foundation, c.foundation) == 0);
  CHECK_EQ_INT(d.component_id, c.component_id);
  CHECK_EQ_INT(d.priority, c.priority);
  CHECK_EQ_INT(d.type, c.type);
  CHECK(memcmp(&d.addr, &c.addr, sizeof(struct sockaddr_in)) == 0);
  /* Invalid lines, mDNS names (not representable) and NULLs: InvalidArg, zeroed. */
  CHECK_EQ_INT(xIceSdpDecodeCandidate("garbage", &d), xErrno_InvalidArg);
  CHECK_EQ_INT(d.priority, 0);
  CHECK_EQ_INT(xIceSdpDecodeCandidate("candidate:1 1 UDP 100 10.0.0.1 5000", &d), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceSdpDecodeCandidate("candidate:1 1 UDP 100 10.0.0.1 5000 typ bogus", &d),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xIceSdpDecodeCandidate("candidate:1 1 udp 100 0c6a4a5e-1a2b.local 5000 typ host", &d),
               xErrno_InvalidArg);
  CHECK_EQ_INT(xIceSdpDecodeCandidate(NULL, &d), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceSdpDecodeCandidate("candidate:1 1 UDP 100 10.0.0.1 5000 typ host", NULL),
               xErrno_InvalidArg);
}

static void test_ice_sdp(void) {
  static xIceSdp sdp;
  char buf[XSDP_MAX_SIZE];
  xIceCandidate cands[2];
  int n;
  cands[0] = make_cand("1", xIceCandidateType_Host, "192.168.1.2", 5000);
  cands[1] = make_cand("2", xIceCandidateType_Srflx, "203.0.113.1", 6000);
  set_v4(&cands[1].rel_addr, "192.168.1.2", 5000);

  /* FullSdpEncodeDecodeRoundTrip */
  n = xIceSdpEncode("abcdefgh", "0123456789abcdefghijklmn", cands, 2, true, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK_EQ_INT(n, (int)strlen(buf));
  CHECK(strncmp(buf, "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/ICE 0\r\n"
                     "c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcdefgh\r\n"
                     "a=ice-pwd:0123456789abcdefghijklmn\r\na=ice-options:trickle\r\n"
                     "a=candidate:1 1 UDP ",
                strlen("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/ICE 0\r\n"
                       "c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcdefgh\r\n"
                       "a=ice-pwd:0123456789abcdefghijklmn\r\na=ice-options:trickle\r\n"
                       "a=candidate:1 1 UDP ")) == 0);
  CHECK(strstr(buf, "end-of-candidates") == NULL);
  CHECK_EQ_INT(xIceSdpDecode(buf, (size_t)n, &sdp), xErrno_Ok);
  CHECK(strcmp(sdp.ice_ufrag, "abcdefgh") == 0);
  CHECK(strcmp(sdp.ice_pwd, "0123456789abcdefghijklmn") == 0);
  CHECK(sdp.trickle);
  CHECK(!sdp.end_of_candidates);
  CHECK(!sdp.is_webrtc);
  CHECK_EQ_INT(sdp.candidate_count, 2);
  CHECK_EQ_INT(sdp.candidates[0].type, xIceCandidateType_Host);
  CHECK_EQ_INT(sdp.candidates[1].type, xIceCandidateType_Srflx);
  CHECK_EQ_INT(sdp.setup, xIceSdpSetup_Active);
  CHECK_EQ_INT(sdp.sctp_port, 0);

  /* Without trickle, no ice-options line. */
  n = xIceSdpEncode("abcdefgh", "0123456789abcdefghijklmn", NULL, 0, false, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK(strstr(buf, "ice-options") == NULL);
  /* Overflow and NULLs. */
  CHECK_EQ_INT(xIceSdpEncode("abcdefgh", "pwd", cands, 2, true, buf, 40), -1);
  CHECK_EQ_INT(xIceSdpEncode(NULL, "pwd", cands, 2, true, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncode("u", NULL, cands, 2, true, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncode("u", "p", NULL, 2, true, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncode("u", "p", cands, -1, true, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncode("u", "p", cands, 2, true, NULL, sizeof(buf)), -1);

  /* DecodeMissingUfragFails / DecodeMissingPwdFails */
  {
    const char *no_ufrag = "v=0\r\na=ice-pwd:0123456789abcdefghijklmn\r\n";
    const char *no_pwd = "v=0\r\na=ice-ufrag:abcd\r\n";
    CHECK_EQ_INT(xIceSdpDecode(no_ufrag, strlen(no_ufrag), &sdp), xErrno_InvalidArg);
    CHECK_EQ_INT(xIceSdpDecode(no_pwd, strlen(no_pwd), &sdp), xErrno_InvalidArg);
    CHECK_EQ_INT(xIceSdpDecode("garbage", 7, &sdp), xErrno_InvalidArg);
  }
  /* DecodeEndOfCandidates and DecodeInvalidCandidateLineSkipped */
  {
    const char *text = "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-ufrag:abcd\r\n"
                       "a=ice-pwd:0123456789abcdefghijklmn\r\n"
                       "a=candidate:garbage line\r\n"
                       "a=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n"
                       "a=end-of-candidates\r\n";
    CHECK_EQ_INT(xIceSdpDecode(text, strlen(text), &sdp), xErrno_Ok);
    CHECK(sdp.end_of_candidates);
    CHECK_EQ_INT(sdp.candidate_count, 1);
    CHECK_EQ_INT(port_of(&sdp.candidates[0].addr), 5000);
  }
  /* NULL arguments. */
  CHECK_EQ_INT(xIceSdpDecode(NULL, 10, &sdp), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceSdpDecode(buf, 10, NULL), xErrno_InvalidArg);
}

static void test_candidate_limit(void) {
  static xIceSdp sdp;
  static char text[16384];
  size_t len = 0;
  int i;
  len += (size_t)sprintf(text + len, "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-ufrag:abcd\r\n"
                                     "a=ice-pwd:0123456789abcdefghijklmn\r\n");
  for (i = 0; i < 40; i++) {
    len += (size_t)sprintf(text + len, "a=candidate:%d 1 UDP %d 10.0.0.%d 5000 typ host\r\n", i,
                           1000 + i, i + 1);
  }
  CHECK_EQ_INT(xIceSdpDecode(text, len, &sdp), xErrno_Ok);
  CHECK_EQ_INT(sdp.candidate_count, XICE_MAX_CANDIDATES);
  CHECK(strcmp(sdp.candidates[31].foundation, "31") == 0);
}

static const char *const kBrowserOffer =
    "v=0\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\n"
    "s=-\n"
    "t=0 0\n"
    "a=group:BUNDLE 0\n"
    "a=extmap-allow-mixed\n"
    "a=msid-semantic: WMS\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
    "c=IN IP4 0.0.0.0\n"
    "a=candidate:1 1 udp 2122260223 6f4b1a2c-0d9e-4c1b-9f2a-3b4c5d6e7f80.local 54400 typ host "
    "generation 0 network-cost 999\n"
    "a=candidate:2 1 udp 1686052607 203.0.113.9 54400 typ srflx raddr 0.0.0.0 rport 0 generation 0\n"
    "a=candidate:3 1 tcp 1518280447 192.168.0.4 9 typ host tcptype active generation 0\n"
    "a=ice-ufrag:F7gI\n"
    "a=ice-pwd:x9cml/YzichV2+XlhiMu8g1a\n"
    "a=ice-options:trickle\n"
    "a=fingerprint:sha-256 D4:E5:4A:2F:7A:A6:2C:1F:D9:3B:5C:4A:58:4C:C9:12:0F:12:55:0B:21:8A:9E:27:"
    "9B:33:94:6D:8F:2A:6E:1D\n"
    "a=setup:actpass\n"
    "a=mid:0\n"
    "a=sctp-port:5000\n"
    "a=max-message-size:262144\n";

static void test_browser_sdp(void) {
  static xIceSdp sdp;
  /* LF-only line ends, mDNS and TCP candidates skipped, unknown attributes ignored. */
  CHECK_EQ_INT(xIceSdpDecode(kBrowserOffer, strlen(kBrowserOffer), &sdp), xErrno_Ok);
  CHECK(strcmp(sdp.ice_ufrag, "F7gI") == 0);
  CHECK(strcmp(sdp.ice_pwd, "x9cml/YzichV2+XlhiMu8g1a") == 0);
  CHECK(sdp.is_webrtc);
  CHECK(sdp.trickle);
  CHECK_EQ_INT(sdp.setup, xIceSdpSetup_Actpass);
  CHECK(strcmp(sdp.mid, "0") == 0);
  CHECK_EQ_INT(sdp.sctp_port, 5000);
  CHECK(strncmp(sdp.fingerprint, "sha-256 D4:E5:4A", 16) == 0);
  CHECK_EQ_INT(strlen(sdp.fingerprint), 8 + 95);
  CHECK_EQ_INT(sdp.candidate_count, 1);
  CHECK(ip_is(&sdp.candidates[0].addr, "203.0.113.9"));
  CHECK_EQ_INT(sdp.candidates[0].type, xIceCandidateType_Srflx);
  /* sdp_len is honoured: a prefix without the credentials fails. */
  CHECK_EQ_INT(xIceSdpDecode(kBrowserOffer, 40, &sdp), xErrno_InvalidArg);
}

static void test_webrtc_sdp(void) {
  static xIceSdp sdp;
  char buf[XSDP_MAX_SIZE];
  xIceCandidate cand = make_cand("1", xIceCandidateType_Host, "192.168.1.2", 5000);
  int n;

  /* EncodeWebRTCSdp */
  n = xIceSdpEncodeWebRTC("abcdefgh", "0123456789abcdefghijklmn", &cand, 1, true,
                          "sha-256 AA:BB:CC", xIceSdpSetup_Actpass, "0", 5000, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK_EQ_INT(n, (int)strlen(buf));
  CHECK(strstr(buf, "v=0\r\n") == buf);
  CHECK(strstr(buf, "a=group:BUNDLE 0\r\n") != NULL);
  CHECK(strstr(buf, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n") != NULL);
  CHECK(strstr(buf, "a=mid:0\r\n") != NULL);
  CHECK(strstr(buf, "a=ice-ufrag:abcdefgh\r\n") != NULL);
  CHECK(strstr(buf, "a=ice-pwd:0123456789abcdefghijklmn\r\n") != NULL);
  CHECK(strstr(buf, "a=fingerprint:sha-256 AA:BB:CC\r\n") != NULL);
  CHECK(strstr(buf, "a=setup:actpass\r\n") != NULL);
  CHECK(strstr(buf, "a=sctp-port:5000\r\n") != NULL);
  CHECK(strstr(buf, "a=ice-options:trickle\r\n") != NULL);
  CHECK(strstr(buf, "max-message-size") == NULL);
  CHECK(strstr(buf, "end-of-candidates") == NULL);
  /* The exact order of spec section 4.2. */
  CHECK(strstr(buf, "a=sctp-port:5000\r\na=ice-options:trickle\r\na=candidate:1 1 UDP ") != NULL);
  CHECK(strstr(buf, "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcdefgh\r\n") != NULL);

  /* DecodeWebRTCSdp (setup active) */
  {
    const char *text = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                       "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
                       "a=mid:0\r\na=ice-ufrag:remoteuf\r\na=ice-pwd:remotepwd0123456789abcd\r\n"
                       "a=fingerprint:sha-256 AA:BB:CC\r\na=setup:active\r\n"
                       "a=sctp-port:5000\r\na=ice-options:trickle\r\n";
    CHECK_EQ_INT(xIceSdpDecode(text, strlen(text), &sdp), xErrno_Ok);
    CHECK(strcmp(sdp.ice_ufrag, "remoteuf") == 0);
    CHECK(strcmp(sdp.ice_pwd, "remotepwd0123456789abcd") == 0);
    CHECK(sdp.is_webrtc);
    CHECK(sdp.trickle);
    CHECK(strcmp(sdp.fingerprint, "sha-256 AA:BB:CC") == 0);
    CHECK_EQ_INT(sdp.setup, xIceSdpSetup_Active);
    CHECK(strcmp(sdp.mid, "0") == 0);
    CHECK_EQ_INT(sdp.sctp_port, 5000);
  }
  /* DecodeWebRTCSdpMissingFingerprint */
  {
    const char *text = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                       "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
                       "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";
    CHECK_EQ_INT(xIceSdpDecode(text, strlen(text), &sdp), xErrno_InvalidArg);
  }
  /* DecodePureIceSdpBackwardCompat */
  {
    const char *text = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                       "m=application 9 UDP/ICE 0\r\nc=IN IP4 0.0.0.0\r\n"
                       "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
                       "a=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n";
    CHECK_EQ_INT(xIceSdpDecode(text, strlen(text), &sdp), xErrno_Ok);
    CHECK(!sdp.is_webrtc);
    CHECK_EQ_INT(sdp.candidate_count, 1);
  }
  /* EncodeDecodeRoundTrip: passive, mid "data", port 5000 */
  n = xIceSdpEncodeWebRTC("abcdefgh", "0123456789abcdefghijklmn", &cand, 1, false,
                          "sha-256 01:02:03", xIceSdpSetup_Passive, "data", 5000, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK_EQ_INT(xIceSdpDecode(buf, (size_t)n, &sdp), xErrno_Ok);
  CHECK_EQ_INT(sdp.setup, xIceSdpSetup_Passive);
  CHECK(strcmp(sdp.mid, "data") == 0);
  CHECK_EQ_INT(sdp.sctp_port, 5000);
  CHECK(!sdp.trickle);
  CHECK_EQ_INT(sdp.candidate_count, 1);
  /* Unknown setup is written as actpass. */
  n = xIceSdpEncodeWebRTC("u", "p", NULL, 0, false, "sha-256 01", 99, "0", 5000, buf, sizeof(buf));
  CHECK(n > 0 && strstr(buf, "a=setup:actpass\r\n") != NULL);
  /* NULLs and overflow. */
  CHECK_EQ_INT(xIceSdpEncodeWebRTC(NULL, "p", NULL, 0, false, "f", 0, "0", 1, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeWebRTC("u", NULL, NULL, 0, false, "f", 0, "0", 1, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeWebRTC("u", "p", NULL, 0, false, NULL, 0, "0", 1, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeWebRTC("u", "p", NULL, 0, false, "f", 0, NULL, 1, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeWebRTC("u", "p", NULL, 1, false, "f", 0, "0", 1, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeWebRTC("u", "p", NULL, 0, false, "f", 0, "0", 1, NULL, sizeof(buf)), -1);
  CHECK_EQ_INT(xIceSdpEncodeWebRTC("u", "p", NULL, 0, false, "f", 0, "0", 1, buf, 50), -1);
}

int main(void) {
  test_layout();
  test_candidate_lines();
  test_ice_sdp();
  test_candidate_limit();
  test_browser_sdp();
  test_webrtc_sdp();
  return CHECK_DONE();
}
