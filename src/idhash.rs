//! Hash maps keyed by the library's own identifiers (endpoint ids, poll
//! tokens, channel ids, SCTP stream numbers): a multiply-and-rotate hash
//! instead of the standard library's keyed SipHash.
//!
//! SipHash with per-process random keys defends a map against keys chosen
//! to collide. These keys are numbers the library hands out itself, or SCTP
//! stream numbers (at most 65 536, so at worst a short probe sequence), and
//! they are looked up on every message: the cheaper hash costs a few
//! instructions and no per-map random keys. Maps keyed by what a peer
//! sends freely (addresses, names) keep `std`'s `RandomState`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// 2^64 divided by the golden ratio, odd: multiplying by it spreads
/// consecutive integers over the high bits.
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hasher: each integer written is mixed in by xor, multiply and
/// rotate; `finish` rotates the well-mixed high bits down to where the map
/// takes its bucket index.
#[derive(Clone, Copy, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SPREAD);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Builds [`IdHasher`]s (no state).
pub type IdBuild = BuildHasherDefault<IdHasher>;

/// A `HashMap` keyed by one of the library's identifiers.
pub type IdMap<K, V> = HashMap<K, V, IdBuild>;

/// A `HashSet` of the library's identifiers.
pub type IdSet<K> = HashSet<K, IdBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash<T: std::hash::Hash>(v: T) -> u64 {
        IdBuild::default().hash_one(v)
    }

    #[test]
    fn consecutive_ids_spread_over_the_low_bits() {
        // hashbrown takes the bucket from the low bits: 4096 consecutive
        // ids (and as many multiples of 1024) must fill most of 4096
        // buckets, not a few.
        for step in [1u64, 1024] {
            let buckets: IdSet<u64> = (0..4096u64).map(|i| hash(i * step) & 4095).collect();
            assert!(
                buckets.len() > 2400,
                "step {step}: {} buckets",
                buckets.len()
            );
        }
    }

    #[test]
    fn equal_keys_hash_equal_and_widths_agree() {
        assert_eq!(hash(7u16), hash(7u16));
        assert_eq!(hash(7u16), hash(7u64));
        assert_ne!(hash(7u64), hash(8u64));
        assert_ne!(hash((1u64, 2u64)), hash((2u64, 1u64)));
        // Bytes in words of eight, the last one zero-padded.
        assert_eq!(hash_bytes(b"abcdefgh"), hash_bytes(b"abcdefgh"));
        assert_ne!(hash_bytes(b"abcdefgh"), hash_bytes(b"abcdefgi"));
    }

    fn hash_bytes(b: &[u8]) -> u64 {
        let mut h = IdHasher::default();
        h.write(b);
        h.finish()
    }

    #[test]
    fn maps_work_as_maps() {
        let mut m: IdMap<u16, u32> = IdMap::default();
        for i in 0..1000u16 {
            m.insert(i.wrapping_mul(1024), u32::from(i));
        }
        assert_eq!(m.len(), 64, "u16 multiples of 1024 wrap to 64 keys");
        let mut n: IdMap<u64, u64> = IdMap::default();
        for i in 0..1000u64 {
            n.insert(i << 20, i);
        }
        assert!((0..1000u64).all(|i| n.get(&(i << 20)) == Some(&i)));
        assert_eq!(n.remove(&(5 << 20)), Some(5));
        assert_eq!(n.len(), 999);
    }
}
