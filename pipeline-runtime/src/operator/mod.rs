//! Push-based operators and the [`Stage`] trait that fuses them into chains.
//!
//! A chain of stages compiles to nested generic structs
//! (`Map<F, Filter<G, Sink>>`) whose [`Push::push`] calls inline into one
//! loop: no boxing, no channel and no allocation per record inside a chain.
//! Builders go forward (source to sink) while pushers nest backward, so each
//! stage is first a [`Stage`] value (the closure and its name) that knows how
//! to wrap the pusher after it once the chain's end is known.

/// The control methods of a stage that only passes them on to
/// `self.next`: every stage forwards flushes, watermarks, idleness, syncs,
/// checkpoints and the end in the same way, so this is written once. `metered` also
/// publishes the stage's counter (`self.meter`) on flush and finish.
macro_rules! forward_control {
    () => {
        fn flush(&mut self) -> $crate::Result<()> {
            self.next.flush()
        }

        fn finish(&mut self) -> $crate::Result<()> {
            self.next.finish()
        }

        forward_control!(@events);
        forward_control!(@checkpoints);
    };
    (metered) => {
        fn flush(&mut self) -> $crate::Result<()> {
            self.meter.publish();
            self.next.flush()
        }

        fn finish(&mut self) -> $crate::Result<()> {
            self.meter.publish();
            self.next.finish()
        }

        forward_control!(@events);
        forward_control!(@checkpoints);
    };
    // A stage whose only state is `self.state`, a `KeyedStore` saved
    // under graph node `self.node`, with no meta value.
    (keyed_state) => {
        fn flush(&mut self) -> $crate::Result<()> {
            self.next.flush()
        }

        fn finish(&mut self) -> $crate::Result<()> {
            self.next.finish()
        }

        fn snapshot(
            &mut self,
            snapshot: &mut $crate::checkpoint::Snapshot<'_>,
        ) -> $crate::Result<()> {
            self.state.snapshot(snapshot, self.node, &())?;
            self.next.snapshot(snapshot)
        }

        fn restore(&mut self, restore: &$crate::checkpoint::Restore<'_>) -> $crate::Result<()> {
            self.state.restore::<()>(restore, self.node)?;
            self.next.restore(restore)
        }

        fn commit(&mut self, epoch: u64) -> $crate::Result<()> {
            self.next.commit(epoch)
        }

        forward_control!(@events);
    };
    (@events) => {
        fn watermark(&mut self, watermark: $crate::Timestamp) -> $crate::Result<()> {
            self.next.watermark(watermark)
        }

        fn idle(&mut self) -> $crate::Result<()> {
            self.next.idle()
        }

        fn sync(&mut self) -> $crate::Result<()> {
            self.next.sync()
        }
    };
    (@checkpoints) => {
        fn snapshot(
            &mut self,
            snapshot: &mut $crate::checkpoint::Snapshot<'_>,
        ) -> $crate::Result<()> {
            self.next.snapshot(snapshot)
        }

        fn restore(&mut self, restore: &$crate::checkpoint::Restore<'_>) -> $crate::Result<()> {
            self.next.restore(restore)
        }

        fn commit(&mut self, epoch: u64) -> $crate::Result<()> {
            self.next.commit(epoch)
        }
    };
}

mod aggregate;
mod filter;
mod filter_map;
mod flat_map;
mod inspect;
mod join;
pub(crate) mod key_by;
mod map;
mod reduce;

pub use aggregate::{
    Aggregate, AggregateOp, AggregateStage, Aggs, Avg, Count, Max, Min, Numeric, Sum, Top,
};
pub use filter::{Filter, FilterStage};
pub use filter_map::{FilterMap, FilterMapStage};
pub use flat_map::{FlatMap, FlatMapStage};
pub use inspect::{Inspect, InspectStage};
pub use join::{IntervalJoin, IntervalJoinStage, Joined, Side, TableJoin, TableJoinStage};
pub use key_by::{KeyBy, KeyByStage};
pub use map::{Map, MapStage};
pub use reduce::{Reduce, ReduceStage};

use crate::exec::metrics::Meter;
use crate::{Result, Timestamp};

/// The receiving end of a chain link: records are pushed into it one at a
/// time, and it forwards what it produces to the next link.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::operator::Push;
/// use pipeline_runtime::Result;
///
/// struct Total(u64);
/// impl Push<u64> for Total {
///     fn push(&mut self, item: u64) -> Result<()> { self.0 += item; Ok(()) }
///     fn finish(&mut self) -> Result<()> { Ok(()) }
/// }
///
/// let mut t = Total(0);
/// for x in 1..=3 { t.push(x).unwrap(); }
/// assert_eq!(t.0, 6);
/// ```
pub trait Push<In> {
    /// Takes one record.
    fn push(&mut self, item: In) -> Result<()>;

    /// Called after each batch of input, and at least every
    /// [`TICK`](crate::exec::TICK) while a task waits for input: publish
    /// counters, send partly filled output batches, flush buffered output.
    /// Stages that act on processing time (processing-time windows, early
    /// firing) read the clock here. Forward it downstream.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Event time has reached `watermark`: no record with a timestamp at or
    /// before it is expected any more. Stages with event-time state fire
    /// what is complete; every stage forwards it. Sinks may ignore it.
    fn watermark(&mut self, watermark: Timestamp) -> Result<()> {
        let _ = watermark;
        Ok(())
    }

    /// Makes everything pushed so far durable before the source records its
    /// progress (commits Kafka offsets): sinks wait until their writes are
    /// acknowledged. Stages forward it; the default only flushes. Output
    /// already handed to another task (across an exchange) is not covered.
    fn sync(&mut self) -> Result<()> {
        self.flush()
    }

    /// The input has gone idle: no records came for the source's idle
    /// timeout, so its watermark must not hold back the others'. Downstream
    /// channels leave it out of their minimum until its next watermark.
    /// Every stage forwards it; sinks may ignore it.
    fn idle(&mut self) -> Result<()> {
        Ok(())
    }

    /// A checkpoint barrier passes: write the stage's state into
    /// `snapshot`, then forward it (senders pass the barrier on to the next
    /// task; sinks stage what they wrote since the last checkpoint, to be
    /// published by [`commit`](Self::commit)). Stateless stages only
    /// forward it; the default, for sinks that publish at once, does
    /// nothing.
    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        let _ = snapshot;
        Ok(())
    }

    /// A run starts, before any record: open the stage's state in the
    /// run's backend and read it back from the checkpoint being restored
    /// (if there is one; [`Restore::epoch`](crate::checkpoint::Restore::epoch)),
    /// then forward it. Called on every run, with checkpoints or without
    /// ([`Restore::checkpointing`](crate::checkpoint::Restore::checkpointing)).
    fn restore(&mut self, restore: &crate::checkpoint::Restore<'_>) -> Result<()> {
        let _ = restore;
        Ok(())
    }

    /// Checkpoint `epoch` is complete and durable: sinks publish the output
    /// they staged for it and before. Stages forward it.
    fn commit(&mut self, epoch: u64) -> Result<()> {
        let _ = epoch;
        Ok(())
    }

    /// The input has ended: emit what is pending, flush and forward the end
    /// downstream.
    fn finish(&mut self) -> Result<()>;
}

/// A stage of a chain before it is linked: it knows its input and output
/// types and wraps the pusher that follows it.
///
/// Stages are cloned once per parallel instance of their task, so the
/// closures they hold must be `Clone` (closures that capture only `Clone`
/// values are).
#[diagnostic::on_unimplemented(
    message = "this stage cannot take `{In}` records",
    label = "the stage's input does not match the previous stage's output"
)]
pub trait Stage<In>: Clone + Send + 'static {
    /// What the stage emits.
    type Out;
    /// The linked pusher, given the pusher `Next` that follows.
    type Linked<Next: Push<Self::Out> + Send>: Push<In> + Send;

    /// Links the stage in front of `next`; `meter` counts its records.
    fn link<Next: Push<Self::Out> + Send>(self, next: Next, meter: &MeterSet)
    -> Self::Linked<Next>;
}

/// Gives each linked stage of one task instance its counters.
#[derive(Debug)]
pub struct MeterSet {
    pub(crate) metrics: std::sync::Arc<crate::exec::metrics::Metrics>,
}

impl MeterSet {
    /// The counters for the stage with graph node `node`.
    pub(crate) fn meter(&self, node: usize) -> Meter {
        Meter::new(self.metrics.clone(), node)
    }
}

/// The empty chain: passes records through unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<T: 'static> Stage<T> for Identity {
    type Out = T;
    type Linked<Next: Push<T> + Send> = Next;

    #[inline]
    fn link<Next: Push<T> + Send>(self, next: Next, _meter: &MeterSet) -> Next {
        next
    }
}

/// Two stages one after the other.
#[derive(Debug, Clone, Copy)]
pub struct Then<A, B>(pub A, pub B);

impl<In, A, B> Stage<In> for Then<A, B>
where
    A: Stage<In>,
    B: Stage<A::Out>,
{
    type Out = B::Out;
    type Linked<Next: Push<B::Out> + Send> = A::Linked<B::Linked<Next>>;

    #[inline]
    fn link<Next: Push<B::Out> + Send>(self, next: Next, meter: &MeterSet) -> Self::Linked<Next> {
        self.0.link(self.1.link(next, meter), meter)
    }
}

/// A stage built from a function and the node id it reports under; the
/// stateless stages share this shape.
#[derive(Debug, Clone, Copy)]
pub struct StageFn<F> {
    pub(crate) f: F,
    pub(crate) node: usize,
}

/// A pusher that forwards to a `&mut` one; lets tests and benches drive a
/// chain whose end they own.
impl<In, P: Push<In> + ?Sized> Push<In> for &mut P {
    #[inline]
    fn push(&mut self, item: In) -> Result<()> {
        (**self).push(item)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn watermark(&mut self, watermark: Timestamp) -> Result<()> {
        (**self).watermark(watermark)
    }
    fn idle(&mut self) -> Result<()> {
        (**self).idle()
    }
    fn sync(&mut self) -> Result<()> {
        (**self).sync()
    }
    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        (**self).snapshot(snapshot)
    }
    fn restore(&mut self, restore: &crate::checkpoint::Restore<'_>) -> Result<()> {
        (**self).restore(restore)
    }
    fn commit(&mut self, epoch: u64) -> Result<()> {
        (**self).commit(epoch)
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}
