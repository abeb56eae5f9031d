//! Building and running pipelines: the typed stream builders, the graph,
//! tasks and channels, and the continuous executor.
//!
//! The graph is cut into tasks at exchanges (a keyed `key_by` at parallelism
//! above 1, fan-out, `union`); within a task, stages are one fused chain.
//! Tasks exchange batches of records over bounded channels, which gives
//! backpressure.

pub mod channel;
pub(crate) mod graph;
pub mod metrics;
mod micro_batch;
pub mod origin;
mod plan;
mod run;
pub mod segment;
mod stream;

pub use crate::operator::MeterSet;
pub use channel::TICK;
pub use graph::{EdgeKind, Graph, GraphFormat, Node, NodeKind};
pub use micro_batch::{ExecMode, MAX_BATCH_RECORDS};
pub use origin::{Fill, Origin, PartitionView, RunEnv};
pub use plan::{DeadLetterStream, PipelineBuilder, Plan, SourceStream};
pub use run::{NodeStats, PipelineDef, RunOptions, RunOutcome};
pub use segment::{KeyedSeg, Segment, SourceSeg};
pub use stream::{
    KeyedStream, NeedsKeyedInput, NeedsOneReader, NeedsUnkeyedInput, Stream, WindowedStream,
};
