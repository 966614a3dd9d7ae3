//! Random values for ICE and TURN (credentials, tie-breakers, transaction
//! ids, timer jitter), without a general-purpose RNG crate.
//!
//! Without a seed the bytes come from the kernel (`getrandom(2)`, else
//! `/dev/urandom`), read 256 bytes at a time: transaction ids and ICE
//! credentials stay unpredictable. With a seed (tests and reproducible runs:
//! `rng_seed` in the ICE and TURN configurations) they come from SplitMix64,
//! the same sequence for the same seed, and are predictable by design.

use std::io::Read;

const POOL: usize = 256;

/// A source of random values, from the kernel or from a seed.
pub struct Rng {
    inner: Inner,
}

enum Inner {
    /// Kernel randomness not handed out yet: `pool[used..]`.
    Os { pool: Box<[u8; POOL]>, used: usize },
    /// SplitMix64 state.
    Seeded(u64),
}

impl Rng {
    /// Kernel randomness, or the sequence of `seed` when one is given.
    pub fn new(seed: Option<u64>) -> Rng {
        let inner = match seed {
            Some(s) => Inner::Seeded(s),
            None => Inner::Os {
                pool: Box::new([0; POOL]),
                used: POOL,
            },
        };
        Rng { inner }
    }

    /// Fills `buf` with random bytes.
    pub fn fill_bytes(&mut self, buf: &mut [u8]) {
        match &mut self.inner {
            Inner::Os { pool, used } => {
                for chunk in buf.chunks_mut(POOL) {
                    if POOL - *used < chunk.len() {
                        os_fill(&mut pool[..]);
                        *used = 0;
                    }
                    chunk.copy_from_slice(&pool[*used..*used + chunk.len()]);
                    // Handed-out bytes are not kept.
                    pool[*used..*used + chunk.len()].fill(0);
                    *used += chunk.len();
                }
            }
            Inner::Seeded(state) => {
                for chunk in buf.chunks_mut(8) {
                    let v = splitmix64(state).to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
            }
        }
    }

    /// A uniformly random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    /// A uniformly random index below `n` (`n > 0`), without modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        let n = n as u64;
        // Lemire's multiply-and-reject: the high half of x * n is uniform
        // once the low halves that would favour some results are refused.
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }

    /// A uniformly random `f64` in `[lo, hi)`.
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        // 53 random bits: every value a multiple of 2^-53 in [0, 1).
        let unit = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        lo + (hi - lo) * unit
    }
}

/// Shows no state (the pool is secret).
impl std::fmt::Debug for Rng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rng").finish_non_exhaustive()
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` from the kernel: `getrandom(2)`, or `/dev/urandom` where
/// the system call is missing. Panics if neither gives bytes (an exported
/// function turns that into its error value).
pub fn os_fill(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: getrandom writes at most `rest.len()` bytes into `rest`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n > 0 {
            done += n as usize;
            continue;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(rest))
            .expect("no kernel randomness (getrandom, /dev/urandom)");
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_bytes_differ_between_calls_and_fill_any_length() {
        let mut r = Rng::new(None);
        let mut a = [0u8; 12];
        let mut b = [0u8; 12];
        r.fill_bytes(&mut a);
        r.fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0; 12]);
        // Two generators do not share a sequence.
        let mut c = [0u8; 12];
        Rng::new(None).fill_bytes(&mut c);
        assert_ne!(a, c);
        // Longer than the pool, and across a refill.
        let mut long = vec![0u8; 3 * POOL + 5];
        r.fill_bytes(&mut long);
        assert!(long.iter().filter(|&&x| x == 0).count() < long.len() / 16);
        assert_ne!(r.next_u64(), r.next_u64());
        let mut direct = [0u8; 32];
        os_fill(&mut direct);
        assert_ne!(direct, [0; 32]);
    }

    #[test]
    fn seeded_sequences_repeat_per_seed() {
        let (mut a, mut b, mut c) = (Rng::new(Some(1)), Rng::new(Some(1)), Rng::new(Some(2)));
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        // SplitMix64's published first output for seed 0.
        assert_eq!(Rng::new(Some(0)).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut t1 = [0u8; 12];
        let mut t2 = [0u8; 12];
        a.fill_bytes(&mut t1);
        a.fill_bytes(&mut t2);
        assert_ne!(t1, t2);
    }

    #[test]
    fn ranges_stay_in_bounds_and_cover_them() {
        for mut r in [Rng::new(None), Rng::new(Some(7))] {
            let mut seen = [false; 64];
            for _ in 0..5000 {
                let i = r.below(64);
                seen[i] = true;
                assert!(r.below(3) < 3);
                assert_eq!(r.below(1), 0);
                let f = r.range_f64(0.8, 1.2);
                assert!((0.8..1.2).contains(&f));
            }
            assert!(seen.iter().all(|&s| s));
        }
    }
}
