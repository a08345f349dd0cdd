//! How columns flow through a transform, from the plan its plugin answered
//! at open: what lineage and classifications follow.
//!
//! - Derived output: a column taken from the input (`input(n)`, renamed or
//!   not) is that column; a column the plugin appends is computed from
//!   every column it reads. With nothing appended, the columns it reads
//!   only decide which rows go on (a filter's predicate).
//! - Whole batches: an output column named like a column the plugin reads
//!   is that column (a join's or a window's passed-on key); any other is
//!   computed from every column it reads. Columns read and not passed on
//!   decide which rows go on (a join's keys).

use arrow::datatypes::Schema;

use super::ColumnPlan;
use crate::plugin::ColumnSource;

/// Where one output column of a transform comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Input column `n`, the same values (perhaps renamed).
    Passed(usize),
    /// Computed from these input columns.
    Computed(Vec<usize>),
}

/// How a transform's columns flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flows {
    /// Per output column.
    pub columns: Vec<Flow>,
    /// Input columns read only to decide which rows go on.
    pub deciding: Vec<usize>,
}

/// The flows of a transform with `plan`, from `input` to `output`.
pub fn flows(plan: &ColumnPlan, input: &Schema, output: &Schema) -> Flows {
    let reads: Vec<usize> = match &plan.reads {
        Some(reads) => reads.clone(),
        None => (0..input.fields().len()).collect(),
    };
    let (columns, used): (Vec<Flow>, Vec<usize>) = match &plan.layout {
        Some(layout) => {
            let columns: Vec<Flow> = layout
                .iter()
                .map(|source| match source {
                    ColumnSource::Input(i) => Flow::Passed(*i),
                    ColumnSource::Appended(_) => Flow::Computed(reads.clone()),
                })
                .collect();
            let appends = columns.iter().any(|f| matches!(f, Flow::Computed(_)));
            let used = if appends { reads.clone() } else { Vec::new() };
            (columns, used)
        }
        None => {
            let mut used = Vec::new();
            let columns = output
                .fields()
                .iter()
                .map(|field| {
                    let same = reads
                        .iter()
                        .copied()
                        .find(|&i| input.field(i).name() == field.name());
                    match same {
                        Some(i) => {
                            used.push(i);
                            Flow::Passed(i)
                        }
                        None => {
                            used.extend(&reads);
                            Flow::Computed(reads.clone())
                        }
                    }
                })
                .collect();
            (columns, used)
        }
    };
    let deciding = reads.into_iter().filter(|i| !used.contains(i)).collect();
    Flows { columns, deciding }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field};

    fn schema(names: &[&str]) -> Schema {
        Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn derived_output_passes_renames_and_computes_appended_columns_from_what_it_reads() {
        let plan = ColumnPlan {
            reads: Some(vec![1, 2]),
            layout: Some(vec![ColumnSource::Input(0), ColumnSource::Appended(0)]),
            bounds: Vec::new(),
        };
        let flows = flows(
            &plan,
            &schema(&["a", "b", "c"]),
            &schema(&["renamed", "sum"]),
        );
        assert_eq!(flows.columns, [Flow::Passed(0), Flow::Computed(vec![1, 2])]);
        assert!(flows.deciding.is_empty());
    }

    #[test]
    fn a_selection_reads_its_columns_only_to_decide_which_rows_go_on() {
        let plan = ColumnPlan {
            reads: Some(vec![2]),
            layout: Some(vec![ColumnSource::Input(0), ColumnSource::Input(1)]),
            bounds: Vec::new(),
        };
        let flows = flows(&plan, &schema(&["a", "b", "c"]), &schema(&["a", "b"]));
        assert_eq!(flows.columns, [Flow::Passed(0), Flow::Passed(1)]);
        assert_eq!(flows.deciding, [2]);
    }

    #[test]
    fn whole_batches_pass_columns_by_name_and_compute_the_others_from_all_reads() {
        let plan = ColumnPlan {
            reads: None,
            layout: None,
            bounds: Vec::new(),
        };
        let flows = flows(&plan, &schema(&["key", "v"]), &schema(&["key", "copy"]));
        assert_eq!(flows.columns, [Flow::Passed(0), Flow::Computed(vec![0, 1])]);
        assert!(flows.deciding.is_empty());
    }
}
