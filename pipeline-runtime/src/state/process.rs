//! User stages with keyed state and timers: `process_keyed(MyOperator)`,
//! Flink's `KeyedProcessFunction` without the boilerplate.
//!
//! A struct marked `#[operator]` declares its state as fields of the types
//! here ([`ValueState`], [`MapState`], [`ListState`]); the attribute
//! implements [`OperatorState`] for it, and the user implements
//! [`KeyedProcess`] (`on_record`, and `on_timer` if it sets timers). Before
//! each call the stage swaps the current key's values into the fields and
//! takes them back after, so the code reads and writes plain fields while
//! the state is kept per key, in key groups, and saved in checkpoints with
//! the key's timers.
//!
//! A state field marked `#[ttl(30min)]` is cleared for a key that saw no
//! record or timer for that long (processing time, as Flink's state TTL
//! with reads and writes refreshing it): the stage checks before each call,
//! and sweeps expired keys out of memory as the clock passes.

use crate::checkpoint::{Restore, Snapshot, StateValue};
use crate::exec::MeterSet;
use crate::exec::metrics::Meter;
use crate::operator::{Push, Stage};
use crate::state::KeyedStore;
use crate::{Result, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hash;

/// What every state field type has: whether it holds nothing (a key whose
/// fields are all empty, and has no timers, is dropped).
pub trait StateField: Default {
    /// Whether it holds nothing.
    fn is_empty(&self) -> bool;
}

/// One value per key.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::state::ValueState;
/// let mut total: ValueState<u64> = ValueState::default();
/// assert_eq!(total.get(), None);
/// total.set(total.get().copied().unwrap_or(0) + 5);
/// assert_eq!(total.get(), Some(&5));
/// total.clear();
/// assert!(total.get().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValueState<T>(Option<T>);

impl<T> Default for ValueState<T> {
    fn default() -> Self {
        ValueState(None)
    }
}

impl<T> ValueState<T> {
    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// The value to change, if set.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()
    }

    /// Sets the value.
    pub fn set(&mut self, value: T) {
        self.0 = Some(value);
    }

    /// Removes the value, returning it.
    pub fn take(&mut self) -> Option<T> {
        self.0.take()
    }

    /// Removes the value.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T> StateField for ValueState<T> {
    fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// A map per key.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::state::MapState;
/// let mut pages: MapState<String, u32> = MapState::default();
/// *pages.entry("/a".into()).or_insert(0) += 1;
/// assert_eq!(pages.get("/a"), Some(&1));
/// assert_eq!(pages.len(), 1);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "K: Serialize + Eq + Hash, V: Serialize",
    deserialize = "K: Deserialize<'de> + Eq + Hash, V: Deserialize<'de>"
))]
pub struct MapState<K, V>(std::collections::HashMap<K, V>);

impl<K, V> Default for MapState<K, V> {
    fn default() -> Self {
        MapState(std::collections::HashMap::new())
    }
}

impl<K: Hash + Eq, V> MapState<K, V> {
    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(key)
    }

    /// Sets `key`'s value, returning the old one.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.0.insert(key, value)
    }

    /// `key`'s entry, to read or change in place.
    pub fn entry(&mut self, key: K) -> std::collections::hash_map::Entry<'_, K, V> {
        self.0.entry(key)
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.remove(key)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl<K, V> StateField for MapState<K, V> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A list per key.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::state::ListState;
/// let mut seen: ListState<u32> = ListState::default();
/// seen.push(3);
/// seen.push(4);
/// assert_eq!(seen.iter().sum::<u32>(), 7);
/// assert_eq!(seen.take(), vec![3, 4]);
/// assert!(seen.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ListState<T>(Vec<T>);

impl<T> Default for ListState<T> {
    fn default() -> Self {
        ListState(Vec::new())
    }
}

impl<T> ListState<T> {
    /// Appends a value.
    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    /// The values, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes and returns every value.
    pub fn take(&mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl<T> StateField for ListState<T> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The keyed state of an `#[operator]` struct; the attribute implements it.
pub trait OperatorState: Clone + Send + 'static {
    /// Every state field's value for one key (a tuple of the fields'
    /// types, in declaration order).
    type Values: Default + Send + 'static;
    /// Exchanges the state fields with `values`.
    fn swap_values(&mut self, values: &mut Self::Values);
    /// Whether every field of `values` is empty.
    fn values_empty(values: &Self::Values) -> bool;
    /// The shortest and longest time to live of the fields that have one
    /// (`#[ttl(30min)]`), in milliseconds.
    const MIN_TTL_MS: Option<i64> = None;
    /// See [`MIN_TTL_MS`](Self::MIN_TTL_MS).
    const MAX_TTL_MS: Option<i64> = None;
    /// Clears the fields whose time to live is at most `idle_ms`, the
    /// time since the key was last accessed.
    fn expire(values: &mut Self::Values, idle_ms: i64) {
        let _ = (values, idle_ms);
    }
}

/// A timer that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Event time reached this time (the watermark passed it).
    EventTime(Timestamp),
    /// The clock reached this time.
    ProcessingTime(Timestamp),
}

/// What `on_record` and `on_timer` can do besides changing state: emit
/// records, set and delete the current key's timers, and read the time.
#[derive(Debug)]
pub struct ProcessContext<'a, O> {
    out: &'a mut Vec<O>,
    timers: &'a mut KeyTimers,
    /// Timers newly set by this call: (processing time?, when).
    added: &'a mut Vec<(bool, i64)>,
    watermark: Timestamp,
}

impl<O> ProcessContext<'_, O> {
    /// Emits a record.
    pub fn emit(&mut self, record: O) {
        self.out.push(record);
    }

    /// Calls `on_timer` for the current key once the watermark reaches
    /// `at` (as Flink fires an event-time timer when the watermark passes
    /// it). Setting a timer twice sets it once.
    pub fn set_event_timer(&mut self, at: Timestamp) {
        if insert_sorted(&mut self.timers.event, at.as_millis()) {
            self.added.push((false, at.as_millis()));
        }
    }

    /// Deletes the current key's event-time timer at `at`, if set.
    pub fn delete_event_timer(&mut self, at: Timestamp) {
        self.timers.event.retain(|t| *t != at.as_millis());
    }

    /// Calls `on_timer` for the current key once the clock reaches `at`.
    pub fn set_processing_timer(&mut self, at: Timestamp) {
        if insert_sorted(&mut self.timers.processing, at.as_millis()) {
            self.added.push((true, at.as_millis()));
        }
    }

    /// Deletes the current key's processing-time timer at `at`, if set.
    pub fn delete_processing_timer(&mut self, at: Timestamp) {
        self.timers.processing.retain(|t| *t != at.as_millis());
    }

    /// The current watermark.
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Inserts `t` unless it is there; returns whether it was new.
fn insert_sorted(times: &mut Vec<i64>, t: i64) -> bool {
    match times.binary_search(&t) {
        Ok(_) => false,
        Err(i) => {
            times.insert(i, t);
            true
        }
    }
}

/// A stateful user stage over keyed records: `process_keyed(op)`.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
/// use pipeline::runtime::state::{KeyedProcess, ProcessContext, Timer, ValueState};
///
/// /// Emits each key's total once no record came for 10 s of event time.
/// #[operator]
/// #[derive(Clone, Default)]
/// struct TotalAfterQuiet {
///     total: ValueState<u64>,
///     deadline: ValueState<i64>,
/// }
///
/// impl KeyedProcess<String, (String, u64, i64)> for TotalAfterQuiet {
///     type Out = (String, u64);
///     fn on_record(&mut self, _key: &String, r: (String, u64, i64), ctx: &mut ProcessContext<'_, Self::Out>) -> pipeline::Result<()> {
///         self.total.set(self.total.get().copied().unwrap_or(0) + r.1);
///         if let Some(old) = self.deadline.take() {
///             ctx.delete_event_timer(Timestamp::from_millis(old));
///         }
///         self.deadline.set(r.2 + 10_000);
///         ctx.set_event_timer(Timestamp::from_millis(r.2 + 10_000));
///         Ok(())
///     }
///     fn on_timer(&mut self, key: &String, _t: Timer, ctx: &mut ProcessContext<'_, Self::Out>) -> pipeline::Result<()> {
///         ctx.emit((key.clone(), self.total.take().unwrap_or(0)));
///         self.deadline.clear();
///         Ok(())
///     }
/// }
///
/// pipeline! {
///     pipeline Quiet {
///         source buys: (String, u64, i64) = iter(items: vec![
///             ("a".to_string(), 2, 0), ("a".to_string(), 3, 5_000), ("a".to_string(), 4, 30_000),
///         ]);
///         buys -> key_by(|b: &(String, u64, i64)| b.0.clone())
///              -> process_keyed(TotalAfterQuiet::default())
///              -> sink collect(name: "out");
///     }
/// }
///
/// let got: Vec<(String, u64)> = Quiet::run_default().unwrap().collected("out").unwrap();
/// // Without watermarks the timers fire at the end of input.
/// assert_eq!(got, vec![("a".to_string(), 9)]);
/// ```
pub trait KeyedProcess<K, In>: OperatorState {
    /// What it emits.
    type Out;
    /// Handles one record of key `key`; the state fields hold the key's
    /// values.
    fn on_record(
        &mut self,
        key: &K,
        record: In,
        ctx: &mut ProcessContext<'_, Self::Out>,
    ) -> Result<()>;
    /// A timer of key `key` fired; the state fields hold the key's values.
    fn on_timer(
        &mut self,
        key: &K,
        timer: Timer,
        ctx: &mut ProcessContext<'_, Self::Out>,
    ) -> Result<()> {
        let _ = (key, timer, ctx);
        Ok(())
    }
}

/// One key's timers, sorted.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct KeyTimers {
    event: Vec<i64>,
    processing: Vec<i64>,
}

/// One key's state: the operator's values, its timers, and (with a time
/// to live) when a record or timer of the key last came.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Entry<V> {
    values: V,
    timers: KeyTimers,
    touched: i64,
    /// When the key's clean-up is scheduled (0: none); older entries of
    /// the clean-up index for the key are stale.
    #[serde(skip)]
    cleanup_at: i64,
}

/// The linked `process_keyed` stage.
pub struct KeyedProcessOp<K, In, P: KeyedProcess<K, In>, Next> {
    op: P,
    state: KeyedStore<K, Entry<P::Values>>,
    /// Keys with timers, by time.
    event_timers: BTreeMap<i64, Vec<K>>,
    processing_timers: BTreeMap<i64, Vec<K>>,
    /// Keys to check for expired state, by when (processing time).
    cleanups: BTreeMap<i64, Vec<K>>,
    watermark: Timestamp,
    /// What a call emitted, pushed on after it.
    out: Vec<P::Out>,
    /// Timers a call set, filed after it.
    added: Vec<(bool, i64)>,
    meter: Meter,
    node: usize,
    next: Next,
}

impl<K, In, P: KeyedProcess<K, In>, Next> std::fmt::Debug for KeyedProcessOp<K, In, P, Next> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedProcessOp")
            .field("node", &self.node)
            .field("watermark", &self.watermark)
            .finish()
    }
}

impl<K, In, P, Next> KeyedProcessOp<K, In, P, Next>
where
    K: Hash + Eq + Clone + StateValue,
    P: KeyedProcess<K, In>,
    P::Values: StateValue,
    Next: Push<P::Out>,
{
    /// Runs `f` with `key`'s values in the operator's fields, then files
    /// the timers it set and emits what it emitted.
    fn with_key(
        &mut self,
        key: &K,
        f: impl FnOnce(&mut P, &mut ProcessContext<'_, P::Out>) -> Result<()>,
    ) -> Result<()> {
        let entry = self.state.get_or_insert_with_ref(key, Entry::default)?;
        // State past its time to live is gone before the call sees it.
        if let Some(ttl) = P::MIN_TTL_MS {
            let now = Timestamp::now().as_millis();
            if entry.touched > 0 {
                P::expire(&mut entry.values, now - entry.touched);
            }
            entry.touched = now;
            if entry.cleanup_at == 0 {
                entry.cleanup_at = now.saturating_add(ttl);
                self.cleanups
                    .entry(entry.cleanup_at)
                    .or_default()
                    .push(key.clone());
            }
        }
        self.op.swap_values(&mut entry.values);
        let mut ctx = ProcessContext {
            out: &mut self.out,
            timers: &mut entry.timers,
            added: &mut self.added,
            watermark: self.watermark,
        };
        let result = f(&mut self.op, &mut ctx);
        self.op.swap_values(&mut entry.values);
        result?;
        // Timers set by the call go into the index (deleted ones stay there
        // and are skipped when due).
        for (processing, t) in self.added.drain(..) {
            let index = if processing {
                &mut self.processing_timers
            } else {
                &mut self.event_timers
            };
            index.entry(t).or_default().push(key.clone());
        }
        let empty = P::values_empty(&entry.values)
            && entry.timers.event.is_empty()
            && entry.timers.processing.is_empty();
        if empty {
            self.state.remove(key)?;
        }
        for out in self.out.drain(..) {
            self.meter.record_out();
            self.next.push(out)?;
        }
        Ok(())
    }

    /// Clears the state of keys not accessed for longer than their fields'
    /// time to live, and drops keys left empty.
    fn clean_up(&mut self, now: i64) -> Result<()> {
        let (Some(min), Some(max)) = (P::MIN_TTL_MS, P::MAX_TTL_MS) else {
            return Ok(());
        };
        while let Some(entry) = self.cleanups.first_entry() {
            if *entry.key() > now {
                return Ok(());
            }
            let (at, keys) = entry.remove_entry();
            for key in keys {
                let Some(e) = self.state.get_mut(&key)?.filter(|e| e.cleanup_at == at) else {
                    continue;
                };
                let idle = now - e.touched;
                // Accessed since: check again when its shortest TTL ends;
                // some fields cleared: again when the longest ends.
                let next = if idle < min {
                    Some(e.touched.saturating_add(min))
                } else {
                    P::expire(&mut e.values, idle);
                    (idle < max).then(|| e.touched.saturating_add(max))
                };
                let empty = P::values_empty(&e.values)
                    && e.timers.event.is_empty()
                    && e.timers.processing.is_empty();
                match next {
                    _ if empty => {
                        self.state.remove(&key)?;
                    }
                    Some(next) => {
                        e.cleanup_at = next;
                        self.cleanups.entry(next).or_default().push(key);
                    }
                    None => e.cleanup_at = 0,
                }
            }
        }
        Ok(())
    }

    /// Fires the timers of `timers` due at `until`.
    fn fire(&mut self, processing: bool, until: i64) -> Result<()> {
        loop {
            let timers = if processing {
                &mut self.processing_timers
            } else {
                &mut self.event_timers
            };
            let Some(entry) = timers.first_entry() else {
                return Ok(());
            };
            if *entry.key() > until {
                return Ok(());
            }
            let (at, keys) = entry.remove_entry();
            for key in keys {
                // Still set (not deleted, not fired for a duplicate)?
                let set = self.state.get_mut(&key)?.is_some_and(|e| {
                    let list = if processing {
                        &mut e.timers.processing
                    } else {
                        &mut e.timers.event
                    };
                    match list.binary_search(&at) {
                        Ok(i) => {
                            list.remove(i);
                            true
                        }
                        Err(_) => false,
                    }
                });
                if !set {
                    continue;
                }
                let timer = if processing {
                    Timer::ProcessingTime(Timestamp::from_millis(at))
                } else {
                    Timer::EventTime(Timestamp::from_millis(at))
                };
                self.with_key(&key, |op, ctx| op.on_timer(&key, timer, ctx))?;
            }
        }
    }
}

impl<K, In, P, Next> Push<(K, In)> for KeyedProcessOp<K, In, P, Next>
where
    K: Hash + Eq + Clone + StateValue,
    P: KeyedProcess<K, In>,
    P::Values: StateValue,
    Next: Push<P::Out>,
{
    fn push(&mut self, (key, record): (K, In)) -> Result<()> {
        self.with_key(&key, |op, ctx| op.on_record(&key, record, ctx))
    }

    fn flush(&mut self) -> Result<()> {
        let now = Timestamp::now().as_millis();
        self.fire(true, now)?;
        self.clean_up(now)?;
        self.meter.publish();
        self.next.flush()
    }

    fn watermark(&mut self, watermark: Timestamp) -> Result<()> {
        if watermark > self.watermark {
            self.watermark = watermark;
            self.fire(false, watermark.as_millis())?;
        }
        self.next.watermark(watermark)
    }

    fn idle(&mut self) -> Result<()> {
        self.next.idle()
    }

    fn sync(&mut self) -> Result<()> {
        self.next.sync()
    }

    /// Saves every key's values and timers, and the watermark.
    fn snapshot(&mut self, snapshot: &mut Snapshot<'_>) -> Result<()> {
        self.state
            .snapshot_with_watermark(snapshot, self.node, self.watermark)?;
        self.next.snapshot(snapshot)
    }

    fn restore(&mut self, restore: &Restore<'_>) -> Result<()> {
        if let Some(w) = self.state.restore_with_watermark(restore, self.node)? {
            self.watermark = w;
        }
        self.event_timers.clear();
        self.processing_timers.clear();
        self.cleanups.clear();
        let mut cleanups = Vec::new();
        let now = Timestamp::now().as_millis();
        let (event_timers, processing_timers) =
            (&mut self.event_timers, &mut self.processing_timers);
        self.state.for_each(|key, entry| {
            if let Some(ttl) = P::MIN_TTL_MS {
                // Saved without a time to live: its time starts now.
                let touched = if entry.touched > 0 {
                    entry.touched
                } else {
                    now
                };
                cleanups.push((touched.saturating_add(ttl), touched, key.clone()));
            }
            for t in &entry.timers.event {
                event_timers.entry(*t).or_default().push(key.clone());
            }
            for t in &entry.timers.processing {
                processing_timers.entry(*t).or_default().push(key.clone());
            }
        })?;
        for (at, touched, key) in cleanups {
            if let Some(e) = self.state.get_mut(&key)? {
                e.cleanup_at = at;
                e.touched = touched;
            }
            self.cleanups.entry(at).or_default().push(key);
        }
        self.next.restore(restore)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.next.commit(epoch)
    }

    /// The end of input is the end of event time: every event-time timer
    /// fires (processing-time timers do not, as in Flink).
    fn finish(&mut self) -> Result<()> {
        self.watermark = Timestamp::MAX;
        self.fire(false, i64::MAX)?;
        self.meter.publish();
        self.next.finish()
    }
}

/// The `process_keyed` stage before linking.
#[derive(Debug, Clone)]
pub struct KeyedProcessStage<P> {
    pub(crate) op: P,
    pub(crate) node: usize,
}

impl<K, In, P> Stage<(K, In)> for KeyedProcessStage<P>
where
    K: Hash + Eq + Clone + Send + StateValue,
    In: Send + 'static,
    P: KeyedProcess<K, In>,
    P::Values: StateValue,
    P::Out: Send + 'static,
{
    type Out = P::Out;
    type Linked<Next: Push<P::Out> + Send> = KeyedProcessOp<K, In, P, Next>;

    fn link<Next: Push<P::Out> + Send>(self, next: Next, meter: &MeterSet) -> Self::Linked<Next> {
        KeyedProcessOp {
            op: self.op,
            state: KeyedStore::default(),
            event_timers: BTreeMap::new(),
            processing_timers: BTreeMap::new(),
            cleanups: BTreeMap::new(),
            watermark: Timestamp::MIN,
            out: Vec::new(),
            added: Vec::new(),
            meter: meter.meter(self.node),
            node: self.node,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A count per key that lives 50 ms, implemented by hand as
    /// `#[operator]` would.
    #[derive(Clone, Default)]
    struct Short {
        count: ValueState<u32>,
    }

    impl OperatorState for Short {
        type Values = (ValueState<u32>,);
        fn swap_values(&mut self, values: &mut Self::Values) {
            std::mem::swap(&mut self.count, &mut values.0);
        }
        fn values_empty(values: &Self::Values) -> bool {
            values.0.is_empty()
        }
        const MIN_TTL_MS: Option<i64> = Some(50);
        const MAX_TTL_MS: Option<i64> = Some(50);
        fn expire(values: &mut Self::Values, idle_ms: i64) {
            if idle_ms >= 50 {
                values.0 = ValueState::default();
            }
        }
    }

    impl KeyedProcess<u32, ()> for Short {
        type Out = u32;
        fn on_record(&mut self, _k: &u32, _r: (), ctx: &mut ProcessContext<'_, u32>) -> Result<()> {
            let n = self.count.get().copied().unwrap_or(0) + 1;
            self.count.set(n);
            ctx.emit(n);
            Ok(())
        }
    }

    struct Out(Vec<u32>);
    impl Push<u32> for Out {
        fn push(&mut self, item: u32) -> Result<()> {
            self.0.push(item);
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn keys_past_their_time_to_live_are_cleaned_up_without_being_read() {
        let meters = MeterSet {
            metrics: std::sync::Arc::new(crate::exec::metrics::Metrics::new(1)),
        };
        let stage = KeyedProcessStage {
            op: Short::default(),
            node: 0,
        };
        let mut op =
            <KeyedProcessStage<Short> as Stage<(u32, ())>>::link(stage, Out(Vec::new()), &meters);
        for k in 0..100 {
            op.push((k, ())).unwrap();
        }
        op.push((7, ())).unwrap();
        assert_eq!(op.state.len(), 100);
        op.flush().unwrap();
        assert_eq!(op.state.len(), 100, "nothing has expired yet");
        std::thread::sleep(std::time::Duration::from_millis(80));
        op.flush().unwrap();
        assert_eq!(op.state.len(), 0, "every key expired and was dropped");
        assert!(op.cleanups.is_empty());
        op.push((7, ())).unwrap();
        assert_eq!(op.next.0.last(), Some(&1), "key 7 starts afresh");
    }
}
