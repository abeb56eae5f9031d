//! The plan a pipeline builds: its graph, its tasks, and its settings.

use super::channel::{ChannelOrigin, ForwardSender, MAX_PARALLELISM, channel};
use super::graph::{EdgeKind, Graph, NodeKind};
use super::segment::{SourceSeg, TaskInstance};
use super::stream::Stream;
use crate::ErrorKind;
use crate::config::Settings;
use crate::connector::collect::Collectors;
use crate::connector::{BadInputPolicy, DeadLetter, SourceConnector, SourceCtx};
use crate::exec::origin::Origin;
use crate::operator::MeterSet;
use crate::{ConfigError, PipelineError, Result};
use std::cell::RefCell;
use std::rc::Rc;

type TaskFactory = Box<dyn FnOnce(&MeterSet) -> Vec<Box<dyn TaskInstance>>>;

/// The stream a source returns.
pub type SourceStream<T> = Stream<T, SourceSeg<T>>;

/// A dead-letter stream.
pub type DeadLetterStream = Stream<DeadLetter, SourceSeg<DeadLetter>>;

/// Everything a pipeline has built so far.
pub struct Plan {
    pub(crate) graph: Graph,
    pub(crate) parallelism: usize,
    pub(crate) mode: super::ExecMode,
    pub(crate) settings: Settings,
    pub(crate) checkpoint: Option<crate::checkpoint::CheckpointOptions>,
    pub(crate) state: crate::state::StateBackend,
    pub(crate) names: Vec<(String, NodeKind, &'static str)>,
    pub(crate) tasks: Vec<(String, TaskFactory)>,
    pub(crate) collectors: Collectors,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("graph", &self.graph)
            .field("parallelism", &self.parallelism)
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl Plan {
    /// `name`, or `name~N` when N - 1 tasks of that name exist already:
    /// two chains can start the same way (a stream read by two joins), and
    /// checkpoints tell task instances apart by name. Plans are built in
    /// the same order every run, so the names are stable across restarts.
    pub(crate) fn unique_task_name(&self, name: String) -> String {
        let taken = |n: &str| self.tasks.iter().any(|(t, _)| t == n);
        if !taken(&name) {
            return name;
        }
        (2..)
            .map(|i| format!("{name}~{i}"))
            .find(|n| !taken(n))
            .unwrap_or(name)
    }

    pub(crate) fn add_task<F>(&mut self, name: String, factory: F)
    where
        F: FnOnce(&MeterSet) -> Vec<Box<dyn TaskInstance>> + 'static,
    {
        self.tasks.push((name, Box::new(factory)));
    }

    /// Registers a source or sink name, which must be unique, and returns
    /// its settings with overrides applied.
    pub(crate) fn claim<S>(
        &mut self,
        name: &str,
        kind: NodeKind,
        connector: &'static str,
        defaults: S,
    ) -> Result<S>
    where
        S: serde::Serialize + serde::de::DeserializeOwned,
    {
        if self.names.iter().any(|(n, _, _)| n == name) {
            return Err(ConfigError::Invalid {
                name: name.to_owned(),
                message: "this name is used by two sources or sinks".into(),
            }
            .into());
        }
        self.names.push((name.to_owned(), kind, connector));
        Ok(self.settings.resolve(name, defaults)?)
    }

    /// Fails if a setting names no source or sink, or the parallelism is
    /// out of range.
    pub(crate) fn check_settings(&self) -> Result<(), ConfigError> {
        if self.parallelism > MAX_PARALLELISM {
            return Err(ConfigError::Invalid {
                name: "parallelism".into(),
                message: format!(
                    "{} is more than the {MAX_PARALLELISM} key groups keyed state is spread over",
                    self.parallelism
                ),
            });
        }
        for name in self.settings.names() {
            if !self.names.iter().any(|(n, _, _)| n == name) {
                let known: Vec<&str> = self.names.iter().map(|(n, _, _)| n.as_str()).collect();
                return Err(ConfigError::UnknownName {
                    name: name.to_owned(),
                    known: known.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Builds a pipeline: sources come from here, everything else from the
/// streams they return. The `pipeline!` macro writes these calls; they can
/// also be written by hand.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::generator::Iter;
/// use pipeline_runtime::connector::collect::Collect;
/// use pipeline_runtime::connector::BadInputPolicy;
/// use pipeline_runtime::exec::{PipelineBuilder, RunOptions};
///
/// let b = PipelineBuilder::new("Squares", RunOptions::default());
/// let xs = b.source("xs", Iter::new(1..=3_u64), Default::default(), BadInputPolicy::Fail).unwrap();
/// xs.map(|x| x * x).sink("out", Collect, Default::default()).unwrap();
/// let outcome = b.run().unwrap();
/// let mut got: Vec<u64> = outcome.collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec![1, 4, 9]);
/// ```
#[derive(Debug, Clone)]
pub struct PipelineBuilder {
    pub(crate) plan: Rc<RefCell<Plan>>,
}

impl PipelineBuilder {
    /// A builder for the pipeline `name`, run with `options`.
    pub fn new(name: &str, options: super::RunOptions) -> Self {
        let parallelism = options
            .parallelism
            .or(options.settings.parallelism)
            .unwrap_or(1)
            .max(1);
        PipelineBuilder {
            plan: Rc::new(RefCell::new(Plan {
                graph: Graph {
                    name: name.to_owned(),
                    ..Graph::default()
                },
                parallelism,
                mode: options.mode.unwrap_or_default(),
                settings: options.settings,
                checkpoint: options.checkpoint,
                state: options.state,
                names: Vec::new(),
                tasks: Vec::new(),
                collectors: Collectors::default(),
            })),
        }
    }

    /// The parallelism keyed stages run at.
    pub fn parallelism(&self) -> usize {
        self.plan.borrow().parallelism
    }

    /// The graph built so far.
    pub fn graph(&self) -> super::Graph {
        self.plan.borrow().graph.clone()
    }

    /// Adds the source `name`; `settings` are its defaults, overridable by
    /// name. Records it cannot decode are handled by `policy`
    /// ([`BadInputPolicy::DeadLetter`] needs
    /// [`source_with_dead_letters`](Self::source_with_dead_letters)).
    pub fn source<T, C>(
        &self,
        name: &str,
        connector: C,
        settings: C::Settings,
        policy: BadInputPolicy,
    ) -> Result<SourceStream<T>>
    where
        T: Send + 'static,
        C: SourceConnector<T>,
    {
        if policy == BadInputPolicy::DeadLetter {
            return Err(PipelineError::from(ErrorKind::Executor(format!(
                "source `{name}`: a dead-letter policy needs a dead-letter stream"
            ))));
        }
        Ok(self.add_source(name, connector, settings, policy, false)?.0)
    }

    /// Adds the source `name` whose undecodable records go to the returned
    /// dead-letter stream.
    #[allow(clippy::type_complexity)]
    pub fn source_with_dead_letters<T, C>(
        &self,
        name: &str,
        connector: C,
        settings: C::Settings,
    ) -> Result<(SourceStream<T>, DeadLetterStream)>
    where
        T: Send + 'static,
        C: SourceConnector<T>,
    {
        let (records, dead) =
            self.add_source(name, connector, settings, BadInputPolicy::DeadLetter, true)?;
        let dead = dead.ok_or_else(|| {
            PipelineError::from(ErrorKind::Executor(format!(
                "source `{name}` made no dead-letter stream"
            )))
        })?;
        Ok((records, dead))
    }

    #[allow(clippy::type_complexity)]
    fn add_source<T, C>(
        &self,
        name: &str,
        connector: C,
        settings: C::Settings,
        policy: BadInputPolicy,
        dead_letters: bool,
    ) -> Result<(SourceStream<T>, Option<DeadLetterStream>)>
    where
        T: Send + 'static,
        C: SourceConnector<T>,
    {
        let mut plan = self.plan.borrow_mut();
        let settings = plan.claim(name, NodeKind::Source, C::KIND, settings)?;
        let node = plan.graph.nodes.len();
        let parallelism = plan.parallelism;
        let (dead_tx, dead_rx) = channel::<DeadLetter>();
        let mut ctx = SourceCtx {
            name: name.to_owned(),
            parallelism,
            node,
            policy,
            dead_letters: (0..parallelism)
                .map(|i| dead_letters.then(|| ForwardSender::new(dead_tx.clone(), i)))
                .collect(),
            dead_taken: 0,
            dead_node: node + 1,
        };
        drop(dead_tx);
        let mut origins = connector.instances(settings, &mut ctx)?;
        if let super::ExecMode::MicroBatch { interval } = plan.mode {
            origins = origins
                .into_iter()
                .enumerate()
                .map(|(i, o)| {
                    Box::new(super::micro_batch::MicroBatchOrigin::new(
                        o,
                        interval,
                        format!("{name}#{i}"),
                    )) as Box<dyn Origin<T>>
                })
                .collect();
        }
        let instances = origins.len();
        if instances == 0 {
            return Err(PipelineError::from(ErrorKind::Source {
                source_name: name.to_owned(),
                message: "has nothing to read".into(),
                retryable: false,
            }));
        }
        let added = plan.graph.add_node(
            format!("source {name} ({})", C::KIND),
            NodeKind::Source,
            instances,
        );
        debug_assert_eq!(added, node);
        if dead_letters {
            // A side output: a source of the records the source could not
            // decode.
            let dead = plan
                .graph
                .add_node(format!("dead letters ({name})"), NodeKind::Source, 1);
            plan.graph.add_edge(node, dead, EdgeKind::Forward);
            debug_assert_eq!(dead, node + 1);
        }
        // Instances the connector did not use must not hold the dead-letter
        // channel open.
        ctx.dead_letters.clear();
        let dead_senders = ctx.dead_taken;
        drop(ctx);
        drop(plan);
        let records = Stream::new(
            self.plan.clone(),
            SourceSeg {
                origins,
                task: name.to_owned(),
                counted: Some(node),
                policy,
                source: Some(name.to_owned()),
            },
            instances,
            node,
            EdgeKind::Fused,
        );
        let dead = dead_letters.then(|| {
            let origin: Box<dyn Origin<DeadLetter>> =
                Box::new(ChannelOrigin::new(dead_rx, dead_senders));
            Stream::new(
                self.plan.clone(),
                SourceSeg {
                    origins: vec![origin],
                    task: format!("{name}.dead_letters"),
                    counted: None,
                    policy: BadInputPolicy::Fail,
                    source: None,
                },
                1,
                node + 1,
                EdgeKind::Fused,
            )
        });
        Ok((records, dead))
    }

    /// Runs the pipeline built so far to the end of its input.
    pub fn run(self) -> Result<super::RunOutcome> {
        super::run::execute(self)
    }
}
