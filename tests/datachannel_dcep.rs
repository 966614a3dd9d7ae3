//! DCEP codec: the spec's byte layout checks (datachannel_test:
//! OpenMessageRoundTrip, AckMessage, ChannelType*, PpidValues), round trips
//! and arbitrary bytes into the decoder.

use proptest::prelude::*;
use xp2p::dcep::{
    ChannelType, DcepError, DcepMessage, DcepOpen, Reliability, CHANNEL_PARTIAL_RTXS,
    CHANNEL_PARTIAL_RTXS_UNORDERED, CHANNEL_PARTIAL_TIME, CHANNEL_PARTIAL_TIME_UNORDERED,
    CHANNEL_RELIABLE, CHANNEL_RELIABLE_UNORDERED, MSG_ACK, MSG_OPEN, OPEN_HEADER_LEN, PPID_BINARY,
    PPID_BINARY_EMPTY, PPID_DCEP, PPID_STRING, PPID_STRING_EMPTY,
};

#[test]
fn open_message_round_trip_with_manual_layout() {
    let msg = DcepMessage::Open(DcepOpen {
        channel_type: ChannelType {
            reliability: Reliability::Reliable,
            ordered: true,
        },
        priority: 0,
        label: "test-channel".into(),
        protocol: String::new(),
    });
    let bytes = msg.encode().unwrap();
    assert_eq!(bytes.len(), OPEN_HEADER_LEN + 12);
    assert_eq!(bytes[0], 0x03);
    assert_eq!(bytes[1], 0x00);
    assert_eq!(&bytes[2..4], &[0, 0]);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
    assert_eq!(&bytes[8..10], &[0, 12]);
    assert_eq!(&bytes[10..12], &[0, 0]);
    assert_eq!(&bytes[12..], b"test-channel");
    assert_eq!(DcepMessage::decode(&bytes).unwrap(), msg);

    // Hand-built bytes with every field set decode to the expected values.
    let mut manual = vec![
        0x03, 0x82, 0x01, 0x00, 0x00, 0x00, 0x0b, 0xb8, 0x00, 0x03, 0x00, 0x04,
    ];
    manual.extend_from_slice(b"abcwxyz");
    let decoded = DcepMessage::decode(&manual).unwrap();
    assert_eq!(
        decoded,
        DcepMessage::Open(DcepOpen {
            channel_type: ChannelType {
                reliability: Reliability::MaxLifetime(3000),
                ordered: false,
            },
            priority: 256,
            label: "abc".into(),
            protocol: "wxyz".into(),
        })
    );
    assert_eq!(decoded.encode().unwrap(), manual);
}

#[test]
fn ack_message_is_0x02() {
    assert_eq!(MSG_ACK, 0x02);
    assert_eq!(MSG_OPEN, 0x03);
    assert_eq!(DcepMessage::Ack.encode().unwrap(), vec![0x02]);
    assert_eq!(DcepMessage::decode(&[0x02]), Ok(DcepMessage::Ack));
}

#[test]
fn channel_type_values() {
    assert_eq!(CHANNEL_RELIABLE, 0x00);
    assert_eq!(CHANNEL_RELIABLE_UNORDERED, 0x80);
    assert_eq!(CHANNEL_PARTIAL_RTXS, 0x01);
    assert_eq!(CHANNEL_PARTIAL_RTXS_UNORDERED, 0x81);
    assert_eq!(CHANNEL_PARTIAL_TIME, 0x02);
    assert_eq!(CHANNEL_PARTIAL_TIME_UNORDERED, 0x82);
    let unordered = ChannelType {
        reliability: Reliability::Reliable,
        ordered: false,
    };
    assert_eq!(unordered.to_byte(), 0x80);
    for (ordered, byte) in [(true, 0x01), (false, 0x81)] {
        let t = ChannelType {
            reliability: Reliability::MaxRetransmits(3),
            ordered,
        };
        assert_eq!(t.to_byte(), byte);
        let bytes = open_with(t).encode().unwrap();
        assert_eq!(bytes[1], byte);
        assert_eq!(&bytes[4..8], &[0, 0, 0, 3]);
    }
    for (ordered, byte) in [(true, 0x02), (false, 0x82)] {
        let t = ChannelType {
            reliability: Reliability::MaxLifetime(1500),
            ordered,
        };
        assert_eq!(t.to_byte(), byte);
        let bytes = open_with(t).encode().unwrap();
        assert_eq!(bytes[1], byte);
        assert_eq!(&bytes[4..8], &1500u32.to_be_bytes());
    }
}

#[test]
fn ppid_values() {
    assert_eq!(PPID_DCEP, 50);
    assert_eq!(PPID_STRING, 51);
    assert_eq!(PPID_BINARY, 53);
    assert_eq!(PPID_STRING_EMPTY, 56);
    assert_eq!(PPID_BINARY_EMPTY, 57);
}

#[test]
fn malformed_open_messages_are_errors() {
    // Header only, announcing a label that is not there.
    let short = [0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0];
    assert_eq!(DcepMessage::decode(&short), Err(DcepError::Truncated));
    // Unknown channel type.
    let bad_type = [0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        DcepMessage::decode(&bad_type),
        Err(DcepError::UnknownChannelType(0x05))
    );
    // Length fields at their maximum with no body.
    let huge = [0x03, 0x00, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(DcepMessage::decode(&huge), Err(DcepError::Truncated));
    assert_eq!(
        DcepMessage::decode(&[0x04]),
        Err(DcepError::UnknownMessageType(0x04))
    );
}

fn open_with(channel_type: ChannelType) -> DcepMessage {
    DcepMessage::Open(DcepOpen {
        channel_type,
        priority: 0,
        label: "l".into(),
        protocol: "p".into(),
    })
}

fn arb_channel_type() -> impl Strategy<Value = ChannelType> {
    let reliability = prop_oneof![
        Just(Reliability::Reliable),
        any::<u32>().prop_map(Reliability::MaxRetransmits),
        any::<u32>().prop_map(Reliability::MaxLifetime),
    ];
    (reliability, any::<bool>()).prop_map(|(reliability, ordered)| ChannelType {
        reliability,
        ordered,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = DcepMessage::decode(&data);
    }

    #[test]
    fn arbitrary_open_prefix_never_panics(
        tail in proptest::collection::vec(any::<u8>(), 0..40),
        kind in prop_oneof![Just(0x02u8), Just(0x03u8)],
    ) {
        let mut data = vec![kind];
        data.extend_from_slice(&tail);
        if let Ok(msg) = DcepMessage::decode(&data) {
            // Anything accepted re-encodes to a message that decodes the same.
            let again = msg.encode().unwrap();
            prop_assert_eq!(DcepMessage::decode(&again).unwrap(), msg);
        }
    }

    #[test]
    fn open_round_trips(
        channel_type in arb_channel_type(),
        priority in any::<u16>(),
        label in "\\PC{0,80}",
        protocol in "\\PC{0,40}",
    ) {
        let msg = DcepMessage::Open(DcepOpen { channel_type, priority, label, protocol });
        let bytes = msg.encode().unwrap();
        prop_assert_eq!(bytes.len(), msg.encoded_len());
        prop_assert_eq!(DcepMessage::decode(&bytes).unwrap(), msg);
    }
}
