//! `flat_map`: maps each record to any number of outputs.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;
use crate::exec::metrics::Meter;

/// The linked `flat_map` stage: emits every item of `f(record)`.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Words {
///         source lines: String = iter(items: ["a b", "c"].map(String::from));
///         lines
///             -> flat_map(|l: String| l.split(' ').map(String::from).collect::<Vec<_>>())
///             -> sink collect(name: "out");
///     }
/// }
///
/// let mut got: Vec<String> = Words::run_default().unwrap().collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec!["a", "b", "c"]);
/// ```
#[derive(Debug)]
pub struct FlatMap<F, Next> {
    f: F,
    next: Next,
    meter: Meter,
}

impl<In, I, F, Next> Push<In> for FlatMap<F, Next>
where
    F: FnMut(In) -> I,
    I: IntoIterator,
    Next: Push<I::Item>,
{
    #[inline]
    fn push(&mut self, item: In) -> Result<()> {
        for out in (self.f)(item) {
            self.meter.record_out();
            self.next.push(out)?;
        }
        Ok(())
    }

    forward_control!(metered);
}

/// The `flat_map` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct FlatMapStage<F>(pub(crate) StageFn<F>);

impl<In, I, F> Stage<In> for FlatMapStage<F>
where
    F: FnMut(In) -> I + Clone + Send + 'static,
    I: IntoIterator,
{
    type Out = I::Item;
    type Linked<Next: Push<I::Item> + Send> = FlatMap<F, Next>;

    fn link<Next: Push<I::Item> + Send>(self, next: Next, meter: &MeterSet) -> FlatMap<F, Next> {
        FlatMap {
            f: self.0.f,
            next,
            meter: meter.meter(self.0.node),
        }
    }
}
