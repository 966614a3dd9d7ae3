//! Helpers shared by the mDNS integration tests.

use std::net::Ipv4Addr;

/// A response with one A record for `name` (written out, no compression).
pub fn response(name: &str, ip: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    for l in name.split('.') {
        p.push(l.len() as u8);
        p.extend_from_slice(l.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4]);
    p.extend_from_slice(&ip.octets());
    p
}
