//! `error.h`: `xErrno` (written in `cbindgen/xbase/error.toml`, values in
//! `crate::types`) and its messages.

use crate::ffi_boundary;
use crate::types::*;
use libc::c_char;
use std::ffi::CStr;

const UNKNOWN: &CStr = c"unknown error";

/// The message of each `xErrno` value, indexed by value.
const MESSAGES: [&CStr; 18] = [
    c"success",
    UNKNOWN,
    c"invalid argument",
    c"out of memory",
    c"invalid state",
    c"system error",
    c"not found",
    c"already exists",
    c"cancelled",
    c"not supported",
    c"DNS name not found",
    c"temporary DNS failure",
    c"DNS error",
    c"timed out",
    c"try again",
    c"busy",
    c"pending",
    c"prompt too long",
];

/// The message of `err`: a static string, never NULL; "unknown error" for a
/// value that is not an xErrno.
pub(crate) fn message(err: xErrno) -> &'static CStr {
    usize::try_from(err)
        .ok()
        .and_then(|i| MESSAGES.get(i))
        .copied()
        .unwrap_or(UNKNOWN)
}

/// Describes an error code. Returns a static string, never NULL; "unknown
/// error" for values that are not xErrno codes.
#[no_mangle]
pub extern "C" fn xstrerror(err: xErrno) -> *const c_char {
    ffi_boundary!(UNKNOWN.as_ptr(), { message(err).as_ptr() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_message() {
        let all: Vec<&CStr> = (xErrno_Ok..=xErrno_PromptTooLong).map(message).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!a.is_empty());
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(message(xErrno_Timeout), c"timed out");
        assert_eq!(message(-1), c"unknown error");
        assert_eq!(message(18), c"unknown error");
        assert_eq!(message(i32::MAX), c"unknown error");
    }
}
