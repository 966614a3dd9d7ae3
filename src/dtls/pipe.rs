//! The in-memory datagram pipe OpenSSL reads from and writes to.
//!
//! OpenSSL sees it as its BIO: every write is one outgoing datagram, every
//! read returns one whole incoming datagram, and an empty input reads as
//! `WouldBlock` (OpenSSL's "want read").

use std::collections::VecDeque;
use std::io::{self, Read, Write};

#[derive(Debug, Default)]
pub(crate) struct Pipe {
    input: Vec<u8>,
    has_input: bool,
    out: VecDeque<Vec<u8>>,
}

impl Pipe {
    /// Offers one datagram to OpenSSL's next read, replacing any unread one.
    #[cfg_attr(feature = "dtls-mbedtls-base", allow(dead_code))]
    pub(crate) fn set_input(&mut self, data: &[u8]) {
        self.input.clear();
        self.input.extend_from_slice(data);
        self.has_input = true;
    }

    /// Forgets a datagram OpenSSL did not read.
    #[cfg_attr(feature = "dtls-mbedtls-base", allow(dead_code))]
    pub(crate) fn clear_input(&mut self) {
        self.has_input = false;
    }

    pub(crate) fn pop_output(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Copies the next outgoing datagram into `buf` and keeps its buffer
    /// for reuse; `Err(needed)` leaves it queued when `buf` is too small.
    pub(crate) fn pop_output_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, usize> {
        let Some(len) = self.out.front().map(Vec::len) else {
            return Ok(None);
        };
        if buf.len() < len {
            return Err(len);
        }
        let Some(d) = self.out.pop_front() else {
            return Ok(None);
        };
        buf[..len].copy_from_slice(&d);
        self.recycle(d);
        Ok(Some(len))
    }

    pub(crate) fn output_len(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn clear_output(&mut self) {
        while let Some(v) = self.out.pop_front() {
            self.recycle(v);
        }
    }

    /// Returns a buffer for reuse by a later outgoing datagram.
    pub(crate) fn recycle(&mut self, v: Vec<u8>) {
        crate::datagram::recycle(v);
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.has_input {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.has_input = false;
        let n = self.input.len().min(buf.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // From the process-wide pool: the buffer may travel on, uncopied,
        // as the transmit that carries the record to the socket.
        let v = crate::datagram::buffer_from(buf);
        self.out.push_back(v);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
