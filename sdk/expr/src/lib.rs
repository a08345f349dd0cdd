//! The predicate language of the `filter` and `expect` plugins: parsing,
//! type checking against the input schema, and evaluation with arrow's
//! comparison and boolean kernels. Its grammar is documented with `filter`
//! (`plugins/filter/src/expr.rs`, in `plugins/REFERENCE.md`).

mod simd;

use std::fmt;
use std::sync::Arc;

use arrow_arith::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Datum, Float64Array, Int64Array, RecordBatch, Scalar,
    StringArray,
};
use arrow_buffer::BooleanBuffer;
use arrow_cast::cast;
use arrow_ord::cmp;
use arrow_schema::{ArrowError, DataType, Schema};

/// A syntax or type error, with the byte offset in the predicate text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// Byte offset of the offending token.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.message)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column, by name, with the offset where it was named.
    Column(String, usize),
    /// A literal.
    Literal(Literal, usize),
    /// `left op right`.
    Compare(Box<Expr>, Op, Box<Expr>),
    /// `expr is null` (or `is not null` when the flag is set).
    IsNull(Box<Expr>, bool),
    /// `expr in [..]` (or `not in` when the flag is set).
    InList(Box<Expr>, Vec<(Literal, usize)>, bool),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `not a`.
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(String),
    Text(String),
    Op(Op),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ExprError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |offset, message: String| ExprError { offset, message };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let two = |s: &str| text[i..].starts_with(s);
        let token = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Token::LParen,
            b')' => Token::RParen,
            b'[' => Token::LBracket,
            b']' => Token::RBracket,
            b',' => Token::Comma,
            _ if two("==") || two("!=") || two("<>") || two("<=") || two(">=") => {
                i += 2;
                let op = match &text[start..i] {
                    "==" => Op::Eq,
                    "<=" => Op::LtEq,
                    ">=" => Op::GtEq,
                    _ => Op::NotEq,
                };
                tokens.push((Token::Op(op), start));
                continue;
            }
            b'=' => Token::Op(Op::Eq),
            b'<' => Token::Op(Op::Lt),
            b'>' => Token::Op(Op::Gt),
            b'\'' | b'"' | b'`' => {
                let end = text[i + 1..]
                    .find(c as char)
                    .ok_or_else(|| err(start, format!("unterminated {}", c as char)))?;
                let inner = text[i + 1..i + 1 + end].to_string();
                i += end + 2;
                tokens.push((
                    if c == b'`' {
                        Token::Ident(inner)
                    } else {
                        Token::Text(inner)
                    },
                    start,
                ));
                continue;
            }
            b'0'..=b'9' | b'-' | b'.' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_')
                {
                    i += 1;
                }
                tokens.push((Token::Number(text[start..i].to_string()), start));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                tokens.push((Token::Ident(text[start..i].to_string()), start));
                continue;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(start, format!("unexpected character {ch:?}")));
            }
        };
        tokens.push((token, start));
        i += 1;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, o)| *o)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            offset: self.offset(),
            message: message.into(),
        })
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), ExprError> {
        if self.peek() == Some(&token) {
            self.pos += 1;
            Ok(())
        } else {
            self.error(format!("expected {what}"))
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ExprError> {
        let left = self.operand()?;
        if let Some(Token::Op(op)) = self.peek() {
            let op = *op;
            self.pos += 1;
            return Ok(Expr::Compare(Box::new(left), op, Box::new(self.operand()?)));
        }
        if self.keyword("is") {
            let negated = self.keyword("not");
            if !self.keyword("null") {
                return self.error("expected `null` after `is`");
            }
            return Ok(Expr::IsNull(Box::new(left), negated));
        }
        let save = self.pos;
        let negated = self.keyword("not");
        if self.keyword("in") {
            self.expect(Token::LBracket, "`[` after `in`")?;
            let mut items = Vec::new();
            loop {
                let offset = self.offset();
                items.push((self.literal()?, offset));
                if self.peek() == Some(&Token::Comma) {
                    self.pos += 1;
                    continue;
                }
                self.expect(Token::RBracket, "`,` or `]` in the list")?;
                break;
            }
            return Ok(Expr::InList(Box::new(left), items, negated));
        }
        self.pos = save;
        Ok(left)
    }

    fn operand(&mut self) -> Result<Expr, ExprError> {
        let offset = self.offset();
        match self.peek().cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                let inner = self.or()?;
                self.expect(Token::RParen, "`)`")?;
                Ok(inner)
            }
            Some(Token::Ident(name)) if !is_literal_word(&name) => {
                if ["and", "or", "not", "is", "in"]
                    .iter()
                    .any(|k| name.eq_ignore_ascii_case(k))
                {
                    return self.error(format!(
                        "expected a column or value, found keyword `{name}`"
                    ));
                }
                self.pos += 1;
                Ok(Expr::Column(name, offset))
            }
            Some(_) => Ok(Expr::Literal(self.literal()?, offset)),
            None => self.error("expected a column or value, found the end of the predicate"),
        }
    }

    fn literal(&mut self) -> Result<Literal, ExprError> {
        let literal = match self.peek().cloned() {
            Some(Token::Number(n)) => n
                .parse::<i64>()
                .map(Literal::Int)
                .or_else(|_| n.parse::<f64>().map(Literal::Float))
                .or_else(|_| self.error(format!("invalid number `{n}`")))?,
            Some(Token::Text(t)) => Literal::Text(t),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => return self.error("expected a value (number, 'text', true, false or null)"),
        };
        self.pos += 1;
        Ok(literal)
    }
}

fn is_literal_word(word: &str) -> bool {
    ["true", "false", "null"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

/// Parses a predicate.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        end: text.len(),
    };
    let expr = parser.or()?;
    if parser.pos < parser.tokens.len() {
        return parser.error("unexpected text after the predicate");
    }
    Ok(expr)
}

impl Expr {
    /// Names of the columns the expression reads, in order of appearance.
    pub fn columns(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Column(name, offset) = e {
                out.push((name.as_str(), *offset));
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Compare(a, _, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::IsNull(a, _) | Expr::InList(a, _, _) | Expr::Not(a) => a.visit(f),
            Expr::Column(..) | Expr::Literal(..) => {}
        }
    }
}

/// A predicate checked against a schema, ready to evaluate on batches whose
/// columns are those of that schema.
#[derive(Debug)]
pub enum Compiled {
    /// A column (by index in the evaluated batch).
    Column(usize),
    /// A constant (one-row array).
    Scalar(ArrayRef),
    /// A comparison.
    Compare(Box<Compiled>, Op, Box<Compiled>),
    /// `is [not] null`.
    IsNull(Box<Compiled>, bool),
    /// `[not] in [..]`, with the list cast to the operand's type.
    InList(Box<Compiled>, Vec<ArrayRef>, bool),
    /// `and`.
    And(Box<Compiled>, Box<Compiled>),
    /// `or`.
    Or(Box<Compiled>, Box<Compiled>),
    /// `not`.
    Not(Box<Compiled>),
}

fn literal_array(literal: &Literal) -> ArrayRef {
    match literal {
        Literal::Int(v) => Arc::new(Int64Array::from(vec![*v])),
        Literal::Float(v) => Arc::new(Float64Array::from(vec![*v])),
        Literal::Text(v) => Arc::new(StringArray::from(vec![v.as_str()])),
        Literal::Bool(v) => Arc::new(BooleanArray::from(vec![*v])),
        Literal::Null => arrow_array::new_null_array(&DataType::Null, 1),
    }
}

/// Casts a one-row literal to `to`, refusing casts that lose the value
/// (e.g. `'abc'` to an integer becomes null).
fn cast_literal(literal: &Literal, to: &DataType, offset: usize) -> Result<ArrayRef, ExprError> {
    let array = literal_array(literal);
    let cast_error = |detail: String| ExprError {
        offset,
        message: format!("{literal:?} cannot be compared with a {to} column{detail}"),
    };
    let cast = cast(&array, to).map_err(|e| cast_error(format!(": {e}")))?;
    if cast.is_null(0) && *literal != Literal::Null {
        return Err(cast_error(String::new()));
    }
    Ok(cast)
}

/// Type-checks `expr` against `schema` (the columns of the batches it will be
/// evaluated on) and prepares its constants.
pub fn compile(expr: &Expr, schema: &Schema) -> Result<Compiled, ExprError> {
    Ok(match expr {
        Expr::Column(name, offset) => Compiled::Column(column_index(schema, name, *offset)?),
        Expr::Literal(literal, _) => Compiled::Scalar(literal_array(literal)),
        Expr::Compare(a, op, b) => {
            let (left, right) = match (a.as_ref(), b.as_ref()) {
                (Expr::Literal(l, offset), other) => {
                    let right = compile(other, schema)?;
                    let ty = data_type(&right, schema);
                    (Compiled::Scalar(cast_literal(l, &ty, *offset)?), right)
                }
                (other, Expr::Literal(l, offset)) => {
                    let left = compile(other, schema)?;
                    let ty = data_type(&left, schema);
                    (left, Compiled::Scalar(cast_literal(l, &ty, *offset)?))
                }
                (a_expr, b_expr) => {
                    let (left, right) = (compile(a_expr, schema)?, compile(b_expr, schema)?);
                    let (lt, rt) = (data_type(&left, schema), data_type(&right, schema));
                    if lt != rt {
                        return Err(ExprError {
                            offset: first_offset(a_expr),
                            message: format!("cannot compare {lt} with {rt}"),
                        });
                    }
                    (left, right)
                }
            };
            Compiled::Compare(Box::new(left), *op, Box::new(right))
        }
        Expr::IsNull(a, negated) => Compiled::IsNull(Box::new(compile(a, schema)?), *negated),
        Expr::InList(a, items, negated) => {
            let operand = compile(a, schema)?;
            let ty = data_type(&operand, schema);
            let items = items
                .iter()
                .map(|(l, offset)| cast_literal(l, &ty, *offset))
                .collect::<Result<_, _>>()?;
            Compiled::InList(Box::new(operand), items, *negated)
        }
        Expr::And(a, b) => {
            Compiled::And(Box::new(boolean(a, schema)?), Box::new(boolean(b, schema)?))
        }
        Expr::Or(a, b) => {
            Compiled::Or(Box::new(boolean(a, schema)?), Box::new(boolean(b, schema)?))
        }
        Expr::Not(a) => Compiled::Not(Box::new(boolean(a, schema)?)),
    })
}

/// Compiles `expr` and checks it yields booleans (the whole predicate, and
/// each side of `and`/`or`/`not`).
pub fn boolean(expr: &Expr, schema: &Schema) -> Result<Compiled, ExprError> {
    let compiled = compile(expr, schema)?;
    match data_type(&compiled, schema) {
        DataType::Boolean => Ok(compiled),
        other => Err(ExprError {
            offset: first_offset(expr),
            message: format!("expected a true/false condition, found a {other} value"),
        }),
    }
}

fn first_offset(expr: &Expr) -> usize {
    match expr {
        Expr::Column(_, o) | Expr::Literal(_, o) => *o,
        Expr::Compare(a, ..)
        | Expr::IsNull(a, _)
        | Expr::InList(a, ..)
        | Expr::And(a, _)
        | Expr::Or(a, _)
        | Expr::Not(a) => first_offset(a),
    }
}

fn column_index(schema: &Schema, name: &str, offset: usize) -> Result<usize, ExprError> {
    schema.index_of(name).map_err(|_| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        ExprError {
            offset,
            message: format!(
                "unknown column {name:?}; the input has {}",
                names.join(", ")
            ),
        }
    })
}

fn data_type(compiled: &Compiled, schema: &Schema) -> DataType {
    match compiled {
        Compiled::Column(i) => schema.field(*i).data_type().clone(),
        Compiled::Scalar(array) => array.data_type().clone(),
        _ => DataType::Boolean,
    }
}

enum Value {
    Array(ArrayRef),
    Scalar(Scalar<ArrayRef>),
}

impl Value {
    fn datum(&self) -> &dyn Datum {
        match self {
            Value::Array(a) => a,
            Value::Scalar(s) => s,
        }
    }
}

impl Compiled {
    /// Evaluates the predicate on `batch`.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
        match self.value(batch)? {
            Value::Array(array) => Ok(array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| ArrowError::InvalidArgumentError("predicate is not boolean".into()))?
                .clone()),
            Value::Scalar(scalar) => {
                let (array, _) = scalar.get();
                let keep = array
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .is_some_and(|b| b.is_valid(0) && b.value(0));
                Ok(BooleanArray::from(vec![keep; batch.num_rows()]))
            }
        }
    }

    fn bool_array(&self, batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
        self.evaluate(batch)
    }

    fn value(&self, batch: &RecordBatch) -> Result<Value, ArrowError> {
        let array = |b: BooleanArray| Ok(Value::Array(Arc::new(b)));
        match self {
            Compiled::Column(i) => Ok(Value::Array(batch.column(*i).clone())),
            Compiled::Scalar(a) => Ok(Value::Scalar(Scalar::new(a.clone()))),
            Compiled::Compare(a, op, b) => {
                let (l, r) = (a.value(batch)?, b.value(batch)?);
                if let Some(result) = compare_i64_with_literal(&l, *op, &r) {
                    return array(result);
                }
                let (l, r) = (l.datum(), r.datum());
                array(match op {
                    Op::Eq => cmp::eq(l, r)?,
                    Op::NotEq => cmp::neq(l, r)?,
                    Op::Lt => cmp::lt(l, r)?,
                    Op::LtEq => cmp::lt_eq(l, r)?,
                    Op::Gt => cmp::gt(l, r)?,
                    Op::GtEq => cmp::gt_eq(l, r)?,
                })
            }
            Compiled::IsNull(a, negated) => {
                let operand = match a.value(batch)? {
                    Value::Array(array) => array,
                    Value::Scalar(s) => {
                        let (array, _) = s.get();
                        let is = array.is_null(0) != *negated;
                        return array_of(batch, is);
                    }
                };
                array(if *negated {
                    is_not_null(&operand)?
                } else {
                    is_null(&operand)?
                })
            }
            Compiled::InList(a, items, negated) => {
                let operand = a.value(batch)?;
                let mut any: Option<BooleanArray> = None;
                for item in items {
                    let eq = cmp::eq(operand.datum(), &Scalar::new(item.clone()))?;
                    any = Some(match any {
                        None => eq,
                        Some(acc) => or_kleene(&acc, &eq)?,
                    });
                }
                let any = any.unwrap_or_else(|| BooleanArray::from(vec![false; batch.num_rows()]));
                array(if *negated { not(&any)? } else { any })
            }
            Compiled::And(a, b) => array(and_kleene(&a.bool_array(batch)?, &b.bool_array(batch)?)?),
            Compiled::Or(a, b) => array(or_kleene(&a.bool_array(batch)?, &b.bool_array(batch)?)?),
            Compiled::Not(a) => array(not(&a.bool_array(batch)?)?),
        }
    }
}

/// `column op literal` on a column of 64-bit integers (int64, timestamps,
/// date64) through [`crate::simd`]; `None` for anything else, which arrow's
/// kernels handle. Null rows compare to null, as in arrow.
fn compare_i64_with_literal(column: &Value, op: Op, literal: &Value) -> Option<BooleanArray> {
    let (Value::Array(column), Value::Scalar(literal)) = (column, literal) else {
        return None;
    };
    let (literal, _) = literal.get();
    let is_i64 = |t: &DataType| {
        matches!(
            t,
            DataType::Int64 | DataType::Timestamp(..) | DataType::Date64
        )
    };
    if !is_i64(column.data_type())
        || column.data_type() != literal.data_type()
        || literal.is_null(0)
    {
        return None;
    }
    let (data, literal) = (column.to_data(), literal.to_data());
    let words = crate::simd::compare_i64(data.buffer::<i64>(0), op, literal.buffer::<i64>(0)[0]);
    let bits = BooleanBuffer::new(words.into(), 0, column.len());
    Some(BooleanArray::new(bits, column.logical_nulls()))
}

fn array_of(batch: &RecordBatch, value: bool) -> Result<Value, ArrowError> {
    Ok(Value::Array(Arc::new(BooleanArray::from(vec![
        value;
        batch
            .num_rows(
            )
    ]))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    fn batch() -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(5), None, Some(10)]));
        let names: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("b"),
            Some("c"),
            None,
        ]));
        let vip: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
        ]));
        RecordBatch::try_from_iter([("id", ids), ("name", names), ("vip", vip)]).unwrap()
    }

    fn eval(text: &str) -> Vec<Option<bool>> {
        let b = batch();
        boolean(&parse(text).unwrap(), &b.schema())
            .unwrap()
            .evaluate(&b)
            .unwrap()
            .iter()
            .collect()
    }

    #[test]
    fn comparisons_follow_sql_null_rules() {
        assert_eq!(eval("id > 3"), [Some(false), Some(true), None, Some(true)]);
        assert_eq!(
            eval("id >= 5 and name != 'x'"),
            [Some(false), Some(true), None, None]
        );
        assert_eq!(
            eval("id < 3 or vip"),
            [Some(true), Some(false), None, Some(true)]
        );
        assert_eq!(
            eval("not (id == 5)"),
            [Some(true), Some(false), None, Some(true)]
        );
        assert_eq!(eval("3 < id"), eval("id > 3"));
    }

    #[test]
    fn null_tests_and_lists() {
        assert_eq!(
            eval("id is null"),
            [Some(false), Some(false), Some(true), Some(false)]
        );
        assert_eq!(
            eval("name is not null"),
            [Some(true), Some(true), Some(true), Some(false)]
        );
        assert_eq!(
            eval("name in ['a', 'c']"),
            [Some(true), Some(false), Some(true), None]
        );
        assert_eq!(
            eval("id not in [1, 10]"),
            [Some(false), Some(true), None, Some(false)]
        );
    }

    #[test]
    fn errors_say_where() {
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        let err = boolean(&parse("id > 3 and idx < 2").unwrap(), &schema).unwrap_err();
        assert_eq!(err.offset, 11);
        assert!(err.message.contains("unknown column \"idx\""), "{err}");
        let err = boolean(&parse("id > 'abc'").unwrap(), &schema).unwrap_err();
        assert_eq!(err.offset, 5, "{err}");
        assert_eq!(parse("id > ").unwrap_err().offset, 5);
        assert!(parse("id > 3 )").is_err());
        assert!(parse("(id > 3").unwrap_err().message.contains("`)`"));
        let err = boolean(&parse("id").unwrap(), &schema).unwrap_err();
        assert!(err.message.contains("true/false"), "{err}");
    }
}
