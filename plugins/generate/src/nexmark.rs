//! The Nexmark event stream (people, auctions and bids of an online
//! auction), following the generator of the Nexmark benchmark as Apache Beam
//! and Flink implement it: out of every 50 events 1 is a new person, 3 are
//! new auctions and 46 are bids; auctions are sold by recent (and some hot)
//! people, bids go to recent (and mostly hot) auctions from recent (and some
//! hot) bidders; prices are `round(10^(6 u) * 100)` cents-like units.
//!
//! Every event is a pure function of the seed and its number, so a plain
//! Rust reference can compute what any query over it must answer
//! ([`event`]), and a restored position continues exactly.
//!
//! The three kinds share one flat schema: `event_type` (`person`, `auction`
//! or `bid`), `date_time`, then the columns of each kind, null in the rows
//! of the other kinds.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::mix;

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const BID_PROPORTION: u64 = 46;
const TOTAL_PROPORTION: u64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
/// The first person id, as in Beam.
pub const FIRST_PERSON_ID: i64 = 1000;
/// The first auction id.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// The first of the five category ids.
pub const FIRST_CATEGORY_ID: i64 = 10;
const CATEGORIES: u64 = 5;
const ACTIVE_PEOPLE: u64 = 1000;
const PERSON_ID_LEAD: u64 = 10;
const IN_FLIGHT_AUCTIONS: u64 = 100;
const AUCTION_ID_LEAD: u64 = 10;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_SELLER_RATIO: u64 = 4;
const HOT_BIDDER_RATIO: u64 = 4;
/// How long an auction runs after it starts, in ms (Beam derives it from
/// the event rate; fixed here).
const AUCTION_LENGTH_MS: i64 = 10_000;

const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const CITIES: [&str; 10] = [
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
const CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

/// One Nexmark event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new person.
    Person {
        /// From [`FIRST_PERSON_ID`] up, one per person.
        id: i64,
        /// First and last name.
        name: String,
        /// A made-up address.
        email: String,
        /// Four groups of four digits.
        credit_card: String,
        /// A US city.
        city: &'static str,
        /// A US state.
        state: &'static str,
    },
    /// A new auction.
    Auction {
        /// From [`FIRST_AUCTION_ID`] up, one per auction.
        id: i64,
        /// Twelve letters.
        item_name: String,
        /// The opening price.
        initial_bid: i64,
        /// The lowest price the seller takes.
        reserve: i64,
        /// How long after its start the auction ends, in ms.
        expires: i64,
        /// The person selling it.
        seller: i64,
        /// One of five, from [`FIRST_CATEGORY_ID`].
        category: i64,
    },
    /// A bid on an auction.
    Bid {
        /// The auction's id.
        auction: i64,
        /// The bidding person's id.
        bidder: i64,
        /// The offered price.
        price: i64,
        /// Where the bid came from.
        channel: &'static str,
        /// The page it was made on.
        url: String,
    },
}

/// Base-0 id of the newest person at event `n`.
fn last_person(n: u64) -> u64 {
    // With one person per epoch (the standard proportions), the epoch.
    let (epoch, offset) = (n / TOTAL_PROPORTION, n % TOTAL_PROPORTION);
    let offset = match offset < PERSON_PROPORTION {
        true => offset,
        false => PERSON_PROPORTION - 1,
    };
    epoch * PERSON_PROPORTION + offset
}

/// Base-0 id of the newest auction at event `n`.
fn last_auction(n: u64) -> u64 {
    let (epoch, offset) = (n / TOTAL_PROPORTION, n % TOTAL_PROPORTION);
    if offset < PERSON_PROPORTION {
        // Before this epoch's first auction: the previous epoch's last.
        return (epoch * AUCTION_PROPORTION).saturating_sub(1);
    }
    let offset = (offset - PERSON_PROPORTION).min(AUCTION_PROPORTION - 1);
    epoch * AUCTION_PROPORTION + offset
}

/// A random draw for event `n`: the `k`-th of its streams.
struct Draws {
    seed: u64,
    n: u64,
    k: u64,
}

impl Draws {
    fn next(&mut self) -> u64 {
        self.k += 1;
        mix(self.seed, self.n, 100 + self.k)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn letters(&mut self, len: usize) -> String {
        let mut text = String::with_capacity(len);
        self.push_letters(&mut text, len);
        text
    }

    /// Appends `len` random lowercase letters to `text`. Strings are built
    /// by pushing, not `format!`: the generator is the benchmark's source,
    /// and formatting machinery and extra allocations cost twice as much in
    /// Wasm as natively.
    fn push_letters(&mut self, text: &mut String, len: usize) {
        text.extend((0..len).map(|_| (b'a' + self.below(26) as u8) as char));
    }

    /// Appends a random number below 10,000 as four digits to `text`.
    fn push_four_digits(&mut self, text: &mut String) {
        let value = self.below(10_000);
        text.extend([1000, 100, 10, 1].map(|d| (b'0' + (value / d % 10) as u8) as char));
    }

    fn price(&mut self) -> i64 {
        // 10^(6u) as e^(6u ln 10): `exp` is much cheaper than `powf`.
        ((self.unit() * 6.0 * std::f64::consts::LN_10).exp() * 100.0).round() as i64
    }

    /// A recent person (or one slightly ahead, as in Beam).
    fn person(&mut self, n: u64) -> u64 {
        let people = last_person(n) + 1;
        let active = people.min(ACTIVE_PEOPLE);
        (people - active + self.below(active + PERSON_ID_LEAD)).min(people - 1)
    }

    /// A recent auction.
    fn auction(&mut self, n: u64) -> u64 {
        let newest = last_auction(n);
        let oldest = newest.saturating_sub(IN_FLIGHT_AUCTIONS);
        (oldest + self.below(newest - oldest + 1 + AUCTION_ID_LEAD)).min(newest)
    }
}

/// Event `n` of the stream of `seed`.
pub fn event(seed: u64, n: u64) -> Event {
    let mut draw = Draws { seed, n, k: 0 };
    let offset = n % TOTAL_PROPORTION;
    if offset < PERSON_PROPORTION {
        return Event::Person {
            id: last_person(n) as i64 + FIRST_PERSON_ID,
            name: [
                FIRST_NAMES[draw.below(FIRST_NAMES.len() as u64) as usize],
                " ",
                LAST_NAMES[draw.below(LAST_NAMES.len() as u64) as usize],
            ]
            .concat(),
            email: {
                let mut email = String::with_capacity(17);
                draw.push_letters(&mut email, 7);
                email.push('@');
                draw.push_letters(&mut email, 5);
                email.push_str(".com");
                email
            },
            credit_card: {
                let mut card = String::with_capacity(19);
                for group in 0..4 {
                    if group > 0 {
                        card.push(' ');
                    }
                    draw.push_four_digits(&mut card);
                }
                card
            },
            city: CITIES[draw.below(CITIES.len() as u64) as usize],
            state: STATES[draw.below(STATES.len() as u64) as usize],
        };
    }
    if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
        let seller = match draw.below(HOT_SELLER_RATIO) {
            0 => draw.person(n),
            _ => (last_person(n) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO,
        };
        let initial_bid = draw.price();
        return Event::Auction {
            id: last_auction(n) as i64 + FIRST_AUCTION_ID,
            item_name: draw.letters(12),
            initial_bid,
            reserve: initial_bid + draw.price(),
            expires: AUCTION_LENGTH_MS,
            seller: seller as i64 + FIRST_PERSON_ID,
            category: FIRST_CATEGORY_ID + draw.below(CATEGORIES) as i64,
        };
    }
    let auction = match draw.below(HOT_AUCTION_RATIO) {
        0 => draw.auction(n),
        _ => (last_auction(n) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO,
    };
    let bidder = match draw.below(HOT_BIDDER_RATIO) {
        0 => draw.person(n),
        _ => (last_person(n) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO,
    };
    let channel = CHANNELS[draw.below(CHANNELS.len() as u64) as usize];
    Event::Bid {
        auction: auction as i64 + FIRST_AUCTION_ID,
        bidder: bidder as i64 + FIRST_PERSON_ID,
        price: draw.price(),
        channel,
        url: {
            let mut url = String::with_capacity(46);
            url.push_str("https://www.nexmark.com/");
            draw.push_letters(&mut url, 5);
            url.push_str("/item.htm?query=1");
            url
        },
    }
}

fn timestamp(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        nullable,
    )
}

/// The flat schema of all three kinds.
pub fn schema() -> SchemaRef {
    let int = |name| Field::new(name, DataType::Int64, true);
    let text = |name| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("event_type", DataType::Utf8, false),
        timestamp("date_time", false),
        int("person_id"),
        text("name"),
        text("email"),
        text("credit_card"),
        text("city"),
        text("state"),
        int("auction_id"),
        text("item_name"),
        int("initial_bid"),
        int("reserve"),
        timestamp("expires", true),
        int("seller"),
        int("category"),
        int("auction"),
        int("bidder"),
        int("price"),
        text("channel"),
        text("url"),
    ]))
}

/// Events `first..first + count` as one batch; event `n` happens at
/// `start_ms + n * step_ms`.
pub fn rows(seed: u64, start_ms: i64, step_ms: i64, first: u64, count: usize) -> RecordBatch {
    let mut kind = StringBuilder::new();
    let mut time = TimestampMillisecondBuilder::with_capacity(count).with_timezone("+00:00");
    let mut ints: Vec<Int64Builder> = (0..9).map(|_| Int64Builder::with_capacity(count)).collect();
    let mut texts: Vec<StringBuilder> = (0..8).map(|_| StringBuilder::new()).collect();
    let mut expires = TimestampMillisecondBuilder::with_capacity(count).with_timezone("+00:00");
    // Int columns: person_id, auction_id, initial_bid, reserve, seller,
    // category, auction, bidder, price. Text: name, email, credit_card,
    // city, state, item_name, channel, url.
    for n in first..first + count as u64 {
        let at = start_ms + n as i64 * step_ms;
        time.append_value(at);
        let event = event(seed, n);
        let (int_values, text_values, expiry): ([Option<i64>; 9], [Option<&str>; 8], _) =
            match &event {
                Event::Person {
                    id,
                    name,
                    email,
                    credit_card,
                    city,
                    state,
                } => {
                    kind.append_value("person");
                    (
                        [Some(*id), None, None, None, None, None, None, None, None],
                        [
                            Some(name),
                            Some(email),
                            Some(credit_card),
                            Some(city),
                            Some(state),
                            None,
                            None,
                            None,
                        ],
                        None,
                    )
                }
                Event::Auction {
                    id,
                    item_name,
                    initial_bid,
                    reserve,
                    expires,
                    seller,
                    category,
                } => {
                    kind.append_value("auction");
                    (
                        [
                            None,
                            Some(*id),
                            Some(*initial_bid),
                            Some(*reserve),
                            Some(*seller),
                            Some(*category),
                            None,
                            None,
                            None,
                        ],
                        [None, None, None, None, None, Some(item_name), None, None],
                        Some(at + expires),
                    )
                }
                Event::Bid {
                    auction,
                    bidder,
                    price,
                    channel,
                    url,
                } => {
                    kind.append_value("bid");
                    (
                        [
                            None,
                            None,
                            None,
                            None,
                            None,
                            None,
                            Some(*auction),
                            Some(*bidder),
                            Some(*price),
                        ],
                        [None, None, None, None, None, None, Some(channel), Some(url)],
                        None,
                    )
                }
            };
        for (builder, value) in ints.iter_mut().zip(int_values) {
            builder.append_option(value);
        }
        for (builder, value) in texts.iter_mut().zip(text_values) {
            builder.append_option(value);
        }
        expires.append_option(expiry);
    }
    let mut ints = ints
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut texts = texts
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut int = || ints.next().expect("nine int columns");
    let mut text = || texts.next().expect("eight text columns");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(kind.finish()),
        Arc::new(time.finish()),
        int(),  // person_id
        text(), // name
        text(), // email
        text(), // credit_card
        text(), // city
        text(), // state
        int(),  // auction_id
        text(), // item_name
        int(),  // initial_bid
        int(),  // reserve
        Arc::new(expires.finish()),
        int(),  // seller
        int(),  // category
        int(),  // auction
        int(),  // bidder
        int(),  // price
        text(), // channel
        text(), // url
    ];
    RecordBatch::try_new(schema(), columns).expect("columns match the schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fifty_events_hold_one_person_three_auctions_and_forty_six_bids() {
        let kinds: Vec<&str> = (0..5000)
            .map(|n| match event(7, n) {
                Event::Person { .. } => "person",
                Event::Auction { .. } => "auction",
                Event::Bid { .. } => "bid",
            })
            .collect();
        for chunk in kinds.chunks(50) {
            let count = |k| chunk.iter().filter(|&&c| c == k).count();
            assert_eq!(
                (count("person"), count("auction"), count("bid")),
                (1, 3, 46)
            );
        }
    }

    #[test]
    fn ids_count_up_and_references_point_at_what_exists() {
        let (mut people, mut auctions) = (Vec::new(), Vec::new());
        for n in 0..20_000 {
            match event(3, n) {
                Event::Person { id, .. } => people.push(id),
                Event::Auction {
                    id,
                    seller,
                    category,
                    ..
                } => {
                    assert!(people.contains(&seller), "event {n}: seller {seller}");
                    assert!((FIRST_CATEGORY_ID..FIRST_CATEGORY_ID + 5).contains(&category));
                    auctions.push(id);
                }
                Event::Bid {
                    auction,
                    bidder,
                    price,
                    ..
                } => {
                    assert!(auctions.contains(&auction), "event {n}: auction {auction}");
                    assert!(people.contains(&bidder), "event {n}: bidder {bidder}");
                    assert!((100..=100_000_000).contains(&price), "{price}");
                }
            }
        }
        let expected: Vec<i64> = (0..people.len() as i64)
            .map(|i| FIRST_PERSON_ID + i)
            .collect();
        assert_eq!(people, expected);
        let expected: Vec<i64> = (0..auctions.len() as i64)
            .map(|i| FIRST_AUCTION_ID + i)
            .collect();
        assert_eq!(auctions, expected);
    }

    #[test]
    fn batches_hold_the_events_and_are_the_same_however_they_are_cut() {
        let whole = rows(1, 0, 10, 0, 500);
        assert_eq!(whole.num_rows(), 500);
        assert_eq!(whole.schema(), schema());
        assert_eq!(whole.slice(0, 123), rows(1, 0, 10, 0, 123));
        assert_eq!(whole.slice(123, 377), rows(1, 0, 10, 123, 377));
    }
}
