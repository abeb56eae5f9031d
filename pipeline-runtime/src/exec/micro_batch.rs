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

/// Wraps a source instance and returns its input one micro-batch at a time.
pub(crate) struct MicroBatchOrigin<T> {
    inner: Box<dyn Origin<T>>,
    interval: Duration,
    name: String,
    env: Option<RunEnv>,
    /// Records read by this instance before the current batch.
    offset: u64,
    batch: u64,
    /// When the previous batch was handed over, to time its processing.
    handed: Option<(Instant, u64)>,
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
            handed: None,
            ended: false,
        }
    }
}

impl<T: Send> Origin<T> for MicroBatchOrigin<T> {
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        self.env = Some(env.clone());
        self.inner.open(env)
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        // The previous batch has been processed by the chain by now.
        if let (Some((at, records)), Some(env)) = (self.handed.take(), &self.env) {
            let took = at.elapsed();
            env.metrics.record_batch(took);
            tracing::debug!(source = %self.name, batch = self.batch, records, "batch processed in {took:?}");
        }
        if self.ended {
            return Ok(Fill::End);
        }
        let started = Instant::now();
        let deadline = started + self.interval;
        let mut part = Vec::new();
        loop {
            let fill = self.inner.fill(&mut part)?;
            buf.append(&mut part);
            match fill {
                Fill::End => {
                    self.ended = true;
                    break;
                }
                // Sources do not send watermarks; the chain makes them.
                Fill::More | Fill::Watermark(_) => {}
            }
            if Instant::now() >= deadline || buf.len() >= MAX_BATCH_RECORDS {
                break;
            }
        }
        if buf.is_empty() {
            return Ok(if self.ended { Fill::End } else { Fill::More });
        }
        self.batch += 1;
        let records = buf.len() as u64;
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
        self.handed = Some((Instant::now(), records));
        // An ended input still hands over its last batch first.
        Ok(Fill::More)
    }
}
