//! The photo pipeline: bytes in, square JPEG thumbnails out. Pure CPU work, no I/O;
//! callers run it inside `tokio::task::spawn_blocking`.
//!
//! (Skeleton: the pipeline issue fills this in.)

/// How the square is cut out of a non-square photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropMode {
    /// Centre crop on both axes.
    Center,
    /// Centre crop for landscape; for portrait keep the square near the top,
    /// where heads are.
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
