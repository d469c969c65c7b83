//! The photo pipeline: bytes in, square JPEG thumbnails out. Pure CPU work, no I/O;
//! callers run it inside `tokio::task::spawn_blocking`.
//!
//! [`render`] checks the byte count, recognises the format by its magic
//! number, reads the header and checks width, height and area before any
//! pixel is decoded, then decodes once (JPEG: only the kept square, at
//! reduced DCT scale), resizes to the master and cascades the smaller sizes,
//! and encodes each as a metadata-free baseline JPEG.
//!
//! Colour: an embedded RGB ICC profile (Display P3 from iPhones, Adobe RGB
//! from cameras) is converted to sRGB on the master square; photos without
//! one, or with a profile that cannot be used (CMYK, grey, unreadable), are
//! treated as sRGB. The output carries no metadata at all (no EXIF, GPS,
//! XMP, ICC or comments), only the JFIF header, so it is plain sRGB.

mod colour;
mod decode;
mod error;
mod geometry;
mod jpeg_header;
mod probe;
mod resize;
mod turbo;

pub use error::PipelineError;
pub use geometry::{SHRINK_MARGIN, Square, TOP_BIAS};
pub use probe::Format;

/// How the square is cut out of a non-square photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropMode {
    /// Centre crop on both axes.
    Center,
    /// Centre crop for landscape; for portrait keep the square near the top,
    /// where heads are: it starts [`TOP_BIAS`] (15%) of the excess height
    /// down from the top.
    #[default]
    Top,
}

/// Everything that shapes a rendition; built from `Settings` by `config`.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Square edge lengths to produce, ascending; the largest is the Graph master.
    pub sizes: Vec<u32>,
    /// Photos whose square would be smaller than this are refused (`image-too-small`).
    pub min_size: u32,
    /// JPEG quality 1..=100 for every output.
    pub jpeg_quality: u8,
    /// Where the square is cut from non-square photos.
    pub crop: CropMode,
    /// Largest input accepted, in bytes, checked before anything is parsed.
    pub max_bytes: u64,
    /// Largest pixel area accepted, read from the header before decoding.
    pub max_pixels: u64,
    /// Colour transparent pixels are flattened onto (sRGB).
    pub background: [u8; 3],
}

/// The sizes Microsoft 365 serves profile photos at.
pub const DEFAULT_SIZES: [u32; 9] = [48, 64, 96, 120, 240, 360, 432, 504, 648];

/// Microsoft Graph refuses profile photos over 4 MB.
pub const MAX_MASTER_BYTES: usize = 4 * 1024 * 1024;

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            sizes: DEFAULT_SIZES.to_vec(),
            min_size: 96,
            jpeg_quality: 85,
            crop: CropMode::Top,
            max_bytes: 50 * 1024 * 1024,
            max_pixels: 100_000_000,
            background: [255, 255, 255],
        }
    }
}

/// One square JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Edge length in pixels.
    pub size: u32,
    /// The JPEG file.
    pub jpeg: Vec<u8>,
    /// The quality it was encoded at (lower than asked only for an
    /// oversized master).
    pub quality: u8,
}

/// Everything rendered from one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Every size, ascending; the last is the master.
    pub thumbnails: Vec<Thumbnail>,
    /// The recognised input format.
    pub format: Format,
    /// Width of the photo as displayed (after EXIF orientation).
    pub width: u32,
    /// Height of the photo as displayed.
    pub height: u32,
}

impl Rendition {
    /// The largest thumbnail, uploaded to Microsoft Graph (at most 4 MB).
    pub fn master(&self) -> &Thumbnail {
        self.thumbnails
            .last()
            .expect("a rendition always has a master")
    }
}

/// What [`render`] would do with a photo, found without decoding a pixel:
/// it passed the same checks (size, format, header limits, minimum size) and
/// this is the square it cuts. For previews, so a page and the pipeline agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspection {
    /// The recognised format.
    pub format: Format,
    /// Width of the photo as displayed (after EXIF orientation).
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
    /// The square kept, in displayed coordinates.
    pub square: Square,
}

/// Checks a photo and says where its square is, reading only the header.
pub fn inspect(bytes: &[u8], options: &RenderOptions) -> Result<Inspection, PipelineError> {
    let (header, width, height) = checked_header(bytes, options)?;
    Ok(Inspection {
        format: header.format,
        width,
        height,
        square: geometry::displayed_square(width, height, options.crop),
    })
}

/// The checks every photo passes before decoding; returns the header and
/// the displayed size.
fn checked_header(
    bytes: &[u8],
    options: &RenderOptions,
) -> Result<(probe::Header, u32, u32), PipelineError> {
    check_byte_size(bytes.len() as u64, options)?;
    let format = probe::sniff(bytes)?;
    let header = probe::read_header(bytes, format, options)?;
    let area = u64::from(header.width) * u64::from(header.height);
    if area > options.max_pixels {
        return Err(PipelineError::too_large(format!(
            "the image is {}x{} ({area} pixels); the limit is {} pixels",
            header.width, header.height, options.max_pixels
        )));
    }
    let (width, height) = geometry::displayed_size(header.width, header.height, header.orientation);
    if width.min(height) < options.min_size.max(1) {
        return Err(PipelineError::ImageTooSmall {
            width,
            height,
            min_size: options.min_size,
        });
    }
    Ok((header, width, height))
}

/// Renders every configured size of one photo.
pub fn render(bytes: &[u8], options: &RenderOptions) -> Result<Rendition, PipelineError> {
    let (header, width, height) = checked_header(bytes, options)?;
    let format = header.format;
    let square = geometry::square_crop(
        header.width,
        header.height,
        header.orientation,
        options.crop,
    );
    let sizes = output_sizes(&options.sizes, square.side);
    let master_side = *sizes.last().expect("output_sizes is never empty");

    let pixels = decode::decode(bytes, &header, square, master_side, options)?;
    let mut resizer = fast_image_resize::Resizer::new();
    let mut master = resize::crop_resize(&mut resizer, &pixels, master_side)?;
    drop(pixels);
    // Colour-convert the master only: 5-30x fewer pixels than were decoded.
    if let Some(icc) = &header.icc {
        colour::to_srgb(&mut master, icc);
    }
    let master = resize::orient(master, header.orientation);
    let squares = resize::cascade(&mut resizer, master, &sizes)?;

    let mut thumbnails = Vec::with_capacity(squares.len());
    for square in &squares {
        let limit = (square.side == master_side).then_some(MAX_MASTER_BYTES);
        thumbnails.push(encode(square, options.jpeg_quality, limit)?);
    }
    Ok(Rendition {
        thumbnails,
        format,
        width,
        height,
    })
}

/// Refuses inputs over `max_bytes` (`image-too-large`); lets callers check a
/// file's length before reading it.
pub fn check_byte_size(len: u64, options: &RenderOptions) -> Result<(), PipelineError> {
    if len > options.max_bytes {
        return Err(PipelineError::too_large(format!(
            "the file is {len} bytes; the limit is {} bytes",
            options.max_bytes
        )));
    }
    Ok(())
}

/// The configured sizes that fit in a square of `side`, ascending and
/// unique; when the largest does not fit, `side` itself becomes the master
/// (never upscale).
fn output_sizes(configured: &[u32], side: u32) -> Vec<u32> {
    let mut sizes: Vec<u32> = configured
        .iter()
        .copied()
        .filter(|&s| s > 0 && s <= side)
        .collect();
    if configured.iter().any(|&s| s > side) || sizes.is_empty() {
        sizes.push(side);
    }
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// Encodes a square, stepping quality down while it exceeds `limit`.
fn encode(
    square: &resize::SquareImage,
    quality: u8,
    limit: Option<usize>,
) -> Result<Thumbnail, PipelineError> {
    let mut quality = quality.clamp(1, 100);
    loop {
        let jpeg = turbo::encode_rgb(&square.rgb, square.side, square.side, quality)?;
        match limit {
            Some(max) if jpeg.len() > max => {
                if quality <= 10 {
                    return Err(PipelineError::too_large(format!(
                        "even at quality {quality} the {0}x{0} master is {1} bytes, over Microsoft Graph's 4 MB limit; use smaller sizes",
                        square.side,
                        jpeg.len()
                    )));
                }
                quality = quality.saturating_sub(10).max(10);
            }
            _ => {
                return Ok(Thumbnail {
                    size: square.side,
                    jpeg,
                    quality,
                });
            }
        }
    }
}

/// Decodes a JPEG at 1/8 scale and discards it: the cost floor every JPEG
/// pipeline pays (entropy decoding). Returns the decoded size. For benchmarks.
pub fn jpeg_decode_floor(bytes: &[u8]) -> Result<(u32, u32), PipelineError> {
    turbo::decode_floor(bytes)
}

#[cfg(test)]
mod tests {
    use super::output_sizes;

    #[test]
    fn sizes_never_upscale() {
        assert_eq!(output_sizes(&[48, 96, 648], 500), vec![48, 96, 500]);
        assert_eq!(output_sizes(&[648, 48, 96, 96], 1000), vec![48, 96, 648]);
        assert_eq!(output_sizes(&[48, 96, 500], 500), vec![48, 96, 500]);
        assert_eq!(output_sizes(&[], 300), vec![300]);
    }
}
