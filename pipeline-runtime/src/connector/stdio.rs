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
                rx: None,
                env: None,
                source: ctx.name().to_owned(),
                line_no: 0,
            },
            decoder: self.decoder,
            bad: ctx.bad_input(0),
            header: false,
            _t: PhantomData,
        })])
    }
}

/// Lines of stdin, read on a helper thread so that a worker waiting for
/// input still notices when the run is stopped.
struct StdinLines {
    rx: Option<crossbeam_channel::Receiver<std::io::Result<Vec<Vec<u8>>>>>,
    env: Option<RunEnv>,
    source: String,
    line_no: u64,
}

/// How often a waiting worker checks whether the run is being stopped.
const POLL: std::time::Duration = std::time::Duration::from_millis(100);

impl LineReader for StdinLines {
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(16);
        std::thread::Builder::new()
            .name(format!("{}-stdin", self.source))
            .spawn(move || read_stdin(&tx))
            .map_err(|e| {
                PipelineError::from(ErrorKind::Executor(format!(
                    "cannot start the stdin reader: {e}"
                )))
            })?;
        self.rx = Some(rx);
        self.env = Some(env.clone());
        Ok(())
    }

    fn read<F>(&mut self, _max: usize, mut f: F) -> Result<bool>
    where
        F: FnMut(&str, u64, bool, &[u8]) -> Result<()>,
    {
        let (Some(rx), Some(env)) = (&self.rx, &self.env) else {
            return Ok(false);
        };
        if env.is_cancelled() {
            return Err(ErrorKind::Cancelled.into());
        }
        match rx.recv_timeout(POLL) {
            // Nothing arrived: hand back control, so the task can notice a
            // stop and a micro-batch can close on time.
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(true),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(false),
            Ok(Err(e)) => Err(ErrorKind::Source {
                source_name: self.source.clone(),
                message: format!("cannot read stdin: {e}"),
                retryable: false,
            }
            .into()),
            Ok(Ok(lines)) => {
                for line in &lines {
                    self.line_no += 1;
                    f(
                        "stdin",
                        self.line_no,
                        self.line_no == 1,
                        trim_line_end(line),
                    )?;
                }
                Ok(true)
            }
        }
    }
}

/// Reads stdin to its end, sending what has arrived in batches of lines.
fn read_stdin(tx: &crossbeam_channel::Sender<std::io::Result<Vec<Vec<u8>>>>) {
    let mut input = std::io::BufReader::new(std::io::stdin());
    loop {
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => {
                    if !lines.is_empty() {
                        let _ = tx.send(Ok(lines));
                    }
                    return;
                }
                Ok(_) => lines.push(line),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            // Hand over what has arrived rather than wait for a full batch.
            if input.buffer().is_empty() || lines.len() >= crate::exec::channel::BATCH {
                break;
            }
        }
        if tx.send(Ok(lines)).is_err() {
            return;
        }
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
