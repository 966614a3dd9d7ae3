//! mDNS responses into the response parser and into a resolver waiting for
//! two names: never a panic; every record parsed has a printable name; a
//! resolution only ever answers a name that was asked.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use xp2p::mdns::{parse_response, Resolver, ResolverConfig};

const NAMES: [&str; 2] = [
    "0c6a4a5e-1a2b-4c3d-8e9f-0123456789ab.local",
    "9b36eaac-bb2e-49bb-bb78-21c41c499900.local",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = parse_response(data) {
        for r in records {
            assert!(r.name.bytes().all(|b| b.is_ascii_graphic()));
        }
    }
    #[allow(clippy::disallowed_methods)] // only a base for the virtual clock
    let now = Instant::now();
    let mut r = Resolver::new(ResolverConfig::default());
    for n in NAMES {
        r.resolve(now, n).unwrap();
    }
    while r.poll_transmit().is_some() {}
    r.handle_datagram(now, data);
    r.handle_timeout(now + Duration::from_secs(10));
    while let Some(res) = r.poll_event() {
        assert!(NAMES.contains(&res.name.as_str()), "{}", res.name);
    }
});
