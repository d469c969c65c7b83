//! Pure geometry: where the square is cut, how EXIF orientation maps it back
//! onto the stored pixels, and which reduced decoding scale is enough.
//!
//! The crop is chosen on the photo as the user sees it (after orientation),
//! then mapped to stored coordinates, so decoders can skip what is cut away
//! and orientation only has to be applied to the small master square.

use image::metadata::Orientation;

use super::CropMode;

/// Where the top-biased square starts, as a fraction of the excess height
/// (15%: heads sit in the upper part of portrait photos).
pub const TOP_BIAS: f64 = 0.15;

/// How much larger than the largest output the decoded square should be.
/// Decoding at exactly the output size leaves the master soft (32.7 dB PSNR
/// against a full-resolution Lanczos reference, 38.6 dB with a 2x margin).
pub const SHRINK_MARGIN: u32 = 2;

/// An axis-aligned square in pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Square {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Edge length.
    pub side: u32,
}

/// Whether the orientation swaps width and height.
pub fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Size of the photo as displayed, given its stored size.
pub fn displayed_size(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    if swaps_axes(orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

/// The square to keep of a photo displayed `dw` x `dh`, in displayed coordinates.
pub fn displayed_square(dw: u32, dh: u32, mode: CropMode) -> Square {
    let side = dw.min(dh);
    if dw > dh {
        return Square {
            x: (dw - side) / 2,
            y: 0,
            side,
        };
    }
    let excess = dh - side;
    let top = match mode {
        CropMode::Center => excess / 2,
        CropMode::Top => (f64::from(excess) * TOP_BIAS).round() as u32,
    };
    Square { x: 0, y: top, side }
}

/// The square to keep, in stored (pre-orientation) coordinates.
pub fn square_crop(width: u32, height: u32, orientation: Orientation, mode: CropMode) -> Square {
    let (dw, dh) = displayed_size(width, height, orientation);
    let Square { x: ox, y: oy, side } = displayed_square(dw, dh, mode);
    // Inverse of each EXIF transform, applied to the square's top-left corner.
    let (x, y) = match orientation {
        Orientation::NoTransforms => (ox, oy),
        Orientation::FlipHorizontal => (width - ox - side, oy),
        Orientation::Rotate180 => (width - ox - side, height - oy - side),
        Orientation::FlipVertical => (ox, height - oy - side),
        Orientation::Rotate90FlipH => (oy, ox),
        Orientation::Rotate90 => (oy, height - ox - side),
        Orientation::Rotate270FlipH => (width - oy - side, height - ox - side),
        Orientation::Rotate270 => (width - oy - side, ox),
    };
    Square { x, y, side }
}

/// Picks the JPEG decoding scale `n/8` (n in 1, 2, 4, 8) for a stored square of
/// `side` pixels: the smallest whose scaled square still has
/// `SHRINK_MARGIN` times the largest output, or full scale.
pub fn jpeg_scale_eighths(side: u32, largest_output: u32) -> u32 {
    let wanted = u64::from(largest_output) * u64::from(SHRINK_MARGIN);
    [1u32, 2, 4]
        .into_iter()
        .find(|&n| scaled(side, n) >= wanted.min(u64::from(side)))
        .unwrap_or(8)
}

/// `ceil(dimension * n / 8)`, how libjpeg-turbo sizes a scaled image.
pub fn scaled(dimension: u32, eighths: u32) -> u64 {
    (u64::from(dimension) * u64::from(eighths)).div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, GenericImageView, RgbImage};

    const ALL: [Orientation; 8] = [
        Orientation::NoTransforms,
        Orientation::FlipHorizontal,
        Orientation::Rotate180,
        Orientation::FlipVertical,
        Orientation::Rotate90FlipH,
        Orientation::Rotate90,
        Orientation::Rotate270FlipH,
        Orientation::Rotate270,
    ];

    /// Cropping the oriented photo equals orienting the crop of the stored one.
    #[test]
    fn crop_maps_back_through_every_orientation() {
        for (w, h) in [(7u32, 4u32), (4, 7), (5, 5)] {
            let stored = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 0]));
            for orientation in ALL {
                for mode in [CropMode::Center, CropMode::Top] {
                    let mut shown = DynamicImage::ImageRgb8(stored.clone());
                    shown.apply_orientation(orientation);
                    let (dw, dh) = shown.dimensions();
                    let side = dw.min(dh);
                    let excess = dh - side;
                    let (ox, oy) = match (dw > dh, mode) {
                        (true, _) => ((dw - side) / 2, 0),
                        (false, CropMode::Center) => (0, excess / 2),
                        (false, CropMode::Top) => (0, (excess as f64 * TOP_BIAS).round() as u32),
                    };
                    let expected = shown.crop_imm(ox, oy, side, side).into_rgb8();
                    let sq = square_crop(w, h, orientation, mode);
                    let mut got = DynamicImage::ImageRgb8(stored.clone())
                        .crop_imm(sq.x, sq.y, sq.side, sq.side);
                    got.apply_orientation(orientation);
                    assert_eq!(
                        got.into_rgb8(),
                        expected,
                        "{w}x{h} {orientation:?} {mode:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn scale_keeps_a_margin_over_the_largest_output() {
        assert_eq!(jpeg_scale_eighths(3024, 648), 4); // 1512 >= 1296
        assert_eq!(jpeg_scale_eighths(4000, 648), 4); // 2000; 1000 would be too small
        assert_eq!(jpeg_scale_eighths(6000, 240), 1); // 750 >= 480
        assert_eq!(jpeg_scale_eighths(700, 648), 8); // never below the source
        assert_eq!(jpeg_scale_eighths(500, 500), 8);
    }
}
