//! `column <op> literal` for 64-bit integer columns (int64, timestamps,
//! date64) with Wasm SIMD: two values per comparison, and the results of 16
//! values narrowed into one vector for one bitmask (a bitmask per pair took
//! twice the time). arrow's comparison kernel, compiled without SIMD like the
//! rest of a Wasm plugin, takes about seven times the instructions per value,
//! and this comparison is all the plugin computes on the selection path.
//! Builds for other targets (the crate's own unit tests) use the scalar loop.

use crate::Op;

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
            use core::arch::wasm32::{
                $simd, i8x16_bitmask, i8x16_narrow_i16x8, i16x8_narrow_i32x4, i32x4_shuffle,
                i64x2_splat, v128, v128_load,
            };
            let splat = i64x2_splat(literal);
            // Compares 4 values: two i64x2 results narrowed to one i32x4
            // (each lane all ones or all zeros, so narrowing keeps it).
            let four = |values: *const i64| {
                // SAFETY: the callers pass a pointer to 4 readable values;
                // `v128_load` has no alignment requirement.
                let (a, b) = unsafe {
                    (
                        v128_load(values.cast::<v128>()),
                        v128_load(values.add(2).cast::<v128>()),
                    )
                };
                i32x4_shuffle::<0, 2, 4, 6>($simd(a, splat), $simd(b, splat))
            };
            let mut words = Vec::with_capacity(values.len().div_ceil(64));
            let chunks = values.chunks_exact(64);
            let rest = chunks.remainder();
            for chunk in chunks {
                let mut bits = 0u64;
                for sixteen in 0..4 {
                    let p = chunk[sixteen * 16..].as_ptr();
                    // SAFETY: `sixteen * 16 + 16 <= 64 == chunk.len()`.
                    let (a, b, c, d) = unsafe { (four(p), four(p.add(4)), four(p.add(8)), four(p.add(12))) };
                    let bytes = i8x16_narrow_i16x8(i16x8_narrow_i32x4(a, b), i16x8_narrow_i32x4(c, d));
                    bits |= u64::from(i8x16_bitmask(bytes)) << (sixteen * 16);
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
