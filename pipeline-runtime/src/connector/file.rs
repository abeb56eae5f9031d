//! Files: a source reading one file or every file of a directory, line by
//! line; a sink writing one file.

use super::lines::{EncodedWriter, LineOrigin, LineReader, Output, trim_line_end};
use super::{SinkConnector, SinkCtx, SourceConnector, SourceCtx};
use crate::ErrorKind;
use crate::exec::origin::{Origin, RunEnv};
use crate::format::{Decode, Encode};
use crate::{PipelineError, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
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

/// Reads lines from a file or a directory of files. Files are split over
/// the parallel instances, so a directory of N files is read by up to N
/// instances at once.
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
        // Listing the directory is the one thing done at build time: it
        // decides how many instances there are.
        let files = list_files(ctx.name(), &settings.path)?;
        let instances = ctx.parallelism().min(files.len()).max(1);
        let mut assigned: Vec<Vec<PathBuf>> = vec![Vec::new(); instances];
        for (i, file) in files.into_iter().enumerate() {
            assigned[i % instances].push(file);
        }
        Ok(assigned
            .into_iter()
            .enumerate()
            .map(|(i, files)| {
                Box::new(LineOrigin {
                    reader: FileLines {
                        source: ctx.name().to_owned(),
                        files: files.into_iter().rev().collect(),
                        current: None,
                        line: Vec::new(),
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

struct OpenFile {
    reader: BufReader<File>,
    name: String,
    line_no: u64,
}

/// Lines of a list of files, one after the other.
struct FileLines {
    source: String,
    /// Files still to read, last first.
    files: Vec<PathBuf>,
    current: Option<OpenFile>,
    line: Vec<u8>,
}

impl LineReader for FileLines {
    fn open(&mut self, _env: &RunEnv) -> Result<()> {
        Ok(())
    }

    fn read<F>(&mut self, max: usize, mut f: F) -> Result<bool>
    where
        F: FnMut(&str, u64, &[u8]) -> Result<()>,
    {
        let mut read = 0;
        while read < max {
            let file = match &mut self.current {
                Some(file) => file,
                None => match self.files.pop() {
                    Some(path) => {
                        let handle = File::open(&path).map_err(|e| {
                            PipelineError::from(ErrorKind::Io {
                                context: format!("source `{}`: cannot open", self.source),
                                path: path.clone(),
                                source: e,
                            })
                        })?;
                        self.current.insert(OpenFile {
                            reader: BufReader::with_capacity(256 * 1024, handle),
                            name: path.display().to_string(),
                            line_no: 0,
                        })
                    }
                    None => return Ok(false),
                },
            };
            self.line.clear();
            let n = file.reader.read_until(b'\n', &mut self.line).map_err(|e| {
                PipelineError::from(ErrorKind::Io {
                    context: format!(
                        "source `{}`: cannot read line {}",
                        self.source,
                        file.line_no + 1
                    ),
                    path: PathBuf::from(&file.name),
                    source: e,
                })
            })?;
            if n == 0 {
                self.current = None;
                continue;
            }
            file.line_no += 1;
            f(&file.name, file.line_no, trim_line_end(&self.line))?;
            read += 1;
        }
        Ok(true)
    }
}

/// Settings of the file sink.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkSettings {
    /// The file to write; it is created or truncated when the first record
    /// arrives. Its directory must exist.
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
    type Writer = EncodedWriter<E, SharedFile>;

    fn writers(self, settings: FileSinkSettings, ctx: &SinkCtx) -> Result<Vec<Self::Writer>> {
        let shared = Arc::new(Mutex::new(FileState::Closed {
            pending: ctx.parallelism(),
        }));
        Ok((0..ctx.parallelism())
            .map(|_| {
                EncodedWriter::new(
                    ctx.name(),
                    self.encoder.clone(),
                    SharedFile {
                        sink: ctx.name().to_owned(),
                        path: settings.path.clone(),
                        append: settings.append,
                        state: shared.clone(),
                    },
                )
            })
            .collect())
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
