//! The runtime of the pipeline framework: operators, the stream builders the
//! `pipeline!` macro expands into, executors, connectors, formats and the
//! command line.
//!
//! Most users reach it through the `pipeline` crate and its prelude; the
//! modules here are what the macro's expansion calls, and what a pipeline
//! built by hand uses.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
// Library code reports errors; tests may unwrap.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod connector;
mod error;
pub mod exec;
pub mod format;
pub mod operator;
pub mod state;
mod time;
pub mod window;

pub use error::{
    ConfigError, DecodeError, EncodeError, ErrorKind, MAX_QUOTED, PipelineError, Position, Result,
};
pub use time::{Event, Timestamp, ToTimestamp};
