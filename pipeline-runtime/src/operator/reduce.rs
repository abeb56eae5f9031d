//! `reduce`: a running per-key fold of records into one record.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;
use crate::checkpoint::StateValue;
use crate::state::KeyedStore;
use std::hash::Hash;

/// The linked `reduce` stage: keeps one value per key, combines each new
/// record into it with `f(previous, record)` and emits the updated value (as
/// Flink's `KeyedStream::reduce` does).
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Longest {
///         source words: String = iter(items: ["ab", "abc", "b"].map(String::from));
///         words
///             -> key_by(|w: &String| w.chars().next())
///             -> reduce(|a: String, b: String| if b.len() > a.len() { b } else { a })
///             -> sink collect(name: "out");
///     }
/// }
///
/// let got: Vec<String> = Longest::run_default().unwrap().collected("out").unwrap();
/// assert_eq!(got, vec!["ab", "abc", "b"]);
/// ```
#[derive(Debug)]
pub struct Reduce<K, T, F, Next> {
    f: F,
    state: KeyedStore<K, Option<T>>,
    node: usize,
    next: Next,
}

impl<K, T, F, Next> Push<(K, T)> for Reduce<K, T, F, Next>
where
    K: Hash + Eq + StateValue,
    T: Clone + StateValue,
    F: FnMut(T, T) -> T,
    Next: Push<T>,
{
    #[inline]
    fn push(&mut self, (key, item): (K, T)) -> Result<()> {
        let slot = self.state.get_or_insert_with(key, || None)?;
        let value = match slot.take() {
            Some(previous) => (self.f)(previous, item),
            None => item,
        };
        let out = value.clone();
        *slot = Some(value);
        self.next.push(out)
    }

    forward_control!(keyed_state);
}

/// The `reduce` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct ReduceStage<F>(pub(crate) StageFn<F>);

impl<K, T, F> Stage<(K, T)> for ReduceStage<F>
where
    K: Hash + Eq + Send + StateValue,
    T: Clone + Send + StateValue,
    F: FnMut(T, T) -> T + Clone + Send + 'static,
{
    type Out = T;
    type Linked<Next: Push<T> + Send> = Reduce<K, T, F, Next>;

    fn link<Next: Push<T> + Send>(self, next: Next, _meter: &MeterSet) -> Self::Linked<Next> {
        Reduce {
            f: self.0.f,
            state: KeyedStore::default(),
            node: self.0.node,
            next,
        }
    }
}
