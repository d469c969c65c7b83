//! Recognises the format from the first bytes (never from a file name) and
//! reads the header: stored size and EXIF orientation, without decoding.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{ImageDecoder, ImageFormat, ImageReader};

use super::error::PipelineError;
use super::jpeg_header::{self, JpegHeader};

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
        }
    }

    /// The `image` crate's name for the format (all but JPEG decode there).
    pub fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Gif => ImageFormat::Gif,
            Self::WebP => ImageFormat::WebP,
            Self::Bmp => ImageFormat::Bmp,
            Self::Tiff => ImageFormat::Tiff,
        }
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
    /// The JPEG details, for JPEG input.
    pub jpeg: Option<JpegHeader>,
}

const SUPPORTED: &str = "JPEG, PNG, GIF, WebP, BMP or TIFF";

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
        let brand = bytes.get(8..12).unwrap_or_default();
        if brand.starts_with(b"avi") {
            return Err(PipelineError::unsupported(
                "AVIF photos are not supported; export the photo as JPEG",
            ));
        }
        if brand.starts_with(b"he") || brand == b"mif1" || brand == b"msf1" {
            return Err(PipelineError::unsupported(
                "HEIC/HEIF photos are not supported; export the photo as JPEG",
            ));
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
pub fn read_header(bytes: &[u8], format: Format) -> Result<Header, PipelineError> {
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
            jpeg: Some(jpeg),
        });
    }
    // Creating an `image` decoder parses only the header (for GIF: the
    // logical screen), so this is cheap even for a 30000x30000 PNG.
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format.image_format())
        .into_decoder()
        .map_err(super::decode::image_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PipelineError::corrupt("the image has a zero dimension"));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok(Header {
        format,
        width,
        height,
        orientation,
        jpeg: None,
    })
}
