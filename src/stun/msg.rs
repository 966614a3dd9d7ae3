//! The STUN message: a checked zero-copy view for parsing and a builder that
//! writes into a caller buffer.

use super::attr::{attr_type, Attribute, RawAttr};
use super::{
    Class, MessageType, StunError, TransactionId, ATTR_HEADER_LEN, FINGERPRINT_LEN,
    FINGERPRINT_XOR, HEADER_LEN, INTEGRITY_LEN, MAGIC_COOKIE, TXN_ID_LEN,
};

/// A well-formed RFC 5389 message borrowed from a datagram.
///
/// [`Message::parse`] checks the header (top two bits zero, magic cookie,
/// length a multiple of 4 and equal to the bytes that follow the header)
/// and that the attributes tile the body exactly, so iterating never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    buf: &'a [u8],
}

/// Whether `buf` starts like an RFC 5389 message (top bits zero and the
/// magic cookie); cheap first-byte demultiplexing for a socket carrying
/// STUN beside other protocols.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn looks_like_stun(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN && buf[0] & 0xC0 == 0 && buf[4..8] == MAGIC_COOKIE.to_be_bytes()
}

impl<'a> Message<'a> {
    /// Parses a whole message. `buf` must hold exactly one message (as one
    /// UDP datagram does); any check failing is [`StunError::Malformed`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(buf: &'a [u8]) -> Result<Self, StunError> {
        if !looks_like_stun(buf) {
            return Err(StunError::Malformed);
        }
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if len % 4 != 0 || HEADER_LEN + len != buf.len() {
            return Err(StunError::Malformed);
        }
        let mut pos = HEADER_LEN;
        while pos < buf.len() {
            if buf.len() - pos < ATTR_HEADER_LEN {
                return Err(StunError::Malformed);
            }
            let vlen = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
            let next = pos + ATTR_HEADER_LEN + pad4(vlen);
            if next > buf.len() {
                return Err(StunError::Malformed);
            }
            pos = next;
        }
        Ok(Message { buf })
    }

    /// The message bytes.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The message type.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn message_type(&self) -> MessageType {
        // parse() checked the top two bits.
        MessageType::from_raw(u16::from_be_bytes([self.buf[0], self.buf[1]]))
            .unwrap_or(MessageType::BINDING_REQUEST)
    }

    /// The message class.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn class(&self) -> Class {
        self.message_type().class()
    }

    /// The 12-bit method.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn method(&self) -> u16 {
        self.message_type().method()
    }

    /// The transaction id.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn transaction_id(&self) -> &'a TransactionId {
        let id: &'a [u8] = &self.buf[8..HEADER_LEN];
        id.try_into().unwrap_or(&[0; TXN_ID_LEN])
    }

    /// Every attribute in wire order, including any that follow
    /// MESSAGE-INTEGRITY.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn raw_attributes(&self) -> Attributes<'a> {
        Attributes {
            buf: self.buf,
            pos: HEADER_LEN,
            after_integrity: false,
            all: true,
        }
    }

    /// The attributes that count (RFC 5389 §15.4): everything up to and
    /// including the first MESSAGE-INTEGRITY, then only a FINGERPRINT that
    /// ends the message.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            all: false,
            ..self.raw_attributes()
        }
    }

    /// The first attribute of type `typ` among [`Message::attributes`].
    pub fn get(&self, typ: u16) -> Option<RawAttr<'a>> {
        self.attributes().find(|a| a.typ == typ)
    }

    /// The first attribute of type `typ`, decoded.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn decode(&self, typ: u16) -> Option<Result<Attribute<'a>, StunError>> {
        self.get(typ)
            .map(|a| Attribute::decode(&a, self.transaction_id()))
    }

    /// All counted attributes, decoded.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn decoded(&self) -> impl Iterator<Item = Result<Attribute<'a>, StunError>> + 'a {
        let id = self.transaction_id();
        self.attributes().map(move |a| Attribute::decode(&a, id))
    }

    /// Comprehension-required attribute types this codec does not know
    /// (a server answers a request carrying any with 420 + UNKNOWN-ATTRIBUTES).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn unknown_required(&self) -> impl Iterator<Item = u16> + 'a {
        self.attributes()
            .map(|a| a.typ)
            .filter(|&t| attr_type::is_comprehension_required(t) && !attr_type::is_known(t))
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key`: the password for
    /// short-term credentials, [`super::long_term_key`] for long-term ones.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn verify_integrity(&self, key: &[u8]) -> Result<(), StunError> {
        let mi = self
            .get(attr_type::MESSAGE_INTEGRITY)
            .ok_or(StunError::MissingAttribute)?;
        if mi.value.len() != INTEGRITY_LEN {
            return Err(StunError::Malformed);
        }
        let (h, body) = split_prefix(&self.buf[..mi.offset]);
        let expect = compute_integrity(h, body, key);
        if constant_time_eq(&expect, mi.value) {
            Ok(())
        } else {
            Err(StunError::IntegrityMismatch)
        }
    }

    /// Whether the message carries a MESSAGE-INTEGRITY attribute.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn has_integrity(&self) -> bool {
        self.get(attr_type::MESSAGE_INTEGRITY).is_some()
    }

    /// The last attribute, if it is FINGERPRINT.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fingerprint_attr(&self) -> Option<RawAttr<'a>> {
        self.raw_attributes()
            .last()
            .filter(|a| a.typ == attr_type::FINGERPRINT)
    }

    /// Whether the message ends with a FINGERPRINT attribute.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint_attr().is_some()
    }

    /// Checks the FINGERPRINT attribute, which must be the last one.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn verify_fingerprint(&self) -> Result<(), StunError> {
        let fp = self.fingerprint_attr().ok_or(StunError::MissingAttribute)?;
        let got: [u8; FINGERPRINT_LEN] = fp.value.try_into().map_err(|_| StunError::Malformed)?;
        let (h, body) = split_prefix(&self.buf[..fp.offset]);
        if compute_fingerprint(h, body) == u32::from_be_bytes(got) {
            Ok(())
        } else {
            Err(StunError::FingerprintMismatch)
        }
    }
}

/// Iterator over the attributes of a parsed [`Message`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    buf: &'a [u8],
    pos: usize,
    after_integrity: bool,
    all: bool,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttr<'a>;

    #[cfg_attr(xp2p_device, optimize(size))]
    fn next(&mut self) -> Option<RawAttr<'a>> {
        loop {
            let attr = attr_at(self.buf, self.pos)?;
            self.pos = attr.offset + ATTR_HEADER_LEN + pad4(attr.value.len());
            if self.all || !self.after_integrity {
                self.after_integrity |= attr.typ == attr_type::MESSAGE_INTEGRITY;
                return Some(attr);
            }
            if attr.typ == attr_type::FINGERPRINT && self.pos == self.buf.len() {
                return Some(attr);
            }
        }
    }
}

/// The attribute whose header starts at `pos` of `buf`, if its header and
/// value are wholly inside `buf` (its padding need not be). A lenient
/// primitive for walking attribute bytes that were not checked by
/// [`Message::parse`].
#[cfg_attr(xp2p_device, optimize(size))]
pub fn attr_at(buf: &[u8], pos: usize) -> Option<RawAttr<'_>> {
    let head = buf.get(pos..pos.checked_add(ATTR_HEADER_LEN)?)?;
    let typ = u16::from_be_bytes([head[0], head[1]]);
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let start = pos + ATTR_HEADER_LEN;
    let value = buf.get(start..start + len)?;
    Some(RawAttr {
        typ,
        value,
        offset: pos,
    })
}

/// `n` rounded up to a multiple of 4 (attribute padding).
#[cfg_attr(xp2p_device, optimize(size))]
pub fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// The header with its length field set as if the message ended `tail`
/// bytes after `body` (the MESSAGE-INTEGRITY / FINGERPRINT input rule).
#[cfg_attr(xp2p_device, optimize(size))]
fn patched_header(header: &[u8; HEADER_LEN], body: &[u8], tail: usize) -> [u8; HEADER_LEN] {
    let mut h = *header;
    h[2..4].copy_from_slice(&((body.len() + tail) as u16).to_be_bytes());
    h
}

/// HMAC-SHA1 for a MESSAGE-INTEGRITY attribute that follows `body` (the
/// attributes before it) in a message with header `header`; the header
/// length counts through the MESSAGE-INTEGRITY attribute.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn compute_integrity(
    header: &[u8; HEADER_LEN],
    body: &[u8],
    key: &[u8],
) -> [u8; INTEGRITY_LEN] {
    let h = patched_header(header, body, ATTR_HEADER_LEN + INTEGRITY_LEN);
    crate::crypto::hmac_sha1_parts(key, &[&h, body])
}

/// The FINGERPRINT value for an attribute that follows `body` in a message
/// with header `header`.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn compute_fingerprint(header: &[u8; HEADER_LEN], body: &[u8]) -> u32 {
    let h = patched_header(header, body, ATTR_HEADER_LEN + FINGERPRINT_LEN);
    crate::crypto::crc32_parts(&[&h, body]) ^ FINGERPRINT_XOR
}

/// Splits a message prefix into its header and the attribute bytes after it.
#[cfg_attr(xp2p_device, optimize(size))]
fn split_prefix(prefix: &[u8]) -> (&[u8; HEADER_LEN], &[u8]) {
    let (h, body) = prefix.split_at(HEADER_LEN);
    (h.try_into().expect("split at HEADER_LEN"), body)
}

/// Writes one attribute (header, value, zero padding) at the start of
/// `out` and returns the bytes used.
pub fn write_raw_attr(out: &mut [u8], typ: u16, value: &[u8]) -> Result<usize, StunError> {
    write_raw_attr_parts(out, typ, &[value])
}

/// Like [`write_raw_attr`] with the value given as parts to concatenate.
pub fn write_raw_attr_parts(out: &mut [u8], typ: u16, parts: &[&[u8]]) -> Result<usize, StunError> {
    let vlen = parts.iter().map(|p| p.len()).sum();
    let mut slot = reserve_attr(out, typ, vlen, 0)?;
    for p in parts {
        let (head, rest) = slot.split_at_mut(p.len());
        head.copy_from_slice(p);
        slot = rest;
    }
    Ok(ATTR_HEADER_LEN + pad4(vlen))
}

/// Writes one typed attribute at the start of `out` (addresses XORed with
/// `txn_id` where the type asks for it) and returns the bytes used.
pub fn write_attr(
    out: &mut [u8],
    attr: &Attribute<'_>,
    txn_id: &TransactionId,
) -> Result<usize, StunError> {
    attr.check()?;
    let slot = reserve_attr(out, attr.typ(), attr.value_len(), 0)?;
    attr.write_value(txn_id, slot);
    Ok(ATTR_HEADER_LEN + pad4(attr.value_len()))
}

/// Writes an attribute header and the padding for a `vlen`-byte value at
/// the start of `out`, returning the value slot.
#[cfg_attr(xp2p_device, optimize(size))]
fn reserve_attr(
    out: &mut [u8],
    typ: u16,
    vlen: usize,
    padding: u8,
) -> Result<&mut [u8], StunError> {
    let vlen16 = u16::try_from(vlen).map_err(|_| StunError::InvalidValue)?;
    let end = ATTR_HEADER_LEN + pad4(vlen);
    let out = out.get_mut(..end).ok_or(StunError::BufferTooSmall)?;
    out[..2].copy_from_slice(&typ.to_be_bytes());
    out[2..4].copy_from_slice(&vlen16.to_be_bytes());
    out[ATTR_HEADER_LEN + vlen..].fill(padding);
    Ok(&mut out[ATTR_HEADER_LEN..ATTR_HEADER_LEN + vlen])
}

/// A STUN header as read by a lenient decoder: only the top two bits, the
/// magic cookie and that the declared body fits in the buffer are checked
/// (trailing bytes and lengths that are not a multiple of 4 are let
/// through). This is the acceptance rule of the C `xStunMsgDecode`; Rust
/// code should use [`Message::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The 16-bit type field.
    pub typ: u16,
    /// The length field (attribute bytes after the header).
    pub length: u16,
    pub txn_id: TransactionId,
}

impl Header {
    /// Reads the header of `buf`; `None` when a check fails.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(buf: &[u8]) -> Option<Header> {
        if !looks_like_stun(buf) {
            return None;
        }
        let length = u16::from_be_bytes([buf[2], buf[3]]);
        if HEADER_LEN + usize::from(length) > buf.len() {
            return None;
        }
        Some(Header {
            typ: u16::from_be_bytes([buf[0], buf[1]]),
            length,
            txn_id: buf[8..HEADER_LEN].try_into().ok()?,
        })
    }

    /// Writes the header (with the magic cookie) into `out`.
    pub fn write(&self, out: &mut [u8; HEADER_LEN]) {
        out[..2].copy_from_slice(&self.typ.to_be_bytes());
        out[2..4].copy_from_slice(&self.length.to_be_bytes());
        out[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out[8..].copy_from_slice(&self.txn_id);
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    Integrity,
    Fingerprint,
}

/// Writes a STUN message into a caller buffer, attribute by attribute. The
/// header length always matches what has been written, so the bytes are a
/// valid message after every call. No allocation.
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    txn_id: TransactionId,
    stage: Stage,
    padding: u8,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message of type `typ` in `buf`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(
        buf: &'b mut [u8],
        typ: MessageType,
        txn_id: &TransactionId,
    ) -> Result<Self, StunError> {
        let head = buf.get_mut(..HEADER_LEN).ok_or(StunError::BufferTooSmall)?;
        head[..2].copy_from_slice(&typ.raw().to_be_bytes());
        head[2..4].fill(0);
        head[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        head[8..].copy_from_slice(txn_id);
        Ok(MessageBuilder {
            buf,
            len: HEADER_LEN,
            txn_id: *txn_id,
            stage: Stage::Open,
            padding: 0,
        })
    }

    /// Uses `byte` for attribute padding instead of zero (RFC 5389 lets the
    /// sender choose; the RFC 5769 samples pad with spaces).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn with_padding(mut self, byte: u8) -> Self {
        self.padding = byte;
        self
    }

    /// The transaction id.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn transaction_id(&self) -> &TransactionId {
        &self.txn_id
    }

    /// Bytes written so far (header included).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether only the header has been written.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// The message written so far.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Ends the builder, returning the message bytes.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn finish(self) -> &'b [u8] {
        let MessageBuilder { buf, len, .. } = self;
        &buf[..len]
    }

    /// Reserves room for an attribute with a `vlen`-byte value after the
    /// stage checks, writes its header and padding and returns the value
    /// slot.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn reserve(&mut self, typ: u16, vlen: usize) -> Result<&mut [u8], StunError> {
        let allowed = match self.stage {
            Stage::Open => true,
            Stage::Integrity => typ == attr_type::FINGERPRINT,
            Stage::Fingerprint => false,
        };
        if !allowed {
            return Err(StunError::AttributeOrder);
        }
        let start = self.len;
        let end = start + ATTR_HEADER_LEN + pad4(vlen);
        if end - HEADER_LEN > usize::from(u16::MAX) {
            return Err(StunError::InvalidValue);
        }
        if end > self.buf.len() {
            return Err(StunError::BufferTooSmall);
        }
        reserve_attr(&mut self.buf[start..], typ, vlen, self.padding)?;
        self.len = end;
        self.buf[2..4].copy_from_slice(&((end - HEADER_LEN) as u16).to_be_bytes());
        match typ {
            attr_type::MESSAGE_INTEGRITY if self.stage == Stage::Open => {
                self.stage = Stage::Integrity
            }
            attr_type::FINGERPRINT => self.stage = Stage::Fingerprint,
            _ => {}
        }
        let vstart = start + ATTR_HEADER_LEN;
        Ok(&mut self.buf[vstart..vstart + vlen])
    }

    /// Appends a typed attribute. Address attributes are XORed with this
    /// message's transaction id where the type asks for it.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add(&mut self, attr: &Attribute<'_>) -> Result<(), StunError> {
        attr.check()?;
        let id = self.txn_id;
        let slot = self.reserve(attr.typ(), attr.value_len())?;
        attr.write_value(&id, slot);
        Ok(())
    }

    /// Appends an attribute with an arbitrary type and value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add_raw(&mut self, typ: u16, value: &[u8]) -> Result<(), StunError> {
        self.reserve(typ, value.len())?.copy_from_slice(value);
        Ok(())
    }

    /// Appends MESSAGE-INTEGRITY computed with `key` over everything written
    /// so far. Afterwards only FINGERPRINT may be added.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn message_integrity(&mut self, key: &[u8]) -> Result<(), StunError> {
        if self.stage != Stage::Open {
            return Err(StunError::AttributeOrder);
        }
        let start = self.len;
        self.reserve(attr_type::MESSAGE_INTEGRITY, INTEGRITY_LEN)?;
        let (h, body) = split_prefix(&self.buf[..start]);
        let mac = compute_integrity(h, body, key);
        self.buf[start + ATTR_HEADER_LEN..self.len].copy_from_slice(&mac);
        Ok(())
    }

    /// Appends FINGERPRINT over everything written so far; it must be last.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fingerprint(&mut self) -> Result<(), StunError> {
        let start = self.len;
        self.reserve(attr_type::FINGERPRINT, FINGERPRINT_LEN)?;
        let (h, body) = split_prefix(&self.buf[..start]);
        let crc = compute_fingerprint(h, body);
        self.buf[start + ATTR_HEADER_LEN..self.len].copy_from_slice(&crc.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::attr::attr_type::*;

    const ID: TransactionId = [9; 12];

    fn build(buf: &mut [u8], f: impl FnOnce(&mut MessageBuilder<'_>)) -> &[u8] {
        let mut b = MessageBuilder::new(buf, MessageType::BINDING_REQUEST, &ID).unwrap();
        f(&mut b);
        b.finish()
    }

    #[test]
    fn header_only_round_trip() {
        let mut buf = [0u8; 20];
        let bytes = build(&mut buf, |_| {});
        let m = Message::parse(bytes).unwrap();
        assert_eq!(m.message_type(), MessageType::BINDING_REQUEST);
        assert_eq!(m.class(), Class::Request);
        assert_eq!(m.method(), crate::stun::method::BINDING);
        assert_eq!(m.transaction_id(), &ID);
        assert_eq!(m.raw_attributes().count(), 0);
        assert_eq!(
            MessageBuilder::new(&mut [0u8; 19], MessageType::BINDING_REQUEST, &ID).err(),
            Some(StunError::BufferTooSmall)
        );
    }

    #[test]
    fn header_checks() {
        let mut buf = [0u8; 64];
        let good = build(&mut buf, |b| b.add(&Attribute::Priority(7)).unwrap()).to_vec();
        assert!(Message::parse(&good).is_ok());
        let mut top = good.clone();
        top[0] |= 0x80;
        let mut cookie = good.clone();
        cookie[5] ^= 1;
        let mut odd_len = good.clone();
        odd_len[3] = 7;
        let mut long = good.clone();
        long[3] = 12;
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0; 4]);
        let mut attr_overrun = good.clone();
        attr_overrun[23] = 8;
        for bad in [&top, &cookie, &odd_len, &long, &trailing, &attr_overrun] {
            assert_eq!(Message::parse(bad), Err(StunError::Malformed));
        }
        assert_eq!(Message::parse(&good[..19]), Err(StunError::Malformed));
    }

    #[test]
    fn integrity_and_fingerprint_round_trip() {
        let mut buf = [0u8; 128];
        let bytes = build(&mut buf, |b| {
            b.add(&Attribute::Username("a:b")).unwrap();
            b.message_integrity(b"key").unwrap();
            b.fingerprint().unwrap();
        });
        let m = Message::parse(bytes).unwrap();
        assert_eq!(m.verify_integrity(b"key"), Ok(()));
        assert_eq!(
            m.verify_integrity(b"kez"),
            Err(StunError::IntegrityMismatch)
        );
        assert_eq!(m.verify_fingerprint(), Ok(()));
        let mut corrupt = bytes.to_vec();
        corrupt[25] ^= 1;
        let m = Message::parse(&corrupt).unwrap();
        assert_eq!(
            m.verify_integrity(b"key"),
            Err(StunError::IntegrityMismatch)
        );
        assert_eq!(m.verify_fingerprint(), Err(StunError::FingerprintMismatch));
    }

    #[test]
    fn builder_enforces_attribute_order() {
        let mut buf = [0u8; 128];
        let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, &ID).unwrap();
        b.message_integrity(b"k").unwrap();
        assert_eq!(
            b.add(&Attribute::Priority(1)),
            Err(StunError::AttributeOrder)
        );
        assert_eq!(b.message_integrity(b"k"), Err(StunError::AttributeOrder));
        b.fingerprint().unwrap();
        assert_eq!(b.fingerprint(), Err(StunError::AttributeOrder));
        assert_eq!(b.add_raw(0x7000, b""), Err(StunError::AttributeOrder));
        let len = b.len();
        assert_eq!(len, 20 + 24 + 8);
        let mut small = [0u8; 27];
        let mut b = MessageBuilder::new(&mut small, MessageType::BINDING_REQUEST, &ID).unwrap();
        assert_eq!(
            b.add(&Attribute::Priority(1)),
            Err(StunError::BufferTooSmall)
        );
        assert!(b.is_empty());
    }

    #[test]
    fn attributes_after_integrity_are_ignored_except_fingerprint() {
        // Hand-assemble: PRIORITY, MI, SOFTWARE (ignored), FINGERPRINT.
        let mut buf = [0u8; 128];
        let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, &ID).unwrap();
        b.add(&Attribute::Priority(5)).unwrap();
        b.message_integrity(b"pw").unwrap();
        let mut v = b.as_bytes().to_vec();
        v.extend_from_slice(&[0x80, 0x22, 0, 3, b'a', b'b', b'c', 0]);
        let len = (v.len() + 8 - 20) as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        let (h, body) = split_prefix(&v);
        let fp = compute_fingerprint(h, body);
        v.extend_from_slice(&[0x80, 0x28, 0, 4]);
        v.extend_from_slice(&fp.to_be_bytes());
        let m = Message::parse(&v).unwrap();
        let seen: Vec<u16> = m.attributes().map(|a| a.typ).collect();
        assert_eq!(seen, [PRIORITY, MESSAGE_INTEGRITY, FINGERPRINT]);
        assert_eq!(m.raw_attributes().count(), 4);
        assert!(m.get(SOFTWARE).is_none());
        // MI covers only what precedes it, so the trailing SOFTWARE does not break it.
        assert_eq!(m.verify_integrity(b"pw"), Ok(()));
        assert_eq!(m.verify_fingerprint(), Ok(()));
    }

    #[test]
    fn missing_and_malformed_check_attributes() {
        let mut buf = [0u8; 64];
        let bytes = build(&mut buf, |b| b.add(&Attribute::Priority(1)).unwrap()).to_vec();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.verify_integrity(b"k"), Err(StunError::MissingAttribute));
        assert_eq!(m.verify_fingerprint(), Err(StunError::MissingAttribute));
        let mut buf = [0u8; 64];
        let bytes = build(&mut buf, |b| {
            b.add_raw(MESSAGE_INTEGRITY, &[0; 4]).unwrap();
        })
        .to_vec();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.verify_integrity(b"k"), Err(StunError::Malformed));
        let mut buf = [0u8; 64];
        let bytes = build(&mut buf, |b| b.add_raw(FINGERPRINT, &[0; 3]).unwrap()).to_vec();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.verify_fingerprint(), Err(StunError::Malformed));
    }

    #[test]
    fn unknown_required_lists_only_unknown_low_types() {
        let mut buf = [0u8; 64];
        let bytes = build(&mut buf, |b| {
            b.add_raw(0x7123, b"x").unwrap();
            b.add_raw(0x8123, b"y").unwrap();
            b.add(&Attribute::UseCandidate).unwrap();
        })
        .to_vec();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.unknown_required().collect::<Vec<_>>(), [0x7123]);
        assert_eq!(m.decode(USE_CANDIDATE), Some(Ok(Attribute::UseCandidate)));
        assert_eq!(m.decoded().count(), 3);
    }
}
