//! Candidate lines: property round trips, the spec's ice_candidate_test
//! numbers through the Rust API, and arbitrary input into the parser.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use xp2p::ice::{
    candidate_priority, foundation_from_parts, pair_priority, sort_by_priority_desc, Candidate,
    CandidateAddress, CandidateKind, TcpType, Transport,
};

fn ip_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    ]
}

fn address() -> impl Strategy<Value = CandidateAddress> {
    prop_oneof![
        3 => (ip_addr(), any::<u16>()).prop_map(|(ip, p)| CandidateAddress::Ip(SocketAddr::new(ip, p))),
        1 => ("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.local", any::<u16>())
            .prop_map(|(hostname, port)| CandidateAddress::Mdns { hostname, port }),
    ]
}

fn kind() -> impl Strategy<Value = CandidateKind> {
    prop::sample::select(CandidateKind::ALL.to_vec())
}

fn extension() -> impl Strategy<Value = (String, String)> {
    ("[a-z][a-z-]{0,12}", "[A-Za-z0-9+/]{1,16}").prop_filter("reserved names", |(n, _)| {
        !["raddr", "rport", "tcptype"].contains(&n.as_str())
    })
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        "[A-Za-z0-9+/]{1,32}",
        1u16..=256,
        prop_oneof![Just(Transport::Udp), Just(Transport::Tcp)],
        any::<u32>(),
        kind(),
        address(),
        proptest::option::of(address()),
        proptest::option::of(prop_oneof![
            Just(TcpType::Active),
            Just(TcpType::Passive),
            Just(TcpType::So)
        ]),
        proptest::collection::vec(extension(), 0..5),
    )
        .prop_map(
            |(
                foundation,
                component,
                transport,
                priority,
                kind,
                address,
                related,
                tcp_type,
                extensions,
            )| {
                Candidate {
                    foundation,
                    component,
                    transport,
                    priority,
                    kind,
                    address,
                    related,
                    tcp_type,
                    extensions,
                }
            },
        )
}

proptest! {
    #[test]
    fn format_then_parse_is_identity(c in candidate()) {
        let text = c.to_string();
        prop_assert_eq!(Candidate::parse(&text), Ok(c.clone()));
        // With the a= prefix and a line end, and bare.
        prop_assert_eq!(Candidate::parse(&format!("a={text}\r\n")), Ok(c.clone()));
        let bare = text.strip_prefix("candidate:").unwrap();
        prop_assert_eq!(Candidate::parse(bare), Ok(c));
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = Candidate::parse(&s);
    }

    #[test]
    fn token_soup_never_panics(
        toks in proptest::collection::vec(
            prop_oneof![
                Just("candidate:1".to_string()), Just("1".to_string()), Just("UDP".to_string()),
                Just("tcp".to_string()), Just("typ".to_string()), Just("host".to_string()),
                Just("srflx".to_string()), Just("raddr".to_string()), Just("rport".to_string()),
                Just("tcptype".to_string()), Just("10.0.0.1".to_string()), Just("::1".to_string()),
                Just("x.local".to_string()), Just("65536".to_string()), Just("4294967296".to_string()),
                "\\PC{0,8}",
            ],
            0..16,
        )
    ) {
        let _ = Candidate::parse(&toks.join(" "));
    }

    #[test]
    fn mutated_valid_lines_never_panic(c in candidate(), cut in 0usize..200, byte in any::<u8>()) {
        let mut bytes = c.to_string().into_bytes();
        if !bytes.is_empty() {
            let i = cut % bytes.len();
            bytes[i] = byte;
            bytes.truncate(cut.max(i + 1));
        }
        let _ = Candidate::parse(&String::from_utf8_lossy(&bytes));
    }

    /// Whatever parses formats to a line that parses back to the same
    /// candidate, whitespace of every kind included (ASCII separators,
    /// vertical tab, no-break space, other Unicode spaces).
    #[test]
    fn parse_format_parse_is_identity(
        transport in prop::sample::select(vec!["UDP", "tcp"]),
        host in prop::sample::select(vec!["10.0.0.1", "3.local", "::1"]),
        tail in proptest::collection::vec(
            (
                prop::sample::select(vec!["raddr", "rport", "tcptype", "o", "x\u{a0}", "\u{b}"]),
                prop::sample::select(vec![
                    "1", "so", "10.0.0.2", "\u{b}", "\u{a0}", "\u{2003}", "y", "\u{b}z\u{a0}",
                ]),
            ),
            0..4,
        ),
        seps in proptest::collection::vec(
            prop_oneof![
                3 => prop::sample::select(vec![" ", "\t", "\u{c}", "\r\n", "  "]),
                1 => prop::sample::select(vec!["\u{b}", "\u{a0}", "\u{2003}"]),
            ],
            16,
        ),
        lead in prop::sample::select(vec!["", " ", "\u{b}", "\u{a0}", "\t"]),
        trail in prop::sample::select(vec!["", " ", "\u{b}", "\u{a0}", "\r\n", "\t\u{b}"]),
    ) {
        let head = ["candidate:1", "1", transport, "3", host, "9", "typ", "host"];
        let toks = head.iter().copied().chain(tail.iter().flat_map(|(n, v)| [*n, *v]));
        let mut line = lead.to_string();
        for (i, t) in toks.enumerate() {
            if i > 0 {
                line.push_str(seps[i]);
            }
            line.push_str(t);
        }
        line.push_str(trail);
        if let Ok(c) = Candidate::parse(&line) {
            let text = c.to_string();
            prop_assert_eq!(Candidate::parse(&text), Ok(c), "{:?} -> {:?}", line, text);
        }
    }

    #[test]
    fn arbitrary_parsed_text_round_trips(s in "\\PC{0,120}") {
        if let Ok(c) = Candidate::parse(&s) {
            prop_assert_eq!(Candidate::parse(&c.to_string()), Ok(c));
        }
    }

    #[test]
    fn pair_priority_orders_like_the_formula(g in 0u32..(1 << 31), d in 0u32..(1 << 31)) {
        let p = pair_priority(g, d);
        let (lo, hi) = (u64::from(g.min(d)), u64::from(g.max(d)));
        prop_assert_eq!(p, (lo << 32) + 2 * hi + u64::from(g > d));
    }
}

#[test]
fn spec_ice_candidate_test_numbers() {
    assert_eq!(CandidateKind::Host.priority(65535, 1), 2_130_706_431);
    assert_eq!(CandidateKind::Srflx.priority(65535, 1), 1_694_498_815);
    assert_eq!(CandidateKind::Relay.priority(65535, 1), 16_777_215);
    assert_eq!(
        candidate_priority(110, 65535, 1),
        CandidateKind::Prflx.priority(65535, 1)
    );
    assert!(CandidateKind::Host.priority(65535, 1) > CandidateKind::Host.priority(65535, 2));

    let base: IpAddr = "192.168.1.10".parse().unwrap();
    assert_eq!(
        foundation_from_parts(0, Some(base), None),
        foundation_from_parts(0, Some(base), None)
    );
    assert_ne!(
        foundation_from_parts(0, Some(base), None),
        foundation_from_parts(1, Some(base), None)
    );

    for k in CandidateKind::ALL {
        assert_eq!(k.as_str().parse::<CandidateKind>(), Ok(k));
    }
    assert!("invalid".parse::<CandidateKind>().is_err());

    assert_eq!(pair_priority(100, 50), 50 * (1u64 << 32) + 201);
    assert_ne!(pair_priority(100, 50), pair_priority(50, 100));
    assert_eq!(pair_priority(100, 100), 100 * (1u64 << 32) + 200);
    let mut prios = [100u64, 300, 200];
    sort_by_priority_desc(&mut prios, |p| *p);
    assert_eq!(prios, [300, 200, 100]);
}

#[test]
fn real_world_candidate_lines() {
    let lines = [
        // Chromium, mDNS on.
        "candidate:3745185342 1 udp 2113937151 7e1b5f7f-8c5f-4d8e-9a3c-1f2e3d4c5b6a.local 56143 typ host generation 0 network-cost 999",
        // Chromium srflx behind mDNS.
        "candidate:842163049 1 udp 1677729535 198.51.100.20 56143 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999",
        // Firefox.
        "candidate:0 1 UDP 2122252543 192.168.1.7 49203 typ host",
        "candidate:1 1 TCP 2105524479 192.168.1.7 9 typ host tcptype active",
        "candidate:3 1 UDP 1686052863 203.0.113.3 49203 typ srflx raddr 192.168.1.7 rport 49203",
        // aiortc (32-character hex foundation).
        "candidate:0f1e2d3c4b5a69788796a5b4c3d2e1f0 1 udp 2130706431 10.0.0.2 43000 typ host",
        // libdatachannel/libjuice.
        "a=candidate:1 1 UDP 2122317823 fe80::1c2b:3a4d:5e6f:7a8b 51234 typ host",
        // Relay.
        "candidate:5 1 udp 41885439 198.51.100.1 60000 typ relay raddr 203.0.113.3 rport 49203 generation 0 ufrag abcd",
    ];
    for line in lines {
        let c = Candidate::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(Candidate::parse(&c.to_string()), Ok(c.clone()), "{line}");
    }
    assert!(Candidate::parse(lines[0]).unwrap().address.is_mdns());
    assert_eq!(
        Candidate::parse(lines[3]).unwrap().transport,
        Transport::Tcp
    );
}
