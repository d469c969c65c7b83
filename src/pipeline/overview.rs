//! A small upright copy of the whole photo, for the crop preview page (the
//! square and face box are drawn over it). Same checks and decoders as
//! [`render`](super::render); JPEG is decoded at reduced DCT scale.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage};

use super::error::PipelineError;
use super::{RenderOptions, decode, geometry, turbo};

/// The whole photo, scaled down and upright, as a JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// JPEG file.
    pub jpeg: Vec<u8>,
    /// Its width (the photo's aspect ratio is kept).
    pub width: u32,
    /// Its height.
    pub height: u32,
}

/// Renders the whole photo with its long side at most `long_side` pixels.
pub fn overview(
    bytes: &[u8],
    options: &RenderOptions,
    long_side: u32,
) -> Result<Overview, PipelineError> {
    let header = super::checked_header(bytes, options)?;
    let (pixels, _) = decode::decode_whole(bytes, &header, long_side, options)?;
    let (dw, dh) = geometry::displayed_size(pixels.width, pixels.height, header.orientation);
    let shrink = (f64::from(dw.max(dh)) / f64::from(long_side.max(1))).max(1.0);
    let (w, h) = (
        ((f64::from(pixels.width) / shrink).round() as u32).max(1),
        ((f64::from(pixels.height) / shrink).round() as u32).max(1),
    );
    let failed =
        |e: &dyn std::fmt::Display| PipelineError::corrupt(format!("resizing failed: {e}"));
    let src = ImageRef::new(pixels.width, pixels.height, &pixels.rgb, PixelType::U8x3)
        .map_err(|e| failed(&e))?;
    let mut small = Image::new(w, h, PixelType::U8x3);
    let resize = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src, &mut small, &resize)
        .map_err(|e| failed(&e))?;
    let small = RgbImage::from_raw(w, h, small.into_vec())
        .ok_or_else(|| PipelineError::corrupt("resizing failed: short buffer"))?;
    let mut image = DynamicImage::ImageRgb8(small);
    image.apply_orientation(header.orientation);
    let rgb = image.into_rgb8();
    let (width, height) = rgb.dimensions();
    let jpeg = turbo::encode_rgb(rgb.as_raw(), width, height, 80)?;
    Ok(Overview {
        jpeg,
        width,
        height,
    })
}
