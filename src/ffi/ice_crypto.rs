//! `ice_crypto.h`: MD5, SHA-1, HMAC-SHA1 and CRC-32 for C callers. The bodies
//! call `crate::crypto`.

use super::boundary::{bytes, ffi_boundary};

pub const XICE_MD5_DIGEST_SIZE: usize = 16;
pub const XICE_SHA1_BLOCK_SIZE: usize = 64;
pub const XICE_SHA1_DIGEST_SIZE: usize = 20;

/// Writes `output` (16 bytes) with MD5 of `input`. NULL `output` or NULL
/// `input` with a non-zero `len`: nothing is written.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceMD5(input: *const u8, len: usize, output: *mut u8) {
    ffi_boundary!((), {
        // SAFETY: `input` and `output` are NULL or valid for this call, as `ice_crypto.h` requires
        // of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if let (Some(data), false) = (bytes(input, len), output.is_null()) {
                let d = crate::crypto::md5(data);
                std::ptr::copy_nonoverlapping(d.as_ptr(), output, d.len());
            }
        }
    })
}

/// Writes `output` (20 bytes) with SHA-1 of `input`. NULL `output` or NULL
/// `input` with a non-zero `len`: nothing is written.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceSHA1(input: *const u8, len: usize, output: *mut u8) {
    ffi_boundary!((), {
        // SAFETY: `input` and `output` are NULL or valid for this call, as `ice_crypto.h` requires
        // of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if let (Some(data), false) = (bytes(input, len), output.is_null()) {
                let d = crate::crypto::sha1(data);
                std::ptr::copy_nonoverlapping(d.as_ptr(), output, d.len());
            }
        }
    })
}

/// Writes `output` (20 bytes) with HMAC-SHA1 of `data` under `key`; keys
/// longer than 64 bytes are hashed first. A NULL `key` or `data` with a
/// non-zero length zeroes `output`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceHmacSHA1(
    key: *const u8,
    key_len: usize,
    data: *const u8,
    data_len: usize,
    output: *mut u8,
) {
    ffi_boundary!((), {
        // SAFETY: `key`, `data` and `output` are NULL or valid for this call, as `ice_crypto.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if output.is_null() {
                return;
            }
            let d = match (bytes(key, key_len), bytes(data, data_len)) {
                (Some(k), Some(m)) => crate::crypto::hmac_sha1(k, m),
                _ => [0; XICE_SHA1_DIGEST_SIZE],
            };
            std::ptr::copy_nonoverlapping(d.as_ptr(), output, d.len());
        }
    })
}

/// CRC-32 (reflected 0xEDB88320, init and final XOR 0xFFFFFFFF) of `data`;
/// 0 for NULL `data` with a non-zero `len`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceCrc32(data: *const u8, len: usize) -> u32 {
    ffi_boundary!(0, {
        // SAFETY: `data` is NULL or valid for this call, as `ice_crypto.h` requires of its caller;
        // the boundary helpers turn NULL into an error before any access.
        unsafe { bytes(data, len).map_or(0, crate::crypto::crc32) }
    })
}
