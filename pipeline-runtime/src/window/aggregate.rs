//! The keyed window aggregate: incremental aggregates per key and window,
//! fired by watermarks.

use super::{TimeOf, Trigger, Window, WindowAssigner};
use crate::checkpoint::{Restore, Snapshot, StateValue};
use crate::exec::MeterSet;
use crate::exec::channel::ForwardSender;
use crate::exec::metrics::Meter;
use crate::operator::{Aggregate, Push, Stage};
use crate::state::KeyedStore;
use crate::{ConfigError, Result, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A window's result for one key.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::window::Windowed;
/// use pipeline_runtime::Timestamp;
/// let w = Windowed { key: "a", start: Timestamp::from_millis(0), end: Timestamp::from_millis(10), value: 3_u64 };
/// assert_eq!(w.value, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Windowed<K, V> {
    /// The key.
    pub key: K,
    /// First instant of the window.
    pub start: Timestamp,
    /// First instant after the window.
    pub end: Timestamp,
    /// The aggregate.
    pub value: V,
}

impl<K, V> crate::Event for Windowed<K, V> {
    /// A window's result happens at the window's last instant (as in Flink),
    /// so results can be windowed again downstream.
    fn event_time(&self) -> Timestamp {
        Timestamp::from_millis(self.end.as_millis().saturating_sub(1))
    }
}

/// What a window computes from its records: an incremental [`Aggregate`]
/// (through [`Incremental`]), or a function of all of them
/// ([`ProcessAll`]).
pub trait WindowFunction<K, T>: Clone + Send + 'static {
    /// State per key and window.
    type Acc: Send;
    /// What a window emits.
    type Out;
    /// A fresh state.
    fn create(&self) -> Self::Acc;
    /// Adds one record.
    fn add(&self, acc: &mut Self::Acc, item: &T);
    /// Merges two states (sessions).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    /// The window's result.
    fn result(&self, key: &K, window: &Window, acc: &Self::Acc) -> Self::Out;
}

/// An [`Aggregate`] as a window function.
#[derive(Debug, Clone, Copy)]
pub struct Incremental<A>(pub A);

impl<K, T, A: Aggregate<T>> WindowFunction<K, T> for Incremental<A> {
    type Acc = A::Acc;
    type Out = A::Out;
    fn create(&self) -> A::Acc {
        self.0.create()
    }
    #[inline]
    fn add(&self, acc: &mut A::Acc, item: &T) {
        self.0.add(acc, item);
    }
    fn merge(&self, acc: &mut A::Acc, other: A::Acc) {
        self.0.merge(acc, other);
    }
    fn result(&self, _key: &K, _window: &Window, acc: &A::Acc) -> A::Out {
        self.0.result(acc)
    }
}

/// `process(|key, window, records| ..)`: keeps a window's records and calls
/// the function with all of them when it fires.
#[derive(Debug, Clone, Copy)]
pub struct ProcessAll<F>(pub F);

impl<K, T, O, F> WindowFunction<K, T> for ProcessAll<F>
where
    T: Clone + Send,
    F: Fn(&K, &Window, &[T]) -> O + Clone + Send + 'static,
{
    type Acc = Vec<T>;
    type Out = O;
    fn create(&self) -> Vec<T> {
        Vec::new()
    }
    #[inline]
    fn add(&self, acc: &mut Vec<T>, item: &T) {
        acc.push(item.clone());
    }
    fn merge(&self, acc: &mut Vec<T>, mut other: Vec<T>) {
        acc.append(&mut other);
    }
    fn result(&self, key: &K, window: &Window, acc: &Vec<T>) -> O {
        (self.0)(key, window, acc)
    }
}

/// One window of one key.
#[derive(Debug, Serialize, Deserialize)]
struct Slot<Acc> {
    window: Window,
    acc: Acc,
    /// Whether the watermark has passed the window's last instant and it
    /// fired; it fires that way once (late records re-fire it directly).
    fired: bool,
    /// Records added since the window was created (count triggers).
    count: u32,
    /// Whether it changed since it last emitted (early firing).
    dirty: bool,
}

impl<Acc> Slot<Acc> {
    fn new(window: Window, acc: Acc) -> Self {
        Slot {
            window,
            acc,
            fired: false,
            count: 0,
            dirty: false,
        }
    }
}

/// The linked window aggregate: each window fires once when the watermark
/// reaches its last instant, and again for each record that arrives within
/// the allowed lateness; it is dropped when the watermark passes its last
/// instant plus the lateness. Records later than that are counted (the
/// summary's "late dropped") and logged. Processing-time windows fire by
/// the clock instead, read at each flush; a [`Trigger`] adds firings.
#[derive(Debug)]
pub struct WindowAggregate<K, T, A: WindowFunction<K, T>, W, Next> {
    assigner: W,
    agg: A,
    state: KeyedStore<K, Vec<Slot<A::Acc>>>,
    /// Keys to look at when the watermark reaches a time.
    timers: BTreeMap<Timestamp, Vec<K>>,
    watermark: Timestamp,
    lateness: i64,
    trigger: Option<Trigger>,
    /// When the next `every` trigger is due.
    next_early: Option<Instant>,
    scratch: Vec<Window>,
    /// Results emitted, and records too late for any window.
    meter: Meter,
    /// The graph node (the state's name in checkpoints).
    node: usize,
    late_seen: u64,
    /// Where records too late for every window go, if they have a stream.
    late_out: Option<(ForwardSender<T>, Meter)>,
    next: Next,
    _t: std::marker::PhantomData<fn(T)>,
}

fn plus(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_millis(t.as_millis().saturating_add(ms))
}

impl<K, T, A, W, Next> WindowAggregate<K, T, A, W, Next>
where
    K: Hash + Eq + Clone + StateValue,
    A: WindowFunction<K, T>,
    A::Acc: StateValue,
    W: WindowAssigner,
    Next: Push<Windowed<K, A::Out>>,
{
    fn emit(
        next: &mut Next,
        meter: &mut Meter,
        agg: &A,
        key: &K,
        slot: &mut Slot<A::Acc>,
    ) -> Result<()> {
        meter.record_out();
        slot.dirty = false;
        next.push(Windowed {
            key: key.clone(),
            start: slot.window.start,
            end: slot.window.end,
            value: agg.result(key, &slot.window, &slot.acc),
        })
    }

    /// Adds `item` to `key`'s window `w` (merging sessions); returns the
    /// window it ended up in.
    fn add(&mut self, key: &K, w: Window, item: &T) -> Result<Window> {
        let agg = &self.agg;
        let (timers, lateness) = (&mut self.timers, self.lateness);
        let slots = self.state.get_or_insert_with_ref(key, Vec::new)?;
        let index = if self.assigner.merges() {
            // Merge every session that overlaps the new one into the first
            // of them (so a long session's state is not copied per record).
            let mut merged: Option<Slot<A::Acc>> = None;
            let mut i = 0;
            while i < slots.len() {
                if slots[i].window.overlaps(&w)
                    || merged
                        .as_ref()
                        .is_some_and(|m| slots[i].window.overlaps(&m.window))
                {
                    let old = slots.swap_remove(i);
                    // Its timers are replaced by the merged session's.
                    let end = old.window.max_timestamp();
                    cancel_timer(timers, end, key);
                    if lateness > 0 {
                        cancel_timer(timers, plus(end, lateness), key);
                    }
                    merged = Some(match merged {
                        None => Slot {
                            window: old.window.span(&w),
                            fired: false,
                            ..old
                        },
                        Some(mut m) => {
                            m.window = m.window.span(&old.window);
                            m.count = m.count.saturating_add(old.count);
                            agg.merge(&mut m.acc, old.acc);
                            m
                        }
                    });
                } else {
                    i += 1;
                }
            }
            slots.push(merged.unwrap_or_else(|| Slot::new(w, agg.create())));
            slots.len() - 1
        } else {
            match slots.iter().position(|s| s.window == w) {
                Some(i) => i,
                None => {
                    slots.push(Slot::new(w, agg.create()));
                    slots.len() - 1
                }
            }
        };
        let slot = &mut slots[index];
        agg.add(&mut slot.acc, item);
        slot.count = slot.count.saturating_add(1);
        slot.dirty = true;
        Ok(slot.window)
    }

    /// Adds `item` to `key`'s `windows` when they neither merge nor wait
    /// for a trigger (tumbling and sliding windows): one look-up of the key
    /// for all of them. Returns whether any window took the record.
    fn add_aligned(&mut self, key: &K, windows: &[Window], item: &T) -> Result<bool> {
        let (lateness, watermark) = (self.lateness, self.watermark);
        let slots = self.state.get_or_insert_with_ref(key, Vec::new)?;
        let mut accepted = false;
        for &w in windows {
            let end = w.max_timestamp();
            if plus(end, lateness) <= watermark {
                continue;
            }
            accepted = true;
            let (index, known) = match slots.iter().position(|s| s.window == w) {
                Some(i) => (i, true),
                None => {
                    slots.push(Slot::new(w, self.agg.create()));
                    (slots.len() - 1, false)
                }
            };
            let slot = &mut slots[index];
            self.agg.add(&mut slot.acc, item);
            slot.count = slot.count.saturating_add(1);
            slot.dirty = true;
            if end <= watermark {
                // Late but within the allowed lateness: fire (again) now.
                slot.fired = true;
                Self::emit(&mut self.next, &mut self.meter, &self.agg, key, slot)?;
            } else if !known {
                self.timers.entry(end).or_default().push(key.clone());
            }
            if !known && lateness > 0 {
                self.timers
                    .entry(plus(end, lateness))
                    .or_default()
                    .push(key.clone());
            }
        }
        if slots.is_empty() {
            // Only late windows: keep no state for the key.
            self.state.remove(key)?;
        }
        Ok(accepted)
    }

    /// Advances event time to `watermark`: fires the windows it passes and
    /// drops those past their lateness.
    fn advance(&mut self, watermark: Timestamp) -> Result<()> {
        if watermark <= self.watermark {
            return Ok(());
        }
        self.watermark = watermark;
        let keys: Vec<K> = if watermark == Timestamp::MAX {
            // The end of time completes every window, including those no
            // timer covers (the global window's).
            self.timers.clear();
            self.state.keys()?
        } else {
            let due = self.timers.split_off(&plus(watermark, 1));
            let fired = std::mem::replace(&mut self.timers, due);
            fired.into_values().flatten().collect()
        };
        // A key may have several due timers; it is visited once, or a window
        // kept for lateness would fire once per timer.
        let mut seen: hashbrown::HashSet<K, rustc_hash::FxBuildHasher> =
            hashbrown::HashSet::default();
        for key in keys {
            if !seen.insert(key.clone()) {
                continue;
            }
            let Some(slots) = self.state.get_mut(&key)? else {
                continue;
            };
            // A key's windows fire in time order.
            slots.sort_unstable_by_key(|s| s.window);
            let mut i = 0;
            while i < slots.len() {
                let fire_at = slots[i].window.max_timestamp();
                if !slots[i].fired && fire_at <= watermark {
                    slots[i].fired = true;
                    Self::emit(
                        &mut self.next,
                        &mut self.meter,
                        &self.agg,
                        &key,
                        &mut slots[i],
                    )?;
                }
                if plus(fire_at, self.lateness) <= watermark {
                    slots.remove(i);
                } else {
                    i += 1;
                }
            }
            if slots.is_empty() {
                self.state.remove(&key)?;
            }
        }
        Ok(())
    }

    /// A count trigger: fires and clears `key`'s window `window` once it
    /// holds enough records.
    fn count_trigger(&mut self, key: &K, window: Window) -> Result<()> {
        let Some(Trigger::Count(n)) = self.trigger else {
            return Ok(());
        };
        let Some(slots) = self.state.get_mut(key)? else {
            return Ok(());
        };
        if let Some(i) = slots
            .iter()
            .position(|s| s.window == window && s.count >= n)
        {
            let mut slot = slots.swap_remove(i);
            if slots.is_empty() {
                self.state.remove(key)?;
            }
            Self::emit(&mut self.next, &mut self.meter, &self.agg, key, &mut slot)?;
        }
        Ok(())
    }

    /// The processing-time work of a flush: processing-time windows fire by
    /// the clock, and an `every` trigger emits the windows that changed.
    fn on_clock(&mut self) -> Result<()> {
        if self.assigner.processing_time() {
            self.advance(Timestamp::now().plus_millis(-1))?;
        }
        let Some(Trigger::Every(interval)) = self.trigger else {
            return Ok(());
        };
        let now = Instant::now();
        let due = *self.next_early.get_or_insert(now + interval);
        if now < due {
            return Ok(());
        }
        self.next_early = Some(now + interval);
        // Keys whose windows changed could be indexed; a scan of every key
        // per interval is what early firing costs in Flink too.
        for key in self.state.keys()? {
            // Only keys with a window to emit are changed (and, on
            // RocksDB, written back).
            let due = |slots: &Vec<Slot<A::Acc>>| slots.iter().any(|s| s.dirty && !s.fired);
            if !self.state.get(&key)?.is_some_and(due) {
                continue;
            }
            let Some(slots) = self.state.get_mut(&key)? else {
                continue;
            };
            for slot in slots.iter_mut().filter(|s| s.dirty && !s.fired) {
                Self::emit(&mut self.next, &mut self.meter, &self.agg, &key, slot)?;
            }
        }
        Ok(())
    }
}

impl<K, T, A, W, Next> Push<(K, T)> for WindowAggregate<K, T, A, W, Next>
where
    K: Hash + Eq + Clone + StateValue,
    A: WindowFunction<K, T>,
    A::Acc: StateValue,
    W: TimeOf<T>,
    Next: Push<Windowed<K, A::Out>>,
{
    #[inline]
    fn push(&mut self, (key, item): (K, T)) -> Result<()> {
        let ts = self.assigner.time_of(&item);
        let mut windows = std::mem::take(&mut self.scratch);
        windows.clear();
        self.assigner.assign(ts, &mut windows);
        let mut accepted = false;
        if !self.assigner.merges() && !self.assigner.is_global() {
            accepted = self.add_aligned(&key, &windows, &item)?;
            windows.clear();
        }
        for &w in &windows {
            // A session is late only if the session it would merge into is
            // (as Flink merges before it checks lateness).
            let effective = if self.assigner.merges() {
                self.state.get(&key)?.map_or(w, |slots| {
                    slots
                        .iter()
                        .filter(|s| s.window.overlaps(&w))
                        .fold(w, |m, s| m.span(&s.window))
                })
            } else {
                w
            };
            if plus(effective.max_timestamp(), self.lateness) <= self.watermark {
                continue;
            }
            accepted = true;
            let known = self
                .state
                .get(&key)?
                .is_some_and(|slots| slots.iter().any(|s| s.window == w));
            let window = self.add(&key, w, &item)?;
            if window.max_timestamp() <= self.watermark {
                // Late but within the allowed lateness: fire (again) now.
                if let Some(slot) = self
                    .state
                    .get_mut(&key)?
                    .and_then(|slots| slots.iter_mut().find(|s| s.window == window))
                {
                    slot.fired = true;
                    Self::emit(&mut self.next, &mut self.meter, &self.agg, &key, slot)?;
                }
            } else if self.assigner.is_global() {
                // No timer: only a trigger or the end of input fires it.
                self.count_trigger(&key, window)?;
            } else if !known || self.assigner.merges() {
                self.timer(window.max_timestamp(), &key);
            }
            // A merge cancelled the merged sessions' cleanup timers.
            if (!known || self.assigner.merges()) && self.lateness > 0 && !self.assigner.is_global()
            {
                self.timer(plus(window.max_timestamp(), self.lateness), &key);
            }
        }
        // A record in no open window (or, at the very ends of time, in no
        // window at all) is late.
        let late = !accepted;
        self.scratch = windows;
        if late {
            // Too late for every window it belongs to (as Flink decides
            // what goes to its late-data side output).
            match &mut self.late_out {
                Some((tx, meter)) => {
                    meter.record_out();
                    tx.push(item)?;
                }
                None => {
                    self.meter.record_skipped();
                    self.late_seen += 1;
                    if self.late_seen == 1 {
                        tracing::warn!(
                            "a record at {ts} is later than its windows allow (watermark {}); late records are counted and dropped",
                            self.watermark
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.on_clock()?;
        self.meter.publish();
        if let Some((tx, meter)) = &mut self.late_out {
            meter.publish();
            tx.flush()?;
        }
        self.next.flush()
    }

    fn watermark(&mut self, watermark: Timestamp) -> Result<()> {
        // Processing-time windows follow the clock, not event time; the
        // end of time still completes them.
        if !self.assigner.processing_time() || watermark == Timestamp::MAX {
            self.advance(watermark)?;
        }
        if let Some((tx, _)) = &mut self.late_out {
            tx.watermark(watermark)?;
        }
        self.next.watermark(watermark)
    }

    fn idle(&mut self) -> Result<()> {
        if let Some((tx, _)) = &mut self.late_out {
            tx.idle()?;
        }
        self.next.idle()
    }

    fn sync(&mut self) -> Result<()> {
        if let Some((tx, _)) = &mut self.late_out {
            tx.flush()?;
        }
        self.next.sync()
    }

    /// Saves every key's windows and the watermark; timers are derived
    /// from the windows on restore.
    fn snapshot(&mut self, snapshot: &mut Snapshot<'_>) -> Result<()> {
        self.state
            .snapshot_with_watermark(snapshot, self.node, self.watermark)?;
        if let Some((tx, _)) = &mut self.late_out {
            tx.snapshot(snapshot)?;
        }
        self.next.snapshot(snapshot)
    }

    fn restore(&mut self, restore: &Restore<'_>) -> Result<()> {
        if let Some(w) = self.state.restore_with_watermark(restore, self.node)? {
            self.watermark = w;
        }
        self.timers.clear();
        if !self.assigner.is_global() {
            let (timers, lateness) = (&mut self.timers, self.lateness);
            self.state.for_each(|key, slots| {
                for slot in slots {
                    let end = slot.window.max_timestamp();
                    if !slot.fired {
                        timers.entry(end).or_default().push(key.clone());
                    }
                    if lateness > 0 {
                        timers
                            .entry(plus(end, lateness))
                            .or_default()
                            .push(key.clone());
                    }
                }
            })?;
        }
        self.next.restore(restore)
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.next.commit(epoch)
    }

    fn finish(&mut self) -> Result<()> {
        // The end of the input completes every window.
        self.advance(Timestamp::MAX)?;
        self.meter.publish();
        if let Some((tx, meter)) = &mut self.late_out {
            meter.publish();
            tx.finish()?;
        }
        self.next.finish()
    }
}

impl<K, T, A, W, Next> WindowAggregate<K, T, A, W, Next>
where
    K: Hash + Eq + Clone,
    A: WindowFunction<K, T>,
{
    fn timer(&mut self, at: Timestamp, key: &K) {
        self.timers.entry(at).or_default().push(key.clone());
    }
}

/// Removes one timer of `key` at `at`.
fn cancel_timer<K: Eq>(timers: &mut BTreeMap<Timestamp, Vec<K>>, at: Timestamp, key: &K) {
    if let Some(keys) = timers.get_mut(&at)
        && let Some(i) = keys.iter().position(|k| k == key)
    {
        keys.swap_remove(i);
        if keys.is_empty() {
            timers.remove(&at);
        }
    }
}

/// Senders of a late-record stream, one taken by each window instance when
/// it is linked, and the stream's graph node.
pub(crate) type LateSenders<T> = (Arc<Mutex<Vec<ForwardSender<T>>>>, usize);

/// The window aggregate before linking.
pub struct WindowAggregateStage<A, W, T> {
    pub(crate) agg: A,
    pub(crate) assigner: W,
    pub(crate) lateness: i64,
    pub(crate) trigger: Option<Trigger>,
    pub(crate) node: usize,
    pub(crate) late: Option<LateSenders<T>>,
}

impl<A: Clone, W: Clone, T> Clone for WindowAggregateStage<A, W, T> {
    fn clone(&self) -> Self {
        WindowAggregateStage {
            agg: self.agg.clone(),
            assigner: self.assigner.clone(),
            lateness: self.lateness,
            trigger: self.trigger,
            node: self.node,
            late: self.late.clone(),
        }
    }
}

impl<A, W, T> std::fmt::Debug for WindowAggregateStage<A, W, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowAggregateStage")
            .field("lateness", &self.lateness)
            .field("node", &self.node)
            .finish()
    }
}

impl<K, T, A, W> Stage<(K, T)> for WindowAggregateStage<A, W, T>
where
    K: Hash + Eq + Clone + Send + StateValue,
    T: Send + 'static,
    A: WindowFunction<K, T>,
    A::Acc: StateValue,
    W: TimeOf<T>,
{
    type Out = Windowed<K, A::Out>;
    type Linked<Next: Push<Windowed<K, A::Out>> + Send> = WindowAggregate<K, T, A, W, Next>;

    fn link<Next: Push<Windowed<K, A::Out>> + Send>(
        self,
        next: Next,
        meter: &MeterSet,
    ) -> Self::Linked<Next> {
        WindowAggregate {
            assigner: self.assigner,
            agg: self.agg,
            state: KeyedStore::default(),
            timers: BTreeMap::new(),
            watermark: Timestamp::MIN,
            lateness: self.lateness,
            trigger: self.trigger,
            next_early: None,
            scratch: Vec::new(),
            meter: meter.meter(self.node),
            node: self.node,
            late_seen: 0,
            late_out: self.late.and_then(|(senders, node)| {
                let tx = senders.lock().ok()?.pop()?;
                Some((tx, meter.meter(node)))
            }),
            next,
            _t: std::marker::PhantomData,
        }
    }
}

/// Checks that `trigger` fits windows of `assigner`.
pub(crate) fn check_trigger(
    assigner: &impl WindowAssigner,
    trigger: Trigger,
) -> std::result::Result<(), ConfigError> {
    if matches!(trigger, Trigger::Count(_)) && !assigner.is_global() {
        return Err(ConfigError::Invalid {
            name: "trigger".into(),
            message: "`count(n)` fires `global` windows; for early results from a time window use `every(..)`".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::exec::metrics::Metrics;
    use crate::operator::Count;
    use crate::window::Session;
    use std::time::Duration;

    #[derive(Debug, Clone)]
    struct At(i64);
    impl Event for At {
        fn event_time(&self) -> Timestamp {
            Timestamp::from_millis(self.0)
        }
    }

    /// Collects what it is pushed.
    struct Out(Vec<Windowed<u8, u64>>);
    impl Push<Windowed<u8, u64>> for Out {
        fn push(&mut self, item: Windowed<u8, u64>) -> Result<()> {
            self.0.push(item);
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_growing_session_keeps_one_timer_of_each_kind() {
        let stage = WindowAggregateStage {
            agg: Incremental(Count),
            assigner: Session::new(Duration::from_millis(100)).unwrap(),
            lateness: 50,
            trigger: None,
            node: 0,
            late: None,
        };
        let meters = MeterSet {
            metrics: Arc::new(Metrics::new(1)),
        };
        let mut op = Stage::<(u8, At)>::link(stage, Out(Vec::new()), &meters);
        for ts in 0..1_000 {
            op.push((1, At(ts * 10))).unwrap();
        }
        let timers: usize = op.timers.values().map(Vec::len).sum();
        assert_eq!(timers, 2, "the session's end, and its end plus lateness");
        op.finish().unwrap();
        let out = &op.next.0;
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].start.as_millis(), out[0].end.as_millis()),
            (0, 10_090)
        );
        assert_eq!(out[0].value, 1_000);
    }
}
