//! A map kept as a vector sorted by key: the part of `BTreeMap`'s interface
//! the library uses, with the same order when walked (ascending keys).
//!
//! The library's ordered maps are small (data channels of one connection,
//! live SCTP associations, TURN clients, STUN transactions), looked up by
//! binary search and changed rarely. A sorted vector needs far less code per
//! key and value type than the standard B-tree, which the device build
//! would otherwise carry once per map type.

/// A map with unique keys in ascending order.
#[derive(Clone, Debug)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> VecMap<K, V> {
    /// An empty map (no allocation).
    pub const fn new() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Inserts or replaces; the value replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        match self.find(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// Entries in ascending key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Entries in ascending key order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// The keys in ascending order, consuming the map.
    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.entries.into_iter().map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_btreemap() {
        let mut m = VecMap::new();
        let mut b = BTreeMap::new();
        // A fixed pseudo-random sequence of inserts and removes.
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let key = (x >> 16) % 64;
            if x & 3 == 0 {
                assert_eq!(m.remove(&key), b.remove(&key));
            } else {
                assert_eq!(m.insert(key, x), b.insert(key, x));
            }
            assert_eq!(m.len(), b.len());
            assert_eq!(m.get(&key), b.get(&key));
            assert_eq!(m.contains_key(&key), b.contains_key(&key));
        }
        assert!(m.iter().eq(b.iter()));
        assert!(m.keys().eq(b.keys()));
        assert!(m.values().eq(b.values()));
        for v in m.values_mut() {
            *v += 1;
        }
        for (_, v) in m.iter_mut() {
            *v += 1;
        }
        for v in b.values_mut() {
            *v += 2;
        }
        assert!(m.iter().eq(b.iter()));
        if let Some(v) = m.get_mut(&b.keys().next().copied().unwrap()) {
            *v = 0;
        }
        assert_eq!(m.values().next(), Some(&0));
        assert!(m.clone().into_keys().eq(b.into_keys()));
        assert!(!m.is_empty());
        assert!(VecMap::<u8, ()>::default().is_empty());
    }
}
