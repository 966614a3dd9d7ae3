//! The SCTP common-header checksum (CRC32c, RFC 9260 §6.8 and appendix A).
//!
//! usrsctp runs with checksum offload enabled: it leaves the field of the
//! packets it writes at zero and trusts the packets it is given. We fill the
//! field of every outgoing packet and check every incoming one here, with
//! the `crc32c` crate (the SSE 4.2 / ARMv8 CRC instruction where the CPU
//! has it). Peers still see standard SCTP packets.

/// Offset of the checksum in the SCTP common header.
const FIELD: usize = 8;
/// Size of the SCTP common header.
pub(crate) const HEADER: usize = 12;

/// The CRC32c of `packet` computed with its checksum field taken as zero.
fn compute(packet: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&packet[..FIELD]);
    let crc = crc32c::crc32c_append(crc, &[0; 4]);
    crc32c::crc32c_append(crc, &packet[HEADER..])
}

/// Writes the checksum of an outgoing packet into its header (the field is
/// stored least significant byte first). Packets shorter than a header are
/// left alone.
pub(crate) fn seal(packet: &mut [u8]) {
    if packet.len() < HEADER {
        return;
    }
    let crc = compute(packet);
    packet[FIELD..HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// Whether an incoming packet is at least a header long and carries the
/// right checksum.
pub(crate) fn verify(packet: &[u8]) -> bool {
    if packet.len() < HEADER {
        return false;
    }
    let stored = u32::from_le_bytes([packet[8], packet[9], packet[10], packet[11]]);
    stored == compute(packet)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A COOKIE-ACK packet from ports 5000 to 5000, verification tag 1,
    /// with its checksum computed by usrsctp's own routine.
    fn usrsctp_sealed(mut packet: Vec<u8>) -> Vec<u8> {
        packet[FIELD..HEADER].fill(0);
        // SAFETY: usrsctp_crc32c only reads `len` bytes of the buffer.
        let crc = unsafe { usrsctp_sys::usrsctp_crc32c(packet.as_mut_ptr().cast(), packet.len()) };
        packet[FIELD..HEADER].copy_from_slice(&crc.to_ne_bytes());
        packet
    }

    #[test]
    fn matches_usrsctp_and_detects_corruption() {
        for len in [HEADER, 16, 100, 1200, 9000] {
            let mut packet: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            packet[FIELD..HEADER].fill(0xAA);
            let reference = usrsctp_sealed(packet.clone());
            seal(&mut packet);
            assert_eq!(packet, reference, "len {len}");
            assert!(verify(&packet));
            let last = packet.len() - 1;
            packet[last] ^= 1;
            assert!(!verify(&packet), "len {len}: corruption not detected");
        }
        assert!(!verify(&[0; 11]));
    }
}
