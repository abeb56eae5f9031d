//! The micro-batch executor's cut: each source instance's input is divided
//! into batches of one interval each (as Spark Structured Streaming's
//! triggers do).
//!
//! A batch is the records one source instance read during an interval (its
//! range is their index range in that instance's input, logged per batch).
//! The whole batch then goes through the same fused operators as in
//! continuous mode, and only at its end does the source's watermark advance
//! and do sinks flush. A batch that finds no new input is not run at all.
//! When records are out of order by no more than the watermark bound, final
//! window results are those of continuous mode, emitted at batch
//! boundaries. Records later than that may be late in one mode and not in
//! the other: a micro-batch sees all of its records before its watermark.

use super::channel::BATCH;
use super::origin::{Fill, Origin, RunEnv};
use crate::Result;
use std::time::{Duration, Instant};

/// How a pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// Records flow as they arrive; watermarks advance after every source
    /// batch (Flink style).
    #[default]
    Continuous,
    /// Input is cut into batches of `interval`; each is processed whole,
    /// then the watermark advances and output is flushed (Spark style).
    MicroBatch {
        /// How long each batch collects input.
        interval: Duration,
    },
}

/// Records in one batch at most; a faster source closes the batch early.
pub const MAX_BATCH_RECORDS: usize = 1 << 20;

/// Wraps a source instance and returns its input one micro-batch at a time,
/// in pieces of about [`BATCH`] records (`Fill::Partial`) so that records
/// are processed while still in cache; only the batch's last piece
/// (`Fill::More`) makes the chain flush, so watermarks advance and output
/// is flushed at batch ends only.
pub(crate) struct MicroBatchOrigin<T> {
    inner: Box<dyn Origin<T>>,
    interval: Duration,
    name: String,
    env: Option<RunEnv>,
    /// Records read by this instance before the current batch.
    offset: u64,
    batch: u64,
    /// The batch being read: when it started and how many records so far.
    current: Option<(Instant, u64)>,
    /// A batch handed over in full, to time its processing.
    handed: Option<Instant>,
    ended: bool,
}

impl<T> MicroBatchOrigin<T> {
    pub(crate) fn new(inner: Box<dyn Origin<T>>, interval: Duration, name: String) -> Self {
        MicroBatchOrigin {
            inner,
            interval,
            name,
            env: None,
            offset: 0,
            batch: 0,
            current: None,
            handed: None,
            ended: false,
        }
    }

    /// Closes the current batch: logs it and returns the fill that ends it.
    fn close(&mut self) -> Fill {
        if let Some((started, records)) = self.current.take() {
            self.batch += 1;
            tracing::info!(
                source = %self.name,
                batch = self.batch,
                "batch {}: records {}..{} ({records}), read in {:?}",
                self.batch,
                self.offset,
                self.offset + records,
                started.elapsed()
            );
            self.offset += records;
            self.handed = Some(started);
        }
        Fill::More
    }
}

impl<T: Send> Origin<T> for MicroBatchOrigin<T> {
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        self.env = Some(env.clone());
        self.inner.open(env)
    }

    /// Asked only after a batch's last piece: the whole batch is done.
    fn commit_due(&self) -> bool {
        self.inner.commit_due()
    }

    fn commit(&mut self) -> Result<()> {
        self.inner.commit()
    }

    fn partitions(&self) -> Option<super::origin::PartitionView<'_>> {
        self.inner.partitions()
    }

    fn is_source(&self) -> bool {
        self.inner.is_source()
    }

    /// Asked only between batches: checkpoints fall on batch boundaries.
    fn snapshot(
        &mut self,
        snapshot: &mut crate::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        self.inner.snapshot(snapshot)
    }

    fn checkpoint_complete(&mut self, epoch: u64) -> Result<()> {
        self.inner.checkpoint_complete(epoch)
    }

    fn restore(&mut self, instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        self.inner.restore(instance, saved)
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        // A batch handed over in full has been processed by now: from its
        // first record read to here is its latency.
        if let (Some(started), Some(env)) = (self.handed.take(), &self.env) {
            env.metrics.record_batch(started.elapsed());
        }
        if self.ended {
            return Ok(Fill::End);
        }
        let mut part = Vec::new();
        loop {
            let fill = self.inner.fill(&mut part)?;
            if !part.is_empty() {
                let (_, records) = self.current.get_or_insert_with(|| (Instant::now(), 0));
                *records += part.len() as u64;
                buf.append(&mut part);
            }
            if fill == Fill::End {
                self.ended = true;
                return Ok(self.close());
            }
            // A source that must record its progress now (a Kafka
            // rebalance waits for it) closes the batch early.
            if self.current.is_some() && self.inner.commit_due() {
                return Ok(self.close());
            }
            let Some((started, records)) = self.current else {
                // Nothing read yet: an empty interval runs no batch; the
                // empty fill only lets stages see the clock.
                return Ok(Fill::More);
            };
            if started.elapsed() >= self.interval || records >= MAX_BATCH_RECORDS as u64 {
                return Ok(self.close());
            }
            // A multi-partition source's pieces each stay within one
            // partition, for per-partition watermarks.
            if buf.len() >= BATCH || (self.inner.partitions().is_some() && !buf.is_empty()) {
                return Ok(Fill::Partial);
            }
        }
    }
}
