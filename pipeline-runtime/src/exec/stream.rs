//! The typed stream builders: [`Stream`] and [`KeyedStream`].
//!
//! Each method adds one stage to the graph and returns a builder whose type
//! records the stage, so the finished chain is one monomorphized type. A
//! stage that does not fit its input is a type error at the call; stages
//! that need a keyed (or an unkeyed) input say so through
//! `#[diagnostic::on_unimplemented]` on [`NeedsKeyedInput`] and
//! [`NeedsUnkeyedInput`].

// A builder's type records every stage of its chain; nested generics are
// the point, not an accident.
#![allow(clippy::type_complexity)]

use super::channel::{BroadcastSender, ChannelOrigin, ForwardSender, channel};
use super::graph::{EdgeKind, NodeKind};
use super::plan::Plan;
use super::segment::{Chained, KeyedSeg, Segment, SourceSeg};
use crate::checkpoint::StateValue;
use crate::connector::{BadInputPolicy, SinkConnector, SinkCtx};
use crate::exec::origin::Origin;
use crate::operator::{Aggregate, Aggs, Identity, StageFn};
use crate::operator::{
    AggregateStage, FilterMapStage, FilterStage, FlatMapStage, InspectStage, KeyByStage, MapStage,
    ReduceStage,
};
use crate::operator::{IntervalJoinStage, Joined, Side, TableJoinStage};
use crate::state::{KeyedProcess, KeyedProcessStage};
use crate::window::{
    Incremental, LateSenders, ProcessAll, TimeOf, Trigger, WatermarkOrigin, WatermarkSource,
    WatermarkStrategy, Window, WindowAggregateStage, WindowAssigner, Windowed, check_trigger,
};
use crate::{ErrorKind, Event, Result};
use std::cell::RefCell;
use std::hash::Hash;
use std::marker::PhantomData;
use std::rc::Rc;

/// A stream of records of type `T`; `G` is its plan so far.
pub struct Stream<T, G> {
    plan: Rc<RefCell<Plan>>,
    seg: G,
    parallelism: usize,
    last: usize,
    edge: EdgeKind,
    _t: PhantomData<fn() -> T>,
}

/// A stream of `(key, value)` pairs after `key_by`, ready for per-key
/// stages.
pub struct KeyedStream<K, V, G> {
    inner: Stream<(K, V), G>,
}

impl<T, G> std::fmt::Debug for Stream<T, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("last", &self.last).finish()
    }
}

impl<K, V, G> std::fmt::Debug for KeyedStream<K, V, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedStream")
            .field("last", &self.inner.last)
            .finish()
    }
}

/// A stream type whose records are not keyed yet.
#[diagnostic::on_unimplemented(
    message = "this stage works per key, but its input stream is not keyed",
    label = "needs a keyed stream",
    note = "add `-> key_by(|record| ..)` before this stage to choose the key"
)]
pub trait NeedsKeyedInput {}

/// A keyed stream read by several chains.
#[diagnostic::on_unimplemented(
    message = "a keyed stream cannot be read by several chains",
    label = "this keyed stream is read more than once",
    note = "read the stream before `key_by` in each chain and key each copy: `let s = ..; s -> key_by(..) -> ..; s -> key_by(..) -> ..;`"
)]
pub trait NeedsOneReader {}

/// A stream type that is keyed.
#[diagnostic::on_unimplemented(
    message = "this stage cannot follow `key_by`: a keyed stream only goes into per-key stages",
    label = "input is keyed",
    note = "after `key_by`, use `aggregate(..)` or `reduce(..)`; stages after those see plain records again"
)]
pub trait NeedsUnkeyedInput {}

impl<T: Send + 'static, G> Stream<T, G> {
    pub(crate) fn new(
        plan: Rc<RefCell<Plan>>,
        seg: G,
        parallelism: usize,
        last: usize,
        edge: EdgeKind,
    ) -> Self {
        Stream {
            plan,
            seg,
            parallelism,
            last,
            edge,
            _t: PhantomData,
        }
    }

    /// Adds a stage node after the current last one.
    fn node(&self, label: &str, parallelism: usize) -> usize {
        let mut plan = self.plan.borrow_mut();
        let node = plan
            .graph
            .add_node(label.to_owned(), NodeKind::Stage, parallelism);
        plan.graph.add_edge(self.last, node, self.edge);
        node
    }

    fn then<U, S>(self, label: &str, make: impl FnOnce(usize) -> S) -> Stream<U, Chained<G, T, S>> {
        let node = self.node(label, self.parallelism);
        Stream {
            plan: self.plan,
            seg: Chained {
                seg: self.seg,
                stage: make(node),
                _t: PhantomData,
            },
            parallelism: self.parallelism,
            last: node,
            edge: EdgeKind::Fused,
            _t: PhantomData,
        }
    }

    /// `map(|record| ..)`: one output per record.
    pub fn map<U, F>(self, f: F) -> Stream<U, Chained<G, T, MapStage<F>>>
    where
        F: FnMut(T) -> U + Clone + Send + 'static,
        U: Send + 'static,
    {
        self.then("map", |node| MapStage(StageFn { f, node }))
    }

    /// `filter(|record| ..)`: keeps the records for which `f` is true.
    pub fn filter<F>(self, f: F) -> Stream<T, Chained<G, T, FilterStage<F>>>
    where
        F: FnMut(&T) -> bool + Clone + Send + 'static,
    {
        self.then("filter", |node| FilterStage(StageFn { f, node }))
    }

    /// `filter_map(|record| ..)`: keeps the `Some` outputs.
    pub fn filter_map<U, F>(self, f: F) -> Stream<U, Chained<G, T, FilterMapStage<F>>>
    where
        F: FnMut(T) -> Option<U> + Clone + Send + 'static,
        U: Send + 'static,
    {
        self.then("filter_map", |node| FilterMapStage(StageFn { f, node }))
    }

    /// `flat_map(|record| ..)`: any number of outputs per record.
    pub fn flat_map<I, F>(self, f: F) -> Stream<I::Item, Chained<G, T, FlatMapStage<F>>>
    where
        F: FnMut(T) -> I + Clone + Send + 'static,
        I: IntoIterator,
        I::Item: Send + 'static,
    {
        self.then("flat_map", |node| FlatMapStage(StageFn { f, node }))
    }

    /// `inspect(|record| ..)`: sees each record, passes it on unchanged.
    pub fn inspect<F>(self, f: F) -> Stream<T, Chained<G, T, InspectStage<F>>>
    where
        F: FnMut(&T) + Clone + Send + 'static,
    {
        self.then("inspect", |node| InspectStage(StageFn { f, node }))
    }

    /// `key_by(|record| key)`: pairs records with their key. At parallelism
    /// above 1 the pairs are spread over the instances by key hash.
    pub fn key_by<K, F>(self, f: F) -> KeyedStream<K, T, KeyedSeg<G, T, K, F>>
    where
        F: FnMut(&T) -> K + Clone + Send + 'static,
        K: Hash + Eq + Clone + Send + 'static,
    {
        let parallelism = self.plan.borrow().parallelism;
        let fused = parallelism == 1 && self.parallelism == 1;
        let node = self.node("key_by", self.parallelism);
        KeyedStream {
            inner: Stream {
                plan: self.plan,
                seg: KeyedSeg {
                    up: self.seg,
                    key: KeyByStage(StageFn { f, node }),
                    fused,
                    up_parallelism: self.parallelism,
                    parallelism,
                    task: "keyed".to_owned(),
                    _types: PhantomData,
                },
                parallelism,
                last: node,
                edge: if fused {
                    EdgeKind::Fused
                } else {
                    EdgeKind::Hash
                },
                _t: PhantomData,
            },
        }
    }

    /// Sends the stream to a sink named `name`.
    pub fn sink<C>(self, name: &str, connector: C, settings: C::Settings) -> Result<()>
    where
        C: SinkConnector<T>,
        G: Segment<T>,
    {
        let mut plan = self.plan.borrow_mut();
        let settings = plan.claim(name, NodeKind::Sink, C::KIND, settings)?;
        let parallelism = self.parallelism;
        let node = plan.graph.add_node(
            format!("sink {name} ({})", C::KIND),
            NodeKind::Sink,
            parallelism,
        );
        plan.graph.add_edge(self.last, node, self.edge);
        let ctx = SinkCtx {
            name: name.to_owned(),
            parallelism,
            collectors: plan.collectors.clone(),
            checkpointing: plan.checkpoint.is_some(),
        };
        let writers = connector.writers(settings, &ctx)?;
        if writers.len() != parallelism {
            return Err(ErrorKind::Executor(format!(
                "sink `{name}` made {} writers for {parallelism} instances",
                writers.len()
            ))
            .into());
        }
        self.seg.terminate(Identity, writers, &mut plan);
        Ok(())
    }

    /// Splits the stream so `N` chains each see every record.
    pub fn fan_out<const N: usize>(self) -> [Stream<T, SourceSeg<T>>; N]
    where
        T: Clone,
        G: Segment<T>,
    {
        let parallelism = self.parallelism;
        let mut senders: Vec<Vec<_>> = (0..parallelism).map(|_| Vec::new()).collect();
        let mut receivers: Vec<Vec<Box<dyn Origin<T>>>> = Vec::new();
        for _ in 0..N {
            let mut mine = Vec::new();
            for to_instance in &mut senders {
                let (tx, rx) = channel();
                to_instance.push(tx);
                mine.push(Box::new(ChannelOrigin::new(rx, 1)) as Box<dyn Origin<T>>);
            }
            receivers.push(mine);
        }
        let writers = senders.into_iter().map(BroadcastSender::new).collect();
        let plan = self.plan.clone();
        let (last, edge) = (self.last, self.edge);
        self.seg
            .terminate(Identity, writers, &mut plan.borrow_mut());
        let edge = if edge == EdgeKind::Fused {
            EdgeKind::Broadcast
        } else {
            edge
        };
        let mut receivers = receivers.into_iter();
        std::array::from_fn(|i| {
            Stream::new(
                plan.clone(),
                SourceSeg {
                    origins: receivers.next().unwrap_or_default(),
                    task: format!("fan-out {i}"),
                    counted: None,
                    policy: BadInputPolicy::Fail,
                    source: None,
                },
                parallelism,
                last,
                edge,
            )
        })
    }

    /// `union(other)`: the records of both streams, as one stream.
    pub fn union<G2>(self, other: Stream<T, G2>) -> Stream<T, SourceSeg<T>>
    where
        G: Segment<T>,
        G2: Segment<T>,
    {
        let (pa, pb) = (self.parallelism, other.parallelism);
        let out = pa.max(pb);
        let node = self.node("union", out);
        self.plan
            .borrow_mut()
            .graph
            .add_edge(other.last, node, EdgeKind::Forward);
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..out).map(|_| channel()).unzip();
        let mut senders = vec![0; out];
        let mut writers_for = |n: usize| -> Vec<ForwardSender<T>> {
            (0..n)
                .map(|i| {
                    // This sender's slot at its target is the count so far.
                    let slot = senders[i % out];
                    senders[i % out] += 1;
                    ForwardSender::new(txs[i % out].clone(), slot)
                })
                .collect()
        };
        let (wa, wb) = (writers_for(pa), writers_for(pb));
        let plan = self.plan.clone();
        self.seg.terminate(Identity, wa, &mut plan.borrow_mut());
        other.seg.terminate(Identity, wb, &mut plan.borrow_mut());
        drop(txs);
        let origins = rxs
            .into_iter()
            .zip(senders)
            .map(|(rx, n)| Box::new(ChannelOrigin::new(rx, n)) as Box<dyn Origin<T>>)
            .collect();
        Stream::new(
            plan,
            SourceSeg {
                origins,
                task: "union".to_owned(),
                counted: None,
                policy: BadInputPolicy::Fail,
                source: None,
            },
            out,
            node,
            EdgeKind::Fused,
        )
    }

    /// Tags this stream's records as [`Side::Left`] and `right`'s as
    /// [`Side::Right`], merges them and keys them (`left_key` and
    /// `right_key` must agree on the key type), so both sides of a key meet
    /// in one instance.
    fn join_keyed<R, G2, K, FA, FB>(
        self,
        right: Stream<R, G2>,
        mut left_key: FA,
        mut right_key: FB,
    ) -> KeyedStream<K, Side<T, R>, impl Segment<(K, Side<T, R>)>>
    where
        G: Segment<T>,
        G2: Segment<R>,
        R: Send + 'static,
        K: Hash + Eq + Clone + Send + 'static,
        FA: FnMut(&T) -> K + Clone + Send + 'static,
        FB: FnMut(&R) -> K + Clone + Send + 'static,
    {
        let tag_left: fn(T) -> Side<T, R> = Side::Left;
        let tag_right: fn(R) -> Side<T, R> = Side::Right;
        let left = self.then("join left", |node| MapStage(StageFn { f: tag_left, node }));
        let right = right.then("join right", |node| {
            MapStage(StageFn { f: tag_right, node })
        });
        left.union(right)
            .key_by(move |side: &Side<T, R>| match side {
                Side::Left(l) => left_key(l),
                Side::Right(r) => right_key(r),
            })
    }

    /// `join(table).on(left_key, right_key)`: the stream-table join (see
    /// [`TableJoin`](crate::operator::TableJoin)): each record paired with
    /// the latest `table` record of its key. With `ttl` (milliseconds,
    /// `.ttl(1h)` in the DSL), a key's row and waiting records are dropped
    /// once the key saw nothing for that long (processing time).
    pub fn join_table<R, G2, K, FA, FB>(
        self,
        table: Stream<R, G2>,
        left_key: FA,
        right_key: FB,
        ttl: Option<i64>,
    ) -> Stream<Joined<T, R>, impl Segment<Joined<T, R>>>
    where
        G: Segment<T>,
        G2: Segment<R>,
        T: StateValue,
        R: Clone + Send + StateValue,
        K: Hash + Eq + Clone + Send + StateValue,
        FA: FnMut(&T) -> K + Clone + Send + 'static,
        FB: FnMut(&R) -> K + Clone + Send + 'static,
    {
        self.join_keyed(table, left_key, right_key)
            .inner
            .then("join", |node| TableJoinStage { node, ttl })
    }

    /// `join(other).on(left_key, right_key).between(lower, upper)`: the
    /// interval join (see [`IntervalJoin`](crate::operator::IntervalJoin));
    /// `lower` and `upper` are milliseconds, relative to the left record.
    pub fn join_interval<R, G2, K, FA, FB>(
        self,
        other: Stream<R, G2>,
        left_key: FA,
        right_key: FB,
        lower: i64,
        upper: i64,
    ) -> Result<Stream<Joined<T, R>, impl Segment<Joined<T, R>>>>
    where
        G: Segment<T>,
        G2: Segment<R>,
        T: Event + Clone + StateValue,
        R: Event + Clone + Send + StateValue,
        K: Hash + Eq + Clone + Send + StateValue,
        FA: FnMut(&T) -> K + Clone + Send + 'static,
        FB: FnMut(&R) -> K + Clone + Send + 'static,
    {
        if lower > upper {
            return Err(crate::ConfigError::Invalid {
                name: "join".into(),
                message: format!(
                    "`between({lower}ms, {upper}ms)`: the lower bound is above the upper one"
                ),
            }
            .into());
        }
        Ok(self
            .join_keyed(other, left_key, right_key)
            .inner
            .then("interval join", |node| IntervalJoinStage {
                lower,
                upper,
                node,
            }))
    }

    /// `join(other).on(left_key, right_key).window(assigner)`: every pair of
    /// a left and a right record with the same key in the same window,
    /// emitted when the window fires, as Flink's window join.
    pub fn join_window<R, G2, K, FA, FB, W>(
        self,
        other: Stream<R, G2>,
        left_key: FA,
        right_key: FB,
        assigner: W,
    ) -> Stream<Windowed<K, Joined<T, R>>, impl Segment<Windowed<K, Joined<T, R>>>>
    where
        G: Segment<T>,
        G2: Segment<R>,
        T: Clone + StateValue,
        R: Clone + Send + StateValue,
        K: Hash + Eq + Clone + Send + StateValue,
        FA: FnMut(&T) -> K + Clone + Send + 'static,
        FB: FnMut(&R) -> K + Clone + Send + 'static,
        W: TimeOf<Side<T, R>> + WindowAssigner,
    {
        let pairs = |_key: &K, _window: &Window, records: &[Side<T, R>]| {
            let rights: Vec<&R> = records
                .iter()
                .filter_map(|s| match s {
                    Side::Right(r) => Some(r),
                    Side::Left(_) => None,
                })
                .collect();
            let mut out = Vec::new();
            for side in records {
                if let Side::Left(left) = side {
                    out.extend(rights.iter().map(|right| Joined {
                        left: left.clone(),
                        right: (*right).clone(),
                    }));
                }
            }
            out
        };
        self.join_keyed(other, left_key, right_key)
            .window(assigner)
            .process(pairs)
            .flat_map(|w: Windowed<K, Vec<Joined<T, R>>>| {
                let (key, start, end) = (w.key, w.start, w.end);
                w.value.into_iter().map(move |value| Windowed {
                    key: key.clone(),
                    start,
                    end,
                    value,
                })
            })
    }

    /// Not available: `aggregate` needs a keyed stream (add `key_by` first).
    #[doc(hidden)]
    pub fn aggregate<A, B>(self, _build: B) -> Self
    where
        B: FnOnce(Aggs<T>) -> A,
        Self: NeedsKeyedInput,
    {
        self
    }

    /// Not available: `reduce` needs a keyed stream (add `key_by` first).
    #[doc(hidden)]
    pub fn reduce<F>(self, _f: F) -> Self
    where
        F: FnMut(T, T) -> T,
        Self: NeedsKeyedInput,
    {
        self
    }

    /// Not available: `process_keyed` needs a keyed stream (add `key_by`
    /// first).
    #[doc(hidden)]
    pub fn process_keyed<P>(self, _op: P) -> Self
    where
        Self: NeedsKeyedInput,
    {
        self
    }
}

impl<T: Send + 'static> Stream<T, SourceSeg<T>> {
    /// Derives watermarks from the records' event times with `strategy`,
    /// per source instance (used right after a source). Records whose time
    /// is out of range are handled by the source's bad-input policy.
    pub fn with_watermarks(self, strategy: WatermarkStrategy) -> Self
    where
        T: Event,
    {
        let SourceSeg {
            origins,
            task,
            counted,
            policy,
            source: name,
        } = self.seg;
        let origins = origins
            .into_iter()
            .enumerate()
            .map(|(instance, origin)| {
                let source = WatermarkSource {
                    name: task.clone(),
                    instance,
                    node: counted,
                    policy,
                };
                Box::new(WatermarkOrigin::new(origin, strategy, source)) as Box<dyn Origin<T>>
            })
            .collect();
        Stream {
            seg: SourceSeg {
                origins,
                task,
                counted,
                policy,
                source: name,
            },
            ..self
        }
    }
}

impl<K, V, G> KeyedStream<K, V, G>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Send + 'static,
{
    /// `aggregate(count() | sum(..) | min(..) | max(..) | avg(..) | custom)`:
    /// a running aggregate per key, emitted as `(key, result)` after each
    /// record. `build` gets an [`Aggs`] that gives closures their argument
    /// type.
    pub fn aggregate<A, B>(
        self,
        build: B,
    ) -> Stream<(K, A::Out), Chained<G, (K, V), AggregateStage<A>>>
    where
        B: FnOnce(Aggs<V>) -> A,
        A: Aggregate<V>,
        A::Acc: StateValue,
        A::Out: Send + 'static,
        K: StateValue,
    {
        let agg = build(Aggs::new());
        self.inner
            .then("aggregate", |node| AggregateStage { agg, node })
    }

    /// `process_keyed(op)`: a user stage with keyed state and timers (an
    /// `#[operator]` struct implementing
    /// [`KeyedProcess`](crate::state::KeyedProcess)).
    pub fn process_keyed<P>(self, op: P) -> Stream<P::Out, Chained<G, (K, V), KeyedProcessStage<P>>>
    where
        P: KeyedProcess<K, V>,
        P::Values: StateValue,
        P::Out: Send + 'static,
        K: StateValue,
    {
        self.inner
            .then("process_keyed", |node| KeyedProcessStage { op, node })
    }

    /// `reduce(|acc, record| ..)`: a running fold per key, emitting the new
    /// value after each record.
    pub fn reduce<F>(self, f: F) -> Stream<V, Chained<G, (K, V), ReduceStage<F>>>
    where
        F: FnMut(V, V) -> V + Clone + Send + 'static,
        V: Clone + StateValue,
        K: StateValue,
    {
        self.inner
            .then("reduce", |node| ReduceStage(StageFn { f, node }))
    }

    /// `window(tumbling(..) | sliding(..) | session(..) | global)`: groups
    /// each key's records into windows (of event time, or of processing
    /// time with [`ProcessingTime`](crate::window::ProcessingTime)); follow
    /// with `aggregate(..)` or `process(..)`.
    pub fn window<W: TimeOf<V>>(self, assigner: W) -> WindowedStream<K, V, G, W> {
        WindowedStream {
            inner: self,
            assigner,
            lateness: 0,
            trigger: None,
            late: None,
        }
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn map<F>(self, _f: F) -> Self
    where
        Self: NeedsUnkeyedInput,
    {
        self
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn filter<F>(self, _f: F) -> Self
    where
        Self: NeedsUnkeyedInput,
    {
        self
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn filter_map<F>(self, _f: F) -> Self
    where
        Self: NeedsUnkeyedInput,
    {
        self
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn flat_map<F>(self, _f: F) -> Self
    where
        Self: NeedsUnkeyedInput,
    {
        self
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn inspect<F>(self, _f: F) -> Self
    where
        Self: NeedsUnkeyedInput,
    {
        self
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn key_by<F>(self, _f: F) -> Self
    where
        Self: NeedsUnkeyedInput,
    {
        self
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn fan_out<const N: usize>(self) -> [Self; N]
    where
        Self: NeedsOneReader,
    {
        unreachable!("`NeedsOneReader` is implemented for no type")
    }

    /// Not available on a keyed stream.
    #[doc(hidden)]
    pub fn sink<C, S>(self, _name: &str, _connector: C, _settings: S) -> Result<()>
    where
        Self: NeedsUnkeyedInput,
    {
        Ok(())
    }
}

/// A keyed stream cut into windows, ready for `aggregate`.
pub struct WindowedStream<K, V, G, W> {
    inner: KeyedStream<K, V, G>,
    assigner: W,
    lateness: i64,
    trigger: Option<Trigger>,
    late: Option<LateSenders<V>>,
}

impl<K, V, G, W> std::fmt::Debug for WindowedStream<K, V, G, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedStream")
            .field("lateness", &self.lateness)
            .finish()
    }
}

// `V: Event` is checked once, at `window`; repeating it here would add a
// second error for the same mistake.
impl<K, V, G, W> WindowedStream<K, V, G, W>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Send + 'static,
    W: WindowAssigner,
{
    /// `allowed_lateness(5s)`: keeps windows open that long after they fire,
    /// re-emitting their result for each late record.
    pub fn allowed_lateness(mut self, lateness: std::time::Duration) -> Self {
        self.lateness = i64::try_from(lateness.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// `trigger(count(n) | every(interval))`: fires windows besides at their
    /// end (see [`Trigger`]). A count trigger needs the `global` window.
    pub fn trigger(mut self, trigger: Trigger) -> Result<Self> {
        check_trigger(&self.assigner, trigger)?;
        self.trigger = Some(trigger);
        Ok(self)
    }

    /// `late_records(NAME)`: the records too late for every window they
    /// belong to (after the allowed lateness) go to the returned stream
    /// instead of being counted and dropped.
    pub fn late_records(mut self) -> (Self, Stream<V, SourceSeg<V>>) {
        let parallelism = self.inner.inner.parallelism;
        let (tx, rx) = channel();
        let senders = (0..parallelism)
            .map(|i| ForwardSender::new(tx.clone(), i))
            .collect();
        drop(tx);
        let node = {
            let mut plan = self.inner.inner.plan.borrow_mut();
            let node = plan
                .graph
                .add_node("late records".into(), NodeKind::Source, 1);
            plan.graph
                .add_edge(self.inner.inner.last, node, EdgeKind::Forward);
            node
        };
        self.late = Some((std::sync::Arc::new(std::sync::Mutex::new(senders)), node));
        let stream = Stream::new(
            self.inner.inner.plan.clone(),
            SourceSeg {
                origins: vec![Box::new(ChannelOrigin::new(rx, parallelism)) as Box<dyn Origin<V>>],
                task: "late records".to_owned(),
                counted: None,
                policy: BadInputPolicy::Fail,
                source: None,
            },
            1,
            node,
            EdgeKind::Fused,
        );
        (self, stream)
    }

    /// `aggregate(count() | sum(..) | ..)`: one result per key and window,
    /// emitted as a [`Windowed`] when the watermark passes the window.
    pub fn aggregate<A, B>(
        self,
        build: B,
    ) -> Stream<Windowed<K, A::Out>, Chained<G, (K, V), WindowAggregateStage<Incremental<A>, W, V>>>
    where
        B: FnOnce(Aggs<V>) -> A,
        A: Aggregate<V>,
        A::Acc: StateValue,
        A::Out: Send + 'static,
        K: StateValue,
    {
        let agg = Incremental(build(Aggs::new()));
        self.then(agg)
    }

    /// `process(|key, window, records| ..)`: calls the function with all of
    /// a window's records when it fires; emits its result as a [`Windowed`].
    pub fn process<O, F>(
        self,
        f: F,
    ) -> Stream<Windowed<K, O>, Chained<G, (K, V), WindowAggregateStage<ProcessAll<F>, W, V>>>
    where
        F: Fn(&K, &Window, &[V]) -> O + Clone + Send + 'static,
        V: Clone + StateValue,
        K: StateValue,
        O: Send + 'static,
    {
        self.then(ProcessAll(f))
    }

    fn then<A, O>(
        self,
        agg: A,
    ) -> Stream<Windowed<K, O>, Chained<G, (K, V), WindowAggregateStage<A, W, V>>>
    where
        O: Send + 'static,
    {
        let (assigner, lateness, trigger, late) =
            (self.assigner, self.lateness, self.trigger, self.late);
        self.inner
            .inner
            .then("window aggregate", |node| WindowAggregateStage {
                agg,
                assigner,
                lateness,
                trigger,
                node,
                late,
            })
    }
}
