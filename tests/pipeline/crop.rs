//! Where the square comes from: orientation first, then the crop rule.

use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use photosync::pipeline::{CropMode, RenderOptions};

use crate::corpus;
use crate::{assert_colour, decode, render_ok, render_with};

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 60];
const BLUE: [u8; 3] = [30, 60, 220];
const YELLOW: [u8; 3] = [230, 210, 40];

/// A 300x200 photo as the viewer should see it: four coloured quadrants.
fn shown() -> RgbImage {
    RgbImage::from_fn(300, 200, |x, y| {
        Rgb(match (x < 150, y < 100) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => YELLOW,
        })
    })
}

fn inverse(orientation: Orientation) -> Orientation {
    match orientation {
        Orientation::Rotate90 => Orientation::Rotate270,
        Orientation::Rotate270 => Orientation::Rotate90,
        other => other,
    }
}

#[test]
fn every_exif_orientation_is_applied_before_cropping() {
    for tag in 1..=8u8 {
        let orientation = Orientation::from_exif(tag).unwrap();
        let mut stored = DynamicImage::ImageRgb8(shown());
        stored.apply_orientation(inverse(orientation));
        let jpeg = corpus::with_exif(
            &corpus::jpeg(&stored.into_rgb8(), 95, false),
            u16::from(tag),
        );
        let rendition = render_ok(&jpeg);
        assert_eq!(
            (rendition.width, rendition.height),
            (300, 200),
            "orientation {tag}"
        );
        let out = decode(&rendition.master().jpeg);
        assert_eq!(out.dimensions(), (200, 200));
        for (x, y, colour) in [
            (50, 50, RED),
            (150, 50, GREEN),
            (50, 150, BLUE),
            (150, 150, YELLOW),
        ] {
            assert_colour(&out, x, y, colour, 40);
        }
    }
}

/// A portrait photo in horizontal bands, 10 rows each, band i grey level 10*i.
fn banded_portrait() -> Vec<u8> {
    let image = RgbImage::from_fn(200, 400, |_, y| {
        let level = (y / 10 * 6) as u8;
        Rgb([level, level, level])
    });
    corpus::encode(&DynamicImage::ImageRgb8(image), ImageFormat::Png)
}

/// Grey level of the top-left output row, mapped back to the source row.
fn first_source_row(options: &RenderOptions) -> u32 {
    let out = decode(&render_with(&banded_portrait(), options).master().jpeg);
    (u32::from(out.get_pixel(100, 3).0[0]) + 3) / 6 * 10
}

#[test]
fn portraits_keep_the_top_by_default() {
    // Excess height 200: the square starts 15% of it (30 rows) down.
    assert_eq!(first_source_row(&RenderOptions::default()), 30);
}

#[test]
fn center_crop_mode_centres_portraits() {
    let options = RenderOptions {
        crop: CropMode::Center,
        ..RenderOptions::default()
    };
    assert_eq!(first_source_row(&options), 100);
}

#[test]
fn landscapes_are_centre_cropped_and_squares_are_kept_whole() {
    // Landscape: left third red, middle white, right third blue; 300x100.
    let landscape = RgbImage::from_fn(300, 100, |x, _| {
        Rgb(if x < 100 {
            RED
        } else if x < 200 {
            [255, 255, 255]
        } else {
            BLUE
        })
    });
    let options = RenderOptions {
        min_size: 48,
        ..RenderOptions::default()
    };
    let bytes = corpus::encode(&DynamicImage::ImageRgb8(landscape), ImageFormat::Png);
    let out = decode(&render_with(&bytes, &options).master().jpeg);
    assert_colour(&out, 2, 50, [255, 255, 255], 10);
    assert_colour(&out, 97, 50, [255, 255, 255], 10);

    let square = RgbImage::from_fn(200, 200, |x, _| {
        Rgb(if x < 4 { RED } else { [255, 255, 255] })
    });
    let bytes = corpus::encode(&DynamicImage::ImageRgb8(square), ImageFormat::Png);
    let out = decode(&render_ok(&bytes).master().jpeg);
    assert_colour(&out, 1, 100, RED, 60);
}

/// `inspect` (header only, what the web page checks before storing) reads
/// the displayed size, and the rendition says where its square is on the
/// displayed photo (what the page draws), for every EXIF orientation and
/// both geometric crop rules.
#[test]
fn the_preview_square_is_the_square_render_cuts() {
    // 200x400 as displayed: red above row 60, blue below.
    let shown = RgbImage::from_fn(200, 400, |_, y| Rgb(if y < 60 { RED } else { BLUE }));
    for tag in 1..=8u8 {
        let orientation = Orientation::from_exif(tag).unwrap();
        let mut stored = DynamicImage::ImageRgb8(shown.clone());
        stored.apply_orientation(inverse(orientation));
        let jpeg = corpus::with_exif(
            &corpus::jpeg(&stored.into_rgb8(), 95, false),
            u16::from(tag),
        );
        for (crop, top) in [(CropMode::Top, 30), (CropMode::Center, 100)] {
            let options = RenderOptions {
                crop,
                ..RenderOptions::default()
            };
            let inspection = photosync::pipeline::inspect(&jpeg, &options).unwrap();
            assert_eq!((inspection.width, inspection.height), (200, 400));
            let rendition = render_with(&jpeg, &options);
            let square = rendition.square;
            assert_eq!(
                (square.x, square.y, square.side),
                (0, top, 200),
                "orientation {tag} {crop:?}"
            );
            let out = decode(&rendition.master().jpeg);
            // Rows above 60 - top are red in the square, the rest blue.
            let red_rows = 60u32.saturating_sub(top);
            if red_rows > 10 {
                assert_colour(&out, 100, red_rows / 2, RED, 40);
            }
            assert_colour(&out, 100, red_rows + 10, BLUE, 40);
        }
    }
}
