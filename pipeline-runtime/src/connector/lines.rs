//! What every text source and sink shares: reading lines and decoding them
//! under the bad-input policy, and encoding records into buffered output.

use super::BadInput;
use crate::ErrorKind;
use crate::exec::channel::BATCH;
use crate::exec::origin::{Fill, Origin, RunEnv};
use crate::format::{Decode, Encode};
use crate::operator::Push;
use crate::{DecodeError, PipelineError, Position, Result};
use std::marker::PhantomData;

/// Something that yields lines of text with their input's name and line
/// number: files, socket connections, stdin.
pub(crate) trait LineReader: Send + 'static {
    /// Opens the input (on the task's thread).
    fn open(&mut self, env: &RunEnv) -> Result<()>;

    /// Reads up to `max` lines, calling `f(input, line_number, first, line)`
    /// for each (line endings removed; the bytes as read, not yet checked
    /// to be UTF-8); `first` says the line is its input's first, the header
    /// if there is one. Returns `false` once all input has ended.
    fn read<F>(&mut self, max: usize, f: F) -> Result<bool>
    where
        F: FnMut(&str, u64, bool, &[u8]) -> Result<()>;

    /// Where the reader is, for a checkpoint; `None` if it cannot go back.
    fn position(&self) -> Option<serde_json::Value> {
        None
    }

    /// Goes back to where the source was (see [`Origin::restore`]).
    fn restore(&mut self, instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        let _ = (instance, saved);
        Ok(())
    }
}

/// Removes a trailing `\n` or `\r\n`.
pub(crate) fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A source instance: lines from `R`, decoded by `D`, bad records handled by
/// the source's policy.
pub(crate) struct LineOrigin<R, D, T> {
    pub(crate) reader: R,
    pub(crate) decoder: D,
    pub(crate) bad: BadInput,
    pub(crate) header: bool,
    pub(crate) _t: PhantomData<fn() -> T>,
}

impl<R, D, T> Origin<T> for LineOrigin<R, D, T>
where
    R: LineReader,
    D: Decode<T>,
    T: Send,
{
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        self.bad.open(env);
        self.reader.open(env)
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        let (decoder, bad, header) = (&mut self.decoder, &mut self.bad, self.header);
        let more = self.reader.read(BATCH, |input, line_no, first, bytes| {
            if decoder.checks_utf8() && !(header && first) {
                // The decoder checks the text it uses; no need to check the
                // whole line first.
                if bytes.is_empty() && decoder.skips_blank_lines() {
                    return Ok(());
                }
                return match decoder.decode_bytes(bytes) {
                    Ok(record) => {
                        buf.push(record);
                        Ok(())
                    }
                    Err(e) => {
                        let raw = String::from_utf8_lossy(bytes);
                        bad.handle(|| Position::line(input, line_no), &raw, e)
                    }
                };
            }
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let raw = String::from_utf8_lossy(bytes);
                    let error = DecodeError::new(format!("the line is not UTF-8 text: {e}"));
                    return bad.handle(|| Position::line(input, line_no), &raw, error);
                }
            };
            if header && first {
                return decoder
                    .header(text)
                    .or_else(|e| bad.handle(|| Position::line(input, line_no), text, e));
            }
            if text.is_empty() && decoder.skips_blank_lines() {
                return Ok(());
            }
            match decoder.decode(text) {
                Ok(record) => {
                    buf.push(record);
                    Ok(())
                }
                Err(e) => bad.handle(|| Position::line(input, line_no), text, e),
            }
        })?;
        self.bad.flush()?;
        if more {
            Ok(Fill::More)
        } else {
            self.bad.finish()?;
            Ok(Fill::End)
        }
    }

    fn snapshot(
        &mut self,
        snapshot: &mut crate::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        self.bad.snapshot(snapshot)?;
        Ok(self.reader.position())
    }

    fn restore(&mut self, instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        self.reader.restore(instance, saved)
    }
}

/// Where encoded bytes go: stdout, a shared file, or part files.
pub trait Output: Send + 'static {
    /// Writes a chunk of whole lines.
    fn write(&mut self, bytes: &[u8]) -> Result<()>;
    /// Flushes to the OS at the end of input.
    fn close(&mut self) -> Result<()>;
    /// Stages what was written since the last checkpoint (see
    /// [`Push::snapshot`]); the default publishes at once.
    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        let _ = snapshot;
        Ok(())
    }
    /// Publishes again what the restored checkpoint staged.
    fn restore(&mut self, restore: &crate::checkpoint::Restore<'_>) -> Result<()> {
        let _ = restore;
        Ok(())
    }
    /// Publishes what was staged for checkpoints up to `epoch`.
    fn commit(&mut self, epoch: u64) -> Result<()> {
        let _ = epoch;
        Ok(())
    }
}

/// Bytes kept per writer before they are written out.
const OUT_BUFFER: usize = 64 * 1024;

/// A sink instance: records encoded by `E` into a buffer, written to `O`
/// after each batch and when the buffer fills.
#[derive(Debug)]
pub struct EncodedWriter<E, O> {
    pub(crate) sink: String,
    pub(crate) encoder: E,
    pub(crate) out: O,
    pub(crate) buf: Vec<u8>,
}

impl<E, O> EncodedWriter<E, O> {
    pub(crate) fn new(sink: &str, encoder: E, out: O) -> Self {
        EncodedWriter {
            sink: sink.to_owned(),
            encoder,
            out,
            buf: Vec::with_capacity(OUT_BUFFER),
        }
    }
}

impl<T, E: Encode<T>, O: Output> Push<T> for EncodedWriter<E, O> {
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        self.encoder.encode(&item, &mut self.buf).map_err(|e| {
            PipelineError::from(ErrorKind::Sink {
                sink: self.sink.clone(),
                message: format!("cannot encode a record: {e}"),
                retryable: false,
            })
        })?;
        if self.buf.len() >= OUT_BUFFER {
            self.out.write(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.out.write(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        self.flush()?;
        self.out.snapshot(snapshot)
    }

    fn restore(&mut self, restore: &crate::checkpoint::Restore<'_>) -> Result<()> {
        self.out.restore(restore)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.out.commit(epoch)
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()?;
        self.out.close()
    }
}
