//! The manifest: what a checkpoint directory holds, written last so that a
//! directory with a valid manifest is a complete checkpoint.
//!
//! A checkpoint is written under a temporary name (`chk-0000000007.tmp`):
//! every task writes and fsyncs its state files there, then the
//! coordinator writes `manifest.json`, fsyncs it and the directory, and
//! renames the directory to `chk-0000000007`. A crash at any point leaves
//! either a `.tmp` directory (ignored, removed at the next start) or a
//! complete checkpoint. Each state file's size and CRC-32 are in the
//! manifest, so a truncated or damaged file is found before anything is
//! restored from it.

use crate::{ErrorKind, PipelineError, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The manifest's format version.
pub(crate) const FORMAT: u32 = 1;
/// The manifest's file name inside a checkpoint directory.
pub(crate) const MANIFEST: &str = "manifest.json";

/// What a checkpoint holds: enough to restart every task where it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The format version (1).
    pub format: u32,
    /// The pipeline's name.
    pub pipeline: String,
    /// A hash of the graph's stage ids and edges, for people comparing
    /// checkpoints; a restore checks stage ids and labels one by one.
    pub graph_hash: String,
    /// The checkpoint's number, increasing over restarts.
    pub epoch: u64,
    /// When it was completed, in epoch milliseconds.
    pub created_ms: i64,
    /// The parallelism the pipeline ran at.
    pub parallelism: usize,
    /// Whether this is the last checkpoint of a run whose input ended.
    pub finished: bool,
    /// What each task instance reported.
    pub tasks: Vec<TaskReport>,
}

/// One task instance's part of a checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskReport {
    /// The task's name.
    pub task: String,
    /// The instance's index within its task.
    pub instance: usize,
    /// For a source instance: its name and where it was.
    pub source: Option<SourcePosition>,
    /// State files its stages wrote.
    pub states: Vec<StateRef>,
    /// Sink output staged and not yet published.
    pub pending: Vec<PendingCommit>,
}

/// Where a source instance was when it took a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourcePosition {
    /// The source's name.
    pub name: String,
    /// The instance's position, in the connector's own terms; `None` when
    /// the source cannot go back (a socket).
    pub position: Option<serde_json::Value>,
}

/// A state file of one stage instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateRef {
    /// The stage's stable id (`Pipeline/4-window_aggregate`).
    pub node_id: String,
    /// The stage's label, for messages.
    pub label: String,
    /// The file's name inside the checkpoint directory.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its CRC-32.
    pub crc32: u32,
    /// Keyed entries in it.
    pub entries: u64,
    /// For a directory of files (a RocksDB checkpoint: `file` is the
    /// directory), each file's name and size; `bytes` is their sum and
    /// `crc32` is not used (RocksDB checksums its own blocks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRef>,
}

/// A file of a state directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRef {
    /// Its name inside the directory.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Output a sink instance staged for a checkpoint, published (committed)
/// once the checkpoint is complete, or on restore from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCommit {
    /// The sink's name.
    pub sink: String,
    /// The sink instance.
    pub instance: usize,
    /// The checkpoint the output belongs to.
    pub epoch: u64,
    /// What to publish, in the connector's own terms.
    pub data: serde_json::Value,
}

/// The directory name of checkpoint `epoch`.
pub(crate) fn dir_name(epoch: u64) -> String {
    format!("chk-{epoch:010}")
}

/// The epoch of a complete checkpoint's directory name.
fn parse_dir_name(name: &str) -> Option<u64> {
    name.strip_prefix("chk-")?.parse().ok()
}

pub(crate) fn io_error(
    context: impl Into<String>,
    path: &Path,
    e: std::io::Error,
) -> PipelineError {
    PipelineError::from(ErrorKind::Io {
        context: context.into(),
        path: path.to_owned(),
        source: e,
    })
}

/// Flushes a directory's entries (a rename, a new file) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("checkpoint: cannot sync the directory", dir, e))
}

/// Writes `bytes` to `path` and fsyncs the file.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| io_error("checkpoint: cannot write", path, e))
}

impl Manifest {
    /// Writes the manifest into the temporary directory `tmp` and renames
    /// it to the complete checkpoint `dir/chk-EPOCH`.
    pub(crate) fn commit(&self, tmp: &Path, dir: &Path) -> Result<PathBuf> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| {
            super::error(format!(
                "checkpoint {}: cannot encode the manifest: {e}",
                self.epoch
            ))
        })?;
        write_synced(&tmp.join(MANIFEST), &json)?;
        sync_dir(tmp)?;
        let done = dir.join(dir_name(self.epoch));
        std::fs::rename(tmp, &done)
            .map_err(|e| io_error("checkpoint: cannot complete (rename)", &done, e))?;
        sync_dir(dir)?;
        Ok(done)
    }

    /// Reads and checks the checkpoint in directory `path`: the manifest
    /// parses and every state file it names is there, whole.
    pub fn load(path: &Path) -> Result<Manifest> {
        let file = path.join(MANIFEST);
        let text = std::fs::read(&file)
            .map_err(|e| io_error("checkpoint: cannot read the manifest", &file, e))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
            super::error(format!("{}: the manifest is damaged: {e}", path.display()))
        })?;
        if manifest.format != FORMAT {
            return Err(super::error(format!(
                "{}: manifest format {} is not the supported {FORMAT}",
                path.display(),
                manifest.format
            )));
        }
        for state in manifest.tasks.iter().flat_map(|t| &t.states) {
            let f = path.join(&state.file);
            if !state.files.is_empty() {
                for file in &state.files {
                    let f = f.join(&file.name);
                    let len = std::fs::metadata(&f)
                        .map_err(|e| io_error("checkpoint: missing state file", &f, e))?
                        .len();
                    if len != file.bytes {
                        return Err(super::error(format!(
                            "{}: state file {}/{} of stage `{}` is damaged ({len} bytes, {} expected)",
                            path.display(),
                            state.file,
                            file.name,
                            state.node_id,
                            file.bytes
                        )));
                    }
                }
                continue;
            }
            let bytes =
                std::fs::read(&f).map_err(|e| io_error("checkpoint: missing state file", &f, e))?;
            if bytes.len() as u64 != state.bytes || crc32fast::hash(&bytes) != state.crc32 {
                return Err(super::error(format!(
                    "{}: state file {} of stage `{}` is damaged ({} bytes, {} expected)",
                    path.display(),
                    state.file,
                    state.node_id,
                    bytes.len(),
                    state.bytes
                )));
            }
        }
        Ok(manifest)
    }
}

/// The complete checkpoints in `dir`, newest first.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io_error("checkpoint: cannot list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error("checkpoint: cannot list", dir, e))?;
        if let Some(epoch) = entry.file_name().to_str().and_then(parse_dir_name) {
            found.push((epoch, entry.path()));
        }
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.0));
    Ok(found)
}

/// Removes temporary directories left by checkpoints that never completed.
pub(crate) fn remove_unfinished(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("chk-")
            && name.ends_with(".tmp")
            && let Err(e) = std::fs::remove_dir_all(entry.path())
        {
            tracing::warn!("cannot remove the unfinished checkpoint {name}: {e}");
        }
    }
}

/// Keeps the newest `retain` complete checkpoints in `dir`.
pub(crate) fn prune(dir: &Path, retain: usize) {
    let Ok(all) = list(dir) else {
        return;
    };
    for (epoch, path) in all.into_iter().skip(retain.max(1)) {
        if let Err(e) = std::fs::remove_dir_all(&path) {
            tracing::warn!("cannot remove the old checkpoint {epoch}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(epoch: u64) -> Manifest {
        Manifest {
            format: FORMAT,
            pipeline: "P".into(),
            graph_hash: "0".into(),
            epoch,
            created_ms: 0,
            parallelism: 1,
            finished: false,
            tasks: vec![TaskReport {
                task: "t".into(),
                instance: 0,
                source: None,
                states: vec![StateRef {
                    node_id: "P/1-reduce".into(),
                    label: "reduce".into(),
                    file: "s".into(),
                    bytes: 3,
                    crc32: crc32fast::hash(b"abc"),
                    entries: 1,
                    files: vec![],
                }],
                pending: vec![],
            }],
        }
    }

    fn write(dir: &Path, epoch: u64) -> PathBuf {
        let tmp = dir.join(format!("{}.tmp", dir_name(epoch)));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("s"), b"abc").unwrap();
        manifest(epoch).commit(&tmp, dir).unwrap()
    }

    #[test]
    fn a_complete_checkpoint_loads_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), 7);
        assert_eq!(Manifest::load(&path).unwrap().epoch, 7);
        // A state file cut short.
        std::fs::write(path.join("s"), b"ab").unwrap();
        let e = Manifest::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("state file s of stage `P/1-reduce` is damaged"),
            "{e}"
        );
        // A missing one.
        std::fs::remove_file(path.join("s")).unwrap();
        let e = Manifest::load(&path).unwrap_err().to_string();
        assert!(e.contains("missing state file"), "{e}");
        // A truncated manifest.
        let text = std::fs::read(path.join(MANIFEST)).unwrap();
        std::fs::write(path.join(MANIFEST), &text[..text.len() / 2]).unwrap();
        let e = Manifest::load(&path).unwrap_err().to_string();
        assert!(e.contains("the manifest is damaged"), "{e}");
    }

    #[test]
    fn listing_is_newest_first_and_pruning_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for epoch in [3, 1, 2, 10] {
            write(dir.path(), epoch);
        }
        std::fs::create_dir(dir.path().join("chk-0000000011.tmp")).unwrap();
        let epochs: Vec<u64> = list(dir.path()).unwrap().iter().map(|e| e.0).collect();
        assert_eq!(epochs, vec![10, 3, 2, 1]);
        prune(dir.path(), 2);
        remove_unfinished(dir.path());
        let epochs: Vec<u64> = list(dir.path()).unwrap().iter().map(|e| e.0).collect();
        assert_eq!(epochs, vec![10, 3]);
        assert!(!dir.path().join("chk-0000000011.tmp").exists());
    }
}
