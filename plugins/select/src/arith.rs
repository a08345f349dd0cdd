//! Arithmetic expressions for computed columns: `+ - * /` and parentheses
//! over numeric columns and numbers, evaluated with arrow's numeric kernels.
//! Integer columns stay integers; mixing integers and floats computes in
//! float64. Integer overflow and division by zero are errors for the batch.

use std::sync::Arc;

use arrow_arith::numeric;
use arrow_array::{ArrayRef, Datum, Float64Array, Int64Array, RecordBatch, Scalar};
use arrow_cast::cast;
use arrow_schema::{DataType, Schema, SchemaRef};
use weir_sdk::Result;

/// An arithmetic expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A column by name (`index` is set by [`Expr::bind`]).
    Column { name: String, index: usize },
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A binary operation.
    Binary(Box<Expr>, char, Box<Expr>),
}

/// Parses `a * (b + 2)`.
pub fn parse(text: &str) -> std::result::Result<Expr, String> {
    let tokens: Vec<(usize, String)> = tokenize(text)?;
    let mut pos = 0;
    let expr = sum(&tokens, &mut pos, text.len())?;
    match tokens.get(pos) {
        None => Ok(expr),
        Some((offset, t)) => Err(format!("at offset {offset}: unexpected {t:?}")),
    }
}

fn tokenize(text: &str) -> std::result::Result<Vec<(usize, String)>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (offset, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            tokens.push((offset, c.to_string()));
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].1.is_ascii_alphanumeric() || chars[i].1 == '_' || chars[i].1 == '.')
            {
                i += 1;
            }
            tokens.push((offset, chars[start..i].iter().map(|(_, c)| c).collect()));
        } else {
            return Err(format!("at offset {offset}: unexpected character {c:?}"));
        }
    }
    Ok(tokens)
}

fn sum(
    tokens: &[(usize, String)],
    pos: &mut usize,
    end: usize,
) -> std::result::Result<Expr, String> {
    let mut left = product(tokens, pos, end)?;
    while let Some((_, op)) = tokens.get(*pos).filter(|(_, t)| t == "+" || t == "-") {
        *pos += 1;
        let op = op.chars().next().unwrap();
        left = Expr::Binary(Box::new(left), op, Box::new(product(tokens, pos, end)?));
    }
    Ok(left)
}

fn product(
    tokens: &[(usize, String)],
    pos: &mut usize,
    end: usize,
) -> std::result::Result<Expr, String> {
    let mut left = atom(tokens, pos, end)?;
    while let Some((_, op)) = tokens.get(*pos).filter(|(_, t)| t == "*" || t == "/") {
        *pos += 1;
        let op = op.chars().next().unwrap();
        left = Expr::Binary(Box::new(left), op, Box::new(atom(tokens, pos, end)?));
    }
    Ok(left)
}

fn atom(
    tokens: &[(usize, String)],
    pos: &mut usize,
    end: usize,
) -> std::result::Result<Expr, String> {
    let Some((offset, token)) = tokens.get(*pos) else {
        return Err(format!("at offset {end}: expected a column or number"));
    };
    *pos += 1;
    if token == "(" {
        let inner = sum(tokens, pos, end)?;
        return match tokens.get(*pos) {
            Some((_, t)) if t == ")" => {
                *pos += 1;
                Ok(inner)
            }
            _ => Err(format!("at offset {offset}: unclosed `(`")),
        };
    }
    if token.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return token
            .parse::<i64>()
            .map(Expr::Int)
            .or_else(|_| token.parse::<f64>().map(Expr::Float))
            .map_err(|_| format!("at offset {offset}: invalid number {token:?}"));
    }
    if token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Ok(Expr::Column {
            name: token.clone(),
            index: 0,
        });
    }
    Err(format!(
        "at offset {offset}: expected a column or number, found {token:?}"
    ))
}

impl Expr {
    /// The columns the expression reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Expr::Column { name, .. } => vec![name],
            Expr::Binary(a, _, b) => [a.columns(), b.columns()].concat(),
            _ => vec![],
        }
    }

    /// Checks columns exist and are numeric; returns the result type.
    pub fn check(&self, schema: &Schema) -> std::result::Result<DataType, String> {
        match self {
            Expr::Column { name, .. } => {
                let field = schema
                    .field_with_name(name)
                    .map_err(|_| format!("unknown column {name:?}"))?;
                match field.data_type() {
                    t if t.is_integer() => Ok(DataType::Int64),
                    t if t.is_floating() => Ok(DataType::Float64),
                    t => Err(format!("column {name:?} is {t}, not a number")),
                }
            }
            Expr::Int(_) => Ok(DataType::Int64),
            Expr::Float(_) => Ok(DataType::Float64),
            Expr::Binary(a, _, b) => Ok(match (a.check(schema)?, b.check(schema)?) {
                (DataType::Int64, DataType::Int64) => DataType::Int64,
                _ => DataType::Float64,
            }),
        }
    }

    /// Resolves column names to indices in `received`.
    pub fn bind(self, received: &SchemaRef) -> Expr {
        match self {
            Expr::Column { name, .. } => {
                let index = received.index_of(&name).expect("checked at open");
                Expr::Column { name, index }
            }
            Expr::Binary(a, op, b) => {
                Expr::Binary(Box::new(a.bind(received)), op, Box::new(b.bind(received)))
            }
            other => other,
        }
    }

    /// Evaluates the expression into one array of `batch.num_rows()` rows.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        let (value, scalar) = self.value(batch)?;
        if scalar {
            let indices = arrow_array::UInt32Array::from(vec![0u32; batch.num_rows()]);
            return Ok(arrow_select::take::take(value.as_ref(), &indices, None)?);
        }
        Ok(value)
    }

    /// The value (Int64 or Float64) and whether it is a one-row scalar.
    fn value(&self, batch: &RecordBatch) -> Result<(ArrayRef, bool)> {
        Ok(match self {
            Expr::Column { index, .. } => {
                let column = batch.column(*index);
                let to = if column.data_type().is_integer() {
                    DataType::Int64
                } else {
                    DataType::Float64
                };
                (cast(column, &to)?, false)
            }
            Expr::Int(v) => (Arc::new(Int64Array::from(vec![*v])), true),
            Expr::Float(v) => (Arc::new(Float64Array::from(vec![*v])), true),
            Expr::Binary(a, op, b) => {
                let (mut l, ls) = a.value(batch)?;
                let (mut r, rs) = b.value(batch)?;
                if l.data_type() != r.data_type() {
                    l = cast(&l, &DataType::Float64)?;
                    r = cast(&r, &DataType::Float64)?;
                }
                let datum = |a: &ArrayRef, s: bool| -> Box<dyn Datum> {
                    if s {
                        Box::new(Scalar::new(a.clone()))
                    } else {
                        Box::new(a.clone())
                    }
                };
                let (ld, rd) = (datum(&l, ls), datum(&r, rs));
                let result = match op {
                    '+' => numeric::add(ld.as_ref(), rd.as_ref())?,
                    '-' => numeric::sub(ld.as_ref(), rd.as_ref())?,
                    '*' => numeric::mul(ld.as_ref(), rd.as_ref())?,
                    _ => numeric::div(ld.as_ref(), rd.as_ref())?,
                };
                (result, ls && rs)
            }
        })
    }
}
