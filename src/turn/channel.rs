//! ChannelData messages (RFC 8656 §12.4): a 4-byte header (channel number,
//! payload length, both big-endian), the payload, and zero padding to a
//! multiple of 4. Over UDP the padding may be missing on input.

use super::TurnError;

/// Lowest channel number.
pub const CHANNEL_MIN: u16 = 0x4000;
/// Highest channel number.
pub const CHANNEL_MAX: u16 = 0x7FFF;
/// Channel number and length.
pub const CHANNEL_HEADER_SIZE: usize = 4;

/// A first byte in 0x40–0x7F marks a ChannelData message (RFC 7983).
pub fn is_channel_data(first_byte: u8) -> bool {
    (0x40..=0x7F).contains(&first_byte)
}

/// A valid channel number.
pub fn is_valid_channel(channel: u16) -> bool {
    (CHANNEL_MIN..=CHANNEL_MAX).contains(&channel)
}

/// The encoded size of a payload of `data_len` bytes, padding included.
pub fn encoded_len(data_len: usize) -> usize {
    CHANNEL_HEADER_SIZE + data_len.div_ceil(4) * 4
}

/// One ChannelData message; `data` borrows from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    pub channel: u16,
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Writes the message into `out` and returns its length (header, data
    /// and padding). Errors: an invalid channel number, a payload over 65535
    /// bytes or a too-small `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, TurnError> {
        if !is_valid_channel(self.channel) {
            return Err(TurnError::InvalidChannel);
        }
        let len = u16::try_from(self.data.len()).map_err(|_| TurnError::BufferTooSmall)?;
        let total = encoded_len(self.data.len());
        let frame = out.get_mut(..total).ok_or(TurnError::BufferTooSmall)?;
        frame[..2].copy_from_slice(&self.channel.to_be_bytes());
        frame[2..4].copy_from_slice(&len.to_be_bytes());
        let (payload, padding) = frame[CHANNEL_HEADER_SIZE..].split_at_mut(self.data.len());
        payload.copy_from_slice(self.data);
        padding.fill(0);
        Ok(total)
    }

    /// Reads a message from the start of `buf`. Errors: fewer than 4 bytes,
    /// a channel outside 0x4000–0x7FFF, or a length beyond the buffer.
    pub fn decode(buf: &'a [u8]) -> Result<Self, TurnError> {
        let header = buf.get(..CHANNEL_HEADER_SIZE).ok_or(TurnError::Malformed)?;
        let channel = u16::from_be_bytes([header[0], header[1]]);
        if !is_valid_channel(channel) {
            return Err(TurnError::InvalidChannel);
        }
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let data = buf
            .get(CHANNEL_HEADER_SIZE..CHANNEL_HEADER_SIZE + len)
            .ok_or(TurnError::Malformed)?;
        Ok(ChannelData { channel, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_padding() {
        let mut out = [0xFFu8; 16];
        let n = ChannelData {
            channel: 0x4001,
            data: b"hello",
        }
        .encode(&mut out)
        .unwrap();
        assert_eq!(n, 12);
        assert_eq!(&out[..12], b"\x40\x01\x00\x05hello\0\0\0");
        let d = ChannelData::decode(&out[..n]).unwrap();
        assert_eq!(
            d,
            ChannelData {
                channel: 0x4001,
                data: b"hello"
            }
        );
        // Without the padding (allowed over UDP).
        assert_eq!(ChannelData::decode(&out[..9]).unwrap().data, b"hello");
        assert_eq!(
            ChannelData {
                channel: 0x7FFF,
                data: b""
            }
            .encode(&mut out),
            Ok(4)
        );
    }

    #[test]
    fn errors() {
        let mut small = [0u8; 11];
        let five = ChannelData {
            channel: 0x4001,
            data: b"hello",
        };
        assert_eq!(five.encode(&mut small), Err(TurnError::BufferTooSmall));
        let bad = ChannelData {
            channel: 0x3FFF,
            data: b"",
        };
        assert_eq!(bad.encode(&mut small), Err(TurnError::InvalidChannel));
        let big = vec![0u8; 65536];
        let mut out = vec![0u8; 70000];
        let too_long = ChannelData {
            channel: 0x4000,
            data: &big,
        };
        assert_eq!(too_long.encode(&mut out), Err(TurnError::BufferTooSmall));
        assert_eq!(
            ChannelData::decode(b"\x40\x00\x00"),
            Err(TurnError::Malformed)
        );
        assert_eq!(
            ChannelData::decode(b"\x00\x01\x00\x00"),
            Err(TurnError::InvalidChannel)
        );
        assert_eq!(
            ChannelData::decode(b"\x80\x00\x00\x00"),
            Err(TurnError::InvalidChannel)
        );
        assert_eq!(
            ChannelData::decode(b"\x40\x00\x00\x05abcd"),
            Err(TurnError::Malformed)
        );
    }

    #[test]
    fn first_byte_classification() {
        assert!(is_channel_data(0x40) && is_channel_data(0x7F));
        assert!(!is_channel_data(0x00) && !is_channel_data(0x80) && !is_channel_data(0x3F));
        assert_eq!(encoded_len(0), 4);
        assert_eq!(encoded_len(5), 12);
        assert_eq!(encoded_len(8), 12);
    }
}
