//! Recognises the format from the first bytes (never from a file name) and
//! reads the header: stored size and EXIF orientation, without decoding.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{ImageDecoder, ImageFormat, ImageReader};

use super::RenderOptions;
use super::error::PipelineError;
use super::heic::{self, Kind};
use super::jpeg_header::{self, ICC_CAP, JpegHeader};
use super::png_rows::{self, PngInfo};

/// The formats the pipeline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG/JFIF/EXIF, decoded by libjpeg-turbo with shrink-on-load.
    Jpeg,
    /// PNG (grey, RGB, palette, with or without alpha, 8 or 16 bit).
    Png,
    /// GIF; only the first frame is used.
    Gif,
    /// WebP, lossy or lossless.
    WebP,
    /// Windows bitmap.
    Bmp,
    /// TIFF.
    Tiff,
    /// HEIC/HEIF still (HEVC-coded), decoded by `heifer`.
    Heic,
}

impl Format {
    /// Lower-case name, for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::WebP => "webp",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Heic => "heic",
        }
    }

    /// The file extension people use for it.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::WebP => "webp",
            Self::Bmp => "bmp",
            Self::Tiff => "tif",
            Self::Heic => "heic",
        }
    }

    /// Its MIME type.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::WebP => "image/webp",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
            Self::Heic => "image/heic",
        }
    }

    /// The `image` crate's name for the format (JPEG has one but is decoded
    /// by libjpeg-turbo; HEIC has none).
    pub fn image_format(self) -> Option<ImageFormat> {
        Some(match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Gif => ImageFormat::Gif,
            Self::WebP => ImageFormat::WebP,
            Self::Bmp => ImageFormat::Bmp,
            Self::Tiff => ImageFormat::Tiff,
            Self::Heic => return None,
        })
    }
}

/// What the header says, before any pixel is decoded.
#[derive(Debug, Clone)]
pub struct Header {
    /// The recognised format.
    pub format: Format,
    /// Stored width (before orientation).
    pub width: u32,
    /// Stored height (before orientation).
    pub height: u32,
    /// EXIF orientation to apply.
    pub orientation: Orientation,
    /// Embedded ICC profile, if any (at most [`ICC_CAP`] bytes).
    pub icc: Option<Vec<u8>>,
    /// Whether a profile over [`ICC_CAP`] was found and ignored.
    pub icc_ignored: bool,
    /// The JPEG details, for JPEG input.
    pub jpeg: Option<JpegHeader>,
    /// The sample layout, for PNG input (decoded row by row).
    pub png: Option<PngInfo>,
    /// The buffer the `image` crate's decoder fills (its full canvas), for
    /// the formats it decodes whole; 0 for the others.
    pub decoded_bytes: u64,
}

const SUPPORTED: &str = "JPEG, PNG, GIF, WebP, BMP, TIFF or HEIC";

/// Identifies the format by its magic number.
pub fn sniff(bytes: &[u8]) -> Result<Format, PipelineError> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if bytes.is_empty() {
        return Err(PipelineError::corrupt("the file is empty"));
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(Format::Gif);
    }
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(Format::WebP);
    }
    if starts(b"BM") && bytes.len() >= 26 {
        return Ok(Format::Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Ok(Format::Tiff);
    }
    if bytes.get(4..8) == Some(b"ftyp") {
        match heic::kind(bytes) {
            Kind::Heif => return Ok(Format::Heic),
            Kind::Avif => {
                return Err(PipelineError::unsupported(
                    "AVIF photos are not supported; export the photo as JPEG or HEIC",
                ));
            }
            Kind::Other => {}
        }
    }
    if starts(b"%PDF") {
        return Err(PipelineError::unsupported(format!(
            "this is a PDF document, not a photo; upload a {SUPPORTED} image"
        )));
    }
    Err(PipelineError::unsupported(format!(
        "not a recognised image; upload a {SUPPORTED} photo"
    )))
}

/// Reads the header of a sniffed image.
pub fn read_header(
    bytes: &[u8],
    format: Format,
    options: &RenderOptions,
) -> Result<Header, PipelineError> {
    if format == Format::Jpeg {
        let jpeg = jpeg_header::parse(bytes)?;
        if jpeg.precision != 8 {
            return Err(PipelineError::unsupported(format!(
                "{}-bit JPEG is not supported; export the photo as a standard 8-bit JPEG",
                jpeg.precision
            )));
        }
        if jpeg.lossless {
            return Err(PipelineError::unsupported(
                "lossless JPEG is not supported; export the photo as a standard JPEG",
            ));
        }
        return Ok(Header {
            format,
            width: jpeg.width,
            height: jpeg.height,
            orientation: jpeg.orientation,
            icc: jpeg.icc.clone(),
            icc_ignored: jpeg.icc_ignored,
            jpeg: Some(jpeg),
            png: None,
            decoded_bytes: 0,
        });
    }
    if format == Format::Png {
        let png = png_rows::read_header(bytes)?;
        return Ok(Header {
            format,
            width: png.width,
            height: png.height,
            orientation: png.orientation,
            icc: png.icc,
            icc_ignored: png.icc_ignored,
            jpeg: None,
            png: Some(png.info),
            decoded_bytes: 0,
        });
    }
    if format == Format::Heic {
        let (width, height, icc) = heic::read_header(bytes)?;
        // heifer applies irot/imir while decoding; EXIF orientation is ignored.
        let (icc, icc_ignored) = capped(icc);
        return Ok(Header {
            format,
            width,
            height,
            orientation: Orientation::NoTransforms,
            icc,
            icc_ignored,
            jpeg: None,
            png: None,
            decoded_bytes: 0,
        });
    }
    if format == Format::WebP {
        check_webp_chunks(bytes)?;
    }
    // Creating an `image` decoder parses only the header (for GIF: the
    // logical screen), so this is cheap even for a 30000x30000 TIFF.
    let image_format = format
        .image_format()
        .ok_or_else(|| PipelineError::unsupported("no decoder for this format"))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(super::decode::limits(u32::MAX, u32::MAX, options));
    let mut decoder = reader.into_decoder().map_err(super::decode::image_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PipelineError::corrupt("the image has a zero dimension"));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (icc, icc_ignored) = capped(decoder.icc_profile().ok().flatten());
    Ok(Header {
        format,
        width,
        height,
        orientation,
        icc,
        icc_ignored,
        jpeg: None,
        png: None,
        decoded_bytes: decoder.total_bytes(),
    })
}

/// A profile over [`ICC_CAP`] is dropped (and reported): no real one is
/// that large, and the colour transform would parse all of it.
fn capped(icc: Option<Vec<u8>>) -> (Option<Vec<u8>>, bool) {
    match icc {
        Some(p) if p.len() > ICC_CAP => (None, true),
        other => (other, false),
    }
}

/// Refuses a WebP whose chunks claim more bytes than the file has, or
/// whose VP8/VP8L frame is not the size its VP8X header declares.
/// `image-webp` allocates a chunk's declared size before reading it, and
/// sizes its frame buffers from the frame header without checking them
/// against the canvas (both found by fuzzing: 600-byte files asking for
/// 3.7 GB and 400 MB), so this keeps allocations bounded by the checked size.
fn check_webp_chunks(bytes: &[u8]) -> Result<(), PipelineError> {
    let mut canvas = None;
    let mut pos = 12;
    // Fewer than 8 trailing bytes cannot hold a chunk; decoders ignore them.
    while let Some(header) = bytes.get(pos..pos + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let end = (pos + 8).saturating_add(size);
        let data = bytes
            .get(pos + 8..end)
            .ok_or_else(|| PipelineError::corrupt("a WebP chunk runs past the end of the file"))?;
        match (&header[..4], webp_frame_size(&header[..4], data)) {
            (b"VP8X", _) if data.len() >= 10 => {
                let le24 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], 0]) + 1;
                canvas = Some((le24(&data[4..7]), le24(&data[7..10])));
            }
            (_, Some(frame)) if canvas.is_some_and(|c| c != frame) => {
                return Err(PipelineError::corrupt(
                    "the WebP frame size differs from its canvas",
                ));
            }
            _ => {}
        }
        pos = end + (size & 1); // chunks are padded to even sizes
    }
    Ok(())
}

/// Width and height from a VP8 (lossy) or VP8L (lossless) frame header.
fn webp_frame_size(kind: &[u8], data: &[u8]) -> Option<(u32, u32)> {
    match kind {
        b"VP8 " if data.len() >= 10 && data[3..6] == [0x9d, 0x01, 0x2a] => {
            let dimension = |b: &[u8]| u32::from(u16::from_le_bytes([b[0], b[1]]) & 0x3FFF);
            Some((dimension(&data[6..8]), dimension(&data[8..10])))
        }
        b"VP8L" if data.len() >= 5 && data[0] == 0x2F => {
            let bits = u32::from_le_bytes([data[1], data[2], data[3], data[4]]);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        _ => None,
    }
}
