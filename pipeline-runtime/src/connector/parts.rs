//! The file sink's exactly-once mode: each instance writes part files into
//! a directory, staged under a hidden name and renamed into place when the
//! checkpoint that covers them is complete (as Flink's `FileSink` does).
//!
//! A part is `DIR/part-IIII-SSSSSSSS` (instance, sequence number); while
//! it is written it is `DIR/.part-IIII-SSSSSSSS.inprogress`, which readers
//! (and this project's file source) skip. At a checkpoint barrier an
//! instance closes and fsyncs its part and records it in the checkpoint
//! as pending; when the checkpoint is complete it renames the part. After
//! a crash, the restored checkpoint's pending parts are renamed (again:
//! renaming is idempotent) and every other staged part, which holds output
//! of records that will be processed again, is deleted. Without
//! checkpoints, each instance's part is renamed when its input ends.

use super::lines::Output;
use crate::checkpoint::{Restore, Snapshot};
use crate::{ErrorKind, PipelineError, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the instances of one part-file sink share: whether the directory
/// was cleaned up, and each instance's next sequence number.
#[derive(Debug, Default)]
pub(crate) struct PartsShared {
    prepared: bool,
    next_seq: HashMap<usize, u64>,
}

/// A staged part and the name it gets when published.
#[derive(Debug, Clone)]
struct Staged {
    /// The checkpoint it belongs to; `None` for the last part.
    epoch: Option<u64>,
    staged: PathBuf,
    published: PathBuf,
}

/// One instance's part files.
pub struct PartFiles {
    pub(crate) sink: String,
    pub(crate) dir: PathBuf,
    pub(crate) instance: usize,
    /// Whether checkpoints decide when parts are published.
    pub(crate) checkpointed: bool,
    pub(crate) shared: Arc<Mutex<PartsShared>>,
    current: Option<(BufWriter<File>, PathBuf, PathBuf)>,
    pending: Vec<Staged>,
    /// The last checkpoint this instance took a barrier of: the last part
    /// (staged after the input ended) is covered only by a later one.
    last_epoch: u64,
}

impl std::fmt::Debug for PartFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartFiles")
            .field("dir", &self.dir)
            .field("instance", &self.instance)
            .finish()
    }
}

impl PartFiles {
    pub(crate) fn new(
        sink: &str,
        dir: PathBuf,
        instance: usize,
        checkpointed: bool,
        shared: Arc<Mutex<PartsShared>>,
    ) -> Self {
        PartFiles {
            sink: sink.to_owned(),
            dir,
            instance,
            checkpointed,
            shared,
            current: None,
            pending: Vec::new(),
            last_epoch: 0,
        }
    }

    fn io_err(&self, what: &str, path: &Path, e: std::io::Error) -> PipelineError {
        PipelineError::from(ErrorKind::Io {
            context: format!("sink `{}`: cannot {what}", self.sink),
            path: path.to_owned(),
            source: e,
        })
    }

    fn shared(&self) -> Result<std::sync::MutexGuard<'_, PartsShared>> {
        self.shared.lock().map_err(|_| {
            PipelineError::from(ErrorKind::Executor(
                "a file sink's lock was poisoned".into(),
            ))
        })
    }

    /// Once per sink and run, before any instance writes: publishes the
    /// parts the restored checkpoint staged, deletes every other staged
    /// part and every part published after the checkpoint (`marks`: each
    /// old instance's next sequence number then; their records are read
    /// again), and numbers the next parts after the published ones.
    fn prepare(&self, restored: &[(PathBuf, PathBuf)], marks: &HashMap<usize, u64>) -> Result<()> {
        let mut shared = self.shared()?;
        if shared.prepared {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| self.io_err("create the directory", &self.dir, e))?;
        for (staged, published) in restored {
            publish(staged, published).map_err(|e| self.io_err("publish", staged, e))?;
        }
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| self.io_err("list", &self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.io_err("list", &self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let after_checkpoint = parse_part(&name)
                .is_some_and(|(instance, seq)| marks.get(&instance).is_some_and(|m| seq >= *m));
            if (name.starts_with(".part-") && name.ends_with(".inprogress")) || after_checkpoint {
                std::fs::remove_file(entry.path())
                    .map_err(|e| self.io_err("delete the abandoned part", &entry.path(), e))?;
            } else if let Some((instance, seq)) = parse_part(&name) {
                let next = shared.next_seq.entry(instance).or_insert(0);
                *next = (*next).max(seq + 1);
            }
        }
        sync_dir(&self.dir).map_err(|e| self.io_err("sync", &self.dir, e))?;
        shared.prepared = true;
        Ok(())
    }

    /// The open part, started if there is none.
    fn current(&mut self) -> Result<&mut BufWriter<File>> {
        if self.current.is_none() {
            self.prepare(&[], &HashMap::new())?;
            let seq = {
                let mut shared = self.shared()?;
                let next = shared.next_seq.entry(self.instance).or_insert(0);
                let seq = *next;
                *next += 1;
                seq
            };
            let name = format!("part-{:04}-{seq:08}", self.instance);
            let staged = self.dir.join(format!(".{name}.inprogress"));
            let published = self.dir.join(name);
            let file = File::create(&staged).map_err(|e| self.io_err("create", &staged, e))?;
            self.current = Some((
                BufWriter::with_capacity(256 * 1024, file),
                staged,
                published,
            ));
        }
        match &mut self.current {
            Some((file, _, _)) => Ok(file),
            None => unreachable_part(),
        }
    }

    /// Closes the open part, durable, as pending for `epoch`.
    fn close_part(&mut self, epoch: Option<u64>) -> Result<()> {
        if let Some((mut file, staged, published)) = self.current.take() {
            file.flush()
                .and_then(|()| file.get_ref().sync_all())
                .map_err(|e| self.io_err("write", &staged, e))?;
            self.pending.push(Staged {
                epoch,
                staged,
                published,
            });
        }
        Ok(())
    }

    /// Publishes the pending parts of checkpoints up to `epoch` (`None`:
    /// all of them).
    fn publish_up_to(&mut self, epoch: Option<u64>) -> Result<()> {
        let last = self.last_epoch;
        let due = |s: &Staged| match (epoch, s.epoch) {
            (None, _) => true,
            (Some(e), None) => e > last,
            (Some(e), Some(se)) => se <= e,
        };
        let (now, later): (Vec<Staged>, Vec<Staged>) =
            std::mem::take(&mut self.pending).into_iter().partition(due);
        self.pending = later;
        for s in &now {
            publish(&s.staged, &s.published).map_err(|e| self.io_err("publish", &s.staged, e))?;
        }
        if !now.is_empty() {
            sync_dir(&self.dir).map_err(|e| self.io_err("sync", &self.dir, e))?;
        }
        Ok(())
    }
}

fn unreachable_part<T>() -> Result<T> {
    Err(PipelineError::from(ErrorKind::Executor(
        "a file sink lost its open part".into(),
    )))
}

/// `part-IIII-SSSSSSSS` → (instance, sequence).
fn parse_part(name: &str) -> Option<(usize, u64)> {
    let rest = name.strip_prefix("part-")?;
    let (instance, seq) = rest.split_once('-')?;
    Some((instance.parse().ok()?, seq.parse().ok()?))
}

/// Renames `staged` to `published`; done already if only `published`
/// exists. If neither does, the part was published and then moved away
/// by a reader (or lost): that is logged, and the run goes on.
fn publish(staged: &Path, published: &Path) -> std::io::Result<()> {
    match std::fs::rename(staged, published) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !published.exists() {
                tracing::warn!(
                    "the staged part {} is gone and {} is not there: it was published and moved away, or lost",
                    staged.display(),
                    published.display()
                );
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Output for PartFiles {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.current()?;
        let written = file.write_all(bytes);
        if let Err(e) = written {
            let path = self
                .current
                .as_ref()
                .map(|c| c.1.clone())
                .unwrap_or_default();
            return Err(self.io_err("write", &path, e));
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.close_part(None)?;
        if self.checkpointed {
            // Published when the last checkpoint is complete.
            Ok(())
        } else {
            self.publish_up_to(None)
        }
    }

    /// Stages the open part, and records where this instance's numbering
    /// is: a restore from this checkpoint deletes later parts.
    fn snapshot(&mut self, snapshot: &mut Snapshot<'_>) -> Result<()> {
        self.prepare(&[], &HashMap::new())?;
        self.close_part(snapshot.epoch())?;
        if let Some(e) = snapshot.epoch() {
            self.last_epoch = e;
        }
        for s in &self.pending {
            // File names, relative to the directory: the run may restart
            // from another working directory.
            let name = |p: &Path| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            snapshot.stage(
                &self.sink,
                serde_json::json!({ "staged": name(&s.staged), "published": name(&s.published) }),
            );
        }
        let next = *self.shared()?.next_seq.entry(self.instance).or_insert(0);
        snapshot.stage(
            &self.sink,
            serde_json::json!({ "instance": self.instance, "next": next }),
        );
        Ok(())
    }

    fn restore(&mut self, restore: &Restore<'_>) -> Result<()> {
        if !restore.checkpointing() {
            return Ok(());
        }
        let mut restored = Vec::new();
        let mut marks = HashMap::new();
        for p in restore.pending(&self.sink) {
            let path = |key: &str| {
                let name = p.data.get(key).and_then(|v| v.as_str())?;
                Some(self.dir.join(Path::new(name).file_name()?))
            };
            let number = |key: &str| p.data.get(key).and_then(serde_json::Value::as_u64);
            match (
                path("staged"),
                path("published"),
                number("instance"),
                number("next"),
            ) {
                (Some(staged), Some(published), _, _) => restored.push((staged, published)),
                (_, _, Some(instance), Some(next)) => {
                    marks.insert(instance as usize, next);
                }
                _ => {
                    return Err(crate::checkpoint::error(format!(
                        "sink `{}`: a staged part in the checkpoint is damaged: {}",
                        self.sink, p.data
                    )));
                }
            }
        }
        self.prepare(&restored, &marks)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.publish_up_to(Some(epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_parse_back() {
        assert_eq!(parse_part("part-0003-00000012"), Some((3, 12)));
        assert_eq!(parse_part(".part-0003-00000012.inprogress"), None);
        assert_eq!(parse_part("other"), None);
    }

    #[test]
    fn without_checkpoints_a_part_is_published_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let shared = Arc::default();
        let mut a = PartFiles::new("out", dir.path().to_owned(), 0, false, shared);
        a.write(b"x\n").unwrap();
        let staged = dir.path().join(".part-0000-00000000.inprogress");
        assert!(staged.exists());
        a.close().unwrap();
        assert!(!staged.exists());
        let text = std::fs::read_to_string(dir.path().join("part-0000-00000000")).unwrap();
        assert_eq!(text, "x\n");
        // A second run numbers its parts after the first's.
        let mut b = PartFiles::new("out", dir.path().to_owned(), 0, false, Arc::default());
        b.write(b"y\n").unwrap();
        b.close().unwrap();
        assert!(dir.path().join("part-0000-00000001").exists());
    }
}
