//! Reading `/proc` for the benchmarks (Linux). Included with `#[path]` by
//! this crate's `idle` benchmark and the desktop benchmark
//! (`benches/desktop.rs`), so both read memory the same way.

/// The value in KiB of `field` (with its colon, e.g. `"VmRSS:"`) in a
/// `/proc` file of `Name: value kB` lines (`status`, `smaps_rollup`); 0 when
/// the file or the field cannot be read.
pub fn field_kib(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
