//! `aggregate`: running per-key aggregates (`count`, `sum`, `min`, `max`,
//! `avg`, or a user [`Aggregate`]).

use super::{MeterSet, Push, Stage};
use crate::Result;
use crate::checkpoint::StateValue;
use crate::state::KeyedStore;
use std::hash::Hash;

/// An incremental aggregate over records of type `T`, in the shape of
/// Flink's `AggregateFunction`: an accumulator is created, records are added
/// to it, accumulators can be merged, and a result is read from it.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::operator::Aggregate;
///
/// /// The longest string seen.
/// #[derive(Clone)]
/// struct Longest;
/// impl Aggregate<String> for Longest {
///     type Acc = String;
///     type Out = String;
///     fn create(&self) -> String { String::new() }
///     fn add(&self, acc: &mut String, item: &String) {
///         if item.len() > acc.len() { *acc = item.clone(); }
///     }
///     fn merge(&self, acc: &mut String, other: String) { self.add(acc, &other) }
///     fn result(&self, acc: &String) -> String { acc.clone() }
/// }
///
/// let mut acc = Longest.create();
/// Longest.add(&mut acc, &"ab".to_string());
/// Longest.add(&mut acc, &"abc".to_string());
/// assert_eq!(Longest.result(&acc), "abc");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot aggregate `{T}` records",
    label = "not an aggregate over this stream's records",
    note = "use `count()`, `sum(..)`, `min(..)`, `max(..)`, `avg(..)` or a type that implements `Aggregate<{T}>`"
)]
pub trait Aggregate<T>: Clone + Send + 'static {
    /// The running state per key.
    type Acc: Send;
    /// What is emitted.
    type Out;
    /// A fresh accumulator, before any record.
    fn create(&self) -> Self::Acc;
    /// Adds one record.
    fn add(&self, acc: &mut Self::Acc, item: &T);
    /// Merges `other` into `acc` (used when partial aggregates meet).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    /// The result so far.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// A numeric field type that `sum`, `min`, `max` and `avg` accept.
///
/// Sums widen: integers add up as `i64` or `u64` (wrapping on overflow, as
/// Flink's `SUM` on `BIGINT` does), floats as `f64`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number, so it cannot be summed or averaged",
    label = "this field must be numeric",
    note = "`sum`, `min`, `max` and `avg` take an integer or float field, such as `|r| r.price`"
)]
pub trait Numeric: Copy + PartialOrd + Send + 'static {
    /// The type sums are kept in.
    type Sum: Copy + Default + Send + 'static + std::fmt::Debug;
    /// The largest value (the identity of `min`).
    const MAX: Self;
    /// The smallest value (the identity of `max`).
    const MIN: Self;
    /// Adds `self` to a running sum.
    fn add_to(self, sum: Self::Sum) -> Self::Sum;
    /// Adds two running sums.
    fn add_sums(a: Self::Sum, b: Self::Sum) -> Self::Sum;
    /// The value as a float, for averages.
    fn to_f64(self) -> f64;
}

macro_rules! numeric {
    ($sum:ty, $add:ident: $($t:ty),*) => {$(
        impl Numeric for $t {
            type Sum = $sum;
            const MAX: Self = <$t>::MAX;
            const MIN: Self = <$t>::MIN;
            #[inline]
            fn add_to(self, sum: $sum) -> $sum { sum.$add(self as $sum) }
            #[inline]
            fn add_sums(a: $sum, b: $sum) -> $sum { a.$add(b) }
            #[inline]
            #[allow(clippy::cast_precision_loss)]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
numeric!(i64, wrapping_add: i8, i16, i32, i64, isize);
numeric!(u64, wrapping_add: u8, u16, u32, u64, usize);

macro_rules! float {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            type Sum = f64;
            const MAX: Self = <$t>::INFINITY;
            const MIN: Self = <$t>::NEG_INFINITY;
            #[inline]
            fn add_to(self, sum: f64) -> f64 { sum + f64::from(self) }
            #[inline]
            fn add_sums(a: f64, b: f64) -> f64 { a + b }
            #[inline]
            fn to_f64(self) -> f64 { f64::from(self) }
        }
    )*};
}
float!(f32, f64);

/// `count()`: how many records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<T> Aggregate<T> for Count {
    type Acc = u64;
    type Out = u64;
    #[inline]
    fn create(&self) -> u64 {
        0
    }
    #[inline]
    fn add(&self, acc: &mut u64, _item: &T) {
        *acc += 1;
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
    #[inline]
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// `sum(|r| r.field)`: the sum of a numeric field.
#[derive(Debug, Clone, Copy)]
pub struct Sum<F>(pub F);

impl<T, V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static> Aggregate<T> for Sum<F> {
    type Acc = V::Sum;
    type Out = V::Sum;
    fn create(&self) -> V::Sum {
        V::Sum::default()
    }
    #[inline]
    fn add(&self, acc: &mut V::Sum, item: &T) {
        *acc = (self.0)(item).add_to(*acc);
    }
    fn merge(&self, acc: &mut V::Sum, other: V::Sum) {
        *acc = V::add_sums(*acc, other);
    }
    fn result(&self, acc: &V::Sum) -> V::Sum {
        *acc
    }
}

/// `min(|r| r.field)`: the smallest value of a numeric field.
#[derive(Debug, Clone, Copy)]
pub struct Min<F>(pub F);

impl<T, V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static> Aggregate<T> for Min<F> {
    type Acc = V;
    type Out = V;
    fn create(&self) -> V {
        V::MAX
    }
    #[inline]
    fn add(&self, acc: &mut V, item: &T) {
        let v = (self.0)(item);
        if v < *acc {
            *acc = v;
        }
    }
    fn merge(&self, acc: &mut V, other: V) {
        if other < *acc {
            *acc = other;
        }
    }
    fn result(&self, acc: &V) -> V {
        *acc
    }
}

/// `max(|r| r.field)`: the largest value of a numeric field.
#[derive(Debug, Clone, Copy)]
pub struct Max<F>(pub F);

impl<T, V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static> Aggregate<T> for Max<F> {
    type Acc = V;
    type Out = V;
    fn create(&self) -> V {
        V::MIN
    }
    #[inline]
    fn add(&self, acc: &mut V, item: &T) {
        let v = (self.0)(item);
        if v > *acc {
            *acc = v;
        }
    }
    fn merge(&self, acc: &mut V, other: V) {
        if other > *acc {
            *acc = other;
        }
    }
    fn result(&self, acc: &V) -> V {
        *acc
    }
}

/// `avg(|r| r.field)`: the mean of a numeric field, as `f64`.
#[derive(Debug, Clone, Copy)]
pub struct Avg<F>(pub F);

impl<T, V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static> Aggregate<T> for Avg<F> {
    type Acc = (f64, u64);
    type Out = f64;
    fn create(&self) -> (f64, u64) {
        (0.0, 0)
    }
    #[inline]
    fn add(&self, acc: &mut (f64, u64), item: &T) {
        acc.0 += (self.0)(item).to_f64();
        acc.1 += 1;
    }
    fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    #[allow(clippy::cast_precision_loss)]
    fn result(&self, acc: &(f64, u64)) -> f64 {
        if acc.1 == 0 {
            0.0
        } else {
            acc.0 / acc.1 as f64
        }
    }
}

/// Builds aggregates over records of type `T`, so that closures passed to
/// `sum`, `min`, `max` and `avg` get their argument type from the stream.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::operator::{Aggregate, Aggs};
/// struct Bid { price: u32 }
/// let sum = Aggs::<Bid>::new().sum(|b| b.price);
/// let mut acc = sum.create();
/// sum.add(&mut acc, &Bid { price: 3 });
/// sum.add(&mut acc, &Bid { price: 4 });
/// assert_eq!(sum.result(&acc), 7);
/// ```
#[derive(Debug)]
pub struct Aggs<T>(std::marker::PhantomData<fn(&T)>);

impl<T> Clone for Aggs<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Aggs<T> {}

impl<T> Aggs<T> {
    /// The builder for records of type `T`.
    pub fn new() -> Self {
        Aggs(std::marker::PhantomData)
    }

    /// `count()`.
    pub fn count(self) -> Count {
        Count
    }

    /// `sum(|r| r.field)`.
    pub fn sum<V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static>(self, f: F) -> Sum<F> {
        Sum(f)
    }

    /// `min(|r| r.field)`.
    pub fn min<V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static>(self, f: F) -> Min<F> {
        Min(f)
    }

    /// `max(|r| r.field)`.
    pub fn max<V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static>(self, f: F) -> Max<F> {
        Max(f)
    }

    /// `top(n, |r| r.field)`: the `n` records with the largest field.
    pub fn top<V: Ord, F: Fn(&T) -> V + Clone + Send + 'static>(self, n: usize, by: F) -> Top<F>
    where
        T: Clone + Send + 'static,
    {
        Top { n, by }
    }

    /// `avg(|r| r.field)`.
    pub fn avg<V: Numeric, F: Fn(&T) -> V + Clone + Send + 'static>(self, f: F) -> Avg<F> {
        Avg(f)
    }
}

impl<T> Default for Aggs<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// `top(n, |r| r.field)`: the `n` records with the largest field, largest
/// first. Ties keep the earlier record first; records from parallel inputs
/// arrive in varying order, so rank by something unique (`|r| (r.count,
/// r.id)`) where the result must not depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Top<F> {
    n: usize,
    by: F,
}

impl<T, V, F> Aggregate<T> for Top<F>
where
    T: Clone + Send + 'static,
    V: Ord,
    F: Fn(&T) -> V + Clone + Send + 'static,
{
    type Acc = Vec<T>;
    type Out = Vec<T>;
    fn create(&self) -> Vec<T> {
        Vec::with_capacity(self.n.min(64))
    }
    fn add(&self, acc: &mut Vec<T>, item: &T) {
        let key = (self.by)(item);
        // First position whose value is smaller: ties stay in arrival order.
        let at = acc.partition_point(|r| (self.by)(r) >= key);
        if at < self.n {
            acc.insert(at, item.clone());
            acc.truncate(self.n);
        }
    }
    fn merge(&self, acc: &mut Vec<T>, other: Vec<T>) {
        for item in &other {
            self.add(acc, item);
        }
    }
    fn result(&self, acc: &Vec<T>) -> Vec<T> {
        acc.clone()
    }
}

/// Several aggregates at once: `aggregate(count(), sum(price))` gives a
/// tuple of their results.
macro_rules! tuple_aggregate {
    ($($name:ident $idx:tt),+) => {
        impl<T, $($name: Aggregate<T>),+> Aggregate<T> for ($($name,)+) {
            type Acc = ($($name::Acc,)+);
            type Out = ($($name::Out,)+);
            fn create(&self) -> Self::Acc {
                ($(self.$idx.create(),)+)
            }
            #[inline]
            fn add(&self, acc: &mut Self::Acc, item: &T) {
                $(self.$idx.add(&mut acc.$idx, item);)+
            }
            fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
                $(self.$idx.merge(&mut acc.$idx, other.$idx);)+
            }
            fn result(&self, acc: &Self::Acc) -> Self::Out {
                ($(self.$idx.result(&acc.$idx),)+)
            }
        }
    };
}
tuple_aggregate!(A 0, B 1);
tuple_aggregate!(A 0, B 1, C 2);
tuple_aggregate!(A 0, B 1, C 2, D 3);
tuple_aggregate!(A 0, B 1, C 2, D 3, E 4);

/// The linked `aggregate` stage: keeps an accumulator per key and emits
/// `(key, result)` after every record (a running aggregate, as Flink's keyed
/// `sum`/`min`/`max` and Kafka Streams' `count` do; windows give one result
/// per window instead).
#[derive(Debug)]
pub struct AggregateOp<K, A: Aggregate<T>, T, Next> {
    agg: A,
    state: KeyedStore<K, A::Acc>,
    node: usize,
    next: Next,
}

impl<K, T, A, Next> Push<(K, T)> for AggregateOp<K, A, T, Next>
where
    K: Hash + Eq + Clone + StateValue,
    A: Aggregate<T>,
    A::Acc: StateValue,
    Next: Push<(K, A::Out)>,
{
    #[inline]
    fn push(&mut self, (key, item): (K, T)) -> Result<()> {
        let agg = &self.agg;
        // One probe; the key is cloned only when it is new.
        let acc = self.state.get_or_insert_with_ref(&key, || agg.create())?;
        agg.add(acc, &item);
        let out = agg.result(acc);
        self.next.push((key, out))
    }

    forward_control!(keyed_state);
}

/// The `aggregate` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct AggregateStage<A> {
    pub(crate) agg: A,
    pub(crate) node: usize,
}

impl<K, T, A> Stage<(K, T)> for AggregateStage<A>
where
    K: Hash + Eq + Clone + Send + StateValue,
    T: Send + 'static,
    A: Aggregate<T>,
    A::Acc: StateValue,
{
    type Out = (K, A::Out);
    type Linked<Next: Push<(K, A::Out)> + Send> = AggregateOp<K, A, T, Next>;

    fn link<Next: Push<(K, A::Out)> + Send>(
        self,
        next: Next,
        _meter: &MeterSet,
    ) -> Self::Linked<Next> {
        AggregateOp {
            agg: self.agg,
            state: KeyedStore::default(),
            node: self.node,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold<A: Aggregate<u32>>(agg: &A, xs: &[u32]) -> A::Out {
        let mut acc = agg.create();
        for x in xs {
            agg.add(&mut acc, x);
        }
        agg.result(&acc)
    }

    #[test]
    fn builtin_aggregates_fold_values() {
        let xs = [4, 1, 7, 2];
        assert_eq!(fold(&Count, &xs), 4);
        assert_eq!(fold(&Sum(|x: &u32| *x), &xs), 14_u64);
        assert_eq!(fold(&Min(|x: &u32| *x), &xs), 1);
        assert_eq!(fold(&Max(|x: &u32| *x), &xs), 7);
        assert!((fold(&Avg(|x: &u32| *x), &xs) - 3.5).abs() < 1e-12);
    }

    #[test]
    fn top_keeps_the_largest_in_order() {
        let top = Aggs::<(char, u32)>::new().top(2, |r| r.1);
        let mut acc = top.create();
        for r in [('a', 3), ('b', 9), ('c', 3), ('d', 5)] {
            top.add(&mut acc, &r);
        }
        assert_eq!(top.result(&acc), vec![('b', 9), ('d', 5)]);
        let mut other = top.create();
        top.add(&mut other, &('e', 7));
        top.merge(&mut acc, other);
        assert_eq!(top.result(&acc), vec![('b', 9), ('e', 7)]);
    }

    #[test]
    fn tuples_aggregate_side_by_side() {
        let xs = [4, 1, 7];
        let agg = (Count, Max(|x: &u32| *x), Avg(|x: &u32| *x));
        let (n, max, avg) = fold(&agg, &xs);
        assert_eq!((n, max), (3, 7));
        assert!((avg - 4.0).abs() < 1e-12);
    }

    #[test]
    fn merge_equals_folding_everything() {
        let agg = Sum(|x: &u32| *x);
        let mut a = agg.create();
        let mut b = agg.create();
        agg.add(&mut a, &3);
        agg.add(&mut b, &4);
        agg.merge(&mut a, b);
        assert_eq!(agg.result(&a), 7);
        let avg = Avg(|x: &u32| *x);
        let mut a = avg.create();
        let mut b = avg.create();
        avg.add(&mut a, &1);
        avg.add(&mut b, &2);
        avg.add(&mut b, &3);
        avg.merge(&mut a, b);
        assert!((avg.result(&a) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn signed_sums_widen_and_floats_sum_as_f64() {
        let agg = Sum(|x: &i8| *x);
        let mut acc = agg.create();
        for _ in 0..100 {
            agg.add(&mut acc, &100);
        }
        assert_eq!(agg.result(&acc), 10_000_i64);
        let agg = Sum(|x: &f32| *x);
        let mut acc = agg.create();
        agg.add(&mut acc, &0.5);
        agg.add(&mut acc, &0.25);
        assert!((agg.result(&acc) - 0.75).abs() < 1e-12);
    }
}
