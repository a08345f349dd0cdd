//! Parsing a plugin's configuration with errors that name the field.

use arrow_schema::DataType;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses the JSON configuration text into `C`. Errors name the path of the
/// offending field, e.g. `field "predicate": invalid type: integer, expected a string`.
pub fn parse<C: DeserializeOwned>(text: &str) -> Result<C> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        // serde_json's position is in the JSON text the host made of the
        // pipeline file's config: no use to a user, who is shown the file's.
        let inner = error.into_inner();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        let inner = inner.to_string();
        let inner = inner.strip_suffix(&position).unwrap_or(&inner);
        match path.as_str() {
            "." => Error::invalid_config(inner),
            _ => Error::invalid_config(format!("field \"{path}\": {inner}")),
        }
    })
}

/// The index of input column `name`, named by configuration field `field`
/// (e.g. `keys[0]`). The error names the field and lists the input's columns.
pub fn column(input: &arrow_schema::Schema, name: &str, field: &str) -> Result<usize> {
    input.index_of(name).map_err(|_| {
        let names: Vec<&str> = input.fields().iter().map(|f| f.name().as_str()).collect();
        Error::invalid_config(format!(
            "field \"{field}\": unknown input column {name:?}; the input has {}",
            names.join(", ")
        ))
    })
}

/// Parses the type names used in plugin configurations: `bool`, `int8` ..
/// `int64`, `uint8` .. `uint64`, `float32`, `float64`, `utf8` (or `string`),
/// `binary`, `date32`, and `timestamp[s|ms|us|ns]` (UTC). The host's
/// pipeline files use the same names.
pub fn data_type(name: &str) -> Result<DataType> {
    weir_ipc::data_type(name).map_err(Error::invalid_config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        limit: u32,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        name: String,
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse::<Config>(r#"{"limit": 1, "nested": {"name": 3}}"#).unwrap_err();
        assert!(err.message().starts_with("field \"nested.name\""), "{err}");
        let err = parse::<Config>(r#"{"limit": 1, "typo": 2}"#).unwrap_err();
        assert!(err.message().contains("typo"), "{err}");
        // The position is in the JSON text the host made, not the user's file.
        assert!(!err.message().contains("at line"), "{err}");
        assert!(parse::<Config>("").unwrap_err().message().contains("limit"));
    }

    #[test]
    fn unknown_columns_name_the_field_and_the_choices() {
        let schema =
            arrow_schema::Schema::new(vec![arrow_schema::Field::new("a", DataType::Int64, true)]);
        assert_eq!(column(&schema, "a", "x").unwrap(), 0);
        let err = column(&schema, "b", "keys[1]").unwrap_err();
        assert_eq!(
            err.message(),
            "field \"keys[1]\": unknown input column \"b\"; the input has a"
        );
    }

    #[test]
    fn type_names() {
        assert_eq!(data_type("Int64").unwrap(), DataType::Int64);
        assert!(matches!(
            data_type("timestamp[us]").unwrap(),
            DataType::Timestamp(..)
        ));
        assert!(data_type("int65").unwrap_err().message().contains("int65"));
    }
}
