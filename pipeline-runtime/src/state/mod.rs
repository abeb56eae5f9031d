//! Keyed state: the per-key values that stateful stages keep, and the
//! backends that keep them.
//!
//! Stateful stages (`reduce`, `aggregate`, windows, joins, `process_keyed`)
//! keep their state in a [`KeyedStore`] rather than a map of their own, so
//! that the backend is chosen in one place, for the whole run
//! (`--state-backend`), and every stage saves its entries in checkpoints by
//! key group, which lets a checkpoint taken at one parallelism restore at
//! another.
//!
//! - [`StateBackend::Memory`] (the default) keeps typed values in a hash
//!   map and serializes them only at a checkpoint. It is the fastest, and
//!   state must fit in memory.
//! - [`StateBackend::RocksDb`] keeps them in one RocksDB database per stage
//!   instance on local disk, serialized, behind a small write-back cache of
//!   decoded entries. State may be far larger than memory, and checkpoints
//!   are RocksDB's own (hard links to its immutable files), so a checkpoint
//!   costs what changed since the last one, not the whole state.
//!
//! User stages declare their state with [`ValueState`], [`MapState`] and
//! [`ListState`] fields of an `#[operator]` struct ([`KeyedProcess`]).

mod memory;
mod process;
#[cfg(feature = "rocksdb")]
mod rocks;

pub use memory::MemoryState;
pub use process::{
    KeyedProcess, KeyedProcessOp, KeyedProcessStage, ListState, MapState, OperatorState,
    ProcessContext, StateField, Timer, ValueState,
};

use crate::Result;
use crate::checkpoint::{Restore, Snapshot, StateValue};
use std::hash::Hash;
use std::path::PathBuf;

/// Where a run keeps its keyed state (`--state-backend`).
///
/// # Examples
///
/// ```
/// use pipeline_runtime::exec::RunOptions;
/// use pipeline_runtime::state::{RocksDbOptions, StateBackend};
/// let opts = RunOptions {
///     state: StateBackend::RocksDb(RocksDbOptions::default()),
///     ..RunOptions::default()
/// };
/// assert_eq!(opts.state.name(), "rocksdb");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateBackend {
    /// Typed values in memory, serialized only at checkpoints.
    #[default]
    Memory,
    /// RocksDB databases on local disk.
    RocksDb(RocksDbOptions),
}

impl StateBackend {
    /// `memory` or `rocksdb`.
    pub fn name(&self) -> &'static str {
        match self {
            StateBackend::Memory => "memory",
            StateBackend::RocksDb(_) => "rocksdb",
        }
    }
}

/// Settings of the RocksDB backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RocksDbOptions {
    /// Where the working databases live. `None`: under `--checkpoint-dir`
    /// (so that checkpoints are hard links into the same file system), or
    /// the system's temporary directory without checkpoints. A run uses a
    /// directory of its own in it and removes it at the end.
    pub dir: Option<PathBuf>,
    /// Bytes of the block cache, shared by every stage instance of the run.
    pub block_cache: u64,
    /// Bytes of each database's write buffer (memtable).
    pub write_buffer: u64,
    /// Decoded entries each stage instance keeps between accesses before
    /// writing them back: repeated keys skip the encoding and the lookup.
    pub cache_entries: usize,
}

impl Default for RocksDbOptions {
    fn default() -> Self {
        RocksDbOptions {
            dir: None,
            block_cache: 256 << 20,
            write_buffer: 64 << 20,
            cache_entries: 4096,
        }
    }
}

/// The run's state backend, as the stages open it: shared by every task
/// instance (the RocksDB block cache and working directory).
#[derive(Debug, Clone, Default)]
pub(crate) enum StateEnv {
    #[default]
    Memory,
    #[cfg(feature = "rocksdb")]
    RocksDb(std::sync::Arc<rocks::RocksEnv>),
}

impl StateEnv {
    /// Opens `backend` for the run of `pipeline`, whose checkpoints (if
    /// any) are in `checkpoint_dir`.
    pub(crate) fn open(
        backend: &StateBackend,
        pipeline: &str,
        checkpoint_dir: Option<&std::path::Path>,
    ) -> Result<Self> {
        match backend {
            StateBackend::Memory => Ok(StateEnv::Memory),
            #[cfg(feature = "rocksdb")]
            StateBackend::RocksDb(options) => Ok(StateEnv::RocksDb(std::sync::Arc::new(
                rocks::RocksEnv::new(options, pipeline, checkpoint_dir)?,
            ))),
            #[cfg(not(feature = "rocksdb"))]
            StateBackend::RocksDb(_) => {
                let _ = (pipeline, checkpoint_dir);
                Err(crate::ConfigError::Invalid {
                    name: "--state-backend".into(),
                    message: "this binary was built without the `rocksdb` feature".into(),
                }
                .into())
            }
        }
    }
}

/// Reads the entries of a RocksDB checkpoint (a state directory) of the
/// key groups `keep` accepts; returns its meta value.
pub(crate) fn read_store_checkpoint<K, V, M>(
    path: &std::path::Path,
    what: &str,
    keep: impl FnMut(u16) -> bool,
    entry: impl FnMut((K, V)),
) -> Result<M>
where
    K: serde::de::DeserializeOwned,
    V: serde::de::DeserializeOwned,
    M: serde::de::DeserializeOwned,
{
    #[cfg(feature = "rocksdb")]
    return rocks::read_checkpoint(path, what, keep, entry);
    #[cfg(not(feature = "rocksdb"))]
    {
        let _ = (path, keep, entry);
        Err(crate::checkpoint::error(format!(
            "the state of {what} was saved by the RocksDB backend, and this binary was built without the `rocksdb` feature"
        )))
    }
}

/// The keyed state of one stage instance: values of type `V` per key `K`,
/// in the backend the run chose.
///
/// A store starts in memory; [`restore`](Self::restore), which every task
/// calls before its first record, opens the run's backend and fills it
/// from the checkpoint being restored, if any. Access returns `Result`
/// because a disk-backed store can fail.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::state::KeyedStore;
/// let mut s: KeyedStore<String, u64> = KeyedStore::default();
/// *s.get_or_insert_with("a".to_owned(), || 0)? += 2;
/// assert_eq!(s.get(&"a".to_owned())?, Some(&2));
/// assert_eq!(s.len(), 1);
/// # Ok::<(), pipeline_runtime::PipelineError>(())
/// ```
#[derive(Debug)]
pub struct KeyedStore<K, V> {
    inner: Store<K, V>,
}

#[derive(Debug)]
enum Store<K, V> {
    Memory(MemoryState<K, V>),
    #[cfg(feature = "rocksdb")]
    RocksDb(rocks::RocksState<K, V>),
}

impl<K, V> Default for KeyedStore<K, V> {
    fn default() -> Self {
        KeyedStore {
            inner: Store::Memory(MemoryState::default()),
        }
    }
}

impl<K: Hash + Eq + StateValue, V: StateValue> KeyedStore<K, V> {
    /// The value of `key`, created by `init` if absent.
    #[inline]
    pub fn get_or_insert_with(&mut self, key: K, init: impl FnOnce() -> V) -> Result<&mut V> {
        match &mut self.inner {
            Store::Memory(m) => Ok(m.get_or_insert_with(key, init)),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.get_or_insert_with(key, init),
        }
    }

    /// The value of `key`, created by `init` if absent; the key is cloned
    /// only when it is inserted.
    #[inline]
    pub fn get_or_insert_with_ref(&mut self, key: &K, init: impl FnOnce() -> V) -> Result<&mut V>
    where
        K: Clone,
    {
        match &mut self.inner {
            Store::Memory(m) => Ok(m.get_or_insert_with_ref(key, init)),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.get_or_insert_with_ref(key, init),
        }
    }

    /// The value of `key`, if any.
    pub fn get(&mut self, key: &K) -> Result<Option<&V>>
    where
        K: Clone,
    {
        match &mut self.inner {
            Store::Memory(m) => Ok(m.get(key)),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.get(key),
        }
    }

    /// The value of `key` to change, if any.
    #[inline]
    pub fn get_mut(&mut self, key: &K) -> Result<Option<&mut V>>
    where
        K: Clone,
    {
        match &mut self.inner {
            Store::Memory(m) => Ok(m.get_mut(key)),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.get_mut(key),
        }
    }

    /// Sets `key`'s value.
    pub fn insert(&mut self, key: K, value: V) -> Result<()> {
        match &mut self.inner {
            Store::Memory(m) => {
                m.insert(key, value);
                Ok(())
            }
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.insert(key, value),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Result<Option<V>>
    where
        K: Clone,
    {
        match &mut self.inner {
            Store::Memory(m) => Ok(m.remove(key)),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.remove(key),
        }
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        match &self.inner {
            Store::Memory(m) => m.len(),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.len(),
        }
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every entry, in no particular order (for RocksDB:
    /// pending writes are written first, then the database is scanned).
    pub fn for_each(&mut self, mut f: impl FnMut(&K, &V)) -> Result<()> {
        match &mut self.inner {
            Store::Memory(m) => {
                m.iter().for_each(|(k, v)| f(k, v));
                Ok(())
            }
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.for_each(f),
        }
    }

    /// Every key with a value.
    pub fn keys(&mut self) -> Result<Vec<K>>
    where
        K: Clone,
    {
        let mut keys = Vec::with_capacity(self.len());
        self.for_each(|k, _| keys.push(k.clone()))?;
        Ok(keys)
    }

    /// Saves every entry of stage `node` in a checkpoint, with `meta`, the
    /// instance's own value (such as its watermark).
    pub fn snapshot<M: serde::Serialize>(
        &mut self,
        snapshot: &mut Snapshot<'_>,
        node: usize,
        meta: &M,
    ) -> Result<()> {
        match &mut self.inner {
            Store::Memory(m) => m.snapshot(snapshot, node, meta),
            #[cfg(feature = "rocksdb")]
            Store::RocksDb(r) => r.snapshot(snapshot, node, meta),
        }
    }

    /// [`snapshot`](Self::snapshot) with the stage's watermark as the meta
    /// value, for stages whose state is cleaned as event time passes.
    pub fn snapshot_with_watermark(
        &mut self,
        snapshot: &mut Snapshot<'_>,
        node: usize,
        watermark: crate::Timestamp,
    ) -> Result<()> {
        self.snapshot(snapshot, node, &watermark.as_millis())
    }

    /// Opens the run's backend for stage `node` and fills it with the
    /// entries this instance owns in the checkpoint being restored (none
    /// on a fresh start); returns the saved meta values, by the instance
    /// that saved them.
    pub fn restore<M: serde::de::DeserializeOwned>(
        &mut self,
        restore: &Restore<'_>,
        node: usize,
    ) -> Result<Vec<(usize, M)>> {
        match restore.state {
            StateEnv::Memory => {
                let mut m = MemoryState::default();
                let metas = m.restore(restore, node)?;
                self.inner = Store::Memory(m);
                Ok(metas)
            }
            #[cfg(feature = "rocksdb")]
            StateEnv::RocksDb(env) => {
                // The old database (if any) is closed before its directory
                // is opened again.
                self.inner = Store::Memory(MemoryState::default());
                let (r, metas) = rocks::RocksState::restore(env, restore, node)?;
                self.inner = Store::RocksDb(r);
                Ok(metas)
            }
        }
    }

    /// [`restore`](Self::restore) of what
    /// [`snapshot_with_watermark`](Self::snapshot_with_watermark) saved;
    /// returns the watermark to go on from (see
    /// [`Restore::watermark`](crate::checkpoint::Restore::watermark)).
    pub fn restore_with_watermark(
        &mut self,
        restore: &Restore<'_>,
        node: usize,
    ) -> Result<Option<crate::Timestamp>> {
        let metas = self.restore::<i64>(restore, node)?;
        Ok(restore.watermark(&metas))
    }
}
