//! The TCP socket text source: connects to a server and reads lines, as
//! Spark's `socketTextStream` does.
//!
//! The socket is driven by the tokio reactor (never by a worker thread);
//! lines reach the task in batches over a bounded channel.

use super::lines::{LineOrigin, LineReader};
use super::{SourceConnector, SourceCtx};
use crate::ErrorKind;
use crate::exec::origin::{Origin, RunEnv};
use crate::format::Decode;
use crate::{PipelineError, Result};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// Settings of the socket source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocketSettings {
    /// Host to connect to.
    pub host: String,
    /// Port to connect to.
    pub port: u16,
    /// Connection attempts after the first that fail before the source
    /// gives up with an error.
    pub retries: u32,
    /// Wait between connection attempts.
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Connect again when the server closes the connection (an unbounded
    /// stream); when false, the source ends with the connection.
    pub reconnect: bool,
}

impl Default for SocketSettings {
    fn default() -> Self {
        SocketSettings {
            host: "127.0.0.1".into(),
            port: 9999,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            reconnect: false,
        }
    }
}

/// Reads lines from a TCP server. One connection, so one instance.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
/// use std::io::Write;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// std::thread::spawn(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     conn.write_all(b"hello\nworld\n").unwrap();
/// });
///
/// pipeline! {
///     pipeline Lines {
///         source lines: String = socket(host: "127.0.0.1", port: 9999);
///         lines -> sink collect(name: "out");
///     }
/// }
///
/// let opts = RunOptions::default().with_setting(&format!("lines.port={port}")).unwrap();
/// let got: Vec<String> = Lines::run_with(opts).unwrap().collected("out").unwrap();
/// assert_eq!(got, vec!["hello", "world"]);
/// ```
#[derive(Debug, Clone)]
pub struct SocketSource<D> {
    decoder: D,
}

impl<D> SocketSource<D> {
    /// Decodes lines with `decoder`.
    pub fn new(decoder: D) -> Self {
        SocketSource { decoder }
    }
}

impl<T, D> SourceConnector<T> for SocketSource<D>
where
    T: Send + 'static,
    D: Decode<T>,
{
    type Settings = SocketSettings;
    const KIND: &'static str = "socket";

    fn instances(
        self,
        settings: SocketSettings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<T>>>> {
        Ok(vec![Box::new(LineOrigin {
            reader: SocketLines {
                source: ctx.name().to_owned(),
                settings,
                rx: None,
                env: None,
            },
            decoder: self.decoder,
            bad: ctx.bad_input(0),
            header: false,
            _t: PhantomData,
        })])
    }
}

/// What the reactor task sends to the worker.
enum Event {
    Lines {
        input: String,
        first_line: u64,
        lines: Vec<Vec<u8>>,
    },
    Failed(PipelineError),
}

struct SocketLines {
    source: String,
    settings: SocketSettings,
    rx: Option<mpsc::Receiver<Event>>,
    env: Option<RunEnv>,
}

/// How often a waiting worker checks whether the run is being stopped.
const POLL: Duration = Duration::from_millis(100);

impl LineReader for SocketLines {
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        let (tx, rx) = mpsc::channel(16);
        env.io()
            .spawn(read_socket(self.source.clone(), self.settings.clone(), tx));
        self.rx = Some(rx);
        self.env = Some(env.clone());
        Ok(())
    }

    fn read<F>(&mut self, _max: usize, mut f: F) -> Result<bool>
    where
        F: FnMut(&str, u64, bool, &[u8]) -> Result<()>,
    {
        let (Some(rx), Some(env)) = (&mut self.rx, &self.env) else {
            return Ok(false);
        };
        if env.is_cancelled() {
            return Err(PipelineError::from(ErrorKind::Cancelled));
        }
        let next = env
            .io()
            .block_on(async { tokio::time::timeout(POLL, rx.recv()).await });
        match next {
            // Nothing arrived: hand back control, so the task can notice a
            // stop and a micro-batch can close on time.
            Err(_elapsed) => Ok(true),
            Ok(None) => Ok(false),
            Ok(Some(Event::Failed(e))) => Err(e),
            Ok(Some(Event::Lines {
                input,
                first_line,
                lines,
            })) => {
                for (i, line) in lines.iter().enumerate() {
                    let number = first_line + i as u64;
                    f(&input, number, number == 1, line)?;
                }
                Ok(true)
            }
        }
    }
}

/// Connects (with retries), reads lines in batches of whatever has
/// arrived, and reconnects if asked to. Ends when the worker goes away.
async fn read_socket(source: String, s: SocketSettings, tx: mpsc::Sender<Event>) {
    let addr = format!("{}:{}", s.host, s.port);
    let mut failures = 0;
    let mut connection = 0;
    loop {
        let stream = tokio::select! {
            r = tokio::net::TcpStream::connect(&addr) => r,
            () = tx.closed() => return,
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                failures += 1;
                if failures > s.retries {
                    let attempts = if failures == 1 {
                        "1 attempt".to_owned()
                    } else {
                        format!("{failures} attempts")
                    };
                    let _ = tx
                        .send(Event::Failed(PipelineError::from(ErrorKind::Source {
                            source_name: source,
                            message: format!(
                                "cannot connect to {addr} ({e}) after {attempts}; is a server \
                                 listening there? (to try one: `nc -lk {}`; to wait longer, set \
                                 `retries` and `retry_delay`)",
                                s.port
                            ),
                            retryable: true,
                        })))
                        .await;
                    return;
                }
                tracing::warn!(source = %source, %addr, "connection failed ({e}); retrying in {:?}", s.retry_delay);
                tokio::time::sleep(s.retry_delay).await;
                continue;
            }
        };
        failures = 0;
        connection += 1;
        let input = format!("{addr} connection {connection}");
        tracing::info!(source = %source, %addr, "connected");
        let mut pending: Vec<u8> = Vec::new();
        // How much of `pending` is known to hold no line end.
        let mut scanned = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        let mut line_no = 0u64;
        loop {
            let n = tokio::select! {
                r = stream.read(&mut chunk) => r,
                () = tx.closed() => return,
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    // A broken connection is not the end of the input: the
                    // partial line is dropped, and the source fails unless
                    // it is to reconnect.
                    tracing::warn!(source = %source, %addr, "connection lost: {e}");
                    if !s.reconnect {
                        let _ = tx
                            .send(Event::Failed(
                                ErrorKind::Source {
                                    source_name: source,
                                    message: format!(
                                        "lost the connection to {addr} after line {line_no}: {e}"
                                    ),
                                    retryable: true,
                                }
                                .into(),
                            ))
                            .await;
                        return;
                    }
                    break;
                }
            };
            let at_end = n == 0;
            pending.extend_from_slice(&chunk[..n]);
            let mut lines = Vec::new();
            let mut start = 0;
            while let Some(pos) = pending[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + pos;
                lines.push(
                    pending[start..end]
                        .strip_suffix(b"\r")
                        .unwrap_or(&pending[start..end])
                        .to_vec(),
                );
                start = end + 1;
                scanned = start;
            }
            pending.drain(..start);
            scanned = pending.len();
            if at_end && !pending.is_empty() {
                // The server closed the connection after a last line
                // without a line end.
                lines.push(std::mem::take(&mut pending));
                scanned = 0;
            }
            if !lines.is_empty() {
                let first_line = line_no + 1;
                line_no += lines.len() as u64;
                let event = Event::Lines {
                    input: input.clone(),
                    first_line,
                    lines,
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            if at_end {
                tracing::info!(source = %source, %addr, "connection closed by the server");
                break;
            }
        }
        if !s.reconnect {
            return;
        }
        tokio::time::sleep(s.retry_delay).await;
    }
}
