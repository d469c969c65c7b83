//! Behaviour of the photo pipeline as a user would notice it: which photos
//! are accepted, what the thumbnails look like, and how bad input fails.
//! Every test image is generated here (see `corpus`).

mod alloc_probe;
mod command;
mod corpus;
mod crop;
mod faces;
mod formats;
mod heic;
mod hostile;
mod output;
mod quality;
mod regressions;
mod safety;

use image::RgbImage;

#[global_allocator]
static ALLOCATOR: alloc_probe::Tracking = alloc_probe::Tracking;

use photosync::pipeline::{PipelineError, RenderOptions, Rendition, render};

/// Renders with default options, failing the test on error.
pub fn render_ok(bytes: &[u8]) -> Rendition {
    render_with(bytes, &RenderOptions::default())
}

/// Renders with the given options, failing the test on error.
pub fn render_with(bytes: &[u8], options: &RenderOptions) -> Rendition {
    render(bytes, options).unwrap_or_else(|e| panic!("render failed: {} ({e})", e.code()))
}

/// The error code of a render that must fail.
pub fn render_err(bytes: &[u8]) -> PipelineError {
    render(bytes, &RenderOptions::default()).expect_err("render should have failed")
}

/// Decodes an output JPEG back to pixels.
pub fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .unwrap()
        .into_rgb8()
}

/// Asserts a pixel is within `tolerance` of `expected` on every channel.
pub fn assert_colour(image: &RgbImage, x: u32, y: u32, expected: [u8; 3], tolerance: u8) {
    let got = image.get_pixel(x, y).0;
    let near = got
        .iter()
        .zip(expected)
        .all(|(g, e)| g.abs_diff(e) <= tolerance);
    assert!(
        near,
        "pixel ({x},{y}) is {got:?}, expected about {expected:?}"
    );
}
