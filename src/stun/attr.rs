//! Typed STUN/ICE/TURN attributes: decoding from a [`RawAttr`] and the value
//! encoding used by [`super::MessageBuilder`].

use super::{StunError, TransactionId, MAGIC_COOKIE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One attribute as it appears in a message: its type, its value (without
/// padding) and where its 4-byte header starts, counted from the start of
/// the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttr<'a> {
    pub typ: u16,
    pub value: &'a [u8],
    pub offset: usize,
}

/// Attribute type numbers (RFC 5389, RFC 5766, RFC 8445).
pub mod attr_type {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    pub const LIFETIME: u16 = 0x000D;
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    pub const DATA: u16 = 0x0013;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const SOFTWARE: u16 = 0x8022;
    pub const ALTERNATE_SERVER: u16 = 0x8023;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;

    /// Types below 0x8000 must be understood by the receiver (RFC 5389 §15).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_comprehension_required(t: u16) -> bool {
        t < 0x8000
    }

    /// Whether this codec knows the type (decodes it to a named variant).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_known(t: u16) -> bool {
        matches!(
            t,
            MAPPED_ADDRESS
                | USERNAME
                | MESSAGE_INTEGRITY
                | ERROR_CODE
                | UNKNOWN_ATTRIBUTES
                | CHANNEL_NUMBER
                | LIFETIME
                | XOR_PEER_ADDRESS
                | DATA
                | REALM
                | NONCE
                | XOR_RELAYED_ADDRESS
                | REQUESTED_TRANSPORT
                | XOR_MAPPED_ADDRESS
                | PRIORITY
                | USE_CANDIDATE
                | SOFTWARE
                | ALTERNATE_SERVER
                | FINGERPRINT
                | ICE_CONTROLLED
                | ICE_CONTROLLING
        )
    }
}

/// Longest USERNAME value (RFC 5389 §15.3: less than 513 bytes).
pub const MAX_USERNAME_LEN: usize = 512;
/// Longest REALM, NONCE, SOFTWARE or error reason value (763 bytes).
pub const MAX_TEXT_LEN: usize = 763;

/// The attribute types listed in an UNKNOWN-ATTRIBUTES value: either the
/// received bytes (pairs of big-endian u16) or a list to encode.
#[derive(Debug, Clone, Copy)]
pub struct AttrTypeList<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy)]
enum Repr<'a> {
    Wire(&'a [u8]),
    Types(&'a [u16]),
}

impl<'a> AttrTypeList<'a> {
    /// A list to encode.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(types: &'a [u16]) -> Self {
        AttrTypeList(Repr::Types(types))
    }

    /// The list in a received value; `None` for an odd length.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_bytes(value: &'a [u8]) -> Option<Self> {
        (value.len() % 2 == 0).then_some(AttrTypeList(Repr::Wire(value)))
    }

    /// Number of types listed.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn len(&self) -> usize {
        match self.0 {
            Repr::Wire(b) => b.len() / 2,
            Repr::Types(t) => t.len(),
        }
    }

    /// Whether the list is empty.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The listed types in order.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        let (wire, types): (&'a [u8], &'a [u16]) = match self.0 {
            Repr::Wire(b) => (b, &[]),
            Repr::Types(t) => (&[], t),
        };
        wire.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .chain(types.iter().copied())
    }
}

impl PartialEq for AttrTypeList<'_> {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for AttrTypeList<'_> {}

/// One decoded attribute. Text values borrow from the message; addresses
/// are un-XORed with the message's transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    MappedAddress(SocketAddr),
    XorMappedAddress(SocketAddr),
    XorPeerAddress(SocketAddr),
    XorRelayedAddress(SocketAddr),
    AlternateServer(SocketAddr),
    Username(&'a str),
    Realm(&'a str),
    Nonce(&'a str),
    Software(&'a str),
    /// The HMAC-SHA1 value as received (see [`super::Message::verify_integrity`]).
    MessageIntegrity(&'a [u8; 20]),
    /// The FINGERPRINT value as received (see [`super::Message::verify_fingerprint`]).
    Fingerprint(u32),
    Priority(u32),
    UseCandidate,
    IceControlling(u64),
    IceControlled(u64),
    /// ERROR-CODE: `code` in 300..=699 and the reason phrase.
    ErrorCode {
        code: u16,
        reason: &'a str,
    },
    UnknownAttributes(AttrTypeList<'a>),
    /// LIFETIME in seconds.
    Lifetime(u32),
    /// REQUESTED-TRANSPORT: the IP protocol number (17 = UDP).
    RequestedTransport(u8),
    ChannelNumber(u16),
    Data(&'a [u8]),
    /// Any other type, value as received.
    Other {
        typ: u16,
        value: &'a [u8],
    },
}

impl<'a> Attribute<'a> {
    /// The attribute type number.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn typ(&self) -> u16 {
        use attr_type::*;
        match self {
            Attribute::MappedAddress(_) => MAPPED_ADDRESS,
            Attribute::XorMappedAddress(_) => XOR_MAPPED_ADDRESS,
            Attribute::XorPeerAddress(_) => XOR_PEER_ADDRESS,
            Attribute::XorRelayedAddress(_) => XOR_RELAYED_ADDRESS,
            Attribute::AlternateServer(_) => ALTERNATE_SERVER,
            Attribute::Username(_) => USERNAME,
            Attribute::Realm(_) => REALM,
            Attribute::Nonce(_) => NONCE,
            Attribute::Software(_) => SOFTWARE,
            Attribute::MessageIntegrity(_) => MESSAGE_INTEGRITY,
            Attribute::Fingerprint(_) => FINGERPRINT,
            Attribute::Priority(_) => PRIORITY,
            Attribute::UseCandidate => USE_CANDIDATE,
            Attribute::IceControlling(_) => ICE_CONTROLLING,
            Attribute::IceControlled(_) => ICE_CONTROLLED,
            Attribute::ErrorCode { .. } => ERROR_CODE,
            Attribute::UnknownAttributes(_) => UNKNOWN_ATTRIBUTES,
            Attribute::Lifetime(_) => LIFETIME,
            Attribute::RequestedTransport(_) => REQUESTED_TRANSPORT,
            Attribute::ChannelNumber(_) => CHANNEL_NUMBER,
            Attribute::Data(_) => DATA,
            Attribute::Other { typ, .. } => *typ,
        }
    }

    /// Decodes a raw attribute of a message with transaction id `txn_id`.
    /// Unknown types become [`Attribute::Other`]; a known type with a bad
    /// value is [`StunError::Malformed`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn decode(raw: &RawAttr<'a>, txn_id: &TransactionId) -> Result<Self, StunError> {
        use attr_type::*;
        let v = raw.value;
        let text = |v: &'a [u8]| std::str::from_utf8(v).map_err(|_| StunError::Malformed);
        Ok(match raw.typ {
            MAPPED_ADDRESS => Attribute::MappedAddress(decode_address(v, None)?),
            ALTERNATE_SERVER => Attribute::AlternateServer(decode_address(v, None)?),
            XOR_MAPPED_ADDRESS => Attribute::XorMappedAddress(decode_address(v, Some(txn_id))?),
            XOR_PEER_ADDRESS => Attribute::XorPeerAddress(decode_address(v, Some(txn_id))?),
            XOR_RELAYED_ADDRESS => Attribute::XorRelayedAddress(decode_address(v, Some(txn_id))?),
            USERNAME => Attribute::Username(text(v)?),
            REALM => Attribute::Realm(text(v)?),
            NONCE => Attribute::Nonce(text(v)?),
            SOFTWARE => Attribute::Software(text(v)?),
            MESSAGE_INTEGRITY => {
                Attribute::MessageIntegrity(v.try_into().map_err(|_| StunError::Malformed)?)
            }
            FINGERPRINT => Attribute::Fingerprint(u32::from_be_bytes(exact(v)?)),
            PRIORITY => Attribute::Priority(u32::from_be_bytes(exact(v)?)),
            USE_CANDIDATE => {
                if !v.is_empty() {
                    return Err(StunError::Malformed);
                }
                Attribute::UseCandidate
            }
            ICE_CONTROLLING => Attribute::IceControlling(u64::from_be_bytes(exact(v)?)),
            ICE_CONTROLLED => Attribute::IceControlled(u64::from_be_bytes(exact(v)?)),
            ERROR_CODE => {
                if v.len() < 4 {
                    return Err(StunError::Malformed);
                }
                let class = u16::from(v[2] & 0x07);
                let number = u16::from(v[3]);
                if !(3..=6).contains(&class) || number > 99 {
                    return Err(StunError::Malformed);
                }
                Attribute::ErrorCode {
                    code: class * 100 + number,
                    reason: text(&v[4..])?,
                }
            }
            UNKNOWN_ATTRIBUTES => Attribute::UnknownAttributes(
                AttrTypeList::from_bytes(v).ok_or(StunError::Malformed)?,
            ),
            LIFETIME => Attribute::Lifetime(u32::from_be_bytes(exact(v)?)),
            REQUESTED_TRANSPORT => Attribute::RequestedTransport(exact::<4>(v)?[0]),
            CHANNEL_NUMBER => {
                let b: [u8; 4] = exact(v)?;
                Attribute::ChannelNumber(u16::from_be_bytes([b[0], b[1]]))
            }
            DATA => Attribute::Data(v),
            typ => Attribute::Other { typ, value: v },
        })
    }

    /// Length of the encoded value (without header and padding).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn value_len(&self) -> usize {
        match self {
            Attribute::MappedAddress(a)
            | Attribute::XorMappedAddress(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a)
            | Attribute::AlternateServer(a) => address_len(a),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::Nonce(s)
            | Attribute::Software(s) => s.len(),
            Attribute::MessageIntegrity(_) => 20,
            Attribute::Fingerprint(_)
            | Attribute::Priority(_)
            | Attribute::Lifetime(_)
            | Attribute::RequestedTransport(_)
            | Attribute::ChannelNumber(_) => 4,
            Attribute::UseCandidate => 0,
            Attribute::IceControlling(_) | Attribute::IceControlled(_) => 8,
            Attribute::ErrorCode { reason, .. } => 4 + reason.len(),
            Attribute::UnknownAttributes(l) => 2 * l.len(),
            Attribute::Data(d) => d.len(),
            Attribute::Other { value, .. } => value.len(),
        }
    }

    /// Checks that the value can be encoded (ranges and RFC length limits).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn check(&self) -> Result<(), StunError> {
        let ok = match self {
            Attribute::Username(s) => s.len() <= MAX_USERNAME_LEN,
            Attribute::Realm(s) | Attribute::Nonce(s) | Attribute::Software(s) => {
                s.len() <= MAX_TEXT_LEN
            }
            Attribute::ErrorCode { code, reason } => {
                (300..=699).contains(code) && reason.len() <= MAX_TEXT_LEN
            }
            _ => self.value_len() <= usize::from(u16::MAX),
        };
        if ok {
            Ok(())
        } else {
            Err(StunError::InvalidValue)
        }
    }

    /// Writes the value into `out` (exactly `value_len()` bytes).
    pub(crate) fn write_value(&self, txn_id: &TransactionId, out: &mut [u8]) {
        match self {
            Attribute::MappedAddress(a) | Attribute::AlternateServer(a) => {
                write_address(a, None, out)
            }
            Attribute::XorMappedAddress(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a) => write_address(a, Some(txn_id), out),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::Nonce(s)
            | Attribute::Software(s) => out.copy_from_slice(s.as_bytes()),
            Attribute::MessageIntegrity(h) => out.copy_from_slice(&h[..]),
            Attribute::Fingerprint(v) | Attribute::Priority(v) | Attribute::Lifetime(v) => {
                out.copy_from_slice(&v.to_be_bytes())
            }
            Attribute::RequestedTransport(p) => out.copy_from_slice(&[*p, 0, 0, 0]),
            Attribute::ChannelNumber(c) => {
                out[..2].copy_from_slice(&c.to_be_bytes());
                out[2..].fill(0);
            }
            Attribute::UseCandidate => {}
            Attribute::IceControlling(v) | Attribute::IceControlled(v) => {
                out.copy_from_slice(&v.to_be_bytes())
            }
            Attribute::ErrorCode { code, reason } => {
                out[..4].copy_from_slice(&[0, 0, (code / 100) as u8, (code % 100) as u8]);
                out[4..].copy_from_slice(reason.as_bytes());
            }
            Attribute::UnknownAttributes(l) => {
                for (c, t) in out.chunks_exact_mut(2).zip(l.iter()) {
                    c.copy_from_slice(&t.to_be_bytes());
                }
            }
            Attribute::Data(d) => out.copy_from_slice(d),
            Attribute::Other { value, .. } => out.copy_from_slice(value),
        }
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn exact<const N: usize>(v: &[u8]) -> Result<[u8; N], StunError> {
    v.try_into().map_err(|_| StunError::Malformed)
}

/// The 16-byte XOR mask of an IPv6 address: cookie followed by txn id.
#[cfg_attr(xp2p_device, optimize(size))]
fn xor_mask(txn_id: &TransactionId) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m[4..].copy_from_slice(txn_id);
    m
}

#[cfg_attr(xp2p_device, optimize(size))]
fn address_len(a: &SocketAddr) -> usize {
    match a {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

/// Decodes a (XOR-)MAPPED-ADDRESS style value: reserved byte, family
/// (1 = IPv4, 2 = IPv6), port, address. The length must match the family.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn decode_address(
    v: &[u8],
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, StunError> {
    match v.get(1) {
        Some(1) if v.len() == 8 => decode_address_prefix(v, xor),
        Some(2) if v.len() == 20 => decode_address_prefix(v, xor),
        _ => Err(StunError::Malformed),
    }
}

/// Like [`decode_address`] but lenient about bytes after the address (the
/// C decoders' rule: at least 8 bytes for IPv4, 20 for IPv6).
#[cfg_attr(xp2p_device, optimize(size))]
pub fn decode_address_prefix(
    v: &[u8],
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, StunError> {
    if v.len() < 4 {
        return Err(StunError::Malformed);
    }
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (v[1], v.len()) {
        (1, 8..) => {
            let mut raw = u32::from_be_bytes([v[4], v[5], v[6], v[7]]);
            if xor.is_some() {
                raw ^= MAGIC_COOKIE;
            }
            IpAddr::V4(Ipv4Addr::from(raw))
        }
        (2, 20..) => {
            let mut raw: [u8; 16] = v[4..20].try_into().map_err(|_| StunError::Malformed)?;
            if let Some(id) = xor {
                for (b, m) in raw.iter_mut().zip(xor_mask(id)) {
                    *b ^= m;
                }
            }
            IpAddr::V6(Ipv6Addr::from(raw))
        }
        _ => return Err(StunError::Malformed),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Writes an address value (`address_len` bytes) into `out`.
fn write_address(a: &SocketAddr, xor: Option<&TransactionId>, out: &mut [u8]) {
    let mut port = a.port();
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    out[0] = 0;
    out[2..4].copy_from_slice(&port.to_be_bytes());
    match a.ip() {
        IpAddr::V4(ip) => {
            out[1] = 1;
            let mut raw = u32::from(ip);
            if xor.is_some() {
                raw ^= MAGIC_COOKIE;
            }
            out[4..8].copy_from_slice(&raw.to_be_bytes());
        }
        IpAddr::V6(ip) => {
            out[1] = 2;
            let mut raw = ip.octets();
            if let Some(id) = xor {
                for (b, m) in raw.iter_mut().zip(xor_mask(id)) {
                    *b ^= m;
                }
            }
            out[4..20].copy_from_slice(&raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(typ: u16, value: &[u8]) -> RawAttr<'_> {
        RawAttr {
            typ,
            value,
            offset: 20,
        }
    }

    const ID: TransactionId = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn xor_address_v4_matches_hand_computation() {
        let a: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let attr = Attribute::XorMappedAddress(a);
        let mut out = [0u8; 8];
        attr.write_value(&ID, &mut out);
        assert_eq!(out, [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
        let back = Attribute::decode(&raw(attr_type::XOR_MAPPED_ADDRESS, &out), &ID).unwrap();
        assert_eq!(back, attr);
    }

    #[test]
    fn address_lengths_and_families_are_checked() {
        let bad: [&[u8]; 5] = [
            &[0, 1, 0],
            &[0, 1, 0, 0, 1, 2, 3],
            &[0, 1, 0, 0, 1, 2, 3, 4, 5],
            &[0, 3, 0, 0, 1, 2, 3, 4],
            &[0, 2, 0, 0, 1, 2, 3, 4],
        ];
        for v in bad {
            assert_eq!(decode_address(v, None), Err(StunError::Malformed), "{v:?}");
        }
    }

    #[test]
    fn error_code_range_and_layout() {
        let e = Attribute::ErrorCode {
            code: 487,
            reason: "Role Conflict",
        };
        let mut out = vec![0u8; e.value_len()];
        e.write_value(&ID, &mut out);
        assert_eq!(&out[..4], &[0, 0, 4, 87]);
        assert_eq!(
            Attribute::decode(&raw(attr_type::ERROR_CODE, &out), &ID),
            Ok(e)
        );
        for code in [0, 299, 700] {
            let e = Attribute::ErrorCode { code, reason: "" };
            assert_eq!(e.check(), Err(StunError::InvalidValue));
        }
        // class 7 and number 100 are not error codes
        for v in [[0u8, 0, 7, 0], [0, 0, 4, 100], [0, 0, 2, 0]] {
            assert!(Attribute::decode(&raw(attr_type::ERROR_CODE, &v), &ID).is_err());
        }
    }

    #[test]
    fn fixed_size_values_reject_other_lengths() {
        for t in [
            attr_type::PRIORITY,
            attr_type::FINGERPRINT,
            attr_type::LIFETIME,
            attr_type::ICE_CONTROLLED,
            attr_type::ICE_CONTROLLING,
            attr_type::MESSAGE_INTEGRITY,
            attr_type::CHANNEL_NUMBER,
            attr_type::REQUESTED_TRANSPORT,
            attr_type::USE_CANDIDATE,
        ] {
            assert_eq!(
                Attribute::decode(&raw(t, &[0; 3]), &ID),
                Err(StunError::Malformed),
                "{t:#x}"
            );
        }
    }

    #[test]
    fn unknown_types_and_lists() {
        let a = Attribute::decode(&raw(0x7777, b"xyz"), &ID).unwrap();
        assert_eq!(
            a,
            Attribute::Other {
                typ: 0x7777,
                value: b"xyz"
            }
        );
        let l =
            Attribute::decode(&raw(attr_type::UNKNOWN_ATTRIBUTES, &[0, 1, 0x80, 0]), &ID).unwrap();
        assert_eq!(
            l,
            Attribute::UnknownAttributes(AttrTypeList::new(&[1, 0x8000]))
        );
        assert!(Attribute::decode(&raw(attr_type::UNKNOWN_ATTRIBUTES, &[0]), &ID).is_err());
        assert!(Attribute::decode(&raw(attr_type::USERNAME, &[0xff]), &ID).is_err());
        assert!(attr_type::is_comprehension_required(0x7fff));
        assert!(!attr_type::is_comprehension_required(0x8000));
    }
}
