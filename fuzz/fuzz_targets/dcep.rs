//! DCEP messages and channel payloads into a DataChannel manager whose
//! association is up: never a panic, the books stay consistent; a DCEP
//! message that decodes encodes back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xp2p::channel::{ChannelConfig, ChannelManager, DtlsRole, MessageKind};
use xp2p::dcep::{
    DcepMessage, PPID_BINARY, PPID_BINARY_EMPTY, PPID_DCEP, PPID_STRING, PPID_STRING_EMPTY,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = DcepMessage::decode(data) {
        if let Ok(bytes) = m.encode() {
            assert_eq!(DcepMessage::decode(&bytes), Ok(m));
        }
    }

    // Messages framed as [stream hi, stream lo, ppid selector, len, bytes…].
    let mut m = ChannelManager::new(65536, 262_144);
    m.set_role(DtlsRole::Client);
    let own = m.create_channel(ChannelConfig::new("own")).unwrap();
    m.association_up(16).unwrap();
    let ppids = [
        PPID_DCEP,
        PPID_STRING,
        PPID_BINARY,
        PPID_STRING_EMPTY,
        PPID_BINARY_EMPTY,
        0,
        99,
    ];
    let mut rest = data;
    while rest.len() >= 4 {
        let stream = u16::from_be_bytes([rest[0], rest[1]]);
        let ppid = ppids[usize::from(rest[2]) % ppids.len()];
        let len = usize::from(rest[3]).min(rest.len() - 4);
        let (msg, tail) = rest[4..].split_at(len);
        m.handle_sctp_message(stream, ppid, msg);
        if stream % 7 == 3 {
            m.handle_stream_reset(stream, true);
        }
        rest = tail;
        while let Some(s) = m.poll_sctp_send() {
            m.on_sent(s.stream, s.counted);
        }
        while m.poll_stream_reset().is_some() {}
    }
    let _ = m.send(own, MessageKind::Binary, b"x");
    let ids: Vec<_> = m.channel_ids().collect();
    for id in ids {
        while m.recv(id).is_some() {}
    }
    while m.poll_event().is_some() {}
    assert!(m.live_channels() <= 16);
});
