/* ice_private.h: macro values, enum values, the STUN type bit macros, the
 * big-endian helpers and the RFC 7983 demultiplexer; plus the struct
 * layouts of stun_msg.h, stun_attr.h and stun_txn.h. */
#include <stddef.h>
#include <string.h>

#include <xp2p/ice_private.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>
#include <xp2p/stun_txn.h>

#include "check.h"

static void test_macros(void) {
  CHECK(XSTUN_MAGIC_COOKIE == 0x2112A442u);
  CHECK(XSTUN_FINGERPRINT_XOR == 0x5354554Eu);
  CHECK(XTURN_TRANSPORT_UDP == 0x11000000u);
  CHECK_EQ_INT(XSTUN_HEADER_SIZE, 20);
  CHECK_EQ_INT(XSTUN_TXN_ID_SIZE, 12);
  CHECK_EQ_INT(XSTUN_ATTR_HEADER_SIZE, 4);
  CHECK_EQ_INT(XSTUN_SHA1_DIGEST_SIZE, 20);
  CHECK_EQ_INT(XSTUN_MAX_MSG_SIZE, 1280);
  CHECK_EQ_INT(XSTUN_CLASS_REQUEST, 0);
  CHECK_EQ_INT(XSTUN_CLASS_INDICATION, 1);
  CHECK_EQ_INT(XSTUN_CLASS_SUCCESS_RESP, 2);
  CHECK_EQ_INT(XSTUN_CLASS_ERROR_RESP, 3);
  CHECK_EQ_INT(XICE_TYPE_PREF_HOST, 126);
  CHECK_EQ_INT(XICE_TYPE_PREF_SRFLX, 100);
  CHECK_EQ_INT(XICE_TYPE_PREF_PRFLX, 110);
  CHECK_EQ_INT(XICE_TYPE_PREF_RELAY, 0);
  CHECK_EQ_INT(XICE_GATHER_TIMEOUT_MS, 5000);
  CHECK_EQ_INT(XICE_CHECK_TIMEOUT_MS, 10000);
  CHECK_EQ_INT(XICE_CHECK_PACING_MS, 50);
  CHECK_EQ_INT(XICE_CONSENT_INTERVAL_MS, 15000);
  CHECK_EQ_INT(XICE_CONSENT_TIMEOUT_MS, 30000);
  CHECK_EQ_INT(XSTUN_INITIAL_RTO_MS, 500);
  CHECK_EQ_INT(XSTUN_MAX_RETRANSMITS, 7);
  CHECK_EQ_INT(XTURN_CHANNEL_MIN, 0x4000);
  CHECK_EQ_INT(XTURN_CHANNEL_MAX, 0x7FFF);
  CHECK_EQ_INT(XTURN_CHANNEL_HEADER_SIZE, 4);
  CHECK_EQ_INT(XTURN_REFRESH_RATIO, 80);
  CHECK_EQ_INT(XICE_UFRAG_MIN_LEN, 4);
  CHECK_EQ_INT(XICE_PWD_MIN_LEN, 22);
  CHECK_EQ_INT(XICE_UFRAG_LEN, 8);
  CHECK_EQ_INT(XICE_PWD_LEN, 24);
  CHECK_EQ_INT(XICE_FOUNDATION_MAX_LEN, 32);
  CHECK_EQ_INT(XICE_UFRAG_MAX_LEN, 64);
  CHECK_EQ_INT(XICE_PWD_MAX_LEN, 128);
  CHECK_EQ_INT(XICE_DEMUX_STUN, 0);
  CHECK_EQ_INT(XICE_DEMUX_DTLS, 1);
  CHECK_EQ_INT(XICE_DEMUX_TURN_CHANNEL, 2);
  CHECK_EQ_INT(XICE_DEMUX_RTP, 3);
  CHECK_EQ_INT(XSTUN_TXN_MAX, 32);

  CHECK_EQ_INT(XSTUN_ALIGN4(0), 0);
  CHECK_EQ_INT(XSTUN_ALIGN4(1), 4);
  CHECK_EQ_INT(XSTUN_ALIGN4(4), 4);
  CHECK_EQ_INT(XSTUN_ALIGN4(9), 12);
  CHECK_EQ_INT(XSTUN_MSG_METHOD(xStunMsgType_BindingRequest), 0x001);
  CHECK_EQ_INT(XSTUN_MSG_METHOD(xStunMsgType_AllocateErrorResponse), 0x003);
  CHECK_EQ_INT(XSTUN_MSG_METHOD(xStunMsgType_ChannelBindResponse), 0x009);
  CHECK_EQ_INT(XSTUN_MSG_METHOD(0x3EEF), 0xFFF);
  CHECK_EQ_INT(XSTUN_MSG_CLASS(xStunMsgType_BindingRequest), XSTUN_CLASS_REQUEST);
  CHECK_EQ_INT(XSTUN_MSG_CLASS(xStunMsgType_SendIndication), XSTUN_CLASS_INDICATION);
  CHECK_EQ_INT(XSTUN_MSG_CLASS(xStunMsgType_RefreshResponse), XSTUN_CLASS_SUCCESS_RESP);
  CHECK_EQ_INT(XSTUN_MSG_CLASS(xStunMsgType_CreatePermissionErrorResponse),
               XSTUN_CLASS_ERROR_RESP);
}

static void test_enums(void) {
  CHECK_EQ_INT(sizeof(xStunMsgType), sizeof(int));
  CHECK_EQ_INT(xStunMsgType_BindingRequest, 0x0001);
  CHECK_EQ_INT(xStunMsgType_BindingIndication, 0x0011);
  CHECK_EQ_INT(xStunMsgType_BindingResponse, 0x0101);
  CHECK_EQ_INT(xStunMsgType_BindingErrorResponse, 0x0111);
  CHECK_EQ_INT(xStunMsgType_AllocateRequest, 0x0003);
  CHECK_EQ_INT(xStunMsgType_AllocateResponse, 0x0103);
  CHECK_EQ_INT(xStunMsgType_AllocateErrorResponse, 0x0113);
  CHECK_EQ_INT(xStunMsgType_RefreshRequest, 0x0004);
  CHECK_EQ_INT(xStunMsgType_RefreshResponse, 0x0104);
  CHECK_EQ_INT(xStunMsgType_RefreshErrorResponse, 0x0114);
  CHECK_EQ_INT(xStunMsgType_SendIndication, 0x0016);
  CHECK_EQ_INT(xStunMsgType_DataIndication, 0x0017);
  CHECK_EQ_INT(xStunMsgType_CreatePermissionRequest, 0x0008);
  CHECK_EQ_INT(xStunMsgType_CreatePermissionResponse, 0x0108);
  CHECK_EQ_INT(xStunMsgType_CreatePermissionErrorResponse, 0x0118);
  CHECK_EQ_INT(xStunMsgType_ChannelBindRequest, 0x0009);
  CHECK_EQ_INT(xStunMsgType_ChannelBindResponse, 0x0109);
  CHECK_EQ_INT(xStunMsgType_ChannelBindErrorResponse, 0x0119);

  CHECK_EQ_INT(xStunAttrType_MappedAddress, 0x0001);
  CHECK_EQ_INT(xStunAttrType_Username, 0x0006);
  CHECK_EQ_INT(xStunAttrType_MessageIntegrity, 0x0008);
  CHECK_EQ_INT(xStunAttrType_ErrorCode, 0x0009);
  CHECK_EQ_INT(xStunAttrType_UnknownAttributes, 0x000A);
  CHECK_EQ_INT(xStunAttrType_Realm, 0x0014);
  CHECK_EQ_INT(xStunAttrType_Nonce, 0x0015);
  CHECK_EQ_INT(xStunAttrType_XorMappedAddress, 0x0020);
  CHECK_EQ_INT(xStunAttrType_Priority, 0x0024);
  CHECK_EQ_INT(xStunAttrType_UseCandidate, 0x0025);
  CHECK_EQ_INT(xStunAttrType_Software, 0x8022);
  CHECK_EQ_INT(xStunAttrType_AlternateServer, 0x8023);
  CHECK_EQ_INT(xStunAttrType_Fingerprint, 0x8028);
  CHECK_EQ_INT(xStunAttrType_IceControlled, 0x8029);
  CHECK_EQ_INT(xStunAttrType_IceControlling, 0x802A);
  CHECK_EQ_INT(xStunAttrType_ChannelNumber, 0x000C);
  CHECK_EQ_INT(xStunAttrType_Lifetime, 0x000D);
  CHECK_EQ_INT(xStunAttrType_XorPeerAddress, 0x0012);
  CHECK_EQ_INT(xStunAttrType_Data, 0x0013);
  CHECK_EQ_INT(xStunAttrType_XorRelayedAddress, 0x0016);
  CHECK_EQ_INT(xStunAttrType_RequestedTransport, 0x0019);

  CHECK_EQ_INT(xIceCandidateType_Host, 0);
  CHECK_EQ_INT(xIceCandidateType_Srflx, 1);
  CHECK_EQ_INT(xIceCandidateType_Prflx, 2);
  CHECK_EQ_INT(xIceCandidateType_Relay, 3);
  CHECK_EQ_INT(xIcePairState_Frozen, 0);
  CHECK_EQ_INT(xIcePairState_Waiting, 1);
  CHECK_EQ_INT(xIcePairState_InProgress, 2);
  CHECK_EQ_INT(xIcePairState_Succeeded, 3);
  CHECK_EQ_INT(xIcePairState_Failed, 4);
  CHECK_EQ_INT(xIceAgentState_New, 0);
  CHECK_EQ_INT(xIceAgentState_Gathering, 1);
  CHECK_EQ_INT(xIceAgentState_Checking, 2);
  CHECK_EQ_INT(xIceAgentState_Connected, 3);
  CHECK_EQ_INT(xIceAgentState_Completed, 4);
  CHECK_EQ_INT(xIceAgentState_Failed, 5);
  CHECK_EQ_INT(xIceAgentState_Closed, 6);
  CHECK_EQ_INT(xIceAgentRole_Controlling, 0);
  CHECK_EQ_INT(xIceAgentRole_Controlled, 1);
}

static void test_byte_order_helpers(void) {
  uint8_t b[8];
  const uint8_t in[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF};
  CHECK_EQ_INT(xReadU16BE(in), 0x0123);
  CHECK(xReadU32BE(in) == 0x01234567u);
  CHECK(xReadU32BE(in + 4) == 0x89ABCDEFu);
  CHECK(xReadU64BE(in) == 0x0123456789ABCDEFull);
  memset(b, 0, sizeof b);
  xWriteU16BE(b, 0xBEEF);
  CHECK(b[0] == 0xBE && b[1] == 0xEF && b[2] == 0);
  xWriteU32BE(b, 0xDEADBEEFu);
  CHECK(b[0] == 0xDE && b[1] == 0xAD && b[2] == 0xBE && b[3] == 0xEF);
  xWriteU64BE(b, 0x0123456789ABCDEFull);
  CHECK(memcmp(b, in, 8) == 0);
}

static void test_demux(void) {
  int i;
  for (i = 0; i < 256; i++) {
    int want = -1;
    if (i <= 3) want = XICE_DEMUX_STUN;
    else if (i >= 20 && i <= 63) want = XICE_DEMUX_DTLS;
    else if (i >= 64 && i <= 79) want = XICE_DEMUX_TURN_CHANNEL;
    else if (i >= 128 && i <= 191) want = XICE_DEMUX_RTP;
    CHECK_EQ_INT(xIceDemuxClassify((uint8_t)i), want);
  }
}

static void test_layouts(void) {
  CHECK_EQ_INT(sizeof(xStunMsg), 40);
  CHECK_EQ_INT(offsetof(xStunMsg, type), 0);
  CHECK_EQ_INT(offsetof(xStunMsg, length), 4);
  CHECK_EQ_INT(offsetof(xStunMsg, txn_id), 6);
  CHECK_EQ_INT(offsetof(xStunMsg, attrs), 24);
  CHECK_EQ_INT(offsetof(xStunMsg, attrs_len), 32);
  CHECK_EQ_INT(sizeof(xStunAttrWriter), 24);
  CHECK_EQ_INT(offsetof(xStunAttrWriter, pos), 16);
  CHECK_EQ_INT(sizeof(xStunAttrIter), 24);
  CHECK_EQ_INT(sizeof(xStunAttr), 16);
  CHECK_EQ_INT(offsetof(xStunAttr, length), 4);
  CHECK_EQ_INT(offsetof(xStunAttr, value), 8);
  CHECK_EQ_INT(sizeof(xStunTxn), 1496);
  CHECK_EQ_INT(offsetof(xStunTxn, msg_buf), 12);
  CHECK_EQ_INT(offsetof(xStunTxn, msg_len), 1296);
  CHECK_EQ_INT(offsetof(xStunTxn, dest), 1304);
  CHECK_EQ_INT(offsetof(xStunTxn, on_complete), 1432);
  CHECK_EQ_INT(offsetof(xStunTxn, ctx), 1440);
  CHECK_EQ_INT(offsetof(xStunTxn, send_fn), 1448);
  CHECK_EQ_INT(offsetof(xStunTxn, send_arg), 1456);
  CHECK_EQ_INT(offsetof(xStunTxn, loop), 1464);
  CHECK_EQ_INT(offsetof(xStunTxn, timer), 1472);
  CHECK_EQ_INT(offsetof(xStunTxn, retransmit_count), 1480);
  CHECK_EQ_INT(offsetof(xStunTxn, rto_ms), 1484);
  CHECK_EQ_INT(offsetof(xStunTxn, cancelled), 1488);
  CHECK_EQ_INT(sizeof(xStunTxnMgr), 272);
  CHECK_EQ_INT(offsetof(xStunTxnMgr, count), 256);
  CHECK_EQ_INT(offsetof(xStunTxnMgr, loop), 264);
}

int main(void) {
  test_macros();
  test_enums();
  test_byte_order_helpers();
  test_demux();
  test_layouts();
  return CHECK_DONE();
}
