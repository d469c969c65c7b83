//! Test images the suite makes itself: photo-like pixels, every container,
//! EXIF orientation tags and hostile files.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage, Rgba, RgbaImage};
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

/// Deterministic xorshift noise, so every run sees the same pixels.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u8(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u8
    }
}

/// Smooth gradients, hard-edged shapes, fine stripes and grain: enough
/// structure at every scale that a blurry or aliased resize shows in SSIM.
pub fn photo(width: u32, height: u32) -> RgbImage {
    let mut noise = Noise::new(u64::from(width) * 31 + u64::from(height));
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let ring = ((fx - 0.5).hypot(fy - 0.4) * 40.0).sin();
        let disc = if (fx - 0.3).hypot(fy - 0.6) < 0.15 {
            60.0
        } else {
            0.0
        };
        let stripes = if (x / 6 + y / 9) % 2 == 0 {
            18.0
        } else {
            -18.0
        };
        let grain = f32::from(noise.next_u8()) / 16.0 - 8.0;
        let base = [90.0 + 100.0 * fx, 70.0 + 120.0 * fy, 140.0 - 60.0 * fx * fy];
        let px = base.map(|b| (b + 25.0 * ring + disc + stripes + grain).clamp(0.0, 255.0) as u8);
        image::Rgb(px)
    })
}

/// A baseline (or progressive) 4:2:0 JPEG, encoded by libjpeg-turbo.
pub fn jpeg(image: &RgbImage, quality: i32, progressive: bool) -> Vec<u8> {
    encode_turbo(
        image.as_raw(),
        image.width(),
        image.height(),
        PixelFormat::RGB,
        quality,
        progressive,
    )
}

/// A CMYK JPEG as Photoshop writes it (Adobe marker, inverted values).
pub fn cmyk_jpeg(rgb: [u8; 3], width: u32, height: u32) -> Vec<u8> {
    // Inverted CMYK with K = 0 ink: each channel is just the RGB value.
    let px = [rgb[0], rgb[1], rgb[2], 255];
    let pixels: Vec<u8> = px
        .iter()
        .copied()
        .cycle()
        .take((width * height * 4) as usize)
        .collect();
    encode_turbo(&pixels, width, height, PixelFormat::CMYK, 95, false)
}

fn encode_turbo(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: PixelFormat,
    quality: i32,
    progressive: bool,
) -> Vec<u8> {
    let mut compressor = Compressor::new().unwrap();
    compressor.set_quality(quality).unwrap();
    compressor.set_subsamp(Subsamp::Sub2x2).unwrap();
    compressor.set_progressive(progressive).unwrap();
    let image = Image {
        pixels,
        width: width as usize,
        pitch: width as usize * format.size(),
        height: height as usize,
        format,
    };
    compressor.compress_to_vec(image).unwrap()
}

/// Encodes with the `image` crate in the given container.
pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Inserts an APP1 EXIF segment (orientation, and a GPS-looking pointer) and
/// a comment right after the JPEG's SOI marker.
pub fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    // Big-endian TIFF: one IFD with Orientation (0x0112) and GPSInfo (0x8825).
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x02".to_vec();
    tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]);
    tiff.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment(0xE1, &app1));
    out.extend(segment(0xFE, b"secret comment"));
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Embeds an ICC profile (one APP2 chunk) right after the JPEG's SOI.
pub fn with_icc(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let mut app2 = b"ICC_PROFILE\0\x01\x01".to_vec();
    app2.extend_from_slice(icc);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment(0xE2, &app2));
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, marker];
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Markers in a JPEG up to its first scan.
pub fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut pos = 2;
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
        let marker = jpeg[pos + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
    markers
}

/// An RGBA image: opaque red left half, fully transparent right half.
pub fn half_transparent(width: u32, height: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgba([255, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    })
}

/// A GIF of `frames` solid frames: red first, blue after.
pub fn animated_gif(side: u16, frames: usize) -> Vec<u8> {
    let palette = [255, 0, 0, 0, 0, 255];
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, side, side, &palette).unwrap();
        for i in 0..frames {
            let index = u8::from(i > 0);
            let pixels = vec![index; usize::from(side) * usize::from(side)];
            let mut frame = gif::Frame::from_palette_pixels(side, side, pixels, palette, None);
            frame.palette = None; // use the global palette
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

/// A valid 1-bit greyscale PNG of `side` x `side` zero pixels whose zlib
/// stream is written by hand (fixed-Huffman runs of 258 zeros), so a
/// 30000x30000 bomb is under 1 MB and costs nothing to make.
pub fn png_bomb(side: u32) -> Vec<u8> {
    let raw_len = u64::from(side) * (1 + u64::from(side.div_ceil(8)));
    let mut bits = BitWriter::default();
    bits.put(0b1, 1); // BFINAL
    bits.put(0b01, 2); // fixed Huffman
    bits.put_code(0b0011_0000, 8); // literal 0
    let mut left = raw_len - 1;
    while left >= 258 {
        bits.put_code(0b1100_0101, 8); // length 258 (code 285)
        bits.put_code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.put_code(0b0011_0000, 8);
    }
    bits.put_code(0, 7); // end of block (256)
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(bits.finish());
    // Adler-32 of zeros: a stays 1, b adds 1 per byte.
    let adler = (raw_len % 65521) << 16 | 1;
    zlib.extend((adler as u32).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([1, 0, 0, 0, 0]); // 1-bit grey, deflate, no filter, no interlace
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &zlib));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[4..]);
    out.extend(crc.to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Deflate's LSB-first bit packing.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    len: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= value << self.len;
        self.len += bits;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// Huffman codes are stored most-significant bit first.
    fn put_code(&mut self, code: u32, bits: u32) {
        let reversed = code.reverse_bits() >> (32 - bits);
        self.put(reversed, bits);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}
