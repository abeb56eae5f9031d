//! Event-time windows: assigners (tumbling, sliding, session) and the keyed
//! window aggregate.
//!
//! Semantics follow Flink exactly: a window is `[start, end)`, aligned to the
//! epoch plus an offset; it fires when the watermark reaches `end - 1`;
//! allowed lateness keeps it open that much longer, re-emitting its result
//! for each late record; records later than that are counted and dropped.

mod aggregate;
mod watermark;

pub use aggregate::{
    Incremental, ProcessAll, WindowAggregate, WindowAggregateStage, WindowFunction, Windowed,
};
pub(crate) use aggregate::{LateSenders, check_trigger};
pub use watermark::WatermarkStrategy;
pub(crate) use watermark::{WatermarkOrigin, WatermarkSource};

use crate::{ConfigError, Timestamp};
use std::time::Duration;

/// A window of event time, `[start, end)`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::Window;
/// use pipeline_runtime::Timestamp;
/// let w = Window::new(Timestamp::from_millis(0), Timestamp::from_millis(10));
/// assert_eq!(w.max_timestamp(), Timestamp::from_millis(9));
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Window {
    /// First instant in the window.
    pub start: Timestamp,
    /// First instant after the window.
    pub end: Timestamp,
}

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        Window { start, end }
    }

    /// The last instant in the window: it fires when the watermark reaches it.
    pub fn max_timestamp(&self) -> Timestamp {
        Timestamp::from_millis(self.end.as_millis().saturating_sub(1))
    }

    fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }

    fn span(&self, other: &Window) -> Window {
        Window::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Assigns records to windows by their time.
pub trait WindowAssigner: Clone + Send + 'static {
    /// Puts the windows of a record at `ts` into `out` (which is empty).
    fn assign(&self, ts: Timestamp, out: &mut Vec<Window>);

    /// Whether overlapping windows of one key merge (sessions).
    fn merges(&self) -> bool {
        false
    }

    /// Whether windows follow processing time (the clock when a record
    /// reaches the window) rather than event time.
    fn processing_time(&self) -> bool {
        false
    }

    /// Whether this is the [`Global`] window, which only a trigger or the
    /// end of input fires.
    fn is_global(&self) -> bool {
        false
    }
}

/// Where an assigner reads a record's time: its event time, or the clock
/// for [`ProcessingTime`] windows, or nowhere for the [`Global`] window.
#[diagnostic::on_unimplemented(
    message = "`{T}` has no event time, so it cannot go into event-time windows",
    label = "this window needs records with an event time",
    note = "derive `Event` for the record and mark its time field with `#[event_time]`, or window by processing time: `tumbling(10s).processing_time()`"
)]
pub trait TimeOf<T>: WindowAssigner {
    /// The time `item` is windowed by.
    fn time_of(&self, item: &T) -> Timestamp;
}

macro_rules! event_time_assigner {
    ($($t:ty),*) => {$(
        impl<T: crate::Event> TimeOf<T> for $t {
            #[inline]
            fn time_of(&self, item: &T) -> Timestamp {
                item.event_time()
            }
        }
    )*};
}
event_time_assigner!(Tumbling, Sliding, Session);

/// Windows of processing time: `tumbling(10s).processing_time()`. A record
/// belongs to the window of the instant it reaches the window stage, and a
/// window fires when the clock passes its end (Flink's processing-time
/// windows). Records need no event time; results depend on when records
/// arrive, so they differ from run to run.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::{ProcessingTime, Tumbling, WindowAssigner};
/// use std::time::Duration;
/// let w = ProcessingTime(Tumbling::new(Duration::from_secs(10)).unwrap());
/// assert!(w.processing_time());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ProcessingTime<W>(pub W);

impl<W: WindowAssigner> WindowAssigner for ProcessingTime<W> {
    #[inline]
    fn assign(&self, ts: Timestamp, out: &mut Vec<Window>) {
        self.0.assign(ts, out);
    }

    fn merges(&self) -> bool {
        self.0.merges()
    }

    fn processing_time(&self) -> bool {
        true
    }
}

impl<T, W: WindowAssigner> TimeOf<T> for ProcessingTime<W> {
    #[inline]
    fn time_of(&self, _item: &T) -> Timestamp {
        Timestamp::now()
    }
}

/// One window per key over all time: `global`. Only a [`Trigger`] fires it
/// (`count(n)` for count windows, `every(5s)` for running results) and
/// the end of the input completes it. Records need no event time.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::{Global, WindowAssigner};
/// use pipeline_runtime::Timestamp;
/// let mut out = Vec::new();
/// Global.assign(Timestamp::from_millis(5), &mut out);
/// assert_eq!(out[0].start, Timestamp::MIN);
/// assert!(Global.is_global());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Global;

impl WindowAssigner for Global {
    #[inline]
    fn assign(&self, _ts: Timestamp, out: &mut Vec<Window>) {
        out.push(Window::new(Timestamp::MIN, Timestamp::MAX));
    }

    fn is_global(&self) -> bool {
        true
    }
}

impl<T> TimeOf<T> for Global {
    #[inline]
    fn time_of(&self, _item: &T) -> Timestamp {
        Timestamp::MIN
    }
}

/// When a window emits besides its end: `trigger(count(100))` or
/// `trigger(every(1s))`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::Trigger;
/// use std::time::Duration;
/// assert!(Trigger::every(Duration::from_secs(1)).is_ok());
/// assert!(Trigger::count(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Fires a window each time it holds this many records, then clears it
    /// (count windows; [`Global`] windows only, as Flink's `countWindow`).
    /// The end of the input fires what a window holds. Windows follow
    /// arrival order: when several source instances feed a key, which
    /// records share a window depends on how their streams interleave.
    Count(u32),
    /// Every interval of processing time, emits the current result of each
    /// window that changed since it last emitted (early firing before the
    /// watermark; running results of a [`Global`] window). The window still
    /// fires at its end as usual.
    Every(Duration),
}

impl Trigger {
    /// `count(n)`: at least 1.
    pub fn count(n: u32) -> Result<Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::Invalid {
                name: "trigger".into(),
                message: "`count` needs at least 1 record".into(),
            });
        }
        Ok(Trigger::Count(n))
    }

    /// `every(interval)`: at least 1ms.
    pub fn every(interval: Duration) -> Result<Self, ConfigError> {
        millis("trigger interval", interval)?;
        Ok(Trigger::Every(interval))
    }
}

fn millis(name: &str, d: Duration) -> Result<i64, ConfigError> {
    let ms = i64::try_from(d.as_millis()).map_err(|_| ConfigError::Invalid {
        name: name.to_owned(),
        message: format!("{d:?} is too long"),
    })?;
    if ms <= 0 {
        return Err(ConfigError::Invalid {
            name: name.to_owned(),
            message: "must be at least 1ms".into(),
        });
    }
    Ok(ms)
}

/// Start of the window of `size` (aligned to `offset`) holding `ts`, as
/// Flink's `TimeWindow.getWindowStartWithOffset`; computed wide so that
/// timestamps near the ends of `i64` cannot overflow.
#[inline]
fn aligned_start(ts: i64, offset: i64, size: i64) -> i64 {
    // The usual case in plain `i64` (one division); only timestamps near
    // the ends of `i64` take the wide path.
    if let Some(start) = ts
        .checked_sub(offset)
        .and_then(|d| ts.checked_sub(d.rem_euclid(size)))
    {
        return start;
    }
    let (ts, offset, size) = (i128::from(ts), i128::from(offset), i128::from(size));
    let start = ts - (ts - offset).rem_euclid(size);
    i64::try_from(start).unwrap_or(i64::MIN)
}

/// Fixed-size, non-overlapping windows: `tumbling(10s)`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::{Tumbling, Window, WindowAssigner};
/// use pipeline_runtime::Timestamp;
/// use std::time::Duration;
/// let t = Tumbling::new(Duration::from_secs(10)).unwrap();
/// let mut out = Vec::new();
/// t.assign(Timestamp::from_millis(12_345), &mut out);
/// assert_eq!(out, vec![Window::new(Timestamp::from_millis(10_000), Timestamp::from_millis(20_000))]);
/// assert!(Tumbling::new(Duration::ZERO).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Tumbling {
    size: i64,
    offset: i64,
}

impl Tumbling {
    /// Windows of `size`, aligned to the epoch.
    pub fn new(size: Duration) -> Result<Self, ConfigError> {
        Ok(Tumbling {
            size: millis("window size", size)?,
            offset: 0,
        })
    }

    /// Windows aligned to the epoch plus `offset` (less than the size).
    pub fn with_offset(self, offset: Duration) -> Result<Self, ConfigError> {
        let offset = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
        if offset >= self.size {
            return Err(ConfigError::Invalid {
                name: "window offset".into(),
                message: format!("must be less than the window size ({}ms)", self.size),
            });
        }
        Ok(Tumbling { offset, ..self })
    }
}

impl WindowAssigner for Tumbling {
    #[inline]
    fn assign(&self, ts: Timestamp, out: &mut Vec<Window>) {
        let start = aligned_start(ts.as_millis(), self.offset, self.size);
        out.push(Window::new(
            Timestamp::from_millis(start),
            Timestamp::from_millis(start.saturating_add(self.size)),
        ));
    }
}

/// Fixed-size windows that start every `slide`: `sliding(10s, 2s)`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::{Sliding, WindowAssigner};
/// use pipeline_runtime::Timestamp;
/// use std::time::Duration;
/// let s = Sliding::new(Duration::from_secs(10), Duration::from_secs(5)).unwrap();
/// let mut out = Vec::new();
/// s.assign(Timestamp::from_millis(12_000), &mut out);
/// let starts: Vec<i64> = out.iter().map(|w| w.start.as_millis()).collect();
/// assert_eq!(starts, vec![10_000, 5_000]);
/// assert!(Sliding::new(Duration::from_secs(1), Duration::from_secs(2)).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Sliding {
    size: i64,
    slide: i64,
    offset: i64,
}

impl Sliding {
    /// Windows of `size` starting every `slide` (at most `size`).
    pub fn new(size: Duration, slide: Duration) -> Result<Self, ConfigError> {
        let (size, slide) = (millis("window size", size)?, millis("window slide", slide)?);
        if slide > size {
            return Err(ConfigError::Invalid {
                name: "window slide".into(),
                message: format!(
                    "{slide}ms is larger than the window size {size}ms; records between windows would be lost"
                ),
            });
        }
        Ok(Sliding {
            size,
            slide,
            offset: 0,
        })
    }

    /// Windows aligned to the epoch plus `offset` (less than the slide).
    pub fn with_offset(self, offset: Duration) -> Result<Self, ConfigError> {
        let offset = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
        if offset >= self.slide {
            return Err(ConfigError::Invalid {
                name: "window offset".into(),
                message: format!("must be less than the slide ({}ms)", self.slide),
            });
        }
        Ok(Sliding { offset, ..self })
    }
}

impl WindowAssigner for Sliding {
    #[inline]
    fn assign(&self, ts: Timestamp, out: &mut Vec<Window>) {
        let ts = ts.as_millis();
        let mut start = aligned_start(ts, self.offset, self.slide);
        while start > ts.saturating_sub(self.size) {
            out.push(Window::new(
                Timestamp::from_millis(start),
                Timestamp::from_millis(start.saturating_add(self.size)),
            ));
            match start.checked_sub(self.slide) {
                Some(earlier) => start = earlier,
                None => break,
            }
        }
    }
}

/// Windows per key that close after a `gap` without records, merging
/// as records arrive: `session(30s)`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::{Session, WindowAssigner};
/// use pipeline_runtime::Timestamp;
/// use std::time::Duration;
/// let s = Session::new(Duration::from_secs(30)).unwrap();
/// let mut out = Vec::new();
/// s.assign(Timestamp::from_millis(1_000), &mut out);
/// assert_eq!(out[0].end.as_millis(), 31_000);
/// assert!(s.merges());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Session {
    gap: i64,
}

impl Session {
    /// Sessions that end after `gap` without records.
    pub fn new(gap: Duration) -> Result<Self, ConfigError> {
        Ok(Session {
            gap: millis("session gap", gap)?,
        })
    }
}

impl WindowAssigner for Session {
    #[inline]
    fn assign(&self, ts: Timestamp, out: &mut Vec<Window>) {
        out.push(Window::new(
            ts,
            Timestamp::from_millis(ts.as_millis().saturating_add(self.gap)),
        ));
    }

    fn merges(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(a: &impl WindowAssigner, ts: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        a.assign(Timestamp::from_millis(ts), &mut out);
        out.iter()
            .map(|w| (w.start.as_millis(), w.end.as_millis()))
            .collect()
    }

    #[test]
    fn tumbling_aligns_to_the_epoch_and_offset_even_before_it() {
        let t = Tumbling::new(Duration::from_millis(10)).unwrap();
        assert_eq!(assign(&t, 0), vec![(0, 10)]);
        assert_eq!(assign(&t, 9), vec![(0, 10)]);
        assert_eq!(assign(&t, 10), vec![(10, 20)]);
        assert_eq!(assign(&t, -1), vec![(-10, 0)]);
        let t = t.with_offset(Duration::from_millis(3)).unwrap();
        assert_eq!(assign(&t, 2), vec![(-7, 3)]);
        assert_eq!(assign(&t, 3), vec![(3, 13)]);
    }

    #[test]
    fn sliding_gives_each_record_size_over_slide_windows() {
        let s = Sliding::new(Duration::from_millis(10), Duration::from_millis(5)).unwrap();
        assert_eq!(assign(&s, 7), vec![(5, 15), (0, 10)]);
        assert_eq!(assign(&s, 5), vec![(5, 15), (0, 10)]);
        assert_eq!(assign(&s, 4), vec![(0, 10), (-5, 5)]);
        let s = Sliding::new(Duration::from_millis(10), Duration::from_millis(3)).unwrap();
        assert_eq!(assign(&s, 10).len(), 3);
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let t = Tumbling::new(Duration::from_millis(10))
            .unwrap()
            .with_offset(Duration::from_millis(3))
            .unwrap();
        assert_eq!(assign(&t, i64::MIN).len(), 1);
        assert_eq!(assign(&t, i64::MAX).len(), 1);
        let s = Sliding::new(Duration::from_millis(10), Duration::from_millis(3)).unwrap();
        // At the very bottom of time no sliding window start is
        // representable: no window (the operator counts it as late).
        assert!(assign(&s, i64::MIN).is_empty());
        assert!(!assign(&s, i64::MAX).is_empty());
        let g = Session::new(Duration::from_millis(10)).unwrap();
        assert_eq!(assign(&g, i64::MAX), vec![(i64::MAX, i64::MAX)]);
    }

    #[test]
    fn bad_sizes_are_config_errors() {
        assert!(Tumbling::new(Duration::ZERO).is_err());
        assert!(Sliding::new(Duration::from_millis(5), Duration::ZERO).is_err());
        assert!(Sliding::new(Duration::from_millis(5), Duration::from_millis(6)).is_err());
        assert!(Session::new(Duration::ZERO).is_err());
        let t = Tumbling::new(Duration::from_millis(10)).unwrap();
        assert!(t.with_offset(Duration::from_millis(10)).is_err());
    }
}
