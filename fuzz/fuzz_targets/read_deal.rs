//! Any bytes, as a deal workbook: the reader must return a deal or its problems, never
//! panic, abort or run away (libFuzzer's -rss_limit_mb and -timeout catch the last two).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lodestone::excel::read::read_deal_bytes(data, "fuzz.xlsx");
});
