//! Parsing a plugin's configuration with errors that name the field.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses the JSON configuration text into `C`. Errors name the path of the
/// offending field, e.g. `field "predicate": invalid type: integer, expected a string`.
pub fn parse<C: DeserializeOwned>(text: &str) -> Result<C> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match path.as_str() {
            "." => Error::invalid_config(inner),
            _ => Error::invalid_config(format!("field \"{path}\": {inner}")),
        }
    })
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
        assert!(parse::<Config>("").unwrap_err().message().contains("limit"));
    }
}
