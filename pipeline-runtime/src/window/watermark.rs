//! Watermark generation at a source: how far event time has advanced, given
//! the records seen and how out of order they may arrive.

use crate::exec::MeterSet;
use crate::operator::{Push, Stage};
use crate::{ConfigError, Event, Result, Timestamp};
use std::time::Duration;

/// How a source derives watermarks from its records' event times.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::WatermarkStrategy;
/// use std::time::Duration;
/// let s = WatermarkStrategy::bounded(Duration::from_secs(2)).unwrap();
/// assert_eq!(s.delay_millis(), 2_000);
/// assert!(WatermarkStrategy::bounded(Duration::ZERO).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkStrategy {
    delay: i64,
}

impl WatermarkStrategy {
    /// Records may arrive up to `bound` later than the latest seen (Flink's
    /// bounded out-of-orderness): the watermark is the largest timestamp
    /// seen minus `bound` minus 1ms.
    pub fn bounded(bound: Duration) -> Result<Self, ConfigError> {
        let delay = i64::try_from(bound.as_millis()).unwrap_or(i64::MAX);
        if delay == 0 {
            return Err(ConfigError::Invalid {
                name: "watermark".into(),
                message: "a bound of zero means records are in order; use `monotonic` for that"
                    .into(),
            });
        }
        Ok(WatermarkStrategy { delay })
    }

    /// Records arrive in timestamp order.
    pub fn monotonic() -> Self {
        WatermarkStrategy { delay: 0 }
    }

    /// The out-of-orderness bound in milliseconds.
    pub fn delay_millis(&self) -> i64 {
        self.delay
    }
}

/// Tracks the largest event time seen and emits a watermark after each
/// batch when it advanced.
#[derive(Debug)]
pub struct Watermarks<Next> {
    next: Next,
    delay: i64,
    max_seen: i64,
    emitted: Timestamp,
}

impl<T: Event, Next: Push<T>> Push<T> for Watermarks<Next> {
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        let ts = item.event_time().as_millis();
        if ts > self.max_seen {
            self.max_seen = ts;
        }
        self.next.push(item)
    }

    fn flush(&mut self) -> Result<()> {
        let watermark =
            Timestamp::from_millis(self.max_seen.saturating_sub(self.delay).saturating_sub(1));
        if watermark > self.emitted {
            self.emitted = watermark;
            self.next.watermark(watermark)?;
        }
        self.next.flush()
    }

    fn watermark(&mut self, watermark: Timestamp) -> Result<()> {
        // This stage makes the watermarks from here on (as Flink's
        // `assignTimestampsAndWatermarks`): upstream ones are dropped, but
        // the end of time still passes.
        if watermark == Timestamp::MAX {
            self.emitted = Timestamp::MAX;
            return self.next.watermark(watermark);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()?;
        self.next.finish()
    }
}

/// The watermark stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct WatermarkStage {
    pub(crate) strategy: WatermarkStrategy,
}

impl<T: Event + 'static> Stage<T> for WatermarkStage {
    type Out = T;
    type Linked<Next: Push<T> + Send> = Watermarks<Next>;

    fn link<Next: Push<T> + Send>(self, next: Next, _meter: &MeterSet) -> Watermarks<Next> {
        Watermarks {
            next,
            delay: self.strategy.delay,
            max_seen: i64::MIN,
            emitted: Timestamp::MIN,
        }
    }
}
