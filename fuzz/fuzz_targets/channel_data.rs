//! Arbitrary bytes into the ChannelData decoder: never a panic, and a frame
//! that decodes re-encodes to the same header and payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xp2p::turn::channel::encoded_len;
use xp2p::turn::ChannelData;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = ChannelData::decode(data) {
        let mut out = vec![0u8; encoded_len(frame.data.len())];
        let n = frame.encode(&mut out).expect("a decoded frame re-encodes");
        assert_eq!(&out[..4], &data[..4]);
        assert_eq!(&out[4..4 + frame.data.len()], frame.data);
        assert_eq!(n, out.len());
    }
});
