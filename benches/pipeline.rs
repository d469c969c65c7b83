//! In-process pipeline benchmark (run by `scripts/bench-pipeline.sh`, or
//! `cargo bench --bench pipeline -- DIR`): generates photo-like inputs into
//! DIR, then times `render` (all nine sizes) and the 1/8-scale JPEG decode
//! floor on one thread, the face crop against the top crop, and face
//! detection alone. The script adds the `vipsthumbnail` comparison and
//! peak RSS, which need separate processes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{DynamicImage, ImageFormat};
use photosync::pipeline::{CropMode, RenderOptions, detect_faces, jpeg_decode_floor, render};

#[allow(dead_code)]
#[path = "../tests/pipeline/corpus.rs"]
mod corpus;

const ROUNDS: usize = 15;

/// Median milliseconds of `ROUNDS` runs after one warm-up.
fn median_ms(mut run: impl FnMut()) -> f64 {
    run();
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[ROUNDS / 2]
}

/// Writes the input once and returns its bytes.
fn input(dir: &Path, name: &str, make: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    let path = dir.join(name);
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes;
    }
    let bytes = make();
    std::fs::write(&path, &bytes).expect("write benchmark input");
    bytes
}

fn main() {
    // `cargo bench` passes `--bench`; the first other argument is the directory.
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map_or_else(|| PathBuf::from("target/bench-inputs"), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("create input directory");
    let jpeg12 = input(&dir, "photo-12mp.jpg", || {
        corpus::jpeg(&corpus::photo(4032, 3024), 90, false)
    });
    let jpeg24 = input(&dir, "photo-24mp.jpg", || {
        corpus::jpeg(&corpus::photo(6000, 4000), 90, false)
    });
    let progressive = input(&dir, "photo-12mp-progressive.jpg", || {
        corpus::jpeg(&corpus::photo(4032, 3024), 90, true)
    });
    let png12 = input(&dir, "photo-12mp.png", || {
        corpus::encode(
            &DynamicImage::ImageRgb8(corpus::photo(4032, 3024)),
            ImageFormat::Png,
        )
    });

    // A 12 MP photo with a person: the astronaut portrait filling the
    // height, right of centre (her face about 19% of the short side).
    let face12 = input(&dir, "photo-12mp-face.jpg", || {
        let mut photo = corpus::photo(4032, 3024);
        let person =
            image::load_from_memory(include_bytes!("../tests/fixtures/faces/astronaut-256.jpg"))
                .expect("fixture")
                .into_rgb8();
        let person =
            image::imageops::resize(&person, 3024, 3024, image::imageops::FilterType::CatmullRom);
        image::imageops::overlay(&mut photo, &person, 900, 0);
        corpus::jpeg(&photo, 90, false)
    });

    let options = RenderOptions {
        crop: CropMode::Center,
        ..RenderOptions::default()
    };
    println!("| input | size | render, 9 sizes (ms) | 1/8 decode floor (ms) | ratio |");
    println!("|---|---|---|---|---|");
    for (name, bytes) in [
        ("12 MP JPEG q90", &jpeg12),
        ("24 MP JPEG q90", &jpeg24),
        ("12 MP progressive JPEG", &progressive),
    ] {
        let ours = median_ms(|| {
            render(bytes, &options).expect("render");
        });
        let floor = median_ms(|| {
            jpeg_decode_floor(bytes).expect("floor");
        });
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "| {name} | {mb:.1} MB | {ours:.1} | {floor:.1} | {:.2}x |",
            ours / floor
        );
    }
    let png = median_ms(|| {
        render(&png12, &options).expect("render");
    });
    println!(
        "| 12 MP PNG | {:.1} MB | {png:.1} | - | - |",
        png12.len() as f64 / 1e6
    );
    face_crop(&jpeg12, &face12);
    encoder_choice(&jpeg12);
}

/// The face crop (whole-frame decode + detection) against the top crop
/// (only the square decoded), and detection alone on the buffer the face
/// crop decodes (12 MP at 1/2 scale: 2016x1512).
fn face_crop(plain: &[u8], face: &[u8]) {
    println!();
    println!("| 12 MP JPEG q90, 9 sizes | crop=top (ms) | crop=face (ms) | face found |");
    println!("|---|---|---|---|");
    for (name, bytes) in [("no person", plain), ("one person", face)] {
        let mode = |crop| RenderOptions {
            crop,
            ..RenderOptions::default()
        };
        let top = median_ms(|| {
            render(bytes, &mode(CropMode::Top)).expect("render");
        });
        let mut found = None;
        let with_face = median_ms(|| {
            found = render(bytes, &mode(CropMode::Face)).expect("render").face;
        });
        let found = found.map_or_else(|| "no".to_owned(), |f| format!("{:.0} px wide", f.width));
        println!("| {name} | {top:.1} | {with_face:.1} | {found} |");
    }
    println!();
    println!("| face detection alone, on the 2016x1512 decode | ms |");
    println!("|---|---|");
    for (name, bytes) in [("no person", plain), ("one person", face)] {
        let full = image::load_from_memory(bytes).expect("decode").into_rgb8();
        let half =
            image::imageops::resize(&full, 2016, 1512, image::imageops::FilterType::Triangle);
        let ms = median_ms(|| {
            std::hint::black_box(detect_faces(half.as_raw(), 2016, 1512));
        });
        println!("| {name} | {ms:.1} |");
    }
}

/// Time and total bytes of encoding the nine squares of one photo with each
/// libjpeg-turbo mode the pipeline could use.
fn encoder_choice(jpeg: &[u8]) {
    let rendition = render(jpeg, &RenderOptions::default()).expect("render");
    let squares: Vec<image::RgbImage> = rendition
        .thumbnails
        .iter()
        .map(|t| {
            image::load_from_memory(&t.jpeg)
                .expect("decode")
                .into_rgb8()
        })
        .collect();
    println!();
    println!("| encoder (9 sizes, Q85, 4:2:0) | ms | bytes |");
    println!("|---|---|---|");
    for (name, optimize, progressive) in [
        ("baseline", false, false),
        ("baseline, optimised Huffman (used)", true, false),
        ("progressive", true, true),
    ] {
        let mut bytes = 0;
        let ms = median_ms(|| {
            bytes = squares
                .iter()
                .map(|s| encode_with(s, optimize, progressive))
                .sum();
        });
        println!("| {name} | {ms:.1} | {bytes} |");
    }
}

fn encode_with(image: &image::RgbImage, optimize: bool, progressive: bool) -> usize {
    let mut compressor = turbojpeg::Compressor::new().expect("compressor");
    compressor.set_quality(85).expect("quality");
    compressor
        .set_subsamp(turbojpeg::Subsamp::Sub2x2)
        .expect("subsamp");
    compressor.set_optimize(optimize).expect("optimize");
    compressor
        .set_progressive(progressive)
        .expect("progressive");
    let pixels = turbojpeg::Image {
        pixels: image.as_raw().as_slice(),
        width: image.width() as usize,
        pitch: image.width() as usize * 3,
        height: image.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    compressor.compress_to_vec(pixels).expect("encode").len()
}
