//! The hash and checksum primitives STUN and TURN need, over RustCrypto and
//! a table-driven CRC-32. Both the protocol layers and `ice_crypto.h` call
//! these.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

pub const MD5_LEN: usize = 16;
pub const SHA1_LEN: usize = 20;

/// MD5 (RFC 1321).
pub fn md5(data: &[u8]) -> [u8; MD5_LEN] {
    Md5::digest(data).into()
}

/// MD5 over several parts, as if concatenated (TURN long-term keys).
pub fn md5_parts(parts: &[&[u8]]) -> [u8; MD5_LEN] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// SHA-1 (FIPS 180-4).
pub fn sha1(data: &[u8]) -> [u8; SHA1_LEN] {
    Sha1::digest(data).into()
}

/// HMAC-SHA1 (RFC 2104) over several parts, as if concatenated.
pub fn hmac_sha1_parts(key: &[u8], parts: &[&[u8]]) -> [u8; SHA1_LEN] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA1 (RFC 2104); keys longer than 64 bytes are hashed first.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; SHA1_LEN] {
    hmac_sha1_parts(key, &[data])
}

/// The 256-entry table of the reflected CRC-32 polynomial 0xEDB88320, built
/// at compile time (1 KiB). STUN's FINGERPRINT is its only user, once per
/// message, so a byte at a time is fast enough.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = CRC32_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc
}

/// CRC-32 (reflected 0xEDB88320, init and final XOR 0xFFFFFFFF).
pub fn crc32(data: &[u8]) -> u32 {
    !crc32_update(!0, data)
}

/// CRC-32 over several parts, as if concatenated.
pub fn crc32_parts(parts: &[&[u8]]) -> u32 {
    !parts.iter().fold(!0, |crc, p| crc32_update(crc, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_digests() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // RFC 2202 test case 2.
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // RFC 2202 test case 6: a key longer than one block is hashed first.
        assert_eq!(
            hex(&hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"abc"), 0x3524_41C2);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
        assert_eq!(crc32(&[0xFFu8; 32]), 0xFF6C_AB0B);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(crc32(&all), 0x2905_8C73);
        assert_eq!(crc32_parts(&[]), 0);
        assert_eq!(crc32_parts(&[b"", b"abc", b""]), crc32(b"abc"));
    }

    #[test]
    fn parts_equal_concatenation() {
        assert_eq!(md5_parts(&[b"user", b":", b"realm"]), md5(b"user:realm"));
        assert_eq!(crc32_parts(&[b"1234", b"56789"]), crc32(b"123456789"));
        assert_eq!(
            hmac_sha1_parts(b"k", &[b"ab", b"c"]),
            hmac_sha1(b"k", b"abc")
        );
    }
}
