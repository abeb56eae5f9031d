//! Checkpoints: consistent snapshots of a running pipeline, from which a
//! restarted process goes on as if it had never stopped.
//!
//! The protocol is Flink's aligned barriers (Chandy-Lamport for a DAG).
//! Every `--checkpoint-interval` the coordinator asks for checkpoint `n`;
//! each source instance, between two batches, records its position and
//! sends barrier `n` down its chain and across every channel it feeds. A
//! task that reads a channel holds back what arrives from senders whose
//! barrier came until every open sender's has ([`ChannelOrigin`]'s
//! alignment), then snapshots its stages ([`Push::snapshot`]) and passes
//! the barrier on. Sinks stage their output for `n` instead of publishing
//! it. When every task instance has reported, the coordinator writes the
//! manifest and renames the checkpoint into place ([`manifest`]); only
//! then are sinks told to publish ([`Push::commit`]). A crash before that
//! point restarts from checkpoint `n - 1`, whose staged output is published
//! again (idempotently) and whose later output is thrown away, so every
//! record is written once.
//!
//! In micro-batch mode a source takes the barrier only between two
//! batches, so checkpoints fall on batch boundaries.
//!
//! A task whose input has ended keeps its final report for every later
//! checkpoint, and when all have ended the coordinator writes a last
//! checkpoint (`finished`) and every sink publishes the rest.
//!
//! [`ChannelOrigin`]: crate::exec::channel
//! [`Push::snapshot`]: crate::operator::Push::snapshot
//! [`Push::commit`]: crate::operator::Push::commit

mod coordinator;
pub mod manifest;
mod state_file;

pub use coordinator::CheckpointStats;
pub(crate) use coordinator::Checkpoints;
pub use manifest::{FileRef, Manifest, PendingCommit, SourcePosition, StateRef, TaskReport};

use crate::exec::channel::{MAX_PARALLELISM, key_group};
use crate::{ErrorKind, PipelineError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::hash::Hash;
use std::path::PathBuf;
use std::time::Duration;

/// How a run takes and restores checkpoints (`--checkpoint-dir` and the
/// flags next to it).
///
/// # Examples
///
/// ```
/// use pipeline_runtime::checkpoint::CheckpointOptions;
/// let opts = CheckpointOptions::new("/tmp/chk");
/// assert_eq!(opts.retain, 3);
/// assert!(opts.restore_from.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct CheckpointOptions {
    /// Where checkpoints are kept, one directory each.
    pub dir: PathBuf,
    /// How often one is taken.
    pub interval: Duration,
    /// How many complete checkpoints are kept.
    pub retain: usize,
    /// Restore this checkpoint directory rather than the newest in `dir`.
    pub restore_from: Option<PathBuf>,
    /// Start even when the checkpoint holds state for a stage the pipeline
    /// no longer has (that state is dropped).
    pub allow_non_restored_state: bool,
}

impl CheckpointOptions {
    /// Checkpoints in `dir` every 10 seconds, the last 3 kept.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CheckpointOptions {
            dir: dir.into(),
            interval: Duration::from_secs(10),
            retain: 3,
            restore_from: None,
            allow_non_restored_state: false,
        }
    }
}

/// Values kept in checkpointed state: keys, accumulators, buffered
/// records. Any type that serde can write and read back is one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is kept in keyed state, so it must be serializable",
    label = "stateful stages save their keys and values in checkpoints",
    note = "derive `Serialize` and `Deserialize` for it; borrowed data such as `&str` cannot be read back from a checkpoint, so use owned types such as `String`"
)]
pub trait StateValue: Serialize + DeserializeOwned + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + 'static> StateValue for T {}

/// What a stage writes its state into when a checkpoint barrier passes
/// ([`Push::snapshot`](crate::operator::Push::snapshot)), and what a sink
/// stages its output under.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub(crate) checkpoints: &'a Checkpoints,
    pub(crate) epoch: Option<u64>,
    pub(crate) instance: usize,
    pub(crate) report: TaskReport,
}

impl Snapshot<'_> {
    /// The checkpoint's number; `None` for the final report of a task whose
    /// input has ended (it goes into whichever checkpoints follow).
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// The task instance taking it.
    pub fn instance(&self) -> usize {
        self.instance
    }

    /// Saves the keyed state of stage `node`: every `(key, value)` entry,
    /// tagged with its key group, and `meta`, the instance's own values
    /// (such as its watermark).
    pub fn write_keyed<'k, K, V, M>(
        &mut self,
        node: usize,
        meta: &M,
        entries: impl IntoIterator<Item = (&'k K, &'k V)>,
    ) -> Result<()>
    where
        K: Serialize + Hash + 'k,
        V: Serialize + 'k,
        M: Serialize,
    {
        let mut w = state_file::StateWriter::new(meta)?;
        for (k, v) in entries {
            w.entry(key_group(k), &(k, v))?;
        }
        let (id, label) = self.checkpoints.node(node);
        let file = format!("{node}-{}.state", self.instance);
        let dir = self.checkpoints.staging_dir(self.epoch)?;
        manifest::write_synced(&dir.join(&file), &w.bytes)?;
        self.report.states.push(StateRef {
            node_id: id,
            label,
            file,
            bytes: w.bytes.len() as u64,
            crc32: crc32fast::hash(&w.bytes),
            entries: w.entries,
            files: Vec::new(),
        });
        Ok(())
    }

    /// Saves the state of stage `node` as a directory of files that
    /// `create` makes (a RocksDB checkpoint, whose files are hard links to
    /// the working database's), holding `entries` keyed entries.
    pub(crate) fn write_store(
        &mut self,
        node: usize,
        entries: u64,
        create: impl FnOnce(&std::path::Path) -> Result<()>,
    ) -> Result<()> {
        let (id, label) = self.checkpoints.node(node);
        let file = format!("{node}-{}.rocksdb", self.instance);
        let path = self.checkpoints.staging_dir(self.epoch)?.join(&file);
        if path.exists() {
            // A final report taken again.
            std::fs::remove_dir_all(&path)
                .map_err(|e| manifest::io_error("checkpoint: cannot clear", &path, e))?;
        }
        create(&path)?;
        let mut files = Vec::new();
        let listing = std::fs::read_dir(&path)
            .map_err(|e| manifest::io_error("checkpoint: cannot list", &path, e))?;
        for entry in listing {
            let entry =
                entry.map_err(|e| manifest::io_error("checkpoint: cannot list", &path, e))?;
            let f = entry.path();
            // Linked table files are already durable; copied ones
            // (the manifest, options) are made so here.
            let synced = std::fs::File::open(&f).and_then(|file| {
                file.sync_all()?;
                file.metadata()
            });
            let meta = synced.map_err(|e| manifest::io_error("checkpoint: cannot sync", &f, e))?;
            files.push(FileRef {
                name: entry.file_name().to_string_lossy().into_owned(),
                bytes: meta.len(),
            });
        }
        manifest::sync_dir(&path)?;
        files.sort_by(|a, b| a.name.cmp(&b.name));
        self.report.states.push(StateRef {
            node_id: id,
            label,
            file,
            bytes: files.iter().map(|f| f.bytes).sum(),
            crc32: 0,
            entries,
            files,
        });
        Ok(())
    }

    /// Records output sink `sink` staged, to be published when the
    /// checkpoint is complete (or on restore from it).
    pub fn stage(&mut self, sink: &str, data: serde_json::Value) {
        self.report.pending.push(PendingCommit {
            sink: sink.to_owned(),
            instance: self.instance,
            epoch: self.epoch.unwrap_or(u64::MAX),
            data,
        });
    }
}

/// What [`Restore::keyed`] returns: each saving instance's meta value (by
/// its index then), and the entries this instance owns now.
pub type Restored<K, V, M> = (Vec<(usize, M)>, Vec<(K, V)>);

/// What a stage restores its state from when the run starts from a
/// checkpoint ([`Push::restore`](crate::operator::Push::restore)).
#[derive(Debug)]
pub struct Restore<'a> {
    /// The run's checkpoints, when it takes them.
    pub(crate) checkpoints: Option<&'a Checkpoints>,
    pub(crate) state: &'a crate::state::StateEnv,
    pub(crate) instance: usize,
    pub(crate) parallelism: usize,
}

impl Restore<'_> {
    /// The checkpoint being restored; `None` when the run starts afresh
    /// (stages are told so too, with nothing to read back).
    pub fn epoch(&self) -> Option<u64> {
        self.checkpoints?.restored_epoch()
    }

    /// Whether the run takes checkpoints.
    pub fn checkpointing(&self) -> bool {
        self.checkpoints.is_some()
    }

    /// The RocksDB checkpoint this very instance saved for stage `node`
    /// and its count of entries, when the parallelism has not changed (so
    /// it holds exactly the key groups the instance owns now).
    pub(crate) fn own_store(&self, node: usize) -> Option<(PathBuf, u64)> {
        let checkpoints = self.checkpoints?;
        if self.saved_parallelism()? != self.parallelism {
            return None;
        }
        let (id, _) = checkpoints.node(node);
        let mine: Vec<_> = checkpoints
            .state_files(&id)
            .into_iter()
            .filter(|f| f.0 == self.instance)
            .collect();
        match mine.as_slice() {
            [(_, path, state)] if !state.files.is_empty() => Some((path.clone(), state.entries)),
            _ => None,
        }
    }

    /// The parallelism the restored checkpoint was taken at.
    pub fn saved_parallelism(&self) -> Option<usize> {
        self.checkpoints?.restored_parallelism()
    }

    /// The number the run's first checkpoint will have.
    pub fn next_epoch(&self) -> u64 {
        self.checkpoints.map_or(1, Checkpoints::first_epoch)
    }

    /// The instance restoring, of how many.
    pub fn instance(&self) -> (usize, usize) {
        (self.instance, self.parallelism)
    }

    /// The keyed state stage `node` saved: the entries whose keys this
    /// instance owns now (whatever the parallelism was then), and the meta
    /// value of every instance that saved one, by its instance then.
    pub fn keyed<K, V, M>(&self, node: usize) -> Result<Restored<K, V, M>>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
        M: DeserializeOwned,
    {
        let mut entries = Vec::new();
        let metas = self.keyed_each(node, |e| entries.push(e))?;
        Ok((metas, entries))
    }

    /// [`keyed`](Self::keyed), handing each entry to `entry` as it is read
    /// rather than gathering them (a store on disk takes them in batches).
    pub(crate) fn keyed_each<K, V, M>(
        &self,
        node: usize,
        mut entry: impl FnMut((K, V)),
    ) -> Result<Vec<(usize, M)>>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
        M: DeserializeOwned,
    {
        let mut metas = Vec::new();
        let Some(checkpoints) = self.checkpoints else {
            return Ok(metas);
        };
        let (id, label) = checkpoints.node(node);
        let (me, p) = (self.instance, self.parallelism);
        let owned = |group: u16| usize::from(group) * p / MAX_PARALLELISM == me;
        for (old, path, state) in checkpoints.state_files(&id) {
            let what = format!("stage `{id}` ({label})");
            let meta = if state.files.is_empty() {
                let bytes = std::fs::read(&path)
                    .map_err(|e| manifest::io_error("checkpoint: cannot read state", &path, e))?;
                state_file::read(&bytes, &what, owned, &mut entry)?
            } else {
                crate::state::read_store_checkpoint(&path, &what, owned, &mut entry)?
            };
            metas.push((old, meta));
        }
        metas.sort_by_key(|(i, _)| *i);
        Ok(metas)
    }

    /// A stage's watermark from the epoch milliseconds its instances saved
    /// (the meta values [`keyed`](Self::keyed) returns): this instance's
    /// own when the parallelism has not changed, else the smallest, as a
    /// watermark taken from several instances must not run ahead of any.
    /// The end of time, saved by the last checkpoint of a run whose input
    /// ended, is not restored: a run that starts again has input again.
    pub fn watermark(&self, metas: &[(usize, i64)]) -> Option<crate::Timestamp> {
        let own = metas
            .iter()
            .find(|(i, _)| *i == self.instance)
            .filter(|_| metas.len() == self.parallelism);
        let w = match own {
            Some((_, w)) => *w,
            None => metas.iter().map(|(_, m)| *m).min()?,
        };
        (w != i64::MAX).then(|| crate::Timestamp::from_millis(w))
    }

    /// Output the sink `sink` staged in the checkpoint and may not have
    /// published before the crash: publish it again (publishing must be
    /// idempotent).
    pub fn pending(&self, sink: &str) -> Vec<PendingCommit> {
        self.checkpoints
            .map(|c| c.pending(sink))
            .unwrap_or_default()
    }
}

/// An error of the checkpoint machinery.
pub(crate) fn error(message: String) -> PipelineError {
    PipelineError::from(ErrorKind::Checkpoint(message))
}
