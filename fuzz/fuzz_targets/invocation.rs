//! Fuzzes the invocation body reader the way the handler uses it: any body
//! the host (or anyone on the port) sends must give a blob event, a timer
//! tick or a `PayloadError` (answered 400) — never a panic.
//! Run: `cargo +nightly fuzz run invocation` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use photosync::handler::payload::{parse_request, photo_event, timer_tick};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = parse_request(data) {
        // The name is only a claim here; `PhotoName::parse` judges it later.
        if let Ok(event) = photo_event(&request, "photo", "photos") {
            let _ = photosync::sync::PhotoName::parse(&event.name);
        }
        let _ = timer_tick(&request, "timer");
    }
});
