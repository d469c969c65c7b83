//! ICC colour management: converts RGB pixels described by an embedded
//! profile to sRGB with `moxcms` (pure Rust), so wide-gamut photos keep
//! their colours once the profile is dropped from the output.

use std::panic::{AssertUnwindSafe, catch_unwind};

use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

use super::resize::SquareImage;

/// Converts `square` from the colour space of `icc` to sRGB in place.
/// Unusable profiles (not RGB, malformed) leave the pixels as they are:
/// treating them as sRGB is what every browser falls back to.
pub fn to_srgb(square: &mut SquareImage, icc: &[u8]) {
    // The profile comes from the upload: a panic in the parser must not
    // take the photo down, so it is treated like an unusable profile.
    let converted = catch_unwind(AssertUnwindSafe(|| convert(&square.rgb, icc)));
    if let Ok(Some(rgb)) = converted {
        square.rgb = rgb;
    }
}

fn convert(rgb: &[u8], icc: &[u8]) -> Option<Vec<u8>> {
    let source = ColorProfile::new_from_slice(icc).ok()?;
    if source.color_space != DataColorSpace::Rgb {
        return None;
    }
    let srgb = ColorProfile::new_srgb();
    let options = TransformOptions::default();
    let transform = source
        .create_transform_8bit(Layout::Rgb, &srgb, Layout::Rgb, options)
        .ok()?;
    let mut converted = vec![0u8; rgb.len()];
    transform.transform(rgb, &mut converted).ok()?;
    Some(converted)
}
