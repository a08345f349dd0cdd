//! Dead-letter budgets (`max_dead_letters`, of the pipeline and of each
//! node): how many rows a run may send to the dead letters and still count
//! as done. A run past one has done its work badly: `weir run` exits 3.

use std::fmt;

use super::Summary;
use crate::Kind;
use crate::graph::Graph;
use crate::spec::DeadLetterBudget;

/// A budget a run went past.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetBreach {
    /// The node whose budget it is; `None` for the pipeline's.
    pub node: Option<String>,
    /// The budget.
    pub budget: DeadLetterBudget,
    /// Dead letters counted against it.
    pub letters: u64,
    /// Rows they are counted out of: the node's input, or every row the
    /// sources read.
    pub rows: u64,
}

impl fmt::Display for BudgetBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "node {node:?}")?,
            None => write!(f, "the pipeline")?,
        }
        let share = match self.rows {
            0 => 0.0,
            rows => self.letters as f64 * 100.0 / rows as f64,
        };
        write!(
            f,
            " sent {} of {} rows ({share:.2}%) to the dead letters, past its max_dead_letters: {}",
            self.letters, self.rows, self.budget
        )
    }
}

/// The budgets of `graph`'s pipeline and nodes that the run `summary`
/// describes went past.
pub fn breaches(graph: &Graph, summary: &Summary) -> Vec<BudgetBreach> {
    let mut breaches = Vec::new();
    if let Some(budget) = graph.pipeline.max_dead_letters {
        let letters = summary.nodes.iter().map(|n| n.dead_letters).sum();
        let rows = summary
            .nodes
            .iter()
            .filter(|n| n.kind == Kind::Source)
            .map(|n| n.rows_in)
            .sum();
        if budget.exceeded(letters, rows) {
            breaches.push(BudgetBreach {
                node: None,
                budget,
                letters,
                rows,
            });
        }
    }
    for node in &graph.nodes {
        let (Some(budget), Some(done)) = (node.spec.max_dead_letters, summary.node(&node.name))
        else {
            continue;
        };
        if budget.exceeded(done.dead_letters, done.rows_in) {
            breaches.push(BudgetBreach {
                node: Some(node.name.clone()),
                budget,
                letters: done.dead_letters,
                rows: done.rows_in,
            });
        }
    }
    breaches
}
