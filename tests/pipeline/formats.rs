//! Every supported container decodes, with its colour intact.

use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb, RgbImage, Rgba};
use photosync::pipeline::{Format, RenderOptions};

use crate::corpus;
use crate::{assert_colour, decode, render_ok, render_with};

const ORANGE: [u8; 3] = [230, 120, 30];

fn solid(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb(ORANGE)))
}

#[test]
fn recognises_formats_by_content_and_keeps_colour() {
    let cases = [
        (
            Format::Jpeg,
            corpus::jpeg(&solid(300, 200).into_rgb8(), 90, false),
        ),
        (
            Format::Jpeg,
            corpus::jpeg(&solid(300, 200).into_rgb8(), 90, true),
        ),
        (
            Format::Png,
            corpus::encode(&solid(300, 200), ImageFormat::Png),
        ),
        (
            Format::Gif,
            corpus::encode(&solid(300, 200), ImageFormat::Gif),
        ),
        (
            Format::WebP,
            corpus::encode(&solid(300, 200), ImageFormat::WebP),
        ),
        (
            Format::Bmp,
            corpus::encode(&solid(300, 200), ImageFormat::Bmp),
        ),
        (
            Format::Tiff,
            corpus::encode(&solid(300, 200), ImageFormat::Tiff),
        ),
    ];
    for (format, bytes) in cases {
        let rendition = render_ok(&bytes);
        assert_eq!(rendition.format, format);
        assert_eq!(rendition.master().size, 200);
        assert_colour(&decode(&rendition.master().jpeg), 100, 100, ORANGE, 12);
    }
}

#[test]
fn cmyk_jpeg_is_not_inverted() {
    let rendition = render_ok(&corpus::cmyk_jpeg(ORANGE, 256, 256));
    assert_colour(&decode(&rendition.master().jpeg), 128, 128, ORANGE, 16);
}

#[test]
fn grey_jpeg_renders_grey() {
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(200, 200, image::Luma([77])));
    let bytes = corpus::encode(&grey, ImageFormat::Jpeg);
    assert_colour(
        &decode(&render_ok(&bytes).master().jpeg),
        100,
        100,
        [77, 77, 77],
        6,
    );
}

#[test]
fn transparency_is_flattened_onto_white_not_black() {
    // 16-bit RGBA PNG: left half opaque red, right half fully transparent.
    let rgba16: ImageBuffer<Rgba<u16>, Vec<u16>> = ImageBuffer::from_fn(256, 256, |x, _| {
        if x < 128 {
            Rgba([65535, 0, 0, 65535])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let bytes = corpus::encode(&DynamicImage::ImageRgba16(rgba16), ImageFormat::Png);
    let out = decode(&render_ok(&bytes).master().jpeg);
    assert_colour(&out, 40, 128, [255, 0, 0], 12);
    assert_colour(&out, 215, 128, [255, 255, 255], 4);
}

#[test]
fn background_colour_is_configurable() {
    let bytes = corpus::encode(
        &DynamicImage::ImageRgba8(corpus::half_transparent(200, 200)),
        ImageFormat::Png,
    );
    let options = RenderOptions {
        background: [0, 90, 200],
        ..RenderOptions::default()
    };
    let out = decode(&render_with(&bytes, &options).master().jpeg);
    assert_colour(&out, 170, 100, [0, 90, 200], 10);
}

#[test]
fn palette_png_keeps_its_colours() {
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, 128, 128);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_palette(vec![0, 0, 0, 20, 200, 90]);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![1u8; 128 * 128]).unwrap();
    }
    assert_colour(
        &decode(&render_ok(&png).master().jpeg),
        64,
        64,
        [20, 200, 90],
        10,
    );
}

#[test]
fn animated_gif_uses_the_first_of_a_thousand_frames() {
    let rendition = render_ok(&corpus::animated_gif(120, 1000));
    assert_colour(&decode(&rendition.master().jpeg), 60, 60, [255, 0, 0], 12);
}

#[test]
fn wide_gamut_photos_are_converted_to_srgb() {
    use moxcms::{ColorProfile, Layout, TransformOptions};
    let p3_colour = [230, 60, 40];
    let p3 = ColorProfile::new_display_p3();
    let transform = p3
        .create_transform_8bit(
            Layout::Rgb,
            &ColorProfile::new_srgb(),
            Layout::Rgb,
            TransformOptions::default(),
        )
        .unwrap();
    let mut expected = [0u8; 3];
    transform.transform(&p3_colour, &mut expected).unwrap();
    assert!(
        expected[0].abs_diff(p3_colour[0]) > 15,
        "P3 red is redder than sRGB can show"
    );

    let pixels = RgbImage::from_pixel(200, 200, Rgb(p3_colour));
    let jpeg = corpus::with_icc(&corpus::jpeg(&pixels, 95, false), &p3.encode().unwrap());
    let out = decode(&render_ok(&jpeg).master().jpeg);
    assert_colour(&out, 100, 100, expected, 8);
    assert!(
        !corpus::jpeg_markers(&render_ok(&jpeg).master().jpeg).contains(&0xE2),
        "no ICC in output"
    );
}
