//! Nexmark, the benchmark every stream processor reports: an online auction
//! site's persons, auctions and bids, made by a generator that reproduces
//! the reference one, so figures and results compare with other engines'.
//!
//! In the DSL, `nexmark(events: N)` is a source of the first `N` events: of
//! every [`Event`] if the source is declared so, or of one kind (declared
//! as [`Bid`], [`Auction`] or [`Person`]), which it makes without making
//! the others. The events can be exported to CSV files (see [`write_csv`]),
//! which other engines read, and which the source reads instead of
//! generating when given `--set NAME.csv=DIR`.

mod generate;
mod model;
mod random;

pub use generate::Generator;
pub use model::{Auction, Bid, Event, Person, SharedStr};
pub use random::JavaRandom;

use super::file::{FileSource, FileSourceSettings};
use super::generator::{Generator as IndexGenerator, GeneratorSettings};
use super::{SourceConnector, SourceCtx};
use crate::exec::origin::Origin;
use crate::format::Csv;
use crate::{ConfigError, Result};
use generate::Kind;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Settings of the `nexmark` source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NexmarkSettings {
    /// How many events; unbounded when absent.
    pub events: Option<u64>,
    /// Events per second of wall-clock time over all instances (a source
    /// of one kind makes its share of them, at least one record a second);
    /// as fast as possible when absent.
    pub rate: Option<u64>,
    /// Events per second of event time (10,000, as Beam's default).
    pub event_rate: u64,
    /// Read the records from the CSV file of their kind (`bid.csv`,
    /// `auction.csv`, `person.csv`) in this directory, as [`write_csv`]
    /// wrote it, instead of generating them; `events` and `rate` then do
    /// not apply.
    pub csv: Option<PathBuf>,
}

impl Default for NexmarkSettings {
    fn default() -> Self {
        NexmarkSettings {
            events: None,
            rate: None,
            event_rate: 10_000,
            csv: None,
        }
    }
}

/// What the `nexmark` source can make: every [`Event`], or one kind of
/// record.
pub trait NexmarkRecord: DeserializeOwned + Send + Sized + 'static {
    /// The `i`-th record (from 0).
    fn make(generator: &Generator, i: u64) -> Self;
    /// How many of the first `events` events are such records.
    fn count_in(events: u64) -> u64;
    /// How many of every 50 events are such records.
    fn share() -> u64;
    /// The CSV file that holds them, if one does.
    fn file() -> Option<&'static str>;
}

impl NexmarkRecord for Event {
    fn make(generator: &Generator, i: u64) -> Self {
        generator.event(i)
    }
    fn count_in(events: u64) -> u64 {
        events
    }
    fn share() -> u64 {
        50
    }
    fn file() -> Option<&'static str> {
        None
    }
}

macro_rules! kind_record {
    ($($t:ident => $kind:ident, $make:ident, $file:literal;)*) => {$(
        impl NexmarkRecord for $t {
            fn make(generator: &Generator, i: u64) -> Self {
                generator.$make(i)
            }
            fn count_in(events: u64) -> u64 {
                Kind::$kind.count_in(events)
            }
            fn share() -> u64 {
                Kind::$kind.share()
            }
            fn file() -> Option<&'static str> {
                Some($file)
            }
        }
    )*};
}

kind_record! {
    Person => Person, person, "person.csv";
    Auction => Auction, auction, "auction.csv";
    Bid => Bid, bid, "bid.csv";
}

/// The Nexmark source: the records of events `0..events` of a
/// [`Generator`] (all of them, or one kind, as the source is declared),
/// split over the parallel instances (instance `k` of `p` makes records
/// `k, k+p, ..`), so the records are the same at any parallelism, and each
/// instance's event times only grow (`watermark: monotonic` holds). With
/// `csv` set it reads the exported CSV file of its kind instead.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
/// use pipeline::nexmark;
///
/// pipeline! {
///     pipeline Bids {
///         source bids: nexmark::Bid = nexmark(events: 1000);
///         bids
///             -> filter(|b: &nexmark::Bid| b.price > 1_000_00)
///             -> sink collect(name: "dear");
///     }
/// }
///
/// let out = Bids::run_with(RunOptions::default().with_parallelism(2)).unwrap();
/// let dear: Vec<nexmark::Bid> = out.collected("dear").unwrap();
/// // 920 bids in 1000 events, prices log-uniform from $1 to $1M.
/// assert!((300..600).contains(&dear.len()), "{}", dear.len());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Nexmark {
    generator: Generator,
}

impl Nexmark {
    /// A source of `generator`'s events.
    pub fn new(generator: Generator) -> Self {
        Nexmark { generator }
    }
}

impl<T: NexmarkRecord> SourceConnector<T> for Nexmark {
    type Settings = NexmarkSettings;
    const KIND: &'static str = "nexmark";

    fn instances(
        self,
        settings: NexmarkSettings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<T>>>> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                name: format!("{}.{key}", ctx.name()),
                message: message.into(),
            }
            .into())
        };
        if let Some(dir) = settings.csv {
            let Some(file) = T::file() else {
                return invalid(
                    "csv",
                    "CSV files hold one kind of event each; declare the source's records as `nexmark::Bid`, `nexmark::Auction` or `nexmark::Person` to read one",
                );
            };
            let file_settings = FileSourceSettings {
                path: dir.join(file),
                header: false,
            };
            return FileSource::new(Csv::default()).instances(file_settings, ctx);
        }
        if settings.event_rate == 0 {
            return invalid(
                "event_rate",
                "must be at least 1 event per second of event time",
            );
        }
        let generator = Generator {
            event_rate: settings.event_rate,
            ..self.generator
        };
        if settings.rate == Some(0) {
            return invalid(
                "rate",
                "must be at least 1 event per second; leave it out for no limit",
            );
        }
        let indices = GeneratorSettings {
            count: settings.events.map(T::count_in),
            // The rate counts every event, so one kind comes at its share
            // (at least one record a second).
            rate: settings.rate.map(|r| {
                let share = u128::from(r) * u128::from(T::share()) / 50;
                u64::try_from(share).unwrap_or(u64::MAX).max(1)
            }),
        };
        IndexGenerator::new(move |i| T::make(&generator, i)).instances(indices, ctx)
    }
}

/// How many events of each kind [`write_csv`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvCounts {
    /// Lines of `person.csv`.
    pub persons: u64,
    /// Lines of `auction.csv`.
    pub auctions: u64,
    /// Lines of `bid.csv`.
    pub bids: u64,
}

/// Writes events `0..events` of `generator` as header-less CSV files
/// `person.csv`, `auction.csv` and `bid.csv` in `dir` (created if missing),
/// times in epoch milliseconds, columns in the order of the types' fields.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::nexmark::{write_csv, Generator};
/// let dir = tempfile::tempdir().unwrap();
/// let counts = write_csv(&Generator::default(), 100, dir.path()).unwrap();
/// assert_eq!((counts.persons, counts.auctions, counts.bids), (2, 6, 92));
/// let bids = std::fs::read_to_string(dir.path().join("bid.csv")).unwrap();
/// assert!(bids.starts_with("1000,1001,"));
/// ```
pub fn write_csv(generator: &Generator, events: u64, dir: &Path) -> std::io::Result<CsvCounts> {
    std::fs::create_dir_all(dir)?;
    let open = |name: &str| -> std::io::Result<csv::Writer<std::fs::File>> {
        let file = std::fs::File::create(dir.join(name))?;
        Ok(csv::WriterBuilder::new()
            .has_headers(false)
            .buffer_capacity(1 << 20)
            .from_writer(file))
    };
    let (mut persons, mut auctions, mut bids) =
        (open("person.csv")?, open("auction.csv")?, open("bid.csv")?);
    let mut counts = CsvCounts::default();
    for n in 0..events {
        match generator.event(n) {
            Event::Person(p) => {
                persons.serialize(p)?;
                counts.persons += 1;
            }
            Event::Auction(a) => {
                auctions.serialize(a)?;
                counts.auctions += 1;
            }
            Event::Bid(b) => {
                bids.serialize(b)?;
                counts.bids += 1;
            }
        }
    }
    for mut w in [persons, auctions, bids] {
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests;
