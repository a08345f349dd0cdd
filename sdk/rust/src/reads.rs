//! The input columns a transform or sink reads, and where each lands in
//! the batches it receives: the host sends only those columns, in input
//! order, each once.

use std::sync::Arc;

use arrow_schema::SchemaRef;

use crate::error::{Error, Result};

/// The input columns a plugin reads (`all` by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads(Option<Vec<usize>>);

impl Reads {
    /// Every input column.
    pub fn all() -> Self {
        Self(None)
    }

    /// `columns` (input indices, in any order, repeats allowed). Answers the
    /// reads and, for each of `columns` in the order given, its position in
    /// the batches the plugin receives: use those positions in `process` or
    /// `write`, never the input indices.
    pub fn of(columns: &[usize]) -> (Self, Vec<usize>) {
        let mut sorted = columns.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let positions = columns
            .iter()
            .map(|c| sorted.partition_point(|s| s < c))
            .collect();
        (Self(Some(sorted)), positions)
    }

    /// The input indices read, ascending; `None` for all.
    pub fn indices(&self) -> Option<&[usize]> {
        self.0.as_deref()
    }

    /// The schema of the batches the plugin receives from `input`.
    pub fn received_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        match &self.0 {
            None => Ok(input.clone()),
            Some(indices) => input
                .project(indices)
                .map(Arc::new)
                .map_err(|e| Error::invalid_config(format!("reads {indices:?}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_columns_as_given_in_the_received_batch() {
        let (reads, positions) = Reads::of(&[7, 2, 7, 4]);
        assert_eq!(reads.indices(), Some(&[2, 4, 7][..]));
        assert_eq!(positions, [2, 0, 2, 1]);
    }
}
