//! `map`: one record in, one record out.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;

/// The linked `map` stage: applies `f` to every record.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Doubled {
///         source xs: u64 = iter(items: 1..=3_u64);
///         xs -> map(|x: u64| x * 2) -> sink collect(name: "out");
///     }
/// }
///
/// let out = Doubled::run_default().unwrap();
/// let mut got: Vec<u64> = out.collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec![2, 4, 6]);
/// ```
#[derive(Debug)]
pub struct Map<F, Next> {
    f: F,
    next: Next,
}

impl<In, Out, F, Next> Push<In> for Map<F, Next>
where
    F: FnMut(In) -> Out,
    Next: Push<Out>,
{
    #[inline]
    fn push(&mut self, item: In) -> Result<()> {
        self.next.push((self.f)(item))
    }

    forward_control!();
}

/// The `map` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct MapStage<F>(pub(crate) StageFn<F>);

impl<In, Out, F> Stage<In> for MapStage<F>
where
    F: FnMut(In) -> Out + Clone + Send + 'static,
{
    type Out = Out;
    type Linked<Next: Push<Out> + Send> = Map<F, Next>;

    fn link<Next: Push<Out> + Send>(self, next: Next, _meter: &MeterSet) -> Map<F, Next> {
        Map { f: self.0.f, next }
    }
}
