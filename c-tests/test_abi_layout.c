/* sizeof/offsetof of every public struct of the codec headers, the values of
 * their enums and macros, all against the numbers of the ABI specification
 * (Linux LP64). */
#include <stddef.h>

#include <xbase/error.h>
#include <xp2p/ice_agent.h>
#include <xp2p/ice_candidate.h>
#include <xp2p/ice_crypto.h>
#include <xp2p/ice_pair.h>
#include <xp2p/ice_private.h>
#include <xp2p/sdp.h>
#include <xp2p/stun_attr.h>
#include <xp2p/stun_msg.h>
#include <xp2p/stun_txn.h>
#include <xp2p/turn_channel.h>

#include "check.h"

#define SIZE(T, n) CHECK_EQ_INT(sizeof(T), n)
#define OFF(T, f, n) CHECK_EQ_INT(offsetof(T, f), n)

static void structs(void) {
  SIZE(xIceCandidate, 440);
  OFF(xIceCandidate, foundation, 0);
  OFF(xIceCandidate, component_id, 32);
  OFF(xIceCandidate, transport, 36);
  OFF(xIceCandidate, priority, 40);
  OFF(xIceCandidate, type, 44);
  OFF(xIceCandidate, addr, 48);
  OFF(xIceCandidate, base_addr, 176);
  OFF(xIceCandidate, rel_addr, 304);
  OFF(xIceCandidate, sock, 432);

  SIZE(xIcePair, 32);
  OFF(xIcePair, local, 0);
  OFF(xIcePair, remote, 8);
  OFF(xIcePair, priority, 16);
  OFF(xIcePair, state, 24);
  OFF(xIcePair, nominated, 28);

  SIZE(xIceSdp, 14456);
  OFF(xIceSdp, ice_ufrag, 0);
  OFF(xIceSdp, ice_pwd, 64);
  OFF(xIceSdp, trickle, 192);
  OFF(xIceSdp, end_of_candidates, 193);
  OFF(xIceSdp, candidates, 200);
  OFF(xIceSdp, candidate_count, 14280);
  OFF(xIceSdp, is_webrtc, 14284);
  OFF(xIceSdp, fingerprint, 14285);
  OFF(xIceSdp, setup, 14416);
  OFF(xIceSdp, mid, 14420);
  OFF(xIceSdp, sctp_port, 14452);

  SIZE(xStunMsg, 40);
  OFF(xStunMsg, type, 0);
  OFF(xStunMsg, length, 4);
  OFF(xStunMsg, txn_id, 6);
  OFF(xStunMsg, attrs, 24);
  OFF(xStunMsg, attrs_len, 32);

  SIZE(xStunAttrWriter, 24);
  OFF(xStunAttrWriter, buf, 0);
  OFF(xStunAttrWriter, cap, 8);
  OFF(xStunAttrWriter, pos, 16);
  SIZE(xStunAttrIter, 24);
  OFF(xStunAttrIter, data, 0);
  OFF(xStunAttrIter, len, 8);
  OFF(xStunAttrIter, pos, 16);
  SIZE(xStunAttr, 16);
  OFF(xStunAttr, type, 0);
  OFF(xStunAttr, length, 4);
  OFF(xStunAttr, value, 8);

  SIZE(xStunTxn, 1496);
  OFF(xStunTxn, txn_id, 0);
  OFF(xStunTxn, msg_buf, 12);
  OFF(xStunTxn, msg_len, 1296);
  OFF(xStunTxn, dest, 1304);
  OFF(xStunTxn, on_complete, 1432);
  OFF(xStunTxn, ctx, 1440);
  OFF(xStunTxn, send_fn, 1448);
  OFF(xStunTxn, send_arg, 1456);
  OFF(xStunTxn, loop, 1464);
  OFF(xStunTxn, timer, 1472);
  OFF(xStunTxn, retransmit_count, 1480);
  OFF(xStunTxn, rto_ms, 1484);
  OFF(xStunTxn, cancelled, 1488);
  SIZE(xStunTxnMgr, 272);
  OFF(xStunTxnMgr, txns, 0);
  OFF(xStunTxnMgr, count, 256);
  OFF(xStunTxnMgr, loop, 264);

  SIZE(xTurnChannel, 144);
  OFF(xTurnChannel, number, 0);
  OFF(xTurnChannel, peer, 8);
  OFF(xTurnChannel, bound, 136);

  SIZE(xIceConf, 72);
  OFF(xIceConf, role, 0);
  OFF(xIceConf, enable_ipv6, 4);
  OFF(xIceConf, stun_server, 8);
  OFF(xIceConf, turn_server, 16);
  OFF(xIceConf, turn_username, 24);
  OFF(xIceConf, turn_password, 32);
  OFF(xIceConf, on_state_change, 40);
  OFF(xIceConf, on_candidate, 48);
  OFF(xIceConf, on_data, 56);
  OFF(xIceConf, ctx, 64);

  /* XDEF_ENUM types are plain ints. */
  SIZE(xErrno, 4);
  SIZE(xStunMsgType, 4);
  SIZE(xStunAttrType, 4);
  SIZE(xIceCandidateType, 4);
  SIZE(xIcePairState, 4);
  SIZE(xIceSdpSetup, 4);
}

static void enums(void) {
  CHECK_EQ_INT(xErrno_Ok, 0);
  CHECK_EQ_INT(xErrno_Unknown, 1);
  CHECK_EQ_INT(xErrno_InvalidArg, 2);
  CHECK_EQ_INT(xErrno_NoMemory, 3);
  CHECK_EQ_INT(xErrno_InvalidState, 4);
  CHECK_EQ_INT(xErrno_SysError, 5);
  CHECK_EQ_INT(xErrno_NotFound, 6);
  CHECK_EQ_INT(xErrno_AlreadyExists, 7);
  CHECK_EQ_INT(xErrno_Cancelled, 8);
  CHECK_EQ_INT(xErrno_NotSupported, 9);
  CHECK_EQ_INT(xErrno_DnsNotFound, 10);
  CHECK_EQ_INT(xErrno_DnsTempFail, 11);
  CHECK_EQ_INT(xErrno_DnsError, 12);
  CHECK_EQ_INT(xErrno_Timeout, 13);
  CHECK_EQ_INT(xErrno_Again, 14);
  CHECK_EQ_INT(xErrno_Busy, 15);
  CHECK_EQ_INT(xErrno_Pending, 16);
  CHECK_EQ_INT(xErrno_PromptTooLong, 17);

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
  SIZE(xIceState, 4);
  SIZE(xIceRole, 4);
  CHECK_EQ_INT(xIceState_New, 0);
  CHECK_EQ_INT(xIceState_Gathering, 1);
  CHECK_EQ_INT(xIceState_Checking, 2);
  CHECK_EQ_INT(xIceState_Connected, 3);
  CHECK_EQ_INT(xIceState_Completed, 4);
  CHECK_EQ_INT(xIceState_Failed, 5);
  CHECK_EQ_INT(xIceState_Closed, 6);
  CHECK_EQ_INT(xIceRole_Controlling, 0);
  CHECK_EQ_INT(xIceRole_Controlled, 1);
  CHECK_EQ_INT(xIceSdpSetup_Active, 0);
  CHECK_EQ_INT(xIceSdpSetup_Passive, 1);
  CHECK_EQ_INT(xIceSdpSetup_Actpass, 2);
}

static void macros(void) {
  CHECK_EQ_INT(XSTUN_MAGIC_COOKIE, 0x2112A442u);
  CHECK_EQ_INT(XSTUN_HEADER_SIZE, 20);
  CHECK_EQ_INT(XSTUN_TXN_ID_SIZE, 12);
  CHECK_EQ_INT(XSTUN_ATTR_HEADER_SIZE, 4);
  CHECK_EQ_INT(XSTUN_SHA1_DIGEST_SIZE, 20);
  CHECK_EQ_INT(XSTUN_FINGERPRINT_XOR, 0x5354554Eu);
  CHECK_EQ_INT(XSTUN_MAX_MSG_SIZE, 1280);
  CHECK_EQ_INT(XSTUN_CLASS_REQUEST, 0x00);
  CHECK_EQ_INT(XSTUN_CLASS_INDICATION, 0x01);
  CHECK_EQ_INT(XSTUN_CLASS_SUCCESS_RESP, 0x02);
  CHECK_EQ_INT(XSTUN_CLASS_ERROR_RESP, 0x03);
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
  CHECK_EQ_INT(XTURN_TRANSPORT_UDP, 0x11000000u);
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
  CHECK_EQ_INT(XSTUN_MSG_METHOD(0x0113), 0x003);
  CHECK_EQ_INT(XSTUN_MSG_CLASS(0x0113), XSTUN_CLASS_ERROR_RESP);
  CHECK_EQ_INT(XSTUN_MSG_CLASS(0x0011), XSTUN_CLASS_INDICATION);
  CHECK_EQ_INT(XSTUN_ALIGN4(5), 8);
  CHECK_EQ_INT(XSTUN_ALIGN4(8), 8);

  CHECK_EQ_INT(XICE_MAX_CANDIDATES, 32);
  CHECK_EQ_INT(XICE_MAX_PAIRS, 128);
  CHECK_EQ_INT(XSDP_MAX_SIZE, 4096);
  CHECK_EQ_INT(XSDP_MAX_FINGERPRINT_LEN, 128);
  CHECK_EQ_INT(XSDP_MAX_SETUP_LEN, 16);
  CHECK_EQ_INT(XSDP_MAX_MID_LEN, 32);
  CHECK_EQ_INT(XSTUN_TXN_MAX, 32);
  CHECK_EQ_INT(XICE_MD5_DIGEST_SIZE, 16);
  CHECK_EQ_INT(XICE_SHA1_BLOCK_SIZE, 64);
  CHECK_EQ_INT(XICE_SHA1_DIGEST_SIZE, 20);
}

static void inline_helpers(void) {
  uint8_t b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  CHECK_EQ_INT(xReadU16BE(b), 0x0102);
  CHECK_EQ_INT(xReadU32BE(b), 0x01020304u);
  CHECK(xReadU64BE(b) == 0x0102030405060708ull);
  xWriteU16BE(b, 0xA1B2);
  CHECK(b[0] == 0xA1 && b[1] == 0xB2);
  xWriteU32BE(b, 0xDEADBEEFu);
  CHECK_EQ_INT(xReadU32BE(b), 0xDEADBEEFu);
  xWriteU64BE(b, 0x1122334455667788ull);
  CHECK(xReadU64BE(b) == 0x1122334455667788ull);
  CHECK_EQ_INT(xIceDemuxClassify(0), XICE_DEMUX_STUN);
  CHECK_EQ_INT(xIceDemuxClassify(3), XICE_DEMUX_STUN);
  CHECK_EQ_INT(xIceDemuxClassify(4), -1);
  CHECK_EQ_INT(xIceDemuxClassify(20), XICE_DEMUX_DTLS);
  CHECK_EQ_INT(xIceDemuxClassify(63), XICE_DEMUX_DTLS);
  CHECK_EQ_INT(xIceDemuxClassify(64), XICE_DEMUX_TURN_CHANNEL);
  CHECK_EQ_INT(xIceDemuxClassify(79), XICE_DEMUX_TURN_CHANNEL);
  CHECK_EQ_INT(xIceDemuxClassify(80), -1);
  CHECK_EQ_INT(xIceDemuxClassify(128), XICE_DEMUX_RTP);
  CHECK_EQ_INT(xIceDemuxClassify(191), XICE_DEMUX_RTP);
  CHECK_EQ_INT(xIceDemuxClassify(192), -1);
  CHECK(xStunMsgIsRequest(xStunMsgType_BindingRequest));
  CHECK(xStunMsgIsIndication(xStunMsgType_SendIndication));
  CHECK(xStunMsgIsSuccessResponse(xStunMsgType_BindingResponse));
  CHECK(xStunMsgIsErrorResponse(xStunMsgType_AllocateErrorResponse));
  CHECK(!xStunMsgIsRequest(xStunMsgType_BindingResponse));
  CHECK(xStunAttrIsComprehensionRequired(xStunAttrType_Username));
  CHECK(!xStunAttrIsComprehensionRequired(xStunAttrType_Software));
  CHECK(xTurnIsChannelData(0x40) && xTurnIsChannelData(0x7F));
  CHECK(!xTurnIsChannelData(0x3F) && !xTurnIsChannelData(0x80));
}

int main(void) {
  structs();
  enums();
  macros();
  inline_helpers();
  return CHECK_DONE();
}
