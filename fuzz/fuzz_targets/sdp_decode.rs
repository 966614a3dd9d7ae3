//! Arbitrary bytes into the SDP decoders (Rust and C): never a panic; a
//! description that decodes has credentials, and a WebRTC one a fingerprint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xp2p::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = SessionDescription::decode(&text) {
        assert!(!d.ufrag.is_empty() && !d.pwd.is_empty());
        assert!(!d.is_webrtc || d.fingerprint().is_some());
    }
    // SAFETY: all-zero is a valid xIceSdp; `data` is valid for its length.
    let mut out: Box<xp2p::ffi::sdp::xIceSdp> = Box::new(unsafe { std::mem::zeroed() });
    let rc = unsafe { xp2p::ffi::sdp::xIceSdpDecode(data.as_ptr().cast(), data.len(), &mut *out) };
    if rc == 0 {
        assert!((0..=32).contains(&out.candidate_count));
    }
});
