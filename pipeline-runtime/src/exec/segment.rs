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
use crate::operator::key_by::KeyByStage;
use crate::operator::{Identity, MeterSet, Push, Stage, Then};
use crate::Result;
use std::hash::Hash;
use std::marker::PhantomData;

/// A stream's plan up to its last stage; `T` is what it emits.
pub trait Segment<T>: Sized + 'static {
    /// The segment with one more stage at its end.
    type Then<S: Stage<T>>: Segment<S::Out>;

    /// Appends a stage.
    fn then<S: Stage<T>>(self, stage: S) -> Self::Then<S>;

    /// How many parallel instances emit the records.
    fn parallelism(&self) -> usize;

    /// Ends the segment with `stage` and one writer per instance, adding the
    /// linked tasks to `plan`.
    fn terminate<S, W>(self, stage: S, writers: Vec<W>, plan: &mut Plan)
    where
        S: Stage<T>,
        W: Push<S::Out> + Send + 'static;
}

/// A segment that starts at origins (source instances or channel ends) and
/// runs a chain of stages in the same task.
pub struct SourceSeg<In, S> {
    pub(crate) origins: Vec<Box<dyn Origin<In>>>,
    pub(crate) stage: S,
    pub(crate) task: String,
}

impl<In, S> std::fmt::Debug for SourceSeg<In, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSeg")
            .field("task", &self.task)
            .field("parallelism", &self.origins.len())
            .finish()
    }
}

impl<In: Send + 'static, S: Stage<In>> Segment<S::Out> for SourceSeg<In, S> {
    type Then<S2: Stage<S::Out>> = SourceSeg<In, Then<S, S2>>;

    fn then<S2: Stage<S::Out>>(self, stage: S2) -> Self::Then<S2> {
        SourceSeg {
            origins: self.origins,
            stage: Then(self.stage, stage),
            task: self.task,
        }
    }

    fn parallelism(&self) -> usize {
        self.origins.len()
    }

    fn terminate<S2, W>(self, stage: S2, writers: Vec<W>, plan: &mut Plan)
    where
        S2: Stage<S::Out>,
        W: Push<S2::Out> + Send + 'static,
    {
        let stage = Then(self.stage, stage);
        let origins = self.origins;
        plan.add_task(self.task, move |meters: &MeterSet| {
            origins
                .into_iter()
                .zip(writers)
                .map(|(origin, writer)| {
                    Box::new(ChainTask {
                        origin,
                        chain: stage.clone().link(writer, meters),
                        buf: Vec::new(),
                    }) as Box<dyn TaskInstance>
                })
                .collect()
        });
    }
}

/// A segment whose upstream is keyed by `key` and whose records then run
/// through `down` at `parallelism` instances.
pub struct KeyedSeg<Up, T, K, F, Down> {
    pub(crate) up: Up,
    pub(crate) key: KeyByStage<F>,
    pub(crate) down: Down,
    pub(crate) fused: bool,
    pub(crate) parallelism: usize,
    pub(crate) task: String,
    pub(crate) _types: PhantomData<fn() -> (K, T)>,
}

impl<Up, T, K, F, Down> std::fmt::Debug for KeyedSeg<Up, T, K, F, Down> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedSeg")
            .field("task", &self.task)
            .field("fused", &self.fused)
            .field("parallelism", &self.parallelism)
            .finish()
    }
}

impl<Up, T, K, F, Down> Segment<Down::Out> for KeyedSeg<Up, T, K, F, Down>
where
    Up: Segment<T>,
    T: Send + 'static,
    K: Hash + Send + 'static,
    F: FnMut(&T) -> K + Clone + Send + 'static,
    Down: Stage<(K, T)>,
{
    type Then<S: Stage<Down::Out>> = KeyedSeg<Up, T, K, F, Then<Down, S>>;

    fn then<S: Stage<Down::Out>>(self, stage: S) -> Self::Then<S> {
        KeyedSeg {
            up: self.up,
            key: self.key,
            down: Then(self.down, stage),
            fused: self.fused,
            parallelism: self.parallelism,
            task: self.task,
            _types: PhantomData,
        }
    }

    fn parallelism(&self) -> usize {
        self.parallelism
    }

    fn terminate<S, W>(self, stage: S, writers: Vec<W>, plan: &mut Plan)
    where
        S: Stage<Down::Out>,
        W: Push<S::Out> + Send + 'static,
    {
        let down = Then(self.down, stage);
        if self.fused {
            self.up.terminate(Then(self.key, down), writers, plan);
            return;
        }
        let upstream = self.up.parallelism();
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..self.parallelism).map(|_| channel()).unzip();
        let senders = (0..upstream).map(|_| HashSender::new(txs.clone())).collect();
        drop(txs);
        self.up.terminate(self.key, senders, plan);
        let origins = rxs
            .into_iter()
            .map(|rx| Box::new(ChannelOrigin::new(rx, upstream)) as Box<dyn Origin<(K, T)>>)
            .collect();
        SourceSeg {
            origins,
            stage: down,
            task: self.task,
        }
        .terminate(Identity, writers, plan);
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
}

impl<In: Send, P: Push<In> + Send> TaskInstance for ChainTask<In, P> {
    fn run(mut self: Box<Self>, env: &RunEnv) -> Result<()> {
        self.origin.open(env)?;
        loop {
            if env.is_cancelled() {
                return Err(crate::PipelineError::Cancelled);
            }
            let fill = self.origin.fill(&mut self.buf)?;
            for item in self.buf.drain(..) {
                self.chain.push(item)?;
            }
            match fill {
                Fill::More => self.chain.flush()?,
                Fill::End => return self.chain.finish(),
            }
        }
    }
}
