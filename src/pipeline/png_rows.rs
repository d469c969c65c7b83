//! PNG without a full-size buffer: the header is read with the `png` crate
//! (its iCCP parsing switched off), the ICC profile by our own bounded
//! inflate, and the pixels row by row, each row box-averaged at once into a
//! buffer `factor` times smaller on each axis. A 100 MP 16-bit RGBA PNG
//! then needs a few rows plus the reduced buffer, not 800 MB.
//!
//! Interlaced (Adam7) files arrive as seven sub-images of pass rows; the
//! box average does not care in which order pixels arrive, so they are
//! accumulated the same way.

use std::io::Cursor;
use std::time::Instant;

use image::metadata::Orientation;
use png::{Adam7Info, Decoder, InterlaceInfo, Limits, Transformations};

use super::error::PipelineError;
use super::jpeg_header::ICC_CAP;

/// What the PNG header says, for the budget and the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngInfo {
    /// Samples per stored pixel (palette: 1).
    pub channels: u8,
    /// Bits per stored sample (1, 2, 4, 8 or 16).
    pub bit_depth: u8,
    /// Adam7 interlacing.
    pub interlaced: bool,
}

/// Everything [`read_header`] finds.
#[derive(Debug)]
pub struct PngHeader {
    /// Stored width.
    pub width: u32,
    /// Stored height.
    pub height: u32,
    /// From an eXIf chunk.
    pub orientation: Orientation,
    /// The first iCCP chunk's profile, at most [`ICC_CAP`] bytes.
    pub icc: Option<Vec<u8>>,
    /// Whether an iCCP profile was present but inflated past [`ICC_CAP`].
    pub icc_ignored: bool,
    /// Sample layout.
    pub info: PngInfo,
}

/// What the `png` crate may allocate for ancillary chunks (text, EXIF);
/// rows are accounted for by the budget.
const CHUNK_LIMIT: usize = 16 << 20;

fn decoder(bytes: &[u8]) -> Decoder<Cursor<&[u8]>> {
    let mut decoder = Decoder::new_with_limits(Cursor::new(bytes), Limits { bytes: CHUNK_LIMIT });
    // Its iCCP parser inflates up to the limit before giving up: a 2 MB
    // file inflating to 2 GB costs that limit in memory. `icc` does it bounded.
    decoder.set_ignore_iccp_chunk(true);
    decoder
}

fn png_error(error: png::DecodingError) -> PipelineError {
    match error {
        png::DecodingError::LimitsExceeded => {
            PipelineError::too_large("the PNG's metadata chunks exceed the decoder's limits")
        }
        png::DecodingError::Parameter(e) => PipelineError::corrupt(e),
        other => PipelineError::corrupt(other),
    }
}

/// Reads the header chunks (up to the first IDAT), never a pixel.
pub fn read_header(bytes: &[u8]) -> Result<PngHeader, PipelineError> {
    let reader = decoder(bytes).read_info().map_err(png_error)?;
    let info = reader.info();
    let orientation = info
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (icc, icc_ignored) = icc(bytes);
    Ok(PngHeader {
        width: info.width,
        height: info.height,
        orientation,
        icc,
        icc_ignored,
        info: PngInfo {
            channels: info.color_type.samples() as u8,
            bit_depth: info.bit_depth as u8,
            interlaced: info.interlaced,
        },
    })
}

/// The first iCCP chunk's profile, inflated to at most [`ICC_CAP`] bytes;
/// `(None, true)` when it is larger (a zlib bomb or an absurd profile).
/// Later iCCP chunks are ignored (the PNG spec allows one).
fn icc(bytes: &[u8]) -> (Option<Vec<u8>>, bool) {
    let mut pos = 8;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(data) = bytes.get(pos + 8..(pos + 8).saturating_add(len)) else {
            return (None, false);
        };
        match &head[4..8] {
            b"IDAT" => return (None, false),
            b"iCCP" => {
                // Profile name (1-79 bytes), NUL, compression method 0, zlib data.
                let Some(nul) = data.iter().take(80).position(|&b| b == 0) else {
                    return (None, false);
                };
                let Some(zlib) = data.get(nul + 2..) else {
                    return (None, false);
                };
                return match fdeflate::decompress_to_vec_bounded(zlib, ICC_CAP) {
                    Ok(profile) => (Some(profile), false),
                    Err(fdeflate::BoundedDecompressionError::OutputTooLarge { .. }) => (None, true),
                    // An unreadable profile is treated like no profile.
                    Err(_) => (None, false),
                };
            }
            _ => pos += 12 + len,
        }
    }
    (None, false)
}

/// The largest box factor that still leaves `wanted` pixels on a side of
/// `side` (never below 1).
pub fn factor(side: u32, wanted: u64) -> u32 {
    (u64::from(side) / wanted.max(1)).clamp(1, 1 << 12) as u32
}

/// Bytes [`decode_scaled`] allocates for a `width` x `height` PNG reduced by
/// `factor`: the `png` crate's rows (current and previous, raw and
/// expanded), the inflater, and the sums and output of the reduced image.
pub fn decode_bytes(width: u32, height: u32, info: PngInfo, factor: u32) -> u64 {
    let raw_row =
        (u64::from(width) * u64::from(info.channels) * u64::from(info.bit_depth)).div_ceil(8) + 1;
    let rows = 4 * raw_row + u64::from(width) * 8;
    let (w, h) = reduced(width, height, factor);
    let reduced = u64::from(w) * u64::from(h) * 3;
    rows + (1 << 20) + reduced * 4 + reduced
}

fn reduced(width: u32, height: u32, factor: u32) -> (u32, u32) {
    (width.div_ceil(factor), height.div_ceil(factor))
}

/// Adam7 passes: (x offset, y offset, x step, y step).
const PASSES: [(u32, u32, u32, u32); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// Packed RGB8 of the whole PNG reduced by `factor` (box average,
/// transparency flattened onto `background`), with its width and height.
/// Stops with `image-too-slow` once `deadline` has passed.
pub fn decode_scaled(
    bytes: &[u8],
    factor: u32,
    background: [u8; 3],
    deadline: Option<Instant>,
) -> Result<(Vec<u8>, u32, u32), PipelineError> {
    let mut decoder = decoder(bytes);
    decoder.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(png_error)?;
    let (width, height) = (reader.info().width, reader.info().height);
    let channels = reader.output_color_type().0.samples();
    let (ow, oh) = reduced(width, height, factor);
    let mut sums = vec![0u32; ow as usize * oh as usize * 3];
    let f = factor as usize;
    // Where the next row goes: pass index (0 = not interlaced) and line.
    let (mut pass, mut line) = (0usize, 0u32);
    let mut rows = 0u32;
    while let Some(row) = reader.next_interlaced_row().map_err(png_error)? {
        let (x0, y0, dx, dy) = match row.interlace() {
            InterlaceInfo::Null(_) => (0, 0, 1, 1),
            InterlaceInfo::Adam7(info) => {
                while pass < 7 && !pass_has(pass, line, width, height, *info) {
                    (pass, line) = (pass + 1, 0);
                }
                if pass == 7 {
                    return Err(PipelineError::corrupt("unexpected interlaced PNG row"));
                }
                PASSES[pass]
            }
        };
        let y = (y0 + line * dy) as usize;
        line += 1;
        let cells = &mut sums[y / f * ow as usize * 3..][..ow as usize * 3];
        accumulate(
            cells,
            row.data(),
            channels,
            x0 as usize,
            dx as usize,
            f,
            background,
        );
        rows += 1;
        if rows.is_multiple_of(64) && deadline.is_some_and(|d| Instant::now() > d) {
            return Err(super::budget::too_slow());
        }
    }
    let mut rgb = Vec::with_capacity(sums.len());
    for cy in 0..oh {
        let ch = factor.min(height - cy * factor);
        for cx in 0..ow {
            let count = factor.min(width - cx * factor) * ch;
            let i = (cy as usize * ow as usize + cx as usize) * 3;
            for c in &sums[i..i + 3] {
                rgb.push(((c + count / 2) / count) as u8);
            }
        }
    }
    Ok((rgb, ow, oh))
}

/// Whether the row `info` describes is line `line` of Adam7 pass `pass`
/// (empty passes are skipped by the decoder, so the caller moves on).
fn pass_has(pass: usize, line: u32, width: u32, height: u32, info: Adam7Info) -> bool {
    let (x0, y0, _, dy) = PASSES[pass];
    width > x0 && y0 + line * dy < height && Adam7Info::new(pass as u8 + 1, line, width) == info
}

/// Adds one row's pixels (8-bit, `channels` samples each, the first at
/// column `x0`, then every `dx`) to the sums of the cells they fall in.
fn accumulate(
    cells: &mut [u32],
    data: &[u8],
    channels: usize,
    x0: usize,
    dx: usize,
    f: usize,
    background: [u8; 3],
) {
    let flat = |v: u8, a: u8, bg: u8| {
        (u32::from(v) * u32::from(a) + u32::from(bg) * (255 - u32::from(a)) + 127) / 255
    };
    let add = |cell: &mut [u32], px: &[u8]| match *px {
        [g] => {
            cell[0] += u32::from(g);
            cell[1] += u32::from(g);
            cell[2] += u32::from(g);
        }
        [g, a] => {
            cell[0] += flat(g, a, background[0]);
            cell[1] += flat(g, a, background[1]);
            cell[2] += flat(g, a, background[2]);
        }
        [r, g, b] => {
            cell[0] += u32::from(r);
            cell[1] += u32::from(g);
            cell[2] += u32::from(b);
        }
        [r, g, b, a] => {
            cell[0] += flat(r, a, background[0]);
            cell[1] += flat(g, a, background[1]);
            cell[2] += flat(b, a, background[2]);
        }
        _ => {}
    };
    if dx == 1 && x0 == 0 {
        // The common case: each cell takes the next `f` pixels.
        for (cell, pixels) in cells.chunks_exact_mut(3).zip(data.chunks(f * channels)) {
            for px in pixels.chunks_exact(channels) {
                add(cell, px);
            }
        }
        return;
    }
    for (i, px) in data.chunks_exact(channels).enumerate() {
        add(&mut cells[(x0 + i * dx) / f * 3..][..3], px);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        width: u32,
        height: u32,
        colour: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(colour);
        encoder.set_depth(depth);
        encoder
            .write_header()
            .unwrap()
            .write_image_data(data)
            .unwrap();
        out
    }

    /// An Adam7 RGB8 PNG (the `png` crate's encoder does not interlace).
    fn interlaced(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            if width <= x0 || height <= y0 {
                continue;
            }
            for y in (y0..height).step_by(dy as usize) {
                raw.push(0); // filter: none
                for x in (x0..width).step_by(dx as usize) {
                    let i = ((y * width + x) * 3) as usize;
                    raw.extend_from_slice(&rgb[i..i + 3]);
                }
            }
        }
        let crc = |bytes: &[u8]| {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        };
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend(crc(&body).to_be_bytes());
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 1]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &fdeflate::compress_to_vec(&raw));
        chunk(b"IEND", &[]);
        out
    }

    #[test]
    fn box_average_matches_for_plain_and_interlaced_files() {
        let (w, h) = (37u32, 23u32);
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let plain = encode(w, h, png::ColorType::Rgb, png::BitDepth::Eight, &data);
        let adam7 = interlaced(w, h, &data);
        assert!(read_header(&adam7).unwrap().info.interlaced);
        let a = decode_scaled(&plain, 4, [0; 3], None).unwrap();
        let b = decode_scaled(&adam7, 4, [0; 3], None).unwrap();
        assert_eq!((a.1, a.2), (10, 6));
        assert_eq!(a, b);
        // Factor 1 is the image itself.
        assert_eq!(decode_scaled(&adam7, 1, [0; 3], None).unwrap().0, data);
    }

    #[test]
    fn sixteen_bit_alpha_is_flattened() {
        // Two 16-bit RGBA pixels: opaque red, fully transparent.
        let data = [0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0];
        let file = encode(2, 1, png::ColorType::Rgba, png::BitDepth::Sixteen, &data);
        let (rgb, w, h) = decode_scaled(&file, 1, [0, 0, 255], None).unwrap();
        assert_eq!((w, h), (2, 1));
        assert_eq!(rgb, [255, 0, 0, 0, 0, 255]);
        let header = read_header(&file).unwrap();
        assert_eq!(
            header.info,
            PngInfo {
                channels: 4,
                bit_depth: 16,
                interlaced: false
            }
        );
    }

    #[test]
    fn the_reduced_decode_is_budgeted_by_rows_not_area() {
        let info = PngInfo {
            channels: 4,
            bit_depth: 16,
            interlaced: false,
        };
        let bytes = decode_bytes(10_000, 10_000, info, factor(10_000, 1296));
        assert!(bytes < 48 << 20, "{bytes}");
    }
}
