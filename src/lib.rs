//! End-to-end tests and benchmarks of Weir live in `tests/` and `benches/`;
//! this library is empty.
