//! The three Nexmark record types and the event that carries one of them.
//!
//! Field order is the column order of the exported CSV files, so that
//! `format: csv` reads them back and other engines read the same columns.

use crate::{Event as HasEventTime, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A person registering on the auction site.
///
/// Columns: `id,name,email_address,credit_card,city,state,date_time,extra`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Dense from 1000.
    pub id: u64,
    /// First and last name.
    pub name: String,
    /// A made-up address.
    pub email_address: String,
    /// Four groups of four digits.
    pub credit_card: String,
    /// One of ten US cities.
    pub city: String,
    /// One of six US states.
    pub state: String,
    /// Event time.
    pub date_time: Timestamp,
    /// Padding to the configured average size.
    pub extra: String,
}

/// An item put up for auction.
///
/// Columns: `id,item_name,description,initial_bid,reserve,date_time,expires,seller,category,extra`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    /// Dense from 1000.
    pub id: u64,
    /// A random name.
    pub item_name: String,
    /// A random description.
    pub description: String,
    /// The opening price.
    pub initial_bid: u64,
    /// The lowest price the seller accepts.
    pub reserve: u64,
    /// Event time.
    pub date_time: Timestamp,
    /// When the auction closes.
    pub expires: Timestamp,
    /// A [`Person`] id.
    pub seller: u64,
    /// From 10 to 14.
    pub category: u64,
    /// Padding to the configured average size.
    pub extra: String,
}

/// A bid on an auction.
///
/// Columns: `auction,bidder,price,channel,url,date_time,extra`. `channel`
/// and `url` take few distinct values, so the generator shares them
/// ([`SharedStr`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    /// An [`Auction`] id.
    pub auction: u64,
    /// A [`Person`] id.
    pub bidder: u64,
    /// In cents.
    pub price: u64,
    /// Where the bid came from: four hot channels, or `channel-N`.
    pub channel: SharedStr,
    /// The page the bid was made on.
    pub url: SharedStr,
    /// Event time.
    pub date_time: Timestamp,
    /// Padding to the configured average size.
    pub extra: String,
}

/// Text that many records share: a string made once for the whole
/// process (the generator's channels and URLs, so that copying one costs
/// nothing), or one shared by reference counting (when read from a file).
/// It reads, compares, hashes and serializes as the `str` it holds.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::nexmark::SharedStr;
/// let s = SharedStr::from("Google");
/// assert_eq!(&*s, "Google");
/// assert_eq!(s, SharedStr::from_static("Google"));
/// assert_eq!(serde_json::to_string(&s).unwrap(), "\"Google\"");
/// ```
#[derive(Clone)]
pub struct SharedStr(Shared);

#[derive(Clone)]
enum Shared {
    Static(&'static str),
    Counted(Arc<str>),
}

impl SharedStr {
    /// Text that lives as long as the program.
    pub const fn from_static(text: &'static str) -> Self {
        SharedStr(Shared::Static(text))
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match &self.0 {
            Shared::Static(s) => s,
            Shared::Counted(s) => s,
        }
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr(Shared::Counted(Arc::from(text)))
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        SharedStr(Shared::Counted(Arc::from(text)))
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for SharedStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl std::fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Arc::<str>::deserialize(deserializer).map(|s| SharedStr(Shared::Counted(s)))
    }
}

/// One Nexmark event: a new person, a new auction, or a bid.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::nexmark::{Event, Generator};
/// let generator = Generator::default();
/// // Every 50 events: 1 person, 3 auctions, then 46 bids.
/// assert!(matches!(generator.event(0), Event::Person(_)));
/// assert!(matches!(generator.event(1), Event::Auction(_)));
/// assert!(generator.event(4).into_bid().is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

impl Event {
    /// The bid, if this is one.
    pub fn into_bid(self) -> Option<Bid> {
        match self {
            Event::Bid(b) => Some(b),
            _ => None,
        }
    }

    /// The auction, if this is one.
    pub fn into_auction(self) -> Option<Auction> {
        match self {
            Event::Auction(a) => Some(a),
            _ => None,
        }
    }

    /// The person, if this is one.
    pub fn into_person(self) -> Option<Person> {
        match self {
            Event::Person(p) => Some(p),
            _ => None,
        }
    }
}

impl HasEventTime for Event {
    #[inline]
    fn event_time(&self) -> Timestamp {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }
}

macro_rules! event_time_field {
    ($($t:ty),*) => {$(
        impl HasEventTime for $t {
            #[inline]
            fn event_time(&self) -> Timestamp {
                self.date_time
            }
        }
    )*};
}

event_time_field!(Person, Auction, Bid);
