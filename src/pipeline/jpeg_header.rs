//! Reads what the pipeline needs from a JPEG's marker segments without
//! decoding any pixels: frame size, precision, coding process, EXIF
//! orientation and the Adobe colour-transform flag.
//!
//! Walking the segments ourselves lets the size limits run before
//! libjpeg-turbo allocates anything, and keeps orientation parsing
//! independent of the decoder.

use image::metadata::Orientation;

use super::error::PipelineError;

/// Facts from a JPEG header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegHeader {
    /// Stored width in pixels (before EXIF orientation).
    pub width: u32,
    /// Stored height in pixels (before EXIF orientation).
    pub height: u32,
    /// Bits per sample: 8 for almost every photo; 12 and 16 are refused.
    pub precision: u8,
    /// Number of colour components: 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK.
    pub components: u8,
    /// Lossless coding process (SOF3/SOF7/SOF11/SOF15), which cannot be
    /// decoded at reduced scale.
    pub lossless: bool,
    /// Whether an Adobe APP14 segment is present: its CMYK is stored inverted.
    pub adobe: bool,
    /// EXIF orientation, `NoTransforms` when absent or unreadable.
    pub orientation: Orientation,
    /// Embedded ICC profile, reassembled from its APP2 chunks.
    pub icc: Option<Vec<u8>>,
}

/// Parses the segments from SOI up to the first scan.
pub fn parse(bytes: &[u8]) -> Result<JpegHeader, PipelineError> {
    let truncated = || PipelineError::corrupt("the JPEG header is truncated");
    if bytes.len() < 4 || bytes[..2] != [0xFF, 0xD8] {
        return Err(PipelineError::corrupt("missing JPEG start-of-image marker"));
    }
    let mut frame: Option<JpegHeader> = None;
    let mut adobe = false;
    let mut orientation = Orientation::NoTransforms;
    // (sequence number, data) of each ICC_PROFILE chunk.
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut pos = 2;
    loop {
        if *bytes.get(pos).ok_or_else(truncated)? != 0xFF {
            return Err(PipelineError::corrupt("JPEG marker expected"));
        }
        // Any number of 0xFF fill bytes may precede a marker code.
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or_else(truncated)?;
        pos += 1;
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue; // stand-alone markers carry no length
        }
        if marker == 0xD9 {
            return Err(PipelineError::corrupt(
                "the JPEG ends before any image data",
            ));
        }
        let len_bytes = bytes.get(pos..pos + 2).ok_or_else(truncated)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(PipelineError::corrupt("invalid JPEG segment length"));
        }
        let segment = bytes.get(pos + 2..pos + len).ok_or_else(truncated)?;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && frame.is_none() => {
                frame = Some(parse_frame(marker, segment)?);
            }
            0xE1 if segment.starts_with(b"Exif\0\0") => {
                if let Some(found) = Orientation::from_exif_chunk(&segment[6..]) {
                    orientation = found;
                }
            }
            0xE2 if segment.len() > 14 && segment.starts_with(b"ICC_PROFILE\0") => {
                icc_chunks.push((segment[12], &segment[14..]));
            }
            0xEE if segment.starts_with(b"Adobe") => adobe = true,
            0xDA => break,
            _ => {}
        }
        pos += len;
    }
    let mut header = frame.ok_or_else(|| PipelineError::corrupt("JPEG without a frame header"))?;
    header.adobe = adobe;
    header.orientation = orientation;
    icc_chunks.sort_by_key(|&(sequence, _)| sequence);
    header.icc =
        (!icc_chunks.is_empty()).then(|| icc_chunks.iter().flat_map(|c| c.1).copied().collect());
    Ok(header)
}

fn parse_frame(marker: u8, segment: &[u8]) -> Result<JpegHeader, PipelineError> {
    if segment.len() < 6 {
        return Err(PipelineError::corrupt("JPEG frame header is too short"));
    }
    let header = JpegHeader {
        precision: segment[0],
        height: u32::from(u16::from_be_bytes([segment[1], segment[2]])),
        width: u32::from(u16::from_be_bytes([segment[3], segment[4]])),
        components: segment[5],
        lossless: matches!(marker, 0xC3 | 0xC7 | 0xCB | 0xCF),
        adobe: false,
        orientation: Orientation::NoTransforms,
        icc: None,
    };
    if header.width == 0 || header.height == 0 {
        // A zero height means "defined later by a DNL marker"; nobody writes that.
        return Err(PipelineError::corrupt(
            "the JPEG frame has a zero dimension",
        ));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reads_frame_and_adobe_marker() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(segment(0xEE, b"Adobe\0\x64\0\0\0\0\x02"));
        jpeg.extend(segment(0xC2, &[12, 0x01, 0x00, 0x02, 0x00, 4]));
        jpeg.extend(segment(0xDA, &[0]));
        let header = parse(&jpeg).unwrap();
        assert_eq!((header.width, header.height), (512, 256));
        assert_eq!((header.precision, header.components), (12, 4));
        assert!(header.adobe && !header.lossless);
    }

    #[test]
    fn truncated_header_is_corrupt() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(segment(0xC0, &[8, 0x01, 0x00, 0x02, 0x00, 3]));
        let cut = &jpeg[..jpeg.len() - 3];
        assert_eq!(parse(cut).unwrap_err().code().as_str(), "corrupt-image");
    }
}
