//! The registry of live handles. A C handle is an opaque token the library
//! hands out, never the address of the object, so a NULL, stale or foreign
//! handle is looked up and rejected; the library never dereferences it.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Handle tokens start high and step by 16, so they look like aligned
/// pointers to C and never collide with small integers or NULL.
const FIRST_TOKEN: usize = 0x7800_0000_0000;
const TOKEN_STEP: usize = 16;

static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(FIRST_TOKEN);

/// A typed registry: tokens to shared objects of one kind. Each C handle
/// type (agent, peer connection, channel, ...) has its own static registry,
/// so a handle of one kind passed where another is expected is rejected.
pub struct Registry<T> {
    live: Mutex<Option<HashMap<usize, Arc<T>>>>,
}

impl<T> Registry<T> {
    pub const fn new() -> Self {
        Registry {
            live: Mutex::new(None),
        }
    }

    /// Registers `obj` and returns its new handle (never NULL, never reused).
    pub fn insert(&self, obj: Arc<T>) -> *mut c_void {
        let token = NEXT_TOKEN.fetch_add(TOKEN_STEP, Ordering::Relaxed);
        self.live
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(token, obj);
        token as *mut c_void
    }

    /// The object behind `handle`, or `None` for NULL, stale or foreign handles.
    pub fn get(&self, handle: *const c_void) -> Option<Arc<T>> {
        self.live.lock().as_ref()?.get(&(handle as usize)).cloned()
    }

    /// Unregisters `handle` and returns its object; `None` if it wasn't live.
    /// Later lookups of the same handle fail.
    pub fn remove(&self, handle: *const c_void) -> Option<Arc<T>> {
        self.live.lock().as_mut()?.remove(&(handle as usize))
    }

    /// Number of live handles.
    pub fn len(&self) -> usize {
        self.live.lock().as_ref().map_or(0, HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_stale_null_and_foreign_handles() {
        static A: Registry<u32> = Registry::new();
        static B: Registry<u32> = Registry::new();
        let h = A.insert(Arc::new(7));
        assert!(!h.is_null());
        assert_eq!(A.get(h).as_deref(), Some(&7));
        assert!(B.get(h).is_none(), "a handle of another kind is foreign");
        assert!(A.get(std::ptr::null()).is_none());
        assert!(A.get(0x1234 as *const c_void).is_none());
        assert_eq!(A.remove(h).as_deref(), Some(&7));
        assert!(A.get(h).is_none(), "a destroyed handle is stale");
        assert!(A.remove(h).is_none());
        let h2 = A.insert(Arc::new(8));
        assert_ne!(h, h2, "tokens are never reused");
        assert_eq!(A.len(), 1);
        A.remove(h2);
        assert!(A.is_empty());
    }
}
