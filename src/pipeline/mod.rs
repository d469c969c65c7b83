//! The photo pipeline: bytes in, square JPEG thumbnails out. Pure CPU work, no I/O;
//! callers run it inside `tokio::task::spawn_blocking`.
//!
//! [`render`] checks the byte count, recognises the format by its magic
//! number, reads the header and checks width, height and area before any
//! pixel is decoded, then decodes once (JPEG: at reduced DCT scale, and only
//! the kept square when it is known in advance), places the square (by
//! default on the largest frontal face, found on a small copy of that same
//! decode), resizes to the master and cascades the smaller sizes, and
//! encodes each as a metadata-free baseline JPEG.
//!
//! Colour: an embedded RGB ICC profile (Display P3 from iPhones, Adobe RGB
//! from cameras) is converted to sRGB on the master square; photos without
//! one, or with a profile that cannot be used (CMYK, grey, unreadable), are
//! treated as sRGB. The output carries no metadata at all (no EXIF, GPS,
//! XMP, ICC or comments), only the JFIF header, so it is plain sRGB.

mod budget;
mod colour;
mod decode;
mod error;
mod face;
mod framing;
mod geometry;
mod heic;
mod jpeg_header;
mod overview;
mod place;
mod png_rows;
mod probe;
mod resize;
mod turbo;

pub use budget::MAX_SCANS;
pub use error::PipelineError;
pub use face::FaceBox;
pub use framing::{EYE_LINE, FACE_SHARE, Focus, TOO_SMALL, Warning};
pub use geometry::{SHRINK_MARGIN, Square, TOP_BIAS};
pub use overview::{Overview, overview};
pub use probe::Format;

/// How the square is cut out of a non-square photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropMode {
    /// Centre crop on both axes.
    Center,
    /// Centre crop for landscape; for portrait keep the square near the top,
    /// where heads are: it starts [`TOP_BIAS`] (15%) of the excess height
    /// down from the top.
    Top,
    /// Centred on the largest frontal face, zoomed so it is about 42% of the
    /// square's width; falls back to [`CropMode::Top`] when no face is found.
    #[default]
    Face,
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
    /// A point chosen by an administrator for this photo; overrides `crop`.
    pub focus: Option<Focus>,
    /// Largest input accepted, in bytes, checked before anything is parsed.
    pub max_bytes: u64,
    /// Largest pixel area accepted, read from the header before decoding.
    pub max_pixels: u64,
    /// Most memory one render may allocate, predicted from the header
    /// before decoding ([`estimate`]); over it is `image-too-large`.
    pub max_decode_bytes: u64,
    /// Longest one render may take. The PNG row decoder stops past it; the
    /// caller (the sync flow) answers `image-too-slow` at it for the
    /// decoders that cannot be interrupted. `None`: no limit.
    pub time_budget: Option<std::time::Duration>,
    /// Colour transparent pixels are flattened onto (sRGB).
    pub background: [u8; 3],
    /// Largest the master (largest) JPEG may be: its quality steps down
    /// until it fits. The caller's rule (Microsoft Graph's upload limit),
    /// not the pipeline's; `None` for no ceiling.
    pub master_max_bytes: Option<usize>,
}

/// The sizes Microsoft 365 serves profile photos at.
pub const DEFAULT_SIZES: [u32; 9] = [48, 64, 96, 120, 240, 360, 432, 504, 648];

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            sizes: DEFAULT_SIZES.to_vec(),
            min_size: 96,
            jpeg_quality: 85,
            crop: CropMode::Face,
            focus: None,
            // A phone or camera JPEG is 2-15 MB, an iPhone HEIC 1-5 MB; with
            // the decode pool below it keeps a photo's whole journey within
            // the 256 MB memory target (crate::memory).
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 100_000_000,
            // Enough for a 24 MP HEIC (iPhone 15's default) or a 40 MP PNG.
            max_decode_bytes: 160 << 20,
            // A 100 MP baseline JPEG renders in under 2 s on one core.
            time_budget: Some(std::time::Duration::from_secs(20)),
            background: [255, 255, 255],
            master_max_bytes: None,
        }
    }
}

/// One square JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Edge length in pixels.
    pub size: u32,
    /// The JPEG file (cheap to clone: shared by every writer).
    pub jpeg: bytes::Bytes,
    /// The quality it was encoded at (lower than asked only for an
    /// oversized master).
    pub quality: u8,
}

/// Everything rendered from one photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// Every size, ascending; the last is the master.
    pub thumbnails: Vec<Thumbnail>,
    /// The recognised input format.
    pub format: Format,
    /// Width of the photo as displayed (after EXIF orientation).
    pub width: u32,
    /// Height of the photo as displayed.
    pub height: u32,
    /// The square that was cut, on the photo as displayed (for previews).
    pub square: Square,
    /// The face the square was framed on, on the photo as displayed.
    pub face: Option<FaceBox>,
    /// What an administrator should look at (the photo is still synced).
    pub warnings: Vec<Warning>,
}

impl Rendition {
    /// The largest thumbnail (within `master_max_bytes`).
    pub fn master(&self) -> &Thumbnail {
        self.thumbnails
            .last()
            .expect("a rendition always has a master")
    }
}

/// What a photo is, found from its header alone, after the same checks
/// [`render`] makes (size, format, header limits, minimum size): for the web
/// page, which refuses a file before storing it without decoding a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspection {
    /// The recognised format.
    pub format: Format,
    /// Width of the photo as displayed (after EXIF orientation).
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
}

/// Checks a photo as [`render`] would, reading only its header.
pub fn inspect(bytes: &[u8], options: &RenderOptions) -> Result<Inspection, PipelineError> {
    let estimate = estimate(bytes, options)?;
    Ok(Inspection {
        format: estimate.format,
        width: estimate.width,
        height: estimate.height,
    })
}

/// What a render of a photo will cost, from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// The recognised format.
    pub format: Format,
    /// Width of the photo as displayed.
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
    /// Bytes the decode and the output stage will allocate (the input
    /// itself not included).
    pub bytes: u64,
}

/// Reads the header and predicts the memory [`render`] will allocate,
/// refusing, before any pixel is decoded, what [`render`] would refuse:
/// size, format, area, minimum size, `max_decode_bytes` (`image-too-large`)
/// and progressive JPEGs with more than [`MAX_SCANS`] scans (`image-too-slow`).
pub fn estimate(bytes: &[u8], options: &RenderOptions) -> Result<Estimate, PipelineError> {
    let (header, width, height) = displayed_header(bytes, options)?;
    let master_side = master_side(options, width.min(height));
    let predicted = budget::predict(&header, master_side);
    budget::check(&header, predicted, options.max_decode_bytes)?;
    Ok(Estimate {
        format: header.format,
        width,
        height,
        bytes: predicted,
    })
}

/// The master's edge for a photo whose largest square is `largest`.
fn master_side(options: &RenderOptions, largest: u32) -> u32 {
    *output_sizes(&options.sizes, largest)
        .last()
        .expect("output_sizes is never empty")
}

/// [`checked_header`] plus the displayed size and the minimum-size check.
fn displayed_header(
    bytes: &[u8],
    options: &RenderOptions,
) -> Result<(probe::Header, u32, u32), PipelineError> {
    let header = checked_header(bytes, options)?;
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
    let (header, width, height) = displayed_header(bytes, options)?;
    let format = header.format;
    let largest = width.min(height);
    let sizes = output_sizes(&options.sizes, largest);
    let master_side = *sizes.last().expect("output_sizes is never empty");
    budget::check(
        &header,
        budget::predict(&header, master_side),
        options.max_decode_bytes,
    )?;

    let placed = place::decode_placed(bytes, &header, master_side, options)?;
    let pixels = placed.pixels;
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
        let limit = options
            .master_max_bytes
            .filter(|_| square.side == master_side);
        thumbnails.push(encode(square, options.jpeg_quality, limit)?);
    }
    let mut warnings = placed.warnings;
    if header.icc_ignored {
        warnings.push(Warning::IccProfileIgnored);
    }
    Ok(Rendition {
        thumbnails,
        format,
        width,
        height,
        square: placed.square,
        face: placed.face,
        warnings,
    })
}

/// Checks the byte count, recognises the format and reads the header,
/// refusing an area over `max_pixels`, all before any pixel is decoded.
fn checked_header(bytes: &[u8], options: &RenderOptions) -> Result<probe::Header, PipelineError> {
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
    Ok(header)
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
                        "even at quality {quality} the {0}x{0} master is {1} bytes, over the {max}-byte limit; use smaller sizes",
                        square.side,
                        jpeg.len()
                    )));
                }
                quality = quality.saturating_sub(10).max(10);
            }
            _ => {
                return Ok(Thumbnail {
                    size: square.side,
                    jpeg: bytes::Bytes::from(jpeg),
                    quality,
                });
            }
        }
    }
}

/// Face detection alone, as [`render`] runs it on the buffer it decoded
/// anyway (RGB8, `width` x `height`, upright): the small grey copy plus the
/// detector. Faces in that buffer's pixels, largest first. For benchmarks.
pub fn detect_faces(rgb: &[u8], width: u32, height: u32) -> Vec<FaceBox> {
    let Some((copy, factor)) = face::detection_image(
        rgb,
        width,
        height,
        image::metadata::Orientation::NoTransforms,
    ) else {
        return Vec::new();
    };
    face::detect(&copy)
        .into_iter()
        .map(|f| face::scale(f, factor))
        .collect()
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
