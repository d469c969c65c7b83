//! In-process pipeline benchmark (run by `scripts/bench-pipeline.sh`, or
//! `cargo bench --bench pipeline -- DIR`): generates photo-like inputs into
//! DIR, then times `render` (all nine sizes) and the 1/8-scale JPEG decode
//! floor on one thread, the face crop against the top crop, and face
//! detection alone; then the peak resident memory of one render per file,
//! issue 15's hostile files beside the normal corpus, each in a child
//! process (this benchmark re-run with `--rss-child FILE`) so one file's
//! peak cannot hide another's. The script adds the `vipsthumbnail`
//! comparison.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{DynamicImage, ImageFormat};
use photosync::pipeline::{CropMode, RenderOptions, detect_faces, jpeg_decode_floor, render};

#[allow(dead_code)]
#[path = "../tests/pipeline/corpus.rs"]
mod corpus;

#[path = "../tests/common/hostile_files.rs"]
mod hostile_files;

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
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        return rss_child(Path::new(&args[i + 1]));
    }
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
    // A noisy 12 MP PNG is ~26 MB, over the default `max_bytes` (20 MiB):
    // an admin would raise PHOTOSYNC_MAX_BYTES for such files, so do we.
    let png_options = RenderOptions {
        max_bytes: 64 << 20,
        ..options.clone()
    };
    let png = median_ms(|| {
        render(&png12, &png_options).expect("render");
    });
    println!(
        "| 12 MP PNG | {:.1} MB | {png:.1} | - | - |",
        png12.len() as f64 / 1e6
    );
    face_crop(&jpeg12, &face12);
    encoder_choice(&jpeg12);

    let mut files = vec![
        ("12 MP JPEG q90".to_owned(), dir.join("photo-12mp.jpg")),
        ("24 MP JPEG q90".to_owned(), dir.join("photo-24mp.jpg")),
        (
            "12 MP progressive JPEG".to_owned(),
            dir.join("photo-12mp-progressive.jpg"),
        ),
        ("12 MP PNG".to_owned(), dir.join("photo-12mp.png")),
    ];
    input(&dir, "png-40mp.png", hostile_files::png_40mp);
    files.push(("40 MP PNG, 8-bit RGB".to_owned(), dir.join("png-40mp.png")));
    for h in hostile_files::all() {
        input(&dir, &format!("hostile-{}", h.file), || h.bytes);
        files.push((h.what.to_owned(), dir.join(format!("hostile-{}", h.file))));
    }
    rss_table(&files);
}

/// Peak RSS of one default render of each file, each in a fresh child.
fn rss_table(files: &[(String, PathBuf)]) {
    let me = std::env::current_exe().expect("own path");
    println!();
    println!(
        "| input (one render, own process) | file | peak RSS (MB) | of which before render (MB) | predicted (MB) | time (ms) | outcome |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, path) in files {
        let out = std::process::Command::new(&me)
            .args(["--rss-child", &path.display().to_string()])
            .output()
            .expect("run child");
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let size = if size > 1_000_000 {
            format!("{:.1} MB", size as f64 / 1e6)
        } else {
            format!("{size} B")
        };
        println!(
            "| {name} | {size} | {} |",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
}

/// `VmHWM` of this process, in MB.
fn peak_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// The child: reads FILE, renders it once with the defaults, prints its row.
fn rss_child(path: &Path) {
    let bytes = std::fs::read(path).expect("read input");
    let options = RenderOptions::default();
    let before = peak_mb();
    let predicted = photosync::pipeline::estimate(&bytes, &options).map_or_else(
        |_| "-".to_owned(),
        |e| e.bytes.div_ceil(1 << 20).to_string(),
    );
    let start = Instant::now();
    let outcome = match render(&bytes, &options) {
        Ok(r) if r.warnings.is_empty() => "rendered".to_owned(),
        Ok(r) => format!(
            "rendered, {}",
            r.warnings
                .iter()
                .map(|w| w.code().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => e.code().as_str().to_owned(),
    };
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{} | {before} | {predicted} | {ms:.0} | {outcome}",
        peak_mb()
    );
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
