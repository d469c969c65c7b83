//! Fuzzes the `mapping.csv` parser: any bytes (any encoding, quoting,
//! separators, sizes up to the cap) must give a mapping with its bad lines
//! listed, or one `Problem` for the file — never a panic.
//! Run: `cargo +nightly fuzz run mapping` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use photosync::sync::PhotoName;
use photosync::sync::mapping::MappingFile;

fuzz_target!(|data: &[u8]| {
    let name = PhotoName::parse("hr/mapping.csv").expect("a valid name");
    if let Ok(mapping) = MappingFile::parse(&name, data) {
        // Whatever was accepted is consistent: every bad line is reported
        // with its line number.
        for line in &mapping.bad_lines {
            assert!(line.starts_with("line "), "{line}");
        }
        let _ = mapping.problem();
        let _ = mapping.len();
    }
});
