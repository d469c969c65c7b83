//! HEIC/HEIF stills (the iPhone default) with `heifer`, a pure-Rust HEIF
//! container parser and HEVC decoder (MIT OR Apache-2.0, no C, no unsafe).
//!
//! The same checks as every other format apply: the size comes from the
//! container (`ispe`, `clap`, `irot`) before any pixel is decoded, the
//! decoder gets the pixel limit and one thread, and a panic inside it is an
//! error. `heifer` applies the clean aperture, rotation (`irot`) and mirror
//! (`imir`) boxes itself, in the order the file lists them, so the pixels
//! come out upright; a HEIF file's EXIF orientation is ignored, as the HEIF
//! specification (ISO/IEC 23008-12, 6.5.10) and libheif do.

use std::panic::{AssertUnwindSafe, catch_unwind};

use heifer::heifer_isobmff::HeifFile;
use heifer::heifer_isobmff::boxes::Property;
use image::{DynamicImage, RgbaImage};

use super::error::PipelineError;

/// Major brands of HEVC-coded HEIF files (ISO/IEC 23008-12 Annex B) and the
/// generic ones, whose items are checked once the container is parsed.
const BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
];

/// What `sniff` learns from an ISOBMFF `ftyp` box.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// A HEIF file worth parsing.
    Heif,
    /// AVIF (AV1 in HEIF), not decoded.
    Avif,
    /// Not a HEIF image (MP4 video, …).
    Other,
}

/// Classifies a file starting with an `ftyp` box by its brands.
pub fn kind(bytes: &[u8]) -> Kind {
    let size = bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let major = bytes.get(8..12).unwrap_or_default();
    // Compatible brands follow the major brand and minor version.
    let compatible = bytes.get(16..size.min(bytes.len())).unwrap_or_default();
    let has = |brand: &[u8]| compatible.chunks_exact(4).any(|b| b == brand);
    if major.starts_with(b"avi") || (!major.starts_with(b"he") && (has(b"avif") || has(b"avis"))) {
        return Kind::Avif;
    }
    if BRANDS.iter().any(|b| major == *b) {
        Kind::Heif
    } else {
        Kind::Other
    }
}

/// Size (as displayed) and ICC profile of the primary image, from the
/// container alone.
pub fn read_header(bytes: &[u8]) -> Result<(u32, u32, Option<Vec<u8>>), PipelineError> {
    let parsed = catch_unwind(AssertUnwindSafe(|| -> Result<_, PipelineError> {
        let file = HeifFile::parse(bytes).map_err(container_error)?;
        let id = file.primary_id;
        let item = file.item(id).map_err(container_error)?;
        check_item_type(&item.item_type.0)?;
        let (mut width, mut height) = file
            .image_size(id)
            .map_err(container_error)?
            .ok_or_else(|| PipelineError::corrupt("the HEIF image has no size (ispe) box"))?;
        for property in file.item_properties(id).map_err(container_error)? {
            match *property {
                Property::CleanAperture {
                    width: (wn, wd),
                    height: (hn, hd),
                    ..
                } if wd > 0 && hd > 0 => {
                    // Rounded as heifer crops: never larger than the coded image.
                    width = width.min((f64::from(wn) / f64::from(wd)).round() as u32);
                    height = height.min((f64::from(hn) / f64::from(hd)).round() as u32);
                }
                Property::Rotation(1 | 3) => std::mem::swap(&mut width, &mut height),
                _ => {}
            }
        }
        let icc = file
            .icc_profile(id)
            .map_err(container_error)?
            .map(<[u8]>::to_vec);
        Ok((width, height, icc))
    }));
    let (width, height, icc) =
        parsed.map_err(|_| PipelineError::corrupt("the HEIF container could not be read"))??;
    if width == 0 || height == 0 {
        return Err(PipelineError::corrupt("the image has a zero dimension"));
    }
    Ok((width, height, icc))
}

/// Decodes the primary image as upright RGBA8, refusing anything over
/// `max_pixels` (heifer checks every tile and the assembled grid).
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, PipelineError> {
    let options = heifer::Options {
        // One thread: callers already run one photo per blocking thread.
        max_threads: 1,
        max_pixels: max_pixels.max(1),
    };
    let image = catch_unwind(AssertUnwindSafe(|| heifer::decode_rgba8(bytes, &options)))
        .map_err(|_| PipelineError::corrupt("the HEIC decoder failed on this image"))?
        .map_err(decode_error)?;
    let rgba = RgbaImage::from_raw(image.width, image.height, image.data)
        .ok_or_else(|| PipelineError::corrupt("the HEIC decoder returned a short buffer"))?;
    Ok(DynamicImage::ImageRgba8(rgba))
}

/// Item types heifer decodes: HEVC (`hvc1`), and grids, overlays and
/// identity transforms of them. Anything else is named in the message.
fn check_item_type(item_type: &[u8; 4]) -> Result<(), PipelineError> {
    let variant = match item_type {
        b"hvc1" | b"grid" | b"iovl" | b"iden" => return Ok(()),
        b"av01" => "an AV1 (AVIF) image",
        b"jpeg" => "a JPEG-coded HEIF image",
        b"j2k1" => "a JPEG 2000 HEIF image",
        b"vvc1" => "a VVC (H.266) HEIF image",
        b"unci" => "an uncompressed HEIF image",
        b"hvt1" => "a tiled HEVC (hvt1) image",
        _ => "",
    };
    let variant = if variant.is_empty() {
        format!(
            "a HEIF image of type '{}'",
            String::from_utf8_lossy(item_type).escape_default()
        )
    } else {
        variant.to_owned()
    };
    Err(PipelineError::unsupported(format!(
        "this file holds {variant}, which is not supported; export the photo as JPEG"
    )))
}

fn container_error(error: heifer::heifer_isobmff::Error) -> PipelineError {
    PipelineError::corrupt(format!("the HEIF container is invalid: {error}"))
}

fn decode_error(error: heifer::Error) -> PipelineError {
    match error {
        heifer::Error::Unsupported(what) => PipelineError::unsupported(format!(
            "this HEIC variant is not supported ({what}); export the photo as JPEG"
        )),
        heifer::Error::Invalid(what) if what.contains("too large") => {
            PipelineError::too_large(format!("the HEIC image is over the pixel limit ({what})"))
        }
        other => PipelineError::corrupt(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len() as u32;
        let mut b = size.to_be_bytes().to_vec();
        b.extend(b"ftyp");
        b.extend(major);
        b.extend([0, 0, 0, 0]);
        compatible.iter().for_each(|c| b.extend(*c));
        b
    }

    #[test]
    fn brands() {
        assert_eq!(kind(&ftyp(b"heic", &[b"mif1", b"heic"])), Kind::Heif);
        assert_eq!(kind(&ftyp(b"mif1", &[b"mif1", b"heic"])), Kind::Heif);
        assert_eq!(kind(&ftyp(b"avif", &[b"mif1"])), Kind::Avif);
        assert_eq!(kind(&ftyp(b"mif1", &[b"mif1", b"avif"])), Kind::Avif);
        assert_eq!(kind(&ftyp(b"isom", &[b"mp41"])), Kind::Other);
        // A truncated ftyp box must not panic.
        assert_eq!(kind(b"\0\0\0\x40ftypheic"), Kind::Heif);
    }

    #[test]
    fn other_codecs_are_named() {
        let e = check_item_type(b"av01").unwrap_err();
        assert_eq!(e.code().as_str(), "unsupported-format");
        assert!(e.to_string().contains("AVIF"), "{e}");
        let e = check_item_type(b"zz\x01z").unwrap_err();
        assert!(e.to_string().contains("zz\\u{1}z"), "{e}");
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let mut bytes = ftyp(b"heic", &[b"mif1"]);
        bytes.extend([0xFF; 64]);
        assert_eq!(
            read_header(&bytes).unwrap_err().code().as_str(),
            "corrupt-image"
        );
        assert_eq!(
            decode(&bytes, 1 << 20).unwrap_err().code().as_str(),
            "corrupt-image"
        );
    }
}
