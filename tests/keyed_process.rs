//! `process_keyed` with `#[operator]` structs: value, map and list state
//! kept per key, event-time timers (set, deleted, fired by watermarks and
//! at the end of input) and processing-time timers, in both executor
//! modes and in parallel, checked against plain loops.

use pipeline::prelude::*;
use pipeline::runtime::exec::ExecMode;
use pipeline::runtime::state::{
    KeyedProcess, ListState, MapState, ProcessContext, Timer, ValueState,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Event-time timers fired (the tests run one pipeline at a time).
static TIMERS_FIRED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct Visit {
    user: u32,
    page: String,
    #[event_time]
    at: i64,
}

/// A user's session: the pages visited, a count per page, and when it
/// ends (5 s of event time after the last visit).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Session {
    user: u32,
    first: i64,
    last: i64,
    pages: Vec<String>,
    top_page: String,
}

/// Sessions with a 5-second gap, by hand.
#[operator]
#[derive(Clone, Default)]
struct Sessions {
    /// The gap, a configuration field (not state).
    gap: i64,
    pages: ListState<String>,
    counts: MapState<String, u32>,
    first: ValueState<i64>,
    last: ValueState<i64>,
}

impl KeyedProcess<u32, Visit> for Sessions {
    type Out = Session;

    fn on_record(
        &mut self,
        user: &u32,
        v: Visit,
        ctx: &mut ProcessContext<'_, Session>,
    ) -> pipeline::Result<()> {
        // The session ends `gap` after its last visit: move the timer. A
        // visit after the gap may come before the watermark fired the
        // timer (records of one batch come before its watermark): then it
        // starts a new session at once.
        if let Some(&last) = self.last.get() {
            ctx.delete_event_timer(Timestamp::from_millis(last + self.gap));
            if v.at > last + self.gap {
                self.close(*user, ctx);
            }
        }
        let last = self.last.get().copied().unwrap_or(i64::MIN).max(v.at);
        self.last.set(last);
        if self.first.get().is_none_or(|f| v.at < *f) {
            self.first.set(v.at);
        }
        *self.counts.entry(v.page.clone()).or_insert(0) += 1;
        self.pages.push(v.page);
        ctx.set_event_timer(Timestamp::from_millis(last + self.gap));
        Ok(())
    }

    fn on_timer(
        &mut self,
        user: &u32,
        _timer: Timer,
        ctx: &mut ProcessContext<'_, Session>,
    ) -> pipeline::Result<()> {
        TIMERS_FIRED.fetch_add(1, Ordering::SeqCst);
        self.close(*user, ctx);
        Ok(())
    }
}

impl Sessions {
    /// Emits the current session and forgets it.
    fn close(&mut self, user: u32, ctx: &mut ProcessContext<'_, Session>) {
        let mut counts: Vec<(&String, &u32)> = self.counts.iter().collect();
        counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top_page = counts
            .first()
            .map(|(p, _)| (*p).clone())
            .unwrap_or_default();
        ctx.emit(Session {
            user,
            first: self.first.take().unwrap_or_default(),
            last: self.last.take().unwrap_or_default(),
            pages: self.pages.take(),
            top_page,
        });
        self.counts.clear();
    }
}

/// Visit `i`: bursts of 50 visits, 100 ms apart, every 25 s; bursts
/// take turns among 7 users, and every third has a 6-second pause in the
/// middle (two sessions). Times only grow, so no record is late; a user's
/// session usually ends (its timer fires) while other users' visits flow.
fn visit(i: u64) -> Visit {
    let i = i as i64;
    let burst = i / 50;
    let pause = if burst % 3 == 0 && i % 50 >= 25 {
        6_000
    } else {
        0
    };
    Visit {
        user: (burst % 7) as u32,
        page: format!("/p{}", (i * 13) % 5),
        at: burst * 25_000 + (i % 50) * 100 + pause,
    }
}

fn visits() -> Vec<Visit> {
    (0..3_000).map(visit).collect()
}

/// The sessions a plain loop finds.
fn expected(visits: &[Visit], gap: i64) -> Vec<Session> {
    let mut by_user: BTreeMap<u32, Vec<&Visit>> = BTreeMap::new();
    for v in visits {
        by_user.entry(v.user).or_default().push(v);
    }
    let mut out = Vec::new();
    for (user, vs) in by_user {
        let mut current: Vec<&Visit> = Vec::new();
        let close = |s: &mut Vec<&Visit>, out: &mut Vec<Session>| {
            if s.is_empty() {
                return;
            }
            let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
            for v in s.iter() {
                *counts.entry(&v.page).or_insert(0) += 1;
            }
            let top = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(p, _)| (*p).to_owned())
                .unwrap_or_default();
            out.push(Session {
                user,
                first: s[0].at,
                last: s[s.len() - 1].at,
                pages: s.iter().map(|v| v.page.clone()).collect(),
                top_page: top,
            });
            s.clear();
        };
        for v in vs {
            if current.last().is_some_and(|l| v.at > l.at + gap) {
                close(&mut current, &mut out);
            }
            current.push(v);
        }
        close(&mut current, &mut out);
    }
    out.sort();
    out
}

pipeline! {
    pipeline SessionsByHand {
        // One source instance: each user's visits arrive in time order,
        // which the operator above relies on.
        source visits: Visit = iter(items: visits(), watermark: bounded(1s));
        visits
            -> key_by(|v: &Visit| v.user)
            -> process_keyed(Sessions { gap: 5_000, ..Sessions::default() })
            -> sink collect(name: "out");
    }
}

fn run(mode: ExecMode, parallelism: usize) -> Vec<Session> {
    TIMERS_FIRED.store(0, Ordering::SeqCst);
    let out = SessionsByHand::run_with(
        RunOptions::default()
            .with_parallelism(parallelism)
            .with_mode(mode),
    )
    .unwrap();
    let summary = out.summary();
    assert!(summary.contains("process_keyed 3000→"), "{summary}");
    // In continuous mode, watermarks (one per batch of 1024 records) fired
    // timers while records came, not only the end of input (which fires
    // one per user).
    let fired = TIMERS_FIRED.load(Ordering::SeqCst);
    if mode == ExecMode::Continuous {
        assert!(fired > 7, "only {fired} timers fired");
    }
    let mut got: Vec<Session> = out.collected("out").unwrap();
    got.sort();
    got
}

#[test]
fn sessions_by_hand_match_a_plain_loop_in_both_modes_and_in_parallel() {
    let want = expected(&visits(), 5_000);
    assert_eq!(want.len(), 80, "60 bursts, 20 of them split by a pause");
    assert_eq!(run(ExecMode::Continuous, 1), want);
    assert_eq!(run(ExecMode::Continuous, 3), want);
    let micro = ExecMode::MicroBatch {
        interval: Duration::from_millis(20),
    };
    assert_eq!(run(micro, 2), want);
}

/// Emits each key once, from a processing-time timer 50 ms after its
/// first record.
#[operator]
#[derive(Clone, Default)]
struct Ping {
    seen: ValueState<u32>,
}

impl KeyedProcess<u64, u64> for Ping {
    type Out = (u64, u32);

    fn on_record(
        &mut self,
        _key: &u64,
        _n: u64,
        ctx: &mut ProcessContext<'_, (u64, u32)>,
    ) -> pipeline::Result<()> {
        if self.seen.get().is_none() {
            ctx.set_processing_timer(ctx.now().plus_millis(50));
        }
        self.seen.set(self.seen.get().copied().unwrap_or(0) + 1);
        Ok(())
    }

    fn on_timer(
        &mut self,
        key: &u64,
        timer: Timer,
        ctx: &mut ProcessContext<'_, (u64, u32)>,
    ) -> pipeline::Result<()> {
        assert!(matches!(timer, Timer::ProcessingTime(_)));
        ctx.emit((*key, self.seen.get().copied().unwrap_or(0)));
        Ok(())
    }
}

pipeline! {
    pipeline Pings {
        source ns: u64 = generator(count: 400, rate: 1_000, record: |i: u64| i % 4);
        ns -> key_by(|n: &u64| *n) -> process_keyed(Ping::default()) -> sink collect(name: "out");
    }
}

#[test]
fn processing_time_timers_fire_by_the_clock_while_records_flow() {
    let mut got: Vec<(u64, u32)> = Pings::run_default().unwrap().collected("out").unwrap();
    got.sort();
    // Each key's timer fired once, 50 ms after its first record, while
    // the 0.4 s of input was still coming: it saw some, not all, records.
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(
        got.iter().all(|(_, seen)| *seen > 0 && *seen < 100),
        "{got:?}"
    );
}

/// Counts records per key twice: in a field with a time to live, which
/// forgets a key idle for 300 ms, and in one without.
#[operator]
#[derive(Clone, Default)]
struct Forgetful {
    #[ttl(300ms)]
    recent: ValueState<u32>,
    total: ValueState<u32>,
}

impl KeyedProcess<u64, u64> for Forgetful {
    type Out = (u64, u32, u32);

    fn on_record(
        &mut self,
        key: &u64,
        _i: u64,
        ctx: &mut ProcessContext<'_, (u64, u32, u32)>,
    ) -> pipeline::Result<()> {
        let recent = self.recent.get().copied().unwrap_or(0) + 1;
        let total = self.total.get().copied().unwrap_or(0) + 1;
        self.recent.set(recent);
        self.total.set(total);
        ctx.emit((*key, recent, total));
        Ok(())
    }
}

pipeline! {
    pipeline Forgetting {
        // Ten records a second: key 0 for half a second, key 1 for about
        // a second, then key 0 once more.
        source ns: u64 = generator(count: 15, rate: 10, record: |i: u64| i);
        ns -> key_by(|i: &u64| u64::from(*i >= 5 && *i < 14))
           -> process_keyed(Forgetful::default())
           -> sink collect(name: "out");
    }
}

#[test]
fn a_field_with_a_time_to_live_forgets_a_key_left_idle_and_the_others_do_not() {
    let got: Vec<(u64, u32, u32)> = Forgetting::run_default().unwrap().collected("out").unwrap();
    let key0: Vec<(u32, u32)> = got
        .iter()
        .filter(|g| g.0 == 0)
        .map(|g| (g.1, g.2))
        .collect();
    let key1: Vec<(u32, u32)> = got
        .iter()
        .filter(|g| g.0 == 1)
        .map(|g| (g.1, g.2))
        .collect();
    assert_eq!(key0, vec![(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (1, 6)]);
    assert_eq!(key1, (1..=9).map(|n| (n, n)).collect::<Vec<_>>());
}
