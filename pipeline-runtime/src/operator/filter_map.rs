//! `filter_map`: maps each record to zero or one output.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;
use crate::exec::metrics::Meter;

/// The linked `filter_map` stage: emits `f(record)` when it is `Some`.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Parsed {
///         source lines: String = iter(items: ["1", "x", "3"].map(String::from));
///         lines -> filter_map(|l: String| l.parse::<u32>().ok()) -> sink collect(name: "out");
///     }
/// }
///
/// let mut got: Vec<u32> = Parsed::run_default().unwrap().collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec![1, 3]);
/// ```
#[derive(Debug)]
pub struct FilterMap<F, Next> {
    f: F,
    next: Next,
    meter: Meter,
}

impl<In, Out, F, Next> Push<In> for FilterMap<F, Next>
where
    F: FnMut(In) -> Option<Out>,
    Next: Push<Out>,
{
    #[inline]
    fn push(&mut self, item: In) -> Result<()> {
        match (self.f)(item) {
            Some(out) => {
                self.meter.record_out();
                self.next.push(out)
            }
            None => Ok(()),
        }
    }

    forward_control!(metered);
}

/// The `filter_map` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct FilterMapStage<F>(pub(crate) StageFn<F>);

impl<In, Out, F> Stage<In> for FilterMapStage<F>
where
    F: FnMut(In) -> Option<Out> + Clone + Send + 'static,
{
    type Out = Out;
    type Linked<Next: Push<Out> + Send> = FilterMap<F, Next>;

    fn link<Next: Push<Out> + Send>(self, next: Next, meter: &MeterSet) -> FilterMap<F, Next> {
        FilterMap {
            f: self.0.f,
            next,
            meter: meter.meter(self.0.node),
        }
    }
}
