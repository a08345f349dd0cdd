//! Rows a source may leave unread: what every consumer of the source
//! stated, through the `input-bounds` interface (`wit/input-bounds.wit`),
//! about the rows it can pass on. A source that reads by blocks with
//! statistics (Parquet row groups) skips a block no row of which can meet
//! any consumer's bounds; the consumers still decide about every row read.

/// A value in a bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Integers, dates (days) and timestamps (in the column's unit).
    Int(i64),
    /// Floating point.
    Float(f64),
    /// Strings.
    Text(String),
    /// Booleans.
    Boolean(bool),
}

/// What every row a consumer passes on holds in one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// At least the first, at most the second (inclusive; `None`: open).
    Between(Option<Value>, Option<Value>),
    /// One of these values.
    OneOf(Vec<Value>),
    /// Not null.
    NotNull,
}

/// A condition on a column, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// The column of the source's output.
    pub column: String,
    /// What a row must hold there.
    pub condition: Condition,
}

/// The rows some consumer may pass on: those meeting every bound of at
/// least one of `consumers` (one list per consumer). A row meeting none may
/// be left unread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowFilter {
    /// Per consumer, the bounds its rows meet.
    pub consumers: Vec<Vec<Bound>>,
}

/// What the statistics of a block (a row group) say of one column: its
/// smallest and largest non-null value (`None`: unknown), and whether it
/// holds any.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The smallest value, when known.
    pub min: Option<Value>,
    /// The largest value, when known.
    pub max: Option<Value>,
    /// Whether every value is null.
    pub all_null: bool,
}

impl RowFilter {
    /// Whether a block may be left unread: for every consumer, some bound
    /// cannot be met by any row of the block, by the ranges `range` gives
    /// of its columns (`None`: unknown, may be met).
    pub fn excludes(&self, range: impl Fn(&str) -> Option<Range>) -> bool {
        !self.consumers.is_empty()
            && self.consumers.iter().all(|bounds| {
                bounds.iter().any(|bound| {
                    range(&bound.column).is_some_and(|r| !r.may_meet(&bound.condition))
                })
            })
    }
}

impl Range {
    /// Whether some value in this range may meet `condition`.
    fn may_meet(&self, condition: &Condition) -> bool {
        if self.all_null {
            return false;
        }
        // Unknown (no bound, or types that do not compare): may meet.
        let beyond = |end: &Option<Value>, v: &Value, side: std::cmp::Ordering| {
            end.as_ref()
                .and_then(|end| compare(end, v))
                .is_some_and(|o| o == side)
        };
        let below = |v: &Value| beyond(&self.max, v, std::cmp::Ordering::Less);
        let above = |v: &Value| beyond(&self.min, v, std::cmp::Ordering::Greater);
        match condition {
            Condition::NotNull => true,
            Condition::Between(low, high) => {
                !(low.as_ref().is_some_and(below) || high.as_ref().is_some_and(above))
            }
            Condition::OneOf(values) => values.iter().any(|v| !below(v) && !above(v)),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Boolean(v) => write!(f, "{v}"),
        }
    }
}

/// As messages say it: `>= 500`, `between 1 and 9`, `one of 1007, 2001`,
/// `not null`.
impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Between(Some(low), Some(high)) => write!(f, "between {low} and {high}"),
            Condition::Between(Some(low), None) => write!(f, ">= {low}"),
            Condition::Between(None, Some(high)) => write!(f, "<= {high}"),
            Condition::Between(None, None) => write!(f, "any value"),
            Condition::OneOf(values) => {
                let values: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "one of {}", values.join(", "))
            }
            Condition::NotNull => write!(f, "not null"),
        }
    }
}

/// How `a` compares with `b`, when they compare (numbers with numbers).
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Text(a), Value::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(min: i64, max: i64) -> Option<Range> {
        Some(Range {
            min: Some(Value::Int(min)),
            max: Some(Value::Int(max)),
            all_null: false,
        })
    }

    fn filter(consumers: Vec<Vec<(&str, Condition)>>) -> RowFilter {
        RowFilter {
            consumers: consumers
                .into_iter()
                .map(|bounds| {
                    bounds
                        .into_iter()
                        .map(|(column, condition)| Bound {
                            column: column.into(),
                            condition,
                        })
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn a_block_is_left_unread_only_when_no_consumer_can_pass_a_row_of_it() {
        let auctions = Condition::OneOf(vec![Value::Int(1007), Value::Int(2087)]);
        let q2 = filter(vec![vec![("auction", auctions.clone())]]);
        assert!(
            q2.excludes(|_| ints(3000, 9000)),
            "no listed auction in range"
        );
        assert!(!q2.excludes(|_| ints(2000, 3000)), "2087 may be there");
        assert!(!q2.excludes(|_| None), "no statistics: read it");
        let above = filter(vec![vec![(
            "price",
            Condition::Between(Some(Value::Float(100.5)), None),
        )]]);
        assert!(above.excludes(|_| ints(0, 100)));
        assert!(!above.excludes(|_| ints(0, 101)));
        // Two consumers: a block one of them may want is read.
        let both = filter(vec![
            vec![("auction", auctions)],
            vec![("auction", Condition::NotNull)],
        ]);
        assert!(!both.excludes(|_| ints(3000, 9000)));
        let nulls = Range {
            min: None,
            max: None,
            all_null: true,
        };
        assert!(both.excludes(|_| Some(nulls.clone())));
        // Values of types that do not compare say nothing.
        let text = filter(vec![vec![(
            "auction",
            Condition::OneOf(vec![Value::Text("x".into())]),
        )]]);
        assert!(!text.excludes(|_| ints(0, 1)));
        assert!(
            !RowFilter::default().excludes(|_| ints(0, 1)),
            "no consumer stated anything"
        );
    }
}
