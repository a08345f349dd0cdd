//! The predicate language: parsing, type checking against the input schema,
//! and evaluation with arrow's comparison and boolean kernels.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | compare
//! compare := operand [op operand | "is" ["not"] "null" | ["not"] "in" "[" literal ("," literal)* "]"]
//! operand := "(" expr ")" | column | literal
//! op      := "==" | "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! literal := number | 'text' | "text" | true | false | null
//! column  := identifier | `any name`
//! ```
//!
//! Nulls follow SQL: a comparison with null is null, and a row is kept only
//! when the predicate is true.
//!
//! Implemented by crate `weir-expr` (`sdk/expr`), which `expect` shares.

pub use weir_expr::*;
