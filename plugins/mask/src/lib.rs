//! `mask`: masks sensitive columns (PII) in place.
//!
//! Configuration: `columns`, a map from column name to a method:
//!
//! | method | fields | result for `"4111111111111111"` |
//! | --- | --- | --- |
//! | `redact` | `replacement` (default `"****"`) | `"****"` |
//! | `hash` | `salt` (required) | hex SHA-256 of salt + value: equal inputs stay joinable, values are not readable |
//! | `partial` | `keep_last` (default 4), `keep_first` (default 0), `mask_char` (default `*`) | `"************1111"` |
//!
//! Example: `{"columns": {"email": {"method": "hash", "salt": "${MASK_SALT}"}, "card": {"method": "partial"}}}`.
//!
//! Masked columns become `utf8` (other types are cast to text first); nulls
//! stay null. Only the masked columns cross into the plugin; the host passes
//! the others through.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, SchemaRef};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Column name → masking method.
    pub columns: BTreeMap<String, Method>,
}

/// How a column is masked.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Method {
    /// Replace every non-null value.
    Redact {
        /// The replacement text.
        #[serde(default = "default_replacement")]
        replacement: String,
    },
    /// Salted SHA-256, hex encoded.
    Hash {
        /// The salt, prepended to each value.
        salt: String,
    },
    /// Keep the first/last characters, mask the rest.
    Partial {
        /// Characters kept at the end.
        #[serde(default = "default_keep_last")]
        keep_last: usize,
        /// Characters kept at the start.
        #[serde(default)]
        keep_first: usize,
        /// The masking character.
        #[serde(default = "default_mask_char")]
        mask_char: char,
    },
}

fn default_replacement() -> String {
    "****".into()
}
fn default_keep_last() -> usize {
    4
}
fn default_mask_char() -> char {
    '*'
}

impl Method {
    /// Masks one value.
    pub fn apply(&self, value: &str) -> String {
        let mut out = String::new();
        self.apply_into(value, &mut out);
        out
    }

    /// Masks one value into `out` (cleared first), so a batch reuses one buffer.
    fn apply_into(&self, value: &str, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.clear();
        match self {
            Method::Redact { replacement } => out.push_str(replacement),
            Method::Hash { salt } => {
                let digest = Sha256::new()
                    .chain_update(salt.as_bytes())
                    .chain_update(value.as_bytes())
                    .finalize();
                for b in digest {
                    out.push(HEX[usize::from(b >> 4)] as char);
                    out.push(HEX[usize::from(b & 0xf)] as char);
                }
            }
            Method::Partial {
                keep_last,
                keep_first,
                mask_char,
            } => {
                let n = value.chars().count();
                let masked = |(i, c)| {
                    if i < *keep_first || i + keep_last >= n {
                        c
                    } else {
                        *mask_char
                    }
                };
                out.extend(value.chars().enumerate().map(masked));
            }
        }
    }
}

/// The running transform.
pub struct Mask {
    /// Method per received column, in received order.
    methods: Vec<Method>,
}

impl Transform for Mask {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        if config.columns.is_empty() {
            return Err(Error::invalid_config(
                "field \"columns\": name at least one column to mask",
            ));
        }
        let mut targets = Vec::new();
        for (name, method) in &config.columns {
            let index = weir_sdk::config::column(input, name, &format!("columns.{name}"))?;
            let data_type = input.field(index).data_type();
            if !arrow_cast::can_cast_types(data_type, &DataType::Utf8) {
                return Err(Error::invalid_config(format!(
                    "field \"columns.{name}\": cannot mask a {data_type} column"
                )));
            }
            if let Method::Hash { salt } = method
                && salt.is_empty()
            {
                return Err(Error::invalid_config(format!(
                    "field \"columns.{name}.salt\": must not be empty"
                )));
            }
            targets.push((index, method.clone()));
        }
        targets.sort_by_key(|(i, _)| *i);
        let layout = targets.iter().fold(Layout::all(input), |layout, (i, _)| {
            let field = input.field(*i);
            layout.replace(
                *i,
                Field::new(field.name(), DataType::Utf8, field.is_nullable()),
            )
        });
        let plan = Plan::derived(layout).reading(targets.iter().map(|(i, _)| *i));
        Ok((
            Mask {
                methods: targets.into_iter().map(|(_, m)| m).collect(),
            },
            plan,
        ))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let columns = self
            .methods
            .iter()
            .zip(batch.columns())
            .map(|(method, column)| {
                let text = cast(column, &DataType::Utf8)?;
                let text = text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to utf8");
                let mut masked = StringBuilder::with_capacity(text.len(), text.value_data().len());
                let mut buffer = String::new();
                for value in text.iter() {
                    match value {
                        Some(value) => {
                            method.apply_into(value, &mut buffer);
                            masked.append_value(&buffer);
                        }
                        None => masked.append_null(),
                    }
                }
                Ok(Arc::new(masked.finish()) as ArrayRef)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Output::keep_all().with_appended(columns))
    }
}

weir_sdk::export_transform!(Mask);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        let partial = Method::Partial {
            keep_last: 4,
            keep_first: 1,
            mask_char: '#',
        };
        assert_eq!(partial.apply("4111111111111111"), "4###########1111");
        assert_eq!(partial.apply("abc"), "abc");
        let hash = Method::Hash { salt: "s".into() };
        assert_eq!(hash.apply("x"), hash.apply("x"));
        assert_ne!(
            hash.apply("x"),
            Method::Hash { salt: "t".into() }.apply("x")
        );
        assert_eq!(hash.apply("x").len(), 64);
    }
}
