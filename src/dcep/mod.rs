//! DCEP, the Data Channel Establishment Protocol (RFC 8832), and the SCTP
//! payload protocol identifiers of WebRTC data channels (RFC 8831 §8).
//!
//! A pure codec: [`DcepMessage::decode`] parses borrowed bytes and never
//! panics on bad input, [`DcepMessage::encode_into`] appends the wire form to
//! a caller's buffer. The state machine that uses it lives in
//! [`crate::channel`].
//!
//! DATA_CHANNEL_OPEN layout (all integers big-endian):
//!
//! ```text
//!  0       1       2       3       4       5       6       7
//! +-------+-------+---------------+-------------------------------+
//! | 0x03  | type  |   priority    |     reliability parameter     |
//! +-------+-------+---------------+-------------------------------+
//! | label length  |protocol length| label ... | protocol ...
//! +---------------+---------------+
//! ```
//!
//! DATA_CHANNEL_ACK is the single byte `0x02`.

use std::fmt;

/// PPID of DCEP messages (OPEN, ACK).
pub const PPID_DCEP: u32 = 50;
/// PPID of a non-empty UTF-8 string message.
pub const PPID_STRING: u32 = 51;
/// PPID of a non-empty binary message.
pub const PPID_BINARY: u32 = 53;
/// PPID of an empty string message (sent as one zero byte).
pub const PPID_STRING_EMPTY: u32 = 56;
/// PPID of an empty binary message (sent as one zero byte).
pub const PPID_BINARY_EMPTY: u32 = 57;

/// Message type byte of DATA_CHANNEL_OPEN.
pub const MSG_OPEN: u8 = 0x03;
/// Message type byte of DATA_CHANNEL_ACK.
pub const MSG_ACK: u8 = 0x02;

/// Channel type byte: reliable, ordered.
pub const CHANNEL_RELIABLE: u8 = 0x00;
/// Channel type byte: reliable, unordered.
pub const CHANNEL_RELIABLE_UNORDERED: u8 = 0x80;
/// Channel type byte: partially reliable by retransmission count, ordered.
pub const CHANNEL_PARTIAL_RTXS: u8 = 0x01;
/// Channel type byte: partially reliable by retransmission count, unordered.
pub const CHANNEL_PARTIAL_RTXS_UNORDERED: u8 = 0x81;
/// Channel type byte: partially reliable by lifetime, ordered.
pub const CHANNEL_PARTIAL_TIME: u8 = 0x02;
/// Channel type byte: partially reliable by lifetime, unordered.
pub const CHANNEL_PARTIAL_TIME_UNORDERED: u8 = 0x82;

/// The bit of the channel type byte that marks an unordered channel.
const UNORDERED_BIT: u8 = 0x80;

/// Size of the fixed part of DATA_CHANNEL_OPEN.
pub const OPEN_HEADER_LEN: usize = 12;

/// Longest label or protocol the C API can hold (its buffers are 256 bytes
/// including the terminating NUL). The wire allows up to 65535; the channel
/// manager enforces this limit, the codec does not.
pub const MAX_LABEL_LEN: usize = 255;

/// Errors of the DCEP codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcepError {
    /// No bytes at all.
    Empty,
    /// The first byte is neither OPEN (0x03) nor ACK (0x02).
    UnknownMessageType(u8),
    /// The channel type byte is not one of the six RFC 8832 values.
    UnknownChannelType(u8),
    /// Fewer bytes than the header and the length fields announce.
    Truncated,
    /// More bytes than the message needs.
    TrailingBytes,
    /// The label or the protocol is not UTF-8.
    InvalidUtf8,
    /// On encode: a label or protocol longer than 65535 bytes.
    FieldTooLong,
}

impl fmt::Display for DcepError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DcepError::Empty => f.write_str("empty DCEP message"),
            DcepError::UnknownMessageType(t) => write!(f, "unknown DCEP message type 0x{t:02x}"),
            DcepError::UnknownChannelType(t) => write!(f, "unknown DCEP channel type 0x{t:02x}"),
            DcepError::Truncated => f.write_str("truncated DCEP message"),
            DcepError::TrailingBytes => f.write_str("trailing bytes after DCEP message"),
            DcepError::InvalidUtf8 => f.write_str("DCEP label or protocol is not UTF-8"),
            DcepError::FieldTooLong => f.write_str("DCEP label or protocol longer than 65535"),
        }
    }
}

impl std::error::Error for DcepError {}

/// How hard SCTP tries to deliver the messages of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reliability {
    /// Retransmit until delivered.
    #[default]
    Reliable,
    /// Give up after this many retransmissions (PR-SCTP RTX policy).
    MaxRetransmits(u32),
    /// Give up after this many milliseconds (PR-SCTP TTL policy).
    MaxLifetime(u32),
}

impl Reliability {
    /// The reliability parameter as carried in DATA_CHANNEL_OPEN (0 for
    /// reliable channels).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parameter(self) -> u32 {
        match self {
            Reliability::Reliable => 0,
            Reliability::MaxRetransmits(n) | Reliability::MaxLifetime(n) => n,
        }
    }
}

/// The channel type of DATA_CHANNEL_OPEN: reliability plus ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelType {
    pub reliability: Reliability,
    pub ordered: bool,
}

impl Default for ChannelType {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        ChannelType {
            reliability: Reliability::Reliable,
            ordered: true,
        }
    }
}

impl ChannelType {
    /// The channel type byte (one of the `CHANNEL_*` constants).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn to_byte(self) -> u8 {
        let base = match self.reliability {
            Reliability::Reliable => CHANNEL_RELIABLE,
            Reliability::MaxRetransmits(_) => CHANNEL_PARTIAL_RTXS,
            Reliability::MaxLifetime(_) => CHANNEL_PARTIAL_TIME,
        };
        if self.ordered {
            base
        } else {
            base | UNORDERED_BIT
        }
    }

    /// Builds the channel type from the type byte and the reliability
    /// parameter of an OPEN. For reliable channels the parameter is ignored,
    /// as RFC 8832 §5.1 says.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_wire(byte: u8, parameter: u32) -> Result<Self, DcepError> {
        let reliability = match byte & !UNORDERED_BIT {
            CHANNEL_RELIABLE => Reliability::Reliable,
            CHANNEL_PARTIAL_RTXS => Reliability::MaxRetransmits(parameter),
            CHANNEL_PARTIAL_TIME => Reliability::MaxLifetime(parameter),
            _ => return Err(DcepError::UnknownChannelType(byte)),
        };
        Ok(ChannelType {
            reliability,
            ordered: byte & UNORDERED_BIT == 0,
        })
    }
}

/// A DATA_CHANNEL_OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcepOpen {
    pub channel_type: ChannelType,
    /// RFC 8832 §5.1 priority (WebRTC uses 128, 256, 512, 1024).
    pub priority: u16,
    pub label: String,
    pub protocol: String,
}

/// A DCEP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcepMessage {
    Open(DcepOpen),
    Ack,
}

impl DcepMessage {
    /// Parses one DCEP message (the whole SCTP user message with PPID 50).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn decode(data: &[u8]) -> Result<Self, DcepError> {
        let (&kind, rest) = data.split_first().ok_or(DcepError::Empty)?;
        match kind {
            MSG_ACK => {
                if rest.is_empty() {
                    Ok(DcepMessage::Ack)
                } else {
                    Err(DcepError::TrailingBytes)
                }
            }
            MSG_OPEN => decode_open(data).map(DcepMessage::Open),
            other => Err(DcepError::UnknownMessageType(other)),
        }
    }

    /// Length of the wire form.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn encoded_len(&self) -> usize {
        match self {
            DcepMessage::Ack => 1,
            DcepMessage::Open(o) => OPEN_HEADER_LEN + o.label.len() + o.protocol.len(),
        }
    }

    /// Appends the wire form to `out`. Fails only for a label or protocol
    /// longer than 65535 bytes (nothing is appended then).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), DcepError> {
        match self {
            DcepMessage::Ack => out.push(MSG_ACK),
            DcepMessage::Open(o) => {
                let label_len =
                    u16::try_from(o.label.len()).map_err(|_| DcepError::FieldTooLong)?;
                let proto_len =
                    u16::try_from(o.protocol.len()).map_err(|_| DcepError::FieldTooLong)?;
                out.reserve(self.encoded_len());
                out.push(MSG_OPEN);
                out.push(o.channel_type.to_byte());
                out.extend_from_slice(&o.priority.to_be_bytes());
                out.extend_from_slice(&o.channel_type.reliability.parameter().to_be_bytes());
                out.extend_from_slice(&label_len.to_be_bytes());
                out.extend_from_slice(&proto_len.to_be_bytes());
                out.extend_from_slice(o.label.as_bytes());
                out.extend_from_slice(o.protocol.as_bytes());
            }
        }
        Ok(())
    }

    /// The wire form in a new vector.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn encode(&self) -> Result<Vec<u8>, DcepError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn decode_open(data: &[u8]) -> Result<DcepOpen, DcepError> {
    let header: &[u8; OPEN_HEADER_LEN] = data
        .get(..OPEN_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DcepError::Truncated)?;
    let type_byte = header[1];
    let priority = u16::from_be_bytes([header[2], header[3]]);
    let parameter = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let label_len = usize::from(u16::from_be_bytes([header[8], header[9]]));
    let proto_len = usize::from(u16::from_be_bytes([header[10], header[11]]));
    let channel_type = ChannelType::from_wire(type_byte, parameter)?;

    let body = &data[OPEN_HEADER_LEN..];
    let needed = label_len + proto_len;
    if body.len() < needed {
        return Err(DcepError::Truncated);
    }
    if body.len() > needed {
        return Err(DcepError::TrailingBytes);
    }
    let (label, protocol) = body.split_at(label_len);
    let label = std::str::from_utf8(label).map_err(|_| DcepError::InvalidUtf8)?;
    let protocol = std::str::from_utf8(protocol).map_err(|_| DcepError::InvalidUtf8)?;
    Ok(DcepOpen {
        channel_type,
        priority,
        label: label.to_owned(),
        protocol: protocol.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(reliability: Reliability, ordered: bool) -> DcepOpen {
        DcepOpen {
            channel_type: ChannelType {
                reliability,
                ordered,
            },
            priority: 256,
            label: "chat".into(),
            protocol: "proto".into(),
        }
    }

    #[test]
    fn dcep_open_layout_matches_rfc8832() {
        let msg = DcepMessage::Open(open(Reliability::MaxRetransmits(7), false));
        let bytes = msg.encode().unwrap();
        assert_eq!(
            bytes,
            [
                0x03, 0x81, 0x01, 0x00, 0, 0, 0, 7, 0, 4, 0, 5, b'c', b'h', b'a', b't', b'p', b'r',
                b'o', b't', b'o'
            ]
        );
        assert_eq!(bytes.len(), msg.encoded_len());
        assert_eq!(DcepMessage::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn dcep_ack_is_one_byte() {
        assert_eq!(DcepMessage::Ack.encode().unwrap(), [0x02]);
        assert_eq!(DcepMessage::decode(&[0x02]).unwrap(), DcepMessage::Ack);
        assert_eq!(
            DcepMessage::decode(&[0x02, 0]),
            Err(DcepError::TrailingBytes)
        );
    }

    #[test]
    fn dcep_channel_type_bytes() {
        let cases = [
            (Reliability::Reliable, true, 0x00),
            (Reliability::Reliable, false, 0x80),
            (Reliability::MaxRetransmits(3), true, 0x01),
            (Reliability::MaxRetransmits(3), false, 0x81),
            (Reliability::MaxLifetime(100), true, 0x02),
            (Reliability::MaxLifetime(100), false, 0x82),
        ];
        for (reliability, ordered, byte) in cases {
            let t = ChannelType {
                reliability,
                ordered,
            };
            assert_eq!(t.to_byte(), byte);
            assert_eq!(ChannelType::from_wire(byte, reliability.parameter()), Ok(t));
        }
        assert_eq!(
            ChannelType::from_wire(0x03, 0),
            Err(DcepError::UnknownChannelType(0x03))
        );
        assert_eq!(
            ChannelType::from_wire(0x00, 99).unwrap().reliability,
            Reliability::Reliable
        );
    }

    #[test]
    fn dcep_malformed_inputs_are_errors() {
        assert_eq!(DcepMessage::decode(&[]), Err(DcepError::Empty));
        assert_eq!(
            DcepMessage::decode(&[0x01]),
            Err(DcepError::UnknownMessageType(0x01))
        );
        assert_eq!(
            DcepMessage::decode(&[0x03, 0, 0]),
            Err(DcepError::Truncated)
        );
        let mut bytes = DcepMessage::Open(open(Reliability::Reliable, true))
            .encode()
            .unwrap();
        assert_eq!(
            DcepMessage::decode(&bytes[..bytes.len() - 1]),
            Err(DcepError::Truncated)
        );
        bytes.push(0);
        assert_eq!(DcepMessage::decode(&bytes), Err(DcepError::TrailingBytes));
        let bad_utf8 = [0x03, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff];
        assert_eq!(DcepMessage::decode(&bad_utf8), Err(DcepError::InvalidUtf8));
    }

    #[test]
    fn dcep_encode_rejects_oversized_fields() {
        let mut o = open(Reliability::Reliable, true);
        o.label = "x".repeat(65536);
        let mut out = Vec::new();
        assert_eq!(
            DcepMessage::Open(o).encode_into(&mut out),
            Err(DcepError::FieldTooLong)
        );
        assert!(out.is_empty());
    }
}
