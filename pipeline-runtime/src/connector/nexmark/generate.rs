//! The event generator: Apache Beam's Nexmark generator re-done in Rust,
//! value for value.
//!
//! Event `n` is a pure function of `n` and the configuration: its kind comes
//! from `n % 50` (1 person, 3 auctions, 46 bids), its ids from how many
//! persons and auctions came before it, and everything random from a
//! [`JavaRandom`] seeded with `n`. So any instance can make any event, and
//! splitting the event numbers over instances does not change the events.

use super::model::SharedStr;
use super::model::{Auction, Bid, Event, Person};
use super::random::JavaRandom;
use crate::Timestamp;
use std::sync::OnceLock;

const FIRST_AUCTION_ID: u64 = 1000;
const FIRST_PERSON_ID: u64 = 1000;
const FIRST_CATEGORY_ID: u64 = 10;
const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const TOTAL_PROPORTION: u64 = 50;
/// Ids of persons and auctions not made yet that bids may name.
const ID_LEAD: u64 = 10;
/// Hot auctions, bidders and sellers are the first (bidders: second) of
/// each batch of this many.
const HOT_BATCH: u64 = 100;
const NUM_CATEGORIES: i32 = 5;
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const CHANNELS: i32 = 10_000;

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// The Nexmark generator and its configuration, with Beam's defaults.
///
/// Persons, auctions, and the `auction`, `bidder`, `price` and `date_time`
/// of bids equal those of Beam's generator for the same event number.
/// `channel`, `url` and a bid's `extra` follow nexmark-flink's generator,
/// which added the first two, with one difference: its URLs come from
/// unseeded random numbers, so no two runs agree; here they are seeded (hot
/// channels from seed -1, channel `N` from seed `N`), so every run makes the
/// same data. (nexmark-flink also adds the person id base to bidders twice;
/// here bidders are Beam's.)
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::nexmark::Generator;
/// let bid = Generator::default().event(4).into_bid().unwrap();
/// assert_eq!((bid.auction, bid.bidder), (1000, 1001));
/// // 10,000 events per second of event time from 2015-07-15T00:00:00Z.
/// let later = Generator::default().event(10_004).into_bid().unwrap();
/// assert_eq!(later.date_time.as_millis() - bid.date_time.as_millis(), 1_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Generator {
    /// Event time of event 0.
    pub base_time: Timestamp,
    /// Events per second of event time.
    pub event_rate: u64,
    /// One bid in this many is for a random auction, the rest for a hot one.
    pub hot_auction_ratio: i32,
    /// One auction in this many has a random seller, the rest a hot one.
    pub hot_sellers_ratio: i32,
    /// One bid in this many has a random bidder, the rest a hot one.
    pub hot_bidders_ratio: i32,
    /// Random persons are drawn from the last this many.
    pub num_active_people: u64,
    /// Random auctions are drawn from the last this many.
    pub num_in_flight_auctions: u64,
    /// Average size of a person in bytes (reached with `extra`).
    pub avg_person_byte_size: i32,
    /// Average size of an auction in bytes.
    pub avg_auction_byte_size: i32,
    /// Average size of a bid in bytes.
    pub avg_bid_byte_size: i32,
}

impl Default for Generator {
    fn default() -> Self {
        Generator {
            base_time: Timestamp::from_millis(1_436_918_400_000),
            event_rate: 10_000,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
        }
    }
}

impl Generator {
    /// Event number `n`.
    pub fn event(&self, n: u64) -> Event {
        let mut random = JavaRandom::new(n as i64);
        let time = self.timestamp(n);
        match n % TOTAL_PROPORTION {
            r if r < PERSON_PROPORTION => Event::Person(self.make_person(n, &mut random, time)),
            r if r < PERSON_PROPORTION + AUCTION_PROPORTION => {
                Event::Auction(self.make_auction(n, &mut random, time))
            }
            _ => Event::Bid(self.make_bid(n, &mut random, time)),
        }
    }

    /// The `i`-th person (from 0): the same as the event it is, made
    /// without making the events between.
    ///
    /// ```
    /// use pipeline_runtime::connector::nexmark::{Event, Generator};
    /// let g = Generator::default();
    /// assert_eq!(Event::Person(g.person(1)), g.event(50));
    /// ```
    pub fn person(&self, i: u64) -> Person {
        let n = Kind::Person.event_number(i);
        self.make_person(n, &mut JavaRandom::new(n as i64), self.timestamp(n))
    }

    /// The `i`-th auction (from 0).
    ///
    /// ```
    /// use pipeline_runtime::connector::nexmark::{Event, Generator};
    /// let g = Generator::default();
    /// assert_eq!(Event::Auction(g.auction(3)), g.event(51));
    /// ```
    pub fn auction(&self, i: u64) -> Auction {
        let n = Kind::Auction.event_number(i);
        self.make_auction(n, &mut JavaRandom::new(n as i64), self.timestamp(n))
    }

    /// The `i`-th bid (from 0).
    ///
    /// ```
    /// use pipeline_runtime::connector::nexmark::{Event, Generator};
    /// let g = Generator::default();
    /// assert_eq!(Event::Bid(g.bid(46)), g.event(54));
    /// ```
    pub fn bid(&self, i: u64) -> Bid {
        let n = Kind::Bid.event_number(i);
        self.make_bid(n, &mut JavaRandom::new(n as i64), self.timestamp(n))
    }

    /// The event time of event `n`.
    pub fn timestamp(&self, n: u64) -> Timestamp {
        // Beam rounds the inter-event delay to whole microseconds.
        let rate = self.event_rate.max(1);
        let delay_us = (1_000_000 + rate / 2) / rate;
        self.base_time
            .plus_millis((n.saturating_mul(delay_us) / 1000).min(i64::MAX as u64) as i64)
    }

    fn make_person(&self, n: u64, random: &mut JavaRandom, time: Timestamp) -> Person {
        let id = last_person(n) + FIRST_PERSON_ID;
        let mut name = String::with_capacity(16);
        name.push_str(pick(random, &FIRST_NAMES));
        name.push(' ');
        name.push_str(pick(random, &LAST_NAMES));
        let mut email = next_string(random, 7, ' ');
        email.push('@');
        email.push_str(&next_string(random, 5, ' '));
        email.push_str(".com");
        let mut credit_card = String::with_capacity(19);
        for i in 0..4 {
            if i > 0 {
                credit_card.push(' ');
            }
            let digits = random.next_int_below(10_000);
            credit_card.push_str(&format!("{digits:04}"));
        }
        let city = pick(random, &US_CITIES).to_owned();
        let state = pick(random, &US_STATES).to_owned();
        let size = 8 + name.len() + email.len() + credit_card.len() + city.len() + state.len();
        let extra = next_extra(random, size as i32, self.avg_person_byte_size);
        Person {
            id,
            name,
            email_address: email,
            credit_card,
            city,
            state,
            date_time: time,
            extra,
        }
    }

    fn make_auction(&self, n: u64, random: &mut JavaRandom, time: Timestamp) -> Auction {
        let id = last_auction(n) + FIRST_AUCTION_ID;
        let seller = if random.next_int_below(self.hot_sellers_ratio) > 0 {
            (last_person(n) / HOT_BATCH) * HOT_BATCH
        } else {
            self.random_person(n, random)
        } + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + random.next_int_below(NUM_CATEGORIES) as u64;
        let initial_bid = next_price(random);
        // Auctions last twice, on average, the time it takes until
        // `num_in_flight_auctions` more auctions have been made.
        let events_for_auctions =
            (self.num_in_flight_auctions * TOTAL_PROPORTION) / AUCTION_PROPORTION;
        let horizon = self.timestamp(n + events_for_auctions).as_millis() - time.as_millis();
        let length = 1 + next_long_below(random, (horizon * 2).max(1));
        let item_name = next_string(random, 20, ' ');
        let description = next_string(random, 100, ' ');
        let reserve = initial_bid + next_price(random);
        let size = 8 + item_name.len() + description.len() + 8 * 5;
        let extra = next_extra(random, size as i32, self.avg_auction_byte_size);
        Auction {
            id,
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: time,
            expires: time.plus_millis(length),
            seller,
            category,
            extra,
        }
    }

    fn make_bid(&self, n: u64, random: &mut JavaRandom, time: Timestamp) -> Bid {
        let auction = if random.next_int_below(self.hot_auction_ratio) > 0 {
            (last_auction(n) / HOT_BATCH) * HOT_BATCH
        } else {
            self.random_auction(n, random)
        } + FIRST_AUCTION_ID;
        let bidder = if random.next_int_below(self.hot_bidders_ratio) > 0 {
            // The second of the batch, so hot bidders are not hot sellers.
            (last_person(n) / HOT_BATCH) * HOT_BATCH + 1
        } else {
            self.random_person(n, random)
        } + FIRST_PERSON_ID;
        let price = next_price(random);
        let (channel, url) = if random.next_int_below(2) > 0 {
            let i = random.next_int_below(HOT_CHANNELS.len() as i32) as usize;
            channels().hot[i].clone()
        } else {
            let i = random.next_int_below(CHANNELS) as usize;
            channels().cold[i].clone()
        };
        let extra = next_extra(random, 8 * 4, self.avg_bid_byte_size);
        Bid {
            auction,
            bidder,
            price,
            channel,
            url,
            date_time: time,
            extra,
        }
    }

    /// A random person among the active ones, or a few not made yet (base 0).
    fn random_person(&self, n: u64, random: &mut JavaRandom) -> u64 {
        let people = last_person(n) + 1;
        let active = people.min(self.num_active_people);
        people - active + next_long_below(random, (active + ID_LEAD) as i64) as u64
    }

    /// A random auction among those likely still open, or a few not made
    /// yet (base 0).
    fn random_auction(&self, n: u64, random: &mut JavaRandom) -> u64 {
        let max = last_auction(n);
        let min = max.saturating_sub(self.num_in_flight_auctions);
        min + next_long_below(random, (max - min + 1 + ID_LEAD) as i64) as u64
    }
}

/// The three kinds of event, in the order each epoch of 50 makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Person,
    Auction,
    Bid,
}

impl Kind {
    /// Where this kind starts in each epoch, and how many it has.
    fn slots(self) -> (u64, u64) {
        match self {
            Kind::Person => (0, PERSON_PROPORTION),
            Kind::Auction => (PERSON_PROPORTION, AUCTION_PROPORTION),
            Kind::Bid => (
                PERSON_PROPORTION + AUCTION_PROPORTION,
                TOTAL_PROPORTION - PERSON_PROPORTION - AUCTION_PROPORTION,
            ),
        }
    }

    /// The event number of the `i`-th event of this kind.
    pub(crate) fn event_number(self, i: u64) -> u64 {
        let (first, per_epoch) = self.slots();
        (i / per_epoch) * TOTAL_PROPORTION + first + i % per_epoch
    }

    /// How many of the first `events` events are of this kind.
    pub(crate) fn count_in(self, events: u64) -> u64 {
        let (first, per_epoch) = self.slots();
        let rest = events % TOTAL_PROPORTION;
        (events / TOTAL_PROPORTION) * per_epoch + rest.saturating_sub(first).min(per_epoch)
    }

    /// Of every 50 events, how many are of this kind.
    pub(crate) fn share(self) -> u64 {
        self.slots().1
    }
}

/// The last person id made by event `n` (base 0): its own if it is a person.
fn last_person(n: u64) -> u64 {
    // With one person per epoch this is the epoch; the general form is
    // kept so the proportions stay one set of constants.
    let epoch = n / TOTAL_PROPORTION;
    let offset = n % TOTAL_PROPORTION;
    epoch * PERSON_PROPORTION
        + if offset < PERSON_PROPORTION {
            offset
        } else {
            PERSON_PROPORTION - 1
        }
}

/// The last auction id made by event `n` (base 0): its own if it is an
/// auction. Before the first auction this wraps, as Beam's does, but no
/// event asks then.
fn last_auction(n: u64) -> u64 {
    let epoch = (n / TOTAL_PROPORTION) as i64;
    let offset = n % TOTAL_PROPORTION;
    let (epoch, offset) = if offset < PERSON_PROPORTION {
        (epoch - 1, AUCTION_PROPORTION - 1)
    } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
        (epoch, AUCTION_PROPORTION - 1)
    } else {
        (epoch, offset - PERSON_PROPORTION)
    };
    (epoch * AUCTION_PROPORTION as i64 + offset as i64) as u64
}

fn pick(random: &mut JavaRandom, from: &[&'static str]) -> &'static str {
    from[random.next_int_below(from.len() as i32) as usize]
}

/// Beam's `LongGenerator.nextLong`: uniform below `n`.
fn next_long_below(random: &mut JavaRandom, n: i64) -> i64 {
    if n < i64::from(i32::MAX) {
        i64::from(random.next_int_below(n as i32))
    } else {
        (random.next_long() % n).abs()
    }
}

/// A log-uniform price from 1.00 to 1,000,000.00, in cents.
fn next_price(random: &mut JavaRandom) -> u64 {
    // Java's Math.round is floor(x + 1/2). The value lies in [100, 1e8):
    // there the rounded sum x + 0.5 has the same floor as the exact one
    // (rounding can only carry it up to a whole number, never past one),
    // and the conversion truncates, which for a positive value is the
    // floor.
    (10.0_f64.powf(random.next_double() * 6.0) * 100.0 + 0.5) as u64
}

/// A string of 3 to `max_len - 1` letters, some of them `special`, trimmed
/// of spaces at both ends.
fn next_string(random: &mut JavaRandom, max_len: i32, special: char) -> String {
    let len = 3 + random.next_int_below(max_len - 3);
    let mut s = String::with_capacity(len as usize);
    for _ in 0..len {
        if random.next_int_below(13) == 0 {
            s.push(special);
        } else {
            s.push(char::from(b'a' + random.next_int_below(26) as u8));
        }
    }
    match s.trim() {
        t if t.len() == s.len() => s,
        t => t.to_owned(),
    }
}

/// The two characters of each pair of base-26 digits `v % 26, v / 26`,
/// counted up from `a` (index 0) or down from it (index 1).
static DIGIT_PAIRS: [[[u8; 2]; 676]; 2] = [digit_pairs(true), digit_pairs(false)];

const fn digit_pairs(up: bool) -> [[u8; 2]; 676] {
    let mut table = [[0_u8; 2]; 676];
    let mut v = 0;
    while v < 676 {
        let (low, high) = ((v % 26) as u8, (v / 26) as u8);
        table[v] = if up {
            [b'a' + low, b'a' + high]
        } else {
            [b'a' - low, b'a' - high]
        };
        v += 1;
    }
    table
}

/// The six characters Java makes of one random `int`: its `%` and `/`
/// truncate, so a negative `int` walks down from `a` by the base-26 digits
/// of its magnitude. Digits come two at a time from a table, each pair by
/// its own division, so the three do not wait on one another.
#[inline]
fn six_chars(rnd: i32) -> [u8; 6] {
    let pairs = &DIGIT_PAIRS[usize::from(rnd < 0)];
    let m = rnd.unsigned_abs();
    let [a, b] = pairs[(m % 676) as usize];
    let [c, d] = pairs[(m / 676 % 676) as usize];
    let [e, f] = pairs[(m / 456_976 % 676) as usize];
    [a, b, c, d, e, f]
}

/// Exactly `len` characters, six from each random `int`, as Java makes
/// them: a negative `int` gives characters below `a` (`H` to `` ` ``).
fn next_exact_string(random: &mut JavaRandom, len: usize) -> String {
    let mut bytes = vec![0_u8; len];
    let mut chunks = bytes.chunks_exact_mut(6);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&six_chars(random.next_int()));
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let six = six_chars(random.next_int());
        for (c, s) in rest.iter_mut().zip(six) {
            *c = s;
        }
    }
    // Every byte is between `H` and `z`, so this never takes the fallback.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Padding that brings a record of `size` bytes to `average` on average.
fn next_extra(random: &mut JavaRandom, size: i32, average: i32) -> String {
    if size > average {
        return String::new();
    }
    let wanted = average - size;
    let delta = (f64::from(wanted) * 0.2 + 0.5) as i32;
    let len = wanted - delta
        + if delta == 0 {
            0
        } else {
            random.next_int_below(2 * delta)
        };
    next_exact_string(random, len as usize)
}

type Channel = (SharedStr, SharedStr);

struct Channels {
    hot: Vec<Channel>,
    cold: Vec<Channel>,
}

/// The channels and their URLs, made once for the process and never freed
/// (about 1 MB), so that bids share them without counting references.
fn channels() -> &'static Channels {
    static CHANNELS_TABLE: OnceLock<Channels> = OnceLock::new();
    CHANNELS_TABLE.get_or_init(|| {
        let forever = |text: String| SharedStr::from_static(Box::leak(text.into_boxed_str()));
        let mut random = JavaRandom::new(-1);
        let hot = HOT_CHANNELS
            .iter()
            .map(|name| (SharedStr::from_static(name), forever(base_url(&mut random))))
            .collect();
        let cold = (0..CHANNELS)
            .map(|n| {
                let mut random = JavaRandom::new(i64::from(n));
                let mut url = base_url(&mut random);
                if random.next_int_below(10) > 0 {
                    url.push_str(&format!("&channel_id={}", n.reverse_bits().wrapping_abs()));
                }
                (forever(format!("channel-{n}")), forever(url))
            })
            .collect();
        Channels { hot, cold }
    })
}

fn base_url(random: &mut JavaRandom) -> String {
    format!(
        "https://www.nexmark.com/{}/{}/{}/item.htm?query=1",
        next_string(random, 5, '_'),
        next_string(random, 5, '_'),
        next_string(random, 5, '_'),
    )
}
