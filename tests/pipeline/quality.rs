//! Downscaling quality: the fast path (reduced-scale JPEG decode, SIMD
//! resize, cascade) must look like a Lanczos3 resize of the full-resolution
//! photo.

use image::imageops::{FilterType, resize};
use image::{DynamicImage, RgbImage};
use image_compare::{Algorithm, rgb_similarity_structure};

use crate::{corpus, decode, render_ok};

/// Reference: full decode by the `image` crate, same square, Lanczos3.
fn reference(jpeg: &[u8], left: u32, top: u32, side: u32, size: u32) -> RgbImage {
    let full = image::load_from_memory(jpeg).unwrap();
    let square = DynamicImage::ImageRgb8(full.into_rgb8())
        .crop_imm(left, top, side, side)
        .into_rgb8();
    resize(&square, size, size, FilterType::Lanczos3)
}

#[test]
fn thumbnails_match_a_full_resolution_lanczos_reference() {
    // Portrait 2800x3500: decoded at 1/2 scale (1400 >= 2 x 648), top crop
    // at 15% of the 700-row excess.
    let jpeg = corpus::jpeg(&corpus::photo(2800, 3500), 90, false);
    let rendition = render_ok(&jpeg);
    for size in [648, 96] {
        let ours = decode(
            &rendition
                .thumbnails
                .iter()
                .find(|t| t.size == size)
                .unwrap()
                .jpeg,
        );
        let reference = reference(&jpeg, 0, 105, 2800, size);
        let ssim = rgb_similarity_structure(&Algorithm::MSSIMSimple, &ours, &reference)
            .unwrap()
            .score;
        eprintln!("SSIM {size}: {ssim:.4}");
        assert!(ssim >= 0.95, "SSIM of the {size} output is {ssim:.4}");
    }
}
