//! TURN ChannelData: property round trips, the spec's turn_test framing
//! cases through the Rust API, and arbitrary bytes into the decoder.

use proptest::prelude::*;
use xp2p::turn::channel::{encoded_len, is_channel_data};
use xp2p::turn::{ChannelData, TurnError, CHANNEL_MAX, CHANNEL_MIN};

proptest! {
    #[test]
    fn encode_then_decode_is_identity(
        channel in CHANNEL_MIN..=CHANNEL_MAX,
        data in proptest::collection::vec(any::<u8>(), 0..1500),
        slack in 0usize..8,
    ) {
        let mut out = vec![0xA5u8; encoded_len(data.len()) + slack];
        let n = ChannelData { channel, data: &data }.encode(&mut out).unwrap();
        prop_assert_eq!(n, 4 + data.len().div_ceil(4) * 4);
        prop_assert!(out[4 + data.len()..n].iter().all(|&b| b == 0));
        prop_assert!(is_channel_data(out[0]));
        let d = ChannelData::decode(&out[..n]).unwrap();
        prop_assert_eq!(d.channel, channel);
        prop_assert_eq!(d.data, &data[..]);
        // One byte short of the frame never fits.
        prop_assert_eq!(
            ChannelData { channel, data: &data }.encode(&mut out[..n - 1]),
            Err(TurnError::BufferTooSmall)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(d) = ChannelData::decode(&b) {
            prop_assert!((CHANNEL_MIN..=CHANNEL_MAX).contains(&d.channel));
            prop_assert_eq!(d.data.len(), usize::from(u16::from_be_bytes([b[2], b[3]])));
            prop_assert!(4 + d.data.len() <= b.len());
        }
    }

    #[test]
    fn invalid_channels_are_refused(channel in prop_oneof![0u16..CHANNEL_MIN, (CHANNEL_MAX + 1)..=u16::MAX]) {
        let mut out = [0u8; 16];
        prop_assert_eq!(ChannelData { channel, data: b"x" }.encode(&mut out), Err(TurnError::InvalidChannel));
        let frame = [(channel >> 8) as u8, channel as u8, 0, 0];
        prop_assert_eq!(ChannelData::decode(&frame), Err(TurnError::InvalidChannel));
    }
}

#[test]
fn spec_turn_test_framing() {
    // EncodeDecodeRoundTrip: 5 bytes on 0x4001 -> 12 bytes.
    let mut out = [0u8; 64];
    let n = ChannelData {
        channel: 0x4001,
        data: b"hello",
    }
    .encode(&mut out)
    .unwrap();
    assert_eq!(n, 12);
    let d = ChannelData::decode(&out[..n]).unwrap();
    assert_eq!((d.channel, d.data), (0x4001, &b"hello"[..]));
    // DecodeInvalidChannel, DecodeTooShort.
    assert!(ChannelData::decode(&[0x00, 0x01, 0x00, 0x00]).is_err());
    assert!(ChannelData::decode(&[0x40, 0x01, 0x00]).is_err());
    // IsChannelData.
    assert!(is_channel_data(0x40) && is_channel_data(0x7F));
    assert!(!is_channel_data(0x00) && !is_channel_data(0x80) && !is_channel_data(0x3F));
    // EncodeBufferTooSmall.
    assert_eq!(
        ChannelData {
            channel: 0x4001,
            data: b"hello"
        }
        .encode(&mut out[..8]),
        Err(TurnError::BufferTooSmall)
    );
}
