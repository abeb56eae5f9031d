//! Joins of two streams by key: the records of both meet in one keyed
//! task, tagged with their side ([`Side`]), and a join stage pairs them.
//!
//! - The stream-table join ([`TableJoin`]) treats its right input as a
//!   changelog: the latest record per key, latest by arrival (so with
//!   rows that change, which row a record meets depends on timing, as in
//!   Kafka Streams). Each left record is paired with the table's row for its
//!   key when it arrives, or waits for the key's first row if it has none
//!   yet (where Kafka Streams would drop it). Records still waiting when the
//!   input ends are counted as dropped in the run summary and logged.
//! - The interval join ([`IntervalJoin`]) pairs records whose event times
//!   are close: a right record at `r` joins a left one at `l` when
//!   `l + lower <= r <= l + upper`, as Flink's interval join. Records are
//!   kept until the watermark says no partner can come any more.
//! - The window join pairs every left and right record of the same key and
//!   window. It is built from the window stages (`window(..)` and a
//!   full-window function), as Flink builds its own.

use super::{MeterSet, Push, Stage};
use crate::checkpoint::{Restore, Snapshot, StateValue};
use crate::exec::metrics::Meter;
use crate::state::KeyedStore;
use crate::{Event, Result, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hash;

/// A record of a join's left or right input, on its way to the join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side<L, R> {
    /// From the stream the join stage follows.
    Left(L),
    /// From the stream the join names.
    Right(R),
}

impl<L: Event, R: Event> Event for Side<L, R> {
    #[inline]
    fn event_time(&self) -> Timestamp {
        match self {
            Side::Left(l) => l.event_time(),
            Side::Right(r) => r.event_time(),
        }
    }
}

/// A pair of joined records.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
/// use pipeline::runtime::operator::Joined;
///
/// pipeline! {
///     pipeline Names {
///         source orders: (u32, String) = iter(items: vec![(1, "tea".into()), (2, "jam".into())]);
///         source users: (u32, String) = iter(items: vec![(1, "ada".into()), (2, "bo".into())]);
///         orders
///             -> join(users).on(|o: &(u32, String)| o.0, |u: &(u32, String)| u.0)
///             -> map(|j: Joined<(u32, String), (u32, String)>| (j.right.1, j.left.1))
///             -> sink collect(name: "out");
///     }
/// }
///
/// let mut got: Vec<(String, String)> = Names::run_default().unwrap().collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec![("ada".into(), "tea".into()), ("bo".into(), "jam".into())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined<L, R> {
    /// The record of the stream the join follows.
    pub left: L,
    /// The record of the stream the join names.
    pub right: R,
}

/// A joined pair happens when its later record does (as in Flink's
/// interval join).
impl<L: Event, R: Event> Event for Joined<L, R> {
    #[inline]
    fn event_time(&self) -> Timestamp {
        self.left.event_time().max(self.right.event_time())
    }
}

/// The state of one key of a [`TableJoin`].
#[derive(Debug, Serialize, Deserialize)]
struct TableSlot<L, R> {
    latest: Option<R>,
    waiting: Vec<L>,
    /// With a time to live: when the key last saw a record (epoch ms).
    touched: i64,
}

/// The linked stream-table join.
#[derive(Debug)]
pub struct TableJoin<K, L, R, Next> {
    state: KeyedStore<K, TableSlot<L, R>>,
    /// Counts the records that never met a row.
    meter: Meter,
    node: usize,
    /// How long a key's state lives without records (ms), and the keys to
    /// check, by when.
    ttl: Option<i64>,
    expiries: BTreeMap<i64, Vec<K>>,
    next: Next,
}

impl<K, L, R, Next> Push<(K, Side<L, R>)> for TableJoin<K, L, R, Next>
where
    K: Hash + Eq + Clone + StateValue,
    L: StateValue,
    R: Clone + StateValue,
    Next: Push<Joined<L, R>>,
{
    #[inline]
    fn push(&mut self, (key, item): (K, Side<L, R>)) -> Result<()> {
        // One look-up; the key is cloned only when it is new.
        let slot = self.state.get_or_insert_with_ref(&key, || TableSlot {
            latest: None,
            waiting: Vec::new(),
            touched: 0,
        })?;
        if let Some(ttl) = self.ttl {
            let now = Timestamp::now().as_millis();
            if slot.touched == 0 {
                // A new key: check it when it may expire.
                self.expiries
                    .entry(now.saturating_add(ttl))
                    .or_default()
                    .push(key.clone());
            } else if now - slot.touched >= ttl {
                // Expired and not swept yet (its check is due): afresh.
                self.meter.record_many_skipped(slot.waiting.len() as u64);
                slot.waiting.clear();
                slot.latest = None;
            }
            slot.touched = now;
        }
        match item {
            Side::Left(left) => match &slot.latest {
                Some(right) => {
                    self.meter.record_out();
                    self.next.push(Joined {
                        left,
                        right: right.clone(),
                    })
                }
                None => {
                    slot.waiting.push(left);
                    Ok(())
                }
            },
            Side::Right(right) => {
                for left in slot.waiting.drain(..) {
                    self.meter.record_out();
                    self.next.push(Joined {
                        left,
                        right: right.clone(),
                    })?;
                }
                slot.latest = Some(right);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(ttl) = self.ttl {
            self.expire(Timestamp::now().as_millis(), ttl)?;
        }
        self.meter.publish();
        self.next.flush()
    }

    fn finish(&mut self) -> Result<()> {
        let mut unmatched = 0;
        self.state
            .for_each(|_, slot| unmatched += slot.waiting.len())?;
        if unmatched > 0 {
            tracing::warn!(
                "{unmatched} records of a join never met a row of their key; they are counted as dropped"
            );
            self.meter.record_many_skipped(unmatched as u64);
        }
        self.meter.publish();
        self.next.finish()
    }

    fn snapshot(&mut self, snapshot: &mut Snapshot<'_>) -> Result<()> {
        self.state.snapshot(snapshot, self.node, &())?;
        self.next.snapshot(snapshot)
    }

    fn restore(&mut self, restore: &Restore<'_>) -> Result<()> {
        self.state.restore::<()>(restore, self.node)?;
        self.expiries.clear();
        if let Some(ttl) = self.ttl {
            let expiries = &mut self.expiries;
            self.state.for_each(|key, slot| {
                expiries
                    .entry(slot.touched.saturating_add(ttl))
                    .or_default()
                    .push(key.clone());
            })?;
        }
        self.next.restore(restore)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.next.commit(epoch)
    }

    forward_control!(@events);
}

impl<K, L, R, Next> TableJoin<K, L, R, Next>
where
    K: Hash + Eq + Clone + StateValue,
    L: StateValue,
    R: StateValue,
{
    /// Drops the keys that saw no record for `ttl` ms; records still
    /// waiting for a row are counted as dropped.
    fn expire(&mut self, now: i64, ttl: i64) -> Result<()> {
        while let Some(entry) = self.expiries.first_entry() {
            if *entry.key() > now {
                return Ok(());
            }
            for key in entry.remove() {
                let touched = self.state.get(&key)?.map(|s| s.touched);
                match touched {
                    Some(t) if now - t >= ttl => {
                        if let Some(slot) = self.state.remove(&key)? {
                            self.meter.record_many_skipped(slot.waiting.len() as u64);
                        }
                    }
                    // Touched since: check again when it may expire.
                    Some(t) => self
                        .expiries
                        .entry(t.saturating_add(ttl))
                        .or_default()
                        .push(key),
                    None => {}
                }
            }
        }
        Ok(())
    }
}

/// The stream-table join before linking.
#[derive(Debug, Clone, Copy)]
pub struct TableJoinStage {
    pub(crate) node: usize,
    /// How long a key's state lives without records, in milliseconds.
    pub(crate) ttl: Option<i64>,
}

impl<K, L, R> Stage<(K, Side<L, R>)> for TableJoinStage
where
    K: Hash + Eq + Clone + Send + StateValue,
    L: Send + StateValue,
    R: Clone + Send + StateValue,
{
    type Out = Joined<L, R>;
    type Linked<Next: Push<Joined<L, R>> + Send> = TableJoin<K, L, R, Next>;

    fn link<Next: Push<Joined<L, R>> + Send>(
        self,
        next: Next,
        meter: &MeterSet,
    ) -> Self::Linked<Next> {
        TableJoin {
            state: KeyedStore::default(),
            meter: meter.meter(self.node),
            node: self.node,
            ttl: self.ttl,
            expiries: BTreeMap::new(),
            next,
        }
    }
}

/// The records of one key of an [`IntervalJoin`], with their times.
#[derive(Debug, Serialize, Deserialize)]
struct Buffers<L, R> {
    left: Vec<(Timestamp, L)>,
    right: Vec<(Timestamp, R)>,
}

/// The linked interval join.
#[derive(Debug)]
pub struct IntervalJoin<K, L, R, Next> {
    lower: i64,
    upper: i64,
    state: KeyedStore<K, Buffers<L, R>>,
    /// When keys may have records to drop: at each watermark past a time,
    /// the keys listed under it are cleaned.
    expiries: BTreeMap<Timestamp, Vec<K>>,
    watermark: Timestamp,
    meter: Meter,
    node: usize,
    next: Next,
}

impl<K, L, R, Next> IntervalJoin<K, L, R, Next>
where
    K: Hash + Eq + Clone,
{
    fn expire_at(&mut self, at: Timestamp, key: &K) {
        self.expiries.entry(at).or_default().push(key.clone());
    }
}

impl<K, L, R, Next> Push<(K, Side<L, R>)> for IntervalJoin<K, L, R, Next>
where
    K: Hash + Eq + Clone + StateValue,
    L: Event + Clone + StateValue,
    R: Event + Clone + StateValue,
    Next: Push<Joined<L, R>>,
{
    fn push(&mut self, (key, item): (K, Side<L, R>)) -> Result<()> {
        let time = item.event_time();
        if time <= self.watermark {
            // As Flink: a record behind the watermark is late; counted.
            self.meter.record_skipped();
            return Ok(());
        }
        let (lower, upper) = (self.lower, self.upper);
        let buffers = self.state.get_or_insert_with_ref(&key, || Buffers {
            left: Vec::new(),
            right: Vec::new(),
        })?;
        let expiry = match item {
            Side::Left(left) => {
                let (from, to) = (time.plus_millis(lower), time.plus_millis(upper));
                for (t, right) in &buffers.right {
                    if from <= *t && *t <= to {
                        self.meter.record_out();
                        self.next.push(Joined {
                            left: left.clone(),
                            right: right.clone(),
                        })?;
                    }
                }
                buffers.left.push((time, left));
                to
            }
            Side::Right(right) => {
                let (from, to) = (time.plus_millis(-upper), time.plus_millis(-lower));
                for (t, left) in &buffers.left {
                    if from <= *t && *t <= to {
                        self.meter.record_out();
                        self.next.push(Joined {
                            left: left.clone(),
                            right: right.clone(),
                        })?;
                    }
                }
                buffers.right.push((time, right));
                to
            }
        };
        self.expire_at(expiry, &key);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.meter.publish();
        self.next.flush()
    }

    fn watermark(&mut self, watermark: Timestamp) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        let later = self.expiries.split_off(&self.watermark.plus_millis(1));
        let due = std::mem::replace(&mut self.expiries, later);
        let (lower, upper, wm) = (self.lower, self.upper, self.watermark);
        // A key is listed once per record it got; clean it once.
        let mut keys: hashbrown::HashSet<K, rustc_hash::FxBuildHasher> = Default::default();
        keys.extend(due.into_values().flatten());
        for key in keys {
            let empty = match self.state.get_mut(&key)? {
                Some(b) => {
                    // A left record can still meet rights up to `t + upper`,
                    // a right one lefts up to `t - lower`.
                    b.left.retain(|(t, _)| t.plus_millis(upper) > wm);
                    b.right.retain(|(t, _)| t.plus_millis(-lower) > wm);
                    b.left.is_empty() && b.right.is_empty()
                }
                None => false,
            };
            if empty {
                self.state.remove(&key)?;
            }
        }
        self.next.watermark(watermark)
    }

    fn idle(&mut self) -> Result<()> {
        self.next.idle()
    }

    fn sync(&mut self) -> Result<()> {
        self.next.sync()
    }

    /// Saves every key's records and the watermark; the expiries are
    /// derived from the records on restore.
    fn snapshot(&mut self, snapshot: &mut Snapshot<'_>) -> Result<()> {
        self.state
            .snapshot_with_watermark(snapshot, self.node, self.watermark)?;
        self.next.snapshot(snapshot)
    }

    fn restore(&mut self, restore: &Restore<'_>) -> Result<()> {
        if let Some(w) = self.state.restore_with_watermark(restore, self.node)? {
            self.watermark = w;
        }
        self.expiries.clear();
        let (lower, upper) = (self.lower, self.upper);
        let mut expiries: Vec<(Timestamp, K)> = Vec::new();
        self.state.for_each(|key, b| {
            let last = b
                .left
                .iter()
                .map(|(t, _)| t.plus_millis(upper))
                .chain(b.right.iter().map(|(t, _)| t.plus_millis(-lower)))
                .max();
            if let Some(at) = last {
                expiries.push((at, key.clone()));
            }
        })?;
        for (at, key) in expiries {
            self.expire_at(at, &key);
        }
        self.next.restore(restore)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.next.commit(epoch)
    }

    fn finish(&mut self) -> Result<()> {
        self.meter.publish();
        self.next.finish()
    }
}

/// The interval join before linking: `lower` and `upper` bound the right
/// record's time relative to the left one's, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct IntervalJoinStage {
    pub(crate) lower: i64,
    pub(crate) upper: i64,
    pub(crate) node: usize,
}

impl<K, L, R> Stage<(K, Side<L, R>)> for IntervalJoinStage
where
    K: Hash + Eq + Clone + Send + StateValue,
    L: Event + Clone + Send + StateValue,
    R: Event + Clone + Send + StateValue,
{
    type Out = Joined<L, R>;
    type Linked<Next: Push<Joined<L, R>> + Send> = IntervalJoin<K, L, R, Next>;

    fn link<Next: Push<Joined<L, R>> + Send>(
        self,
        next: Next,
        meter: &MeterSet,
    ) -> Self::Linked<Next> {
        IntervalJoin {
            lower: self.lower,
            upper: self.upper,
            state: KeyedStore::default(),
            expiries: BTreeMap::new(),
            watermark: Timestamp::MIN,
            meter: meter.meter(self.node),
            node: self.node,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Out<T>(Vec<T>);

    impl<T> Default for Out<T> {
        fn default() -> Self {
            Out(Vec::new())
        }
    }

    impl<T> Push<T> for Out<T> {
        fn push(&mut self, item: T) -> Result<()> {
            self.0.push(item);
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_table_join_uses_the_latest_row_and_holds_records_until_one_comes() {
        let metrics = std::sync::Arc::new(crate::exec::metrics::Metrics::new(1));
        let meters = MeterSet {
            metrics: metrics.clone(),
        };
        let mut join = <TableJoinStage as Stage<(u8, Side<String, String>)>>::link(
            TableJoinStage { node: 0, ttl: None },
            Out::<Joined<String, String>>::default(),
            &meters,
        );
        let s = |x: &str| x.to_owned();
        join.push((1, Side::Left(s("early")))).unwrap();
        assert!(join.next.0.is_empty());
        join.push((1, Side::Right(s("v1")))).unwrap();
        join.push((1, Side::Left(s("a")))).unwrap();
        join.push((1, Side::Right(s("v2")))).unwrap();
        join.push((1, Side::Left(s("b")))).unwrap();
        join.push((2, Side::Left(s("other key")))).unwrap();
        let pairs: Vec<(&str, &str)> = join
            .next
            .0
            .iter()
            .map(|j| (j.left.as_str(), j.right.as_str()))
            .collect();
        assert_eq!(pairs, vec![("early", "v1"), ("a", "v1"), ("b", "v2")]);
        join.finish().unwrap();
        assert_eq!(
            metrics.node(0).1,
            1,
            "the record that never met a row is counted"
        );
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct At(i64);

    impl Event for At {
        fn event_time(&self) -> Timestamp {
            Timestamp::from_millis(self.0)
        }
    }

    #[test]
    fn the_interval_join_drops_state_behind_the_watermark_and_counts_late_records() {
        let metrics = std::sync::Arc::new(crate::exec::metrics::Metrics::new(1));
        let meters = MeterSet {
            metrics: metrics.clone(),
        };
        let stage = IntervalJoinStage {
            lower: -10,
            upper: 20,
            node: 0,
        };
        let mut join = <IntervalJoinStage as Stage<(u8, Side<At, At>)>>::link(
            stage,
            Out::<Joined<At, At>>::default(),
            &meters,
        );
        join.push((1, Side::Left(At(100)))).unwrap();
        join.push((1, Side::Right(At(89)))).unwrap(); // before 100 - 10
        join.push((1, Side::Right(At(95)))).unwrap();
        join.push((1, Side::Right(At(120)))).unwrap();
        join.push((1, Side::Right(At(121)))).unwrap(); // past 100 + 20
        let got: Vec<(i64, i64)> = join.next.0.iter().map(|j| (j.left.0, j.right.0)).collect();
        assert_eq!(got, vec![(100, 95), (100, 120)]);
        // At 120 no right record can meet the left one (100 + 20) any more;
        // a right one stays while a left one could still come (up to 10ms
        // after it): 120 and 121 stay, 89 and 95 go.
        join.watermark(Timestamp::from_millis(120)).unwrap();
        let buffers = join.state.get(&1).unwrap().unwrap();
        assert!(buffers.left.is_empty());
        let kept: Vec<i64> = buffers.right.iter().map(|(t, _)| t.as_millis()).collect();
        assert_eq!(kept, vec![120, 121]);
        join.watermark(Timestamp::from_millis(131)).unwrap();
        assert_eq!(join.state.len(), 0);
        join.push((1, Side::Left(At(131)))).unwrap();
        join.finish().unwrap();
        assert_eq!(metrics.node(0).1, 1, "one late record");
    }
}
