//! SDP: encode/decode property round trips for both layouts, the spec's
//! sdp_test and datachannel_test cases through the Rust API, and arbitrary
//! input into the decoder.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use xp2p::ice::{Candidate, CandidateAddress, CandidateKind, Transport};
use xp2p::sdp::{
    encode_ice, encode_webrtc, Fingerprint, IceParams, SdpError, SessionDescription, Setup,
    WebRtcParams,
};

fn address() -> impl Strategy<Value = CandidateAddress> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(o, p)| CandidateAddress::Ip(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(o)),
            p
        ))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(o, p)| CandidateAddress::Ip(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(o)),
            p
        ))),
        ("[0-9a-f]{8}-[0-9a-f]{4}\\.local", any::<u16>())
            .prop_map(|(hostname, port)| CandidateAddress::Mdns { hostname, port }),
    ]
}

fn udp_candidate() -> impl Strategy<Value = Candidate> {
    (
        "[A-Za-z0-9+/]{1,32}",
        1u16..=2,
        any::<u32>(),
        prop::sample::select(CandidateKind::ALL.to_vec()),
        address(),
        proptest::option::of(address()),
        proptest::collection::vec(("[a-q][a-z-]{0,8}", "[a-z0-9]{1,8}"), 0..3),
    )
        .prop_map(
            |(foundation, component, priority, kind, address, related, extensions)| Candidate {
                foundation,
                component,
                transport: Transport::Udp,
                priority,
                kind,
                address,
                related,
                tcp_type: None,
                extensions,
            },
        )
}

fn setup() -> impl Strategy<Value = Setup> {
    prop_oneof![
        Just(Setup::Active),
        Just(Setup::Passive),
        Just(Setup::Actpass)
    ]
}

proptest! {
    #[test]
    fn ice_round_trip(
        ufrag in "[A-Za-z0-9+/]{4,32}",
        pwd in "[A-Za-z0-9+/]{22,64}",
        cands in proptest::collection::vec(udp_candidate(), 0..48),
        trickle in any::<bool>(),
        eoc in any::<bool>(),
    ) {
        let text = encode_ice(&IceParams {
            ufrag: &ufrag, pwd: &pwd, candidates: &cands, trickle, end_of_candidates: eoc,
        });
        for variant in [text.clone(), text.replace("\r\n", "\n")] {
            let d = SessionDescription::decode(&variant).unwrap();
            prop_assert_eq!(&d.ufrag, &ufrag);
            prop_assert_eq!(&d.pwd, &pwd);
            prop_assert_eq!(d.trickle(), trickle);
            prop_assert_eq!(d.end_of_candidates, eoc);
            prop_assert!(!d.is_webrtc);
            prop_assert_eq!(&d.candidates, &cands);
            prop_assert_eq!(d.skipped_invalid_candidates, 0);
        }
    }

    #[test]
    fn webrtc_round_trip(
        ufrag in "[A-Za-z0-9+/]{4,32}",
        pwd in "[A-Za-z0-9+/]{22,64}",
        cands in proptest::collection::vec(udp_candidate(), 0..8),
        trickle in any::<bool>(),
        eoc in any::<bool>(),
        digest in proptest::collection::vec(any::<u8>(), 32),
        setup in setup(),
        mid in "[A-Za-z0-9_-]{1,16}",
        sctp_port in any::<u16>(),
        mms in proptest::option::of(any::<u64>()),
    ) {
        let fp = Fingerprint::new("sha-256", &digest);
        let text = encode_webrtc(&WebRtcParams {
            ice: IceParams { ufrag: &ufrag, pwd: &pwd, candidates: &cands, trickle, end_of_candidates: eoc },
            fingerprint: &fp.text,
            setup,
            mid: &mid,
            sctp_port,
            max_message_size: mms,
        });
        let d = SessionDescription::decode(&text).unwrap();
        prop_assert!(d.is_webrtc);
        prop_assert_eq!(&d.ufrag, &ufrag);
        prop_assert_eq!(&d.pwd, &pwd);
        prop_assert_eq!(d.trickle(), trickle);
        prop_assert_eq!(d.end_of_candidates, eoc);
        prop_assert_eq!(d.fingerprint(), Some(&fp));
        prop_assert_eq!(d.setup, Some(setup));
        prop_assert_eq!(d.mid.as_deref(), Some(mid.as_str()));
        prop_assert_eq!(d.sctp_port, Some(sctp_port));
        prop_assert_eq!(d.max_message_size, mms);
        prop_assert_eq!(&d.candidates, &cands);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        let _ = SessionDescription::decode(&s);
    }

    #[test]
    fn line_soup_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("m=application 9 UDP/DTLS/SCTP webrtc-datachannel".to_string()),
                Just("m=application 9 DTLS/SCTP 5000".to_string()),
                Just("m=application 9 UDP/ICE 0".to_string()),
                Just("m=audio 9 UDP/TLS/RTP/SAVPF 111".to_string()),
                Just("m=".to_string()),
                Just("a=group:BUNDLE 0 1".to_string()),
                Just("a=group:BUNDLE".to_string()),
                Just("a=mid:0".to_string()),
                Just("a=mid:1".to_string()),
                Just("a=mid:".to_string()),
                Just("a=ice-ufrag:abcd".to_string()),
                Just("a=ice-pwd:0123456789abcdefghijkl".to_string()),
                Just("a=fingerprint:sha-256 AA:BB".to_string()),
                Just("a=fingerprint:".to_string()),
                Just("a=setup:actpass".to_string()),
                Just("a=sctp-port:99999".to_string()),
                Just("a=sctpmap:5000 webrtc-datachannel 1024".to_string()),
                Just("a=sctpmap:".to_string()),
                Just("a=max-message-size:18446744073709551616".to_string()),
                Just("a=candidate:1 1 UDP 1 10.0.0.1 1 typ host".to_string()),
                Just("a=candidate:".to_string()),
                Just("a=end-of-candidates".to_string()),
                "[a-z]=\\PC{0,30}",
                "\\PC{0,30}",
            ],
            0..30,
        ),
        lf in any::<bool>(),
    ) {
        let text = lines.join(if lf { "\n" } else { "\r\n" });
        if let Ok(d) = SessionDescription::decode(&text) {
            prop_assert!(!d.ufrag.is_empty() && !d.pwd.is_empty());
            prop_assert!(!d.is_webrtc || !d.fingerprints.is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SessionDescription::decode(&String::from_utf8_lossy(&b));
    }

    /// Fingerprints: format then parse gives the same value, and whatever
    /// parses (any whitespace around or inside) formats to text that
    /// parses back to the same value.
    #[test]
    fn fingerprint_round_trips(
        alg in "[A-Za-z0-9-]{1,10}",
        bytes in proptest::collection::vec(any::<u8>(), 1..64),
        lead in prop::sample::select(vec!["", " ", "\t", "\u{b}", "\u{a0}"]),
        sep in prop::sample::select(vec![" ", "\t", "  ", "\u{b}", "\u{a0}"]),
        trail in prop::sample::select(vec!["", " ", "\r", "\u{b}", "\u{a0}", "\u{2003}"]),
    ) {
        let f = Fingerprint::new(&alg, &bytes);
        prop_assert_eq!(Fingerprint::parse(&f.to_string()), Ok(f.clone()));
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!("{lead}{alg}{sep}{}{trail}", hex.join(":"));
        if let Ok(p) = Fingerprint::parse(&text) {
            prop_assert_eq!(Fingerprint::parse(&p.to_string()), Ok(p.clone()));
            prop_assert_eq!(&p.bytes, &bytes);
        }
    }
}

fn host(found: &str, addr: &str) -> Candidate {
    let mut c = Candidate::host(addr.parse().unwrap(), 1, 65535);
    c.foundation = found.to_string();
    c
}

#[test]
fn spec_sdp_test_cases() {
    // FullSdpEncodeDecodeRoundTrip
    let cands = vec![
        host("1", "192.168.1.2:5000"),
        Candidate::srflx(
            "203.0.113.1:6000".parse().unwrap(),
            "192.168.1.2:5000".parse().unwrap(),
            "198.51.100.1:3478".parse().unwrap(),
            1,
            65535,
        ),
    ];
    let text = encode_ice(&IceParams {
        ufrag: "abcdefgh",
        pwd: "0123456789abcdefghijklmn",
        candidates: &cands,
        trickle: true,
        end_of_candidates: false,
    });
    let d = SessionDescription::decode(&text).unwrap();
    assert_eq!(
        (d.ufrag.as_str(), d.pwd.as_str()),
        ("abcdefgh", "0123456789abcdefghijklmn")
    );
    assert!(d.trickle() && !d.end_of_candidates);
    assert_eq!(d.candidates.len(), 2);
    assert_eq!(d.candidates[0].kind, CandidateKind::Host);
    assert_eq!(d.candidates[1].kind, CandidateKind::Srflx);

    // DecodeMissingUfragFails / DecodeMissingPwdFails
    assert_eq!(
        SessionDescription::decode("v=0\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"),
        Err(SdpError::MissingUfrag)
    );
    assert_eq!(
        SessionDescription::decode("v=0\r\na=ice-ufrag:abcd\r\n"),
        Err(SdpError::MissingPwd)
    );

    // DecodeEndOfCandidates, DecodeInvalidCandidateLineSkipped
    let d = SessionDescription::decode(
        "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n\
         a=candidate:garbage\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n\
         a=end-of-candidates\r\n",
    )
    .unwrap();
    assert!(d.end_of_candidates);
    assert_eq!(d.candidates.len(), 1);
    assert_eq!(d.skipped_invalid_candidates, 1);
}

#[test]
fn spec_datachannel_test_sdp_cases() {
    let fp = "sha-256 AA:BB:CC";
    let text = encode_webrtc(&WebRtcParams {
        ice: IceParams {
            ufrag: "abcdefgh",
            pwd: "0123456789abcdefghijklmn",
            candidates: &[],
            trickle: true,
            end_of_candidates: false,
        },
        fingerprint: fp,
        setup: Setup::Actpass,
        mid: "0",
        sctp_port: 5000,
        max_message_size: None,
    });
    for needle in [
        "v=0\r\n",
        "a=group:BUNDLE 0\r\n",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        "a=mid:0\r\n",
        "a=ice-ufrag:abcdefgh\r\n",
        "a=ice-pwd:0123456789abcdefghijklmn\r\n",
        "a=fingerprint:sha-256 AA:BB:CC\r\n",
        "a=setup:actpass\r\n",
        "a=sctp-port:5000\r\n",
        "a=ice-options:trickle\r\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
    assert!(!text.contains("max-message-size"));

    // DecodeWebRTCSdp with setup active.
    let remote = text.replace("a=setup:actpass", "a=setup:active");
    let d = SessionDescription::decode(&remote).unwrap();
    assert!(d.is_webrtc && d.trickle());
    assert_eq!(d.fingerprint().unwrap().text, fp);
    assert_eq!(d.setup, Some(Setup::Active));
    assert_eq!(d.mid.as_deref(), Some("0"));
    assert_eq!(d.sctp_port, Some(5000));

    // DecodeWebRTCSdpMissingFingerprint
    let no_fp = text.replace("a=fingerprint:sha-256 AA:BB:CC\r\n", "");
    assert_eq!(
        SessionDescription::decode(&no_fp),
        Err(SdpError::MissingFingerprint)
    );

    // DecodePureIceSdpBackwardCompat
    let ice = encode_ice(&IceParams {
        ufrag: "abcd",
        pwd: "0123456789abcdefghijklmn",
        candidates: &[],
        trickle: false,
        end_of_candidates: false,
    });
    assert!(!SessionDescription::decode(&ice).unwrap().is_webrtc);

    // EncodeDecodeRoundTrip: passive, "data", 5000 (and the Rust-only extras).
    let text = encode_webrtc(&WebRtcParams {
        ice: IceParams {
            ufrag: "abcdefgh",
            pwd: "0123456789abcdefghijklmn",
            candidates: &[],
            trickle: false,
            end_of_candidates: true,
        },
        fingerprint: fp,
        setup: Setup::Passive,
        mid: "data",
        sctp_port: 5000,
        max_message_size: Some(262_144),
    });
    assert!(text.contains("a=sctp-port:5000\r\na=max-message-size:262144\r\n"));
    assert!(text.ends_with("a=end-of-candidates\r\n"));
    let d = SessionDescription::decode(&text).unwrap();
    assert_eq!(d.setup, Some(Setup::Passive));
    assert_eq!(d.mid.as_deref(), Some("data"));
    assert_eq!(d.sctp_port, Some(5000));
    assert_eq!(d.max_message_size, Some(262_144));
    assert!(d.end_of_candidates);
}

#[test]
fn many_candidates_have_no_limit() {
    let cands: Vec<Candidate> = (0..600)
        .map(|i| {
            host(
                &i.to_string(),
                &format!("10.{}.{}.1:5000", i / 256, i % 256),
            )
        })
        .collect();
    let text = encode_ice(&IceParams {
        ufrag: "abcd",
        pwd: "0123456789abcdefghijklmn",
        candidates: &cands,
        trickle: false,
        end_of_candidates: false,
    });
    assert_eq!(
        SessionDescription::decode(&text).unwrap().candidates.len(),
        600
    );
}
