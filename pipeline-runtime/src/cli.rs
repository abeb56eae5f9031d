//! The command line every pipeline binary gets: `run` and `describe`.
//!
//! Bad flags and bad settings exit with code 2 and a message naming the
//! setting; a failed run exits with 1; a finished run prints a one-line
//! summary on stderr (stdout is left to the data).

use crate::PipelineError;
use crate::config::Settings;
use crate::exec::{ExecMode, GraphFormat, PipelineDef, RunOptions};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline until its input ends (or forever, for unbounded
    /// sources).
    Run(RunArgs),
    /// Print the pipeline's graph without running it.
    Describe(DescribeArgs),
}

/// Options shared by `run` and `describe`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Instances of each keyed stage and splittable source.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=128))]
    pub parallelism: Option<u32>,
    /// Override a source or sink setting, e.g. `--set lines.port=9999`.
    #[arg(long = "set", value_name = "NAME.KEY=VALUE")]
    pub set: Vec<String>,
    /// Read settings from a TOML file: `[NAME]` tables of settings and an
    /// optional top-level `parallelism`. `--set` wins over the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `continuous` (records flow as they arrive) or `micro-batch` (input is
    /// cut into batches of `--batch-interval`); default: the pipeline's.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Length of a micro-batch, e.g. `500ms` or `2s` (implies
    /// `--mode micro-batch` when the mode is not given).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub batch_interval: Option<std::time::Duration>,
}

/// The `--mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Record at a time.
    Continuous,
    /// Batches of `--batch-interval`.
    MicroBatch,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let d =
        humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. `500ms` or `2s`)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Checkpoint options.
    #[command(flatten)]
    pub checkpoints: CheckpointArgs,
    /// State backend options.
    #[command(flatten)]
    pub state: StateArgs,
    /// Do not print the summary line.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The checkpoint flags of `run`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Take checkpoints in this directory, and start from the newest
    /// complete one found there: state, source positions and sink output
    /// survive a crash, and output is written exactly once.
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// How often to take a checkpoint, e.g. `10s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "10s", requires = "checkpoint_dir")]
    pub checkpoint_interval: std::time::Duration,
    /// How many complete checkpoints to keep.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..), requires = "checkpoint_dir")]
    pub checkpoints_retained: u32,
    /// Start from this checkpoint directory rather than the newest in
    /// `--checkpoint-dir`.
    #[arg(long, value_name = "DIR", requires = "checkpoint_dir")]
    pub restore_from: Option<PathBuf>,
    /// Start even if the checkpoint has state of a stage the pipeline no
    /// longer has (that state is dropped).
    #[arg(long, requires = "checkpoint_dir")]
    pub allow_non_restored_state: bool,
}

impl CheckpointArgs {
    /// The checkpoint options these flags give, if checkpoints are on.
    pub fn options(&self) -> Option<crate::checkpoint::CheckpointOptions> {
        let dir = self.checkpoint_dir.clone()?;
        Some(crate::checkpoint::CheckpointOptions {
            dir,
            interval: self.checkpoint_interval,
            retain: self.checkpoints_retained as usize,
            restore_from: self.restore_from.clone(),
            allow_non_restored_state: self.allow_non_restored_state,
        })
    }
}

/// The state backend flags of `run`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Where keyed state lives: `memory` (typed values, the fastest) or
    /// `rocksdb` (on local disk, larger than memory, incremental
    /// checkpoints); default: the config file's `state_backend`, or memory.
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub state_backend: Option<BackendArg>,
    /// The RocksDB backend's working directory (default: next to the
    /// checkpoints, or the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Size of RocksDB's block cache, shared by every stage, e.g. `256MiB`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub rocksdb_block_cache: Option<u64>,
    /// Size of each RocksDB database's write buffer, e.g. `64MiB`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub rocksdb_write_buffer: Option<u64>,
    /// Decoded entries each stage keeps in memory before writing them back
    /// to RocksDB.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rocksdb_cache_entries: Option<u32>,
}

/// The `--state-backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// Typed values in memory.
    Memory,
    /// RocksDB on local disk.
    Rocksdb,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text
        .parse()
        .map_err(|e| format!("{e} (write e.g. `64MiB` or `1GiB`)"))?;
    if size.as_u64() == 0 {
        return Err("must be more than zero".into());
    }
    Ok(size.as_u64())
}

impl StateArgs {
    /// The state backend these flags and the config file (`settings`)
    /// choose; RocksDB flags without RocksDB are an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::cli::{BackendArg, StateArgs};
    /// use pipeline_runtime::config::Settings;
    /// let args = StateArgs {
    ///     state_backend: Some(BackendArg::Rocksdb),
    ///     state_dir: None,
    ///     rocksdb_block_cache: Some(1 << 30),
    ///     rocksdb_write_buffer: None,
    ///     rocksdb_cache_entries: None,
    /// };
    /// let backend = args.backend(&Settings::default()).unwrap();
    /// assert_eq!(backend.name(), "rocksdb");
    /// ```
    pub fn backend(
        &self,
        settings: &Settings,
    ) -> Result<crate::state::StateBackend, PipelineError> {
        use crate::state::{RocksDbOptions, StateBackend};
        let rocksdb = match self.state_backend {
            Some(b) => b == BackendArg::Rocksdb,
            None => settings.state_backend.as_deref() == Some("rocksdb"),
        };
        if !rocksdb {
            let given = [
                (self.state_dir.is_some(), "--state-dir"),
                (self.rocksdb_block_cache.is_some(), "--rocksdb-block-cache"),
                (
                    self.rocksdb_write_buffer.is_some(),
                    "--rocksdb-write-buffer",
                ),
                (
                    self.rocksdb_cache_entries.is_some(),
                    "--rocksdb-cache-entries",
                ),
            ];
            if let Some((_, flag)) = given.iter().find(|(set, _)| *set) {
                return Err(crate::ConfigError::Invalid {
                    name: (*flag).into(),
                    message: "only applies to `--state-backend rocksdb`".into(),
                }
                .into());
            }
            return Ok(StateBackend::Memory);
        }
        let default = RocksDbOptions::default();
        Ok(StateBackend::RocksDb(RocksDbOptions {
            dir: self
                .state_dir
                .clone()
                .or_else(|| settings.state_dir.clone()),
            block_cache: self.rocksdb_block_cache.unwrap_or(default.block_cache),
            write_buffer: self.rocksdb_write_buffer.unwrap_or(default.write_buffer),
            cache_entries: self
                .rocksdb_cache_entries
                .map_or(default.cache_entries, |n| n as usize),
        }))
    }
}

/// Options of `describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: GraphFormat,
}

impl CommonArgs {
    /// The run options these flags give.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::cli::CommonArgs;
    /// let args = CommonArgs { parallelism: Some(2), set: vec!["lines.port=1".into()], config: None, mode: None, batch_interval: None };
    /// let opts = args.options().unwrap();
    /// assert_eq!(opts.parallelism, Some(2));
    /// ```
    pub fn options(&self) -> Result<RunOptions, PipelineError> {
        let mut settings = Settings::default();
        for s in &self.set {
            settings.set(s)?;
        }
        if let Some(path) = &self.config {
            settings.load_file(path)?;
        }
        let default_interval = std::time::Duration::from_secs(1);
        let mode = match (self.mode, self.batch_interval) {
            (Some(ModeArg::Continuous), Some(_)) => {
                return Err(crate::ConfigError::Invalid {
                    name: "--batch-interval".into(),
                    message: "only applies to `--mode micro-batch`".into(),
                }
                .into());
            }
            (Some(ModeArg::Continuous), None) => Some(ExecMode::Continuous),
            (Some(ModeArg::MicroBatch), interval) | (None, interval @ Some(_)) => {
                Some(ExecMode::MicroBatch {
                    interval: interval.unwrap_or(default_interval),
                })
            }
            (None, None) => None,
        };
        Ok(RunOptions {
            parallelism: self.parallelism.map(|p| p as usize),
            settings,
            mode,
            checkpoint: None,
            state: Default::default(),
        })
    }
}

/// The `--help` paragraph listing the pipeline's sources and sinks.
fn connectors_help<P: PipelineDef>() -> String {
    let mut text = String::new();
    for (role, heading) in [("source", "Sources:"), ("sink", "Sinks:")] {
        let rows: Vec<String> = P::CONNECTORS
            .iter()
            .filter(|c| c.0 == role)
            .map(|c| format!("  {:<16} {}", c.1, c.2))
            .collect();
        if !rows.is_empty() {
            text.push_str(heading);
            text.push('\n');
            text.push_str(&rows.join("\n"));
            text.push_str("\n\n");
        }
    }
    text.push_str("Override a setting with `--set NAME.KEY=VALUE`; see `describe` for the graph.");
    text
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIPELINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Parses the command line and runs or describes the pipeline `P`.
pub fn main<P: PipelineDef>() -> ExitCode {
    main_from::<P, _>(std::env::args_os())
}

/// A pipeline a binary offers besides its main one, chosen by naming it
/// as the first argument: see [`main_with`].
pub type Variant = (&'static str, fn(Vec<String>) -> ExitCode);

/// The variant `name` running the pipeline `P`.
pub fn variant<P: PipelineDef>(name: &'static str) -> Variant {
    (name, main_from::<P, Vec<String>>)
}

/// As [`main`] for `P`, unless the first argument names one of
/// `variants`: then that pipeline runs with the rest of the command line
/// (`example generated run --parallelism 2`).
///
/// # Examples
///
/// ```no_run
/// use pipeline::prelude::*;
/// use pipeline::runtime::cli;
///
/// pipeline! {
///     pipeline Small {
///         source xs: u64 = generator(count: 3, record: |i: u64| i);
///         xs -> sink stdout();
///     }
/// }
/// pipeline! {
///     pipeline Large {
///         source xs: u64 = generator(count: 3_000_000, record: |i: u64| i);
///         xs -> sink stdout();
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     cli::main_with::<Small>(&[cli::variant::<Large>("large")])
/// }
/// ```
pub fn main_with<P: PipelineDef>(variants: &[Variant]) -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let chosen = args
        .get(1)
        .and_then(|first| variants.iter().find(|(name, _)| first == name));
    match chosen {
        Some((_, run)) => {
            args.remove(1);
            run(args)
        }
        None => main::<P>(),
    }
}

/// As [`main`], with the command line given (its first item is the
/// program's name): for a binary that offers several pipelines and picks
/// one by its first argument.
///
/// # Examples
///
/// ```no_run
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Squares {
///         source xs: u64 = generator(count: 3, record: |i: u64| i * i);
///         xs -> sink stdout();
///     }
/// }
///
/// let code = pipeline::runtime::cli::main_from::<Squares, _>(["squares", "run", "--quiet"]);
/// ```
pub fn main_from<P, I>(args: I) -> ExitCode
where
    P: PipelineDef,
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString> + Clone,
{
    let command = Cli::command()
        .name(P::NAME)
        .about(if P::ABOUT.is_empty() {
            None
        } else {
            Some(P::ABOUT)
        })
        .after_help(connectors_help::<P>());
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging();
    let result = match &cli.command {
        Command::Run(args) => args
            .common
            .options()
            .and_then(|mut options| {
                options.checkpoint = args.checkpoints.options();
                options.state = args.state.backend(&options.settings)?;
                Ok(options)
            })
            .and_then(P::run_with)
            .map(|outcome| {
                if !args.quiet {
                    eprintln!("{}", outcome.summary());
                }
            }),
        Command::Describe(args) => args
            .common
            .options()
            .and_then(P::describe)
            .map(|graph| print!("{}", graph.render(args.format))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
