//! Property tests for the STUN codec: random messages round-trip through
//! the builder and the parser; arbitrary bytes into every decoder (Rust and
//! C) give errors, never panics.

use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use xp2p::ffi::ice_private::XSTUN_TXN_ID_SIZE;
use xp2p::ffi::stun_attr::*;
use xp2p::ffi::stun_msg::*;
use xp2p::stun::{
    attr_type, AttrTypeList, Attribute, Class, Message, MessageBuilder, MessageType, RawAttr,
    StunError, TransactionId,
};

/// Set by a panic hook: the C layer catches panics at its boundary, so the
/// "never panics" properties look at this flag instead.
static PANICKED: AtomicBool = AtomicBool::new(false);

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            prev(info);
        }));
    });
}

/// An owned attribute, turned into a borrowed `Attribute` to encode.
#[derive(Debug, Clone)]
enum Owned {
    Addr(u16, SocketAddr),
    Text(u16, String),
    Priority(u32),
    UseCandidate,
    Controlling(u64),
    Controlled(u64),
    Error(u16, String),
    Unknown(Vec<u16>),
    Lifetime(u32),
    Transport(u8),
    Channel(u16),
    Data(Vec<u8>),
    Other(u16, Vec<u8>),
}

impl Owned {
    fn attr(&self) -> Attribute<'_> {
        match self {
            Owned::Addr(t, a) => match *t {
                attr_type::MAPPED_ADDRESS => Attribute::MappedAddress(*a),
                attr_type::XOR_MAPPED_ADDRESS => Attribute::XorMappedAddress(*a),
                attr_type::XOR_PEER_ADDRESS => Attribute::XorPeerAddress(*a),
                attr_type::XOR_RELAYED_ADDRESS => Attribute::XorRelayedAddress(*a),
                _ => Attribute::AlternateServer(*a),
            },
            Owned::Text(t, s) => match *t {
                attr_type::USERNAME => Attribute::Username(s),
                attr_type::REALM => Attribute::Realm(s),
                attr_type::NONCE => Attribute::Nonce(s),
                _ => Attribute::Software(s),
            },
            Owned::Priority(p) => Attribute::Priority(*p),
            Owned::UseCandidate => Attribute::UseCandidate,
            Owned::Controlling(v) => Attribute::IceControlling(*v),
            Owned::Controlled(v) => Attribute::IceControlled(*v),
            Owned::Error(code, reason) => Attribute::ErrorCode {
                code: *code,
                reason,
            },
            Owned::Unknown(l) => Attribute::UnknownAttributes(AttrTypeList::new(l)),
            Owned::Lifetime(v) => Attribute::Lifetime(*v),
            Owned::Transport(p) => Attribute::RequestedTransport(*p),
            Owned::Channel(c) => Attribute::ChannelNumber(*c),
            Owned::Data(d) => Attribute::Data(d),
            Owned::Other(t, v) => Attribute::Other { typ: *t, value: v },
        }
    }
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::new(Ipv4Addr::from(ip).into(), p)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::new(Ipv6Addr::from(ip).into(), p)),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

fn owned_attr() -> impl Strategy<Value = Owned> {
    let addr_types = prop_oneof![
        Just(attr_type::MAPPED_ADDRESS),
        Just(attr_type::XOR_MAPPED_ADDRESS),
        Just(attr_type::XOR_PEER_ADDRESS),
        Just(attr_type::XOR_RELAYED_ADDRESS),
        Just(attr_type::ALTERNATE_SERVER),
    ];
    let text_types = prop_oneof![
        Just(attr_type::USERNAME),
        Just(attr_type::REALM),
        Just(attr_type::NONCE),
        Just(attr_type::SOFTWARE),
    ];
    prop_oneof![
        (addr_types, socket_addr()).prop_map(|(t, a)| Owned::Addr(t, a)),
        (text_types, text(64)).prop_map(|(t, s)| Owned::Text(t, s)),
        any::<u32>().prop_map(Owned::Priority),
        Just(Owned::UseCandidate),
        any::<u64>().prop_map(Owned::Controlling),
        any::<u64>().prop_map(Owned::Controlled),
        (300u16..700, text(40)).prop_map(|(c, r)| Owned::Error(c, r)),
        proptest::collection::vec(any::<u16>(), 0..8).prop_map(Owned::Unknown),
        any::<u32>().prop_map(Owned::Lifetime),
        any::<u8>().prop_map(Owned::Transport),
        any::<u16>().prop_map(Owned::Channel),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(Owned::Data),
        (
            any::<u16>().prop_filter("not a known type", |t| !attr_type::is_known(*t)),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(t, v)| Owned::Other(t, v)),
    ]
}

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Request),
        Just(Class::Indication),
        Just(Class::SuccessResponse),
        Just(Class::ErrorResponse),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn built_messages_parse_back(
        method in 0u16..0x1000,
        class in class(),
        txn in any::<TransactionId>(),
        attrs in proptest::collection::vec(owned_attr(), 0..10),
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        fingerprint in any::<bool>(),
        padding in any::<u8>(),
    ) {
        let typ = MessageType::new(method, class);
        let mut buf = vec![0u8; 4096];
        let mut b = MessageBuilder::new(&mut buf, typ, &txn).unwrap().with_padding(padding);
        for a in &attrs {
            b.add(&a.attr()).unwrap();
        }
        if let Some(k) = &key {
            b.message_integrity(k).unwrap();
        }
        if fingerprint {
            b.fingerprint().unwrap();
        }
        let bytes = b.finish().to_vec();
        let m = Message::parse(&bytes).unwrap();
        prop_assert_eq!(m.message_type(), typ);
        prop_assert_eq!(m.method(), method);
        prop_assert_eq!(m.class(), class);
        prop_assert_eq!(m.transaction_id(), &txn);
        let got: Vec<Attribute<'_>> = m.decoded().collect::<Result<_, _>>().unwrap();
        let want: Vec<Attribute<'_>> = attrs.iter().map(Owned::attr).collect();
        prop_assert_eq!(&got[..attrs.len()], &want[..]);
        prop_assert_eq!(
            got.len(),
            attrs.len() + usize::from(key.is_some()) + usize::from(fingerprint)
        );
        match &key {
            Some(k) => {
                prop_assert_eq!(m.verify_integrity(k), Ok(()));
                let mut wrong = k.clone();
                wrong.push(1);
                prop_assert_eq!(m.verify_integrity(&wrong), Err(StunError::IntegrityMismatch));
            }
            None => prop_assert_eq!(m.verify_integrity(b"k"), Err(StunError::MissingAttribute)),
        }
        prop_assert_eq!(m.verify_fingerprint().is_ok(), fingerprint);

        // The C decoder and iterator see the same attributes.
        // SAFETY: the decoder and iterator read only `bytes`, of the length passed, into live
        // locals.
        unsafe {
            let mut cm: xStunMsg = std::mem::zeroed();
            prop_assert_eq!(xStunMsgDecode(&mut cm, bytes.as_ptr(), bytes.len()), 0);
            prop_assert_eq!(cm.r#type, i32::from(typ.raw()));
            prop_assert_eq!(&cm.txn_id[..], &txn[..]);
            let mut it: xStunAttrIter = std::mem::zeroed();
            xStunAttrIterInit(&mut it, &cm);
            let mut a: xStunAttr = std::mem::zeroed();
            let mut raw = m.raw_attributes();
            while xStunAttrIterNext(&mut it, &mut a) {
                let r = raw.next().unwrap();
                prop_assert_eq!(a.r#type, i32::from(r.typ));
                prop_assert_eq!(usize::from(a.length), r.value.len());
                prop_assert_eq!(a.value, r.value.as_ptr());
                if r.typ == attr_type::MESSAGE_INTEGRITY {
                    let k = key.as_deref().unwrap();
                    let rc = xStunAttrVerifyMessageIntegrity(
                        bytes.as_ptr(), bytes.len(), &a, k.as_ptr(), k.len());
                    prop_assert_eq!(rc, 0);
                }
                if r.typ == attr_type::FINGERPRINT {
                    let rc = xStunAttrVerifyFingerprint(bytes.as_ptr(), bytes.len(), &a);
                    prop_assert_eq!(rc, 0);
                }
            }
            prop_assert!(raw.next().is_none());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_rust_decoders(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        typ in any::<u16>(),
        txn in any::<TransactionId>(),
    ) {
        if let Ok(m) = Message::parse(&bytes) {
            for a in m.raw_attributes() {
                let _ = Attribute::decode(&a, m.transaction_id());
            }
            let _ = m.decoded().count();
            let _ = m.unknown_required().count();
            let _ = m.verify_integrity(b"key");
            let _ = m.verify_fingerprint();
        }
        let raw = RawAttr { typ, value: &bytes, offset: 20 };
        let _ = Attribute::decode(&raw, &txn);
        for t in [
            attr_type::MAPPED_ADDRESS, attr_type::XOR_MAPPED_ADDRESS, attr_type::ERROR_CODE,
            attr_type::USERNAME, attr_type::UNKNOWN_ATTRIBUTES, attr_type::CHANNEL_NUMBER,
        ] {
            let raw = RawAttr { typ: t, value: &bytes, offset: 20 };
            let _ = Attribute::decode(&raw, &txn);
        }
        let _ = xp2p::stun::Header::parse(&bytes);
    }

    #[test]
    fn stun_like_bytes_never_panic_the_c_decoders(
        typ in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        declared in proptest::option::of(any::<u16>()),
        txn in any::<[u8; XSTUN_TXN_ID_SIZE]>(),
    ) {
        watch_panics();
        // A header with the cookie so the attribute walkers get exercised.
        let mut bytes = Vec::with_capacity(20 + body.len());
        bytes.extend_from_slice(&(typ & 0x3FFF).to_be_bytes());
        let len = declared.unwrap_or(body.len() as u16);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&0x2112A442u32.to_be_bytes());
        bytes.extend_from_slice(&txn);
        bytes.extend_from_slice(&body);
        // SAFETY: the C functions read only `bytes`, of the length passed, into live locals.
        unsafe {
            let _ = xStunMsgIsStun(bytes.as_ptr(), bytes.len());
            let mut m: xStunMsg = std::mem::zeroed();
            if xStunMsgDecode(&mut m, bytes.as_ptr(), bytes.len()) == 0 {
                let mut it: xStunAttrIter = std::mem::zeroed();
                xStunAttrIterInit(&mut it, &m);
                let mut a: xStunAttr = std::mem::zeroed();
                let mut n = 0;
                while xStunAttrIterNext(&mut it, &mut a) {
                    n += 1;
                    prop_assert!(n <= 50);
                    let mut ss: libc::sockaddr_storage = std::mem::zeroed();
                    let _ = xStunAttrDecodeXorMappedAddress(&a, m.txn_id.as_ptr(), &mut ss);
                    let _ = xStunAttrDecodeMappedAddress(&a, &mut ss);
                    let (mut code, mut r, mut rl) = (0, std::ptr::null(), 0usize);
                    let _ = xStunAttrDecodeErrorCode(&a, &mut code, &mut r, &mut rl);
                    let _ = xStunAttrVerifyMessageIntegrity(
                        bytes.as_ptr(), bytes.len(), &a, b"k".as_ptr(), 1);
                    let _ = xStunAttrVerifyFingerprint(bytes.as_ptr(), bytes.len(), &a);
                }
            }
        }
        prop_assert!(!PANICKED.load(Ordering::SeqCst));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_c_header_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        watch_panics();
        // SAFETY: the C functions read only the input, of the length passed, into live locals.
        unsafe {
            let mut m: xStunMsg = std::mem::zeroed();
            let rc = xStunMsgDecode(&mut m, bytes.as_ptr(), bytes.len());
            prop_assert_eq!(rc == 0, xStunMsgIsStun(bytes.as_ptr(), bytes.len())
                && 20 + usize::from(u16::from_be_bytes([bytes[2], bytes[3]])) <= bytes.len());
        }
        prop_assert!(!PANICKED.load(Ordering::SeqCst));
    }
}

#[test]
fn rust_parse_is_stricter_than_the_c_decoder() {
    // Length 2 (not a multiple of 4) and trailing bytes: C accepts, Rust refuses.
    let mut v = vec![0u8, 1, 0, 2, 0x21, 0x12, 0xA4, 0x42];
    v.extend_from_slice(&[0; 12]);
    v.extend_from_slice(&[0xAA, 0xBB, 0xCC]);
    assert_eq!(Message::parse(&v), Err(StunError::Malformed));
    // SAFETY: the C functions read only `v`, of the length passed, into live locals.
    unsafe {
        let mut m: xStunMsg = std::mem::zeroed();
        assert_eq!(xStunMsgDecode(&mut m, v.as_ptr(), v.len()), 0);
        assert_eq!(m.attrs_len, 2);
    }
}
