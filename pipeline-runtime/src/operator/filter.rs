//! `filter`: keeps the records a predicate accepts.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;
use crate::exec::metrics::Meter;

/// The linked `filter` stage.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Evens {
///         source xs: u64 = iter(items: 1..=6_u64);
///         xs -> filter(|x: &u64| x % 2 == 0) -> sink collect(name: "out");
///     }
/// }
///
/// let mut got: Vec<u64> = Evens::run_default().unwrap().collected("out").unwrap();
/// got.sort();
/// assert_eq!(got, vec![2, 4, 6]);
/// ```
#[derive(Debug)]
pub struct Filter<F, Next> {
    f: F,
    next: Next,
    meter: Meter,
}

impl<T, F, Next> Push<T> for Filter<F, Next>
where
    F: FnMut(&T) -> bool,
    Next: Push<T>,
{
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        if (self.f)(&item) {
            self.meter.record_out();
            self.next.push(item)
        } else {
            Ok(())
        }
    }

    forward_control!(metered);
}

/// The `filter` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct FilterStage<F>(pub(crate) StageFn<F>);

impl<T, F> Stage<T> for FilterStage<F>
where
    F: FnMut(&T) -> bool + Clone + Send + 'static,
{
    type Out = T;
    type Linked<Next: Push<T> + Send> = Filter<F, Next>;

    fn link<Next: Push<T> + Send>(self, next: Next, meter: &MeterSet) -> Filter<F, Next> {
        Filter {
            f: self.0.f,
            next,
            meter: meter.meter(self.0.node),
        }
    }
}
