//! Files: a source reading one file or every file of a directory, line by
//! line; a sink writing one file.

use super::lines::{EncodedWriter, LineOrigin, LineReader, Output, trim_line_end};
use super::parts::PartFiles;
use super::{SinkConnector, SinkCtx, SourceConnector, SourceCtx};
use crate::ConfigError;
use crate::ErrorKind;
use crate::exec::origin::{Origin, RunEnv};
use crate::format::{Decode, Encode};
use crate::{PipelineError, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Settings of the file source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceSettings {
    /// A file, or a directory whose files (sorted by name, hidden files
    /// left out) are all read.
    pub path: PathBuf,
    /// Whether the first line of each file is a header (for `csv`).
    #[serde(default)]
    pub header: bool,
}

/// Reads lines from a file or a directory of files. Files are read in
/// 8 MiB ranges spread over the parallel instances, so even one large file
/// is read by all of them at once; each range starts at its first whole
/// line. Error positions inside a range after the first count lines from
/// the range's first whole line (`in.csv from byte 8388614:3`).
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// let dir = tempfile::tempdir().unwrap();
/// let input = dir.path().join("in.txt");
/// std::fs::write(&input, "3\n4\n").unwrap();
///
/// pipeline! {
///     pipeline Sum {
///         source xs: u64 = file(path: "in.txt", format: text);
///         xs -> map(|x: u64| x * 10) -> sink collect(name: "out");
///     }
/// }
///
/// let opts = RunOptions::default()
///     .with_setting(&format!("xs.path={:?}", input.display().to_string())).unwrap();
/// let mut got: Vec<u64> = Sum::run_with(opts).unwrap().collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec![30, 40]);
/// ```
#[derive(Debug, Clone)]
pub struct FileSource<D> {
    decoder: D,
}

impl<D> FileSource<D> {
    /// Reads with `decoder` (`Text`, `Json` or `Csv`).
    pub fn new(decoder: D) -> Self {
        FileSource { decoder }
    }
}

fn list_files(source: &str, path: &Path) -> Result<Vec<PathBuf>> {
    let io_err = |e| {
        PipelineError::from(ErrorKind::Io {
            context: format!("source `{source}`: cannot read"),
            path: path.to_owned(),
            source: e,
        })
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type().map_err(io_err)?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

impl<T, D> SourceConnector<T> for FileSource<D>
where
    T: Send + 'static,
    D: Decode<T>,
{
    type Settings = FileSourceSettings;
    const KIND: &'static str = "file";

    fn instances(
        self,
        settings: FileSourceSettings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<T>>>> {
        // Listing the directory and sizing its files is the one thing done
        // at build time: it decides how many instances there are.
        let units = split_files(ctx.name(), &list_files(ctx.name(), &settings.path)?, CHUNK)?;
        let instances = ctx.parallelism().min(units.len()).max(1);
        let mut assigned: Vec<Vec<Unit>> = vec![Vec::new(); instances];
        for (i, unit) in units.into_iter().enumerate() {
            assigned[i % instances].push(unit);
        }
        Ok(assigned
            .into_iter()
            .enumerate()
            .map(|(i, files)| {
                Box::new(LineOrigin {
                    reader: FileLines {
                        source: ctx.name().to_owned(),
                        units: files.into_iter().rev().collect(),
                        current: None,
                        line: Vec::new(),
                        header: settings.header,
                        done: Vec::new(),
                        resume: std::collections::HashMap::new(),
                    },
                    decoder: self.decoder.clone(),
                    bad: ctx.bad_input(i),
                    header: settings.header,
                    _t: PhantomData,
                }) as Box<dyn Origin<T>>
            })
            .collect())
    }
}

/// Files are read in chunks of this many bytes, spread over the instances
/// in turn (chunk `i` to instance `i % p`), so that one large file is read
/// by every instance and they move through it side by side, keeping their
/// event times close.
const CHUNK: u64 = 8 << 20;

/// A byte range of one file. A line belongs to the range it starts in.
#[derive(Debug, Clone)]
struct Unit {
    path: PathBuf,
    start: u64,
    end: u64,
}

impl Unit {
    /// The range's name in checkpoints: its file and first byte.
    fn key(&self) -> String {
        format!("{}@{}", self.path.display(), self.start)
    }
}

fn split_files(source: &str, files: &[PathBuf], chunk: u64) -> Result<Vec<Unit>> {
    let mut units = Vec::new();
    for path in files {
        let len = std::fs::metadata(path)
            .map_err(|e| {
                PipelineError::from(ErrorKind::Io {
                    context: format!("source `{source}`: cannot read"),
                    path: path.clone(),
                    source: e,
                })
            })?
            .len();
        let mut start = 0;
        loop {
            let end = start + chunk;
            if end >= len {
                // The last range reads to the end, as the file is then.
                units.push(Unit {
                    path: path.clone(),
                    start,
                    end: u64::MAX,
                });
                break;
            }
            units.push(Unit {
                path: path.clone(),
                start,
                end,
            });
            start = end;
        }
    }
    Ok(units)
}

struct OpenFile {
    reader: BufReader<File>,
    /// The input's name in positions: the path, and where counting lines
    /// began when the range starts inside the file.
    name: String,
    line_no: u64,
    /// Offset of the next line, and of the range's end.
    pos: u64,
    end: u64,
    /// The file's header line, read for a range that starts inside it.
    header: Option<Vec<u8>>,
    path: PathBuf,
    /// Whether the range starts at the file's start (its line 1 is the
    /// file's).
    at_start: bool,
    /// The range's name in checkpoints.
    key: String,
}

/// Lines of a list of file ranges, one after the other.
struct FileLines {
    source: String,
    /// Ranges still to read, last first.
    units: Vec<Unit>,
    current: Option<OpenFile>,
    line: Vec<u8>,
    /// Whether files start with a header, which a range inside the file
    /// reads first.
    header: bool,
    /// Ranges read to their end (by any instance, before a restore).
    done: Vec<String>,
    /// Where to go on in ranges a checkpoint stopped inside: byte offset
    /// and lines read.
    resume: std::collections::HashMap<String, (u64, u64)>,
}

impl FileLines {
    fn io_error(&self, context: String, path: &Path, e: std::io::Error) -> PipelineError {
        PipelineError::from(ErrorKind::Io {
            context: format!("source `{}`: {context}", self.source),
            path: path.to_owned(),
            source: e,
        })
    }

    /// Opens a range: positions the reader at the first line that starts in
    /// it, and reads the file's header first if it needs one.
    fn open_unit(&mut self, unit: &Unit) -> Result<OpenFile> {
        let path = &unit.path;
        let handle = File::open(path).map_err(|e| self.io_error("cannot open".into(), path, e))?;
        let mut reader = BufReader::with_capacity(256 * 1024, handle);
        let mut header = None;
        let mut pos = unit.start;
        let key = unit.key();
        if let Some((at, line_no)) = self.resume.remove(&key) {
            // Going on after a checkpoint: `at` starts a line.
            if self.header {
                let mut line = Vec::new();
                reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| self.io_error("cannot read the header".into(), path, e))?;
                header = Some(line);
            }
            reader
                .seek(SeekFrom::Start(at))
                .map_err(|e| self.io_error(format!("cannot seek to byte {at}"), path, e))?;
            return Ok(OpenFile {
                reader,
                name: if unit.start == 0 {
                    path.display().to_string()
                } else {
                    format!("{} from byte {}", path.display(), unit.start)
                },
                line_no,
                pos: at,
                end: unit.end,
                header,
                path: path.clone(),
                at_start: false,
                key,
            });
        }
        if unit.start > 0 {
            let mut skipped = Vec::new();
            if self.header {
                reader
                    .read_until(b'\n', &mut skipped)
                    .map_err(|e| self.io_error("cannot read the header".into(), path, e))?;
                header = Some(std::mem::take(&mut skipped));
            }
            // The line that reaches into the range started before it: the
            // range before reads it.
            reader.seek(SeekFrom::Start(unit.start - 1)).map_err(|e| {
                self.io_error(format!("cannot seek to byte {}", unit.start - 1), path, e)
            })?;
            let n = reader.read_until(b'\n', &mut skipped).map_err(|e| {
                self.io_error(format!("cannot read at byte {}", unit.start), path, e)
            })?;
            pos = unit.start - 1 + n as u64;
        }
        Ok(OpenFile {
            reader,
            name: if unit.start == 0 {
                path.display().to_string()
            } else {
                format!("{} from byte {pos}", path.display())
            },
            line_no: 0,
            pos,
            end: unit.end,
            header,
            path: path.clone(),
            at_start: unit.start == 0,
            key,
        })
    }
}

impl LineReader for FileLines {
    fn open(&mut self, _env: &RunEnv) -> Result<()> {
        Ok(())
    }

    fn read<F>(&mut self, max: usize, mut f: F) -> Result<bool>
    where
        F: FnMut(&str, u64, bool, &[u8]) -> Result<()>,
    {
        let mut read = 0;
        while read < max {
            let file = match &mut self.current {
                Some(file) => file,
                None => match self.units.pop() {
                    Some(unit) => {
                        let opened = self.open_unit(&unit)?;
                        self.current.insert(opened)
                    }
                    None => return Ok(false),
                },
            };
            if let Some(header) = file.header.take() {
                f(&file.name, 0, true, trim_line_end(&header))?;
            }
            if file.pos >= file.end {
                self.done.push(std::mem::take(&mut file.key));
                self.current = None;
                continue;
            }
            self.line.clear();
            let n = file.reader.read_until(b'\n', &mut self.line).map_err(|e| {
                PipelineError::from(ErrorKind::Io {
                    context: format!(
                        "source `{}`: cannot read line {} of {}",
                        self.source,
                        file.line_no + 1,
                        file.name
                    ),
                    path: file.path.clone(),
                    source: e,
                })
            })?;
            if n == 0 {
                self.done.push(std::mem::take(&mut file.key));
                self.current = None;
                continue;
            }
            file.pos += n as u64;
            file.line_no += 1;
            let first = file.at_start && file.line_no == 1;
            f(&file.name, file.line_no, first, trim_line_end(&self.line))?;
            read += 1;
        }
        Ok(true)
    }

    /// The ranges read to their end, where the current one is, and where
    /// ranges a restore stopped inside but not reached again go on: a
    /// restore at any parallelism goes on from there.
    fn position(&self) -> Option<serde_json::Value> {
        let current = self
            .current
            .as_ref()
            .map(|f| serde_json::json!({ "range": f.key, "byte": f.pos, "line": f.line_no }));
        let waiting = self.resume.iter().map(
            |(range, (byte, line))| serde_json::json!({ "range": range, "byte": byte, "line": line }),
        );
        let at: Vec<serde_json::Value> = current.into_iter().chain(waiting).collect();
        Some(serde_json::json!({ "done": self.done, "at": at }))
    }

    fn restore(&mut self, _instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        let mut done = std::collections::HashSet::new();
        for s in saved.iter().flatten() {
            let ranges = s.get("done").and_then(serde_json::Value::as_array);
            done.extend(
                ranges
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned)),
            );
            let at = s.get("at").and_then(serde_json::Value::as_array);
            for at in at.into_iter().flatten() {
                let range = at.get("range").and_then(serde_json::Value::as_str);
                let byte = at.get("byte").and_then(serde_json::Value::as_u64);
                let line = at.get("line").and_then(serde_json::Value::as_u64);
                match (range, byte, line) {
                    (Some(r), Some(b), Some(l)) => {
                        // Several instances may carry one range's
                        // position: the furthest wins.
                        let e = self.resume.entry(r.to_owned()).or_insert((b, l));
                        if b > e.0 {
                            *e = (b, l);
                        }
                    }
                    _ => {
                        return Err(crate::checkpoint::error(format!(
                            "source `{}`: a saved file position is damaged: {at}",
                            self.source
                        )));
                    }
                }
            }
        }
        self.units.retain(|u| !done.contains(&u.key()));
        self.done = done.into_iter().collect();
        self.done.sort();
        Ok(())
    }
}

/// Settings of the file sink.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkSettings {
    /// The file to write; it is created or truncated when the first record
    /// arrives, and its directory must exist. A directory (one that exists,
    /// or a path ending in `/`) gets part files instead, published exactly
    /// once: each instance writes `part-IIII-SSSSSSSS` files, renamed into
    /// place from a hidden staging name when the checkpoint that covers
    /// them is complete (or when the input ends, without checkpoints).
    pub path: PathBuf,
    /// Append to the file rather than truncate it.
    #[serde(default)]
    pub append: bool,
}

/// Writes one record per line to a file. Parallel instances share the file;
/// each writes whole batches of lines at a time.
///
/// Guarantee: at-least-once only if the run completes (the file is flushed
/// at the end of input); exactly-once file output comes with checkpoints.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// let dir = tempfile::tempdir().unwrap();
/// let out = dir.path().join("out.jsonl");
///
/// pipeline! {
///     pipeline Write {
///         source xs: u32 = iter(items: vec![1_u32, 2]);
///         xs -> map(|x: u32| (x, x * x)) -> sink file(name: "out", path: "out.jsonl", format: json);
///     }
/// }
///
/// let opts = RunOptions::default()
///     .with_setting(&format!("out.path={:?}", out.display().to_string())).unwrap();
/// Write::run_with(opts).unwrap();
/// assert_eq!(std::fs::read_to_string(&out).unwrap(), "[1,1]\n[2,4]\n");
/// ```
#[derive(Debug, Clone)]
pub struct FileSink<E> {
    encoder: E,
}

impl<E> FileSink<E> {
    /// Writes with `encoder` (`Text`, `Json`, `Csv` or `DebugFormat`).
    pub fn new(encoder: E) -> Self {
        FileSink { encoder }
    }
}

impl<T, E: Encode<T>> SinkConnector<T> for FileSink<E> {
    type Settings = FileSinkSettings;
    const KIND: &'static str = "file";
    type Writer = EncodedWriter<E, FileOutput>;

    fn writers(self, settings: FileSinkSettings, ctx: &SinkCtx) -> Result<Vec<Self::Writer>> {
        let is_dir =
            settings.path.is_dir() || settings.path.as_os_str().to_string_lossy().ends_with('/');
        if is_dir {
            if settings.append {
                return Err(ConfigError::Invalid {
                    name: format!("{}.append", ctx.name()),
                    message: "a directory gets new part files; `append` applies to one file".into(),
                }
                .into());
            }
            let shared = Arc::default();
            return Ok((0..ctx.parallelism())
                .map(|instance| {
                    let parts = PartFiles::new(
                        ctx.name(),
                        settings.path.clone(),
                        instance,
                        ctx.checkpointing,
                        Arc::clone(&shared),
                    );
                    EncodedWriter::new(ctx.name(), self.encoder.clone(), FileOutput::Parts(parts))
                })
                .collect());
        }
        if ctx.checkpointing {
            return Err(ConfigError::Invalid {
                name: format!("{}.path", ctx.name()),
                message: format!(
                    "with checkpoints, the file sink writes exactly once into a directory of part files; `{}` is a file: give a directory (ending in `/`)",
                    settings.path.display()
                ),
            }
            .into());
        }
        let shared = Arc::new(Mutex::new(FileState::Closed {
            pending: ctx.parallelism(),
        }));
        Ok((0..ctx.parallelism())
            .map(|_| {
                EncodedWriter::new(
                    ctx.name(),
                    self.encoder.clone(),
                    FileOutput::Shared(SharedFile {
                        sink: ctx.name().to_owned(),
                        path: settings.path.clone(),
                        append: settings.append,
                        state: shared.clone(),
                    }),
                )
            })
            .collect())
    }
}

/// Where a file sink instance writes: one file shared by the instances, or
/// its own part files in a directory.
#[derive(Debug)]
pub enum FileOutput {
    /// One file.
    Shared(SharedFile),
    /// Part files, published exactly once.
    Parts(PartFiles),
}

impl Output for FileOutput {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            FileOutput::Shared(f) => f.write(bytes),
            FileOutput::Parts(p) => p.write(bytes),
        }
    }

    fn close(&mut self) -> Result<()> {
        match self {
            FileOutput::Shared(f) => f.close(),
            FileOutput::Parts(p) => p.close(),
        }
    }

    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        match self {
            FileOutput::Shared(f) => f.snapshot(snapshot),
            FileOutput::Parts(p) => p.snapshot(snapshot),
        }
    }

    fn restore(&mut self, restore: &crate::checkpoint::Restore<'_>) -> Result<()> {
        match self {
            FileOutput::Shared(f) => f.restore(restore),
            FileOutput::Parts(p) => p.restore(restore),
        }
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        match self {
            FileOutput::Shared(f) => f.commit(epoch),
            FileOutput::Parts(p) => p.commit(epoch),
        }
    }
}

enum FileState {
    /// Not created yet; `pending` writers have not closed.
    Closed { pending: usize },
    Open {
        file: BufWriter<File>,
        pending: usize,
    },
}

/// A file shared by the instances of one sink.
pub struct SharedFile {
    sink: String,
    path: PathBuf,
    append: bool,
    state: Arc<Mutex<FileState>>,
}

impl std::fmt::Debug for SharedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedFile")
            .field("path", &self.path)
            .finish()
    }
}

impl SharedFile {
    fn io_err(&self, what: &str, e: std::io::Error) -> PipelineError {
        PipelineError::from(ErrorKind::Io {
            context: format!("sink `{}`: cannot {what}", self.sink),
            path: self.path.clone(),
            source: e,
        })
    }

    fn with_file(
        &mut self,
        f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
        what: &str,
    ) -> Result<()> {
        let mut state = self.state.lock().map_err(|_| {
            PipelineError::from(ErrorKind::Executor(
                "a file sink's lock was poisoned".into(),
            ))
        })?;
        if let FileState::Closed { pending } = *state {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(self.append)
                .truncate(!self.append)
                .open(&self.path)
                .map_err(|e| self.io_err("create", e))?;
            *state = FileState::Open {
                file: BufWriter::with_capacity(256 * 1024, file),
                pending,
            };
        }
        match &mut *state {
            FileState::Open { file, .. } => f(file).map_err(|e| self.io_err(what, e)),
            FileState::Closed { .. } => Ok(()),
        }
    }
}

impl Output for SharedFile {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        // Flushed per batch so a long-running pipeline's output shows up
        // as it is made, not only when the input ends.
        self.with_file(
            |file| file.write_all(bytes).and_then(|()| file.flush()),
            "write",
        )
    }

    fn close(&mut self) -> Result<()> {
        // The last instance to close creates the file even if nothing was
        // written (an empty result is a result) and flushes it.
        let last = {
            let mut state = self.state.lock().map_err(|_| {
                PipelineError::from(ErrorKind::Executor(
                    "a file sink's lock was poisoned".into(),
                ))
            })?;
            let (FileState::Closed { pending } | FileState::Open { pending, .. }) = &mut *state;
            *pending = pending.saturating_sub(1);
            *pending == 0
        };
        if last {
            self.with_file(
                |file| file.flush().and_then(|()| file.get_ref().sync_data()),
                "flush",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `units` the way instances do, returning lines with positions.
    fn read_all(units: Vec<Unit>, header: bool) -> Vec<(String, u64, bool, String)> {
        let mut lines = FileLines {
            source: "s".into(),
            units: units.into_iter().rev().collect(),
            current: None,
            line: Vec::new(),
            header,
            done: Vec::new(),
            resume: std::collections::HashMap::new(),
        };
        let mut out = Vec::new();
        while lines
            .read(7, |input, n, first, bytes| {
                out.push((
                    input.to_owned(),
                    n,
                    first,
                    String::from_utf8(bytes.to_vec()).unwrap(),
                ));
                Ok(())
            })
            .unwrap()
        {}
        out
    }

    #[test]
    fn ranges_of_a_file_read_every_line_once_whatever_the_chunk_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        let body: String = (0..200)
            .map(|i| format!("{i},{}\n", "x".repeat(i % 13)))
            .collect();
        std::fs::write(&path, format!("n,pad\n{body}")).unwrap();
        let want: Vec<String> = (0..200)
            .map(|i| format!("{i},{}", "x".repeat(i % 13)))
            .collect();
        for chunk in [1, 2, 3, 7, 64, 1000, 1 << 20] {
            let units = split_files("s", std::slice::from_ref(&path), chunk).unwrap();
            let got = read_all(units, true);
            let headers = got.iter().filter(|(_, _, first, _)| *first).count();
            assert!(
                got.iter().filter(|l| l.2).all(|l| l.3 == "n,pad"),
                "chunk {chunk}"
            );
            assert!(headers >= 1, "chunk {chunk}");
            let rows: Vec<String> = got.into_iter().filter(|l| !l.2).map(|l| l.3).collect();
            assert_eq!(rows, want, "chunk {chunk}");
        }
    }

    #[test]
    fn positions_inside_a_range_count_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "aaaa\nbbbb\ncccc\n").unwrap();
        let units = split_files("s", std::slice::from_ref(&path), 7).unwrap();
        let got = read_all(units, false);
        let name = path.display().to_string();
        assert_eq!(
            got,
            vec![
                (name.clone(), 1, true, "aaaa".into()),
                (name.clone(), 2, false, "bbbb".into()),
                (format!("{name} from byte 10"), 1, false, "cccc".into()),
            ]
        );
    }
}
