//! `column <op> literal` for 64-bit integer columns (int64, timestamps,
//! date64) with Wasm SIMD: two values per comparison and one bitmask per
//! pair. arrow's comparison kernel, compiled without SIMD like the rest of a
//! Wasm plugin, takes about seven times the instructions per value, and this
//! comparison is all the plugin computes on the selection path. Builds for
//! other targets (the crate's own unit tests) use the scalar loop.

use crate::expr::Op;

/// The results of `values[i] op literal`, packed LSB first into words.
pub fn compare_i64(values: &[i64], op: Op, literal: i64) -> Vec<u64> {
    match op {
        Op::Eq => eq(values, literal),
        Op::NotEq => ne(values, literal),
        Op::Lt => lt(values, literal),
        Op::LtEq => le(values, literal),
        Op::Gt => gt(values, literal),
        Op::GtEq => ge(values, literal),
    }
}

macro_rules! compare {
    ($name:ident, $simd:ident, $op:tt) => {
        #[cfg(target_arch = "wasm32")]
        #[target_feature(enable = "simd128")]
        fn $name(values: &[i64], literal: i64) -> Vec<u64> {
            use core::arch::wasm32::{$simd, i64x2_bitmask, i64x2_splat, v128, v128_load};
            let splat = i64x2_splat(literal);
            let mut words = Vec::with_capacity(values.len().div_ceil(64));
            let chunks = values.chunks_exact(64);
            let rest = chunks.remainder();
            for chunk in chunks {
                let mut bits = 0u64;
                for pair in 0..32 {
                    // SAFETY: `pair * 2 + 1 < 64 == chunk.len()`, and
                    // `v128_load` has no alignment requirement.
                    let v = unsafe { v128_load(chunk.as_ptr().add(pair * 2).cast::<v128>()) };
                    bits |= u64::from(i64x2_bitmask($simd(v, splat))) << (pair * 2);
                }
                words.push(bits);
            }
            if !rest.is_empty() {
                words.push(scalar_word(rest, |v| v $op literal));
            }
            words
        }

        #[cfg(not(target_arch = "wasm32"))]
        fn $name(values: &[i64], literal: i64) -> Vec<u64> {
            values
                .chunks(64)
                .map(|chunk| scalar_word(chunk, |v| v $op literal))
                .collect()
        }
    };
}

compare!(eq, i64x2_eq, ==);
compare!(ne, i64x2_ne, !=);
compare!(lt, i64x2_lt, <);
compare!(le, i64x2_le, <=);
compare!(gt, i64x2_gt, >);
compare!(ge, i64x2_ge, >=);

/// Up to 64 results in one word.
fn scalar_word(values: &[i64], test: impl Fn(i64) -> bool) -> u64 {
    values
        .iter()
        .enumerate()
        .fold(0, |bits, (j, &v)| bits | (u64::from(test(v)) << j))
}
