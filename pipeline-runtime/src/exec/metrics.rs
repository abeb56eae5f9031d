//! Per-stage record counters, kept locally per task and published per batch.
//!
//! Each linked stage counts into plain integers on its own thread and adds
//! them to shared atomics once per batch, so counting costs two increments
//! per record and no synchronisation on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Shared counters of every graph node of one run.
#[derive(Debug, Default)]
pub struct Metrics {
    nodes: Vec<NodeCounters>,
}

/// Records into and out of one graph node, over all its instances.
#[derive(Debug, Default)]
pub struct NodeCounters {
    records_in: AtomicU64,
    records_out: AtomicU64,
    skipped: AtomicU64,
}

impl Metrics {
    pub(crate) fn new(nodes: usize) -> Self {
        Metrics {
            nodes: (0..nodes).map(|_| NodeCounters::default()).collect(),
        }
    }

    /// `(records in, records out, records skipped as bad input)` of node `node`.
    pub fn node(&self, node: usize) -> (u64, u64, u64) {
        self.nodes.get(node).map_or((0, 0, 0), |c| {
            (
                c.records_in.load(Ordering::Relaxed),
                c.records_out.load(Ordering::Relaxed),
                c.skipped.load(Ordering::Relaxed),
            )
        })
    }

    pub(crate) fn add_skipped(&self, node: usize, n: u64) {
        if let Some(c) = self.nodes.get(node) {
            c.skipped.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// The counters of one stage instance.
#[derive(Debug)]
pub struct Meter {
    records_in: u64,
    records_out: u64,
    shared: Arc<Metrics>,
    node: usize,
}

impl Meter {
    pub(crate) fn new(shared: Arc<Metrics>, node: usize) -> Self {
        Meter {
            records_in: 0,
            records_out: 0,
            shared,
            node,
        }
    }

    /// One record in.
    #[inline]
    pub fn record_in(&mut self) {
        self.records_in += 1;
    }

    /// One record out.
    #[inline]
    pub fn record_out(&mut self) {
        self.records_out += 1;
    }

    /// One record in and one out.
    #[inline]
    pub fn record_in_out(&mut self) {
        self.records_in += 1;
        self.records_out += 1;
    }

    /// Adds the local counts to the shared counters.
    pub fn publish(&mut self) {
        if let Some(c) = self.shared.nodes.get(self.node) {
            if self.records_in > 0 {
                c.records_in.fetch_add(self.records_in, Ordering::Relaxed);
            }
            if self.records_out > 0 {
                c.records_out.fetch_add(self.records_out, Ordering::Relaxed);
            }
        }
        self.records_in = 0;
        self.records_out = 0;
    }
}
