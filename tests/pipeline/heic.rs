//! HEIC input, on files written by an independent encoder (pillow-heif /
//! libheif + x265; see tests/fixtures/heic/README.md): a single image, an
//! iPhone-style grid, the irot/imir boxes of every EXIF orientation, and a
//! face; plus what is refused and how.

use image::metadata::Orientation;
use image::{DynamicImage, Rgb, RgbImage};
use photosync::pipeline::{CropMode, Format, RenderOptions, Warning};

use crate::{assert_colour, decode, render_ok, render_with};

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 60];
const BLUE: [u8; 3] = [30, 60, 220];
const YELLOW: [u8; 3] = [230, 210, 40];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/heic/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The picture the fixtures were encoded from: 320x240 in four quadrants.
fn quadrants() -> RgbImage {
    RgbImage::from_fn(320, 240, |x, y| {
        Rgb(match (x < 160, y < 120) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => YELLOW,
        })
    })
}

fn centre_crop() -> RenderOptions {
    RenderOptions {
        crop: CropMode::Center,
        sizes: vec![96, 240],
        min_size: 96,
        ..RenderOptions::default()
    }
}

/// Checks the 240 master against the centre square of `shown` at four
/// points well inside each quadrant.
fn assert_matches(jpeg: &[u8], shown: &RgbImage, what: &str) {
    let out = decode(jpeg);
    let side = shown.width().min(shown.height());
    let (ox, oy) = ((shown.width() - side) / 2, (shown.height() - side) / 2);
    for (x, y) in [
        (30, 30),
        (side - 30, 30),
        (30, side - 30),
        (side - 30, side - 30),
    ] {
        let expected = shown.get_pixel(ox + x, oy + y).0;
        let got = out.get_pixel(x, y).0;
        assert!(
            got.iter().zip(expected).all(|(g, e)| g.abs_diff(e) <= 40),
            "{what}: ({x},{y}) is {got:?}, expected {expected:?}"
        );
    }
}

#[test]
fn a_heic_photo_renders_like_a_jpeg() {
    let r = render_with(&fixture("quadrants.heic"), &centre_crop());
    assert_eq!(r.format, Format::Heic);
    assert_eq!((r.width, r.height), (320, 240));
    assert_eq!(
        r.thumbnails.iter().map(|t| t.size).collect::<Vec<_>>(),
        [96, 240]
    );
    assert_matches(&r.master().jpeg, &quadrants(), "single image");
}

#[test]
fn a_grid_heic_like_iphones_write_is_assembled() {
    let r = render_with(&fixture("quadrants-grid.heic"), &centre_crop());
    assert_eq!((r.width, r.height), (320, 240));
    assert_matches(&r.master().jpeg, &quadrants(), "grid");
    // The tile seams (x = 128, 256 in the photo; 88 and 216 in the square)
    // carry no visible edge: the quadrant colour runs straight across.
    let out = decode(&r.master().jpeg);
    assert_colour(&out, 88, 60, RED, 40);
    assert_colour(&out, 216, 60, GREEN, 40);
}

#[test]
fn irot_and_imir_are_honoured_and_exif_orientation_ignored() {
    for tag in 2..=8u8 {
        let mut shown = DynamicImage::ImageRgb8(quadrants());
        shown.apply_orientation(Orientation::from_exif(tag).unwrap());
        let shown = shown.into_rgb8();
        let r = render_with(
            &fixture(&format!("quadrants-orientation{tag}.heic")),
            &centre_crop(),
        );
        assert_eq!((r.width, r.height), shown.dimensions(), "orientation {tag}");
        assert_matches(&r.master().jpeg, &shown, &format!("orientation {tag}"));
    }
}

#[test]
fn a_face_in_a_heic_is_framed() {
    let r = render_ok(&fixture("astronaut-scene.heic"));
    assert_eq!(r.warnings, Vec::<Warning>::new());
    let face = r.face.expect("face found");
    // Pasted at x 170, side 300: face centre near 170 + 0.433 * 300 = 300.
    assert!((face.center_x() - 300.0).abs() < 20.0, "{face:?}");
    let sq = r.square;
    assert!(f64::from(sq.x) < face.x && face.x + face.width < f64::from(sq.x + sq.side));
}

#[test]
fn damaged_and_other_heif_files_get_clear_errors() {
    let full = fixture("quadrants.heic");
    let cut = crate::render_err(&full[..full.len() / 2]);
    assert_eq!(cut.code().as_str(), "corrupt-image", "{cut}");

    // The same container with its image item retyped as AV1: named in the message.
    let mut av1 = full.clone();
    let at = av1
        .windows(4)
        .position(|w| w == b"hvc1")
        .expect("item type");
    av1[at..at + 4].copy_from_slice(b"av01");
    let e = crate::render_err(&av1);
    assert_eq!(e.code().as_str(), "unsupported-format");
    assert!(e.to_string().contains("AV1 (AVIF)"), "{e}");

    // An AVIF brand is refused by its brand alone.
    let mut avif = full;
    avif[8..12].copy_from_slice(b"avif");
    let e = crate::render_err(&avif);
    assert_eq!(e.code().as_str(), "unsupported-format");
    assert!(e.to_string().contains("AVIF"), "{e}");
}

#[test]
fn the_pixel_limit_applies_before_decoding() {
    let options = RenderOptions {
        max_pixels: 320 * 240 - 1,
        ..centre_crop()
    };
    let e = photosync::pipeline::render(&fixture("quadrants.heic"), &options).unwrap_err();
    assert_eq!(e.code().as_str(), "image-too-large", "{e}");
}

/// A bounded, deterministic mutation run over the grid and rotated
/// fixtures (byte flips, overwrites, truncations): every result is a
/// rendition or a pipeline error, never a panic, abort or runaway
/// allocation (the test binary's allocator would show one). The open-ended
/// run is `cargo fuzz run render`, whose target reaches HEIC the same way.
#[test]
fn mutated_heic_files_fail_cleanly() {
    let options = RenderOptions {
        sizes: vec![16, 48],
        min_size: 8,
        max_pixels: 4_000_000,
        ..RenderOptions::default()
    };
    let mut noise = crate::corpus::Noise::new(17);
    for name in ["quadrants-grid.heic", "quadrants-orientation5.heic"] {
        let original = fixture(name);
        for round in 0..150 {
            let mut bytes = original.clone();
            let at =
                (usize::from(noise.next_u8()) << 8 | usize::from(noise.next_u8())) % bytes.len();
            match round % 3 {
                0 => bytes[at] ^= 1 << (noise.next_u8() % 8),
                1 => bytes[at] = noise.next_u8(),
                _ => bytes.truncate(at),
            }
            if let Err(e) = photosync::pipeline::render(&bytes, &options) {
                assert!(
                    [
                        "corrupt-image",
                        "unsupported-format",
                        "image-too-large",
                        "image-too-small"
                    ]
                    .contains(&e.code().as_str()),
                    "{name} round {round}: {e}"
                );
            }
        }
    }
}
