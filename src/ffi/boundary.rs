//! The one FFI boundary: every `extern "C"` body runs inside `ffi_boundary!`,
//! and the helpers here turn C pointers into checked Rust values.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use libc::c_char;
use std::ffi::CStr;

/// Runs an `extern "C"` body behind `catch_unwind` (the macro libxbase
/// uses too): a panic returns the given fallback instead of unwinding into
/// C. `tests/ffi_boundary.rs` checks that every exported function starts
/// with it.
pub(crate) use xbase::ffi_boundary;

/// A shared reference from a C pointer, `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a valid `T` for `'a`.
pub(crate) unsafe fn opt_ref<'a, T>(p: *const T) -> Option<&'a T> {
    // SAFETY: a non-NULL `p` points to a valid `T` for `'a` (contract above).
    unsafe { p.as_ref() }
}

/// A mutable reference from a C pointer, `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a valid, unaliased `T` for `'a`.
pub(crate) unsafe fn opt_mut<'a, T>(p: *mut T) -> Option<&'a mut T> {
    // SAFETY: a non-NULL `p` points to a valid, unaliased `T` for `'a`
    // (contract above).
    unsafe { p.as_mut() }
}

/// A byte slice from a C pointer and length: empty for length 0 (any
/// pointer), `None` for NULL with a non-zero length.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        Some(&[])
    } else if p.is_null() {
        None
    } else {
        // SAFETY: `p` is non-NULL and points to `len` readable bytes for
        // `'a` (contract above).
        Some(unsafe { std::slice::from_raw_parts(p, len) })
    }
}

/// A C string as bytes (without the NUL), `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn cstr_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: `p` is non-NULL and NUL-terminated, valid for `'a`
        // (contract above).
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// Copies `src` into a fixed C char array, truncating to leave room for the
/// NUL, and zero-fills the rest.
pub(crate) fn copy_to_c_array(dst: &mut [c_char], src: &[u8]) {
    let n = src.len().min(dst.len().saturating_sub(1));
    for (d, s) in dst.iter_mut().zip(&src[..n]) {
        *d = *s as c_char;
    }
    for d in dst.iter_mut().skip(n) {
        *d = 0;
    }
}

/// The bytes of a NUL-terminated C char array (up to the first NUL or the end).
pub(crate) fn c_array_bytes(src: &[c_char]) -> &[u8] {
    let n = src.iter().position(|&c| c == 0).unwrap_or(src.len());
    // SAFETY: c_char and u8 have the same size and alignment.
    unsafe { std::slice::from_raw_parts(src.as_ptr().cast::<u8>(), n) }
}

/// Copies `text` into a `malloc`ed C string the caller frees with `free()`;
/// NULL when allocation fails.
pub(crate) fn malloc_string(text: &str) -> *mut c_char {
    // SAFETY: plain allocation, filled and terminated below.
    let p = unsafe { libc::malloc(text.len() + 1) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: p has text.len() + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
            *p.add(text.len()) = 0;
        }
    }
    p.cast()
}

/// The socket address conversions live below the C layer (the objects
/// hand addresses to C callbacks too).
pub(crate) use crate::object::cabi::{
    empty_storage, sockaddr_to_std, std_to_storage, storage_to_std,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_array_copy_truncates_and_terminates() {
        let mut arr = [1 as c_char; 4];
        copy_to_c_array(&mut arr, b"abcdef");
        assert_eq!(c_array_bytes(&arr), b"abc");
        assert_eq!(arr[3], 0);
        copy_to_c_array(&mut arr, b"");
        assert_eq!(c_array_bytes(&arr), b"");
    }

    #[test]
    fn boundary_turns_panic_into_fallback() {
        let r: i32 = ffi_boundary!(-1, {
            if c_array_bytes(&[0]).is_empty() {
                panic!("boom");
            }
            0
        });
        assert_eq!(r, -1);
    }
}
