//! Where a task's records come from: the [`Origin`] trait, and what a task
//! instance sees of the run ([`RunEnv`]).
//!
//! Origins are the one place with dynamic dispatch in a task: one virtual
//! call fills a whole batch, and the batch is then pushed through the fused,
//! statically dispatched chain.

use crate::Result;
use crate::exec::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What [`Origin::fill`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// The buffer holds a batch (possibly empty); call again.
    More,
    /// The buffer holds part of a larger batch: push it, but do not flush
    /// (no watermark, no output flush) until the batch's last part, which
    /// comes as `More`.
    Partial,
    /// The buffer holds a batch (possibly empty), after which event time
    /// has reached this watermark; call again.
    Watermark(crate::Timestamp),
    /// The buffer holds a batch (possibly empty), after which the input is
    /// idle (see [`Push::idle`](crate::operator::Push::idle)); call again.
    Idle,
    /// The input has ended; the buffer may hold a last batch.
    End,
    /// The buffer holds a batch (possibly empty), after which checkpoint
    /// barrier `epoch` came from every open input: the task snapshots its
    /// stages (only channel ends report it).
    Barrier(u64),
}

/// The start of a task: a source instance or the receiving end of a channel.
pub trait Origin<T>: Send {
    /// Prepares to read (opens files, connects sockets). Runs on the task's
    /// own thread, at the start of the run.
    fn open(&mut self, env: &RunEnv) -> Result<()>;

    /// Puts the next batch of records into `buf` (which is empty).
    ///
    /// Returns within about [`TICK`](crate::exec::channel::TICK) even when
    /// no input comes (with an empty batch), so the task's stages see
    /// processing time advance and cancellation is noticed.
    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill>;

    /// Whether the source wants to record its progress now (a Kafka offset
    /// commit is due). Asked after each complete batch; if so, the task
    /// makes its chain's output durable ([`Push::sync`](crate::operator::Push::sync))
    /// and calls [`commit`](Self::commit).
    fn commit_due(&self) -> bool {
        false
    }

    /// Every record filled so far has been pushed through the task's
    /// chain, and the chain's output is durable: record progress. Also
    /// called once after the task's input ended and its chain finished.
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    /// For an origin that reads several input partitions at once (a Kafka
    /// consumer's partitions), which one the last fill's records all came
    /// from and which it reads now, so watermarks can be made per
    /// partition. `None` (the default): the origin is one partition.
    fn partitions(&self) -> Option<PartitionView<'_>> {
        None
    }

    /// Whether this is a source instance, which starts checkpoint barriers,
    /// rather than a channel end, which passes them on.
    fn is_source(&self) -> bool {
        true
    }

    /// For a checkpoint: where the source is in its input, after the
    /// records filled so far, as the value [`restore`](Self::restore) takes
    /// back; also passes the barrier to the source's side outputs (dead
    /// letters: an origin that sends to a dead-letter stream must call
    /// [`BadInput::snapshot`](crate::connector::BadInput::snapshot) here,
    /// or the stream's task waits for the barrier for ever). `None` (the
    /// default): the source cannot go back, so a restart loses what it
    /// read after the checkpoint.
    fn snapshot(
        &mut self,
        snapshot: &mut crate::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        let _ = snapshot;
        Ok(None)
    }

    /// The run starts from a checkpoint: instance `instance` goes back to
    /// where the source was, given the positions every instance saved
    /// (`saved[i]` is instance `i`'s; their number is the parallelism
    /// then, which may differ from now). Called before
    /// [`open`](Self::open).
    fn restore(&mut self, instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        let _ = (instance, saved);
        Ok(())
    }

    /// Checkpoint `epoch` is complete: a source that records its progress
    /// outside (Kafka's committed offsets) records the positions it saved
    /// for it.
    fn checkpoint_complete(&mut self, epoch: u64) -> Result<()> {
        let _ = epoch;
        Ok(())
    }
}

/// The partitions of a multi-partition origin; see [`Origin::partitions`].
/// Partitions are numbered by the origin, densely from 0 in the order it
/// first saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionView<'a> {
    /// The partition of the last fill's records (meaningless if it filled
    /// none).
    pub last: usize,
    /// The partitions the origin reads now.
    pub assigned: &'a [usize],
}

/// What every task instance shares with the run: counters, the I/O reactor,
/// and the flag that tells it to stop because another task failed.
#[derive(Debug, Clone)]
pub struct RunEnv {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) io: tokio::runtime::Handle,
    pub(crate) cancelled: Arc<AtomicBool>,
    /// The run's checkpoints, when it takes them.
    pub(crate) checkpoints: Option<Arc<crate::checkpoint::Checkpoints>>,
    /// The run's state backend.
    pub(crate) state: crate::state::StateEnv,
}

impl RunEnv {
    /// Whether the run is being stopped.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Whether the run takes checkpoints: sources then record their
    /// progress (commit offsets) when a checkpoint is complete
    /// ([`Origin::checkpoint_complete`]), not on their own schedule.
    pub fn checkpointing(&self) -> bool {
        self.checkpoints.is_some()
    }

    /// Whether a checkpoint was asked for and is not complete yet.
    pub fn checkpoint_in_progress(&self) -> bool {
        self.checkpoints
            .as_ref()
            .is_some_and(|cp| cp.requested() > cp.committed())
    }

    /// The tokio runtime that drives network I/O.
    pub fn io(&self) -> &tokio::runtime::Handle {
        &self.io
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        use std::sync::OnceLock;
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        let rt = RT.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a test runtime can be built")
        });
        RunEnv {
            metrics: Arc::new(Metrics::new(64)),
            io: rt.handle().clone(),
            cancelled: Arc::new(AtomicBool::new(false)),
            checkpoints: None,
            state: crate::state::StateEnv::Memory,
        }
    }
}
