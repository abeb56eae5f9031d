//! The RocksDB backend: each stage instance's keyed state in a RocksDB
//! database of its own on local disk, so state may be far larger than
//! memory, and checkpoints are RocksDB's own (hard links to immutable
//! files), so each one costs what changed since the previous one.
//!
//! A key is stored as its key group (two bytes, big-endian) followed by
//! the postcard encoding of the key, and a value as the postcard encoding
//! of the value. Entries of one key group are therefore contiguous, and an
//! instance restoring at another parallelism decodes only the entries of
//! the groups it owns now. The stage's meta value (its watermark) is kept
//! under a key no group uses.
//!
//! Stages get `&mut V`, as from the memory backend: a write-back cache of
//! decoded entries (`--rocksdb-cache-entries`) holds the values handed
//! out, and writes them back in one batch when it is full, before a scan
//! and before a checkpoint. Writes skip RocksDB's write-ahead log: the
//! working database is scratch, and recovery is from checkpoints.

use super::RocksDbOptions;
use crate::checkpoint::{Restore, Snapshot, StateValue};
use crate::exec::channel::{MAX_PARALLELISM, key_group};
use crate::{PipelineError, Result};
use rocksdb::{BlockBasedOptions, DB, DBCompressionType, Options, WriteBatch, WriteOptions};
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The key of the stage's meta value: above every key group.
const META_KEY: [u8; 2] = [0xff, 0xff];
const _: () = assert!(MAX_PARALLELISM < 0xffff);

/// What every stage instance of a run shares: the block cache, the
/// settings and the working directory, removed when the run ends.
pub(crate) struct RocksEnv {
    options: RocksDbOptions,
    cache: rocksdb::Cache,
    root: PathBuf,
}

impl std::fmt::Debug for RocksEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksEnv")
            .field("options", &self.options)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn error(context: &str, path: &Path, e: impl std::fmt::Display) -> PipelineError {
    PipelineError::from(crate::ErrorKind::Stage {
        stage: "state".into(),
        message: format!("RocksDB {context} `{}`: {e}", path.display()),
    })
}

fn io_error(context: &str, path: &Path, e: std::io::Error) -> PipelineError {
    crate::checkpoint::manifest::io_error(format!("state: cannot {context}"), path, e)
}

impl RocksEnv {
    /// The working directory is `--state-dir`, else next to the
    /// checkpoints (hard links need one file system), else the system's
    /// temporary directory; in it, a directory of this process's own.
    pub(crate) fn new(
        options: &RocksDbOptions,
        pipeline: &str,
        checkpoint_dir: Option<&Path>,
    ) -> Result<Self> {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = match (&options.dir, checkpoint_dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(chk)) => {
                // A checkpoint directory belongs to one run at a time: what
                // killed runs left next to it is not needed any more.
                let base = chk.join("rocksdb");
                if base.exists() {
                    std::fs::remove_dir_all(&base).map_err(|e| io_error("clear", &base, e))?;
                }
                base
            }
            (None, None) => std::env::temp_dir(),
        };
        let root = base.join(format!("{pipeline}-{}-{run}", std::process::id()));
        // A directory of this name is left by a killed process whose pid
        // this one got again: nothing in it is needed.
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(|e| io_error("clear", &root, e))?;
        }
        std::fs::create_dir_all(root.join("logs")).map_err(|e| io_error("create", &root, e))?;
        let cache = rocksdb::Cache::new_lru_cache(options.block_cache as usize)
            .map_err(|e| error("block cache for", &root, e))?;
        Ok(RocksEnv {
            options: options.clone(),
            cache,
            root,
        })
    }

    fn db_options(&self) -> Options {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_write_buffer_size(self.options.write_buffer as usize);
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_max_background_jobs(2);
        // Info logs go to the run's own directory, never into a database
        // directory (a checkpoint opened to be read stays untouched).
        opts.set_db_log_dir(self.root.join("logs"));
        opts.set_keep_log_file_num(2);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        opts.set_block_based_table_factory(&table);
        opts
    }

    /// Opens an empty database `name`, or (`from`) one made of a
    /// checkpoint's files: immutable table files are hard-linked, the
    /// others copied, as RocksDB changes them in place.
    fn open(&self, name: &str, from: Option<&Path>) -> Result<DB> {
        let path = self.root.join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| io_error("clear", &path, e))?;
        }
        if let Some(from) = from {
            std::fs::create_dir_all(&path).map_err(|e| io_error("create", &path, e))?;
            let entries = std::fs::read_dir(from).map_err(|e| io_error("list", from, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io_error("list", from, e))?;
                let (a, b) = (entry.path(), path.join(entry.file_name()));
                let linked =
                    a.extension().is_some_and(|x| x == "sst") && std::fs::hard_link(&a, &b).is_ok();
                if !linked {
                    std::fs::copy(&a, &b).map_err(|e| io_error("copy", &a, e))?;
                }
            }
        }
        DB::open(&self.db_options(), &path).map_err(|e| error("cannot open", &path, e))
    }
}

impl Drop for RocksEnv {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!(dir = %self.root.display(), "could not remove the RocksDB working directory: {e}");
        }
    }
}

/// A cached entry: its value (`None`: known absent) and whether it
/// differs from the database's.
#[derive(Debug)]
struct Cached<V> {
    value: Option<V>,
    dirty: bool,
}

type Cache<K, V> = hashbrown::HashMap<K, Cached<V>, rustc_hash::FxBuildHasher>;

/// One stage instance's keyed state in RocksDB.
pub(crate) struct RocksState<K, V> {
    io: Io,
    cache: Cache<K, V>,
    len: usize,
    capacity: usize,
    // Dropped after the database, as it removes the directory.
    _env: Arc<RocksEnv>,
}

impl<K, V> std::fmt::Debug for RocksState<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksState")
            .field("path", &self.io.path)
            .field("len", &self.len)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// The database of a stage instance and its encoding buffers.
struct Io {
    db: DB,
    path: PathBuf,
    key: Vec<u8>,
    value: Vec<u8>,
    write: WriteOptions,
}

/// A cache entry that was just made is not there: a bug, reported rather
/// than a panic.
fn lost_entry() -> PipelineError {
    crate::checkpoint::error("the state cache lost an entry".into())
}

fn encode_error(e: postcard::Error) -> PipelineError {
    crate::checkpoint::error(format!("cannot encode state: {e}"))
}

/// Sets `buf` to the database key of `key`: its key group, then its
/// encoding.
fn encode_key<K: serde::Serialize + Hash>(key: &K, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    buf.extend_from_slice(&key_group(key).to_be_bytes());
    let bytes = std::mem::take(buf);
    *buf = postcard::to_extend(key, bytes).map_err(encode_error)?;
    Ok(())
}

/// Sets `buf` to the encoding of `value`.
fn encode_value<V: serde::Serialize>(value: &V, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    let bytes = std::mem::take(buf);
    *buf = postcard::to_extend(value, bytes).map_err(encode_error)?;
    Ok(())
}

impl Io {
    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.db
            .write_opt(batch, &self.write)
            .map_err(|e| error("cannot write", &self.path, e))
    }

    /// Reads `key`'s value.
    fn load<K: serde::Serialize + Hash, V: serde::de::DeserializeOwned>(
        &mut self,
        key: &K,
    ) -> Result<Option<V>> {
        encode_key(key, &mut self.key)?;
        match self.db.get_pinned(&self.key) {
            Ok(Some(bytes)) => postcard::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| error("holds a damaged value in", &self.path, e)),
            Ok(None) => Ok(None),
            Err(e) => Err(error("cannot read", &self.path, e)),
        }
    }

    /// Writes every changed entry of `cache` back, and empties it.
    fn write_back<K: serde::Serialize + Hash, V: serde::Serialize>(
        &mut self,
        cache: &mut Cache<K, V>,
    ) -> Result<()> {
        // The cache is emptied only once its changes are written.
        let mut batch = WriteBatch::default();
        for (k, c) in cache.iter().filter(|(_, c)| c.dirty) {
            encode_key(k, &mut self.key)?;
            match &c.value {
                Some(v) => {
                    encode_value(v, &mut self.value)?;
                    batch.put(&self.key, &self.value);
                }
                None => batch.delete(&self.key),
            }
        }
        if !batch.is_empty() {
            self.write(batch)?;
        }
        cache.clear();
        Ok(())
    }
}

/// Reads the meta value a snapshot stored.
fn read_meta<M: serde::de::DeserializeOwned>(db: &DB, dir: &Path) -> Result<M> {
    match db.get_pinned(META_KEY) {
        Ok(Some(bytes)) => postcard::from_bytes(&bytes).map_err(|e| {
            crate::checkpoint::error(format!(
                "{}: the stage's saved meta value is damaged: {e}",
                dir.display()
            ))
        }),
        Ok(None) => Err(crate::checkpoint::error(format!(
            "{}: the stage's saved meta value is missing",
            dir.display()
        ))),
        Err(e) => Err(error("cannot read", dir, e)),
    }
}

/// Calls `f` with the key and value of every entry of `db` whose key group
/// `keep` accepts (entries of other groups are not decoded).
fn scan<K, V>(
    db: &DB,
    path: &Path,
    mut keep: impl FnMut(u16) -> bool,
    mut f: impl FnMut(K, V),
) -> Result<()>
where
    K: serde::de::DeserializeOwned,
    V: serde::de::DeserializeOwned,
{
    for item in db.iterator(rocksdb::IteratorMode::Start) {
        let (key, value) = item.map_err(|e| error("cannot read", path, e))?;
        if key[..] == META_KEY {
            continue;
        }
        let damaged = |e: postcard::Error| error("holds a damaged entry in", path, e);
        let (Some(group), Some(rest)) = (key.get(..2), key.get(2..)) else {
            return Err(error("holds a damaged entry in", path, "short key"));
        };
        if !keep(u16::from_be_bytes([group[0], group[1]])) {
            continue;
        }
        f(
            postcard::from_bytes(rest).map_err(damaged)?,
            postcard::from_bytes(&value).map_err(damaged)?,
        );
    }
    Ok(())
}

/// Reads a RocksDB checkpoint of a stage instance: the entries of the key
/// groups `keep` accepts, and the meta value.
pub(crate) fn read_checkpoint<K, V, M>(
    path: &Path,
    what: &str,
    keep: impl FnMut(u16) -> bool,
    mut entry: impl FnMut((K, V)),
) -> Result<M>
where
    K: serde::de::DeserializeOwned,
    V: serde::de::DeserializeOwned,
    M: serde::de::DeserializeOwned,
{
    let mut opts = Options::default();
    // Opening to read must not write an info log into the checkpoint.
    opts.set_db_log_dir(std::env::temp_dir());
    let db = DB::open_for_read_only(&opts, path, false)
        .map_err(|e| error(&format!("cannot open the state of {what} in"), path, e))?;
    let meta = read_meta(&db, path)?;
    scan(&db, path, keep, |k, v| entry((k, v)))?;
    Ok(meta)
}

impl<K: Hash + Eq + StateValue, V: StateValue> RocksState<K, V> {
    /// Opens stage `node`'s database for this task instance: a copy of
    /// its own checkpoint when the parallelism has not changed, else empty
    /// and filled with the entries it owns now from every instance's.
    pub(crate) fn restore<M: serde::de::DeserializeOwned>(
        env: &Arc<RocksEnv>,
        restore: &Restore<'_>,
        node: usize,
    ) -> Result<(Self, Vec<(usize, M)>)> {
        let (me, _) = restore.instance();
        let name = format!("{node}-{me}");
        if let Some((dir, entries)) = restore.own_store(node) {
            let db = env.open(&name, Some(&dir))?;
            let meta = read_meta(&db, &dir)?;
            let state = Self::new(env, db, &name, entries as usize);
            return Ok((state, vec![(me, meta)]));
        }
        let db = env.open(&name, None)?;
        let mut state = Self::new(env, db, &name, 0);
        // Entries are written in batches as they are read, so a restore
        // needs no more memory than a batch, whatever the state's size.
        let (io, len) = (&mut state.io, &mut state.len);
        let mut batch = WriteBatch::default();
        let mut failed = None;
        let metas = restore.keyed_each::<K, V, M>(node, |(k, v)| {
            if failed.is_some() {
                return;
            }
            let mut put = || -> Result<()> {
                encode_key(&k, &mut io.key)?;
                encode_value(&v, &mut io.value)?;
                batch.put(&io.key, &io.value);
                *len += 1;
                if batch.len() >= 4096 {
                    io.write(std::mem::take(&mut batch))?;
                }
                Ok(())
            };
            failed = put().err();
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        io.write(batch)?;
        Ok((state, metas))
    }

    fn new(env: &Arc<RocksEnv>, db: DB, name: &str, len: usize) -> Self {
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        RocksState {
            io: Io {
                db,
                path: env.root.join(name),
                key: Vec::new(),
                value: Vec::new(),
                write,
            },
            cache: Cache::with_hasher(rustc_hash::FxBuildHasher),
            len,
            capacity: env.options.cache_entries.max(1),
            _env: env.clone(),
        }
    }

    /// Makes room in the cache for `key`, if it is not there.
    fn room(&mut self, key: &K) -> Result<()> {
        if self.cache.len() >= self.capacity && !self.cache.contains_key(key) {
            self.io.write_back(&mut self.cache)?;
        }
        Ok(())
    }

    /// `key`'s cache entry, read from the database if not cached, and the
    /// count of keys.
    fn slot(&mut self, key: K) -> Result<(&mut Cached<V>, &mut usize)> {
        self.room(&key)?;
        let c = match self.cache.entry(key) {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                let value = self.io.load(v.key())?;
                v.insert(Cached {
                    value,
                    dirty: false,
                })
            }
        };
        Ok((c, &mut self.len))
    }

    pub(crate) fn get_or_insert_with(
        &mut self,
        key: K,
        init: impl FnOnce() -> V,
    ) -> Result<&mut V> {
        let (c, len) = self.slot(key)?;
        c.dirty = true;
        Ok(c.value.get_or_insert_with(|| {
            *len += 1;
            init()
        }))
    }

    /// As [`get_or_insert_with`](Self::get_or_insert_with); the key is
    /// cloned only when it is not cached.
    pub(crate) fn get_or_insert_with_ref(
        &mut self,
        key: &K,
        init: impl FnOnce() -> V,
    ) -> Result<&mut V>
    where
        K: Clone,
    {
        if !self.cache.contains_key(key) {
            return self.get_or_insert_with(key.clone(), init);
        }
        let len = &mut self.len;
        let c = self.cache.get_mut(key).ok_or_else(lost_entry)?;
        c.dirty = true;
        Ok(c.value.get_or_insert_with(|| {
            *len += 1;
            init()
        }))
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Result<()> {
        let (c, len) = self.slot(key)?;
        if c.value.is_none() {
            *len += 1;
        }
        c.value = Some(value);
        c.dirty = true;
        Ok(())
    }

    /// `key`'s cache entry, read from the database if not cached.
    fn lookup(&mut self, key: &K) -> Result<&mut Cached<V>>
    where
        K: Clone,
    {
        self.room(key)?;
        if !self.cache.contains_key(key) {
            let value = self.io.load(key)?;
            self.cache.insert(
                key.clone(),
                Cached {
                    value,
                    dirty: false,
                },
            );
        }
        self.cache.get_mut(key).ok_or_else(lost_entry)
    }

    pub(crate) fn get(&mut self, key: &K) -> Result<Option<&V>>
    where
        K: Clone,
    {
        Ok(self.lookup(key)?.value.as_ref())
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Result<Option<&mut V>>
    where
        K: Clone,
    {
        let c = self.lookup(key)?;
        c.dirty |= c.value.is_some();
        Ok(c.value.as_mut())
    }

    pub(crate) fn remove(&mut self, key: &K) -> Result<Option<V>>
    where
        K: Clone,
    {
        let c = self.lookup(key)?;
        let old = c.value.take();
        if old.is_some() {
            c.dirty = true;
            self.len = self.len.saturating_sub(1);
        }
        Ok(old)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes pending changes back, then calls `f` with every entry.
    pub(crate) fn for_each(&mut self, mut f: impl FnMut(&K, &V)) -> Result<()> {
        self.io.write_back(&mut self.cache)?;
        scan(&self.io.db, &self.io.path, |_| true, |k: K, v: V| f(&k, &v))
    }

    /// Writes pending changes and `meta` back, then takes a RocksDB
    /// checkpoint (hard links to the database's files) into the
    /// checkpoint's directory.
    pub(crate) fn snapshot<M: serde::Serialize>(
        &mut self,
        snapshot: &mut Snapshot<'_>,
        node: usize,
        meta: &M,
    ) -> Result<()> {
        self.io.write_back(&mut self.cache)?;
        encode_value(meta, &mut self.io.value)?;
        let io = &self.io;
        io.db
            .put_opt(META_KEY, &io.value, &io.write)
            .map_err(|e| error("cannot write", &io.path, e))?;
        snapshot.write_store(node, self.len as u64, |dir| {
            rocksdb::checkpoint::Checkpoint::new(&io.db)
                .and_then(|c| c.create_checkpoint(dir))
                .map_err(|e| error("cannot take a checkpoint of", &io.path, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, cache_entries: usize) -> RocksState<String, Vec<u32>> {
        let options = RocksDbOptions {
            dir: Some(dir.to_owned()),
            cache_entries,
            ..RocksDbOptions::default()
        };
        let env = Arc::new(RocksEnv::new(&options, "Test", None).unwrap());
        let db = env.open("0-0", None).unwrap();
        RocksState::new(&env, db, "0-0", 0)
    }

    #[test]
    fn values_survive_write_backs_and_count_exactly() {
        let dir = tempfile::tempdir().unwrap();
        // A cache of two entries: most accesses write back and read again.
        let mut s = store(dir.path(), 2);
        for i in 0..100u32 {
            s.get_or_insert_with(format!("k{}", i % 10), Vec::new)
                .unwrap()
                .push(i);
        }
        assert_eq!(s.len(), 10);
        assert_eq!(
            s.get(&"k3".to_owned()).unwrap(),
            Some(&(0..10).map(|j| j * 10 + 3).collect::<Vec<_>>())
        );
        // Looking up an absent key neither counts nor stores it.
        assert_eq!(s.get(&"absent".to_owned()).unwrap(), None);
        assert_eq!(s.get_mut(&"absent".to_owned()).unwrap(), None);
        assert_eq!(s.remove(&"absent".to_owned()).unwrap(), None);
        assert_eq!(s.len(), 10);
        // Removed, then inserted again.
        assert_eq!(
            s.remove(&"k3".to_owned()).unwrap().map(|v| v.len()),
            Some(10)
        );
        assert_eq!(s.len(), 9);
        s.insert("k3".to_owned(), vec![7]).unwrap();
        s.insert("k4".to_owned(), vec![8]).unwrap();
        assert_eq!(s.len(), 10);
        let mut all = Vec::new();
        s.for_each(|k, v| all.push((k.clone(), v.clone()))).unwrap();
        all.sort();
        assert_eq!(all.len(), 10);
        assert_eq!(all[3], ("k3".to_owned(), vec![7]));
        assert_eq!(all[4], ("k4".to_owned(), vec![8]));
        // Entries are stored under their key group.
        for (k, _) in &all {
            let mut key = Vec::new();
            encode_key(k, &mut key).unwrap();
            assert_eq!(key[..2], key_group(k).to_be_bytes());
        }
    }

    #[test]
    fn the_working_directory_is_removed_with_the_last_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), 8);
        s.insert("a".into(), vec![1]).unwrap();
        s.for_each(|_, _| {}).unwrap();
        let root = s._env.root.clone();
        assert!(root.join("0-0").exists());
        drop(s);
        assert!(!root.exists());
    }
}
