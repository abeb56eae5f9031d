//! `process_keyed` needs a keyed stream.
use pipeline::prelude::*;
use pipeline::runtime::state::{KeyedProcess, ProcessContext, ValueState};

#[operator]
#[derive(Clone, Default)]
struct Total {
    total: ValueState<u64>,
}

impl KeyedProcess<u64, u64> for Total {
    type Out = u64;
    fn on_record(&mut self, _k: &u64, n: u64, ctx: &mut ProcessContext<'_, u64>) -> pipeline::Result<()> {
        let t = self.total.get().copied().unwrap_or(0) + n;
        self.total.set(t);
        ctx.emit(t);
        Ok(())
    }
}

pipeline! {
    pipeline P {
        source ns: u64 = iter(items: vec![1_u64, 2]);
        ns -> process_keyed(Total::default()) -> sink stdout();
    }
}

fn main() {}
