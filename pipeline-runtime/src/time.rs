//! Event time: the [`Timestamp`] type and the [`Event`] trait.
//!
//! Records carry their own time (Kafka style, epoch milliseconds) so windows
//! and watermarks can be computed from the data rather than from the clock.
//! `#[derive(Event)]` implements [`Event`] from a field marked
//! `#[event_time]`.

use serde::{Deserialize, Serialize};

/// A point in event time: milliseconds since the Unix epoch, as in Kafka.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::Timestamp;
/// let t = Timestamp::from_millis(1_500);
/// assert_eq!(t.as_millis(), 1_500);
/// assert!(t < Timestamp::from_millis(2_000));
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable time.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable time.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// A timestamp from epoch milliseconds.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Epoch milliseconds.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The wall clock now (processing time).
    ///
    /// ```
    /// use pipeline_runtime::Timestamp;
    /// assert!(Timestamp::now() > Timestamp::from_millis(1_600_000_000_000));
    /// ```
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    /// This time plus `ms` milliseconds, saturating at the ends of time.
    pub const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// A value that can serve as an event-time field: a [`Timestamp`], or plain
/// epoch milliseconds as `i64` or `u64`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::{ToTimestamp, Timestamp};
/// assert_eq!(42_i64.to_timestamp(), Timestamp::from_millis(42));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as event time",
    label = "an `#[event_time]` field must be a timestamp",
    note = "use `pipeline::Timestamp`, or epoch milliseconds as `i64` or `u64`"
)]
pub trait ToTimestamp {
    /// The value as a timestamp.
    fn to_timestamp(&self) -> Timestamp;
}

impl ToTimestamp for Timestamp {
    fn to_timestamp(&self) -> Timestamp {
        *self
    }
}

impl ToTimestamp for i64 {
    fn to_timestamp(&self) -> Timestamp {
        Timestamp(*self)
    }
}

impl ToTimestamp for u64 {
    fn to_timestamp(&self) -> Timestamp {
        Timestamp(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

/// A record with an event time. Derive it with `#[derive(Event)]` and mark
/// the time field `#[event_time]`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::{Event, Timestamp};
/// struct Click { at: i64 }
/// impl Event for Click {
///     fn event_time(&self) -> Timestamp { Timestamp::from_millis(self.at) }
/// }
/// assert_eq!(Click { at: 5 }.event_time().as_millis(), 5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no event time, so it cannot be windowed or given watermarks",
    label = "this needs records with an event time",
    note = "add `#[derive(Event)]` to `{Self}` and mark its time field `#[event_time]`"
)]
pub trait Event {
    /// When the event happened.
    fn event_time(&self) -> Timestamp;
}
