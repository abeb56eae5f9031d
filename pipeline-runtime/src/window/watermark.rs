//! Watermark generation at a source: how far event time has advanced, given
//! the records seen and how out of order they may arrive.
//!
//! Watermarks are made where records enter the pipeline, per source
//! instance (one file set, one connection), by wrapping the instance's
//! [`Origin`]: the wrapper sees every batch before the task counts or
//! processes it, so it can also reject records whose time cannot be right
//! (negative, or far past the clock) and tell when the instance has gone
//! idle. Downstream, channels combine instances by minimum, leaving idle
//! ones out (see [`Push::idle`](crate::operator::Push::idle)).

use crate::connector::BadInputPolicy;
use crate::exec::origin::{Fill, Origin, PartitionView, RunEnv};
use crate::{ConfigError, ErrorKind, Event, PipelineError, Result, Timestamp};
use std::time::{Duration, Instant};

/// How a source derives watermarks from its records' event times.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::WatermarkStrategy;
/// use std::time::Duration;
/// let s = WatermarkStrategy::bounded(Duration::from_secs(2)).unwrap()
///     .with_idle_timeout(Duration::from_secs(30)).unwrap();
/// assert_eq!(s.delay_millis(), 2_000);
/// assert!(WatermarkStrategy::bounded(Duration::ZERO).is_err());
/// assert!(s.with_idle_timeout(Duration::ZERO).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkStrategy {
    delay: i64,
    idle_timeout: Option<Duration>,
    max_ahead: Option<i64>,
}

impl WatermarkStrategy {
    /// How far past the clock a record's time may be by default: an hour,
    /// as Kafka brokers allow (`log.message.timestamp.after.max.ms`).
    pub const DEFAULT_MAX_AHEAD: Duration = Duration::from_secs(3600);

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
        Ok(WatermarkStrategy {
            delay,
            ..Self::monotonic()
        })
    }

    /// Records arrive in timestamp order.
    pub fn monotonic() -> Self {
        WatermarkStrategy {
            delay: 0,
            idle_timeout: None,
            max_ahead: Some(Self::DEFAULT_MAX_AHEAD.as_millis() as i64),
        }
    }

    /// An instance that reads no record for `timeout` is idle: it stops
    /// holding back the watermark of the streams it feeds until it reads
    /// again (Flink's `withIdleness`). Its records may then be late.
    pub fn with_idle_timeout(self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: "idle_timeout".into(),
                message: "must be at least 1ms".into(),
            });
        }
        Ok(WatermarkStrategy {
            idle_timeout: Some(timeout),
            ..self
        })
    }

    /// Records whose time is more than `ahead` past the clock are bad input
    /// (one such record would make every later record late); `None` accepts
    /// any time from the epoch on.
    pub fn with_max_ahead(self, ahead: Option<Duration>) -> Self {
        WatermarkStrategy {
            max_ahead: ahead.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            ..self
        }
    }

    /// The out-of-orderness bound in milliseconds.
    pub fn delay_millis(&self) -> i64 {
        self.delay
    }
}

/// Where a watermarked origin's records come from, for error messages and
/// counters.
#[derive(Debug, Clone)]
pub(crate) struct WatermarkSource {
    pub(crate) name: String,
    pub(crate) instance: usize,
    pub(crate) node: Option<usize>,
    pub(crate) policy: BadInputPolicy,
}

/// One input partition's progress.
#[derive(Debug)]
struct Part {
    id: usize,
    max_seen: i64,
    last_record: Instant,
}

/// A source instance with watermarks: tracks the largest event time read
/// per input partition (one, unless the origin reads several, as a Kafka
/// consumer does) and reports the minimum over the partitions after each
/// batch in which it advanced. Partitions quiet for the idle timeout do
/// not count; when all are, the instance is idle. Event times upstream of
/// it (from a channel) are replaced, but the end of time still passes.
pub(crate) struct WatermarkOrigin<T> {
    inner: Box<dyn Origin<T>>,
    strategy: WatermarkStrategy,
    source: WatermarkSource,
    env: Option<RunEnv>,
    parts: Vec<Part>,
    emitted: Timestamp,
    /// Records read so far (the position of the next one).
    read: u64,
    skipped: u64,
    idle: bool,
    /// Since when the origin has had no partition.
    empty_since: Option<Instant>,
}

impl<T> WatermarkOrigin<T> {
    pub(crate) fn new(
        inner: Box<dyn Origin<T>>,
        strategy: WatermarkStrategy,
        source: WatermarkSource,
    ) -> Self {
        WatermarkOrigin {
            inner,
            strategy,
            source,
            env: None,
            parts: Vec::new(),
            emitted: Timestamp::MIN,
            read: 0,
            skipped: 0,
            idle: false,
            empty_since: None,
        }
    }

    /// The partition `id`'s progress, added if new.
    fn part(&mut self, id: usize) -> &mut Part {
        let i = match self.parts.iter().position(|p| p.id == id) {
            Some(i) => i,
            None => {
                self.parts.push(Part {
                    id,
                    max_seen: i64::MIN,
                    last_record: Instant::now(),
                });
                self.parts.len() - 1
            }
        };
        &mut self.parts[i]
    }

    /// Follows the origin's assignment: partitions it no longer reads stop
    /// counting; new ones hold the watermark back until they read or idle.
    /// Runs after every fill, so it allocates nothing.
    fn track_assignment(&mut self) {
        let Some(view) = self.inner.partitions() else {
            // One partition, always there.
            if self.parts.is_empty() {
                self.part(0);
            }
            return;
        };
        let assigned = view.assigned;
        let unchanged = self.parts.len() == assigned.len()
            && self.parts.iter().all(|p| assigned.contains(&p.id));
        if unchanged {
            return;
        }
        self.parts.retain(|p| assigned.contains(&p.id));
        for &id in assigned {
            if !self.parts.iter().any(|p| p.id == id) {
                self.parts.push(Part {
                    id,
                    max_seen: i64::MIN,
                    last_record: Instant::now(),
                });
            }
        }
    }
}

impl<T: Event + Send> WatermarkOrigin<T> {
    /// Checks each record's time and returns the largest. Records out of
    /// range fail the run or are dropped and counted, per the source's
    /// policy.
    fn scan(&mut self, buf: &mut Vec<T>) -> Result<i64> {
        let limit = self.strategy.max_ahead.map_or(i64::MAX, |ahead| {
            Timestamp::now().as_millis().saturating_add(ahead)
        });
        let mut bad = 0;
        let mut max = i64::MIN;
        for item in buf.iter() {
            let ts = item.event_time().as_millis();
            if ts < 0 || ts > limit {
                bad += 1;
            } else if ts > max {
                max = ts;
            }
        }
        if bad > 0 {
            self.reject(buf, limit)?;
        }
        self.read += buf.len() as u64 + bad;
        Ok(max)
    }

    /// Handles the records of `buf` out of `[0, limit]`.
    fn reject(&mut self, buf: &mut Vec<T>, limit: i64) -> Result<()> {
        let in_range = |item: &T| (0..=limit).contains(&item.event_time().as_millis());
        let Some(first) = buf.iter().position(|item| !in_range(item)) else {
            return Ok(());
        };
        let ts = buf[first].event_time().as_millis();
        let why = if ts < 0 {
            format!("its event time {ts}ms is before 1970 (negative)")
        } else {
            let ahead = Duration::from_millis(
                u64::try_from(ts.saturating_sub(Timestamp::now().as_millis())).unwrap_or(0),
            );
            format!(
                "its event time {ts}ms is {} past the clock, more than `max_ahead` allows",
                humantime::format_duration(Duration::from_secs(ahead.as_secs()))
            )
        };
        let position = format!(
            "record {} of instance {}",
            self.read + first as u64 + 1,
            self.source.instance
        );
        if self.source.policy == BadInputPolicy::Fail {
            return Err(PipelineError::from(ErrorKind::Source {
                source_name: self.source.name.clone(),
                message: format!(
                    "{position}: {why}; fix the record's time, raise `max_ahead`, or set `on_error: skip`"
                ),
                retryable: false,
            }));
        }
        let before = buf.len();
        buf.retain(in_range);
        let dropped = (before - buf.len()) as u64;
        self.skipped += dropped;
        if self.skipped == dropped {
            tracing::warn!(
                source = %self.source.name,
                "skipped {position}: {why}; records with a time out of range are counted as skipped (they decoded, so they are not dead letters)"
            );
        }
        if let (Some(env), Some(node)) = (&self.env, self.source.node) {
            env.metrics.add_skipped(node, dropped);
        }
        Ok(())
    }

    /// The watermark to report after a complete batch, if any: an advance,
    /// a return from idleness, or idleness itself.
    fn after_batch(&mut self) -> Fill {
        let now = Instant::now();
        let timeout = self.strategy.idle_timeout;
        let active = |p: &&Part| timeout.is_none_or(|t| now.duration_since(p.last_record) < t);
        let was_idle = self.idle;
        // Without partitions (between a revocation and the next
        // assignment) the instance holds the watermark where it is, as its
        // next partitions may start behind it; only the idle timeout makes
        // it idle then.
        let since = *self.empty_since.get_or_insert(now);
        if !self.parts.is_empty() {
            self.empty_since = None;
        }
        self.idle = if self.parts.is_empty() {
            timeout.is_some_and(|t| now.duration_since(since) >= t)
        } else {
            !self.parts.iter().any(|p| active(&p))
        };
        let min = self.parts.iter().filter(active).map(|p| p.max_seen).min();
        let watermark = min.map(|m| {
            Timestamp::from_millis(m.saturating_sub(self.strategy.delay).saturating_sub(1))
        });
        match watermark {
            Some(w) if w > self.emitted || (was_idle && !self.idle) => {
                self.emitted = self.emitted.max(w);
                Fill::Watermark(self.emitted)
            }
            _ if self.idle && !was_idle => Fill::Idle,
            _ => Fill::More,
        }
    }
}

impl<T: Event + Send> Origin<T> for WatermarkOrigin<T> {
    fn open(&mut self, env: &RunEnv) -> Result<()> {
        self.env = Some(env.clone());
        self.inner.open(env)?;
        self.track_assignment();
        Ok(())
    }

    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        let fill = self.inner.fill(buf)?;
        let max = self.scan(buf)?;
        self.track_assignment();
        if !buf.is_empty() {
            let id = self.inner.partitions().map_or(0, |view| view.last);
            let part = self.part(id);
            part.max_seen = part.max_seen.max(max);
            part.last_record = Instant::now();
        }
        Ok(match fill {
            // Only a whole batch moves the watermark (micro-batches).
            Fill::Partial => Fill::Partial,
            Fill::End => Fill::End,
            Fill::Barrier(epoch) => Fill::Barrier(epoch),
            Fill::Watermark(w) if w == Timestamp::MAX => {
                self.emitted = Timestamp::MAX;
                Fill::Watermark(w)
            }
            Fill::More | Fill::Watermark(_) | Fill::Idle => self.after_batch(),
        })
    }

    fn commit_due(&self) -> bool {
        self.inner.commit_due()
    }

    fn commit(&mut self) -> Result<()> {
        self.inner.commit()
    }

    fn partitions(&self) -> Option<PartitionView<'_>> {
        self.inner.partitions()
    }

    fn is_source(&self) -> bool {
        self.inner.is_source()
    }

    /// The inner position, and the watermark emitted so far.
    fn snapshot(
        &mut self,
        snapshot: &mut crate::checkpoint::Snapshot<'_>,
    ) -> Result<Option<serde_json::Value>> {
        let inner = self.inner.snapshot(snapshot)?;
        Ok(inner.map(
            |inner| serde_json::json!({ "watermark": self.emitted.as_millis(), "inner": inner }),
        ))
    }

    fn checkpoint_complete(&mut self, epoch: u64) -> Result<()> {
        self.inner.checkpoint_complete(epoch)
    }

    /// Goes back to the inner positions. The instance emits no watermark
    /// until its records pass the smallest any instance had emitted (the
    /// instances' input may be split differently now); stages downstream
    /// restore their own watermarks, which never go back.
    fn restore(&mut self, instance: usize, saved: &[Option<serde_json::Value>]) -> Result<()> {
        let inner: Vec<Option<serde_json::Value>> = saved
            .iter()
            .map(|s| s.as_ref().and_then(|s| s.get("inner").cloned()))
            .collect();
        let watermark = saved
            .iter()
            .map(|s| {
                s.as_ref()
                    .and_then(|s| s.get("watermark"))
                    .and_then(serde_json::Value::as_i64)
            })
            .min()
            .flatten();
        if let Some(w) = watermark {
            self.emitted = Timestamp::from_millis(w);
        }
        self.inner.restore(instance, &inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its items in one batch, then ends.
    struct Once(Vec<At>);
    impl Origin<At> for Once {
        fn open(&mut self, _env: &RunEnv) -> Result<()> {
            Ok(())
        }
        fn fill(&mut self, buf: &mut Vec<At>) -> Result<Fill> {
            buf.append(&mut self.0);
            Ok(Fill::End)
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    struct At(i64);
    impl Event for At {
        fn event_time(&self) -> Timestamp {
            Timestamp::from_millis(self.0)
        }
    }

    fn origin(items: Vec<At>, policy: BadInputPolicy) -> WatermarkOrigin<At> {
        let inner = Box::new(Once(items));
        let strategy = WatermarkStrategy::bounded(Duration::from_millis(10)).unwrap();
        let source = WatermarkSource {
            name: "s".into(),
            instance: 0,
            node: None,
            policy,
        };
        let mut o = WatermarkOrigin::new(inner, strategy, source);
        o.open(&RunEnv::for_tests()).unwrap();
        o
    }

    #[test]
    fn a_negative_or_far_future_time_fails_with_its_position_or_is_skipped() {
        let future = Timestamp::now().as_millis() + 2 * 3_600_000;
        let items = vec![At(5), At(-1), At(future), At(20)];
        let mut o = origin(items.clone(), BadInputPolicy::Fail);
        let err = o.fill(&mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("source `s`: record 2 of instance 0"), "{err}");
        assert!(err.contains("negative"), "{err}");

        let mut o = origin(items, BadInputPolicy::Skip);
        let mut buf = Vec::new();
        let fill = o.fill(&mut buf).unwrap();
        assert_eq!(buf, vec![At(5), At(20)]);
        assert_eq!(o.skipped, 2);
        // The far-future record did not move the watermark.
        assert_eq!(fill, Fill::End);
        assert_eq!(o.parts[0].max_seen, 20);
    }
}
