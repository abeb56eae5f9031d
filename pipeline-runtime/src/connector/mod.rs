//! Sources and sinks, and the bad-input policy every source applies.
//!
//! A connector is a value holding its code options (closures, formats) plus
//! a serde `Settings` struct holding the options a user may override at run
//! time with `--set NAME.KEY=VALUE` or a config file. The builder merges the
//! overrides into the settings, so every connector gets them the same way.

pub mod collect;
pub mod discard;
pub mod file;
pub mod generator;
pub mod nexmark;
pub mod parts;
pub mod socket;
pub mod stdio;

use crate::ErrorKind;
use crate::exec::channel::ForwardSender;
use crate::exec::origin::{Origin, RunEnv};
use crate::operator::Push;
use crate::{DecodeError, PipelineError, Position, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A source of records of type `T`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::{SourceConnector, SourceCtx};
/// use pipeline_runtime::connector::generator::Iter;
/// // Sources are usually written in the DSL as `iter(items: ..)`; this is
/// // the value it expands to.
/// let src = Iter::new(vec![1_u32, 2, 3]);
/// assert_eq!(<Iter<Vec<u32>> as SourceConnector<u32>>::KIND, "iter");
/// ```
#[diagnostic::on_unimplemented(
    message = "this source cannot produce `{T}` records",
    label = "the source's records do not have the declared type"
)]
pub trait SourceConnector<T>: Sized + 'static {
    /// Options that `--set` and config files may override.
    type Settings: Serialize + DeserializeOwned;
    /// The connector's name in the DSL, such as `socket`.
    const KIND: &'static str;

    /// One origin per parallel instance. Does no I/O: files are opened and
    /// sockets connected in [`Origin::open`], on the task's own thread.
    fn instances(
        self,
        settings: Self::Settings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<T>>>>;
}

/// A sink for records of type `T`.
pub trait SinkConnector<T>: Sized + 'static {
    /// Options that `--set` and config files may override.
    type Settings: Serialize + DeserializeOwned;
    /// The connector's name in the DSL, such as `file`.
    const KIND: &'static str;
    /// What each parallel instance writes with.
    type Writer: Push<T> + Send + 'static;

    /// One writer per parallel instance. Does no I/O: files are created on
    /// first write.
    fn writers(self, settings: Self::Settings, ctx: &SinkCtx) -> Result<Vec<Self::Writer>>;
}

/// What a source connector learns about its place in the pipeline.
#[derive(Debug)]
pub struct SourceCtx {
    pub(crate) name: String,
    pub(crate) parallelism: usize,
    pub(crate) node: usize,
    pub(crate) policy: BadInputPolicy,
    pub(crate) dead_letters: Vec<Option<ForwardSender<DeadLetter>>>,
    pub(crate) dead_taken: usize,
    pub(crate) dead_node: usize,
}

impl SourceCtx {
    /// The source's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parallelism the pipeline runs at; a source may use fewer
    /// instances (one socket connection, fewer files than instances).
    pub fn parallelism(&self) -> usize {
        self.parallelism
    }

    /// The bad-input handler for instance `instance`.
    pub fn bad_input(&mut self, instance: usize) -> BadInput {
        let dead = self.dead_letters.get_mut(instance).and_then(Option::take);
        self.dead_taken += usize::from(dead.is_some());
        BadInput {
            source: self.name.clone(),
            node: self.node,
            policy: self.policy,
            dead,
            dead_node: self.dead_node,
            skipped: 0,
            env: None,
            finished: false,
        }
    }
}

/// What a sink connector learns about its place in the pipeline.
#[derive(Debug)]
pub struct SinkCtx {
    pub(crate) name: String,
    pub(crate) parallelism: usize,
    pub(crate) collectors: collect::Collectors,
    pub(crate) checkpointing: bool,
}

impl SinkCtx {
    /// The sink's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many writers to make.
    pub fn parallelism(&self) -> usize {
        self.parallelism
    }

    /// Whether the run takes checkpoints: sinks that can should then stage
    /// their output and publish it on [`Push::commit`].
    pub fn checkpointing(&self) -> bool {
        self.checkpointing
    }
}

/// What a source does with a record it cannot decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadInputPolicy {
    /// Stop the pipeline with an error naming the source, the position and
    /// the record.
    #[default]
    Fail,
    /// Drop the record, count it in the summary and log a warning.
    Skip,
    /// Send a [`DeadLetter`] to the source's dead-letter stream.
    DeadLetter,
}

/// A record a source could not decode, as sent to its dead-letter stream.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::DeadLetter;
/// let d = DeadLetter { source: "clicks".into(), position: "in.csv:3".into(),
///                      error: "invalid digit".into(), raw: "x,y".into() };
/// assert!(serde_json::to_string(&d).unwrap().contains("in.csv:3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The source's name.
    pub source: String,
    /// Where the record was (`file:line`, `connection:line`).
    pub position: String,
    /// Why it could not be decoded.
    pub error: String,
    /// The record as read, cut to [`crate::MAX_QUOTED`] characters.
    pub raw: String,
}

/// Applies a source's [`BadInputPolicy`] to records that fail to decode.
#[derive(Debug)]
pub struct BadInput {
    source: String,
    node: usize,
    policy: BadInputPolicy,
    dead: Option<ForwardSender<DeadLetter>>,
    dead_node: usize,
    skipped: u64,
    env: Option<RunEnv>,
    /// Whether the dead-letter stream was ended.
    finished: bool,
}

/// Warnings logged per source instance before further skips are only counted.
const SKIP_WARNINGS: u64 = 10;

impl BadInput {
    /// Binds the handler to the run (for its counters).
    pub fn open(&mut self, env: &RunEnv) {
        self.env = Some(env.clone());
    }

    /// Handles one record that failed to decode: returns the error for
    /// `fail`, counts and logs it for `skip`, sends it on for `dead_letter`.
    pub fn handle(
        &mut self,
        position: impl FnOnce() -> Position,
        raw: &str,
        error: DecodeError,
    ) -> Result<()> {
        match self.policy {
            BadInputPolicy::Fail => Err(PipelineError::from(ErrorKind::BadRecord {
                source_name: self.source.clone(),
                position: position(),
                raw: crate::error::quote_cut(raw),
                error,
            })),
            BadInputPolicy::Skip => {
                self.skipped += 1;
                if self.skipped <= SKIP_WARNINGS {
                    tracing::warn!(
                        source = %self.source,
                        position = %position(),
                        record = %crate::error::quote_cut(raw),
                        "skipped a bad record: {error}"
                    );
                    if self.skipped == SKIP_WARNINGS {
                        tracing::warn!(source = %self.source, "further bad records are counted, not logged");
                    }
                }
                if let Some(env) = &self.env {
                    env.metrics.add_skipped(self.node, 1);
                }
                Ok(())
            }
            BadInputPolicy::DeadLetter => {
                let letter = DeadLetter {
                    source: self.source.clone(),
                    position: position().to_string(),
                    error: error.to_string(),
                    raw: crate::error::quote_cut(raw),
                };
                if let Some(env) = &self.env {
                    env.metrics.add_out(self.dead_node, 1);
                }
                match &mut self.dead {
                    Some(tx) => tx.push(letter),
                    None => Err(PipelineError::from(ErrorKind::Executor(format!(
                        "source `{}` has no dead-letter stream",
                        self.source
                    )))),
                }
            }
        }
    }

    /// Sends dead letters buffered so far.
    pub fn flush(&mut self) -> Result<()> {
        match &mut self.dead {
            Some(tx) => tx.flush(),
            None => Ok(()),
        }
    }

    /// Passes a checkpoint barrier to the dead-letter stream (until the
    /// stream has ended).
    pub fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        match &mut self.dead {
            Some(tx) if !self.finished => tx.snapshot(snapshot),
            _ => Ok(()),
        }
    }

    /// The source instance has ended.
    pub fn finish(&mut self) -> Result<()> {
        self.finished = true;
        match &mut self.dead {
            Some(tx) => tx.finish(),
            None => Ok(()),
        }
    }
}

/// The settings of a connector that has none to override.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

pub mod lines;
