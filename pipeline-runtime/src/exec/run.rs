//! The continuous executor: one thread per task instance, records flowing
//! as they arrive, the run ending when every source is exhausted.

use super::graph::{Graph, NodeKind};
use super::metrics::Metrics;
use super::origin::RunEnv;
use super::plan::PipelineBuilder;
use crate::ErrorKind;
use crate::checkpoint::Checkpoints;
use crate::config::Settings;
use crate::connector::collect::{CollectError, Collectors};
use crate::operator::MeterSet;
use crate::{PipelineError, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How to run a pipeline.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Instances of each keyed stage (and of sources that can split);
    /// `None` means the config file's value, or 1.
    pub parallelism: Option<usize>,
    /// Overrides of connector settings.
    pub settings: Settings,
    /// Continuous or micro-batch; `None` means the pipeline's default.
    pub mode: Option<super::ExecMode>,
    /// Whether and where to take checkpoints (and restore from them).
    pub checkpoint: Option<crate::checkpoint::CheckpointOptions>,
    /// Where keyed state is kept (`--state-backend`).
    pub state: crate::state::StateBackend,
}

impl RunOptions {
    /// Options with `parallelism` set.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::exec::RunOptions;
    /// assert_eq!(RunOptions::default().with_parallelism(4).parallelism, Some(4));
    /// ```
    pub fn with_parallelism(mut self, parallelism: usize) -> Self {
        self.parallelism = Some(parallelism);
        self
    }

    /// Options with the execution mode set.
    pub fn with_mode(mut self, mode: super::ExecMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Options with checkpoints taken (and restored) as `checkpoint` says.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::checkpoint::CheckpointOptions;
    /// use pipeline_runtime::exec::RunOptions;
    /// let opts = RunOptions::default().with_checkpoints(CheckpointOptions::new("chk"));
    /// assert!(opts.checkpoint.is_some());
    /// ```
    pub fn with_checkpoints(mut self, checkpoint: crate::checkpoint::CheckpointOptions) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// Options with keyed state kept in `backend`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::exec::RunOptions;
    /// use pipeline_runtime::state::{RocksDbOptions, StateBackend};
    /// let opts = RunOptions::default().with_state(StateBackend::RocksDb(RocksDbOptions::default()));
    /// assert_eq!(opts.state.name(), "rocksdb");
    /// ```
    pub fn with_state(mut self, backend: crate::state::StateBackend) -> Self {
        self.state = backend;
        self
    }

    /// Options with one more `NAME.KEY=VALUE` override.
    pub fn with_setting(mut self, assignment: &str) -> Result<Self> {
        self.settings.set(assignment)?;
        Ok(self)
    }
}

/// Counts of one graph node after a run.
#[derive(Debug, Clone)]
pub struct NodeStats {
    /// The node's label.
    pub label: String,
    /// What the node is.
    pub kind: NodeKind,
    /// Records in.
    pub records_in: u64,
    /// Records out (for a sink: written).
    pub records_out: u64,
    /// Records dropped: bad records a source skipped (`on_error: skip`),
    /// records too late for their windows, or records of a stream-table
    /// join that never met a row.
    pub skipped: u64,
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunOutcome {
    /// The pipeline's graph.
    pub graph: Graph,
    /// Per-node counts, in graph order.
    pub stats: Vec<NodeStats>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Processing time of each micro-batch (empty in continuous mode).
    pub batches: Vec<Duration>,
    /// What each checkpoint of the run cost (empty without checkpoints).
    pub checkpoints: Vec<crate::checkpoint::CheckpointStats>,
    /// The longest any task took to restore its state from a checkpoint.
    pub restore_time: Duration,
    /// The checkpoint the run stopped after, when SIGTERM or Ctrl-C
    /// stopped it before its input ended; a restart goes on from there.
    pub stopped_after: Option<u64>,
    collectors: Collectors,
}

impl RunOutcome {
    /// Takes the records a `collect(name: ..)` sink gathered.
    pub fn collected<T: Send + 'static>(&self, name: &str) -> Result<Vec<T>, CollectError> {
        self.collectors.take(name)
    }

    /// The one-line summary printed at the end of a run.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::connector::{generator::Iter, collect::Collect, BadInputPolicy};
    /// use pipeline_runtime::exec::{PipelineBuilder, RunOptions};
    /// let b = PipelineBuilder::new("P", RunOptions::default());
    /// b.source("xs", Iter::new(0..5_u32), Default::default(), BadInputPolicy::Fail).unwrap()
    ///     .filter(|x| x % 2 == 0)
    ///     .sink("out", Collect, Default::default()).unwrap();
    /// let line = b.run().unwrap().summary();
    /// assert!(line.contains("filter 5→3"), "{line}");
    /// ```
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .stats
            .iter()
            .map(|s| {
                let mut part = match s.kind {
                    NodeKind::Source => format!("{} {}", s.label, s.records_out),
                    NodeKind::Sink => format!("{} {}", s.label, s.records_in),
                    NodeKind::Stage => {
                        format!("{} {}→{}", s.label, s.records_in, s.records_out)
                    }
                };
                if s.skipped > 0 {
                    let what = match s.kind {
                        NodeKind::Source => "bad skipped",
                        // The stream-table join's stage: records whose key
                        // never got a row.
                        NodeKind::Stage if s.label == "join" => "unmatched dropped",
                        _ => "late dropped",
                    };
                    part.push_str(&format!(" ({} {what})", s.skipped));
                }
                part
            })
            .collect();
        let how = match self.stopped_after {
            Some(epoch) => format!("stopped after checkpoint {epoch}"),
            None => "finished".to_owned(),
        };
        let mut line = format!(
            "{} {how} in {:.3}s: {}",
            self.graph.name,
            self.elapsed.as_secs_f64(),
            parts.join(" | ")
        );
        if !self.batches.is_empty() {
            let mut times = self.batches.clone();
            times.sort_unstable();
            // Nearest rank; `times` is not empty here.
            let at = |q: f64| {
                let rank = ((times.len() - 1) as f64 * q).round() as usize;
                times.get(rank).copied().unwrap_or_default()
            };
            line.push_str(&format!(
                " | {} micro-batches, processing p50 {:?} p99 {:?}",
                times.len(),
                at(0.5),
                at(0.99)
            ));
        }
        line
    }
}

/// Links every task of the plan and runs them, one thread per instance.
pub(crate) fn execute(builder: PipelineBuilder) -> Result<RunOutcome> {
    let started = Instant::now();
    let plan = std::rc::Rc::try_unwrap(builder.plan)
        .map_err(|_| {
            PipelineError::from(ErrorKind::Executor(
                "a stream of this pipeline was never ended with a sink".into(),
            ))
        })?
        .into_inner();
    plan.check_settings()?;
    let graph = plan.graph;
    let metrics = Arc::new(Metrics::new(graph.nodes.len()));
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("pipeline-io")
        .enable_all()
        .build()
        .map_err(|e| {
            PipelineError::from(ErrorKind::Executor(format!(
                "cannot start the I/O runtime: {e}"
            )))
        })?;
    let checkpoints = match &plan.checkpoint {
        Some(options) => Some(Arc::new(Checkpoints::open(
            options.clone(),
            &graph,
            plan.parallelism,
        )?)),
        None => None,
    };
    let state = crate::state::StateEnv::open(
        &plan.state,
        &graph.name,
        plan.checkpoint.as_ref().map(|c| c.dir.as_path()),
    )?;
    let env = RunEnv {
        state,
        metrics: metrics.clone(),
        io: io.handle().clone(),
        cancelled: Arc::new(AtomicBool::new(false)),
        checkpoints: checkpoints.clone(),
    };
    let meters = MeterSet {
        metrics: metrics.clone(),
    };
    let mut handles = Vec::new();
    let mut spawn_error = None;
    'spawn: for (name, factory) in plan.tasks {
        for (i, instance) in factory(&meters).into_iter().enumerate() {
            let task = format!("{name}#{i}");
            let spawned = std::thread::Builder::new().name(task.clone()).spawn({
                let env = env.clone();
                move || {
                    // A panicking user closure fails the run like an error
                    // does: the other tasks are told to stop at once.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        instance.run(&env)
                    }))
                    .unwrap_or_else(|panic| {
                        Err(ErrorKind::Executor(format!(
                            "task `{task}` panicked: {}",
                            panic_message(panic.as_ref())
                        ))
                        .into())
                    });
                    if result.is_err() {
                        env.cancelled.store(true, Ordering::Relaxed);
                    }
                    result
                }
            });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    env.cancelled.store(true, Ordering::Relaxed);
                    spawn_error = Some(PipelineError::from(ErrorKind::Executor(format!(
                        "cannot start a worker thread: {e}"
                    ))));
                    break 'spawn;
                }
            }
        }
    }
    let coordinator = match &checkpoints {
        Some(cp) if spawn_error.is_none() => {
            cp.set_instances(handles.len());
            // SIGTERM or Ctrl-C: one more checkpoint, then stop; a second
            // one stops at once.
            let stopper = cp.clone();
            let cancelled = env.cancelled.clone();
            io.spawn(async move {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                for first in [true, false] {
                    let terminated = async {
                        match &mut term {
                            Some(t) => {
                                t.recv().await;
                            }
                            None => std::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        () = terminated => {}
                    }
                    if first {
                        tracing::info!(
                            "stop requested: taking a last checkpoint (again to stop at once)"
                        );
                        stopper.request_stop();
                    } else {
                        tracing::warn!("stopping at once, without a last checkpoint");
                        cancelled.store(true, Ordering::Release);
                    }
                }
            });
            let (cp, cancelled) = (cp.clone(), env.cancelled.clone());
            let spawned = std::thread::Builder::new()
                .name("checkpoints".into())
                .spawn(move || {
                    let result = cp.coordinate(&cancelled);
                    if result.is_err() {
                        cancelled.store(true, Ordering::Relaxed);
                    }
                    result
                });
            match spawned {
                Ok(handle) => Some(handle),
                Err(e) => {
                    env.cancelled.store(true, Ordering::Relaxed);
                    spawn_error = Some(PipelineError::from(ErrorKind::Executor(format!(
                        "cannot start the checkpoint coordinator: {e}"
                    ))));
                    None
                }
            }
        }
        _ => None,
    };
    let mut root_cause = spawn_error;
    // A failed checkpoint is the root cause of the tasks' cancellation.
    if let Some(handle) = coordinator {
        let result = handle.join().unwrap_or_else(|panic| {
            Err(ErrorKind::Executor(format!(
                "the checkpoint coordinator panicked: {}",
                panic_message(panic.as_ref())
            ))
            .into())
        });
        if let Err(e) = result {
            root_cause.get_or_insert(e);
        }
    }
    for handle in handles {
        let result = handle.join().unwrap_or_else(|panic| {
            Err(ErrorKind::Executor(format!(
                "a task panicked: {}",
                panic_message(panic.as_ref())
            ))
            .into())
        });
        if let Err(e) = result {
            // Keep the first error that is not a consequence of another.
            if root_cause.as_ref().is_none_or(PipelineError::is_cancelled) {
                root_cause = Some(e);
            }
        }
    }
    io.shutdown_background();
    let stopped_after = checkpoints.as_ref().and_then(|cp| cp.stopped_at());
    let (checkpoint_stats, restore_time) = checkpoints
        .as_ref()
        .map(|cp| cp.stats())
        .unwrap_or_default();
    match root_cause {
        // Stopped on purpose: the tasks were cancelled after a checkpoint.
        Some(e) if e.is_cancelled() && stopped_after.is_some() => {}
        Some(e) => return Err(e),
        None => {}
    }
    let stats = node_stats(&graph, &metrics);
    Ok(RunOutcome {
        graph,
        stats,
        batches: metrics.batch_times(),
        stopped_after,
        checkpoints: checkpoint_stats,
        restore_time,
        elapsed: started.elapsed(),
        collectors: plan.collectors,
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Every node's counts. Nodes are in build order, so every predecessor of a
/// node comes before it: a node's input is the sum of its predecessors'
/// outputs, and a node that does not count its output passes on its input.
fn node_stats(graph: &Graph, metrics: &Metrics) -> Vec<NodeStats> {
    let mut stats: Vec<NodeStats> = Vec::with_capacity(graph.nodes.len());
    for (i, n) in graph.nodes.iter().enumerate() {
        let (counted_out, skipped) = metrics.node(i);
        let records_in = graph
            .edges
            .iter()
            .filter(|e| e.1 == i)
            .filter_map(|e| stats.get(e.0).map(|s| s.records_out))
            .sum();
        stats.push(NodeStats {
            label: n.label.clone(),
            kind: n.kind,
            records_in,
            records_out: if n.counted { counted_out } else { records_in },
            skipped,
        });
    }
    stats
}

/// A pipeline defined with `pipeline!`: its name and how to build it. The
/// provided methods run it, describe it, or give it a command line.
pub trait PipelineDef {
    /// The pipeline's name.
    const NAME: &'static str;
    /// Its doc comment, shown by `--help`.
    const ABOUT: &'static str = "";
    /// How it runs unless the command line says otherwise.
    const MODE: super::ExecMode = super::ExecMode::Continuous;
    /// Its sources and sinks as `(role, name, description)`, for `--help`.
    const CONNECTORS: &'static [(&'static str, &'static str, &'static str)] = &[];

    /// Builds the pipeline into `b`.
    fn build(b: &PipelineBuilder) -> Result<()>;

    /// Builds and runs the pipeline with `options`.
    fn run_with(mut options: RunOptions) -> Result<RunOutcome> {
        options.mode = options.mode.or(Some(Self::MODE));
        let b = PipelineBuilder::new(Self::NAME, options);
        Self::build(&b)?;
        b.run()
    }

    /// Builds and runs the pipeline with default options.
    fn run_default() -> Result<RunOutcome> {
        Self::run_with(RunOptions::default())
    }

    /// Builds the pipeline without running it, for its graph.
    fn describe(mut options: RunOptions) -> Result<Graph> {
        options.mode = options.mode.or(Some(Self::MODE));
        let b = PipelineBuilder::new(Self::NAME, options);
        Self::build(&b)?;
        b.plan.borrow().check_settings()?;
        Ok(b.graph())
    }

    /// The binary's entry point: parses the command line and runs or
    /// describes the pipeline. Returns the process exit code.
    fn main() -> std::process::ExitCode
    where
        Self: Sized,
    {
        crate::cli::main::<Self>()
    }
}
