//! Turns the bytes into RGB pixels covering the square to keep.
//!
//! JPEG goes through libjpeg-turbo, decoding only the kept square at the
//! smallest 1/8-step scale that still leaves a quality margin. PNG is read
//! row by row and box-reduced as it arrives, at the largest integer factor
//! that leaves the same margin. Everything else goes through the `image`
//! crate with allocation limits, and transparency is flattened onto the
//! background colour.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{DynamicImage, ImageError, ImageReader, Limits};

use super::error::PipelineError;
use super::geometry::{self, SHRINK_MARGIN, Square};
use super::probe::{Format, Header};
use super::{RenderOptions, heic, png_rows, turbo};

/// Decoded pixels plus where, inside them, the square lies.
#[derive(Debug)]
pub struct Pixels {
    /// Packed RGB8, `width * height * 3` bytes, stored orientation.
    pub rgb: Vec<u8>,
    /// Buffer width.
    pub width: u32,
    /// Buffer height.
    pub height: u32,
    /// Left edge of the square in buffer pixels (fractional after scaling).
    pub left: f64,
    /// Top edge of the square in buffer pixels.
    pub top: f64,
    /// Edge of the square in buffer pixels.
    pub side: f64,
}

/// Decodes the pixels of `square` (stored coordinates) from `bytes`.
pub fn decode(
    bytes: &[u8],
    header: &Header,
    square: Square,
    largest_output: u32,
    options: &RenderOptions,
) -> Result<Pixels, PipelineError> {
    match &header.jpeg {
        Some(jpeg) => decode_jpeg(bytes, jpeg.adobe, header, square, largest_output, options),
        None if header.png.is_some() => {
            let (mut pixels, scale) = decode_png(bytes, header, largest_output, options)?;
            pixels.left = f64::from(square.x) * scale;
            pixels.top = f64::from(square.y) * scale;
            pixels.side = (f64::from(square.side) * scale)
                .min(f64::from(pixels.width) - pixels.left)
                .min(f64::from(pixels.height) - pixels.top);
            Ok(pixels)
        }
        None => decode_generic(bytes, header, square, options),
    }
}

/// The whole PNG, box-reduced so its short side keeps [`SHRINK_MARGIN`]
/// times `largest_output` pixels; with its scale (decoded per stored pixel).
fn decode_png(
    bytes: &[u8],
    header: &Header,
    largest_output: u32,
    options: &RenderOptions,
) -> Result<(Pixels, f64), PipelineError> {
    let side = header.width.min(header.height);
    let factor = png_rows::factor(side, u64::from(largest_output) * u64::from(SHRINK_MARGIN));
    let deadline = options.time_budget.map(|d| std::time::Instant::now() + d);
    let (rgb, width, height) =
        png_rows::decode_scaled(bytes, factor, options.background, deadline)?;
    if (width, height)
        != (
            header.width.div_ceil(factor),
            header.height.div_ceil(factor),
        )
    {
        return Err(PipelineError::corrupt(
            "the image size changed while decoding",
        ));
    }
    let pixels = Pixels {
        rgb,
        width,
        height,
        left: 0.0,
        top: 0.0,
        side: f64::from(width.min(height)),
    };
    Ok((pixels, 1.0 / f64::from(factor)))
}

/// Decodes the whole frame (for the face crop, whose square is only known
/// after detection) at the scale a full-size square would be decoded at,
/// and returns it with that scale (decoded pixels per stored pixel). The
/// square fields are left for the caller to set.
pub fn decode_whole(
    bytes: &[u8],
    header: &Header,
    largest_output: u32,
    options: &RenderOptions,
) -> Result<(Pixels, f64), PipelineError> {
    let (width, height) = (header.width, header.height);
    let side = width.min(height);
    if header.png.is_some() {
        return decode_png(bytes, header, largest_output, options);
    }
    let Some(jpeg) = &header.jpeg else {
        let square = Square { x: 0, y: 0, side };
        return Ok((decode_generic(bytes, header, square, options)?, 1.0));
    };
    let eighths = geometry::jpeg_scale_eighths(side, largest_output);
    let region = (
        0,
        0,
        geometry::scaled(width, eighths) as u32,
        geometry::scaled(height, eighths) as u32,
    );
    let decoded = turbo::decode_region(
        bytes,
        (width, height),
        eighths,
        region,
        jpeg.adobe,
        options.max_pixels,
        options.max_decode_bytes,
    )?;
    let pixels = Pixels {
        rgb: decoded.rgb,
        width: decoded.width,
        height: decoded.height,
        left: 0.0,
        top: 0.0,
        side: f64::from(decoded.width.min(decoded.height)),
    };
    Ok((pixels, f64::from(eighths) / 8.0))
}

fn decode_jpeg(
    bytes: &[u8],
    adobe: bool,
    header: &Header,
    square: Square,
    largest_output: u32,
    options: &RenderOptions,
) -> Result<Pixels, PipelineError> {
    let eighths = geometry::jpeg_scale_eighths(square.side, largest_output);
    let scale = f64::from(eighths) / 8.0;
    let scaled = |v: u32| geometry::scaled(v, eighths) as u32;
    let (x0, y0) = ((square.x * eighths) / 8, (square.y * eighths) / 8);
    let x1 = scaled(square.x + square.side).min(scaled(header.width));
    let y1 = scaled(square.y + square.side).min(scaled(header.height));
    let region = (x0, y0, x1 - x0, y1 - y0);
    let decoded = turbo::decode_region(
        bytes,
        (header.width, header.height),
        eighths,
        region,
        adobe,
        options.max_pixels,
        options.max_decode_bytes,
    )?;
    let left = f64::from(square.x) * scale - f64::from(decoded.origin.0);
    let top = f64::from(square.y) * scale - f64::from(decoded.origin.1);
    // Scaled dimensions are rounded up, so the square may overhang by a pixel.
    let side = (f64::from(square.side) * scale)
        .min(f64::from(decoded.width) - left)
        .min(f64::from(decoded.height) - top);
    Ok(Pixels {
        rgb: decoded.rgb,
        width: decoded.width,
        height: decoded.height,
        left,
        top,
        side,
    })
}

fn decode_generic(
    bytes: &[u8],
    header: &Header,
    square: Square,
    options: &RenderOptions,
) -> Result<Pixels, PipelineError> {
    let image = match header.format.image_format() {
        None if header.format == Format::Heic => heic::decode(bytes, options.max_pixels)?,
        None => return Err(PipelineError::unsupported("no decoder for this format")),
        Some(format) => {
            let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
            reader.limits(limits(header.width, header.height, options));
            // Last line of defence: a panic inside a third-party decoder becomes an error.
            catch_unwind(AssertUnwindSafe(|| reader.decode()))
                .map_err(|_| PipelineError::corrupt("the decoder failed on this image"))?
                .map_err(image_error)?
        }
    };
    let (width, height) = (image.width(), image.height());
    if (width, height) != (header.width, header.height) {
        return Err(PipelineError::corrupt(
            "the image size changed while decoding",
        ));
    }
    let rgb = flatten(image, options.background);
    Ok(Pixels {
        rgb,
        width,
        height,
        left: f64::from(square.x),
        top: f64::from(square.y),
        side: f64::from(square.side),
    })
}

/// Decoder limits: the header's size, and room for the largest pixel type
/// (16-bit RGBA) at the accepted area.
pub fn limits(max_width: u32, max_height: u32, options: &RenderOptions) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(max_width);
    limits.max_image_height = Some(max_height);
    limits.max_alloc = Some(options.max_pixels.saturating_mul(8).max(1 << 20));
    limits
}

/// RGB8 pixels, transparent areas composited onto `background`.
pub fn flatten(image: DynamicImage, background: [u8; 3]) -> Vec<u8> {
    if !image.color().has_alpha() {
        return image.into_rgb8().into_raw();
    }
    let rgba = image.into_rgba8();
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    for px in rgba.chunks_exact(4) {
        let alpha = u32::from(px[3]);
        for (c, bg) in px[..3].iter().zip(background) {
            rgb.push(((u32::from(*c) * alpha + u32::from(bg) * (255 - alpha) + 127) / 255) as u8);
        }
    }
    rgb
}

/// Maps an `image` crate error onto the pipeline's codes.
pub fn image_error(error: ImageError) -> PipelineError {
    match error {
        ImageError::Limits(e) => {
            PipelineError::too_large(format!("the image exceeds the decoder's limits: {e}"))
        }
        ImageError::Unsupported(e) => {
            PipelineError::unsupported(format!("this image variant is not supported: {e}"))
        }
        other => PipelineError::corrupt(other),
    }
}
