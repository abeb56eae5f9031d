//! `inspect`: looks at each record without changing it.

use super::{MeterSet, Push, Stage, StageFn};
use crate::Result;

/// The linked `inspect` stage: calls `f(&record)` and passes the record on.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// static SEEN: AtomicU64 = AtomicU64::new(0);
///
/// pipeline! {
///     pipeline Seen {
///         source xs: u64 = iter(items: 1..=4_u64);
///         xs -> inspect(|_x: &u64| { SEEN.fetch_add(1, Ordering::Relaxed); })
///            -> sink collect(name: "out");
///     }
/// }
///
/// let got: Vec<u64> = Seen::run_default().unwrap().collected("out").unwrap();
/// assert_eq!(got.len(), 4);
/// assert_eq!(SEEN.load(Ordering::Relaxed), 4);
/// ```
#[derive(Debug)]
pub struct Inspect<F, Next> {
    f: F,
    next: Next,
}

impl<T, F, Next> Push<T> for Inspect<F, Next>
where
    F: FnMut(&T),
    Next: Push<T>,
{
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        (self.f)(&item);
        self.next.push(item)
    }

    forward_control!();
}

/// The `inspect` stage before linking.
#[derive(Debug, Clone, Copy)]
pub struct InspectStage<F>(pub(crate) StageFn<F>);

impl<T, F> Stage<T> for InspectStage<F>
where
    F: FnMut(&T) + Clone + Send + 'static,
{
    type Out = T;
    type Linked<Next: Push<T> + Send> = Inspect<F, Next>;

    fn link<Next: Push<T> + Send>(self, next: Next, _meter: &MeterSet) -> Inspect<F, Next> {
        Inspect { f: self.0.f, next }
    }
}
