//! `select`: projects, renames, casts and adds columns.
//!
//! Configuration: `columns`, the output columns in order, each one of
//!
//! | form | meaning |
//! | --- | --- |
//! | `{"name": "*"}` | every input column, unchanged, in input order |
//! | `{"name": "id"}` | input column `id`, unchanged |
//! | `{"name": "user", "from": "user_id"}` | input column `user_id`, renamed |
//! | `{"name": "amount", "cast": "float64"}` | input column `amount` cast to a type (`from` may rename too) |
//! | `{"name": "source", "value": "web"}` | a constant: string, number or boolean (`cast` sets its type) |
//! | `{"name": "total", "expr": "price * quantity + 1"}` | arithmetic (`+ - * /`, parentheses) over numeric columns and numbers |
//!
//! Output names are unique (`*` plus a new column of an input column's name
//! is refused). Unchanged and renamed columns never cross into the plugin:
//! the host passes them through. A cast that fails for a value (e.g. `"abc"` to
//! `int64`) rejects the batch as invalid input.

mod arith;

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, new_null_array,
};
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::{DataType, Field, SchemaRef};
use serde::Deserialize;
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The output columns, in order.
    pub columns: Vec<ColumnSpec>,
}

/// One output column.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The output name.
    pub name: String,
    /// The input column (default: `name`).
    pub from: Option<String>,
    /// Cast to this type.
    pub cast: Option<String>,
    /// A constant value.
    pub value: Option<serde_json::Value>,
    /// An arithmetic expression.
    pub expr: Option<String>,
}

/// How one appended column is computed from the received batch.
enum Computed {
    Cast(usize, DataType),
    Constant(ArrayRef),
    Expr(arith::Expr),
}

/// The running transform.
pub struct Select {
    computed: Vec<Computed>,
}

fn constant(value: &serde_json::Value, at: &str) -> Result<ArrayRef> {
    Ok(match value {
        serde_json::Value::String(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        serde_json::Value::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Arc::new(Int64Array::from(vec![i])),
            None => Arc::new(Float64Array::from(vec![n.as_f64().unwrap_or(f64::NAN)])),
        },
        serde_json::Value::Null => new_null_array(&DataType::Utf8, 1),
        _ => {
            return Err(Error::invalid_config(format!(
                "{at}: \"value\" must be a string, number, boolean or null"
            )));
        }
    })
}

impl Transform for Select {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        if config.columns.is_empty() {
            return Err(Error::invalid_config(
                "field \"columns\": list at least one column",
            ));
        }
        let index =
            |name: &str, n: usize| weir_sdk::config::column(input, name, &format!("columns[{n}]"));
        let mut layout = Layout::new(input);
        let mut reads = Vec::new();
        // (kind, output field) of each appended column; a cast holds the
        // number of its read until the plan says where that column lands.
        let mut pending: Vec<(Computed, Field)> = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (n, spec) in config.columns.iter().enumerate() {
            let at = format!("field \"columns[{n}]\" ({:?})", spec.name);
            let outputs: Vec<&str> = match spec.name.as_str() {
                "*" => input.fields().iter().map(|f| f.name().as_str()).collect(),
                name => vec![name],
            };
            if let Some(twice) = outputs.iter().find(|name| !names.insert(name.to_string())) {
                return Err(Error::invalid_config(format!(
                    "{at}: the output has column {twice:?} twice; give one of them another name"
                )));
            }
            if spec.name == "*" {
                if spec.from.is_some()
                    || spec.cast.is_some()
                    || spec.value.is_some()
                    || spec.expr.is_some()
                {
                    return Err(Error::invalid_config(format!(
                        "{at}: \"*\" keeps every input column as it is; it takes no \"from\", \"cast\", \"value\" or \"expr\""
                    )));
                }
                for (i, field) in input.fields().iter().enumerate() {
                    layout = layout.input_as(i, field.name());
                }
                continue;
            }
            let cast_to = spec
                .cast
                .as_deref()
                .map(weir_sdk::config::data_type)
                .transpose()
                .map_err(|e| e.context(&at))?;
            let kinds = [
                spec.value.is_some(),
                spec.expr.is_some(),
                spec.from.is_some() || spec.cast.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() > 1
                && !(spec.value.is_some() && spec.expr.is_none() && spec.from.is_none())
            {
                return Err(Error::invalid_config(format!(
                    "{at}: give one of \"from\"/\"cast\", \"value\" or \"expr\""
                )));
            }
            if let Some(value) = &spec.value {
                let mut array = constant(value, &at)?;
                if let Some(to) = &cast_to {
                    array = arrow_cast::cast(&array, to)
                        .map_err(|e| Error::invalid_config(format!("{at}: {e}")))?;
                }
                let field = Field::new(
                    &spec.name,
                    array.data_type().clone(),
                    array.null_count() > 0,
                );
                layout = layout.append(field.clone());
                pending.push((Computed::Constant(array), field));
            } else if let Some(text) = &spec.expr {
                let expr = arith::parse(text)
                    .map_err(|e| Error::invalid_config(format!("{at}: \"expr\" {e}")))?;
                let data_type = expr
                    .check(input)
                    .map_err(|e| Error::invalid_config(format!("{at}: \"expr\" {e}")))?;
                for column in expr.columns() {
                    reads.push(index(column, n)?);
                }
                let field = Field::new(&spec.name, data_type, true);
                layout = layout.append(field.clone());
                pending.push((Computed::Expr(expr), field));
            } else {
                let source = index(spec.from.as_deref().unwrap_or(&spec.name), n)?;
                match cast_to {
                    None => layout = layout.input_as(source, &spec.name),
                    Some(to) => {
                        if !arrow_cast::can_cast_types(input.field(source).data_type(), &to) {
                            return Err(Error::invalid_config(format!(
                                "{at}: cannot cast {} to {to}",
                                input.field(source).data_type()
                            )));
                        }
                        let field =
                            Field::new(&spec.name, to.clone(), input.field(source).is_nullable());
                        layout = layout.append(field.clone());
                        pending.push((Computed::Cast(reads.len(), to), field));
                        reads.push(source);
                    }
                }
            }
        }
        let (plan, positions) = Plan::derived(layout).reading_at(&reads);
        let received = plan.reads().received_schema(input)?;
        let computed = pending
            .into_iter()
            .map(|(c, _)| match c {
                Computed::Cast(read, to) => Computed::Cast(positions[read], to),
                Computed::Expr(e) => Computed::Expr(e.bind(&received)),
                other => other,
            })
            .collect();
        Ok((Select { computed }, plan))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let columns = self
            .computed
            .iter()
            .map(|c| match c {
                Computed::Cast(i, to) => Ok(cast_with_options(batch.column(*i), to, &options)?),
                Computed::Constant(value) => {
                    let indices = arrow_array::UInt32Array::from(vec![0u32; batch.num_rows()]);
                    Ok(arrow_select_take(value, &indices)?)
                }
                Computed::Expr(expr) => expr.evaluate(&batch),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Output::keep_all().with_appended(columns))
    }
}

/// Repeats a one-row constant: `take` with all-zero indices.
fn arrow_select_take(
    value: &ArrayRef,
    indices: &arrow_array::UInt32Array,
) -> std::result::Result<ArrayRef, arrow_schema::ArrowError> {
    arrow_select::take::take(value.as_ref(), indices, None)
}

weir_sdk::export_transform!(Select);
