/* sizeof/offsetof of every public struct of the codec headers, the values of
 * their enums and macros, all against the numbers of the ABI specification
 * (Linux LP64). The enums, macros and inline helpers of ice_private.h have
 * their own test, test_ice_private.c. */
#include <stddef.h>

#include <xbase/error.h>
#include <xp2p/datachannel.h>
#include <xp2p/dtls_backend.h>
#include <xp2p/dtls_transport.h>
#include <xp2p/sctp_transport.h>
#include <xp2p/peer_connection.h>
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
#include <xp2p/turn_client.h>

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

  SIZE(xTurnConfig, 432);
  OFF(xTurnConfig, server, 0);
  OFF(xTurnConfig, username, 128);
  OFF(xTurnConfig, password, 256);
  OFF(xTurnConfig, send_fn, 384);
  OFF(xTurnConfig, send_arg, 392);
  OFF(xTurnConfig, on_allocated, 400);
  OFF(xTurnConfig, on_failed, 408);
  OFF(xTurnConfig, on_data, 416);
  OFF(xTurnConfig, ctx, 424);
  SIZE(xTurnClient, 4600);
  OFF(xTurnClient, config, 0);
  OFF(xTurnClient, state, 432);
  OFF(xTurnClient, txn_mgr, 440);
  OFF(xTurnClient, loop, 712);
  OFF(xTurnClient, relayed_addr, 720);
  OFF(xTurnClient, mapped_addr, 848);
  OFF(xTurnClient, lifetime, 976);
  OFF(xTurnClient, refresh_timer, 984);
  OFF(xTurnClient, realm, 992);
  OFF(xTurnClient, nonce, 1120);
  OFF(xTurnClient, has_credentials, 1376);
  OFF(xTurnClient, permissions, 1384);
  OFF(xTurnClient, permission_count, 3432);
  OFF(xTurnClient, channels, 3440);
  OFF(xTurnClient, channel_count, 4592);
  OFF(xTurnClient, next_channel, 4596);

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

  SIZE(xPeerConnectionConf, 96);
  OFF(xPeerConnectionConf, stun_server, 0);
  OFF(xPeerConnectionConf, turn_server, 8);
  OFF(xPeerConnectionConf, turn_username, 16);
  OFF(xPeerConnectionConf, turn_password, 24);
  OFF(xPeerConnectionConf, enable_ipv6, 32);
  OFF(xPeerConnectionConf, sctp_port, 34);
  OFF(xPeerConnectionConf, on_state_change, 40);
  OFF(xPeerConnectionConf, on_ice_candidate, 48);
  OFF(xPeerConnectionConf, on_datachannel, 56);
  OFF(xPeerConnectionConf, on_dc_open, 64);
  OFF(xPeerConnectionConf, on_dc_message, 72);
  OFF(xPeerConnectionConf, on_dc_close, 80);
  OFF(xPeerConnectionConf, ctx, 88);

  SIZE(xDataChannelConf, 568);
  OFF(xDataChannelConf, label, 0);
  OFF(xDataChannelConf, protocol, 256);
  OFF(xDataChannelConf, ordered, 512);
  OFF(xDataChannelConf, max_retransmits, 514);
  OFF(xDataChannelConf, max_packet_life_time, 516);
  OFF(xDataChannelConf, on_open, 520);
  OFF(xDataChannelConf, on_message, 528);
  OFF(xDataChannelConf, on_close, 536);
  OFF(xDataChannelConf, on_error, 544);
  OFF(xDataChannelConf, on_buffered_amount_low, 552);
  OFF(xDataChannelConf, ctx, 560);

  SIZE(xDtlsTransportConf, 96);
  OFF(xDtlsTransportConf, loop, 0);
  OFF(xDtlsTransportConf, role, 8);
  OFF(xDtlsTransportConf, remote_fingerprint, 12);
  OFF(xDtlsTransportConf, verify_fingerprint, 44);
  OFF(xDtlsTransportConf, send_fn, 48);
  OFF(xDtlsTransportConf, send_arg, 56);
  OFF(xDtlsTransportConf, on_state_change, 64);
  OFF(xDtlsTransportConf, on_data, 72);
  OFF(xDtlsTransportConf, ctx, 80);
  OFF(xDtlsTransportConf, handshake_timeout_ms, 88);

  SIZE(xSctpTransportConf, 80);
  OFF(xSctpTransportConf, loop, 0);
  OFF(xSctpTransportConf, dtls, 8);
  OFF(xSctpTransportConf, is_client, 16);
  OFF(xSctpTransportConf, local_port, 18);
  OFF(xSctpTransportConf, remote_port, 20);
  OFF(xSctpTransportConf, on_state_change, 24);
  OFF(xSctpTransportConf, on_data, 32);
  OFF(xSctpTransportConf, on_stream_open, 40);
  OFF(xSctpTransportConf, on_stream_close, 48);
  OFF(xSctpTransportConf, on_buffered_amount_low, 56);
  OFF(xSctpTransportConf, ctx, 64);
  OFF(xSctpTransportConf, assoc_timeout_ms, 72);

  SIZE(xDataChannelMgrConf, 56);
  OFF(xDataChannelMgrConf, sctp, 0);
  OFF(xDataChannelMgrConf, on_remote_open, 8);
  OFF(xDataChannelMgrConf, on_open, 16);
  OFF(xDataChannelMgrConf, on_message, 24);
  OFF(xDataChannelMgrConf, on_close, 32);
  OFF(xDataChannelMgrConf, on_error, 40);
  OFF(xDataChannelMgrConf, ctx, 48);

  /* The backend vtable: the spec's field order, one pointer each. */
  SIZE(xDtlsBackend, 96);
  OFF(xDtlsBackend, name, 0);
  OFF(xDtlsBackend, create, 8);
  OFF(xDtlsBackend, destroy, 16);
  OFF(xDtlsBackend, set_role, 24);
  OFF(xDtlsBackend, get_fingerprint, 32);
  OFF(xDtlsBackend, handshake, 40);
  OFF(xDtlsBackend, flush_output, 48);
  OFF(xDtlsBackend, feed_input, 56);
  OFF(xDtlsBackend, encrypt_send, 64);
  OFF(xDtlsBackend, decrypt_read, 72);
  OFF(xDtlsBackend, get_remote_fingerprint, 80);
  OFF(xDtlsBackend, is_handshake_done, 88);

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

  SIZE(xTurnState, 4);
  CHECK_EQ_INT(xTurnState_Idle, 0);
  CHECK_EQ_INT(xTurnState_Allocating, 1);
  CHECK_EQ_INT(xTurnState_Allocated, 2);
  CHECK_EQ_INT(xTurnState_Failed, 3);
  CHECK_EQ_INT(XTURN_MAX_PERMISSIONS, 16);
  CHECK_EQ_INT(XTURN_MAX_CHANNELS, 8);

  SIZE(xPeerConnectionState, 4);
  SIZE(xDataChannelState, 4);
  SIZE(xDataChannelMsgType, 4);
  CHECK_EQ_INT(xPeerConnectionState_New, 0);
  CHECK_EQ_INT(xPeerConnectionState_Connecting, 1);
  CHECK_EQ_INT(xPeerConnectionState_Connected, 2);
  CHECK_EQ_INT(xPeerConnectionState_Disconnected, 3);
  CHECK_EQ_INT(xPeerConnectionState_Failed, 4);
  CHECK_EQ_INT(xPeerConnectionState_Closed, 5);
  CHECK_EQ_INT(xDataChannelState_Connecting, 0);
  CHECK_EQ_INT(xDataChannelState_Open, 1);
  CHECK_EQ_INT(xDataChannelState_Closing, 2);
  CHECK_EQ_INT(xDataChannelState_Closed, 3);
  CHECK_EQ_INT(xDataChannelMsgType_String, 0);
  CHECK_EQ_INT(xDataChannelMsgType_Binary, 1);
  CHECK_EQ_INT(XSCTP_DEFAULT_PORT, 5000);
  CHECK_EQ_INT(XSCTP_MAX_STREAMS, 256);
  CHECK_EQ_INT(XSCTP_PPID_DCEP, 50);
  CHECK_EQ_INT(XSCTP_PPID_STRING, 51);
  CHECK_EQ_INT(XSCTP_PPID_BINARY, 53);
  CHECK_EQ_INT(XSCTP_PPID_STRING_EMPTY, 56);
  CHECK_EQ_INT(XSCTP_PPID_BINARY_EMPTY, 57);
  CHECK_EQ_INT(XDC_MAX_LABEL_LEN, 256);
  CHECK_EQ_INT(XDC_MAX_PROTOCOL_LEN, 256);
  CHECK_EQ_INT(XDC_MAX_CHANNELS, 64);
  CHECK_EQ_INT(XDCEP_DATA_CHANNEL_OPEN, 0x03);
  CHECK_EQ_INT(XDCEP_DATA_CHANNEL_ACK, 0x02);
  CHECK_EQ_INT(XDCEP_CHANNEL_RELIABLE, 0x00);
  CHECK_EQ_INT(XDCEP_CHANNEL_RELIABLE_UNORDERED, 0x80);
  CHECK_EQ_INT(XDCEP_CHANNEL_PARTIAL_RTXS, 0x01);
  CHECK_EQ_INT(XDCEP_CHANNEL_PARTIAL_RTXS_UNORDERED, 0x81);
  CHECK_EQ_INT(XDCEP_CHANNEL_PARTIAL_TIME, 0x02);
  CHECK_EQ_INT(XDCEP_CHANNEL_PARTIAL_TIME_UNORDERED, 0x82);
  SIZE(xDtlsRole, 4);
  SIZE(xDtlsState, 4);
  CHECK_EQ_INT(xDtlsRole_Active, 0);
  CHECK_EQ_INT(xDtlsRole_Passive, 1);
  CHECK_EQ_INT(xDtlsRole_Actpass, 2);
  CHECK_EQ_INT(xDtlsState_New, 0);
  CHECK_EQ_INT(xDtlsState_Connecting, 1);
  CHECK_EQ_INT(xDtlsState_Connected, 2);
  CHECK_EQ_INT(xDtlsState_Failed, 3);
  CHECK_EQ_INT(xDtlsState_Closed, 4);
  CHECK_EQ_INT(XDTLS_FINGERPRINT_SIZE, 32);
  CHECK_EQ_INT(XDTLS_FINGERPRINT_STR_SIZE, 96);
  CHECK_EQ_INT(XDTLS_MAX_CERT_SIZE, 2048);
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

int main(void) {
  structs();
  enums();
  macros();
  return CHECK_DONE();
}
