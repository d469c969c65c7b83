//! Bad input gets a clear, stable error code, never a crash or a huge
//! allocation.

use image::{DynamicImage, ImageFormat, RgbImage};
use photosync::pipeline::{RenderOptions, render};

use crate::corpus::{self, Noise};
use crate::render_err;

fn code(bytes: &[u8]) -> &'static str {
    let error = render_err(bytes);
    assert!(!error.is_transient());
    assert!(!error.to_string().is_empty());
    error.code().as_str()
}

#[test]
fn empty_random_and_non_image_files_are_refused() {
    assert_eq!(code(&[]), "corrupt-image");
    let mut noise = Noise::new(42);
    let random: Vec<u8> = (0..4096).map(|_| noise.next_u8()).collect();
    assert_eq!(code(&random), "unsupported-format");
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    assert_eq!(code(pdf), "unsupported-format");
}

#[test]
fn heic_without_an_image_and_avif_get_specific_messages() {
    // A HEIC brand but no meta box: decoded as HEIC, found damaged.
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08mdat";
    let error = render_err(heic);
    assert_eq!(error.code().as_str(), "corrupt-image", "{error}");
    assert!(error.to_string().contains("HEIF container"), "{error}");
    let avif = b"\0\0\0\x18ftypavif\0\0\0\0mif1avif\0\0\0\x08mdat";
    let error = render_err(avif);
    assert_eq!(error.code().as_str(), "unsupported-format");
    assert_eq!(
        error.to_string(),
        "AVIF photos are not supported; export the photo as JPEG or HEIC"
    );
}

#[test]
fn truncated_files_are_corrupt() {
    let jpeg = corpus::jpeg(&corpus::photo(400, 300), 90, false);
    for cut in [jpeg.len() / 2, jpeg.len() - 200, 300, 20, 3] {
        assert_eq!(code(&jpeg[..cut]), "corrupt-image", "JPEG cut at {cut}");
    }
    let png = corpus::encode(
        &DynamicImage::ImageRgb8(corpus::photo(300, 300)),
        ImageFormat::Png,
    );
    assert_eq!(code(&png[..png.len() / 2]), "corrupt-image");
}

#[test]
fn damaged_jpeg_data_is_corrupt() {
    let mut jpeg = corpus::jpeg(&corpus::photo(400, 300), 90, false);
    let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    for byte in &mut jpeg[scan + 200..scan + 260] {
        *byte = 0xFF; // marker bytes inside entropy-coded data
    }
    assert_eq!(code(&jpeg), "corrupt-image");
}

#[test]
fn twelve_bit_jpeg_is_refused_cleanly() {
    let mut jpeg = corpus::jpeg(&corpus::photo(200, 200), 90, false);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 4] = 12; // precision byte of the frame header
    let error = render_err(&jpeg);
    assert_eq!(error.code().as_str(), "unsupported-format");
    assert!(error.to_string().contains("12-bit"), "{error}");
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    let bomb = corpus::png_bomb(30_000);
    assert!(bomb.len() < 1_000_000, "bomb is {} bytes", bomb.len());
    let (error, largest) = crate::alloc_probe::largest_allocation(|| render_err(&bomb));
    assert_eq!(error.code().as_str(), "image-too-large");
    assert!(largest < 1 << 20, "allocated {largest} bytes at once");
    // The same generator makes a PNG that decodes: the bomb is a real PNG.
    let small = corpus::png_bomb(300);
    let decoded = image::load_from_memory(&small).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (300, 300));
}

#[test]
fn byte_and_pixel_limits_are_enforced() {
    let jpeg = corpus::jpeg(&corpus::photo(400, 300), 90, false);
    let options = RenderOptions {
        max_bytes: 1000,
        ..RenderOptions::default()
    };
    assert_eq!(
        render(&jpeg, &options).unwrap_err().code().as_str(),
        "image-too-large"
    );
    let options = RenderOptions {
        max_pixels: 100_000,
        ..RenderOptions::default()
    };
    assert_eq!(
        render(&jpeg, &options).unwrap_err().code().as_str(),
        "image-too-large"
    );
}

#[test]
fn thin_strip_is_too_small() {
    let strip = RgbImage::from_pixel(1, 10_000, image::Rgb([9, 9, 9]));
    let png = corpus::encode(&DynamicImage::ImageRgb8(strip), ImageFormat::Png);
    assert_eq!(code(&png), "image-too-small");
}

#[test]
fn name_does_not_matter_only_content() {
    // A PNG whose bytes are handed over as if it were a ".jpg" still works.
    let png = corpus::encode(
        &DynamicImage::ImageRgb8(corpus::photo(200, 200)),
        ImageFormat::Png,
    );
    assert!(render(&png, &RenderOptions::default()).is_ok());
}

#[test]
fn stray_bytes_before_a_marker_are_tolerated() {
    // Some cameras and editors leave a few bytes between the scan and the
    // next marker; libjpeg warns "extraneous bytes" and every viewer shows
    // the photo, so the pipeline must too.
    let jpeg = corpus::jpeg(&corpus::photo(300, 300), 90, false);
    let mut padded = jpeg[..jpeg.len() - 2].to_vec();
    padded.extend([0x12, 0x34, 0x56, 0xFF, 0xD9]);
    assert!(render(&padded, &RenderOptions::default()).is_ok());
}
