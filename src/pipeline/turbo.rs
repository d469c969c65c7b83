//! Minimal safe wrapper over libjpeg-turbo 3's TurboJPEG API (statically
//! linked through the `turbojpeg` crate's bundled build).
//!
//! The crate's own `Decompressor` cannot set a cropping region, and
//! decoding only the kept square at reduced scale is the single biggest
//! saving of the pipeline, so this talks to `turbojpeg::raw` directly.

use std::ffi::{CStr, c_int};

use turbojpeg::raw;

use super::error::PipelineError;

/// An owned TurboJPEG instance.
struct Handle(raw::tjhandle);

impl Handle {
    fn new(init: raw::TJINIT) -> Result<Self, PipelineError> {
        // SAFETY: tj3Init has no preconditions; a null result is checked.
        let handle = unsafe { raw::tj3Init(init as c_int) };
        if handle.is_null() {
            return Err(PipelineError::corrupt("libjpeg-turbo could not start"));
        }
        Ok(Self(handle))
    }

    fn set(&mut self, param: raw::TJPARAM, value: c_int) -> Result<(), PipelineError> {
        // SAFETY: the handle is valid for the lifetime of self.
        match unsafe { raw::tj3Set(self.0, param as c_int, value) } {
            0 => Ok(()),
            _ => Err(self.error()),
        }
    }

    fn get(&mut self, param: raw::TJPARAM) -> c_int {
        // SAFETY: the handle is valid for the lifetime of self.
        unsafe { raw::tj3Get(self.0, param as c_int) }
    }

    /// The last error as a corrupt-image error (libjpeg reports bad data).
    fn error(&mut self) -> PipelineError {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated static or per-handle string.
        let message = unsafe { CStr::from_ptr(raw::tj3GetErrorStr(self.0)) };
        PipelineError::corrupt(message.to_string_lossy())
    }

    fn check(&mut self, status: c_int) -> Result<(), PipelineError> {
        if status == 0 {
            Ok(())
        } else {
            Err(self.error())
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { raw::tj3Destroy(self.0) }
    }
}

/// iMCU width per TJSAMP value (turbojpeg.h's `tjMCUWidth`, which is a
/// header-only static and so not linkable).
const MCU_WIDTH: [c_int; 7] = [8, 16, 16, 8, 8, 32, 8];

/// A decoded rectangle of a JPEG, as packed RGB.
#[derive(Debug)]
pub struct Decoded {
    /// RGB8 pixels, `width * height * 3` bytes.
    pub rgb: Vec<u8>,
    /// Width of the decoded region.
    pub width: u32,
    /// Height of the decoded region.
    pub height: u32,
    /// Where the region starts in the scaled image (x, y).
    pub origin: (u32, u32),
}

/// Decodes the part of `jpeg` covering the scaled rectangle `(x, y, w, h)`
/// at scale `eighths / 8`. The region is widened to the left to a whole
/// iMCU, as libjpeg-turbo requires; `origin` says where it ended up.
/// `stored` is the size the header parser read, which libjpeg must agree with.
pub fn decode_region(
    jpeg: &[u8],
    stored: (u32, u32),
    eighths: u32,
    region: (u32, u32, u32, u32),
    adobe_cmyk: bool,
    max_pixels: u64,
    max_memory: u64,
) -> Result<Decoded, PipelineError> {
    let mut handle = Handle::new(raw::TJINIT_TJINIT_DECOMPRESS)?;
    // Truncated or damaged data is refused rather than rendered half grey.
    handle.set(raw::TJPARAM_TJPARAM_STOPONWARNING, 1)?;
    handle.set(raw::TJPARAM_TJPARAM_MAXPIXELS, clamp_int(max_pixels))?;
    // Progressive files with hundreds of tiny scans are a known CPU bomb;
    // the header walk refuses them first, this is the decoder's own check.
    handle.set(
        raw::TJPARAM_TJPARAM_SCANLIMIT,
        super::budget::MAX_SCANS as c_int,
    )?;
    // The coefficient buffer of a progressive decode, in MB; the budget
    // prediction refuses it first.
    handle.set(
        raw::TJPARAM_TJPARAM_MAXMEMORY,
        clamp_int(max_memory.div_ceil(1 << 20).max(1)),
    )?;
    // SAFETY: pointer and length describe the caller's live slice.
    let status =
        unsafe { raw::tj3DecompressHeader(handle.0, jpeg.as_ptr(), jpeg.len() as raw::size_t) };
    handle.check(status)?;

    // libjpeg-turbo only accepts factors in lowest terms (1/2, not 4/8).
    let common = gcd(eighths, 8) as c_int;
    let factor = raw::tjscalingfactor {
        num: eighths as c_int / common,
        denom: 8 / common,
    };
    // SAFETY: the handle is valid; the factor is one libjpeg-turbo supports.
    let status = unsafe { raw::tj3SetScalingFactor(handle.0, factor) };
    handle.check(status)?;

    let (jpeg_width, jpeg_height) = (
        handle.get(raw::TJPARAM_TJPARAM_JPEGWIDTH),
        handle.get(raw::TJPARAM_TJPARAM_JPEGHEIGHT),
    );
    if (jpeg_width, jpeg_height) != (stored.0 as c_int, stored.1 as c_int) {
        return Err(PipelineError::corrupt(
            "the JPEG has conflicting frame headers",
        ));
    }
    let (scaled_width, scaled_height) = (scaled(jpeg_width, eighths), scaled(jpeg_height, eighths));
    let subsamp = handle.get(raw::TJPARAM_TJPARAM_SUBSAMP);
    let (x, y, w, h) = region;
    let crop = match usize::try_from(subsamp).ok().and_then(|s| MCU_WIDTH.get(s)) {
        Some(&mcu_width) => {
            let mcu = scaled(mcu_width, eighths).max(1);
            let left = x / mcu * mcu;
            (left, y, (x + w).min(scaled_width) - left, h)
        }
        // Unusual sampling factors cannot be cropped: decode everything.
        None => (0, 0, scaled_width, scaled_height),
    };
    let (left, top, width, height) = crop;
    if crop != (0, 0, scaled_width, scaled_height) {
        let region = raw::tjregion {
            x: left as c_int,
            y: top as c_int,
            w: width as c_int,
            h: height as c_int,
        };
        // SAFETY: the header has been read, as tj3SetCroppingRegion requires.
        let status = unsafe { raw::tj3SetCroppingRegion(handle.0, region) };
        handle.check(status)?;
    }

    let colorspace = handle.get(raw::TJPARAM_TJPARAM_COLORSPACE) as raw::TJCS;
    let cmyk = matches!(colorspace, raw::TJCS_TJCS_CMYK | raw::TJCS_TJCS_YCCK);
    let (format, channels) = if cmyk {
        (raw::TJPF_TJPF_CMYK, 4)
    } else {
        (raw::TJPF_TJPF_RGB, 3)
    };
    let mut pixels = vec![0u8; width as usize * height as usize * channels];
    // SAFETY: `pixels` holds exactly width x height x channels bytes, the size of
    // the cropped, scaled output for this pixel format with pitch 0.
    let status = unsafe {
        raw::tj3Decompress8(
            handle.0,
            jpeg.as_ptr(),
            jpeg.len() as raw::size_t,
            pixels.as_mut_ptr(),
            0,
            format,
        )
    };
    handle.check(status)?;
    let rgb = if cmyk {
        cmyk_to_rgb(&pixels, adobe_cmyk)
    } else {
        pixels
    };
    Ok(Decoded {
        rgb,
        width,
        height,
        origin: (left, top),
    })
}

/// Decodes the whole image at 1/8 scale and throws it away: the cost floor of
/// any JPEG pipeline (essentially entropy decoding alone). For benchmarks.
pub fn decode_floor(jpeg: &[u8]) -> Result<(u32, u32), PipelineError> {
    let header = super::jpeg_header::parse(jpeg)?;
    let (w, h) = (
        scaled(header.width as c_int, 1),
        scaled(header.height as c_int, 1),
    );
    let stored = (header.width, header.height);
    let decoded = decode_region(
        jpeg,
        stored,
        1,
        (0, 0, w, h),
        header.adobe,
        u64::MAX >> 8,
        u64::MAX >> 8,
    )?;
    Ok((decoded.width, decoded.height))
}

/// CMYK to RGB. Adobe applications store CMYK inverted (0 = full ink), which
/// is also libjpeg-turbo's own convention; other writers store it plainly.
fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let ink = |v: u8| {
            if inverted {
                u32::from(v)
            } else {
                255 - u32::from(v)
            }
        };
        let k = ink(px[3]);
        for &c in &px[..3] {
            rgb.push(((ink(c) * k + 127) / 255) as u8);
        }
    }
    rgb
}

fn scaled(dimension: c_int, eighths: u32) -> u32 {
    super::geometry::scaled(dimension.max(0) as u32, eighths) as u32
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn clamp_int(value: u64) -> c_int {
    value.min(c_int::MAX as u64) as c_int
}

/// Encodes packed RGB8 as a baseline 4:2:0 JPEG with optimised Huffman
/// tables and no metadata (libjpeg-turbo writes only a JFIF header).
pub fn encode_rgb(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>, PipelineError> {
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(PipelineError::corrupt(
            "pixel buffer does not match its size",
        ));
    }
    let mut handle = Handle::new(raw::TJINIT_TJINIT_COMPRESS)?;
    handle.set(
        raw::TJPARAM_TJPARAM_QUALITY,
        c_int::from(quality.clamp(1, 100)),
    )?;
    handle.set(
        raw::TJPARAM_TJPARAM_SUBSAMP,
        raw::TJSAMP_TJSAMP_420 as c_int,
    )?;
    handle.set(raw::TJPARAM_TJPARAM_OPTIMIZE, 1)?;
    let mut out: *mut u8 = std::ptr::null_mut();
    let mut size: raw::size_t = 0;
    // SAFETY: `rgb` holds width x height packed RGB pixels (checked above);
    // libjpeg-turbo allocates `out`, which is freed below with tj3Free.
    let status = unsafe {
        raw::tj3Compress8(
            handle.0,
            rgb.as_ptr(),
            width as c_int,
            0,
            height as c_int,
            raw::TJPF_TJPF_RGB,
            &mut out,
            &mut size,
        )
    };
    let result = handle.check(status).map(|()| {
        // SAFETY: on success `out` points to `size` initialised bytes.
        unsafe { std::slice::from_raw_parts(out, size as usize) }.to_vec()
    });
    // SAFETY: `out` is null or was allocated by libjpeg-turbo.
    unsafe { raw::tj3Free(out.cast()) };
    result
}
