//! The agent's STUN messages: RFC 7983 demultiplexing, building checks and
//! answers, and verifying what arrives.
//!
//! Every message the agent sends ends with FINGERPRINT. Checks and their
//! answers carry MESSAGE-INTEGRITY (short-term credentials: the key is the
//! password of the side that receives the request). Requests to STUN
//! servers carry no attributes, as the C agent sends them.

use std::net::SocketAddr;

use super::Role;
use crate::stun::{
    attr_type, Attribute, Message, MessageBuilder, MessageType, StunError, TransactionId,
};

/// Room for the largest message the agent writes: a USERNAME of two
/// 256-character fragments, fixed-size ICE attributes, integrity and
/// fingerprint.
const BUILD_BUF: usize = 1024;

/// What a datagram is, by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Demux {
    /// 0–3: STUN.
    Stun,
    /// 20–63: DTLS.
    Dtls,
    /// 64–79: TURN ChannelData.
    ChannelData,
    /// Anything else: application data (RTP/RTCP or raw datagrams).
    Other,
}

/// Classifies a datagram by its first byte.
pub(crate) fn demux(first: u8) -> Demux {
    match first {
        0..=3 => Demux::Stun,
        20..=63 => Demux::Dtls,
        64..=79 => Demux::ChannelData,
        _ => Demux::Other,
    }
}

/// The ICE attributes of an outgoing connectivity (or consent) check.
pub(crate) struct CheckParams<'a> {
    /// `remote_ufrag:local_ufrag`.
    pub username: &'a str,
    /// The priority a peer-reflexive candidate learned from this check
    /// would get (RFC 8445 §7.1.1).
    pub priority: u32,
    pub role: Role,
    pub tie_breaker: u64,
    pub use_candidate: bool,
    /// The remote password.
    pub key: &'a [u8],
}

/// A Binding request with USERNAME, PRIORITY, the role attribute,
/// optionally USE-CANDIDATE, MESSAGE-INTEGRITY and FINGERPRINT.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn build_check(txn: &TransactionId, p: &CheckParams<'_>) -> Result<Vec<u8>, StunError> {
    let mut buf = [0u8; BUILD_BUF];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, txn)?;
    b.add(&Attribute::Username(p.username))?;
    b.add(&Attribute::Priority(p.priority))?;
    match p.role {
        Role::Controlling => b.add(&Attribute::IceControlling(p.tie_breaker))?,
        Role::Controlled => b.add(&Attribute::IceControlled(p.tie_breaker))?,
    }
    if p.use_candidate {
        b.add(&Attribute::UseCandidate)?;
    }
    b.message_integrity(p.key)?;
    b.fingerprint()?;
    Ok(b.finish().to_vec())
}

/// A Binding success response: XOR-MAPPED-ADDRESS of the request's source,
/// MESSAGE-INTEGRITY with the local password, FINGERPRINT.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn build_success(
    txn: &TransactionId,
    mapped: SocketAddr,
    key: &[u8],
) -> Result<Vec<u8>, StunError> {
    let mut buf = [0u8; BUILD_BUF];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_RESPONSE, txn)?;
    b.add(&Attribute::XorMappedAddress(mapped))?;
    b.message_integrity(key)?;
    b.fingerprint()?;
    Ok(b.finish().to_vec())
}

/// A Binding error response with ERROR-CODE, MESSAGE-INTEGRITY with the
/// local password and FINGERPRINT.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn build_error(
    txn: &TransactionId,
    code: u16,
    reason: &str,
    key: &[u8],
) -> Result<Vec<u8>, StunError> {
    let mut buf = [0u8; BUILD_BUF];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_ERROR_RESPONSE, txn)?;
    b.add(&Attribute::ErrorCode { code, reason })?;
    b.message_integrity(key)?;
    b.fingerprint()?;
    Ok(b.finish().to_vec())
}

/// A Binding request to a STUN server: header only.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn build_server_request(txn: &TransactionId) -> Result<Vec<u8>, StunError> {
    let mut buf = [0u8; 64];
    let b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, txn)?;
    Ok(b.finish().to_vec())
}

/// The role a check request asserts, with its tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRole {
    Controlling(u64),
    Controlled(u64),
}

/// The ICE attributes of a verified incoming check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckRequest {
    pub priority: u32,
    pub use_candidate: bool,
    /// `None` when the request carries neither role attribute.
    pub role: Option<PeerRole>,
}

/// Why an incoming request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// FINGERPRINT, USERNAME or MESSAGE-INTEGRITY missing or wrong.
    Unauthenticated,
    /// Authenticated, but an ICE attribute is missing or malformed.
    Malformed,
}

/// Verifies a Binding request addressed to this agent (RFC 8445 §7.3):
/// FINGERPRINT, USERNAME `local_ufrag:*` and MESSAGE-INTEGRITY keyed with
/// the local password, then reads PRIORITY, USE-CANDIDATE and the role.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn verify_request(
    msg: &Message<'_>,
    local_ufrag: &str,
    local_pwd: &str,
) -> Result<CheckRequest, Refused> {
    msg.verify_fingerprint()
        .map_err(|_| Refused::Unauthenticated)?;
    let username = match msg.decode(attr_type::USERNAME) {
        Some(Ok(Attribute::Username(u))) => u,
        _ => return Err(Refused::Unauthenticated),
    };
    match username.split_once(':') {
        Some((left, _)) if left == local_ufrag => {}
        _ => return Err(Refused::Unauthenticated),
    }
    msg.verify_integrity(local_pwd.as_bytes())
        .map_err(|_| Refused::Unauthenticated)?;
    if msg
        .unknown_required()
        .any(|t| !super::mtu_probe::ignorable(t))
    {
        return Err(Refused::Malformed);
    }
    let priority = match msg.decode(attr_type::PRIORITY) {
        Some(Ok(Attribute::Priority(p))) if p > 0 => p,
        _ => return Err(Refused::Malformed),
    };
    let use_candidate = match msg.decode(attr_type::USE_CANDIDATE) {
        None => false,
        Some(Ok(_)) => true,
        Some(Err(_)) => return Err(Refused::Malformed),
    };
    let controlling = msg.decode(attr_type::ICE_CONTROLLING);
    let controlled = msg.decode(attr_type::ICE_CONTROLLED);
    let role = match (controlling, controlled) {
        (None, None) => None,
        (Some(Ok(Attribute::IceControlling(t))), None) => Some(PeerRole::Controlling(t)),
        (None, Some(Ok(Attribute::IceControlled(t)))) => Some(PeerRole::Controlled(t)),
        _ => return Err(Refused::Malformed),
    };
    Ok(CheckRequest {
        priority,
        use_candidate,
        role,
    })
}

/// Verifies a response to one of the agent's checks: FINGERPRINT and
/// MESSAGE-INTEGRITY keyed with the remote password.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn verify_response(msg: &Message<'_>, remote_pwd: &str) -> bool {
    msg.verify_fingerprint().is_ok() && msg.verify_integrity(remote_pwd.as_bytes()).is_ok()
}

/// XOR-MAPPED-ADDRESS, or the classic MAPPED-ADDRESS of an RFC 3489 server.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn mapped_address(msg: &Message<'_>) -> Option<SocketAddr> {
    match msg.decode(attr_type::XOR_MAPPED_ADDRESS) {
        Some(Ok(Attribute::XorMappedAddress(a))) => Some(a),
        Some(_) => None,
        None => match msg.decode(attr_type::MAPPED_ADDRESS) {
            Some(Ok(Attribute::MappedAddress(a))) => Some(a),
            _ => None,
        },
    }
}

/// The ERROR-CODE number of an error response.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn error_code(msg: &Message<'_>) -> Option<u16> {
    match msg.decode(attr_type::ERROR_CODE) {
        Some(Ok(Attribute::ErrorCode { code, .. })) => Some(code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::Class;

    const ID: TransactionId = [7; 12];

    #[test]
    fn demux_follows_rfc7983_ranges() {
        assert_eq!(demux(0), Demux::Stun);
        assert_eq!(demux(3), Demux::Stun);
        assert_eq!(demux(4), Demux::Other);
        assert_eq!(demux(19), Demux::Other);
        assert_eq!(demux(20), Demux::Dtls);
        assert_eq!(demux(63), Demux::Dtls);
        assert_eq!(demux(64), Demux::ChannelData);
        assert_eq!(demux(79), Demux::ChannelData);
        assert_eq!(demux(80), Demux::Other);
        assert_eq!(demux(128), Demux::Other);
    }

    fn check(use_candidate: bool, role: Role) -> Vec<u8> {
        build_check(
            &ID,
            &CheckParams {
                username: "LOCAL:remote",
                priority: 1234,
                role,
                tie_breaker: 99,
                use_candidate,
                key: b"local-password-0123456789",
            },
        )
        .unwrap()
    }

    #[test]
    fn built_check_verifies_and_reads_back() {
        let bytes = check(true, Role::Controlling);
        let msg = Message::parse(&bytes).unwrap();
        let req = verify_request(&msg, "LOCAL", "local-password-0123456789").unwrap();
        assert_eq!(req.priority, 1234);
        assert!(req.use_candidate);
        assert_eq!(req.role, Some(PeerRole::Controlling(99)));
        let bytes = check(false, Role::Controlled);
        let msg = Message::parse(&bytes).unwrap();
        let req = verify_request(&msg, "LOCAL", "local-password-0123456789").unwrap();
        assert!(!req.use_candidate);
        assert_eq!(req.role, Some(PeerRole::Controlled(99)));
    }

    #[test]
    fn padding_is_accepted_other_unknown_required_attributes_are_not() {
        let build = |typ: u16| {
            let mut buf = [0u8; 256];
            let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, &ID).unwrap();
            b.add(&Attribute::Username("LOCAL:remote")).unwrap();
            b.add(&Attribute::Priority(5)).unwrap();
            b.add_raw(typ, &[0; 64]).unwrap();
            b.message_integrity(b"local-password-0123456789").unwrap();
            b.fingerprint().unwrap();
            b.finish().to_vec()
        };
        let padded = build(super::super::mtu_probe::PADDING);
        let msg = Message::parse(&padded).unwrap();
        assert!(verify_request(&msg, "LOCAL", "local-password-0123456789").is_ok());
        let other = build(0x0027);
        let msg = Message::parse(&other).unwrap();
        assert_eq!(
            verify_request(&msg, "LOCAL", "local-password-0123456789"),
            Err(Refused::Malformed)
        );
    }

    #[test]
    fn wrong_ufrag_or_password_is_unauthenticated() {
        let bytes = check(false, Role::Controlled);
        let msg = Message::parse(&bytes).unwrap();
        assert_eq!(
            verify_request(&msg, "OTHER", "local-password-0123456789"),
            Err(Refused::Unauthenticated)
        );
        assert_eq!(
            verify_request(&msg, "LOCAL", "wrong-password-0123456789"),
            Err(Refused::Unauthenticated)
        );
        // A prefix of the ufrag is not the ufrag.
        assert_eq!(
            verify_request(&msg, "LOC", "local-password-0123456789"),
            Err(Refused::Unauthenticated)
        );
        let plain = build_server_request(&ID).unwrap();
        let msg = Message::parse(&plain).unwrap();
        assert_eq!(
            verify_request(&msg, "LOCAL", "local-password-0123456789"),
            Err(Refused::Unauthenticated)
        );
    }

    #[test]
    fn responses_carry_mapped_address_and_codes() {
        let a: SocketAddr = "192.0.2.7:4444".parse().unwrap();
        let ok = build_success(&ID, a, b"pw").unwrap();
        let msg = Message::parse(&ok).unwrap();
        assert_eq!(msg.class(), Class::SuccessResponse);
        assert!(verify_response(&msg, "pw"));
        assert!(!verify_response(&msg, "px"));
        assert_eq!(mapped_address(&msg), Some(a));
        let err = build_error(&ID, 487, "Role Conflict", b"pw").unwrap();
        let msg = Message::parse(&err).unwrap();
        assert_eq!(msg.class(), Class::ErrorResponse);
        assert_eq!(error_code(&msg), Some(487));
    }
}
