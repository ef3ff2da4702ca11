//! Fuzz target `idx`: see `feed::idx` for what it feeds and checks.
#![no_main]

#[path = "../feed.rs"]
mod feed;

libfuzzer_sys::fuzz_target!(|data: &[u8]| feed::idx(data));
