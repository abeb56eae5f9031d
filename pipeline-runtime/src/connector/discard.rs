//! The `discard` sink: drops what reaches it, as Flink's `blackhole`
//! connector. Benchmarks end in it so that they measure the pipeline, not
//! an output format; the run summary still counts the records it took.

use super::{NoSettings, SinkConnector, SinkCtx};
use crate::Result;
use crate::operator::Push;

/// Drops every record.
///
/// # Examples
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     pipeline Drop {
///         source xs: u64 = generator(count: 1000, record: |i: u64| i);
///         xs -> sink discard();
///     }
/// }
///
/// let outcome = Drop::run_default().unwrap();
/// assert!(outcome.summary().contains("1000"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl<T: Send + 'static> SinkConnector<T> for Discard {
    type Settings = NoSettings;
    const KIND: &'static str = "discard";
    type Writer = DiscardWriter;

    fn writers(self, _s: NoSettings, ctx: &SinkCtx) -> Result<Vec<DiscardWriter>> {
        Ok((0..ctx.parallelism()).map(|_| DiscardWriter).collect())
    }
}

/// One instance of a `discard` sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardWriter;

impl<T> Push<T> for DiscardWriter {
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        drop(item);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
