//! Frontal face detection for the face-centred crop, with `rustface` (a pure
//! Rust port of the SeetaFace detector, BSD-2-Clause) and its frontal model,
//! embedded in the binary so nothing is loaded at run time (see NOTICE).
//!
//! Detection runs on a small grey copy of the pixels the pipeline already
//! decoded ([`DETECT_SIDE`] pixels on its short side, upright as displayed),
//! so it costs the same few milliseconds whatever the photo's size. The
//! detector's window is 40 pixels, so faces narrower than 40/288 (13.9%) of
//! the photo's short side are not found.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage};
use rustface::{ImageData, Model};

/// SeetaFace's frontal face model (`seeta_fd_frontal_v1.0.bin` as shipped in
/// the rustface 0.1.7 crate, SHA-256 c4619d06…3ff5d).
static MODEL_BYTES: &[u8] = include_bytes!("../../assets/seeta_fd_frontal_v1.0.bin");

/// Short side of the copy detection runs on (384x288 for a 4:3 photo). The
/// detector's cost grows with the copy's area; this is the smallest copy on
/// which a face under 15% of the short side (`face-too-small`) can still be
/// found at all (40 / 288 = 13.9%).
pub const DETECT_SIDE: u32 = 288;

/// The copy's long side is capped at twice the short one (panoramas).
const DETECT_LONG_SIDE: u32 = 2 * DETECT_SIDE;

/// The detector never reports a face smaller than its 40-pixel window.
const WINDOW: u32 = 40;

/// Detection score a face must reach; 2.0 is what SeetaFace's own example
/// uses (rustface defaults to a stricter 3.85, which misses small faces).
const SCORE_THRESHOLD: f64 = 2.0;

/// Sliding window step (pixels) and pyramid factor: coarser than the
/// defaults (4 and 0.8), which cost 3-4x more for the same faces here.
const STEP: u32 = 6;
const PYRAMID_FACTOR: f32 = 0.75;

/// One face, in pixels of the photo as displayed (after orientation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width (SeetaFace boxes are square: brows to chin, cheek to cheek).
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl FaceBox {
    /// Horizontal centre.
    pub fn center_x(&self) -> f64 {
        self.x + self.width / 2.0
    }
}

/// The parsed model, shared by every detection (parsing takes ~2 ms).
fn model() -> Option<&'static Model> {
    static MODEL: OnceLock<Option<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| rustface::read_model(MODEL_BYTES).ok())
        .as_ref()
}

/// A grey copy of an RGB buffer for detection: its short side
/// [`DETECT_SIDE`] (never enlarged), turned upright by `orientation`.
/// Returns the copy and the factor from copy pixels to buffer pixels.
pub fn detection_image(
    rgb: &[u8],
    width: u32,
    height: u32,
    orientation: Orientation,
) -> Option<(GrayImage, f64)> {
    let (short, long) = (width.min(height), width.max(height));
    let shrink = (f64::from(short) / f64::from(DETECT_SIDE))
        .max(f64::from(long) / f64::from(DETECT_LONG_SIDE))
        .max(1.0);
    let (w, h) = (
        ((f64::from(width) / shrink).round() as u32).max(1),
        ((f64::from(height) / shrink).round() as u32).max(1),
    );
    let src = ImageRef::new(width, height, rgb, PixelType::U8x3).ok()?;
    let mut small = Image::new(w, h, PixelType::U8x3);
    // A box filter is plenty for detection and several times faster than Lanczos.
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box));
    Resizer::new().resize(&src, &mut small, &options).ok()?;
    let grey: Vec<u8> = small
        .buffer()
        .chunks_exact(3)
        .map(|p| {
            // BT.601 luma, as SeetaFace was trained on.
            ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114 + 500) / 1000)
                as u8
        })
        .collect();
    let grey = GrayImage::from_raw(w, h, grey)?;
    let mut image = DynamicImage::ImageLuma8(grey);
    image.apply_orientation(orientation);
    Some((image.into_luma8(), f64::from(width) / f64::from(w)))
}

/// Frontal faces in an upright grey image, largest first, in its pixels.
/// Images too small for the detector's window have no faces; a panic inside
/// the detector is treated as "no face" (the crop then falls back to the
/// top-biased square, and the report says no face was found).
pub fn detect(image: &GrayImage) -> Vec<FaceBox> {
    let (width, height) = image.dimensions();
    if width < WINDOW || height < WINDOW {
        return Vec::new();
    }
    let Some(model) = model() else {
        return Vec::new();
    };
    let found = catch_unwind(AssertUnwindSafe(|| {
        let mut detector = rustface::create_detector_with_model(model.clone());
        detector.set_min_face_size(WINDOW);
        detector.set_score_thresh(SCORE_THRESHOLD);
        detector.set_pyramid_scale_factor(PYRAMID_FACTOR);
        detector.set_slide_window_step(STEP, STEP);
        detector.detect(&ImageData::new(image.as_raw(), width, height))
    }))
    .unwrap_or_default();
    let mut faces: Vec<FaceBox> = found
        .iter()
        .map(|f| {
            let b = f.bbox();
            FaceBox {
                x: f64::from(b.x()),
                y: f64::from(b.y()),
                width: f64::from(b.width()),
                height: f64::from(b.height()),
            }
        })
        .collect();
    faces.sort_by(|a, b| b.width.total_cmp(&a.width));
    faces
}

/// Scales a face box found on a detection copy back to displayed-photo pixels.
pub fn scale(face: FaceBox, factor: f64) -> FaceBox {
    FaceBox {
        x: face.x * factor,
        y: face.y * factor,
        width: face.width * factor,
        height: face.height * factor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_parses() {
        assert!(model().is_some());
    }

    #[test]
    fn a_flat_image_has_no_face() {
        let grey = GrayImage::from_pixel(384, 288, image::Luma([128]));
        assert!(detect(&grey).is_empty());
        // Smaller than the window: no detector call at all (rustface would panic on 0).
        assert!(detect(&GrayImage::new(0, 0)).is_empty());
        assert!(detect(&GrayImage::new(30, 300)).is_empty());
    }

    #[test]
    fn the_detection_copy_is_small_and_upright() {
        let rgb = vec![200u8; 4032 * 3024 * 3];
        let (copy, factor) = detection_image(&rgb, 4032, 3024, Orientation::Rotate90).unwrap();
        assert_eq!(copy.dimensions(), (288, 384));
        assert!((factor - 3024.0 / 288.0).abs() < 1e-9);
        assert_eq!(copy.get_pixel(0, 0).0, [200]);
        // Never enlarged.
        let rgb = vec![0u8; 100 * 50 * 3];
        let (copy, factor) = detection_image(&rgb, 100, 50, Orientation::NoTransforms).unwrap();
        assert_eq!((copy.dimensions(), factor), ((100, 50), 1.0));
    }
}
