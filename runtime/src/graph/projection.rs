//! Which output columns of each node its consumers take, so that a source
//! able to read fewer columns (Parquet files) decodes only those.
//!
//! A sink takes every column it receives. A transform whose plugin said at
//! open which columns it reads takes those, the input columns its derived
//! output passes on (its config names them, so it is given them even when
//! nothing after it looks at them) and the column its event time is read
//! from; one that reads everything takes everything.

use std::collections::BTreeSet;

use super::{ColumnPlan, Node};
use crate::kind::Kind;
use crate::plugin::ColumnSource;

/// Per node, the indices of its output columns some consumer takes; empty
/// for sinks.
pub(crate) fn used_columns(nodes: &[Node]) -> Vec<BTreeSet<usize>> {
    let mut used: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for node in nodes {
        let Some(input) = &node.input_schema else {
            continue;
        };
        let taken: BTreeSet<usize> = match (node.kind(), &node.columns) {
            (
                Kind::Transform,
                Some(ColumnPlan {
                    reads: Some(reads),
                    layout,
                    ..
                }),
            ) => {
                let passed = layout.iter().flatten().filter_map(|source| match source {
                    ColumnSource::Input(p) => Some(*p),
                    ColumnSource::Appended(_) => None,
                });
                reads
                    .iter()
                    .copied()
                    .chain(passed)
                    .chain(node.event_time)
                    .collect()
            }
            _ => (0..input.fields().len()).collect(),
        };
        for &j in &node.inputs {
            used[j].extend(&taken);
        }
    }
    used
}
