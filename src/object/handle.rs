//! The one registry of live C handles. A handle is a typed token
//! ([`Handle<T>`]): a slot index and that slot's generation, spelled as an
//! opaque pointer-looking value for C. Every object behind a C handle of
//! every kind lives in this one table; a lookup checks the slot, the
//! generation and the kind, so a NULL, stale (destroyed) or foreign (of
//! another kind) handle is rejected, never dereferenced.

use std::any::Any;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Tokens start high and step by 16, so they look like aligned pointers to
/// C and never collide with small integers or NULL.
const BASE: usize = 0x7800_0000_0000;
/// Bits of the generation inside a token (above the 4 alignment bits).
const GEN_BITS: u32 = 24;
const GEN_MASK: usize = (1 << GEN_BITS) - 1;
/// Most slots: keeps every token below 2^52.
const MAX_SLOTS: usize = 1 << 20;

/// The token of a live (or once live) object of kind `T`.
pub struct Handle<T> {
    raw: usize,
    kind: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// The handle C passed in; checked only when looked up.
    pub fn from_ptr(p: *const c_void) -> Self {
        Handle {
            raw: p as usize,
            kind: PhantomData,
        }
    }

    /// The handle as C sees it.
    pub fn as_ptr(self) -> *mut c_void {
        self.raw as *mut c_void
    }

    /// A handle that names nothing (NULL).
    pub const fn null() -> Self {
        Handle {
            raw: 0,
            kind: PhantomData,
        }
    }

    pub fn is_null(self) -> bool {
        self.raw == 0
    }

    fn encode(index: usize, generation: usize) -> Self {
        Handle {
            raw: BASE + (((index << GEN_BITS) | generation) << 4),
            kind: PhantomData,
        }
    }

    /// The slot index and generation, `None` for values no token has.
    fn decode(self) -> Option<(usize, usize)> {
        let v = self.raw.checked_sub(BASE)?;
        if v & 0xf != 0 {
            return None;
        }
        let v = v >> 4;
        Some((v >> GEN_BITS, v & GEN_MASK))
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T> Eq for Handle<T> {}
impl<T> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({:#x})", self.raw)
    }
}

type Object = Arc<dyn Any + Send + Sync>;

struct Slot {
    generation: usize,
    obj: Option<Object>,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    /// Empty slots, oldest first, so a slot is reused as late as possible.
    free: VecDeque<usize>,
}

/// The standard library's lock (its code is in the library anyway), not
/// parking_lot's `RwLock`, whose code would come in for this alone.
static TABLE: RwLock<Table> = RwLock::new(Table {
    slots: Vec::new(),
    free: VecDeque::new(),
});

/// The table for lookups. A panic while it was held left it consistent
/// (every change is one assignment), so poisoning is ignored.
fn read() -> RwLockReadGuard<'static, Table> {
    TABLE.read().unwrap_or_else(PoisonError::into_inner)
}

/// The table for changes (see [`read`] on poisoning).
fn write() -> RwLockWriteGuard<'static, Table> {
    TABLE.write().unwrap_or_else(PoisonError::into_inner)
}

/// Registers `obj` and returns its new handle (never NULL, never one given
/// out before, until a slot's 2^24 generations wrap). NULL when the table
/// is full.
pub fn insert<T: Any + Send + Sync>(obj: Arc<T>) -> Handle<T> {
    let mut t = write();
    let index = match t.free.pop_front() {
        Some(i) => i,
        None if t.slots.len() < MAX_SLOTS => {
            t.slots.push(Slot {
                generation: 0,
                obj: None,
            });
            t.slots.len() - 1
        }
        None => return Handle::null(),
    };
    let slot = &mut t.slots[index];
    slot.generation = (slot.generation + 1) & GEN_MASK;
    slot.obj = Some(obj);
    Handle::encode(index, slot.generation)
}

/// The object behind `h`, or `None` for NULL, stale and foreign handles.
pub fn get<T: Any + Send + Sync>(h: Handle<T>) -> Option<Arc<T>> {
    let (index, generation) = h.decode()?;
    let t = read();
    let slot = t.slots.get(index)?;
    if slot.generation != generation {
        return None;
    }
    let obj = slot.obj.as_ref()?;
    if !obj.is::<T>() {
        return None;
    }
    obj.clone().downcast::<T>().ok()
}

/// Whether `h` names a live object of kind `T`.
pub fn is_live<T: Any + Send + Sync>(h: Handle<T>) -> bool {
    let Some((index, generation)) = h.decode() else {
        return false;
    };
    let t = read();
    t.slots
        .get(index)
        .is_some_and(|s| s.generation == generation && s.obj.as_ref().is_some_and(|o| o.is::<T>()))
}

/// Unregisters `h` and returns its object; `None` if it was not a live
/// object of kind `T`. Later lookups of `h` fail.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn remove<T: Any + Send + Sync>(h: Handle<T>) -> Option<Arc<T>> {
    let (index, generation) = h.decode()?;
    let mut t = write();
    let slot = t.slots.get_mut(index)?;
    if slot.generation != generation || !slot.obj.as_ref().is_some_and(|o| o.is::<T>()) {
        return None;
    }
    let obj = slot.obj.take()?;
    t.free.push_back(index);
    drop(t);
    obj.downcast::<T>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_stale_null_and_foreign_handles() {
        let h = insert(Arc::new(7u32));
        assert!(!h.is_null());
        assert_eq!(get(h).as_deref(), Some(&7));
        let foreign = Handle::<u64>::from_ptr(h.as_ptr());
        assert!(
            get(foreign).is_none(),
            "a handle of another kind is foreign"
        );
        assert!(remove(foreign).is_none());
        assert!(get(Handle::<u32>::null()).is_none());
        assert!(get(Handle::<u32>::from_ptr(0x1234 as *const c_void)).is_none());
        assert!(get(Handle::<u32>::from_ptr((h.raw + 8) as *const c_void)).is_none());
        assert_eq!(remove(h).as_deref(), Some(&7));
        assert!(get(h).is_none(), "a destroyed handle is stale");
        assert!(!is_live(h));
        assert!(remove(h).is_none());
        let h2 = insert(Arc::new(8u32));
        assert_ne!(h, h2, "tokens are not reused");
        assert!(is_live(h2));
        remove(h2);
        assert!(!is_live(h2));
    }

    #[test]
    fn a_reused_slot_gets_a_new_generation() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000u32 {
            let h = insert(Arc::new(i));
            assert!(seen.insert(h), "token {h:?} handed out twice");
            assert_eq!(remove(h).as_deref(), Some(&i));
        }
    }
}
