//! `turn_channel.h`: TURN ChannelData framing for C, over
//! `crate::turn::channel`.

use libc::{c_int, sockaddr_storage};

use super::boundary::{bytes, ffi_boundary, opt_mut};
use crate::turn::channel::encoded_len;
use crate::turn::ChannelData;
use xbase::types::{xErrno, xErrno_InvalidArg, xErrno_Ok, xErrno_Unknown};

/// ChannelData header size (the same definition as in `ice_private.h`).
pub const XTURN_CHANNEL_HEADER_SIZE: usize = 4;

/// A channel binding of a TURN client (144 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct xTurnChannel {
    pub number: u16,
    pub peer: sockaddr_storage,
    pub bound: bool,
}

/// Writes a ChannelData message (header, `data`, zero padding to 4 bytes)
/// into `out`: returns `4 + align4(data_len)`, or -1 if it does not fit in
/// `out_cap`, `out` is NULL, `data` is NULL with a non-zero length, or
/// `channel` is outside 0x4000-0x7FFF (such a frame would not demultiplex as
/// ChannelData).
#[no_mangle]
pub unsafe extern "C" fn xTurnChannelDataEncode(
    channel: u16,
    data: *const u8,
    data_len: u16,
    out: *mut u8,
    out_cap: usize,
) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: `data` and `out` are NULL or valid for this call, as `turn_channel.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some(data), false) = (bytes(data, usize::from(data_len)), out.is_null()) else {
                return -1;
            };
            // Only the frame's bytes are ever touched.
            let cap = out_cap.min(encoded_len(data.len()));
            let out = std::slice::from_raw_parts_mut(out, cap);
            ChannelData { channel, data }
                .encode(out)
                .map_or(-1, |n| n as c_int)
        }
    })
}

/// Reads a ChannelData message: `*channel`, `*data` (pointing into `buf`)
/// and `*data_len`. InvalidArg for NULL arguments, fewer than 4 bytes, a
/// channel outside 0x4000-0x7FFF or a length beyond `buf_len`.
#[no_mangle]
pub unsafe extern "C" fn xTurnChannelDataDecode(
    buf: *const u8,
    buf_len: usize,
    channel: *mut u16,
    data: *mut *const u8,
    data_len: *mut u16,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `buf`, `channel`, `data` and `data_len` are NULL or valid for this call, as
        // `turn_channel.h` requires of its caller; the boundary helpers turn NULL into an error
        // before any access.
        unsafe {
            let (false, Some(ch), Some(d), Some(dl)) = (
                buf.is_null(),
                opt_mut(channel),
                opt_mut(data),
                opt_mut(data_len),
            ) else {
                return xErrno_InvalidArg;
            };
            match ChannelData::decode(std::slice::from_raw_parts(buf, buf_len)) {
                Ok(frame) => {
                    *ch = frame.channel;
                    *d = frame.data.as_ptr();
                    *dl = frame.data.len() as u16;
                    xErrno_Ok
                }
                Err(_) => xErrno_InvalidArg,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout_matches_the_spec() {
        assert_eq!(size_of::<xTurnChannel>(), 144);
        assert_eq!(offset_of!(xTurnChannel, peer), 8);
        assert_eq!(offset_of!(xTurnChannel, bound), 136);
        assert_eq!(XTURN_CHANNEL_HEADER_SIZE, crate::turn::CHANNEL_HEADER_SIZE);
    }

    #[test]
    fn encode_decode_and_nulls() {
        let mut out = [0u8; 16];
        let (mut ch, mut d, mut dl) = (0u16, std::ptr::null::<u8>(), 0u16);
        // SAFETY: `out` and the out-parameters are live locals; capacities are the buffers'
        // lengths.
        unsafe {
            let n = xTurnChannelDataEncode(0x4001, b"hello".as_ptr(), 5, out.as_mut_ptr(), 16);
            assert_eq!(n, 12);
            assert_eq!(
                xTurnChannelDataDecode(out.as_ptr(), 12, &mut ch, &mut d, &mut dl),
                xErrno_Ok
            );
            assert_eq!((ch, dl), (0x4001, 5));
            assert_eq!(d, out.as_ptr().add(4));
            assert_eq!(
                xTurnChannelDataEncode(0x4001, b"hello".as_ptr(), 5, out.as_mut_ptr(), 11),
                -1
            );
            assert_eq!(
                xTurnChannelDataEncode(0x4001, std::ptr::null(), 5, out.as_mut_ptr(), 16),
                -1
            );
            assert_eq!(
                xTurnChannelDataEncode(0x4001, std::ptr::null(), 0, out.as_mut_ptr(), 16),
                4
            );
            assert_eq!(
                xTurnChannelDataEncode(0x4001, b"x".as_ptr(), 1, std::ptr::null_mut(), 16),
                -1
            );
            assert_eq!(
                xTurnChannelDataEncode(0x0001, b"x".as_ptr(), 1, out.as_mut_ptr(), 16),
                -1
            );
            let bad = [0x00u8, 0x01, 0, 0];
            assert_eq!(
                xTurnChannelDataDecode(bad.as_ptr(), 4, &mut ch, &mut d, &mut dl),
                xErrno_InvalidArg
            );
            assert_eq!(
                xTurnChannelDataDecode(out.as_ptr(), 3, &mut ch, &mut d, &mut dl),
                xErrno_InvalidArg
            );
            assert_eq!(
                xTurnChannelDataDecode(std::ptr::null(), 12, &mut ch, &mut d, &mut dl),
                xErrno_InvalidArg
            );
            assert_eq!(
                xTurnChannelDataDecode(out.as_ptr(), 12, std::ptr::null_mut(), &mut d, &mut dl),
                xErrno_InvalidArg
            );
            assert_eq!(
                xTurnChannelDataDecode(out.as_ptr(), 12, &mut ch, std::ptr::null_mut(), &mut dl),
                xErrno_InvalidArg
            );
            assert_eq!(
                xTurnChannelDataDecode(out.as_ptr(), 12, &mut ch, &mut d, std::ptr::null_mut()),
                xErrno_InvalidArg
            );
        }
    }
}
