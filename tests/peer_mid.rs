//! Offer/answer per RFC 3264 and RFC 8843: the answer repeats the offer's
//! `mid` and BUNDLE group, whatever token the offerer chose, and rejects the
//! media sections (audio, video) of an offer that has several, accepting
//! only the data-channel one. Each case then connects two PeerConnections
//! back to back in memory (real time, bounded waits) and opens a channel
//! from each side.

mod peer_support;

use std::time::{Duration, Instant};

use peer_support::{fire_timers, now, trickle, Drive, Inbox};
use xp2p::channel::{ChannelId, MessageKind};
use xp2p::peer::{PeerConfig, PeerState};
use xp2p::sdp::SessionDescription;

const A_ADDR: &str = "10.0.1.1:40000";
const B_ADDR: &str = "10.0.1.2:40000";

/// Channels' messages are not looked at here.
#[derive(Default)]
struct Ignore;

impl Inbox for Ignore {
    const KEEPS_MESSAGE_EVENTS: bool = true;

    fn message(&mut self, _: ChannelId, _: MessageKind, _: Vec<u8>) {}
}

type Side = peer_support::Side<Ignore>;

struct Pair {
    a: Side,
    b: Side,
}

impl Drive for Pair {
    fn step(&mut self) -> bool {
        let mut any = self.a.drain() | self.b.drain();
        let t = now();
        any |= trickle(&mut self.a, &mut self.b, t);
        any |= shuttle(&mut self.a, &mut self.b, t);
        any |= shuttle(&mut self.b, &mut self.a, t);
        any |= fire_timers(&mut self.a, &mut self.b, now());
        any | self.a.drain() | self.b.drain()
    }
}

fn shuttle(from: &mut Side, to: &mut Side, t: Instant) -> bool {
    let mut any = false;
    while let Some(tx) = from.pc.poll_transmit() {
        any = true;
        if tx.dest == to.addr {
            to.pc.handle_datagram(t, to.addr, from.addr, &tx.data);
        }
    }
    any
}

fn lines(sdp: &str) -> Vec<&str> {
    sdp.split("\r\n").filter(|l| !l.is_empty()).collect()
}

/// The attribute lines of our offer's data-channel section that are
/// transport-level (credentials, fingerprint, setup, trickle), which a
/// browser repeats in every bundled section.
fn transport_lines(offer: &str) -> Vec<String> {
    lines(offer)
        .into_iter()
        .filter(|l| {
            [
                "a=ice-ufrag:",
                "a=ice-pwd:",
                "a=fingerprint:",
                "a=setup:",
                "a=ice-options:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(str::to_string)
        .collect()
}

/// Our offer with its mid (and BUNDLE group) renamed to `mid`, as aiortc,
/// libdatachannel or a hand-written peer may write it.
fn with_mid(offer: &str, mid: &str) -> String {
    offer
        .replace("a=group:BUNDLE 0\r\n", &format!("a=group:BUNDLE {mid}\r\n"))
        .replace("a=mid:0\r\n", &format!("a=mid:{mid}\r\n"))
}

/// A browser offer that sends audio and video and has a data channel,
/// modelled on what Chromium writes with unified plan and max-bundle: audio
/// (mid 0, the BUNDLE tag), video (mid 1), then the application section
/// (mid 2); every section carries the same ICE credentials, fingerprint
/// and setup. The transport lines are those of our own offer, so the
/// answerer can connect to it.
fn browser_media_offer(offer: &str) -> String {
    let transport = transport_lines(offer).join("\r\n");
    let sctp: Vec<&str> = lines(offer)
        .into_iter()
        .filter(|l| l.starts_with("a=sctp-port:") || l.starts_with("a=max-message-size:"))
        .collect();
    let mut s = String::new();
    s.push_str("v=0\r\no=- 6912364011329583715 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    s.push_str("a=group:BUNDLE 0 1 2\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS stream0\r\n");
    s.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n");
    s.push_str("c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
    s.push_str(&transport);
    s.push_str("\r\na=mid:0\r\n");
    s.push_str("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n");
    s.push_str("a=sendrecv\r\na=msid:stream0 audio0\r\na=rtcp-mux\r\n");
    s.push_str("a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n");
    s.push_str("a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n");
    s.push_str("a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n");
    s.push_str("a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\n");
    s.push_str("a=rtpmap:126 telephone-event/8000\r\na=ssrc:1001 cname:xp2pTestCname\r\n");
    s.push_str("m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99\r\n");
    s.push_str("c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
    s.push_str(&transport);
    s.push_str("\r\na=mid:1\r\n");
    s.push_str("a=sendrecv\r\na=msid:stream0 video0\r\na=rtcp-mux\r\na=rtcp-rsize\r\n");
    s.push_str("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n");
    s.push_str("a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n");
    s.push_str("a=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\n");
    s.push_str("a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n");
    s.push_str("a=ssrc-group:FID 2001 2002\r\na=ssrc:2001 cname:xp2pTestCname\r\n");
    s.push_str("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    s.push_str("c=IN IP4 0.0.0.0\r\n");
    s.push_str(&transport);
    s.push_str("\r\na=mid:2\r\n");
    for l in sctp {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s
}

/// Offer from `a` (rewritten by `tamper`), answer from `b`; candidates are
/// trickled. Returns the offer `b` got and its answer.
fn negotiate(p: &mut Pair, tamper: impl Fn(&str) -> String) -> (String, String) {
    let t = now();
    let offer = tamper(&p.a.pc.create_offer(t).unwrap());
    p.b.pc.set_remote_description(t, &offer).unwrap();
    let answer = p.b.pc.create_answer(t).unwrap();
    p.a.pc.set_remote_description(t, &answer).unwrap();
    (offer, answer)
}

/// Connects, then opens a channel from each side and waits until both are
/// open on both sides.
fn connect_and_open_both_ways(p: &mut Pair) {
    let ch_a = p.a.channel("from-a");
    let ok = p.run_until(Duration::from_secs(60), |p| {
        p.a.pc.state() == PeerState::Connected && p.b.pc.state() == PeerState::Connected
    });
    assert!(
        ok,
        "not connected: a {:?}, b {:?}",
        p.a.pc.state(),
        p.b.pc.state()
    );
    let ch_b = p.b.channel("from-b");
    let ok = p.run_until(Duration::from_secs(60), |p| {
        p.a.opened(ch_a)
            && p.b.opened(ch_b)
            && p.b
                .remote_channel("from-a")
                .is_some_and(|id| p.b.opened(id))
            && p.a
                .remote_channel("from-b")
                .is_some_and(|id| p.a.opened(id))
    });
    assert!(ok, "channels did not open both ways");
}

fn pair(seed: u64) -> Pair {
    Pair {
        a: Side::new(seed, A_ADDR, PeerConfig::default()),
        b: Side::new(seed + 1, B_ADDR, PeerConfig::default()),
    }
}

#[test]
fn answer_repeats_a_mid_other_than_zero() {
    for (seed, mid) in [(40, "data"), (42, "dc"), (44, "sdparta_0")] {
        let mut p = pair(seed);
        let (_, answer) = negotiate(&mut p, |o| with_mid(o, mid));
        let l = lines(&answer);
        assert!(
            l.contains(&format!("a=group:BUNDLE {mid}").as_str()),
            "{answer}"
        );
        assert!(l.contains(&format!("a=mid:{mid}").as_str()), "{answer}");
        assert!(!l.contains(&"a=mid:0"), "{answer}");
        assert_eq!(l.iter().filter(|l| l.starts_with("m=")).count(), 1);
        let d = SessionDescription::decode(&answer).unwrap();
        assert_eq!(d.mid.as_deref(), Some(mid));
        assert_eq!(d.bundle, vec![mid.to_string()]);
        connect_and_open_both_ways(&mut p);
    }
}

#[test]
fn answer_without_an_offered_bundle_group_has_none() {
    let mut p = pair(46);
    let (_, answer) = negotiate(&mut p, |o| {
        with_mid(o, "data").replace("a=group:BUNDLE data\r\n", "")
    });
    assert!(!answer.contains("a=group:"), "{answer}");
    assert!(lines(&answer).contains(&"a=mid:data"), "{answer}");
    connect_and_open_both_ways(&mut p);
}

#[test]
fn media_sections_of_a_browser_offer_are_rejected_in_order() {
    let mut p = pair(48);
    let (offer, answer) = negotiate(&mut p, browser_media_offer);
    let o = SessionDescription::decode(&offer).unwrap();
    assert_eq!(o.media.len(), 3);
    assert_eq!(o.selected, Some(2));
    assert_eq!(o.bundle, ["0", "1", "2"]);

    let l = lines(&answer);
    let m: Vec<&str> = l.iter().copied().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m,
        [
            "m=audio 0 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
            "m=video 0 UDP/TLS/RTP/SAVPF 96 97 98 99",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        ]
    );
    let mids: Vec<&str> = l
        .iter()
        .copied()
        .filter(|l| l.starts_with("a=mid:"))
        .collect();
    assert_eq!(mids, ["a=mid:0", "a=mid:1", "a=mid:2"]);
    // Only the accepted section is bundled; the rejected ones are inactive
    // and carry no transport of their own.
    assert!(l.contains(&"a=group:BUNDLE 2"), "{answer}");
    assert_eq!(l.iter().filter(|l| l.starts_with("a=group:")).count(), 1);
    let sections: Vec<&str> = answer.split("\r\nm=").collect();
    assert_eq!(sections.len(), 4);
    for rejected in &sections[1..3] {
        assert!(rejected.contains("a=inactive"), "{rejected}");
        assert!(!rejected.contains("a=ice-ufrag"), "{rejected}");
        assert!(!rejected.contains("a=candidate"), "{rejected}");
    }
    assert!(sections[3].contains("a=ice-ufrag:"));
    assert!(sections[3].contains("a=fingerprint:"));
    assert!(sections[3].contains("a=sctp-port:"));
    assert!(!sections[3].contains("a=inactive"));
    let d = SessionDescription::decode(&answer).unwrap();
    assert!(d.is_webrtc);
    assert_eq!(d.selected, Some(2));
    assert_eq!(d.mid.as_deref(), Some("2"));
    assert_eq!(d.bundle, ["2"]);

    connect_and_open_both_ways(&mut p);
}

#[test]
fn our_own_offer_still_gets_mid_zero() {
    let mut p = pair(50);
    let (_, answer) = negotiate(&mut p, str::to_string);
    let l = lines(&answer);
    assert!(l.contains(&"a=group:BUNDLE 0"));
    assert!(l.contains(&"a=mid:0"));
    connect_and_open_both_ways(&mut p);
}

/// The offer with its data-channel mid renamed to `mid` in the `a=mid`
/// line and the BUNDLE group, whatever the original token.
fn rename_mid(offer: &str, mid: &str) -> String {
    let old = SessionDescription::decode(offer).unwrap().mid.unwrap();
    offer
        .split_inclusive('\n')
        .map(|l| {
            let t = l.trim_end();
            if t == format!("a=mid:{old}") {
                l.replace(&format!("a=mid:{old}"), &format!("a=mid:{mid}"))
            } else if let Some(group) = t.strip_prefix("a=group:BUNDLE") {
                let ids: Vec<String> = group
                    .split_whitespace()
                    .map(|m| {
                        if m == old {
                            mid.to_string()
                        } else {
                            m.to_string()
                        }
                    })
                    .collect();
                l.replace(t, &format!("a=group:BUNDLE {}", ids.join(" ")))
            } else {
                l.to_string()
            }
        })
        .collect()
}

#[test]
fn answers_to_real_offers_mirror_their_sections() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdp");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("-offer") || !name.ends_with(".sdp") {
            continue;
        }
        let real = std::fs::read_to_string(&path).unwrap();
        // As captured (mid 0) and with a token of the offerer's choosing.
        for offer in [real.clone(), rename_mid(&real, "dc-1")] {
            let o = SessionDescription::decode(&offer).unwrap();
            let mut b = pair(60).b;
            b.pc.set_remote_description(now(), &offer).unwrap();
            let answer = b.pc.create_answer(now()).unwrap();
            let a = SessionDescription::decode(&answer).unwrap();
            let offered: Vec<_> = o.media.iter().map(|m| m.mid.clone()).collect();
            let answered: Vec<_> = a.media.iter().map(|m| m.mid.clone()).collect();
            assert_eq!(answered, offered, "{name}: {answer}");
            assert_eq!(a.selected, o.selected, "{name}");
            assert_eq!(a.mid, o.mid, "{name}");
            if o.bundle.is_empty() {
                assert!(a.bundle.is_empty(), "{name}: {answer}");
            } else {
                assert_eq!(a.bundle, vec![o.mid.clone().unwrap()], "{name}: {answer}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 16, "{checked} offers checked");
}
