//! TURN over a byte stream (TCP, or TLS through [`super::tls`]): the framing
//! of RFC 8656 §12.5 (RFC 5766 §11.5, as used by RFC 6062).
//!
//! On a stream, STUN messages follow each other unchanged (their length
//! field gives the size, always a multiple of 4) and ChannelData messages
//! are padded to a multiple of 4 bytes. [`encode_frame`] writes either;
//! [`FrameDecoder`] splits whatever the socket delivers (partial reads,
//! several messages per read) back into whole messages. Bytes that are
//! neither STUN nor ChannelData, or a frame above the size limit, are an
//! error at once: the stream is out of step and the connection must be
//! closed; the decoder never waits for bytes that cannot come and never
//! holds more than the limit plus one read.

use super::channel::{is_channel_data, CHANNEL_HEADER_SIZE};
use crate::stun::txn::RetransmitConfig;
use crate::stun::{pad4, HEADER_LEN, MAGIC_COOKIE};

/// Request timing for a TURN client on a stream: no retransmission (the
/// transport is reliable), a request fails after 39.5 s without an answer
/// (RFC 5389 §7.2.2). Put it in `TurnConfig::retransmit`.
pub const STREAM_RETRANSMIT: RetransmitConfig = RetransmitConfig {
    initial_rto: std::time::Duration::from_millis(39_500),
    max_retransmits: 0,
    final_wait_factor: 1,
};

/// The largest frame the length fields can express: ChannelData with
/// 65535 bytes of data, padded (4 + 65536).
pub const MAX_FRAME: usize = CHANNEL_HEADER_SIZE + 65536;

/// Unread bytes a decoder accepts beyond one frame: feed at most this much
/// between polls.
pub const MAX_FEED: usize = 64 * 1024;

/// Errors of the stream framing. After one, the decoder keeps returning it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// Bytes that start neither a STUN message (first two bits 0, magic
    /// cookie, length a multiple of 4) nor ChannelData (channel
    /// 0x4000-0x4FFF, the range RFC 8656 allows).
    Garbage,
    /// A frame announces `len` bytes, more than the decoder's limit.
    Oversized { len: usize, max: usize },
    /// More unread bytes than [`MAX_FEED`] beyond one frame: poll the
    /// decoded messages before feeding more.
    BufferFull,
    /// [`encode_frame`] got bytes that are not one whole STUN or
    /// ChannelData message.
    NotAMessage,
}

impl std::fmt::Display for StreamError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Garbage => f.write_str("stream bytes are neither STUN nor ChannelData"),
            StreamError::Oversized { len, max } => {
                write!(f, "stream frame of {len} bytes exceeds the limit of {max}")
            }
            StreamError::BufferFull => f.write_str("stream decoder buffer full"),
            StreamError::NotAMessage => f.write_str("not a STUN or ChannelData message"),
        }
    }
}

impl std::error::Error for StreamError {}

/// Why a stream connection to a TURN server ended (the driver reports it;
/// the relay over it fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamFailure {
    /// The connection was refused or could not be opened.
    ConnectFailed,
    /// Not connected (TCP, and TLS handshake for `turns:`) within the
    /// connect timeout.
    ConnectTimeout,
    /// The server closed or reset the connection.
    Closed,
    /// The server's certificate was refused (untrusted, expired, or not
    /// for the server's name).
    CertificateRejected,
    /// The TLS session failed otherwise, or the TLS settings (CA file)
    /// could not be used.
    Tls,
    /// The server sent bytes that are not TURN stream framing.
    Framing,
}

impl std::fmt::Display for StreamFailure {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamFailure::ConnectFailed => "connection to the TURN server refused or failed",
            StreamFailure::ConnectTimeout => "connection to the TURN server timed out",
            StreamFailure::Closed => "TURN server closed the connection",
            StreamFailure::CertificateRejected => "TURN server certificate rejected",
            StreamFailure::Tls => "TLS with the TURN server failed",
            StreamFailure::Framing => "TURN server sent bytes that are not TURN framing",
        })
    }
}

/// The size of the frame starting at `buf` as `(message length, length on
/// the wire)` (they differ by ChannelData padding), `None` when more bytes
/// are needed to tell.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn frame_len(buf: &[u8], max_frame: usize) -> Result<Option<(usize, usize)>, StreamError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if is_channel_data(first) {
        // RFC 8656 §12 reserves 0x5000-0x7FFF; on a stream they can only be
        // text or a desynchronised stream (ASCII 'P'-'~' land here).
        if first >= 0x50 {
            return Err(StreamError::Garbage);
        }
        if buf.len() < CHANNEL_HEADER_SIZE {
            return Ok(None);
        }
        let len = CHANNEL_HEADER_SIZE + usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        let wire = pad4(len);
        if wire > max_frame {
            return Err(StreamError::Oversized {
                len: wire,
                max: max_frame,
            });
        }
        return Ok(Some((len, wire)));
    }
    if first & 0xC0 != 0 {
        return Err(StreamError::Garbage);
    }
    if buf.len() >= 4 {
        let body = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if body % 4 != 0 {
            return Err(StreamError::Garbage);
        }
        if HEADER_LEN + body > max_frame {
            return Err(StreamError::Oversized {
                len: HEADER_LEN + body,
                max: max_frame,
            });
        }
    }
    // The magic cookie is checked as soon as it has arrived.
    if buf.len() < 8 {
        return Ok(None);
    }
    if u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) != MAGIC_COOKIE {
        return Err(StreamError::Garbage);
    }
    let len = HEADER_LEN + usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    Ok(Some((len, len)))
}

/// Appends `msg` (one STUN or ChannelData message, as the TURN client
/// produces them for UDP) to `out` as a stream frame: STUN unchanged,
/// ChannelData padded to a multiple of 4 bytes.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn encode_frame(msg: &[u8], out: &mut Vec<u8>) -> Result<(), StreamError> {
    match frame_len(msg, MAX_FRAME) {
        Ok(Some((len, wire))) if msg.len() >= len && msg.len() <= wire => {
            out.extend_from_slice(&msg[..len]);
            out.resize(out.len() + (wire - len), 0);
            Ok(())
        }
        _ => Err(StreamError::NotAMessage),
    }
}

/// Splits a byte stream into messages. See the module docs.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
    error: Option<StreamError>,
}

impl Default for FrameDecoder {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting every frame size the protocol can express.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new() -> Self {
        FrameDecoder::with_max_frame(MAX_FRAME)
    }

    /// A decoder refusing frames longer than `max_frame` bytes (at least
    /// one STUN header).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn with_max_frame(max_frame: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max_frame: max_frame.clamp(HEADER_LEN, MAX_FRAME),
            error: None,
        }
    }

    /// The error the stream failed with, if it did.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn error(&self) -> Option<StreamError> {
        self.error
    }

    /// Unread bytes held.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Takes bytes read from the stream. Fails when the stream already
    /// failed, or with [`StreamError::BufferFull`] (nothing taken) when the
    /// unread bytes would exceed one frame plus [`MAX_FEED`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn feed(&mut self, data: &[u8]) -> Result<(), StreamError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.buffered() + data.len() > self.max_frame + MAX_FEED {
            return Err(StreamError::BufferFull);
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The next whole message (ChannelData without its padding), `None`
    /// until one has arrived completely; an error once the stream is out of
    /// step (then for good).
    pub fn poll(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let avail = &self.buf[self.start..];
        match frame_len(avail, self.max_frame) {
            Err(e) => {
                self.error = Some(e);
                self.buf = Vec::new();
                self.start = 0;
                Err(e)
            }
            Ok(Some((len, wire))) if avail.len() >= wire => {
                let msg = avail[..len].to_vec();
                self.start += wire;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(msg))
            }
            Ok(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_requests_wait_once_then_time_out() {
        use crate::stun::txn::{Backoff, Step};
        let mut b = Backoff::new(STREAM_RETRANSMIT);
        assert_eq!(b.current_wait(), std::time::Duration::from_millis(39_500));
        assert_eq!(b.on_elapsed(), Step::TimedOut);
    }

    #[test]
    fn channel_data_is_padded_and_stun_kept() {
        let mut out = Vec::new();
        encode_frame(&[0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5], &mut out).unwrap();
        assert_eq!(out, [0x40, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0]);
        // Already padded (as the UDP encoder writes it): unchanged.
        let padded = out.clone();
        out.clear();
        encode_frame(&padded, &mut out).unwrap();
        assert_eq!(out, padded);
        let mut stun = vec![0u8; 20];
        stun[1] = 1;
        stun[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.clear();
        encode_frame(&stun, &mut out).unwrap();
        assert_eq!(out, stun);
        assert_eq!(
            encode_frame(&stun[..19], &mut out),
            Err(StreamError::NotAMessage)
        );
        assert_eq!(
            encode_frame(&[0xFF; 8], &mut out),
            Err(StreamError::NotAMessage)
        );
        assert_eq!(encode_frame(&[], &mut out), Err(StreamError::NotAMessage));
    }
}
