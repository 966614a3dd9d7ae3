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

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
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
    if !poolable(&v) {
        return;
    }
    let mut pool = POOL.lock();
    if pool.len() < MAX_POOLED {
        pool.push(cleared(v));
    }
}

/// Gives several buffers back, under one lock.
pub fn recycle_all(buffers: impl IntoIterator<Item = Vec<u8>>) {
    let mut pool = POOL.lock();
    for v in buffers {
        if pool.len() >= MAX_POOLED {
            return;
        }
        if poolable(&v) {
            pool.push(cleared(v));
        }
    }
}

fn poolable(v: &Vec<u8>) -> bool {
    v.capacity() != 0 && v.capacity() <= MAX_POOLED_CAPACITY
}

fn cleared(mut v: Vec<u8>) -> Vec<u8> {
    v.clear();
    v
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

    #[test]
    fn buffers_come_back_empty_and_oversized_ones_are_freed() {
        let v = buffer_from(b"abc");
        assert_eq!(v, b"abc");
        let cap = v.capacity();
        recycle(v);
        recycle(Vec::with_capacity(MAX_POOLED_CAPACITY + 1));
        recycle(Vec::new());
        let pool = POOL.lock();
        assert!(pool.iter().all(|v| v.is_empty() && poolable(v)));
        assert!(pool.iter().any(|v| v.capacity() == cap));
    }
}
