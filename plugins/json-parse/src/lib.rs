//! `json-parse`: parses a utf8 column of JSON objects into typed columns.
//!
//! Configuration:
//!
//! | field | meaning | example |
//! | --- | --- | --- |
//! | `column` | the utf8 input column holding one JSON object per row | `"payload"` |
//! | `fields` | the columns to extract: `name`, `type` (see below), optional `path` (dotted, default `name`) and `required` (default `false`) | `[{"name": "user_id", "type": "int64", "required": true}, {"name": "page", "type": "utf8"}, {"name": "ts", "type": "timestamp[ms]", "path": "meta.time"}]` |
//! | `keep_source` | keep the JSON column in the output | `false` |
//!
//! Types: `bool`, `int32`, `int64`, `float64`, `utf8` (objects and arrays
//! are kept as JSON text), `date32` (`"2026-11-25"`) and `timestamp[s|ms|us|ns]`
//! (RFC 3339 text, or a number in the column's unit).
//!
//! A row whose text is not a JSON object, whose value has the wrong type, or
//! that lacks a required field is *rejected*: it goes to the node's dead
//! letters with a message naming the row's field, and the rest of the batch
//! continues. Missing optional fields and JSON `null` become nulls.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::types::Date32Type;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_cast::parse::{Parser, string_to_timestamp_nanos};
use arrow_schema::{DataType, Field, SchemaRef, TimeUnit};
use serde::Deserialize;
use serde_json::Value;
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The JSON text column.
    pub column: String,
    /// The fields to extract.
    pub fields: Vec<FieldSpec>,
    /// Keep the JSON column in the output.
    #[serde(default)]
    pub keep_source: bool,
}

/// One extracted field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Output column name.
    pub name: String,
    /// Output type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Dotted path in the object (default: `name`).
    pub path: Option<String>,
    /// Reject rows where it is missing or null.
    #[serde(default)]
    pub required: bool,
}

struct Extract {
    name: String,
    path: Vec<String>,
    data_type: DataType,
    required: bool,
}

/// A value converted for one field.
enum Parsed {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Extract {
    fn parse(&self, object: &Value) -> std::result::Result<Parsed, String> {
        let value = self.path.iter().try_fold(object, |v, key| v.get(key));
        let value = match value {
            None | Some(Value::Null) if self.required => {
                return Err(format!("field {:?}: required but missing", self.name));
            }
            None | Some(Value::Null) => return Ok(Parsed::Null),
            Some(v) => v,
        };
        let wrong = || {
            format!(
                "field {:?}: expected {}, found {}",
                self.name,
                self.data_type,
                kind(value)
            )
        };
        Ok(match &self.data_type {
            DataType::Boolean => Parsed::Bool(value.as_bool().ok_or_else(wrong)?),
            DataType::Int32 => {
                let v = value.as_i64().ok_or_else(wrong)?;
                i32::try_from(v)
                    .map_err(|_| format!("field {:?}: {v} does not fit int32", self.name))?;
                Parsed::Int(v)
            }
            DataType::Int64 => Parsed::Int(value.as_i64().ok_or_else(wrong)?),
            DataType::Float64 => Parsed::Float(value.as_f64().ok_or_else(wrong)?),
            DataType::Utf8 => Parsed::Text(match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            DataType::Date32 => {
                let text = value.as_str().ok_or_else(wrong)?;
                Parsed::Int(
                    Date32Type::parse(text)
                        .ok_or_else(|| format!("field {:?}: {text:?} is not a date", self.name))?
                        as i64,
                )
            }
            DataType::Timestamp(unit, _) => match value {
                Value::Number(n) => Parsed::Int(n.as_i64().ok_or_else(wrong)?),
                Value::String(s) => {
                    let nanos = string_to_timestamp_nanos(s)
                        .map_err(|_| format!("field {:?}: {s:?} is not a timestamp", self.name))?;
                    Parsed::Int(match unit {
                        TimeUnit::Second => nanos / 1_000_000_000,
                        TimeUnit::Millisecond => nanos / 1_000_000,
                        TimeUnit::Microsecond => nanos / 1_000,
                        TimeUnit::Nanosecond => nanos,
                    })
                }
                _ => return Err(wrong()),
            },
            other => {
                return Err(format!(
                    "field {:?}: type {other} is not supported",
                    self.name
                ));
            }
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds one output column from parsed values.
fn build(data_type: &DataType, values: &[Parsed]) -> Result<ArrayRef> {
    let int = |p: &Parsed| match p {
        Parsed::Int(v) => Some(*v),
        _ => None,
    };
    Ok(match data_type {
        DataType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            values.iter().for_each(|p| {
                b.append_option(if let Parsed::Bool(v) = p {
                    Some(*v)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Int32 => {
            let mut b = Int32Builder::with_capacity(values.len());
            values
                .iter()
                .for_each(|p| b.append_option(int(p).map(|v| v as i32)));
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(values.len());
            values.iter().for_each(|p| {
                b.append_option(if let Parsed::Float(v) = p {
                    Some(*v)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            values.iter().for_each(|p| {
                b.append_option(if let Parsed::Text(v) = p {
                    Some(v)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Date32 => {
            let mut b = Date32Builder::with_capacity(values.len());
            values
                .iter()
                .for_each(|p| b.append_option(int(p).map(|v| v as i32)));
            Arc::new(b.finish())
        }
        _ => {
            // Int64 and timestamps: build i64, then reinterpret.
            let mut b = Int64Builder::with_capacity(values.len());
            values.iter().for_each(|p| b.append_option(int(p)));
            let array: ArrayRef = Arc::new(b.finish());
            arrow_cast::cast(&array, data_type)?
        }
    })
}

/// The running transform.
pub struct JsonParse {
    extracts: Vec<Extract>,
}

impl Transform for JsonParse {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let source = weir_sdk::config::column(input, &config.column, "column")?;
        if !matches!(
            input.field(source).data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(Error::invalid_config(format!(
                "field \"column\": {:?} is {}, not text",
                config.column,
                input.field(source).data_type()
            )));
        }
        if config.fields.is_empty() {
            return Err(Error::invalid_config(
                "field \"fields\": declare at least one field",
            ));
        }
        let extracts = config
            .fields
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let data_type = weir_sdk::config::data_type(&f.data_type)
                    .map_err(|e| e.context(format!("field \"fields[{n}].type\"")))?;
                let supported = matches!(
                    data_type,
                    DataType::Boolean
                        | DataType::Int32
                        | DataType::Int64
                        | DataType::Float64
                        | DataType::Utf8
                        | DataType::Date32
                        | DataType::Timestamp(..)
                );
                if !supported {
                    return Err(Error::invalid_config(format!(
                        "field \"fields[{n}].type\": {data_type} is not supported by json-parse"
                    )));
                }
                let path = f
                    .path
                    .as_deref()
                    .unwrap_or(&f.name)
                    .split('.')
                    .map(str::to_string)
                    .collect();
                Ok(Extract {
                    name: f.name.clone(),
                    path,
                    data_type,
                    required: f.required,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut layout = Layout::new(input);
        for i in (0..input.fields().len()).filter(|&i| i != source || config.keep_source) {
            layout = layout.input(i);
        }
        for e in &extracts {
            layout = layout.append(Field::new(&e.name, e.data_type.clone(), !e.required));
        }
        Ok((
            JsonParse { extracts },
            Plan::derived(layout).reading([source]),
        ))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let text = arrow_cast::cast(batch.column(0), &DataType::Utf8)?;
        let text = text.as_any().downcast_ref::<StringArray>().expect("utf8");
        let mut keep = Vec::with_capacity(text.len());
        let mut columns: Vec<Vec<Parsed>> = self
            .extracts
            .iter()
            .map(|_| Vec::with_capacity(text.len()))
            .collect();
        let mut rejected = Vec::new();
        for row in 0..text.len() {
            let parsed = self.parse_row(text.is_valid(row).then(|| text.value(row)));
            match parsed {
                Ok(values) => {
                    keep.push(true);
                    columns.iter_mut().zip(values).for_each(|(c, v)| c.push(v));
                }
                Err(message) => {
                    keep.push(false);
                    rejected.push((row, message));
                }
            }
        }
        let appended = self
            .extracts
            .iter()
            .zip(&columns)
            .map(|(e, values)| build(&e.data_type, values))
            .collect::<Result<Vec<_>>>()?;
        Ok(Output::select(&BooleanArray::from(keep))
            .with_appended(appended)
            .reject_all(rejected))
    }
}

impl JsonParse {
    fn parse_row(&self, text: Option<&str>) -> std::result::Result<Vec<Parsed>, String> {
        let text = text.ok_or("the JSON column is null")?;
        let object: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if !object.is_object() {
            return Err(format!("expected a JSON object, found {}", kind(&object)));
        }
        self.extracts.iter().map(|e| e.parse(&object)).collect()
    }
}

weir_sdk::export_transform!(JsonParse);
