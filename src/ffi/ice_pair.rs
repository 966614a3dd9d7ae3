//! `ice_pair.h`: the C candidate pair, pair priority and ordering, over
//! `crate::ice::pair`.

use libc::{c_int, c_void};
use std::cmp::Ordering;

use super::boundary::{ffi_boundary, opt_ref};
use super::ice_candidate::xIceCandidate;
use super::ice_private::xIcePairState;
use crate::ice::pair::{compare_priority_desc, pair_priority, sort_by_priority_desc};

/// Most pairs in a checklist.
pub const XICE_MAX_PAIRS: usize = 128;

/// A local/remote candidate pair (32 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct xIcePair {
    pub local: *mut xIceCandidate,
    pub remote: *mut xIceCandidate,
    pub priority: u64,
    pub state: xIcePairState,
    pub nominated: bool,
}

/// `2^32 * min(G, D) + 2 * max(G, D) + (G > D ? 1 : 0)`, G being the
/// controlling agent's candidate priority.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIcePairPriority(controlling_prio: u32, controlled_prio: u32) -> u64 {
    ffi_boundary!(0, { pair_priority(controlling_prio, controlled_prio) })
}

/// A `qsort` comparator over `xIcePair` giving descending priority: negative
/// when `a` sorts first. NULL pointers sort last.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIcePairCompare(a: *const c_void, b: *const c_void) -> c_int {
    ffi_boundary!(0, {
        // SAFETY: `a` and `b` are NULL or valid for this call, as `ice_pair.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let a = opt_ref(a.cast::<xIcePair>()).map(|p| p.priority);
            let b = opt_ref(b.cast::<xIcePair>()).map(|p| p.priority);
            let ord = match (a, b) {
                (Some(a), Some(b)) => compare_priority_desc(a, b),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
            };
            ord as c_int
        }
    })
}

/// Sorts `count` pairs in place by descending priority (equal priorities
/// keep their order). NULL `pairs` or `count <= 0`: nothing.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIcePairSort(pairs: *mut xIcePair, count: c_int) {
    ffi_boundary!((), {
        // SAFETY: `pairs` is NULL or valid for this call, as `ice_pair.h` requires of its caller;
        // the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Ok(n) = usize::try_from(count) else {
                return;
            };
            if pairs.is_null() || n == 0 {
                return;
            }
            let slice = std::slice::from_raw_parts_mut(pairs, n);
            sort_by_priority_desc(slice, |p| p.priority);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    fn pair(priority: u64) -> xIcePair {
        xIcePair {
            local: std::ptr::null_mut(),
            remote: std::ptr::null_mut(),
            priority,
            state: 0,
            nominated: false,
        }
    }

    #[test]
    fn layout_matches_the_spec() {
        assert_eq!(size_of::<xIcePair>(), 32);
        assert_eq!(offset_of!(xIcePair, remote), 8);
        assert_eq!(offset_of!(xIcePair, priority), 16);
        assert_eq!(offset_of!(xIcePair, state), 24);
        assert_eq!(offset_of!(xIcePair, nominated), 28);
    }

    #[test]
    fn priority_compare_sort() {
        // SAFETY: `pairs` is a live local array of the count passed.
        unsafe {
            assert_eq!(xIcePairPriority(100, 50), (50u64 << 32) + 201);
            assert_eq!(xIcePairPriority(100, 100), (100u64 << 32) + 200);
            let mut v = [pair(100), pair(300), pair(200)];
            xIcePairSort(v.as_mut_ptr(), 3);
            assert_eq!(v.map(|p| p.priority), [300, 200, 100]);
            let (hi, lo) = (pair(2), pair(1));
            let cmp = |a: &xIcePair, b: &xIcePair| {
                xIcePairCompare((a as *const xIcePair).cast(), (b as *const xIcePair).cast())
            };
            assert!(cmp(&hi, &lo) < 0);
            assert!(cmp(&lo, &hi) > 0);
            assert_eq!(cmp(&hi, &hi), 0);
            assert!(xIcePairCompare(std::ptr::null(), (&hi as *const xIcePair).cast()) > 0);
            assert_eq!(xIcePairCompare(std::ptr::null(), std::ptr::null()), 0);
            xIcePairSort(std::ptr::null_mut(), 3);
            xIcePairSort(v.as_mut_ptr(), -1);
        }
    }
}
