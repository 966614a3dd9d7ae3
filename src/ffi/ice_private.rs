//! `ice_private.h`: the STUN/ICE/TURN protocol constants and enums shared by
//! the lower-level headers. The header also carries big-endian load/store
//! helpers, the RFC 7983 demultiplexer and the STUN type bit macros as
//! `static inline` C text (see `cbindgen/xp2p/ice_private.toml`).
//!
//! The enums are `XDEF_ENUM` (plain `int`): here a type alias plus one
//! constant per enumerator; their C text is written verbatim in the toml.

use libc::c_int;

// ---- STUN (RFC 5389) -------------------------------------------------------

pub const XSTUN_MAGIC_COOKIE: u32 = 0x2112_A442u32;
pub const XSTUN_HEADER_SIZE: usize = 20;
pub const XSTUN_TXN_ID_SIZE: usize = 12;
pub const XSTUN_ATTR_HEADER_SIZE: usize = 4;
pub const XSTUN_SHA1_DIGEST_SIZE: usize = 20;
pub const XSTUN_FINGERPRINT_XOR: u32 = 0x5354_554Eu32;
pub const XSTUN_MAX_MSG_SIZE: usize = 1280;
pub const XSTUN_CLASS_REQUEST: u16 = 0x00;
pub const XSTUN_CLASS_INDICATION: u16 = 0x01;
pub const XSTUN_CLASS_SUCCESS_RESP: u16 = 0x02;
pub const XSTUN_CLASS_ERROR_RESP: u16 = 0x03;

// ---- ICE (RFC 8445) --------------------------------------------------------

pub const XICE_TYPE_PREF_HOST: u32 = 126;
pub const XICE_TYPE_PREF_SRFLX: u32 = 100;
pub const XICE_TYPE_PREF_PRFLX: u32 = 110;
pub const XICE_TYPE_PREF_RELAY: u32 = 0;
pub const XICE_GATHER_TIMEOUT_MS: u64 = 5000;
pub const XICE_CHECK_TIMEOUT_MS: u64 = 10000;
pub const XICE_CHECK_PACING_MS: u64 = 50;
pub const XICE_CONSENT_INTERVAL_MS: u64 = 15000;
pub const XICE_CONSENT_TIMEOUT_MS: u64 = 30000;

// ---- STUN retransmission ---------------------------------------------------

pub const XSTUN_INITIAL_RTO_MS: u64 = 500;
pub const XSTUN_MAX_RETRANSMITS: u32 = 7;

// ---- TURN (RFC 5766) -------------------------------------------------------

pub const XTURN_TRANSPORT_UDP: u32 = 0x1100_0000u32;
pub const XTURN_CHANNEL_MIN: u16 = 0x4000;
pub const XTURN_CHANNEL_MAX: u16 = 0x7FFF;
pub const XTURN_CHANNEL_HEADER_SIZE: usize = 4;
pub const XTURN_REFRESH_RATIO: u32 = 80;

// ---- ICE credentials -------------------------------------------------------

pub const XICE_UFRAG_MIN_LEN: usize = 4;
pub const XICE_PWD_MIN_LEN: usize = 22;
pub const XICE_UFRAG_LEN: usize = 8;
pub const XICE_PWD_LEN: usize = 24;
pub const XICE_FOUNDATION_MAX_LEN: usize = 32;
pub const XICE_UFRAG_MAX_LEN: usize = 64;
pub const XICE_PWD_MAX_LEN: usize = 128;

// ---- RFC 7983 demultiplexing (results of xIceDemuxClassify) ----------------

pub const XICE_DEMUX_STUN: c_int = 0;
pub const XICE_DEMUX_DTLS: c_int = 1;
pub const XICE_DEMUX_TURN_CHANNEL: c_int = 2;
pub const XICE_DEMUX_RTP: c_int = 3;

// ---- Enums (C text in the toml) --------------------------------------------

pub type xStunMsgType = c_int;
pub const xStunMsgType_BindingRequest: xStunMsgType = 0x0001;
pub const xStunMsgType_BindingIndication: xStunMsgType = 0x0011;
pub const xStunMsgType_BindingResponse: xStunMsgType = 0x0101;
pub const xStunMsgType_BindingErrorResponse: xStunMsgType = 0x0111;
pub const xStunMsgType_AllocateRequest: xStunMsgType = 0x0003;
pub const xStunMsgType_AllocateResponse: xStunMsgType = 0x0103;
pub const xStunMsgType_AllocateErrorResponse: xStunMsgType = 0x0113;
pub const xStunMsgType_RefreshRequest: xStunMsgType = 0x0004;
pub const xStunMsgType_RefreshResponse: xStunMsgType = 0x0104;
pub const xStunMsgType_RefreshErrorResponse: xStunMsgType = 0x0114;
pub const xStunMsgType_SendIndication: xStunMsgType = 0x0016;
pub const xStunMsgType_DataIndication: xStunMsgType = 0x0017;
pub const xStunMsgType_CreatePermissionRequest: xStunMsgType = 0x0008;
pub const xStunMsgType_CreatePermissionResponse: xStunMsgType = 0x0108;
pub const xStunMsgType_CreatePermissionErrorResponse: xStunMsgType = 0x0118;
pub const xStunMsgType_ChannelBindRequest: xStunMsgType = 0x0009;
pub const xStunMsgType_ChannelBindResponse: xStunMsgType = 0x0109;
pub const xStunMsgType_ChannelBindErrorResponse: xStunMsgType = 0x0119;

pub type xStunAttrType = c_int;
pub const xStunAttrType_MappedAddress: xStunAttrType = 0x0001;
pub const xStunAttrType_Username: xStunAttrType = 0x0006;
pub const xStunAttrType_MessageIntegrity: xStunAttrType = 0x0008;
pub const xStunAttrType_ErrorCode: xStunAttrType = 0x0009;
pub const xStunAttrType_UnknownAttributes: xStunAttrType = 0x000A;
pub const xStunAttrType_Realm: xStunAttrType = 0x0014;
pub const xStunAttrType_Nonce: xStunAttrType = 0x0015;
pub const xStunAttrType_XorMappedAddress: xStunAttrType = 0x0020;
pub const xStunAttrType_Priority: xStunAttrType = 0x0024;
pub const xStunAttrType_UseCandidate: xStunAttrType = 0x0025;
pub const xStunAttrType_Software: xStunAttrType = 0x8022;
pub const xStunAttrType_AlternateServer: xStunAttrType = 0x8023;
pub const xStunAttrType_Fingerprint: xStunAttrType = 0x8028;
pub const xStunAttrType_IceControlled: xStunAttrType = 0x8029;
pub const xStunAttrType_IceControlling: xStunAttrType = 0x802A;
pub const xStunAttrType_ChannelNumber: xStunAttrType = 0x000C;
pub const xStunAttrType_Lifetime: xStunAttrType = 0x000D;
pub const xStunAttrType_XorPeerAddress: xStunAttrType = 0x0012;
pub const xStunAttrType_Data: xStunAttrType = 0x0013;
pub const xStunAttrType_XorRelayedAddress: xStunAttrType = 0x0016;
pub const xStunAttrType_RequestedTransport: xStunAttrType = 0x0019;

pub type xIceCandidateType = c_int;
pub const xIceCandidateType_Host: xIceCandidateType = 0;
pub const xIceCandidateType_Srflx: xIceCandidateType = 1;
pub const xIceCandidateType_Prflx: xIceCandidateType = 2;
pub const xIceCandidateType_Relay: xIceCandidateType = 3;

pub type xIcePairState = c_int;
pub const xIcePairState_Frozen: xIcePairState = 0;
pub const xIcePairState_Waiting: xIcePairState = 1;
pub const xIcePairState_InProgress: xIcePairState = 2;
pub const xIcePairState_Succeeded: xIcePairState = 3;
pub const xIcePairState_Failed: xIcePairState = 4;

pub type xIceAgentState = c_int;
pub const xIceAgentState_New: xIceAgentState = 0;
pub const xIceAgentState_Gathering: xIceAgentState = 1;
pub const xIceAgentState_Checking: xIceAgentState = 2;
pub const xIceAgentState_Connected: xIceAgentState = 3;
pub const xIceAgentState_Completed: xIceAgentState = 4;
pub const xIceAgentState_Failed: xIceAgentState = 5;
pub const xIceAgentState_Closed: xIceAgentState = 6;

pub type xIceAgentRole = c_int;
pub const xIceAgentRole_Controlling: xIceAgentRole = 0;
pub const xIceAgentRole_Controlled: xIceAgentRole = 1;
