//! Arbitrary bytes into every STUN decoder: the strict Rust parser with
//! attribute decoding and both checks, and the lenient C-ABI decoder,
//! iterator and attribute decoders. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xbase as _;
use xp2p::ffi::stun_attr::*;
use xp2p::ffi::stun_msg::*;
use xp2p::stun::{Attribute, Header, Message, RawAttr};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        for a in m.raw_attributes() {
            let _ = Attribute::decode(&a, m.transaction_id());
        }
        let _ = m.unknown_required().count();
        let _ = m.verify_integrity(b"key");
        let _ = m.verify_fingerprint();
    }
    if data.len() >= 2 {
        let typ = u16::from_be_bytes([data[0], data[1]]);
        let raw = RawAttr {
            typ,
            value: &data[2..],
            offset: 20,
        };
        let _ = Attribute::decode(&raw, &[0; 12]);
    }
    let _ = Header::parse(data);

    // The C layer catches panics at its boundary; a panic there is still a
    // bug, so make it abort the fuzzer.
    std::panic::set_hook(Box::new(|_| std::process::abort()));
    unsafe {
        let _ = xStunMsgIsStun(data.as_ptr(), data.len());
        let mut m: xStunMsg = std::mem::zeroed();
        if xStunMsgDecode(&mut m, data.as_ptr(), data.len()) == 0 {
            let mut it: xStunAttrIter = std::mem::zeroed();
            xStunAttrIterInit(&mut it, &m);
            let mut a: xStunAttr = std::mem::zeroed();
            while xStunAttrIterNext(&mut it, &mut a) {
                let mut ss: libc_storage::Storage = std::mem::zeroed();
                let out = std::ptr::addr_of_mut!(ss).cast();
                let _ = xStunAttrDecodeXorMappedAddress(&a, m.txn_id.as_ptr(), out);
                let _ = xStunAttrDecodeMappedAddress(&a, out);
                let (mut code, mut r, mut n) = (0, std::ptr::null(), 0usize);
                let _ = xStunAttrDecodeErrorCode(&a, &mut code, &mut r, &mut n);
                let _ = xStunAttrVerifyMessageIntegrity(
                    data.as_ptr(),
                    data.len(),
                    &a,
                    b"k".as_ptr(),
                    1,
                );
                let _ = xStunAttrVerifyFingerprint(data.as_ptr(), data.len(), &a);
            }
        }
    }
});

/// 128 bytes, aligned like `struct sockaddr_storage`, without a libc
/// dependency in the fuzz crate.
mod libc_storage {
    #[repr(C, align(8))]
    pub struct Storage([u8; 128]);
}
