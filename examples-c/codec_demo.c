/* codec_demo: the codec layers of libxp2p used from C, through the installed
 * headers only. It checks RFC 5769's sample request, builds and verifies a
 * STUN connectivity check, writes and reads back a WebRTC SDP offer, frames a
 * TURN ChannelData message, and runs a timer on the xbase event loop.
 * Exit status 0 when every step checks out. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <xbase/event.h>
#include <xp2p/ice_candidate.h>
#include <xp2p/ice_crypto.h>
#include <xp2p/sdp.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>
#include <xp2p/turn_channel.h>

static int failures = 0;

static void step(const char *what, int ok) {
  printf("[%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) failures++;
}

/* RFC 5769 section 2.1: a Binding request signed with a short-term password. */
static const uint8_t kSampleRequest[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
    0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74,
    0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e,
    0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
    0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5,
    0x7a, 0x3b, 0xcf};

/* Verifies MESSAGE-INTEGRITY (with key) and FINGERPRINT of an encoded message. */
static int verify(const uint8_t *buf, size_t len, const char *key) {
  xStunMsg msg;
  xStunAttrIter it;
  xStunAttr attr;
  int integrity = 0, fingerprint = 0;
  if (xStunMsgDecode(&msg, buf, len) != xErrno_Ok) return 0;
  xStunAttrIterInit(&it, &msg);
  while (xStunAttrIterNext(&it, &attr)) {
    if (attr.type == xStunAttrType_MessageIntegrity)
      integrity = xStunAttrVerifyMessageIntegrity(buf, len, &attr, (const uint8_t *)key,
                                                  strlen(key)) == xErrno_Ok;
    if (attr.type == xStunAttrType_Fingerprint)
      fingerprint = xStunAttrVerifyFingerprint(buf, len, &attr) == xErrno_Ok;
  }
  return integrity && fingerprint;
}

static void stun_demo(void) {
  uint8_t buf[XSTUN_MAX_MSG_SIZE];
  uint8_t txn[XSTUN_TXN_ID_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  xStunMsg req;
  xStunAttrWriter w;
  int len;

  step("RFC 5769 sample request: MESSAGE-INTEGRITY and FINGERPRINT verify",
       verify(kSampleRequest, sizeof kSampleRequest, "VOkJxbRl1RmTxUk/WvJxBt"));
  step("RFC 5769 sample request: a wrong password is rejected",
       !verify(kSampleRequest, sizeof kSampleRequest, "wrong-password"));

  /* A connectivity check as an ICE agent sends it: header first (integrity
   * and fingerprint cover it), then the attributes, then the final length. */
  xStunMsgInit(&req, xStunMsgType_BindingRequest, txn);
  xStunMsgEncode(&req, buf, sizeof buf);
  xStunAttrWriterInit(&w, buf + XSTUN_HEADER_SIZE, sizeof buf - XSTUN_HEADER_SIZE);
  xStunAttrWriteUsername(&w, "remoteUf", "localUfr");
  xStunAttrWritePriority(&w, xIceCandidatePriority(xIceCandidateType_Prflx, 65535, 1));
  xStunAttrWriteIceControlling(&w, 0x0123456789abcdefull);
  xStunAttrWriteUseCandidate(&w);
  xStunAttrWriteMessageIntegrity(&w, buf, (const uint8_t *)"remote-password-0123456789", 26);
  xStunAttrWriteFingerprint(&w, buf);
  xWriteU16BE(buf + 2, (uint16_t)w.pos);
  len = (int)(XSTUN_HEADER_SIZE + w.pos);
  printf("       connectivity check: %d bytes\n", len);
  step("built connectivity check verifies", len > 0 && verify(buf, (size_t)len,
                                                                "remote-password-0123456789"));
}

static void sdp_demo(void) {
  xIceCandidate cand;
  struct sockaddr_in *sin = (struct sockaddr_in *)&cand.addr;
  static xIceSdp parsed;
  char sdp[XSDP_MAX_SIZE];
  char line[256];
  int len;

  memset(&cand, 0, sizeof cand);
  cand.component_id = 1;
  cand.type = xIceCandidateType_Host;
  cand.priority = xIceCandidatePriority(xIceCandidateType_Host, 65535, 1);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(40000);
  inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
  memcpy(&cand.base_addr, &cand.addr, sizeof cand.addr);
  xIceCandidateFoundation(&cand, NULL);
  xIceSdpEncodeCandidate(&cand, line, sizeof line);
  printf("       %s", line);

  len = xIceSdpEncodeWebRTC("uFrAg123", "0123456789abcdefghijklmn", &cand, 1, true,
                            "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
                            "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99",
                            xIceSdpSetup_Actpass, "0", 5000, sdp, sizeof sdp);
  step("WebRTC offer encoded", len > 0);
  if (len <= 0) return;
  printf("%s", sdp);
  step("offer decodes back",
       xIceSdpDecode(sdp, (size_t)len, &parsed) == xErrno_Ok && parsed.is_webrtc &&
           strcmp(parsed.ice_ufrag, "uFrAg123") == 0 && parsed.candidate_count == 1 &&
           parsed.setup == xIceSdpSetup_Actpass && parsed.sctp_port == 5000 &&
           xSockaddrPort((const struct sockaddr *)&parsed.candidates[0].addr) == 40000);
}

static void turn_demo(void) {
  uint8_t frame[64];
  const uint8_t *data = NULL;
  uint16_t channel = 0, data_len = 0;
  int n = xTurnChannelDataEncode(0x4001, (const uint8_t *)"hello", 5, frame, sizeof frame);
  step("ChannelData frame round trip",
       n == 12 && xTurnIsChannelData(frame[0]) &&
           xTurnChannelDataDecode(frame, (size_t)n, &channel, &data, &data_len) == xErrno_Ok &&
           channel == 0x4001 && data_len == 5 && memcmp(data, "hello", 5) == 0);
}

static void on_timer(void *arg) {
  *(int *)arg = 1;
  printf("       timer fired on the event loop\n");
}

static void loop_demo(void) {
  int fired = 0;
  uint64_t start = xMonoMs();
  xEventLoop loop = xEventLoopCreate();
  xEventLoopTimerAfter(loop, on_timer, &fired, 20);
  while (!fired && xMonoMs() - start < 2000) xEventWait(loop, 50);
  xEventLoopDestroy(loop);
  step("xbase timer fired", fired);
}

int main(void) {
  uint8_t digest[XICE_SHA1_DIGEST_SIZE];
  xIceSHA1((const uint8_t *)"abc", 3, digest);
  step("SHA-1(\"abc\") starts a9 99 3e", digest[0] == 0xa9 && digest[1] == 0x99 &&
                                          digest[2] == 0x3e);
  stun_demo();
  sdp_demo();
  turn_demo();
  loop_demo();
  printf("%s\n", failures ? "codec demo: FAILED" : "codec demo: all steps ok");
  return failures ? 1 : 0;
}
