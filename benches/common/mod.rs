//! What the benches share: a sink that only hands records to `black_box`.

use pipeline::runtime::connector::{NoSettings, SinkConnector, SinkCtx};
use pipeline::runtime::operator::Push;
use std::hint::black_box;

/// A sink that hands every record to `black_box`.
#[derive(Clone, Copy)]
pub(crate) struct BlackHole;

/// One instance of [`BlackHole`].
pub(crate) struct BlackHoleWriter;

impl<T> Push<T> for BlackHoleWriter {
    #[inline]
    fn push(&mut self, item: T) -> pipeline::Result<()> {
        black_box(item);
        Ok(())
    }
    fn finish(&mut self) -> pipeline::Result<()> {
        Ok(())
    }
}

impl<T> SinkConnector<T> for BlackHole {
    type Settings = NoSettings;
    const KIND: &'static str = "black_hole";
    type Writer = BlackHoleWriter;
    fn writers(self, _: NoSettings, ctx: &SinkCtx) -> pipeline::Result<Vec<BlackHoleWriter>> {
        Ok((0..ctx.parallelism()).map(|_| BlackHoleWriter).collect())
    }
}
