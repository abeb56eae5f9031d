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
use crate::checkpoint::{Checkpoints, Restore, Snapshot, SourcePosition, TaskReport};
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
    /// The source's name, for a source (its positions in checkpoints).
    pub(crate) source: Option<String>,
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
        let name = plan.unique_task_name(self.task);
        let task = name.clone();
        let source = self.source;
        plan.add_task(name, move |meters: &MeterSet| {
            let parallelism = origins.len();
            origins
                .into_iter()
                .zip(writers)
                .enumerate()
                .map(|(instance, (origin, writer))| {
                    Box::new(ChainTask {
                        origin,
                        chain: stage.clone().link(writer, meters),
                        buf: Vec::new(),
                        meter: counted.map(|node| meters.meter(node)),
                        task: task.clone(),
                        source: source.clone(),
                        instance,
                        parallelism,
                        taken: 0,
                        committed: 0,
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
            source: None,
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
    task: String,
    /// The source's name, when the origin is a source instance.
    source: Option<String>,
    instance: usize,
    parallelism: usize,
    /// The newest checkpoint this instance took, and the newest it saw
    /// complete.
    taken: u64,
    committed: u64,
}

impl<In: Send, P: Push<In> + Send> ChainTask<In, P> {
    /// Starts from the checkpoint being restored, if any (stages are told
    /// about the start either way, so sinks learn the first checkpoint's
    /// number).
    fn restore(&mut self, env: &RunEnv) -> Result<()> {
        let Some(checkpoints) = env.checkpoints.as_deref() else {
            // No checkpoints: stages only open their state.
            return self.chain.restore(&Restore {
                checkpoints: None,
                state: &env.state,
                instance: self.instance,
                parallelism: self.parallelism,
            });
        };
        if let Some(epoch) = checkpoints.restored_epoch() {
            self.taken = epoch;
            self.committed = epoch;
        }
        if let Some(name) = &self.source
            && let Some(epoch) = checkpoints.restored_epoch()
        {
            match checkpoints.source_positions(name) {
                Some(saved) => self.origin.restore(self.instance, &saved)?,
                None => tracing::warn!(
                    source = %name,
                    "checkpoint {epoch} has no position for this source: it starts from the beginning"
                ),
            }
        }
        let started = std::time::Instant::now();
        self.chain.restore(&Restore {
            checkpoints: Some(checkpoints),
            state: &env.state,
            instance: self.instance,
            parallelism: self.parallelism,
        })?;
        checkpoints.restored_in(started.elapsed());
        Ok(())
    }

    /// Takes checkpoint `epoch` (`None`: the final report once the input
    /// ended): the source's position, every stage's state, the barrier
    /// passed on.
    fn snapshot(&mut self, checkpoints: &Checkpoints, epoch: Option<u64>) -> Result<()> {
        let mut snapshot = Snapshot {
            checkpoints,
            epoch,
            instance: self.instance,
            report: TaskReport {
                task: self.task.clone(),
                instance: self.instance,
                ..TaskReport::default()
            },
        };
        if let Some(name) = &self.source {
            let position = self.origin.snapshot(&mut snapshot)?;
            if position.is_none() && epoch == Some(self.committed + 1) && self.instance == 0 {
                tracing::warn!(
                    source = %name,
                    "this source cannot go back to a checkpoint: after a restart, what it read since is not read again"
                );
            }
            snapshot.report.source = Some(SourcePosition {
                name: name.clone(),
                position,
            });
        }
        self.chain.snapshot(&mut snapshot)?;
        let report = snapshot.report;
        match epoch {
            Some(epoch) => {
                self.taken = epoch;
                checkpoints.ack(epoch, report);
            }
            None => checkpoints.finish(report),
        }
        Ok(())
    }

    /// Tells the chain about checkpoints completed since it last looked.
    fn follow_commits(&mut self, checkpoints: &Checkpoints) -> Result<()> {
        let committed = checkpoints.committed();
        if committed > self.committed {
            self.committed = committed;
            self.origin.checkpoint_complete(committed)?;
            self.chain.commit(committed)?;
        }
        Ok(())
    }
}

impl<In: Send, P: Push<In> + Send> ChainTask<In, P> {
    /// The task's loop, until its input ends (and, with checkpoints, the
    /// last checkpoint is written) or the run is cancelled.
    fn work(&mut self, env: &RunEnv) -> Result<()> {
        let checkpoints = env.checkpoints.clone();
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
                Fill::Barrier(epoch) => {
                    if let Some(cp) = &checkpoints {
                        self.snapshot(cp, Some(epoch))?;
                    }
                    self.chain.flush()?;
                }
                Fill::End => {
                    self.chain.finish()?;
                    self.origin.commit()?;
                    let Some(cp) = &checkpoints else {
                        return Ok(());
                    };
                    // The last report, then the last checkpoint, which
                    // needs every instance's. Checkpoints completed
                    // meanwhile are published as they complete (other
                    // branches of the pipeline may run long).
                    self.snapshot(cp, None)?;
                    loop {
                        match cp.wait_final_or_commit(self.committed, &env.cancelled)? {
                            Some(last) if last > self.committed => {
                                self.committed = last;
                                self.origin.checkpoint_complete(last)?;
                                return self.chain.commit(last);
                            }
                            Some(_) => return Ok(()),
                            None => self.follow_commits(cp)?,
                        }
                    }
                }
            }
            if let Some(cp) = &checkpoints {
                if self.source.is_some() && cp.requested() > self.taken {
                    self.snapshot(cp, Some(cp.requested()))?;
                }
                self.follow_commits(cp)?;
            }
            if self.origin.commit_due() {
                self.chain.sync()?;
                self.origin.commit()?;
            }
        }
    }
}

impl<In: Send, P: Push<In> + Send> TaskInstance for ChainTask<In, P> {
    fn run(mut self: Box<Self>, env: &RunEnv) -> Result<()> {
        self.restore(env)?;
        // A panicking stage is reported by the executor; the commit below
        // must happen first.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work(env)))
        {
            Ok(result) => result,
            Err(panic) => {
                if let Some(cp) = &env.checkpoints {
                    let published = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.follow_commits(cp)
                    }));
                    if let Ok(Err(e)) = published {
                        tracing::warn!(task = %self.task, "could not publish the output of checkpoint {}: {e}", cp.committed());
                    }
                }
                std::panic::resume_unwind(panic);
            }
        };
        if result.is_err()
            && let Some(cp) = &env.checkpoints
        {
            // Publishing what a complete checkpoint covers is always
            // right, and a stop or another task's failure may come right
            // after one completes: publish it before leaving, or a
            // restart (which goes on after it) would never see it.
            if let Err(e) = self.follow_commits(cp) {
                tracing::warn!(task = %self.task, "could not publish the output of checkpoint {}: {e}", cp.committed());
            }
        }
        result
    }
}
