//! Inputs that once crashed or misbehaved (found by `cargo fuzz`), kept as
//! tests. The files live in `tests/pipeline/crashers/`.

use photosync::pipeline::{RenderOptions, render};

use crate::alloc_probe::largest_allocation;

/// A 771-byte WebP whose EXIF chunk claims 3.7 GB: `image-webp` allocated
/// the claimed size before reading it (libFuzzer: out-of-memory).
#[test]
fn webp_metadata_chunk_larger_than_the_file_is_refused_without_allocating_it() {
    let bytes = include_bytes!("crashers/webp-exif-chunk-3gb.webp");
    let (result, largest) = largest_allocation(|| render(bytes, &RenderOptions::default()));
    assert_eq!(result.unwrap_err().code().as_str(), "corrupt-image");
    assert!(largest < 1 << 20, "allocated {largest} bytes at once");
}

/// A 596-byte WebP whose 48x48 canvas holds a 16383x16383 VP8 frame:
/// `image-webp` allocated 400 MB of frame buffers (libFuzzer: out-of-memory).
#[test]
fn webp_frame_larger_than_its_canvas_is_refused_without_allocating_it() {
    let bytes = include_bytes!("crashers/webp-frame-larger-than-canvas.webp");
    let options = RenderOptions {
        min_size: 8,
        ..RenderOptions::default()
    };
    let (result, largest) = largest_allocation(|| render(bytes, &options));
    assert_eq!(result.unwrap_err().code().as_str(), "corrupt-image");
    assert!(largest < 1 << 20, "allocated {largest} bytes at once");
}
