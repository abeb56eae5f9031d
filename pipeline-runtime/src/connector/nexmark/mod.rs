//! Nexmark, the benchmark every stream processor reports: an online auction
//! site's persons, auctions and bids, made by a generator that reproduces
//! the reference one, so figures and results compare with other engines'.
//!
//! In the DSL, `nexmark(events: N)` is a source of [`Event`]s; queries
//! usually keep one kind with `filter_map(|e: nexmark::Event| e.into_bid())`.
//! The events can also be exported to CSV files (see
//! [`write_csv`]) that other engines, and the `file` source, read.

mod generate;
mod model;
mod random;

pub use generate::Generator;
pub use model::{Auction, Bid, Event, Person};
pub use random::JavaRandom;

use super::generator::{Generator as IndexGenerator, GeneratorSettings};
use super::{SourceConnector, SourceCtx};
use crate::exec::origin::Origin;
use crate::{ConfigError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Settings of the `nexmark` source.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NexmarkSettings {
    /// How many events; unbounded when absent.
    pub events: Option<u64>,
    /// Events per second of wall-clock time over all instances; as fast as
    /// possible when absent.
    pub rate: Option<u64>,
    /// Events per second of event time (10,000, as Beam's default).
    pub event_rate: u64,
}

impl Default for NexmarkSettings {
    fn default() -> Self {
        NexmarkSettings {
            events: None,
            rate: None,
            event_rate: 10_000,
        }
    }
}

/// The Nexmark source: events `0..events` of a [`Generator`], split over the
/// parallel instances (instance `k` of `p` makes events `k, k+p, ..`), so
/// the events are the same at any parallelism, and each instance's event
/// times only grow (`watermark: monotonic` holds).
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
/// use pipeline::nexmark;
///
/// pipeline! {
///     pipeline Bids {
///         source events: nexmark::Event = nexmark(events: 1000);
///         events
///             -> filter_map(|e: nexmark::Event| e.into_bid())
///             -> sink collect(name: "bids");
///     }
/// }
///
/// let bids: Vec<nexmark::Bid> = Bids::run_with(RunOptions::default().with_parallelism(2))
///     .unwrap().collected("bids").unwrap();
/// assert_eq!(bids.len(), 920); // 46 in every 50 events
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

impl SourceConnector<Event> for Nexmark {
    type Settings = NexmarkSettings;
    const KIND: &'static str = "nexmark";

    fn instances(
        self,
        settings: NexmarkSettings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<Event>>>> {
        if settings.event_rate == 0 {
            return Err(ConfigError::Invalid {
                name: format!("{}.event_rate", ctx.name()),
                message: "must be at least 1 event per second of event time".into(),
            }
            .into());
        }
        let generator = Generator {
            event_rate: settings.event_rate,
            ..self.generator
        };
        let indices = GeneratorSettings {
            count: settings.events,
            rate: settings.rate,
        };
        IndexGenerator::new(move |n| generator.event(n)).instances(indices, ctx)
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
