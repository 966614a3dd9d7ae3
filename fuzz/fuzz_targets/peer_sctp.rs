//! SCTP packets as if DTLS had decrypted them from the peer, into a
//! connected PeerConnection (test hook: the packet gets the real ports,
//! verification tag and checksum, so its chunks reach usrsctp, DCEP and the
//! channels). Never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xbase as _;

#[path = "../common/pair.rs"]
mod pair;

fuzz_target!(|data: &[u8]| {
    pair::with_pair(|p| {
        let now = p.now;
        p.a.fuzz_sctp_packet(now, data);
        p.settle();
        p.ping();
    });
});
