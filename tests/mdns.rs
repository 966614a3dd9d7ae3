//! mDNS codec and resolver (sans-IO): queries, responses with name
//! compression, malformed packets, retries, timeout, cache.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};
use xp2p::mdns::{
    encode_query, parse_response, AddressRecord, MdnsError, Resolution, Resolver, ResolverConfig,
    TYPE_A, TYPE_AAAA,
};

const NAME: &str = "0c6a4a5e-1a2b-4c3d-8e9f-0123456789ab.local";

fn t0() -> Instant {
    #[allow(clippy::disallowed_methods)] // a base instant; time then advances by hand
    Instant::now()
}

fn name_wire(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [0u16, flags, qd, an, ns, ar]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

fn record(name: &[u8], rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut r = name.to_vec();
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&class.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

/// An authoritative response with one A record for `name`.
fn a_response(name: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut p = header(0x8400, 0, 1, 0, 0);
    p.extend(record(&name_wire(name), TYPE_A, 0x8001, 120, &ip));
    p
}

#[test]
fn queries_carry_one_question_each() {
    let q = encode_query(NAME, TYPE_A).unwrap();
    assert_eq!(q[..12], header(0, 1, 0, 0, 0)[..]);
    let mut want = name_wire(NAME);
    want.extend_from_slice(&[0, 1, 0, 1]);
    assert_eq!(q[12..], want[..]);
    let q6 = encode_query("Host.LOCAL.", TYPE_AAAA).unwrap();
    assert_eq!(&q6[12..], b"\x04Host\x05LOCAL\x00\x00\x1c\x00\x01");
    for bad in [
        "example.com",
        "local",
        ".local",
        "a..local",
        "sp ace.local",
        "1.2.3.4",
    ] {
        assert_eq!(
            encode_query(bad, TYPE_A),
            Err(MdnsError::InvalidName),
            "{bad}"
        );
    }
    let long = format!("{}.local", "a".repeat(64));
    assert_eq!(encode_query(&long, TYPE_A), Err(MdnsError::InvalidName));
}

#[test]
fn response_with_compressed_names_in_every_section() {
    // Answer: A for NAME written out; authority: NSEC (skipped) by pointer;
    // additional: AAAA for a name that is a label plus a pointer to
    // ".local" inside the first name.
    let mut p = header(0x8400, 0, 1, 1, 1);
    let first = p.len();
    p.extend(record(
        &name_wire(NAME),
        TYPE_A,
        0x8001,
        120,
        &[10, 1, 2, 3],
    ));
    let ptr = |off: usize| vec![0xc0 | (off >> 8) as u8, off as u8];
    p.extend(record(
        &ptr(first),
        47,
        0x8001,
        120,
        &[0xc0, 12, 0, 1, 0x40],
    ));
    let local_off = first + 1 + NAME.find(".local").unwrap();
    let mut other = vec![5];
    other.extend_from_slice(b"OTHER");
    other.extend(ptr(local_off));
    let v6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 7);
    p.extend(record(&other, TYPE_AAAA, 1, 60, &v6.octets()));
    let got = parse_response(&p).unwrap();
    assert_eq!(
        got,
        vec![
            AddressRecord {
                name: NAME.to_owned(),
                addr: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                ttl: 120
            },
            AddressRecord {
                name: "other.local".to_owned(),
                addr: IpAddr::V6(v6),
                ttl: 60
            },
        ]
    );
}

#[test]
fn questions_are_skipped_and_odd_records_ignored() {
    let mut p = header(0x8000, 1, 3, 0, 0);
    p.extend(name_wire(NAME));
    p.extend_from_slice(&[0, 1, 0, 1]);
    // A with 5 bytes of data, A of class CH, then a good one by pointer.
    p.extend(record(&[0xc0, 12], TYPE_A, 1, 120, &[1, 2, 3, 4, 5]));
    p.extend(record(&[0xc0, 12], TYPE_A, 3, 120, &[1, 2, 3, 4]));
    p.extend(record(&[0xc0, 12], TYPE_A, 1, 120, &[192, 0, 2, 1]));
    let got = parse_response(&p).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].addr, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(got[0].name, NAME);
}

#[test]
fn malformed_packets_are_errors() {
    let good = a_response(NAME, [10, 0, 0, 1]);
    assert!(parse_response(&good).is_ok());
    // Every truncation of a good packet fails cleanly.
    for n in 0..good.len() {
        assert!(parse_response(&good[..n]).is_err(), "cut at {n}");
    }
    // Queries, other opcodes, error codes.
    let mut q = good.clone();
    q[2] = 0;
    assert_eq!(parse_response(&q), Err(MdnsError::NotAResponse));
    let mut op = good.clone();
    op[2] |= 0x10; // opcode 2
    assert_eq!(parse_response(&op), Err(MdnsError::NotAResponse));
    let mut rc = good.clone();
    rc[3] |= 3;
    assert_eq!(parse_response(&rc), Err(MdnsError::NotAResponse));
    // A pointer to itself, a forward pointer, a pointer loop.
    let mut p = header(0x8400, 0, 1, 0, 0);
    p.extend(record(&[0xc0, 12], TYPE_A, 1, 1, &[1, 1, 1, 1]));
    assert_eq!(parse_response(&p), Err(MdnsError::BadName));
    let mut p = header(0x8400, 0, 1, 0, 0);
    p.extend(record(&[0xc0, 40], TYPE_A, 1, 1, &[1, 1, 1, 1]));
    assert_eq!(parse_response(&p), Err(MdnsError::BadName));
    let mut p = header(0x8400, 0, 2, 0, 0);
    p.extend(record(&[1, b'a', 0xc0, 27], TYPE_A, 1, 1, &[1, 1, 1, 1]));
    p.extend(record(&[1, b'b', 0xc0, 12], TYPE_A, 1, 1, &[1, 1, 1, 1]));
    assert_eq!(parse_response(&p), Err(MdnsError::BadName));
    // Reserved label types 0x40 and 0x80.
    for lt in [0x40u8, 0x80] {
        let mut p = header(0x8400, 0, 1, 0, 0);
        p.extend(record(&[lt, 0], TYPE_A, 1, 1, &[1, 1, 1, 1]));
        assert_eq!(parse_response(&p), Err(MdnsError::BadName));
    }
    // A name over 255 bytes.
    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'x'; 63]);
    }
    long.push(0);
    let mut p = header(0x8400, 0, 1, 0, 0);
    p.extend(record(&long, TYPE_A, 1, 1, &[1, 1, 1, 1]));
    assert_eq!(parse_response(&p), Err(MdnsError::NameTooLong));
    // More records announced than present.
    let mut p = a_response(NAME, [10, 0, 0, 1]);
    p[7] = 2;
    assert_eq!(parse_response(&p), Err(MdnsError::Truncated));
    // rdlength past the end.
    let mut p = a_response(NAME, [10, 0, 0, 1]);
    let len_at = p.len() - 6;
    p[len_at + 1] = 200;
    assert_eq!(parse_response(&p), Err(MdnsError::Truncated));
}

proptest! {
    #[test]
    fn parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_response(&data);
    }

    #[test]
    fn parser_never_panics_on_mutated_responses(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut p = a_response(NAME, [10, 0, 0, 1]);
        p.extend(record(&[0xc0, 12], TYPE_AAAA, 1, 5, &[0; 16]));
        p[7] = 2;
        for (at, v) in flips {
            let i = at % p.len();
            p[i] = v;
        }
        let n = cut % (p.len() + 1);
        let _ = parse_response(&p[..n]);
        if let Ok(recs) = parse_response(&p) {
            prop_assert!(recs.len() <= 2);
        }
    }

    #[test]
    fn every_valid_name_round_trips_through_a_response(
        labels in proptest::collection::vec("[a-z0-9-]{1,20}", 1..4),
        ip in any::<[u8; 4]>(),
    ) {
        let name = format!("{}.local", labels.join("."));
        prop_assert!(encode_query(&name, TYPE_A).is_ok());
        let got = parse_response(&a_response(&name, ip)).unwrap();
        prop_assert_eq!(got.len(), 1);
        prop_assert_eq!(&got[0].name, &name);
        prop_assert_eq!(got[0].addr, IpAddr::V4(Ipv4Addr::from(ip)));
    }
}

fn drain_queries(r: &mut Resolver) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| r.poll_transmit()).collect()
}

#[test]
fn lookup_sends_a_and_aaaa_every_second_until_answered() {
    let t = t0();
    let mut r = Resolver::default();
    r.resolve(t, NAME).unwrap();
    let q = drain_queries(&mut r);
    assert_eq!(
        q,
        vec![
            encode_query(NAME, TYPE_A).unwrap(),
            encode_query(NAME, TYPE_AAAA).unwrap()
        ]
    );
    // Asking again while running sends nothing more.
    r.resolve(t, &NAME.to_uppercase()).unwrap();
    assert!(drain_queries(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), Some(t + Duration::from_secs(1)));
    r.handle_timeout(t + Duration::from_millis(999));
    assert!(drain_queries(&mut r).is_empty());
    r.handle_timeout(t + Duration::from_secs(1));
    assert_eq!(drain_queries(&mut r).len(), 2);
    // Another host's answer, a query, garbage: nothing resolves.
    r.handle_datagram(t, &a_response("other.local", [1, 2, 3, 4]));
    r.handle_datagram(t, &encode_query(NAME, TYPE_A).unwrap());
    r.handle_datagram(t, &[0, 0, 0x84, 0, 0, 0, 0, 1]);
    assert_eq!(r.poll_event(), None);
    // A goodbye (TTL 0) does not resolve either.
    let mut bye = a_response(NAME, [10, 9, 9, 9]);
    let ttl_at = bye.len() - 10;
    bye[ttl_at..ttl_at + 4].copy_from_slice(&[0; 4]);
    r.handle_datagram(t, &bye);
    assert_eq!(r.poll_event(), None);
    // The answer, in upper case, resolves the name.
    r.handle_datagram(
        t + Duration::from_millis(1500),
        &a_response(&NAME.to_uppercase(), [10, 0, 0, 2]),
    );
    assert_eq!(
        r.poll_event(),
        Some(Resolution {
            name: NAME.to_owned(),
            addr: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
        })
    );
    assert_eq!(r.poll_event(), None);
    assert_eq!(r.poll_timeout(), None);
    let s = r.stats();
    assert_eq!(
        (s.queries_sent, s.resolved, s.malformed, s.unmatched),
        (4, 1, 1, 1)
    );
    // Cached: resolves at once without a query.
    r.resolve(t + Duration::from_secs(60), NAME).unwrap();
    assert!(drain_queries(&mut r).is_empty());
    assert_eq!(
        r.poll_event().unwrap().addr,
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
    );
    assert_eq!(r.stats().cache_hits, 1);
}

#[test]
fn lookup_times_out_after_five_seconds_with_five_rounds_of_queries() {
    let t = t0();
    let mut r = Resolver::default();
    r.resolve(t, NAME).unwrap();
    let mut now = t;
    let mut sent = drain_queries(&mut r).len();
    let mut result = None;
    while let Some(d) = r.poll_timeout() {
        assert!(d > now, "deadlines move forward");
        now = d;
        r.handle_timeout(now);
        sent += drain_queries(&mut r).len();
        if let Some(ev) = r.poll_event() {
            result = Some((now, ev));
        }
    }
    let (at, ev) = result.expect("the lookup ends");
    assert_eq!(at - t, Duration::from_secs(5));
    assert_eq!(
        ev,
        Resolution {
            name: NAME.to_owned(),
            addr: None
        }
    );
    assert_eq!(sent, 10, "A and AAAA at 0, 1, 2, 3 and 4 s");
    assert_eq!(r.stats().timed_out, 1);
    assert_eq!(r.pending(), 0);
}

#[test]
fn answers_in_the_additional_section_count_and_limits_hold() {
    let t = t0();
    let mut r = Resolver::new(ResolverConfig {
        max_lookups: 2,
        ..ResolverConfig::default()
    });
    r.resolve(t, "a.local").unwrap();
    r.resolve(t, "b.local").unwrap();
    assert_eq!(r.resolve(t, "c.local"), Err(MdnsError::TooManyLookups));
    assert_eq!(r.resolve(t, "c.example"), Err(MdnsError::InvalidName));
    // A negative answer to AAAA as Chromium writes it: NSEC in the answer
    // section, the A record as additional data.
    let mut p = header(0x8400, 0, 1, 0, 1);
    p.extend(record(
        &name_wire("b.local"),
        47,
        0x8001,
        120,
        &[0xc0, 12, 0, 1, 0x40],
    ));
    p.extend(record(&[0xc0, 12], TYPE_A, 0x8001, 120, &[10, 7, 7, 7]));
    r.handle_datagram(t, &p);
    assert_eq!(
        r.poll_event(),
        Some(Resolution {
            name: "b.local".to_owned(),
            addr: Some(IpAddr::V4(Ipv4Addr::new(10, 7, 7, 7)))
        })
    );
    assert_eq!(
        r.cached("B.local"),
        Some(IpAddr::V4(Ipv4Addr::new(10, 7, 7, 7)))
    );
    assert_eq!(r.pending(), 1);
}
