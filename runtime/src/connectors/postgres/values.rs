//! PostgreSQL columns as Arrow: the type of each column (from its type OID
//! and modifier, as the catalog and pgoutput give them) and its values,
//! which both the snapshot and the stream carry in PostgreSQL's text form.

use arrow::array::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Decimal128Type, TimeUnit};

/// How a column's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal { precision: u8, scale: i8 },
    Text,
    Bytes,
    Date,
    Time,
    Timestamp,
    TimestampUtc,
}

/// Why a column or one of its values cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// The column is an array of `element`.
    #[error(
        "is an array ({element}[]); arrays are not read yet: leave the column out of the publication's column list or cast it in a generated column"
    )]
    Array {
        /// The element type's name.
        element: String,
    },
    /// The value is not of the column's type.
    #[error("cannot read {text:?} as {data_type}")]
    Unreadable {
        /// The value as PostgreSQL sent it.
        text: String,
        /// The type it was read as.
        data_type: DataType,
    },
    /// The value is not UTF-8 text.
    #[error("not UTF-8")]
    NotUtf8,
    /// An unchanged large (TOASTed) value PostgreSQL did not send.
    #[error(
        "a large value that did not change, which PostgreSQL did not send: set REPLICA IDENTITY FULL on the table"
    )]
    Unsent,
}

/// The Arrow time zone of `timestamptz` columns (their values are instants).
pub const UTC: &str = "+00:00";

impl Kind {
    /// The kind of a column of type `oid` with modifier `modifier`; an array
    /// type is refused (its name in the error). Types Arrow has no match for
    /// (enums, intervals, network addresses, ...) keep PostgreSQL's text.
    pub fn of(oid: u32, modifier: i32, type_name: &str) -> Result<Self, ValueError> {
        Ok(match oid {
            16 => Self::Bool,
            21 => Self::Int16,
            23 => Self::Int32,
            20 => Self::Int64,
            700 => Self::Float32,
            701 => Self::Float64,
            // numeric(p, s): the modifier is ((p << 16) | s) + 4; a plain
            // `numeric` (-1) has no fixed scale and keeps its text.
            1700 if modifier >= 4 => {
                let precision = ((modifier - 4) >> 16) & 0xffff;
                let scale = (modifier - 4) & 0xffff;
                match u8::try_from(precision) {
                    Ok(p) if p <= 38 => Self::Decimal {
                        precision: p,
                        scale: scale as i8,
                    },
                    _ => Self::Text,
                }
            }
            17 => Self::Bytes,
            1082 => Self::Date,
            1083 => Self::Time,
            1114 => Self::Timestamp,
            1184 => Self::TimestampUtc,
            _ if type_name.starts_with('_') => {
                return Err(ValueError::Array {
                    element: type_name[1..].to_string(),
                });
            }
            _ => Self::Text,
        })
    }

    /// The Arrow type of its values.
    pub fn data_type(self) -> DataType {
        match self {
            Self::Bool => DataType::Boolean,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            Self::Text => DataType::Utf8,
            Self::Bytes => DataType::Binary,
            Self::Date => DataType::Date32,
            Self::Time => DataType::Time64(TimeUnit::Microsecond),
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Self::TimestampUtc => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        }
    }

    /// A builder for `capacity` values.
    pub fn builder(self, capacity: usize) -> Box<dyn ArrayBuilder> {
        match self {
            Self::Bool => Box::new(BooleanBuilder::with_capacity(capacity)),
            Self::Int16 => Box::new(Int16Builder::with_capacity(capacity)),
            Self::Int32 => Box::new(Int32Builder::with_capacity(capacity)),
            Self::Int64 => Box::new(Int64Builder::with_capacity(capacity)),
            Self::Float32 => Box::new(Float32Builder::with_capacity(capacity)),
            Self::Float64 => Box::new(Float64Builder::with_capacity(capacity)),
            Self::Decimal { precision, scale } => Box::new(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(precision, scale)
                    .expect("precision at most 38"),
            ),
            Self::Text => Box::new(StringBuilder::with_capacity(capacity, capacity * 16)),
            Self::Bytes => Box::new(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            Self::Date => Box::new(Date32Builder::with_capacity(capacity)),
            Self::Time => Box::new(Time64MicrosecondBuilder::with_capacity(capacity)),
            Self::Timestamp => Box::new(TimestampMicrosecondBuilder::with_capacity(capacity)),
            Self::TimestampUtc => {
                Box::new(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone(UTC))
            }
        }
    }

    /// `text`, a value in PostgreSQL's text form, read as this kind.
    pub fn parse(self, text: &str) -> Result<Value<'_>, ValueError> {
        let wrong = || ValueError::Unreadable {
            text: text.to_string(),
            data_type: self.data_type(),
        };
        Ok(match self {
            Self::Bool => match text {
                "t" => Value::Bool(true),
                "f" => Value::Bool(false),
                _ => return Err(wrong()),
            },
            Self::Int16 | Self::Int32 | Self::Int64 => {
                Value::Int(text.parse().map_err(|_| wrong())?)
            }
            // Rust reads NaN, Infinity and -Infinity as PostgreSQL writes them.
            Self::Float32 | Self::Float64 => Value::Float(text.parse().map_err(|_| wrong())?),
            Self::Decimal { precision, scale } => Value::Decimal(
                arrow::compute::kernels::cast_utils::parse_decimal::<Decimal128Type>(
                    text, precision, scale,
                )
                .map_err(|_| wrong())?,
            ),
            Self::Text => Value::Text(text),
            Self::Bytes => {
                let hex = text.strip_prefix("\\x").ok_or_else(wrong)?;
                Value::Bytes(decode_hex(hex).ok_or_else(wrong)?)
            }
            Self::Date => {
                let date =
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| wrong())?;
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
                Value::Int((date - epoch).num_days())
            }
            Self::Time => {
                let time =
                    chrono::NaiveTime::parse_from_str(text, "%H:%M:%S%.f").map_err(|_| wrong())?;
                let since_midnight = time - chrono::NaiveTime::MIN;
                Value::Int(since_midnight.num_microseconds().ok_or_else(wrong)?)
            }
            Self::Timestamp => {
                let at = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                    .map_err(|_| wrong())?;
                Value::Int(at.and_utc().timestamp_micros())
            }
            Self::TimestampUtc => {
                let at = chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")
                    .map_err(|_| wrong())?;
                Value::Int(at.timestamp_micros())
            }
        })
    }
}

/// A value read from its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// Integers, days (dates) and microseconds (times, timestamps).
    Int(i64),
    Float(f64),
    Decimal(i128),
    Text(&'a str),
    Bytes(Vec<u8>),
}

/// Appends `value` (read as `kind`) to `builder` (made by `kind`).
pub fn append(kind: Kind, builder: &mut dyn ArrayBuilder, value: &Value<'_>) {
    fn get<B: 'static>(builder: &mut dyn ArrayBuilder) -> &mut B {
        builder
            .as_any_mut()
            .downcast_mut::<B>()
            .expect("the builder of its kind")
    }
    let null = matches!(value, Value::Null);
    macro_rules! put {
        ($builder:ty, $some:expr) => {{
            let builder = get::<$builder>(builder);
            match null {
                true => builder.append_null(),
                false => builder.append_value($some),
            }
        }};
    }
    let int = || match value {
        Value::Int(v) => *v,
        _ => 0,
    };
    let float = || match value {
        Value::Float(v) => *v,
        _ => 0.0,
    };
    match kind {
        Kind::Bool => put!(BooleanBuilder, matches!(value, Value::Bool(true))),
        Kind::Int16 => put!(Int16Builder, int() as i16),
        Kind::Int32 => put!(Int32Builder, int() as i32),
        Kind::Int64 => put!(Int64Builder, int()),
        Kind::Float32 => put!(Float32Builder, float() as f32),
        Kind::Float64 => put!(Float64Builder, float()),
        Kind::Decimal { .. } => put!(
            Decimal128Builder,
            match value {
                Value::Decimal(v) => *v,
                _ => 0,
            }
        ),
        Kind::Text => put!(
            StringBuilder,
            match value {
                Value::Text(v) => v,
                _ => "",
            }
        ),
        Kind::Bytes => put!(
            BinaryBuilder,
            match value {
                Value::Bytes(v) => v.as_slice(),
                _ => &[],
            }
        ),
        Kind::Date => put!(Date32Builder, int() as i32),
        Kind::Time => put!(Time64MicrosecondBuilder, int()),
        Kind::Timestamp | Kind::TimestampUtc => put!(TimestampMicrosecondBuilder, int()),
    }
}

/// The bytes of `hex` (two digits each), or `None` if it is not that.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |d: u8| (d as char).to_digit(16).map(|n| n as u8);
    digits
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_read_as_postgres_writes_them() {
        let decimal = Kind::of(1700, (10 << 16 | 2) + 4, "numeric").unwrap();
        assert_eq!(decimal.data_type(), DataType::Decimal128(10, 2));
        assert_eq!(decimal.parse("-12.5").unwrap(), Value::Decimal(-1250));
        assert_eq!(Kind::of(1700, -1, "numeric").unwrap(), Kind::Text);
        assert_eq!(Kind::Bool.parse("t").unwrap(), Value::Bool(true));
        assert!(Kind::Float64.parse("Infinity").is_ok());
        assert_eq!(
            Kind::Bytes.parse("\\x00ff").unwrap(),
            Value::Bytes(vec![0, 255])
        );
        assert_eq!(Kind::Date.parse("1970-01-02").unwrap(), Value::Int(1));
        assert_eq!(
            Kind::TimestampUtc
                .parse("1970-01-01 01:00:00.5+01")
                .unwrap(),
            Value::Int(500_000)
        );
        assert_eq!(
            Kind::TimestampUtc
                .parse("1970-01-01 00:00:01+05:30")
                .unwrap(),
            Value::Int(1_000_000 - 19_800_000_000)
        );
        assert!(
            Kind::Int32
                .parse("x")
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
        assert!(
            Kind::of(1007, -1, "_int4")
                .unwrap_err()
                .to_string()
                .contains("int4[]")
        );
    }
}
