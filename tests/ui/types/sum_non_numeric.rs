//! `sum` of a field that is not a number.
use pipeline::prelude::*;

#[derive(Debug, Clone)]
struct Sale {
    shop: String,
    note: String,
}

pipeline! {
    pipeline P {
        source sales: Sale = iter(items: Vec::<Sale>::new());
        sales -> key_by(|s: &Sale| s.shop.clone()) -> aggregate(sum(note)) -> sink stdout();
    }
}

fn main() {}
