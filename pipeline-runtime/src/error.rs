//! Error types of the runtime.
//!
//! Every failure names where it happened (the stage, the source and the
//! record's position) and says whether retrying can help, so an operator of a
//! pipeline knows what to fix without reading the code.

use std::path::PathBuf;

/// Where a record came from: a file and line, a connection and line, or an
/// index in a generated sequence.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::Position;
/// let p = Position::line("data/in.csv", 7);
/// assert_eq!(p.to_string(), "data/in.csv:7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position(String);

impl Position {
    /// A line (1-based) in a named input such as a file or a connection.
    pub fn line(input: impl std::fmt::Display, line: u64) -> Self {
        Position(format!("{input}:{line}"))
    }

    /// A free-form position, such as `record 12` for a generator.
    pub fn other(text: impl Into<String>) -> Self {
        Position(text.into())
    }

    /// The position as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest piece of a bad record that error messages quote.
pub const MAX_QUOTED: usize = 200;

/// Cuts `raw` to at most [`MAX_QUOTED`] characters for an error message.
pub(crate) fn quote_cut(raw: &str) -> String {
    match raw.char_indices().nth(MAX_QUOTED) {
        Some((at, _)) => format!("{}…", &raw[..at]),
        None => raw.to_owned(),
    }
}

/// A record that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    /// Wraps a decoder's message.
    pub fn new(message: impl std::fmt::Display) -> Self {
        DecodeError {
            message: message.to_string(),
        }
    }
}

/// A record that could not be encoded by a sink's format.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EncodeError {
    message: String,
}

impl EncodeError {
    /// Wraps an encoder's message.
    pub fn new(message: impl std::fmt::Display) -> Self {
        EncodeError {
            message: message.to_string(),
        }
    }
}

/// A setting that is missing, unknown or has a bad value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting's value does not fit the connector.
    #[error("setting `{name}`: {message}")]
    Invalid {
        /// The setting, as `stream.key` or `stream`.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A `--set` or config entry names no source or sink of the pipeline.
    #[error("setting `{name}` names no source or sink of this pipeline (it has: {known})")]
    UnknownName {
        /// The name as written.
        name: String,
        /// The names the pipeline has.
        known: String,
    },
    /// The config file could not be read or parsed.
    #[error("config file `{path}`: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Everything that can stop a pipeline: an [`ErrorKind`] behind one pointer,
/// so that `Result<(), PipelineError>`, which every stage of a chain returns
/// per record, fits in a register.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::{ErrorKind, PipelineError};
/// let e = PipelineError::from(ErrorKind::Cancelled);
/// assert!(matches!(e.kind(), ErrorKind::Cancelled));
/// assert_eq!(std::mem::size_of::<pipeline_runtime::Result<()>>(), std::mem::size_of::<usize>());
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PipelineError(Box<ErrorKind>);

impl<E: Into<ErrorKind>> From<E> for PipelineError {
    fn from(kind: E) -> Self {
        PipelineError(Box::new(kind.into()))
    }
}

/// What went wrong, in detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad configuration; retrying with the same settings cannot help.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A record could not be decoded and the source's policy is `fail`.
    #[error("source `{source_name}`: bad record at {position}: {error}; record: {raw:?}")]
    BadRecord {
        /// The source.
        source_name: String,
        /// Where the record was.
        position: Position,
        /// The record's text, cut to [`MAX_QUOTED`] characters.
        raw: String,
        /// Why it could not be decoded.
        error: DecodeError,
    },
    /// A source failed to read.
    #[error("source `{source_name}`: {message}")]
    Source {
        /// The source.
        source_name: String,
        /// What went wrong.
        message: String,
        /// Whether trying again later may succeed (a peer not up yet, say).
        retryable: bool,
    },
    /// A sink failed to write.
    #[error("sink `{sink}`: {message}")]
    Sink {
        /// The sink.
        sink: String,
        /// What went wrong.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// An I/O error on a named file.
    #[error("{context} `{}`: {source}", path.display())]
    Io {
        /// What was being done, such as `source \`lines\`: reading`.
        context: String,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A stage failed.
    #[error("stage `{stage}`: {message}")]
    Stage {
        /// The stage's id.
        stage: String,
        /// What went wrong.
        message: String,
    },
    /// The pipeline was stopped because another task failed; the root cause
    /// is reported separately.
    #[error("stopped because another task failed")]
    Cancelled,
    /// A worker thread could not be started or ended abnormally.
    #[error("executor: {0}")]
    Executor(String),
    /// A checkpoint could not be taken or restored.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl PipelineError {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Whether running again unchanged may succeed (for example once a peer
    /// or broker is up again).
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::{ErrorKind, PipelineError};
    /// let e = PipelineError::from(ErrorKind::Source {
    ///     source_name: "lines".into(), message: "refused".into(), retryable: true,
    /// });
    /// assert!(e.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self.kind() {
            ErrorKind::Source { retryable, .. } | ErrorKind::Sink { retryable, .. } => *retryable,
            ErrorKind::Io { .. } => true,
            _ => false,
        }
    }

    /// Whether the pipeline stopped only because another task failed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind(), ErrorKind::Cancelled)
    }

    /// The process exit code this error maps to: 2 for bad configuration,
    /// 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            ErrorKind::Config(_) => 2,
            _ => 1,
        }
    }
}

/// Shorthand for results of the runtime.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
