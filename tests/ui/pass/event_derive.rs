//! `#[derive(Event)]` on named and tuple structs, with each timestamp type.
use pipeline::prelude::*;

#[derive(Event)]
struct Named {
    #[event_time]
    at: Timestamp,
}

#[derive(Event)]
struct Millis(String, #[event_time] i64);

#[derive(Event)]
struct Unsigned<T> {
    _payload: T,
    #[event_time]
    ms: u64,
}

fn main() {
    assert_eq!(Named { at: Timestamp::from_millis(5) }.event_time().as_millis(), 5);
    assert_eq!(Millis("x".into(), 7).event_time().as_millis(), 7);
    assert_eq!(Unsigned { _payload: (), ms: 9 }.event_time().as_millis(), 9);
}
