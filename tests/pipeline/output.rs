//! What comes out: every size, square, small enough for Graph, no metadata.

use image::{DynamicImage, ImageFormat, RgbImage};
use photosync::graph::MAX_PHOTO_BYTES;
use photosync::pipeline::{DEFAULT_SIZES, RenderOptions};

use crate::corpus::{self, Noise};
use crate::{decode, render_ok, render_with};

#[test]
fn every_default_size_is_a_square_jpeg() {
    let bytes = corpus::jpeg(&corpus::photo(1600, 1200), 90, false);
    let rendition = render_ok(&bytes);
    let sizes: Vec<u32> = rendition.thumbnails.iter().map(|t| t.size).collect();
    assert_eq!(sizes, DEFAULT_SIZES);
    for thumbnail in &rendition.thumbnails {
        let image = decode(&thumbnail.jpeg);
        assert_eq!(image.dimensions(), (thumbnail.size, thumbnail.size));
        assert_eq!(thumbnail.quality, 85);
    }
    assert_eq!(rendition.master().size, 648);
}

#[test]
fn output_carries_no_metadata_and_uses_420_chroma() {
    let bytes = corpus::with_exif(&corpus::jpeg(&corpus::photo(800, 600), 90, false), 1);
    for thumbnail in render_ok(&bytes).thumbnails {
        let markers = corpus::jpeg_markers(&thumbnail.jpeg);
        // Only JFIF (APP0), tables, frame and scan: no EXIF/XMP (APP1),
        // ICC (APP2), Photoshop (APP13) or comment (COM) segments.
        let allowed = [0xE0, 0xDB, 0xC4, 0xC0, 0xDD, 0xDA];
        assert!(
            markers.iter().all(|m| allowed.contains(m)),
            "markers {markers:x?}"
        );
        let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&thumbnail.jpeg));
        assert!(decoder.is_ok());
        let sof = thumbnail
            .jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .unwrap();
        assert_eq!(
            thumbnail.jpeg[sof + 11],
            0x22,
            "luma sampled 2x2 against chroma (4:2:0)"
        );
    }
}

#[test]
fn small_sources_are_never_upscaled() {
    let bytes = corpus::jpeg(&corpus::photo(500, 500), 90, false);
    let rendition = render_ok(&bytes);
    let sizes: Vec<u32> = rendition.thumbnails.iter().map(|t| t.size).collect();
    assert_eq!(sizes, [48, 64, 96, 120, 240, 360, 432, 500]);
    assert_eq!(decode(&rendition.master().jpeg).dimensions(), (500, 500));
}

#[test]
fn photos_below_the_minimum_are_refused() {
    let bytes = corpus::jpeg(&corpus::photo(400, 95), 90, false);
    let error = crate::render_err(&bytes);
    assert_eq!(error.code().as_str(), "image-too-small");
    assert!(error.to_string().contains("400x95"), "{error}");
    let options = RenderOptions {
        min_size: 48,
        ..RenderOptions::default()
    };
    assert_eq!(render_with(&bytes, &options).master().size, 95);
}

#[test]
fn custom_sizes_and_quality_are_honoured() {
    let bytes = corpus::jpeg(&corpus::photo(640, 480), 90, false);
    let options = RenderOptions {
        sizes: vec![100, 200],
        jpeg_quality: 60,
        ..RenderOptions::default()
    };
    let rendition = render_with(&bytes, &options);
    let got: Vec<(u32, u8)> = rendition
        .thumbnails
        .iter()
        .map(|t| (t.size, t.quality))
        .collect();
    assert_eq!(got, [(100, 60), (200, 60)]);
    let high = RenderOptions {
        jpeg_quality: 95,
        ..options
    };
    assert!(render_with(&bytes, &high).master().jpeg.len() > rendition.master().jpeg.len());
}

#[test]
fn an_oversized_master_steps_quality_down_to_fit_graph() {
    // Full-colour noise at 2000x2000, quality 100: well over 4 MB as JPEG.
    let mut noise = Noise::new(7);
    let pixels = RgbImage::from_fn(2000, 2000, |_, _| {
        image::Rgb([noise.next_u8(), noise.next_u8(), noise.next_u8()])
    });
    let bytes = corpus::encode(&DynamicImage::ImageRgb8(pixels), ImageFormat::Bmp);
    let options = RenderOptions {
        sizes: vec![96, 2000],
        jpeg_quality: 100,
        master_max_bytes: Some(MAX_PHOTO_BYTES),
        ..RenderOptions::default()
    };
    let rendition = render_with(&bytes, &options);
    let master = rendition.master();
    assert!(
        master.jpeg.len() <= MAX_PHOTO_BYTES,
        "{} bytes",
        master.jpeg.len()
    );
    assert!(master.quality < 100);
    assert_eq!(
        rendition.thumbnails[0].quality, 100,
        "only the master is stepped down"
    );
}
