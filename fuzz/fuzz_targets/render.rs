//! Fuzzes the pipeline's entry point: any bytes must give thumbnails or a
//! `PipelineError`, never a panic, crash or runaway allocation.
//! Run: `cargo +nightly fuzz run render` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use photosync::pipeline::{RenderOptions, render};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the code paths are the same.
    let options = RenderOptions {
        sizes: vec![16, 48, 96],
        min_size: 8,
        max_pixels: 4_000_000,
        master_max_bytes: Some(photosync::graph::MAX_PHOTO_BYTES),
        ..RenderOptions::default()
    };
    if let Ok(rendition) = render(data, &options) {
        assert!(!rendition.thumbnails.is_empty());
        assert!(rendition.master().jpeg.len() <= photosync::graph::MAX_PHOTO_BYTES);
    }
});
