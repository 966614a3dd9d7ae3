//! Datagrams on their way to a socket: [`Transmit`], the one type every
//! layer (ICE agent, PeerConnection, I/O thread) hands datagrams in, and
//! the process-wide pool their buffers come from.
//!
//! The send path allocates nothing per datagram: SCTP packets, DTLS
//! records and the transmits built from them take a buffer from the pool
//! ([`buffer`], [`buffer_from`]), and whoever is done with one (the I/O
//! thread once the kernel has it, the PeerConnection once DTLS encrypted
//! an SCTP packet) gives it back ([`recycle`], [`recycle_all`]). A buffer
//! that is never given back is simply freed; the pool only saves the
//! allocation of the next one.

use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// A datagram to send from the socket bound at `local` (a TURN server
/// connection's link address, for a relayed stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub local: SocketAddr,
    pub dest: SocketAddr,
    pub data: Vec<u8>,
}

/// Capacity of a new buffer: a datagram of a 1500-byte path (1472 bytes of
/// UDP payload) fits without growing.
const NEW_CAPACITY: usize = 2048;
/// Buffers kept for reuse: more than a turn of the I/O thread sends (64
/// per endpoint) and what a bulk sender queues between two turns.
const MAX_POOLED: usize = 512;
/// Larger buffers (loopback paths carry datagrams of up to 16 KiB, a TURN
/// stream more) are freed rather than kept.
const MAX_POOLED_CAPACITY: usize = 17 * 1024;

/// The most the pool holds in all, in buffer capacity: what 512 buffers of
/// a 1500-byte path take. Large buffers (a loopback path's 16 KiB records)
/// fill it with fewer, so an idle process never keeps more than this
/// (it kept up to 8.7 MB with the count bound alone: 512 buffers of up
/// to 17 KiB, 20 KiB of RSS per PeerConnection with 100 pairs).
const MAX_POOLED_BYTES: usize = MAX_POOLED * NEW_CAPACITY;

/// The buffers kept for reuse and their total capacity.
struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl Pool {
    fn pop(&mut self) -> Option<Vec<u8>> {
        let v = self.buffers.pop()?;
        self.bytes -= v.capacity();
        Some(v)
    }

    /// Keeps `v` if it is worth keeping and there is room; false when full.
    fn push(&mut self, mut v: Vec<u8>) -> bool {
        if self.buffers.len() >= MAX_POOLED {
            return false;
        }
        let cap = v.capacity();
        if poolable(&v) && self.bytes + cap <= MAX_POOLED_BYTES {
            v.clear();
            self.bytes += cap;
            self.buffers.push(v);
        }
        true
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

/// An empty buffer from the pool (a new one when the pool is empty).
pub fn buffer() -> Vec<u8> {
    if let Some(v) = POOL.lock().pop() {
        return v;
    }
    ALLOCATED.fetch_add(1, Ordering::Relaxed);
    Vec::with_capacity(NEW_CAPACITY)
}

/// A buffer from the pool holding a copy of `data`.
pub fn buffer_from(data: &[u8]) -> Vec<u8> {
    let mut v = buffer();
    v.extend_from_slice(data);
    v
}

/// Gives a buffer back for reuse.
pub fn recycle(v: Vec<u8>) {
    if poolable(&v) {
        POOL.lock().push(v);
    }
}

/// Gives several buffers back, under one lock.
pub fn recycle_all(buffers: impl IntoIterator<Item = Vec<u8>>) {
    let mut pool = POOL.lock();
    for v in buffers {
        if !pool.push(v) {
            return;
        }
    }
}

fn poolable(v: &Vec<u8>) -> bool {
    v.capacity() != 0 && v.capacity() <= MAX_POOLED_CAPACITY
}

/// Buffers the pool allocated since the process started (a buffer taken
/// while the pool was empty). It stops growing once a steady flow's
/// buffers come back: a measure of allocations per datagram.
pub fn buffers_allocated() -> u64 {
    ALLOCATED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests of this module fill and empty the one pool.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn buffers_come_back_empty_and_oversized_ones_are_freed() {
        let _serial = SERIAL.lock();
        {
            let mut pool = POOL.lock();
            pool.buffers.clear();
            pool.bytes = 0;
        }
        let v = buffer_from(b"abc");
        assert_eq!(v, b"abc");
        let cap = v.capacity();
        recycle(v);
        recycle(Vec::with_capacity(MAX_POOLED_CAPACITY + 1));
        recycle(Vec::new());
        let pool = POOL.lock();
        assert!(pool.buffers.iter().all(|v| v.is_empty() && poolable(v)));
        assert!(pool.buffers.iter().any(|v| v.capacity() == cap));
    }

    #[test]
    fn the_pool_keeps_no_more_than_its_byte_bound() {
        let _serial = SERIAL.lock();
        let large: Vec<Vec<u8>> = (0..MAX_POOLED)
            .map(|_| Vec::with_capacity(MAX_POOLED_CAPACITY))
            .collect();
        recycle_all(large);
        for _ in 0..MAX_POOLED {
            recycle(Vec::with_capacity(MAX_POOLED_CAPACITY));
        }
        let pool = POOL.lock();
        let bytes: usize = pool.buffers.iter().map(Vec::capacity).sum();
        assert_eq!(bytes, pool.bytes);
        assert!(
            pool.bytes <= MAX_POOLED_BYTES,
            "{} bytes pooled",
            pool.bytes
        );
        assert!(pool.buffers.len() <= MAX_POOLED);
    }
}
