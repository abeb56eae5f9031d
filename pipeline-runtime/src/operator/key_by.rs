//! `key_by`: pairs each record with its key, ahead of per-key stages.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;

/// The linked `key_by` stage: emits `(key(&record), record)`.
///
/// With parallelism above 1 the keyed pairs then cross a hash exchange, so
/// every record of one key reaches the same instance of the next stage.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Counts {
///         source words: String = iter(items: ["a", "b", "a"].map(String::from));
///         words -> key_by(|w: &String| w.clone()) -> aggregate(count()) -> sink collect(name: "out");
///     }
/// }
///
/// let got: Vec<(String, u64)> = Counts::run_default().unwrap().collected("out").unwrap();
/// assert!(got.contains(&("a".to_string(), 2)));
/// ```
#[derive(Debug)]
pub struct KeyBy<F, Next> {
    f: F,
    next: Next,
}

impl<K, T, F, Next> Push<T> for KeyBy<F, Next>
where
    F: FnMut(&T) -> K,
    Next: Push<(K, T)>,
{
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        let key = (self.f)(&item);
        self.next.push((key, item))
    }

    forward_control!();
}

/// The `key_by` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct KeyByStage<F>(pub(crate) StageFn<F>);

impl<K, T, F> Stage<T> for KeyByStage<F>
where
    F: FnMut(&T) -> K + Clone + Send + 'static,
{
    type Out = (K, T);
    type Linked<Next: Push<(K, T)> + Send> = KeyBy<F, Next>;

    fn link<Next: Push<(K, T)> + Send>(self, next: Next, _meter: &MeterSet) -> KeyBy<F, Next> {
        KeyBy { f: self.0.f, next }
    }
}
