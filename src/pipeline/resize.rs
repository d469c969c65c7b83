//! SIMD resizing with `fast_image_resize`: one crop-and-resize from the
//! decoded pixels to the master, then each smaller size from an
//! intermediate result at least twice its size (cheap, and never blurrier
//! than a single Lanczos step would be).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use super::decode::Pixels;
use super::error::PipelineError;

/// A square RGB8 image.
#[derive(Debug, Clone)]
pub struct SquareImage {
    /// Edge length in pixels.
    pub side: u32,
    /// Packed RGB8 pixels, `side * side * 3` bytes.
    pub rgb: Vec<u8>,
}

fn lanczos() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
}

fn internal(error: impl std::fmt::Display) -> PipelineError {
    PipelineError::corrupt(format!("resizing failed: {error}"))
}

/// Cuts the square out of `pixels` and resizes it to `side`.
pub fn crop_resize(
    resizer: &mut Resizer,
    pixels: &Pixels,
    side: u32,
) -> Result<SquareImage, PipelineError> {
    let src = ImageRef::new(pixels.width, pixels.height, &pixels.rgb, PixelType::U8x3)
        .map_err(internal)?;
    let mut dst = Image::new(side, side, PixelType::U8x3);
    let options = lanczos().crop(pixels.left, pixels.top, pixels.side, pixels.side);
    resizer.resize(&src, &mut dst, &options).map_err(internal)?;
    Ok(SquareImage {
        side,
        rgb: dst.into_vec(),
    })
}

/// Resizes a square to a smaller square.
pub fn shrink(
    resizer: &mut Resizer,
    src: &SquareImage,
    side: u32,
) -> Result<SquareImage, PipelineError> {
    let view = ImageRef::new(src.side, src.side, &src.rgb, PixelType::U8x3).map_err(internal)?;
    let mut dst = Image::new(side, side, PixelType::U8x3);
    resizer
        .resize(&view, &mut dst, &lanczos())
        .map_err(internal)?;
    Ok(SquareImage {
        side,
        rgb: dst.into_vec(),
    })
}

/// Applies an EXIF orientation to a square (sizes are unchanged).
pub fn orient(square: SquareImage, orientation: Orientation) -> SquareImage {
    if orientation == Orientation::NoTransforms {
        return square;
    }
    let side = square.side;
    let buffer =
        RgbImage::from_raw(side, side, square.rgb).expect("square buffer has side*side*3 bytes");
    let mut image = DynamicImage::ImageRgb8(buffer);
    image.apply_orientation(orientation);
    SquareImage {
        side,
        rgb: image.into_rgb8().into_raw(),
    }
}

/// Every size in `sizes` (ascending, largest == master.side), each resized
/// from the smallest already-made square that is at least twice as large.
pub fn cascade(
    resizer: &mut Resizer,
    master: SquareImage,
    sizes: &[u32],
) -> Result<Vec<SquareImage>, PipelineError> {
    let mut made: Vec<SquareImage> = vec![master];
    for &side in sizes.iter().rev().skip(1) {
        let source = made
            .iter()
            .rev()
            .find(|s| s.side >= side * 2)
            .unwrap_or(&made[0]);
        let next = shrink(resizer, source, side)?;
        made.push(next);
    }
    made.reverse();
    Ok(made)
}
