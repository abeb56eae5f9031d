//! The in-memory backend: typed values in a hash map, no serialization.

use super::KeyedState;
use std::hash::Hash;

/// Keyed state in a hash map with a fast non-cryptographic hasher. Values
/// stay typed; nothing is serialized on access.
#[derive(Debug)]
pub struct MemoryState<K, V> {
    map: hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>,
}

impl<K, V> Default for MemoryState<K, V> {
    fn default() -> Self {
        MemoryState {
            map: hashbrown::HashMap::with_hasher(rustc_hash::FxBuildHasher),
        }
    }
}

impl<K, V> MemoryState<K, V> {
    /// Every key's value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }
}

impl<K: Hash + Eq, V> KeyedState<K, V> for MemoryState<K, V> {
    #[inline]
    fn get_or_insert_with(&mut self, key: K, init: impl FnOnce() -> V) -> &mut V {
        self.map.entry(key).or_insert_with(init)
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    #[inline]
    fn get_or_insert_with_ref(&mut self, key: &K, init: impl FnOnce() -> V) -> &mut V
    where
        K: Clone,
    {
        self.map.entry_ref(key).or_insert_with(init)
    }

    #[inline]
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_per_key_and_removed() {
        let mut s: MemoryState<u32, Vec<u32>> = MemoryState::default();
        s.get_or_insert_with(1, Vec::new).push(10);
        s.get_or_insert_with(1, Vec::new).push(11);
        s.get_or_insert_with(2, Vec::new).push(20);
        assert_eq!(s.get(&1), Some(&vec![10, 11]));
        assert_eq!(s.len(), 2);
        assert_eq!(s.remove(&1), Some(vec![10, 11]));
        assert_eq!(s.get(&1), None);
        assert!(!s.is_empty());
    }
}
