//! What the filter states of the rows it passes on (`input-bounds`): the
//! conditions of its predicate's top-level `and` that bound one column by
//! literals (`=`, `<`, `<=`, `>`, `>=`, `in`, `is not null`). Anything else
//! (`or`, `not`, `!=`, column against column) states nothing, so the
//! statement is loose, never wrong.

use arrow_schema::{DataType, Schema};
use weir_sdk::{Bound, Condition, Scalar};

use crate::expr::{Expr, Literal, Op};

/// The bounds `predicate` (type-checked against `input`) puts on the rows
/// it keeps.
pub fn bounds(predicate: &Expr, input: &Schema) -> Vec<Bound> {
    let mut found = Vec::new();
    collect(predicate, input, &mut found);
    found
}

fn collect(predicate: &Expr, input: &Schema, found: &mut Vec<Bound>) {
    // Numbers, strings and booleans only: how a literal compares with a
    // date or a timestamp is the predicate's business (text is parsed).
    let mut bound = |name: &str, condition| {
        if let Ok(column) = input.index_of(name)
            && let t = input.field(column).data_type()
            && (t.is_numeric()
                || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Boolean))
        {
            found.push(Bound { column, condition });
        }
    };
    match predicate {
        Expr::And(a, b) => {
            collect(a, input, found);
            collect(b, input, found);
        }
        Expr::Compare(left, op, right) => {
            let (name, op, literal) = match (&**left, &**right) {
                (Expr::Column(name, _), Expr::Literal(literal, _)) => (name, *op, literal),
                (Expr::Literal(literal, _), Expr::Column(name, _)) => {
                    (name, mirrored(*op), literal)
                }
                _ => return,
            };
            let Some(value) = scalar(literal) else {
                return;
            };
            let condition = match op {
                Op::Eq => Condition::OneOf(vec![value]),
                Op::Lt | Op::LtEq => Condition::Between(None, Some(value)),
                Op::Gt | Op::GtEq => Condition::Between(Some(value), None),
                Op::NotEq => return,
            };
            bound(name, condition);
        }
        Expr::IsNull(operand, true) => {
            if let Expr::Column(name, _) = &**operand {
                bound(name, Condition::NotNull);
            }
        }
        Expr::InList(operand, literals, false) => {
            let Expr::Column(name, _) = &**operand else {
                return;
            };
            // A null in the list matches nothing: leave it out.
            let values = literals.iter().filter_map(|(l, _)| scalar(l)).collect();
            bound(name, Condition::OneOf(values));
        }
        _ => {}
    }
}

/// `literal op column` as `column op' literal`.
fn mirrored(op: Op) -> Op {
    match op {
        Op::Lt => Op::Gt,
        Op::LtEq => Op::GtEq,
        Op::Gt => Op::Lt,
        Op::GtEq => Op::LtEq,
        other => other,
    }
}

fn scalar(literal: &Literal) -> Option<Scalar> {
    Some(match literal {
        Literal::Int(i) => Scalar::Int(*i),
        Literal::Float(f) => Scalar::Float(*f),
        Literal::Text(t) => Scalar::Text(t.clone()),
        Literal::Bool(b) => Scalar::Boolean(*b),
        Literal::Null => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    fn bounds_of(predicate: &str) -> Vec<Bound> {
        let input = Schema::new(vec![
            Field::new("auction", DataType::Int64, true),
            Field::new("kind", DataType::Utf8, true),
            Field::new("price", DataType::Float64, true),
        ]);
        bounds(&crate::expr::parse(predicate).unwrap(), &input)
    }

    #[test]
    fn the_conditions_of_the_top_level_and_on_one_column_are_stated() {
        let int = Scalar::Int;
        assert_eq!(
            bounds_of("kind = 'bid' and auction in [1007, 2087] and 10 < price"),
            [
                Bound {
                    column: 1,
                    condition: Condition::OneOf(vec![Scalar::Text("bid".into())])
                },
                Bound {
                    column: 0,
                    condition: Condition::OneOf(vec![int(1007), int(2087)])
                },
                Bound {
                    column: 2,
                    condition: Condition::Between(Some(int(10)), None)
                },
            ]
        );
        assert_eq!(
            bounds_of("price <= 2.5 and kind is not null"),
            [
                Bound {
                    column: 2,
                    condition: Condition::Between(None, Some(Scalar::Float(2.5)))
                },
                Bound {
                    column: 1,
                    condition: Condition::NotNull
                },
            ]
        );
    }

    #[test]
    fn what_cannot_be_said_column_by_column_states_nothing() {
        for predicate in [
            "auction = 1 or kind = 'bid'",
            "not auction = 1",
            "auction != 1",
            "auction not in [1, 2]",
            "kind is null",
            "auction = price",
        ] {
            assert_eq!(bounds_of(predicate), [], "{predicate}");
        }
    }
}
