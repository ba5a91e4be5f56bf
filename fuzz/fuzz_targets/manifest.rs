//! The manifest reader on arbitrary bytes: never panics, keeps at most one
//! record per complete line, and what it keeps survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tarjoman_batch::manifest::{parse, to_line};

fuzz_target!(|data: &[u8]| {
    let contents = parse(data);
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    assert!(contents.records.len() + contents.bad_lines <= lines);
    let mut again = Vec::new();
    for record in contents.records.values() {
        again.extend(to_line(record).expect("a parsed record serializes"));
    }
    let reread = parse(&again);
    assert_eq!(reread.bad_lines, 0);
    assert!(!reread.torn_tail);
    assert_eq!(reread.records, contents.records);
});
