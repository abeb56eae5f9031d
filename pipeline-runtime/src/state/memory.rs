//! The in-memory backend: typed values in a hash map, serialized only at
//! checkpoints.

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

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
}

impl<K: Hash + Eq, V> MemoryState<K, V> {
    /// Sets `key`'s value.
    pub fn insert(&mut self, key: K, value: V) {
        self.map.insert(key, value);
    }

    /// Saves every entry of stage `node` in a checkpoint.
    pub fn snapshot<M: serde::Serialize>(
        &self,
        snapshot: &mut crate::checkpoint::Snapshot<'_>,
        node: usize,
        meta: &M,
    ) -> crate::Result<()>
    where
        K: serde::Serialize,
        V: serde::Serialize,
    {
        snapshot.write_keyed(node, meta, self.map.iter())
    }

    /// Replaces the entries with those of stage `node` this instance owns
    /// in the checkpoint being restored; returns the saved meta values, by
    /// the instance that saved them.
    pub fn restore<M: serde::de::DeserializeOwned>(
        &mut self,
        restore: &crate::checkpoint::Restore<'_>,
        node: usize,
    ) -> crate::Result<Vec<(usize, M)>>
    where
        K: serde::de::DeserializeOwned,
        V: serde::de::DeserializeOwned,
    {
        self.map.clear();
        let map = &mut self.map;
        restore.keyed_each::<K, V, M>(node, |(k, v)| {
            map.insert(k, v);
        })
    }
}

impl<K: Hash + Eq, V> MemoryState<K, V> {
    /// The value of `key`, created by `init` if absent.
    #[inline]
    pub fn get_or_insert_with(&mut self, key: K, init: impl FnOnce() -> V) -> &mut V {
        self.map.entry(key).or_insert_with(init)
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    /// The value of `key`, created by `init` if absent; the key is cloned
    /// only when it is inserted.
    #[inline]
    pub fn get_or_insert_with_ref(&mut self, key: &K, init: impl FnOnce() -> V) -> &mut V
    where
        K: Clone,
    {
        self.map.entry_ref(key).or_insert_with(init)
    }

    /// The value of `key` to change, if any.
    #[inline]
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
