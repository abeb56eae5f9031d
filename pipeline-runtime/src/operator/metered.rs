//! `Metered`: counts the records a source emits.

use super::{MeterSet, Push, Stage};
use crate::Result;
use crate::exec::metrics::Meter;

/// Counts the records a source emits (stages after it derive their counts
/// from it).
#[derive(Debug)]
pub struct Metered<Next> {
    next: Next,
    meter: Meter,
}

impl<T, Next: Push<T>> Push<T> for Metered<Next> {
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        self.meter.record_out();
        self.next.push(item)
    }

    fn flush(&mut self) -> Result<()> {
        self.meter.publish();
        self.next.flush()
    }

    fn finish(&mut self) -> Result<()> {
        self.meter.publish();
        self.next.finish()
    }
}

/// The counting stage before linking; `node` is the source's graph node.
#[derive(Debug, Clone, Copy)]
pub struct MeteredStage {
    pub(crate) node: usize,
}

impl<T: 'static> Stage<T> for MeteredStage {
    type Out = T;
    type Linked<Next: Push<T> + Send> = Metered<Next>;

    fn link<Next: Push<T> + Send>(self, next: Next, meter: &MeterSet) -> Metered<Next> {
        Metered {
            next,
            meter: meter.meter(self.node),
        }
    }
}
