//! Per-stage record counters, kept locally per task and published per batch.
//!
//! Only nodes that change how many records flow count anything: sources,
//! `filter`, `filter_map`, `flat_map` and dead-letter streams. Every other
//! node's input is the sum of its predecessors' outputs and its output
//! equals its input, so the summary derives them. A counting stage adds to a
//! plain integer on its own thread and publishes it once per batch: one
//! increment per record, no synchronisation on the hot path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared counters of every graph node of one run.
#[derive(Debug, Default)]
pub struct Metrics {
    nodes: Vec<NodeCounters>,
    /// Processing time of each micro-batch (per source instance).
    batches: std::sync::Mutex<Vec<std::time::Duration>>,
}

/// Records into and out of one graph node, over all its instances.
#[derive(Debug, Default)]
pub struct NodeCounters {
    records_out: AtomicU64,
    skipped: AtomicU64,
}

impl Metrics {
    pub(crate) fn new(nodes: usize) -> Self {
        Metrics {
            nodes: (0..nodes).map(|_| NodeCounters::default()).collect(),
            batches: std::sync::Mutex::default(),
        }
    }

    /// `(records out, records skipped as bad input)` counted by node
    /// `node`. Only nodes that change how many records flow count; the
    /// others' counts follow from the graph (see `RunOutcome::stats`).
    pub fn node(&self, node: usize) -> (u64, u64) {
        self.nodes.get(node).map_or((0, 0), |c| {
            (
                c.records_out.load(Ordering::Relaxed),
                c.skipped.load(Ordering::Relaxed),
            )
        })
    }

    pub(crate) fn add_out(&self, node: usize, n: u64) {
        if let Some(c) = self.nodes.get(node) {
            c.records_out.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_batch(&self, took: std::time::Duration) {
        if let Ok(mut b) = self.batches.lock() {
            b.push(took);
        }
    }

    /// Processing times of the micro-batches run so far.
    pub fn batch_times(&self) -> Vec<std::time::Duration> {
        self.batches.lock().map(|b| b.clone()).unwrap_or_default()
    }

    pub(crate) fn add_skipped(&self, node: usize, n: u64) {
        if let Some(c) = self.nodes.get(node) {
            c.skipped.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// The counter of one stage instance.
#[derive(Debug)]
pub struct Meter {
    records_out: u64,
    skipped: u64,
    shared: Arc<Metrics>,
    node: usize,
}

impl Meter {
    pub(crate) fn new(shared: Arc<Metrics>, node: usize) -> Self {
        Meter {
            records_out: 0,
            skipped: 0,
            shared,
            node,
        }
    }

    /// One record out.
    #[inline]
    pub fn record_out(&mut self) {
        self.records_out += 1;
    }

    /// One record dropped (bad input, or too late for its window).
    #[inline]
    pub fn record_skipped(&mut self) {
        self.skipped += 1;
    }

    /// `n` records dropped at once.
    pub fn record_many_skipped(&mut self, n: u64) {
        self.skipped += n;
    }

    /// `n` records out.
    #[inline]
    pub fn record_many(&mut self, n: u64) {
        self.records_out += n;
    }

    /// Adds the local counts to the shared counters.
    pub fn publish(&mut self) {
        if let Some(c) = self.shared.nodes.get(self.node)
            && self.records_out > 0
        {
            c.records_out.fetch_add(self.records_out, Ordering::Relaxed);
        }
        if self.skipped > 0 {
            self.shared.add_skipped(self.node, self.skipped);
        }
        self.skipped = 0;
        self.records_out = 0;
    }
}
