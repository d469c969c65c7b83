//! The face-centred crop: the astronaut portrait (tests/fixtures/faces)
//! composited into wide, tall and tiny placements, two faces and every EXIF
//! orientation; each test checks where the square lands and that the
//! thumbnail really shows that square.

use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{DynamicImage, Rgb, RgbImage};
use photosync::pipeline::{CropMode, Focus, RenderOptions, Rendition, Warning};

use crate::{corpus, decode, render_ok, render_with};

/// Where SeetaFace puts the astronaut's face box in her portrait, as
/// fractions of the portrait's side: centre (0.433, 0.228), width 0.193
/// (the box rustface reports on the original 512x512 frame).
const FACE_CX: f64 = 0.433;
const FACE_CY: f64 = 0.228;
const FACE_W: f64 = 0.193;

fn astronaut(side: u32) -> RgbImage {
    let original = image::load_from_memory(include_bytes!("../fixtures/faces/astronaut-256.jpg"))
        .unwrap()
        .into_rgb8();
    imageops::resize(&original, side, side, FilterType::Triangle)
}

/// A canvas with textured background and an astronaut of `side` pixels at
/// each `(x, y)`; returns it with the expected face boxes (cx, cy, width).
fn scene(width: u32, height: u32, people: &[(u32, u32, u32)]) -> (RgbImage, Vec<(f64, f64, f64)>) {
    let mut canvas = RgbImage::from_fn(width, height, |x, y| {
        let t = ((x / 7 + y / 5) % 9) as u8;
        Rgb([96 + t, 110 + t, 128 + t])
    });
    let mut faces = Vec::new();
    for &(x, y, side) in people {
        imageops::overlay(&mut canvas, &astronaut(side), i64::from(x), i64::from(y));
        let s = f64::from(side);
        faces.push((
            f64::from(x) + FACE_CX * s,
            f64::from(y) + FACE_CY * s,
            FACE_W * s,
        ));
    }
    (canvas, faces)
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    corpus::jpeg(image, 92, false)
}

/// The face (cx, cy, w) lies inside the square and, unless the square had
/// to be clamped to the photo's edge, is centred horizontally within 4% of
/// its side; the detector's box is where the face was pasted.
fn assert_framed(r: &Rendition, face: (f64, f64, f64)) {
    let (cx, cy, w) = face;
    let sq = r.square;
    let (left, top, side) = (f64::from(sq.x), f64::from(sq.y), f64::from(sq.side));
    let found = r.face.expect("a face was found");
    assert!(
        (found.center_x() - cx).abs() < 0.25 * w && (found.width - w).abs() < 0.3 * w,
        "detected {found:?}, pasted at cx {cx}, width {w}"
    );
    assert!(
        left <= cx - w / 2.0 && cx + w / 2.0 <= left + side,
        "face {face:?} not inside horizontally: {sq:?}"
    );
    assert!(
        top <= cy - w / 2.0 && cy + w / 2.0 <= top + side,
        "face {face:?} not inside vertically: {sq:?}"
    );
    let clamped = sq.x == 0 || sq.x + sq.side == r.width;
    if !clamped {
        assert!(
            (cx - (left + side / 2.0)).abs() <= 0.04 * side,
            "face at {cx} is off-centre in {sq:?}"
        );
    }
    // Headroom: unless clamped, the face's centre sits just above the middle.
    let at = (cy - top) / side;
    if sq.y > 0 && sq.y + sq.side < r.height {
        assert!(
            (0.3..0.6).contains(&at),
            "face centre {at:.2} of the way down"
        );
    }
}

/// The master shows the pixels of `r.square` of the displayed `shown` image.
fn assert_shows_square(r: &Rendition, shown: &RgbImage) {
    let sq = r.square;
    let expected = imageops::resize(
        &imageops::crop_imm(shown, sq.x, sq.y, sq.side, sq.side).to_image(),
        96,
        96,
        FilterType::Triangle,
    );
    let thumb = r.thumbnails.iter().find(|t| t.size == 96).unwrap();
    let got = decode(&thumb.jpeg);
    let diff: u64 = got
        .as_raw()
        .iter()
        .zip(expected.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / got.as_raw().len() as f64;
    assert!(
        mean < 8.0,
        "thumbnail differs from its square by {mean:.1} per channel"
    );
}

#[test]
fn a_wide_photo_is_centred_on_an_off_centre_face() {
    let (shown, faces) = scene(1800, 1000, &[(800, 0, 1000)]);
    let r = render_ok(&jpeg(&shown));
    assert_eq!(r.warnings, vec![]);
    assert_framed(&r, faces[0]);
    assert_shows_square(&r, &shown);
    // Zoomed in: the face is about 42% of the square, not 19% of the frame.
    let share = faces[0].2 / f64::from(r.square.side);
    assert!(share > 0.25, "face is {share:.2} of the square");
    // The old top/centre crop would have centred on x = 900, 332 px off the face.
    let top = render_with(
        &jpeg(&shown),
        &RenderOptions {
            crop: CropMode::Top,
            ..RenderOptions::default()
        },
    );
    assert_eq!((top.square.x, top.square.side, top.face), (400, 1000, None));
}

#[test]
fn a_tall_photo_with_the_face_near_the_bottom() {
    let (shown, faces) = scene(900, 1700, &[(0, 760, 900)]);
    let r = render_ok(&jpeg(&shown));
    assert_framed(&r, faces[0]);
    assert_shows_square(&r, &shown);
    // The top-biased square (rows 120..1020) would cut through the chin.
    assert!(r.square.y > 400, "{:?}", r.square);
}

#[test]
fn a_selfie_with_the_head_at_the_very_top_keeps_the_hair() {
    let (shown, faces) = scene(1000, 1600, &[(0, 0, 1000)]);
    let r = render_ok(&jpeg(&shown));
    assert_framed(&r, faces[0]);
    assert_eq!(r.square.y, 0, "clamped to the top, hair kept");
}

#[test]
fn a_small_face_is_found_zoomed_on_and_reported() {
    // Face 14.5% of the short side: found, but a "taken from too far" photo.
    let (shown, faces) = scene(1600, 1200, &[(500, 300, 900)]);
    let r = render_ok(&jpeg(&shown));
    assert_eq!(r.warnings, vec![Warning::FaceTooSmall]);
    assert_framed(&r, faces[0]);
    assert_shows_square(&r, &shown);
}

#[test]
fn a_tiny_face_is_not_found_and_the_top_crop_is_used() {
    // Face 3% of the short side: below the detector's reach (13.9%).
    let (shown, _) = scene(2400, 1800, &[(1700, 1300, 300)]);
    let r = render_ok(&jpeg(&shown));
    assert_eq!(r.warnings, vec![Warning::NoFaceFound]);
    assert_eq!(r.face, None);
    assert_eq!((r.square.x, r.square.y, r.square.side), (300, 0, 1800));
}

#[test]
fn two_faces_frame_the_larger_and_warn() {
    let (shown, faces) = scene(2000, 1000, &[(0, 0, 1000), (1100, 100, 900)]);
    let r = render_ok(&jpeg(&shown));
    assert_eq!(r.warnings, vec![Warning::SeveralFaces]);
    assert_framed(&r, faces[0]);
    assert_shows_square(&r, &shown);
}

#[test]
fn every_exif_orientation_finds_the_same_face() {
    let (shown, faces) = scene(1800, 1000, &[(800, 0, 1000)]);
    let upright = render_ok(&jpeg(&shown)).square;
    for tag in 2..=8u8 {
        let orientation = Orientation::from_exif(tag).unwrap();
        let mut stored = DynamicImage::ImageRgb8(shown.clone());
        // Store the pixels so that applying `orientation` shows `shown`.
        stored.apply_orientation(match orientation {
            Orientation::Rotate90 => Orientation::Rotate270,
            Orientation::Rotate270 => Orientation::Rotate90,
            other => other,
        });
        let bytes = corpus::with_exif(&jpeg(&stored.into_rgb8()), u16::from(tag));
        let r = render_ok(&bytes);
        assert_eq!((r.width, r.height), (1800, 1000), "orientation {tag}");
        assert_framed(&r, faces[0]);
        assert_shows_square(&r, &shown);
        let moved = r.square.x.abs_diff(upright.x) + r.square.y.abs_diff(upright.y);
        assert!(
            moved <= 12 && r.square.side.abs_diff(upright.side) <= 12,
            "orientation {tag}: {:?} vs upright {upright:?}",
            r.square
        );
    }
}

#[test]
fn a_focus_point_overrides_detection() {
    let (shown, _) = scene(1800, 1000, &[(800, 0, 1000)]);
    let options = RenderOptions {
        focus: Focus::new(0.1, 0.5),
        ..RenderOptions::default()
    };
    let r = render_with(&jpeg(&shown), &options);
    // The largest square, centred on x = 180 and clamped to the left edge.
    assert_eq!((r.square.x, r.square.y, r.square.side), (0, 0, 1000));
    assert_eq!((r.face, r.warnings.clone()), (None, vec![]));
    assert_shows_square(&r, &shown);
}

#[test]
fn png_input_is_face_cropped_too() {
    let (shown, faces) = scene(1200, 800, &[(500, 0, 800)]);
    let bytes = corpus::encode(
        &DynamicImage::ImageRgb8(shown.clone()),
        image::ImageFormat::Png,
    );
    let r = render_ok(&bytes);
    assert_framed(&r, faces[0]);
    assert_shows_square(&r, &shown);
}
