//! Writes the sample photos of `examples/photos/`: generated pictures named
//! like real drops, one for every outcome. The people are the public-domain
//! NASA astronaut portrait of tests/fixtures/faces (see its README), placed
//! as real photos place heads: off-centre, at the very top, low in a tall
//! frame, two side by side.
//!
//! `cargo run --example make_samples` (the files are committed; run it only
//! to change them).

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A simple "portrait": a soft background, shoulders and a head, in colours
/// of `seed`, so every sample looks different and crops are easy to judge.
fn portrait(width: u32, height: u32, seed: u8) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let head = (w / 2.0, h * 0.38, w.min(h) * 0.18);
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let in_head = (fx - head.0).powi(2) + (fy - head.1).powi(2) < head.2.powi(2);
        let in_body = fy > h * 0.62 && (fx - w / 2.0).abs() < w * 0.32 - (fy - h * 0.62) * -0.2;
        if in_head {
            Rgb([224, 172, 140])
        } else if in_body {
            Rgb([40 + seed / 2, 60, 120 + seed / 3])
        } else {
            let t = fy / h;
            Rgb([
                (180.0 - 60.0 * t) as u8 ^ (seed / 8),
                (200.0 - 40.0 * t) as u8,
                (230.0 - 30.0 * t) as u8,
            ])
        }
    })
}

/// The astronaut portrait at `side` pixels.
fn astronaut(side: u32) -> RgbImage {
    let original =
        image::load_from_memory(include_bytes!("../tests/fixtures/faces/astronaut-256.jpg"))
            .unwrap()
            .into_rgb8();
    image::imageops::resize(
        &original,
        side,
        side,
        image::imageops::FilterType::CatmullRom,
    )
}

/// A background of `seed`'s colours with an astronaut of `side` at each (x, y).
fn people(width: u32, height: u32, seed: u8, at: &[(i64, i64, u32)]) -> RgbImage {
    let mut canvas = portrait(width, height, seed);
    for &(x, y, side) in at {
        image::imageops::overlay(&mut canvas, &astronaut(side), x, y);
    }
    canvas
}

fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut out, ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

/// Inserts an EXIF block with this orientation after the JPEG's SOI marker.
fn with_orientation(jpeg: Vec<u8>, orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/photos");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();

    // Matched by user principal name.
    write(
        "adele.vance@contoso.com.jpg",
        &jpeg(&people(720, 720, 10, &[(0, 0, 720)])),
    );
    // Landscape with the person right of centre: the square follows the face.
    write(
        "alex.wilber@contoso.com.jpg",
        &jpeg(&people(960, 640, 60, &[(330, 0, 640)])),
    );
    // An employee id (match with --match-by employeeId); a selfie with the
    // head at the very top of the frame.
    write(
        "100234.jpg",
        &jpeg(&people(640, 800, 120, &[(0, -40, 640)])),
    );
    // A phone photo stored sideways with EXIF orientation 6 (rotate 90°):
    // the stored pixels are landscape, the person is upright once rotated.
    let upright = people(600, 900, 180, &[(0, 300, 600)]);
    let stored = image::imageops::rotate270(&upright);
    write(
        "megan.bowen@contoso.com.jpg",
        &with_orientation(jpeg(&stored), 6),
    );
    // A PNG with transparency: flattened onto white, never black.
    let face = people(500, 500, 220, &[(0, 0, 500)]);
    let transparent = RgbaImage::from_fn(500, 500, |x, y| {
        let p = face.get_pixel(x, y);
        let edge = (x as i32 - 250).pow(2) + (y as i32 - 250).pow(2) > 230 * 230;
        Rgba([p[0], p[1], p[2], if edge { 0 } else { 255 }])
    });
    let mut png = Cursor::new(Vec::new());
    transparent.write_to(&mut png, ImageFormat::Png).unwrap();
    write("lee.gu@contoso.com.png", png.get_ref());
    // Named by the camera; mapping.csv says whose it is.
    std::fs::create_dir_all(dir.join("team")).unwrap();
    // A team photo: two people, the square goes to the larger face.
    write(
        "team/IMG_0042.jpg",
        &jpeg(&people(1300, 700, 90, &[(0, 0, 700), (700, 60, 600)])),
    );
    write(
        "mapping.csv",
        b"file,user\nIMG_0042.jpg,diego.siciliani@contoso.com\n",
    );
    // A damaged upload: the second half is missing.
    let full = jpeg(&portrait(640, 640, 30));
    write("pradeep.gupta@contoso.com.jpg", &full[..full.len() / 2]);
    // nestor.wilke@contoso.com.heic, an iPhone-style HEIC (512-pixel grid,
    // irot), is not written here: it needs an HEVC encoder independent of
    // our decoder; tests/fixtures/heic/make.py (pillow-heif) writes it.
    // Not a photo at all.
    write(
        "README.txt",
        b"Sample photos for `photosync sync examples/photos`.\n",
    );
    println!("wrote {}", dir.display());
}
