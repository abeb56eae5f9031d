//! Standard input and output: a line source and a sink for quick pipelines
//! in a shell (`cat log | my-pipeline run`).

use super::lines::{EncodedWriter, LineOrigin, LineReader, Output, trim_line_end};
use super::{NoSettings, SinkConnector, SinkCtx, SourceConnector, SourceCtx};
use crate::ErrorKind;
use crate::exec::origin::{Origin, RunEnv};
use crate::format::{Decode, Encode};
use crate::{PipelineError, Result};
use std::io::{BufRead, Write};
use std::marker::PhantomData;

/// Reads lines from standard input until it ends. One instance.
#[derive(Debug, Clone)]
pub struct StdinSource<D> {
    decoder: D,
}

impl<D> StdinSource<D> {
    /// Decodes lines with `decoder`.
    pub fn new(decoder: D) -> Self {
        StdinSource { decoder }
    }
}

impl<T: Send + 'static, D: Decode<T>> SourceConnector<T> for StdinSource<D> {
    type Settings = NoSettings;
    const KIND: &'static str = "stdin";

    fn instances(self, _s: NoSettings, ctx: &mut SourceCtx) -> Result<Vec<Box<dyn Origin<T>>>> {
        Ok(vec![Box::new(LineOrigin {
            reader: StdinLines {
                input: None,
                source: ctx.name().to_owned(),
                line_no: 0,
                line: String::new(),
            },
            decoder: self.decoder,
            bad: ctx.bad_input(0),
            header: false,
            _t: PhantomData,
        })])
    }
}

struct StdinLines {
    input: Option<std::io::BufReader<std::io::Stdin>>,
    source: String,
    line_no: u64,
    line: String,
}

impl LineReader for StdinLines {
    fn open(&mut self, _env: &RunEnv) -> Result<()> {
        self.input = Some(std::io::BufReader::new(std::io::stdin()));
        Ok(())
    }

    fn read<F>(&mut self, max: usize, mut f: F) -> Result<bool>
    where
        F: FnMut(&str, u64, &str) -> Result<()>,
    {
        let Some(lock) = &mut self.input else {
            return Ok(false);
        };
        for _ in 0..max {
            self.line.clear();
            let n = lock.read_line(&mut self.line).map_err(|e| {
                PipelineError::from(ErrorKind::Source {
                    source_name: self.source.clone(),
                    message: format!("cannot read stdin: {e}"),
                    retryable: false,
                })
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            f("stdin", self.line_no, trim_line_end(&self.line))?;
            // Hand over what has arrived rather than wait for a full batch.
            if lock.buffer().is_empty() {
                break;
            }
        }
        Ok(true)
    }
}

/// Writes one record per line to standard output (`debug` format unless
/// another is given).
#[derive(Debug, Clone)]
pub struct StdoutSink<E> {
    encoder: E,
}

impl<E> StdoutSink<E> {
    /// Writes with `encoder`.
    pub fn new(encoder: E) -> Self {
        StdoutSink { encoder }
    }
}

impl<T, E: Encode<T>> SinkConnector<T> for StdoutSink<E> {
    type Settings = NoSettings;
    const KIND: &'static str = "stdout";
    type Writer = EncodedWriter<E, Stdout>;

    fn writers(self, _s: NoSettings, ctx: &SinkCtx) -> Result<Vec<Self::Writer>> {
        Ok((0..ctx.parallelism())
            .map(|_| {
                EncodedWriter::new(
                    ctx.name(),
                    self.encoder.clone(),
                    Stdout(ctx.name().to_owned()),
                )
            })
            .collect())
    }
}

/// Standard output, written a batch of lines at a time.
#[derive(Debug)]
pub struct Stdout(String);

impl Output for Stdout {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        std::io::stdout().lock().write_all(bytes).map_err(|e| {
            PipelineError::from(ErrorKind::Sink {
                sink: self.0.clone(),
                message: format!("cannot write to stdout: {e}"),
                retryable: false,
            })
        })
    }

    fn close(&mut self) -> Result<()> {
        std::io::stdout().lock().flush().map_err(|e| {
            PipelineError::from(ErrorKind::Sink {
                sink: self.0.clone(),
                message: format!("cannot flush stdout: {e}"),
                retryable: false,
            })
        })
    }
}
