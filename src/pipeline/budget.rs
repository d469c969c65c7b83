//! The memory and time a decode will cost, predicted from the header
//! alone, and the refusals when it would cost too much.
//!
//! The prediction counts what the decoders really allocate: libjpeg-turbo's
//! scaled output, plus for progressive files its whole-image coefficient
//! buffer (every 8x8 block of every component, 2 bytes per coefficient);
//! the streamed PNG decoder's rows and reduced buffer; for GIF, WebP, BMP
//! and TIFF (decoded whole by the `image` crate) the full canvas the
//! decoder fills (a GIF's logical screen, a WebP's canvas) plus the
//! conversion to RGB; then the ICC profile and the output stage. The
//! figures were checked against peak RSS (`cargo bench --bench pipeline`).

use super::error::PipelineError;
use super::geometry::{self, SHRINK_MARGIN};
use super::png_rows;
use super::probe::{Format, Header};

/// Progressive JPEGs with more scans than this are refused before decoding
/// (libjpeg-turbo is also told, `TJPARAM_SCANLIMIT`). Encoders write 6-12
/// (libjpeg's default script: 10; mozjpeg: at most about 20); each scan
/// walks every block of the image, so 500 scans of a 100 MP file take
/// minutes.
pub const MAX_SCANS: u32 = 100;

/// What the output stage costs on top of the decode, whatever the format:
/// the resizer, the face detector's grey copy and the encoder.
const FIXED: u64 = 8 << 20;

const MB: u64 = 1 << 20;

/// Bytes the render of this photo will allocate, for a master of
/// `master_side` pixels.
pub fn predict(header: &Header, master_side: u32) -> u64 {
    let (w, h) = (u64::from(header.width), u64::from(header.height));
    let area = w * h;
    let side = header.width.min(header.height);
    let wanted = u64::from(master_side) * u64::from(SHRINK_MARGIN);
    let decode = match (header.format, &header.jpeg, &header.png) {
        (_, Some(jpeg), _) => {
            let eighths = geometry::jpeg_scale_eighths(side, master_side);
            let channels = if jpeg.components == 4 { 4 + 3 } else { 3 };
            let output = geometry::scaled(header.width, eighths)
                * geometry::scaled(header.height, eighths)
                * channels;
            let hmax = u64::from(jpeg.sampling.iter().map(|s| s.0).max().unwrap_or(1));
            let vmax = u64::from(jpeg.sampling.iter().map(|s| s.1).max().unwrap_or(1));
            let (mcus_x, mcus_y) = (w.div_ceil(8 * hmax), h.div_ceil(8 * vmax));
            let coefficients = if jpeg.progressive {
                jpeg.sampling
                    .iter()
                    .map(|&(hs, vs)| mcus_x * u64::from(hs) * mcus_y * u64::from(vs) * 128)
                    .sum()
            } else {
                // One iMCU row of coefficients and samples.
                mcus_x * hmax * vmax * 64 * 2 * 8 * jpeg.sampling.len() as u64
            };
            output + coefficients
        }
        (_, _, Some(info)) => {
            let factor = png_rows::factor(side, wanted);
            png_rows::decode_bytes(header.width, header.height, *info, factor)
        }
        // heifer: 8-bit 4:2:0 planes (1.5 bytes/pixel, 16-bit internally)
        // and the RGB image it returns.
        (Format::Heic, _, _) => area * 3 + area * 3,
        // The decoder's canvas, then the RGB copy `flatten` makes (none
        // for RGB8, which is moved).
        _ => {
            let rgb = if header.decoded_bytes == area * 3 {
                0
            } else {
                area * 3
            };
            header.decoded_bytes + rgb
        }
    };
    let icc = header.icc.as_ref().map_or(0, |icc| icc.len() as u64);
    let master = u64::from(master_side).pow(2) * 3 * 3;
    decode + icc + master + FIXED
}

/// Refuses a render predicted to need more than `max_decode_bytes`,
/// naming the prediction, the limit and what to export instead; then a
/// progressive JPEG with more than [`MAX_SCANS`] scans.
pub fn check(header: &Header, predicted: u64, max_decode_bytes: u64) -> Result<(), PipelineError> {
    if predicted > max_decode_bytes {
        let progressive = header.jpeg.as_ref().is_some_and(|j| j.progressive);
        let instead = if progressive {
            "export it as a baseline (non-progressive) JPEG, which is decoded at reduced scale"
        } else if header.format == Format::Jpeg {
            "export it as a smaller JPEG (for example 4000x4000)"
        } else {
            "export it as a JPEG or PNG, which are decoded at reduced scale"
        };
        return Err(PipelineError::too_large(format!(
            "decoding this {w}x{h} {format} would take about {need} MB of memory; the limit is {limit} MB (PHOTOSYNC_MAX_DECODE_MB); {instead}",
            w = header.width,
            h = header.height,
            format = header.format.name(),
            need = predicted.div_ceil(MB),
            limit = max_decode_bytes / MB,
        )));
    }
    if let Some(jpeg) = header.jpeg.as_ref().filter(|j| j.scans > MAX_SCANS) {
        return Err(PipelineError::TooSlow(format!(
            "the progressive JPEG has {} scans; photosync decodes at most {MAX_SCANS} (cameras and editors write about 10); export it again as a baseline JPEG",
            jpeg.scans
        )));
    }
    Ok(())
}

/// The error for a render that ran past its time budget.
pub fn too_slow() -> PipelineError {
    PipelineError::TooSlow(
        "decoding took longer than the render time budget (PHOTOSYNC_MAX_RENDER_SECS); export the photo again as a baseline JPEG".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::jpeg_header::JpegHeader;
    use crate::pipeline::png_rows::PngInfo;
    use image::metadata::Orientation;

    fn header(format: Format, width: u32, height: u32, decoded: u64) -> Header {
        Header {
            format,
            width,
            height,
            orientation: Orientation::NoTransforms,
            icc: None,
            icc_ignored: false,
            jpeg: None,
            png: None,
            decoded_bytes: decoded,
        }
    }

    fn jpeg(progressive: bool, sampling: Vec<(u8, u8)>) -> JpegHeader {
        JpegHeader {
            width: 10_000,
            height: 10_000,
            precision: 8,
            components: sampling.len() as u8,
            lossless: false,
            adobe: false,
            orientation: Orientation::NoTransforms,
            icc: None,
            icc_ignored: false,
            progressive,
            sampling,
            scans: 1,
        }
    }

    const LIMIT: u64 = 256 << 20;

    #[test]
    fn full_canvas_formats_count_the_canvas() {
        // A GIF's logical screen and a WebP canvas are RGBA8.
        for format in [Format::Gif, Format::WebP] {
            let h = header(format, 10_000, 10_000, 400_000_000);
            let p = predict(&h, 648);
            assert!(p > 700_000_000, "{p}");
            assert_eq!(
                check(&h, p, LIMIT).unwrap_err().code().as_str(),
                "image-too-large"
            );
        }
        // A 3000x2000 RGB TIFF fits: 18 MB decoded, moved as RGB.
        let small = header(Format::Tiff, 3000, 2000, 18_000_000);
        assert!(predict(&small, 648) < 40 << 20);
    }

    #[test]
    fn progressive_jpeg_counts_every_coefficient_baseline_only_the_output() {
        let mut h = header(Format::Jpeg, 10_000, 10_000, 0);
        h.jpeg = Some(jpeg(true, vec![(1, 1); 3]));
        let progressive = predict(&h, 648);
        // 3 components x 1250 x 1250 blocks x 64 coefficients x 2 bytes.
        assert!(progressive > 600_000_000, "{progressive}");
        let e = check(&h, progressive, LIMIT).unwrap_err().to_string();
        assert!(e.contains("baseline") && e.contains("256 MB"), "{e}");
        // 4:2:0 needs half of that.
        h.jpeg = Some(jpeg(true, vec![(2, 2), (1, 1), (1, 1)]));
        assert!((300_000_000..340_000_000).contains(&(predict(&h, 648) - FIXED)));
        h.jpeg = Some(jpeg(false, vec![(2, 2), (1, 1), (1, 1)]));
        assert!(predict(&h, 648) < 40 << 20);
    }

    #[test]
    fn too_many_scans_is_too_slow() {
        let mut h = header(Format::Jpeg, 1000, 1000, 0);
        let mut j = jpeg(true, vec![(1, 1)]);
        j.scans = MAX_SCANS + 1;
        h.jpeg = Some(j);
        let e = check(&h, predict(&h, 648), LIMIT).unwrap_err();
        assert_eq!(e.code().as_str(), "image-too-slow");
    }

    #[test]
    fn png_is_streamed_so_any_accepted_area_fits() {
        let mut h = header(Format::Png, 10_000, 10_000, 0);
        h.png = Some(PngInfo {
            channels: 4,
            bit_depth: 16,
            interlaced: true,
        });
        let p = predict(&h, 648);
        assert!(p < 64 << 20, "{p}");
        assert!(check(&h, p, 32 << 20).is_err());
    }

    #[test]
    fn the_icc_profile_counts() {
        let mut h = header(Format::Tiff, 100, 100, 30_000);
        let without = predict(&h, 96);
        h.icc = Some(vec![0; 1 << 20]);
        assert_eq!(predict(&h, 96) - without, 1 << 20);
    }
}
