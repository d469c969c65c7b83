//! Decodes the photo and decides where the square goes.
//!
//! A focus point, `top` and `center` are known before decoding, so only the
//! square is decoded (JPEG: just its columns, at reduced DCT scale). The
//! face crop needs the whole frame: it is decoded once, at the same reduced
//! scale, a small grey copy of that same buffer goes to the detector, and
//! the square is then cut from the buffer already in memory.

use image::metadata::Orientation;

use super::decode::{self, Pixels};
use super::error::PipelineError;
use super::face::{self, FaceBox};
use super::framing::{self, Warning};
use super::geometry::{self, Square};
use super::probe::Header;
use super::{CropMode, RenderOptions};

/// Decoded pixels with the square placed, and how it was chosen.
#[derive(Debug)]
pub struct Placed {
    /// The pixels, with `left`/`top`/`side` set to the square.
    pub pixels: Pixels,
    /// The square on the displayed photo.
    pub square: Square,
    /// The face the square was framed on, on the displayed photo.
    pub face: Option<FaceBox>,
    /// What an administrator should check.
    pub warnings: Vec<Warning>,
}

/// Decodes `bytes` and places the square for `master_side` outputs.
pub fn decode_placed(
    bytes: &[u8],
    header: &Header,
    master_side: u32,
    options: &RenderOptions,
) -> Result<Placed, PipelineError> {
    let (w, h, orientation) = (header.width, header.height, header.orientation);
    let (dw, dh) = geometry::displayed_size(w, h, orientation);
    let known = match (options.focus, options.crop) {
        (Some(focus), _) => Some(framing::around_point(dw, dh, focus)),
        (None, CropMode::Face) => None,
        (None, mode) => Some(framing::geometric(dw, dh, mode)),
    };
    if let Some(square) = known {
        let stored = geometry::to_stored(square, w, h, orientation);
        let pixels = decode::decode(bytes, header, stored, master_side, options)?;
        return Ok(Placed {
            pixels,
            square,
            face: None,
            warnings: Vec::new(),
        });
    }

    let (mut pixels, scale) = decode::decode_whole(bytes, header, master_side, options)?;
    let faces = find_faces(&pixels, orientation, scale);
    // Zoom no further than keeps `master_side` decoded pixels in the square.
    let min_side = (f64::from(master_side) / scale).ceil() as u32;
    let square = match faces.first() {
        Some(face) => framing::around_face(dw, dh, face, min_side),
        None => framing::geometric(dw, dh, CropMode::Top),
    };
    let warnings = framing::judge(&faces, dw.min(dh));
    set_square(
        &mut pixels,
        geometry::to_stored(square, w, h, orientation),
        scale,
    );
    Ok(Placed {
        pixels,
        square,
        face: faces.first().copied(),
        warnings,
    })
}

/// Faces on the displayed photo, largest first, found on a small copy of
/// the decoded buffer (whose pixels are `scale` stored pixels each).
pub fn find_faces(pixels: &Pixels, orientation: Orientation, scale: f64) -> Vec<FaceBox> {
    let Some((copy, factor)) =
        face::detection_image(&pixels.rgb, pixels.width, pixels.height, orientation)
    else {
        return Vec::new();
    };
    face::detect(&copy)
        .into_iter()
        .map(|f| face::scale(f, factor / scale))
        .collect()
}

/// Points a whole-frame buffer (decoded at `scale`) at a stored square.
fn set_square(pixels: &mut Pixels, square: Square, scale: f64) {
    pixels.left = f64::from(square.x) * scale;
    pixels.top = f64::from(square.y) * scale;
    // Scaled dimensions are rounded up, so the square may overhang by a pixel.
    pixels.side = (f64::from(square.side) * scale)
        .min(f64::from(pixels.width) - pixels.left)
        .min(f64::from(pixels.height) - pixels.top);
}
