//! `{{name}}`: {{description}}
//!
//! Appends `name_upper`: the `name` column in upper case. Reads only
//! `name`; answers with an appended column, so the other columns never
//! cross the boundary. Configuration: `{"column": "name"}` (the default).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, SchemaRef};
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The plugin's configuration (the node's `config:`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The utf8 column to upper-case.
    #[serde(default = "default_column")]
    pub column: String,
}

fn default_column() -> String {
    "name".into()
}

/// The opened transform: one per node instance.
pub struct Plugin;

impl Transform for Plugin {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let (index, field) = input.column_with_name(&config.column).ok_or_else(|| {
            Error::invalid_config(format!("column: the input has no column {:?}", config.column))
        })?;
        if field.data_type() != &DataType::Utf8 {
            return Err(Error::invalid_config(format!("column: {:?} is not utf8", config.column)));
        }
        let upper = Field::new(format!("{}_upper", config.column), DataType::Utf8, true);
        let plan = Plan::derived(Layout::all(input).append(upper)).reading([index]);
        Ok((Plugin, plan))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let names = batch.column(0).as_any().downcast_ref::<StringArray>().expect("utf8");
        let upper: StringArray = names.iter().map(|n| n.map(str::to_uppercase)).collect();
        Ok(Output::keep_all().with_appended(vec![Arc::new(upper) as ArrayRef]))
    }
}

weir_sdk::export_transform!(Plugin);
