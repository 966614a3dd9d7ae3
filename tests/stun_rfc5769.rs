//! RFC 5769 test vectors through the Rust STUN API: every sample decodes,
//! its MESSAGE-INTEGRITY and FINGERPRINT verify, and the builder
//! reproduces its bytes exactly.

use std::net::SocketAddr;
use xp2p::stun::{
    attr_type, long_term_key, Attribute, Class, Message, MessageBuilder, MessageType, StunError,
    TransactionId,
};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// RFC 5769 §2.1: Binding request with short-term credentials.
const REQUEST: &str = "
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf";

/// RFC 5769 §2.2: Binding response, IPv4 XOR-MAPPED-ADDRESS.
const RESPONSE_V4: &str = "
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96";

/// RFC 5769 §2.3: Binding response, IPv6 XOR-MAPPED-ADDRESS.
const RESPONSE_V6: &str = "
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c";

/// RFC 5769 §2.4: request with long-term credentials.
const LONG_TERM: &str = "
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46
                53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

const SHORT_TERM_PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TXN: TransactionId = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

fn decoded<'a>(m: &Message<'a>) -> Vec<Attribute<'a>> {
    m.decoded().collect::<Result<_, _>>().unwrap()
}

/// The 20-byte MESSAGE-INTEGRITY value of a sample.
fn mi(text: &str) -> [u8; 20] {
    hex(text).try_into().unwrap()
}

#[test]
fn sample_request_short_term() {
    let bytes = hex(REQUEST);
    assert_eq!(bytes.len(), 108);
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.message_type(), MessageType::BINDING_REQUEST);
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.transaction_id(), &TXN);
    assert_eq!(m.verify_integrity(SHORT_TERM_PASSWORD), Ok(()));
    assert_eq!(
        m.verify_integrity(b"wrong"),
        Err(StunError::IntegrityMismatch)
    );
    assert_eq!(m.verify_fingerprint(), Ok(()));
    assert_eq!(
        decoded(&m),
        [
            Attribute::Software("STUN test client"),
            Attribute::Priority(0x6e0001ff),
            Attribute::IceControlled(0x932ff9b151263b36),
            Attribute::Username("evtj:h6vY"),
            Attribute::MessageIntegrity(&mi(
                "9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
            )),
            Attribute::Fingerprint(0xe57a3bcf),
        ]
    );

    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, &TXN)
        .unwrap()
        .with_padding(b' ');
    b.add(&Attribute::Software("STUN test client")).unwrap();
    b.add(&Attribute::Priority(0x6e0001ff)).unwrap();
    b.add(&Attribute::IceControlled(0x932ff9b151263b36))
        .unwrap();
    b.add(&Attribute::Username("evtj:h6vY")).unwrap();
    b.message_integrity(SHORT_TERM_PASSWORD).unwrap();
    b.fingerprint().unwrap();
    assert_eq!(b.finish(), &bytes[..]);
}

fn check_response(text: &str, addr: &str, integrity: &str, fingerprint: u32) {
    let bytes = hex(text);
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.message_type(), MessageType::BINDING_RESPONSE);
    assert_eq!(m.class(), Class::SuccessResponse);
    assert_eq!(m.transaction_id(), &TXN);
    assert_eq!(m.verify_integrity(SHORT_TERM_PASSWORD), Ok(()));
    assert_eq!(m.verify_fingerprint(), Ok(()));
    let addr: SocketAddr = addr.parse().unwrap();
    assert_eq!(
        m.decode(attr_type::XOR_MAPPED_ADDRESS),
        Some(Ok(Attribute::XorMappedAddress(addr)))
    );
    assert_eq!(
        decoded(&m),
        [
            Attribute::Software("test vector"),
            Attribute::XorMappedAddress(addr),
            Attribute::MessageIntegrity(&mi(integrity)),
            Attribute::Fingerprint(fingerprint),
        ]
    );

    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_RESPONSE, &TXN)
        .unwrap()
        .with_padding(b' ');
    b.add(&Attribute::Software("test vector")).unwrap();
    b.add(&Attribute::XorMappedAddress(addr)).unwrap();
    b.message_integrity(SHORT_TERM_PASSWORD).unwrap();
    b.fingerprint().unwrap();
    assert_eq!(b.finish(), &bytes[..]);
}

#[test]
fn sample_ipv4_response() {
    check_response(
        RESPONSE_V4,
        "192.0.2.1:32853",
        "2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7",
        0xc07d4c96,
    );
}

#[test]
fn sample_ipv6_response() {
    check_response(
        RESPONSE_V6,
        "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        "a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41",
        0xc8fb0b4c,
    );
}

#[test]
fn sample_request_long_term() {
    let bytes = hex(LONG_TERM);
    let m = Message::parse(&bytes).unwrap();
    let txn: TransactionId = [
        0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
    ];
    assert_eq!(m.transaction_id(), &txn);
    let user = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
    assert_eq!(user, "マトリックス");
    let nonce = "f//499k954d6OL34oL9FSTvy64sA";
    let realm = "example.org";
    assert_eq!(
        decoded(&m),
        [
            Attribute::Username("マトリックス"),
            Attribute::Nonce("f//499k954d6OL34oL9FSTvy64sA"),
            Attribute::Realm("example.org"),
            Attribute::MessageIntegrity(&mi(
                "f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66"
            )),
        ]
    );
    let key = long_term_key(user.as_bytes(), realm.as_bytes(), b"TheMatrIX");
    assert_eq!(
        key,
        xp2p::crypto::md5("マトリックス:example.org:TheMatrIX".as_bytes())
    );
    assert_eq!(m.verify_integrity(&key), Ok(()));
    assert_eq!(
        m.verify_integrity(b"TheMatrIX"),
        Err(StunError::IntegrityMismatch)
    );
    assert_eq!(m.verify_fingerprint(), Err(StunError::MissingAttribute));

    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, &txn).unwrap();
    b.add(&Attribute::Username(user)).unwrap();
    b.add(&Attribute::Nonce(nonce)).unwrap();
    b.add(&Attribute::Realm(realm)).unwrap();
    b.message_integrity(&key).unwrap();
    assert_eq!(b.finish(), &bytes[..]);
}

#[test]
fn any_single_bit_flip_breaks_integrity_or_fingerprint() {
    let bytes = hex(REQUEST);
    for i in 0..bytes.len() * 8 {
        let mut v = bytes.clone();
        v[i / 8] ^= 1 << (i % 8);
        let Ok(m) = Message::parse(&v) else { continue };
        let ok = m.verify_integrity(SHORT_TERM_PASSWORD).is_ok() && m.verify_fingerprint().is_ok();
        // FINGERPRINT covers every byte before it, MESSAGE-INTEGRITY the
        // rest except FINGERPRINT itself, whose flips break its own check.
        assert!(!ok, "bit {i} flipped without detection");
    }
}
