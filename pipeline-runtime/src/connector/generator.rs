//! Generated input: a function of the record's index (splittable over
//! instances, optionally rate-limited), or any iterator.

use super::{NoSettings, SourceConnector, SourceCtx};
use crate::exec::channel::{BATCH, TICK};
use crate::exec::origin::{Fill, Origin, RunEnv};
use crate::{ConfigError, Result};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Settings of the generator source.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSettings {
    /// How many records; unbounded when absent.
    pub count: Option<u64>,
    /// Records per second over all instances; as fast as possible when
    /// absent.
    pub rate: Option<u64>,
}

/// Generates `record(i)` for `i` in `0..count`. Indices are split over the
/// parallel instances (instance `k` of `p` makes `k, k+p, k+2p, ..`), so the
/// records made are the same whatever the parallelism.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Squares {
///         source xs: u64 = generator(count: 1000, record: |i: u64| i * i);
///         xs -> filter(|x: &u64| x % 2 == 1) -> sink collect(name: "out");
///     }
/// }
///
/// let got: Vec<u64> = Squares::run_with(RunOptions::default().with_parallelism(2))
///     .unwrap().collected("out").unwrap();
/// assert_eq!(got.len(), 500);
/// ```
#[derive(Debug, Clone)]
pub struct Generator<F> {
    record: F,
}

impl<F> Generator<F> {
    /// Makes records with `record(index)`.
    pub fn new(record: F) -> Self {
        Generator { record }
    }
}

impl<T, F> SourceConnector<T> for Generator<F>
where
    T: Send + 'static,
    F: FnMut(u64) -> T + Clone + Send + 'static,
{
    type Settings = GeneratorSettings;
    const KIND: &'static str = "generator";

    fn instances(
        self,
        settings: GeneratorSettings,
        ctx: &mut SourceCtx,
    ) -> Result<Vec<Box<dyn Origin<T>>>> {
        if settings.rate == Some(0) {
            return Err(ConfigError::Invalid {
                name: format!("{}.rate", ctx.name()),
                message: "must be at least 1 record per second; leave it out for no limit".into(),
            }
            .into());
        }
        let p = ctx.parallelism() as u64;
        Ok((0..p)
            .map(|k| {
                Box::new(GeneratorOrigin {
                    record: self.record.clone(),
                    next: k,
                    step: p,
                    end: settings.count.unwrap_or(u64::MAX),
                    rate: settings
                        .rate
                        .map(|r| (r as f64 / p as f64).max(f64::MIN_POSITIVE)),
                    made: 0,
                    started: None,
                }) as Box<dyn Origin<T>>
            })
            .collect())
    }
}

struct GeneratorOrigin<F> {
    record: F,
    next: u64,
    step: u64,
    end: u64,
    /// Records per second for this instance.
    rate: Option<f64>,
    made: u64,
    started: Option<Instant>,
}

impl<T: Send, F: FnMut(u64) -> T + Send> Origin<T> for GeneratorOrigin<F> {
    fn open(&mut self, _env: &RunEnv) -> Result<()> {
        self.started = Some(Instant::now());
        Ok(())
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        if let (Some(rate), Some(started)) = (self.rate, self.started) {
            // The records made so far are due by then: wait for that, a
            // tick at most, so the task still sees the clock move.
            let ahead = Duration::try_from_secs_f64(self.made as f64 / rate)
                .ok()
                .and_then(|d| (started + d).checked_duration_since(Instant::now()));
            if let Some(wait) = ahead {
                std::thread::sleep(wait.min(TICK));
                if wait > TICK {
                    return Ok(Fill::More);
                }
            }
        }
        let batch = match self.rate {
            // A thousand batches a second keeps the records within a
            // millisecond of when they are due, as a live source would be.
            Some(rate) => ((rate / 1000.0) as usize).clamp(1, BATCH),
            None => BATCH,
        };
        // Records left: indices next, next + step, .. below end.
        let left = self.end.saturating_sub(self.next).div_ceil(self.step);
        let n = left.min(batch as u64);
        let (first, step, record) = (self.next, self.step, &mut self.record);
        buf.extend((0..n).map(|j| record(first + j * step)));
        self.made += n;
        self.next = self.next.saturating_add(n.saturating_mul(step));
        Ok(if self.next >= self.end {
            Fill::End
        } else {
            Fill::More
        })
    }

    fn snapshot(
        &mut self,
        _snapshot: &mut crate::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        Ok(Some(serde_json::json!({ "next": self.next })))
    }

    /// Goes on from the saved index; instance `i` of `p` makes the indices
    /// `i, i + p, ..`, so the parallelism must be the same as then.
    fn restore(&mut self, instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        if saved.len() as u64 != self.step {
            return Err(crate::checkpoint::error(format!(
                "a generator restores only at the parallelism it was checkpointed at ({}, now {})",
                saved.len(),
                self.step
            )));
        }
        if let Some(next) = saved
            .get(instance)
            .and_then(Option::as_ref)
            .and_then(|s| s.get("next"))
            .and_then(serde_json::Value::as_u64)
        {
            self.next = next;
        }
        Ok(())
    }
}

/// Emits the items of an iterator, in order, from one instance.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Letters {
///         source cs: char = iter(items: "abc".chars().collect::<Vec<_>>());
///         cs -> map(|c: char| c.to_ascii_uppercase()) -> sink collect(name: "out");
///     }
/// }
///
/// let got: Vec<char> = Letters::run_default().unwrap().collected("out").unwrap();
/// assert_eq!(got, vec!['A', 'B', 'C']);
/// ```
#[derive(Debug, Clone)]
pub struct Iter<I> {
    items: I,
}

impl<I> Iter<I> {
    /// Emits the items of `items`.
    pub fn new(items: I) -> Self {
        Iter { items }
    }
}

impl<T, I> SourceConnector<T> for Iter<I>
where
    T: Send + 'static,
    I: IntoIterator<Item = T> + 'static,
    I::IntoIter: Send + 'static,
{
    type Settings = NoSettings;
    const KIND: &'static str = "iter";

    fn instances(self, _s: NoSettings, _ctx: &mut SourceCtx) -> Result<Vec<Box<dyn Origin<T>>>> {
        Ok(vec![Box::new(IterOrigin {
            items: self.items.into_iter(),
            taken: 0,
        })])
    }
}

struct IterOrigin<I> {
    items: I,
    /// Items taken so far.
    taken: u64,
}

impl<T: Send, I: Iterator<Item = T> + Send> Origin<T> for IterOrigin<I> {
    fn open(&mut self, _env: &RunEnv) -> Result<()> {
        Ok(())
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        buf.extend(self.items.by_ref().take(BATCH));
        self.taken += buf.len() as u64;
        Ok(if buf.len() < BATCH {
            Fill::End
        } else {
            Fill::More
        })
    }

    fn snapshot(
        &mut self,
        _snapshot: &mut crate::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        Ok(Some(serde_json::json!({ "taken": self.taken })))
    }

    /// Skips the items taken before the checkpoint (the items are made
    /// again by the pipeline's code, in the same order).
    fn restore(&mut self, _instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        let taken = saved
            .first()
            .and_then(Option::as_ref)
            .and_then(|s| s.get("taken"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        for _ in 0..taken {
            if self.items.next().is_none() {
                break;
            }
        }
        self.taken = taken;
        Ok(())
    }
}
