//! Segments: the part of a stream's plan that is not linked yet.
//!
//! A stream grows forward (`source -> map -> key_by -> aggregate`) but a
//! push chain is linked backward, from its sink. A segment holds what is
//! known so far (origins, stages, a pending keyed exchange) and is
//! *terminated* once the stream's end is known: then each task's chain is
//! linked into one monomorphized type. Whether a `key_by` fuses into its
//! upstream task (parallelism 1) or cuts the graph with a hash exchange is
//! decided there, so both cases have the same static types.

use super::channel::{ChannelOrigin, HashSender, channel};
use super::origin::{Fill, Origin, RunEnv};
use super::plan::Plan;
use crate::ErrorKind;
use crate::Result;
use crate::connector::BadInputPolicy;
use crate::exec::metrics::Meter;
use crate::operator::key_by::KeyByStage;
use crate::operator::{MeterSet, Push, Stage, Then};
use std::hash::Hash;
use std::marker::PhantomData;

/// A stream's plan up to its last stage; `T` is what it emits.
///
/// Stage methods do not require this bound, so a stage whose closure does
/// not fit is reported once, at that stage; the chain's end (its sink) then
/// only says that an earlier stage failed.
#[diagnostic::on_unimplemented(
    message = "this chain cannot be completed because an earlier stage has an error",
    label = "see the error reported above for an earlier stage of this chain"
)]
pub trait Segment<T>: Sized + 'static {
    /// Ends the segment with `stage` and one writer per instance, adding the
    /// linked tasks to `plan`.
    fn terminate<S, W>(self, stage: S, writers: Vec<W>, plan: &mut Plan)
    where
        S: Stage<T>,
        W: Push<S::Out> + Send + 'static;
}

/// A segment that starts at origins (source instances or channel ends).
pub struct SourceSeg<In> {
    pub(crate) origins: Vec<Box<dyn Origin<In>>>,
    pub(crate) task: String,
    /// The graph node whose output is these origins' records, for a source
    /// (counted per batch, not per record).
    pub(crate) counted: Option<usize>,
    /// What its source does with bad input (`Fail` for channel ends).
    pub(crate) policy: crate::connector::BadInputPolicy,
}

impl<In> std::fmt::Debug for SourceSeg<In> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSeg")
            .field("task", &self.task)
            .field("parallelism", &self.origins.len())
            .finish()
    }
}

impl<In: Send + 'static> Segment<In> for SourceSeg<In> {
    fn terminate<S, W>(self, stage: S, writers: Vec<W>, plan: &mut Plan)
    where
        S: Stage<In>,
        W: Push<S::Out> + Send + 'static,
    {
        let (origins, counted) = (self.origins, self.counted);
        plan.add_task(self.task, move |meters: &MeterSet| {
            origins
                .into_iter()
                .zip(writers)
                .map(|(origin, writer)| {
                    Box::new(ChainTask {
                        origin,
                        chain: stage.clone().link(writer, meters),
                        buf: Vec::new(),
                        meter: counted.map(|node| meters.meter(node)),
                    }) as Box<dyn TaskInstance>
                })
                .collect()
        });
    }
}

/// A segment `seg` (emitting `T`) followed by one more stage in the same
/// task.
pub struct Chained<G, T, S> {
    pub(crate) seg: G,
    pub(crate) stage: S,
    pub(crate) _t: PhantomData<fn() -> T>,
}

impl<G, T, S> std::fmt::Debug for Chained<G, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Chained")
    }
}

#[diagnostic::do_not_recommend]
impl<G, T, S> Segment<S::Out> for Chained<G, T, S>
where
    G: Segment<T>,
    T: 'static,
    S: Stage<T>,
{
    fn terminate<S2, W>(self, stage: S2, writers: Vec<W>, plan: &mut Plan)
    where
        S2: Stage<S::Out>,
        W: Push<S2::Out> + Send + 'static,
    {
        self.seg.terminate(Then(self.stage, stage), writers, plan);
    }
}

/// A segment whose upstream `up` is keyed by `key`, then runs at
/// `parallelism` instances: fused into the upstream task when both run one
/// instance, else behind a hash exchange.
pub struct KeyedSeg<Up, T, K, F> {
    pub(crate) up: Up,
    pub(crate) key: KeyByStage<F>,
    pub(crate) fused: bool,
    pub(crate) up_parallelism: usize,
    pub(crate) parallelism: usize,
    pub(crate) task: String,
    pub(crate) _types: PhantomData<fn() -> (K, T)>,
}

impl<Up, T, K, F> std::fmt::Debug for KeyedSeg<Up, T, K, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedSeg")
            .field("task", &self.task)
            .field("fused", &self.fused)
            .field("parallelism", &self.parallelism)
            .finish()
    }
}

#[diagnostic::do_not_recommend]
impl<Up, T, K, F> Segment<(K, T)> for KeyedSeg<Up, T, K, F>
where
    Up: Segment<T>,
    T: Send + 'static,
    K: Hash + Send + 'static,
    F: FnMut(&T) -> K + Clone + Send + 'static,
{
    fn terminate<S, W>(self, stage: S, writers: Vec<W>, plan: &mut Plan)
    where
        S: Stage<(K, T)>,
        W: Push<S::Out> + Send + 'static,
    {
        if self.fused {
            self.up.terminate(Then(self.key, stage), writers, plan);
            return;
        }
        let upstream = self.up_parallelism;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..self.parallelism).map(|_| channel()).unzip();
        let senders = (0..upstream)
            .map(|i| HashSender::new(txs.clone(), i))
            .collect();
        drop(txs);
        self.up.terminate(self.key, senders, plan);
        let origins = rxs
            .into_iter()
            .map(|rx| Box::new(ChannelOrigin::new(rx, upstream)) as Box<dyn Origin<(K, T)>>)
            .collect();
        SourceSeg {
            origins,
            task: self.task,
            counted: None,
            policy: BadInputPolicy::Fail,
        }
        .terminate(stage, writers, plan);
    }
}

/// One running instance of a task.
pub(crate) trait TaskInstance: Send {
    fn run(self: Box<Self>, env: &RunEnv) -> Result<()>;
}

/// An origin feeding a linked chain: the loop every task runs.
struct ChainTask<In, P> {
    origin: Box<dyn Origin<In>>,
    chain: P,
    buf: Vec<In>,
    meter: Option<Meter>,
}

impl<In: Send, P: Push<In> + Send> TaskInstance for ChainTask<In, P> {
    fn run(mut self: Box<Self>, env: &RunEnv) -> Result<()> {
        self.origin.open(env)?;
        loop {
            if env.is_cancelled() {
                return Err(crate::PipelineError::from(ErrorKind::Cancelled));
            }
            let fill = self.origin.fill(&mut self.buf)?;
            if let Some(meter) = &mut self.meter {
                meter.record_many(self.buf.len() as u64);
                meter.publish();
            }
            for item in self.buf.drain(..) {
                self.chain.push(item)?;
            }
            match fill {
                Fill::Partial => continue,
                Fill::More => self.chain.flush()?,
                Fill::Watermark(watermark) => {
                    self.chain.watermark(watermark)?;
                    self.chain.flush()?;
                }
                Fill::Idle => {
                    self.chain.idle()?;
                    self.chain.flush()?;
                }
                Fill::End => {
                    self.chain.finish()?;
                    return self.origin.commit();
                }
            }
            if self.origin.commit_due() {
                self.chain.sync()?;
                self.origin.commit()?;
            }
        }
    }
}
