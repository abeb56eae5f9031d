//! A format the sink does not write.
use pipeline::prelude::*;

pipeline! {
    pipeline P {
        source xs: u32 = iter(items: 0..10_u32);
        xs -> sink file(path: "out.xml", format: xml);
    }
}

fn main() {}
