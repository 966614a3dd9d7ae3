//! STUN (RFC 5389): message and attribute codec, transaction schedule.
//!
//! * [`Message`] is a zero-copy view of a received message: header checks,
//!   attribute iteration, MESSAGE-INTEGRITY and FINGERPRINT verification.
//! * [`Attribute`] is the typed form of one attribute, decoded from a
//!   [`RawAttr`] and encoded by [`MessageBuilder`].
//! * [`MessageBuilder`] writes a message into a caller buffer, keeping the
//!   header length current, and appends MESSAGE-INTEGRITY / FINGERPRINT.
//! * [`txn::RetransmitSchedule`] is the sans-IO request retransmission timer.
//!
//! Nothing here reads the clock or allocates on the encode/decode paths.

mod attr;
mod msg;
pub mod txn;

pub use attr::{attr_type, AttrTypeList, Attribute, RawAttr};
pub use attr::{decode_address_prefix, MAX_TEXT_LEN, MAX_USERNAME_LEN};
pub use msg::{
    attr_at, compute_fingerprint, compute_integrity, looks_like_stun, pad4, write_attr,
    write_raw_attr, write_raw_attr_parts, Attributes, Header, Message, MessageBuilder,
};

/// The fixed value in bytes 4..8 of every RFC 5389 message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Size of the message header.
pub const HEADER_LEN: usize = 20;
/// Size of the transaction id.
pub const TXN_ID_LEN: usize = 12;
/// Size of an attribute's type + length header.
pub const ATTR_HEADER_LEN: usize = 4;
/// Size of the MESSAGE-INTEGRITY value (HMAC-SHA1).
pub const INTEGRITY_LEN: usize = 20;
/// Size of the FINGERPRINT value.
pub const FINGERPRINT_LEN: usize = 4;
/// XORed into the CRC-32 of a FINGERPRINT attribute.
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// A 96-bit STUN transaction id.
pub type TransactionId = [u8; TXN_ID_LEN];

/// Errors of the STUN layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StunError {
    /// The bytes are not a well-formed STUN message or attribute.
    Malformed,
    /// The output buffer is too small for what was asked to be written.
    BufferTooSmall,
    /// A value the caller gave cannot be encoded (out of range, too long).
    InvalidValue,
    /// An attribute was added after MESSAGE-INTEGRITY (only FINGERPRINT may
    /// follow it) or after FINGERPRINT (which must be last).
    AttributeOrder,
    /// The message has no MESSAGE-INTEGRITY (or no FINGERPRINT) to verify.
    MissingAttribute,
    /// MESSAGE-INTEGRITY does not match the key.
    IntegrityMismatch,
    /// FINGERPRINT does not match the message.
    FingerprintMismatch,
}

impl std::fmt::Display for StunError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StunError::Malformed => "malformed STUN message",
            StunError::BufferTooSmall => "buffer too small for the STUN message",
            StunError::InvalidValue => "value cannot be encoded as a STUN attribute",
            StunError::AttributeOrder => "attribute after MESSAGE-INTEGRITY or FINGERPRINT",
            StunError::MissingAttribute => "MESSAGE-INTEGRITY or FINGERPRINT missing",
            StunError::IntegrityMismatch => "MESSAGE-INTEGRITY mismatch",
            StunError::FingerprintMismatch => "FINGERPRINT mismatch",
        })
    }
}

impl std::error::Error for StunError {}

/// The class of a STUN message (the C0/C1 bits of the type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Request,
    Indication,
    SuccessResponse,
    ErrorResponse,
}

impl Class {
    /// The 2-bit class number (0 request … 3 error response).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn bits(self) -> u16 {
        match self {
            Class::Request => 0,
            Class::Indication => 1,
            Class::SuccessResponse => 2,
            Class::ErrorResponse => 3,
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn from_bits(b: u16) -> Class {
        match b & 3 {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        }
    }
}

/// STUN and TURN method numbers (12 bits).
pub mod method {
    pub const BINDING: u16 = 0x001;
    pub const ALLOCATE: u16 = 0x003;
    pub const REFRESH: u16 = 0x004;
    pub const SEND: u16 = 0x006;
    pub const DATA: u16 = 0x007;
    pub const CREATE_PERMISSION: u16 = 0x008;
    pub const CHANNEL_BIND: u16 = 0x009;
}

/// A 14-bit STUN message type: method and class interleaved (RFC 5389 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(u16);

impl MessageType {
    pub const BINDING_REQUEST: MessageType = MessageType(0x0001);
    pub const BINDING_INDICATION: MessageType = MessageType(0x0011);
    pub const BINDING_RESPONSE: MessageType = MessageType(0x0101);
    pub const BINDING_ERROR_RESPONSE: MessageType = MessageType(0x0111);

    /// Combines a method (12 bits; higher bits are dropped) and a class.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(method: u16, class: Class) -> MessageType {
        let m = method & 0x0FFF;
        let c = class.bits();
        MessageType(
            (m & 0x000F)
                | ((m & 0x0070) << 1)
                | ((m & 0x0F80) << 2)
                | ((c & 1) << 4)
                | ((c & 2) << 7),
        )
    }

    /// The type from its 16-bit wire value; `None` if a top bit is set.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_raw(raw: u16) -> Option<MessageType> {
        (raw & 0xC000 == 0).then_some(MessageType(raw))
    }

    /// The 16-bit wire value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn raw(self) -> u16 {
        self.0
    }

    /// The 12-bit method.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn method(self) -> u16 {
        (self.0 & 0x000F) | ((self.0 & 0x00E0) >> 1) | ((self.0 & 0x3E00) >> 2)
    }

    /// The class.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn class(self) -> Class {
        Class::from_bits(((self.0 & 0x0010) >> 4) | ((self.0 & 0x0100) >> 7))
    }
}

/// The long-term credential key (RFC 5389 §15.4): MD5 of
/// `username ":" realm ":" password` (all already SASLprep'd).
/// A short-term credential key is simply the password bytes.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn long_term_key(username: &[u8], realm: &[u8], password: &[u8]) -> [u8; 16] {
    crate::crypto::md5_parts(&[username, b":", realm, b":", password])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_bits_round_trip() {
        assert_eq!(
            MessageType::new(method::BINDING, Class::Request).raw(),
            0x0001
        );
        assert_eq!(
            MessageType::new(method::BINDING, Class::Indication).raw(),
            0x0011
        );
        assert_eq!(
            MessageType::new(method::BINDING, Class::SuccessResponse).raw(),
            0x0101
        );
        assert_eq!(
            MessageType::new(method::BINDING, Class::ErrorResponse).raw(),
            0x0111
        );
        assert_eq!(
            MessageType::new(method::ALLOCATE, Class::ErrorResponse).raw(),
            0x0113
        );
        assert_eq!(
            MessageType::new(method::SEND, Class::Indication).raw(),
            0x0016
        );
        assert_eq!(
            MessageType::new(method::DATA, Class::Indication).raw(),
            0x0017
        );
        assert_eq!(
            MessageType::new(method::CHANNEL_BIND, Class::SuccessResponse).raw(),
            0x0109
        );
        for m in 0..0x1000u16 {
            for c in [
                Class::Request,
                Class::Indication,
                Class::SuccessResponse,
                Class::ErrorResponse,
            ] {
                let t = MessageType::new(m, c);
                assert_eq!(t.method(), m);
                assert_eq!(t.class(), c);
                assert_eq!(MessageType::from_raw(t.raw()), Some(t));
            }
        }
        assert_eq!(MessageType::from_raw(0x4001), None);
        assert_eq!(MessageType::from_raw(0x8001), None);
    }

    #[test]
    fn long_term_key_is_md5_of_joined_credentials() {
        let k = long_term_key(b"user", b"realm", b"pass");
        assert_eq!(k, crate::crypto::md5(b"user:realm:pass"));
    }
}
