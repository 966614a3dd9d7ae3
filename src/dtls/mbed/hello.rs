//! Reassembly of a fragmented ClientHello for the mbedTLS server.
//!
//! mbedTLS 2.28's DTLS server refuses a ClientHello split over several
//! records ("bad client hello message"), and recent Chromium sends one:
//! its ClientHello carries post-quantum key shares for DTLS 1.3 and is
//! larger than one datagram. The fragments are collected here and handed
//! to mbedTLS as one record holding the whole message. RFC 6347 §4.2.6
//! computes the handshake hash as if every message had been sent as one
//! fragment, so the rebuilt record is what the peer's transcript covers.

/// DTLS record header length.
const RECORD_HEADER: usize = 13;
/// DTLS handshake message header length.
const HS_HEADER: usize = 12;
/// Largest ClientHello reassembled.
const MAX_HELLO: usize = 16_384;

/// What [`HelloReassembly::absorb`] did with a datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Absorbed {
    /// Not only ClientHello fragments: hand it to mbedTLS as it is.
    No,
    /// Fragments kept; nothing to hand over yet.
    Partial,
    /// The whole ClientHello as one record, to hand to mbedTLS.
    Complete(Vec<u8>),
}

#[derive(Debug, Default)]
pub(crate) struct HelloReassembly {
    /// Record header (type, version, epoch, sequence) of the fragment with
    /// the lowest record sequence number: the rebuilt record takes its
    /// number, so the peer's later records are not seen as replays.
    record: [u8; 11],
    msg_seq: u16,
    body: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
}

impl HelloReassembly {
    /// Takes `data` if it holds only fragments of one ClientHello (handshake
    /// records of epoch 0 whose message is a ClientHello split into pieces);
    /// an unfragmented ClientHello and anything else passes.
    pub(crate) fn absorb(&mut self, data: &[u8]) -> Absorbed {
        let Some(frags) = hello_fragments(data) else {
            return Absorbed::No;
        };
        for f in frags {
            if self.body.len() != f.msg_len || self.msg_seq != f.msg_seq {
                // A new (or the first) message: start over.
                self.record
                    .copy_from_slice(&data[f.record_at..f.record_at + 11]);
                self.msg_seq = f.msg_seq;
                self.body = vec![0; f.msg_len];
                self.have = vec![false; f.msg_len];
                self.missing = f.msg_len;
            }
            let header = &data[f.record_at..f.record_at + 11];
            if header[5..11] < self.record[5..11] {
                self.record.copy_from_slice(header);
            }
            let range = f.offset..f.offset + f.frag.len();
            self.body[range.clone()].copy_from_slice(f.frag);
            for h in &mut self.have[range] {
                if !*h {
                    *h = true;
                    self.missing -= 1;
                }
            }
        }
        if self.missing > 0 || self.body.is_empty() {
            return Absorbed::Partial;
        }
        let len = self.body.len();
        let mut out = Vec::with_capacity(RECORD_HEADER + HS_HEADER + len);
        out.extend_from_slice(&self.record);
        out.extend_from_slice(&((HS_HEADER + len) as u16).to_be_bytes());
        out.push(1);
        out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&self.msg_seq.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&self.body);
        *self = HelloReassembly::default();
        Absorbed::Complete(out)
    }
}

struct Fragment<'a> {
    record_at: usize,
    msg_len: usize,
    msg_seq: u16,
    offset: usize,
    frag: &'a [u8],
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// The ClientHello fragments of `data` if that is all it holds (at least
/// one, each a proper part of a message of at most [`MAX_HELLO`] bytes, all
/// of the same message), else `None`. `data` is already known to be whole
/// DTLS records.
fn hello_fragments(data: &[u8]) -> Option<Vec<Fragment<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let rec = data.get(at..at + RECORD_HEADER)?;
        let len = usize::from(u16::from_be_bytes([rec[11], rec[12]]));
        let body = data.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
        let epoch = u16::from_be_bytes([rec[3], rec[4]]);
        if rec[0] != 22 || epoch != 0 || body.len() < HS_HEADER || body[0] != 1 {
            return None;
        }
        let msg_len = u24(&body[1..4]);
        let msg_seq = u16::from_be_bytes([body[4], body[5]]);
        let offset = u24(&body[6..9]);
        let frag_len = u24(&body[9..12]);
        let frag = body.get(HS_HEADER..HS_HEADER + frag_len)?;
        if msg_len > MAX_HELLO || offset + frag_len > msg_len || body.len() != HS_HEADER + frag_len
        {
            return None;
        }
        if offset == 0 && frag_len == msg_len {
            return None; // whole: mbedTLS reads it itself
        }
        if out
            .first()
            .is_some_and(|f: &Fragment<'_>| f.msg_len != msg_len || f.msg_seq != msg_seq)
        {
            return None;
        }
        out.push(Fragment {
            record_at: at,
            msg_len,
            msg_seq,
            offset,
            frag,
        });
        at += RECORD_HEADER + len;
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handshake record of epoch 0 with sequence `seq` carrying bytes
    /// `off..off+n` of a ClientHello of `total` bytes.
    fn frag(seq: u8, total: usize, off: usize, n: usize, body: &[u8]) -> Vec<u8> {
        let mut v = vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, seq];
        v.extend_from_slice(&((HS_HEADER + n) as u16).to_be_bytes());
        v.push(1);
        v.extend_from_slice(&(total as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&body[off..off + n]);
        v
    }

    #[test]
    fn fragments_in_any_order_make_one_record() {
        let body: Vec<u8> = (0..1413u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = frag(0, 1413, 0, 1413, &body);
        let mut r = HelloReassembly::default();
        assert_eq!(r.absorb(&whole), Absorbed::No, "unfragmented passes");
        assert_eq!(
            r.absorb(&frag(3, 1413, 1000, 413, &body)),
            Absorbed::Partial
        );
        // Overlapping pieces count once.
        assert_eq!(r.absorb(&frag(1, 1413, 900, 200, &body)), Absorbed::Partial);
        let Absorbed::Complete(rec) = r.absorb(&frag(2, 1413, 0, 1000, &body)) else {
            panic!("complete");
        };
        // The lowest record sequence of the fragments (1) is the record's.
        let mut expected = whole.clone();
        expected[10] = 1;
        assert_eq!(rec, expected);
        // Retransmitted fragments reassemble again.
        assert_eq!(r.absorb(&frag(4, 1413, 0, 700, &body)), Absorbed::Partial);
        assert!(matches!(
            r.absorb(&frag(5, 1413, 700, 713, &body)),
            Absorbed::Complete(_)
        ));
    }

    #[test]
    fn other_records_pass() {
        let body = vec![5u8; 100];
        let mut r = HelloReassembly::default();
        let mut f = frag(0, 100, 0, 50, &body);
        f[0] = 23;
        assert_eq!(r.absorb(&f), Absorbed::No, "not handshake");
        let mut f = frag(0, 100, 0, 50, &body);
        f[4] = 1;
        assert_eq!(r.absorb(&f), Absorbed::No, "epoch 1");
        let mut f = frag(0, 100, 0, 50, &body);
        f[13] = 2;
        assert_eq!(r.absorb(&f), Absorbed::No, "ServerHello");
        let mut two = frag(0, 100, 0, 50, &body);
        two.extend(frag(1, 90, 50, 40, &body));
        assert_eq!(r.absorb(&two), Absorbed::No, "two messages");
        assert_eq!(r.absorb(&[]), Absorbed::No, "empty");
    }
}
