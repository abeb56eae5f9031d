//! The checkpoint coordinator: asks for checkpoints, gathers every task
//! instance's report, writes the manifest, and tells sinks to publish.
//!
//! It runs on its own thread beside the tasks. Tasks talk to it through
//! [`Checkpoints`]: sources read the requested epoch after each batch,
//! every task acknowledges a barrier with its report, and sinks read the
//! committed epoch after each batch.

use super::manifest::{self, FORMAT, Manifest, PendingCommit, StateRef, TaskReport};
use super::{CheckpointOptions, error};
use crate::Result;
use crate::exec::Graph;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The name of the directory where tasks whose input ended put their last
/// state, until the checkpoints that use it are written.
const FINAL_STAGING: &str = "chk-final.tmp";

/// What one completed checkpoint cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Its number.
    pub epoch: u64,
    /// From the request to the manifest renamed into place (for the last
    /// checkpoint of a run, the writing of the manifest only).
    pub duration: Duration,
    /// Bytes of state files.
    pub bytes: u64,
}

/// A task instance: its task's name and its index.
type InstanceId = (String, usize);

#[derive(Debug, Default)]
struct Progress {
    /// Task instances in the run.
    instances: usize,
    /// Reports per epoch, from the instances that took its barrier.
    acks: BTreeMap<u64, BTreeMap<InstanceId, TaskReport>>,
    /// The last report of every instance whose input ended.
    finished: BTreeMap<InstanceId, TaskReport>,
    /// The checkpoint being taken, and since when.
    in_flight: Option<u64>,
    requested_at: Option<Instant>,
    /// What each completed checkpoint cost.
    stats: Vec<CheckpointStats>,
    /// The longest any task instance took to restore its state.
    restore_time: Duration,
    /// The last checkpoint, once every instance ended.
    final_epoch: Option<u64>,
    /// Why checkpointing failed, if it did.
    failed: Option<String>,
}

/// What the tasks of a checkpointed run share with the coordinator.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    options: CheckpointOptions,
    pipeline: String,
    graph_hash: String,
    /// Every graph node's stable id and label.
    nodes: Vec<(String, String)>,
    parallelism: usize,
    /// The checkpoint the run started from.
    restored: Option<(Manifest, PathBuf)>,
    /// The newest epoch sources were asked to take.
    requested: AtomicU64,
    /// The newest complete epoch.
    committed: AtomicU64,
    /// The highest epoch any checkpoint in the directory has, damaged or
    /// not: new ones are numbered above it.
    floor: u64,
    progress: Mutex<Progress>,
    changed: Condvar,
    /// A stop was asked for (SIGTERM or Ctrl-C): take a checkpoint now,
    /// then stop.
    stop: AtomicBool,
    /// The checkpoint the run stopped after.
    stopped_at: AtomicU64,
}

/// A stable hash of the graph's stage ids and edges.
fn graph_hash(graph: &Graph) -> String {
    let mut h = rustc_hash::FxHasher::default();
    for n in &graph.nodes {
        n.id.hash(&mut h);
    }
    for (a, b, _) in &graph.edges {
        (a, b).hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

impl Checkpoints {
    /// Prepares checkpointing for a run of `graph`: creates the directory,
    /// removes unfinished checkpoints, and finds the one to restore.
    pub(crate) fn open(
        options: CheckpointOptions,
        graph: &Graph,
        parallelism: usize,
    ) -> Result<Checkpoints> {
        std::fs::create_dir_all(&options.dir).map_err(|e| {
            manifest::io_error("checkpoint: cannot create the directory", &options.dir, e)
        })?;
        manifest::remove_unfinished(&options.dir);
        let restored = match &options.restore_from {
            Some(path) => Some((Manifest::load(path)?, path.clone())),
            None => newest_valid(&options.dir)?,
        };
        let nodes: Vec<(String, String)> = graph
            .nodes
            .iter()
            .map(|n| (n.id.clone(), n.label.clone()))
            .collect();
        if let Some((m, path)) = &restored {
            check_compatible(
                m,
                path,
                &graph.name,
                &nodes,
                options.allow_non_restored_state,
            )?;
            tracing::info!(
                "restoring checkpoint {} from {} (taken at parallelism {}, now {parallelism})",
                m.epoch,
                path.display(),
                m.parallelism
            );
        }
        let base = restored.as_ref().map_or(0, |(m, _)| m.epoch);
        let floor = manifest::list(&options.dir)?
            .first()
            .map_or(base, |(epoch, _)| (*epoch).max(base))
            .max(read_used(&options.dir));
        // Sinks label what they write with the checkpoint that will cover
        // it, from the run's first on: no number a crashed run may have
        // used is given out again.
        write_used(&options.dir, floor + 1)?;
        Ok(Checkpoints {
            pipeline: graph.name.clone(),
            graph_hash: graph_hash(graph),
            nodes,
            parallelism,
            restored,
            requested: AtomicU64::new(base),
            committed: AtomicU64::new(base),
            floor,
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            stopped_at: AtomicU64::new(0),
            options,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Graph node `node`'s stable id and label.
    pub(crate) fn node(&self, node: usize) -> (String, String) {
        self.nodes
            .get(node)
            .cloned()
            .unwrap_or_else(|| (format!("{}/{node}", self.pipeline), String::new()))
    }

    /// The directory a snapshot for `epoch` (`None`: a final report) writes
    /// its files into; created on first use.
    pub(crate) fn staging_dir(&self, epoch: Option<u64>) -> Result<PathBuf> {
        let name = match epoch {
            Some(epoch) => format!("{}.tmp", manifest::dir_name(epoch)),
            None => FINAL_STAGING.to_owned(),
        };
        let dir = self.options.dir.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| manifest::io_error("checkpoint: cannot create", &dir, e))?;
        Ok(dir)
    }

    /// The epoch sources should take next, if newer than `taken`.
    pub(crate) fn requested(&self) -> u64 {
        self.requested.load(Ordering::Acquire)
    }

    /// The newest complete checkpoint.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// The number the run's first checkpoint gets.
    pub(crate) fn first_epoch(&self) -> u64 {
        self.requested().max(self.floor) + 1
    }

    /// The parallelism of the checkpoint the run started from.
    pub(crate) fn restored_parallelism(&self) -> Option<usize> {
        self.restored.as_ref().map(|(m, _)| m.parallelism)
    }

    /// The epoch of the checkpoint the run started from.
    pub(crate) fn restored_epoch(&self) -> Option<u64> {
        self.restored.as_ref().map(|(m, _)| m.epoch)
    }

    /// Every saved position of source `name`, by instance, if the restored
    /// checkpoint has the source.
    pub(crate) fn source_positions(&self, name: &str) -> Option<Vec<Option<serde_json::Value>>> {
        let (m, _) = self.restored.as_ref()?;
        let mut found: Vec<(usize, Option<serde_json::Value>)> = m
            .tasks
            .iter()
            .filter_map(|t| {
                let s = t.source.as_ref()?;
                (s.name == name).then(|| (t.instance, s.position.clone()))
            })
            .collect();
        if found.is_empty() {
            return None;
        }
        found.sort_by_key(|(i, _)| *i);
        Some(found.into_iter().map(|(_, p)| p).collect())
    }

    /// The state files of stage `node_id` in the restored checkpoint.
    /// With the instance that wrote each.
    pub(crate) fn state_files(&self, node_id: &str) -> Vec<(usize, PathBuf, StateRef)> {
        let Some((m, path)) = &self.restored else {
            return Vec::new();
        };
        m.tasks
            .iter()
            .flat_map(|t| t.states.iter().map(move |s| (t.instance, s)))
            .filter(|(_, s)| s.node_id == node_id)
            .map(|(i, s)| (i, path.join(&s.file), s.clone()))
            .collect()
    }

    /// The output sink `sink` staged in the restored checkpoint.
    pub(crate) fn pending(&self, sink: &str) -> Vec<PendingCommit> {
        let Some((m, _)) = &self.restored else {
            return Vec::new();
        };
        m.tasks
            .iter()
            .flat_map(|t| &t.pending)
            .filter(|p| p.sink == sink)
            .cloned()
            .collect()
    }

    /// Asks the run to stop after one more checkpoint.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    /// The checkpoint the run stopped after, if a stop was asked for.
    pub(crate) fn stopped_at(&self) -> Option<u64> {
        match self.stopped_at.load(Ordering::Acquire) {
            0 => None,
            epoch => Some(epoch),
        }
    }

    /// How many task instances will report.
    pub(crate) fn set_instances(&self, instances: usize) {
        self.lock().instances = instances;
    }

    /// A task instance took barrier `epoch`.
    pub(crate) fn ack(&self, epoch: u64, report: TaskReport) {
        let id = (report.task.clone(), report.instance);
        self.lock()
            .acks
            .entry(epoch)
            .or_default()
            .insert(id, report);
        self.changed.notify_all();
    }

    /// A task instance's input ended; `report` is its last.
    pub(crate) fn finish(&self, report: TaskReport) {
        let id = (report.task.clone(), report.instance);
        self.lock().finished.insert(id, report);
        self.changed.notify_all();
    }

    /// Waits until the last checkpoint is written (returns its epoch) or
    /// a checkpoint newer than `seen` is complete (returns `None`).
    pub(crate) fn wait_final_or_commit(
        &self,
        seen: u64,
        cancelled: &AtomicBool,
    ) -> Result<Option<u64>> {
        let mut progress = self.lock();
        loop {
            if let Some(epoch) = progress.final_epoch {
                return Ok(Some(epoch));
            }
            if self.committed() > seen {
                return Ok(None);
            }
            if let Some(why) = &progress.failed {
                return Err(error(why.clone()));
            }
            if cancelled.load(Ordering::Acquire) {
                return Err(crate::ErrorKind::Cancelled.into());
            }
            progress = self
                .changed
                .wait_timeout(progress, Duration::from_millis(100))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// The coordinator's loop: runs until the last checkpoint is written or
    /// the run is cancelled. A checkpoint that cannot be written fails the
    /// run (after the task stops, no damaged checkpoint is left: it never
    /// got its final name).
    pub(crate) fn coordinate(&self, cancelled: &AtomicBool) -> Result<()> {
        let interval = self.options.interval;
        let mut next = Instant::now() + interval;
        let mut progress = self.lock();
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return Ok(());
            }
            let all_ended = progress.instances > 0 && progress.finished.len() >= progress.instances;
            if let Some(epoch) = progress.in_flight
                && (all_ended || self.complete(&progress, epoch))
            {
                let reports = self.reports(&mut progress, epoch);
                let since = progress.requested_at.take().unwrap_or_else(Instant::now);
                drop(progress);
                let written = self.write(epoch, reports, false);
                progress = self.lock();
                let bytes = match written {
                    Ok(bytes) => bytes,
                    Err(e) => return Err(self.fail(progress, e)),
                };
                let duration = since.elapsed();
                progress.stats.push(CheckpointStats {
                    epoch,
                    duration,
                    bytes,
                });
                tracing::info!(
                    "checkpoint {epoch} complete in {duration:?} ({bytes} bytes of state)"
                );
                progress.in_flight = None;
                next = Instant::now() + interval;
                self.committed.store(epoch, Ordering::Release);
                self.changed.notify_all();
                if self.stop.load(Ordering::Acquire) {
                    // Output staged after this checkpoint is dropped on
                    // restart, with the records it came from read again.
                    tracing::info!("stopping after checkpoint {epoch}");
                    self.stopped_at.store(epoch, Ordering::Release);
                    // Tasks that see the cancellation see the commit too,
                    // and publish it before they leave.
                    cancelled.store(true, Ordering::Release);
                    return Ok(());
                }
                continue;
            }
            if all_ended {
                let epoch = self.requested().max(self.committed()).max(self.floor) + 1;
                let reports = progress
                    .finished
                    .values()
                    .map(|r| (r.clone(), true))
                    .collect();
                drop(progress);
                let started = Instant::now();
                let written = self.write(epoch, reports, true);
                progress = self.lock();
                let bytes = match written {
                    Ok(bytes) => bytes,
                    Err(e) => return Err(self.fail(progress, e)),
                };
                let duration = started.elapsed();
                progress.stats.push(CheckpointStats {
                    epoch,
                    duration,
                    bytes,
                });
                tracing::info!(
                    "final checkpoint {epoch} complete in {duration:?} ({bytes} bytes of state)"
                );
                self.committed.store(epoch, Ordering::Release);
                progress.final_epoch = Some(epoch);
                self.changed.notify_all();
                return Ok(());
            }
            if progress.in_flight.is_none()
                && (Instant::now() >= next || self.stop.load(Ordering::Acquire))
            {
                let epoch = self.first_epoch();
                // After this barrier, sinks write under `epoch + 1`.
                if let Err(e) = write_used(&self.options.dir, epoch + 1) {
                    return Err(self.fail(progress, e));
                }
                progress.in_flight = Some(epoch);
                progress.requested_at = Some(Instant::now());
                self.requested.store(epoch, Ordering::Release);
                tracing::debug!("checkpoint {epoch} requested");
            }
            let wait = next
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            progress = self
                .changed
                .wait_timeout(progress, wait)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Records the failure for waiting tasks and returns it.
    fn fail(
        &self,
        mut progress: MutexGuard<'_, Progress>,
        e: crate::PipelineError,
    ) -> crate::PipelineError {
        progress.failed = Some(e.to_string());
        self.changed.notify_all();
        e
    }

    /// Whether every instance reported for `epoch`: took its barrier, or
    /// ended before it came.
    fn complete(&self, progress: &Progress, epoch: u64) -> bool {
        let acked = progress.acks.get(&epoch);
        let reported = acked.map_or(0, BTreeMap::len)
            + progress
                .finished
                .keys()
                .filter(|id| acked.is_none_or(|a| !a.contains_key(*id)))
                .count();
        progress.instances > 0 && reported >= progress.instances
    }

    /// The reports making up `epoch`, removed from `progress`.
    fn reports(&self, progress: &mut Progress, epoch: u64) -> Vec<(TaskReport, bool)> {
        let acked = progress.acks.remove(&epoch).unwrap_or_default();
        progress.acks.retain(|e, _| *e > epoch);
        let mut reports: Vec<(TaskReport, bool)> = progress
            .finished
            .iter()
            .filter(|(id, _)| !acked.contains_key(*id))
            .map(|(_, r)| (r.clone(), true))
            .collect();
        reports.extend(acked.into_values().map(|r| (r, false)));
        reports
    }

    /// Writes checkpoint `epoch` from `reports` (each saying whether it is
    /// a final report, whose files are in the final staging directory).
    /// Returns the bytes of state it holds.
    fn write(&self, epoch: u64, reports: Vec<(TaskReport, bool)>, finished: bool) -> Result<u64> {
        let dir = &self.options.dir;
        let tmp = self.staging_dir(Some(epoch))?;
        let final_dir = dir.join(FINAL_STAGING);
        let mut tasks = Vec::new();
        for (report, from_final) in reports {
            if from_final {
                link_files(&final_dir, &tmp, &report)?;
            }
            tasks.push(report);
        }
        tasks.sort_by(|a, b| (&a.task, a.instance).cmp(&(&b.task, b.instance)));
        let bytes = tasks.iter().flat_map(|t| &t.states).map(|s| s.bytes).sum();
        let m = Manifest {
            format: FORMAT,
            pipeline: self.pipeline.clone(),
            graph_hash: self.graph_hash.clone(),
            epoch,
            created_ms: crate::Timestamp::now().as_millis(),
            parallelism: self.parallelism,
            finished,
            tasks,
        };
        m.commit(&tmp, dir)?;
        manifest::prune(dir, self.options.retain);
        if finished {
            let _ = std::fs::remove_dir_all(&final_dir);
        }
        Ok(bytes)
    }

    /// A task instance took `took` to restore its state.
    pub(crate) fn restored_in(&self, took: Duration) {
        let mut progress = self.lock();
        progress.restore_time = progress.restore_time.max(took);
    }

    /// What the completed checkpoints cost, and the longest restore.
    pub(crate) fn stats(&self) -> (Vec<CheckpointStats>, Duration) {
        let progress = self.lock();
        (progress.stats.clone(), progress.restore_time)
    }
}

/// The file holding the highest checkpoint number a run may have used.
const USED: &str = "epochs-used";

/// The highest checkpoint number a run may have used (0 if none).
fn read_used(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(USED))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Records durably that checkpoint numbers up to `epoch` may be in use.
fn write_used(dir: &Path, epoch: u64) -> Result<()> {
    let tmp = dir.join(format!("{USED}.tmp"));
    manifest::write_synced(&tmp, epoch.to_string().as_bytes())?;
    std::fs::rename(&tmp, dir.join(USED))
        .map_err(|e| manifest::io_error("checkpoint: cannot record the epoch", dir, e))?;
    manifest::sync_dir(dir)
}

/// Links a final report's state files into a checkpoint's directory.
fn link_files(from: &Path, to: &Path, report: &TaskReport) -> Result<()> {
    for s in &report.states {
        if !s.files.is_empty() {
            // A state directory: its files one by one.
            let (from, to) = (from.join(&s.file), to.join(&s.file));
            std::fs::create_dir_all(&to)
                .map_err(|e| manifest::io_error("checkpoint: cannot create", &to, e))?;
            let files = TaskReport {
                states: s
                    .files
                    .iter()
                    .map(|f| StateRef {
                        file: f.name.clone(),
                        files: Vec::new(),
                        ..s.clone()
                    })
                    .collect(),
                ..TaskReport::default()
            };
            link_files(&from, &to, &files)?;
            continue;
        }
        let (a, b) = (from.join(&s.file), to.join(&s.file));
        match std::fs::hard_link(&a, &b) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => {
                std::fs::copy(&a, &b)
                    .map_err(|e| manifest::io_error("checkpoint: cannot copy", &a, e))?;
            }
        }
    }
    Ok(())
}

/// The newest complete checkpoint in `dir` that loads; damaged ones are
/// reported and skipped for the one before.
///
/// When there are complete checkpoints but none loads, starting afresh
/// would process the input again next to output already published: that
/// is an error, not a fresh start.
fn newest_valid(dir: &Path) -> Result<Option<(Manifest, PathBuf)>> {
    let all = manifest::list(dir)?;
    for (epoch, path) in &all {
        match Manifest::load(path) {
            Ok(m) => return Ok(Some((m, path.clone()))),
            Err(e) => {
                tracing::warn!("skipping checkpoint {epoch}: {e}");
            }
        }
    }
    if all.is_empty() {
        return Ok(None);
    }
    Err(error(format!(
        "none of the {} checkpoints in {} can be restored (see the warnings above); starting afresh would process the input again. Repair one and name it with `--restore-from`, or remove the directory (and the output it covers) to start afresh",
        all.len(),
        dir.display()
    )))
}

/// Fails when the checkpoint holds state for a stage this graph does not
/// have (unless `allow` says to drop it), or was taken by another pipeline.
fn check_compatible(
    m: &Manifest,
    path: &Path,
    pipeline: &str,
    nodes: &[(String, String)],
    allow: bool,
) -> Result<()> {
    if m.pipeline != pipeline {
        return Err(error(format!(
            "{} was taken by pipeline `{}`, not `{pipeline}`",
            path.display(),
            m.pipeline
        )));
    }
    for s in m.tasks.iter().flat_map(|t| &t.states) {
        let kept = nodes
            .iter()
            .any(|(id, label)| *id == s.node_id && *label == s.label);
        if kept {
            continue;
        }
        let message = format!(
            "checkpoint {} has state of stage `{}` ({}), which this pipeline no longer has",
            m.epoch, s.node_id, s.label
        );
        if !allow {
            return Err(error(format!(
                "{message}; pass `--allow-non-restored-state` to start without that state"
            )));
        }
        tracing::warn!("{message}; its state is dropped");
    }
    Ok(())
}
