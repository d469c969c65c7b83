//! Where the square goes, on the photo as displayed: pure placement maths
//! for every crop mode, and the warnings a face crop can raise.
//!
//! A face crop zooms in until the face is [`FACE_SHARE`] of the square's
//! width, centres the face horizontally and puts the eyes [`EYE_LINE`] of
//! the way down, then clamps the square to the photo. It never zooms in so
//! far that the master would have to be enlarged (`min_side`).

use super::CropMode;
use super::face::FaceBox;
use super::geometry::{Square, TOP_BIAS};

/// Share of the square's width the face should take (the issue asks for
/// 40-50%; 42% keeps the hair inside for most heads).
pub const FACE_SHARE: f64 = 0.42;

/// Where the eyes go, as a fraction of the square's height from the top.
pub const EYE_LINE: f64 = 0.42;

/// Where the eyes sit inside a SeetaFace box, from its top (measured on the
/// astronaut portrait: the box runs from the brows to the chin).
const EYES_IN_BOX: f64 = 0.33;

/// A face narrower than this share of the photo's short side (the largest
/// square) is "too small": the photo was taken from too far away. (The
/// square zooms in on it anyway, as far as the resolution allows.)
pub const TOO_SMALL: f64 = 0.15;

/// A second face at least this fraction of the largest one's width makes the
/// photo a group photo; smaller ones (posters, people far behind) do not.
const SEVERAL_RATIO: f64 = 0.5;

/// Something an administrator should look at; the photo is still synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// Face crop asked for, no frontal face found: the top-biased square was used.
    NoFaceFound,
    /// More than one face of similar size: the largest was used.
    SeveralFaces,
    /// The face is under [`TOO_SMALL`] of the photo's short side.
    FaceTooSmall,
    /// The embedded ICC profile was over 1 MB (no real one is), so it was
    /// ignored and the photo treated as sRGB.
    IccProfileIgnored,
}

impl Warning {
    /// Stable code, for reports, logs and blob metadata.
    pub fn code(self) -> crate::problem::ProblemCode {
        use crate::problem::ProblemCode;
        match self {
            Self::NoFaceFound => ProblemCode::NoFaceFound,
            Self::SeveralFaces => ProblemCode::SeveralFaces,
            Self::FaceTooSmall => ProblemCode::FaceTooSmall,
            Self::IccProfileIgnored => ProblemCode::IccProfileIgnored,
        }
    }

    /// What it means and what to do, for an administrator.
    pub fn message(self) -> &'static str {
        match self {
            Self::NoFaceFound => {
                "no face was found, so the square was cut near the top; check the thumbnail or set a focus point"
            }
            Self::SeveralFaces => {
                "several faces were found and the square was centred on the largest; a photo of one person works better"
            }
            Self::FaceTooSmall => {
                "the face is under 15% of the photo's width, so the thumbnail was zoomed in on it; a photo taken closer up will look sharper"
            }
            Self::IccProfileIgnored => {
                "the photo's embedded colour profile is over 1 MB, so it was ignored and the colours treated as sRGB; export the photo again with a standard profile (sRGB or Display P3)"
            }
        }
    }
}

/// A point chosen by an administrator, as fractions (0..=1) of the displayed
/// photo's width and height; it overrides detection. Stored in the ledger
/// (a changed focus re-renders the photo).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Focus {
    /// Horizontal position, 0 = left edge.
    pub x: f64,
    /// Vertical position, 0 = top edge.
    pub y: f64,
}

impl Focus {
    /// A focus point, if both coordinates are finite and within 0..=1.
    pub fn new(x: f64, y: f64) -> Option<Self> {
        let ok = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        (ok(x) && ok(y)).then_some(Self { x, y })
    }

    /// Parses `x,y` (fractions, e.g. `0.4,0.25`; `x;y` too, as a `;`
    /// mapping file may write it).
    pub fn parse(text: &str) -> Option<Self> {
        let (x, y) = text.trim().split_once([',', ';'])?;
        Self::new(x.trim().parse().ok()?, y.trim().parse().ok()?)
    }
}

/// Coordinates are finite (checked by [`Focus::new`]), so equality is total.
impl Eq for Focus {}

impl std::fmt::Display for Focus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.x, self.y)
    }
}

/// The largest square, by geometry alone: centred, or for portraits
/// [`TOP_BIAS`] of the excess height down (also the face crop's fallback).
pub fn geometric(width: u32, height: u32, mode: CropMode) -> Square {
    let side = width.min(height);
    if width > height {
        return Square {
            x: (width - side) / 2,
            y: 0,
            side,
        };
    }
    let excess = height - side;
    let y = match mode {
        CropMode::Center => excess / 2,
        CropMode::Top | CropMode::Face => (f64::from(excess) * TOP_BIAS).round() as u32,
    };
    Square { x: 0, y, side }
}

/// The largest square centred on `focus`, clamped to the photo.
pub fn around_point(width: u32, height: u32, focus: Focus) -> Square {
    let side = width.min(height);
    Square {
        x: start(focus.x * f64::from(width), side, width),
        y: start(focus.y * f64::from(height), side, height),
        side,
    }
}

/// The square framing `face`: the face [`FACE_SHARE`] of its width, centred,
/// eyes on [`EYE_LINE`], no smaller than `min_side` (nor than the photo
/// allows), clamped to the photo.
pub fn around_face(width: u32, height: u32, face: &FaceBox, min_side: u32) -> Square {
    let largest = width.min(height);
    let wanted = (face.width / FACE_SHARE).round() as u32;
    let side = wanted.clamp(min_side.min(largest).max(1), largest);
    let eyes = face.y + face.height * EYES_IN_BOX;
    let top = eyes - EYE_LINE * f64::from(side);
    Square {
        x: start(face.center_x(), side, width),
        y: start(top + f64::from(side) / 2.0, side, height),
        side,
    }
}

/// The warnings for the faces found (largest first) on a photo whose short
/// side is `short_side`.
pub fn judge(faces: &[FaceBox], short_side: u32) -> Vec<Warning> {
    let Some(largest) = faces.first() else {
        return vec![Warning::NoFaceFound];
    };
    let mut warnings = Vec::new();
    if faces[1..]
        .iter()
        .any(|f| f.width >= largest.width * SEVERAL_RATIO)
    {
        warnings.push(Warning::SeveralFaces);
    }
    if largest.width < TOO_SMALL * f64::from(short_side) {
        warnings.push(Warning::FaceTooSmall);
    }
    warnings
}

/// The start of a span of `side` centred on `center`, kept inside `0..extent`.
fn start(center: f64, side: u32, extent: u32) -> u32 {
    let max = f64::from(extent.saturating_sub(side));
    (center - f64::from(side) / 2.0).round().clamp(0.0, max) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f64, y: f64, w: f64) -> FaceBox {
        FaceBox {
            x,
            y,
            width: w,
            height: w,
        }
    }

    #[test]
    fn a_face_is_centred_with_headroom() {
        let f = face(1000.0, 900.0, 420.0);
        let sq = around_face(4000, 3000, &f, 648);
        assert_eq!(sq.side, 1000); // 420 / 0.42
        assert_eq!(sq.x, 710); // centre 1210 - 500
        // Eyes at 900 + 0.33 * 420 = 1038.6, 42% (420 px) below the top.
        assert_eq!(sq.y, 619);
    }

    #[test]
    fn zoom_stops_at_min_side_and_at_the_photo() {
        let tiny = face(100.0, 100.0, 60.0);
        assert_eq!(around_face(4000, 3000, &tiny, 1296).side, 1296);
        let huge = face(0.0, 0.0, 2900.0);
        assert_eq!(around_face(4000, 3000, &huge, 648).side, 3000);
        // A photo smaller than min_side: the whole short side.
        assert_eq!(around_face(800, 600, &tiny, 648).side, 600);
    }

    #[test]
    fn squares_stay_inside_the_photo() {
        for f in [
            face(0.0, 0.0, 300.0),
            face(3900.0, 2900.0, 100.0),
            face(-50.0, -50.0, 2000.0),
        ] {
            let sq = around_face(4000, 3000, &f, 648);
            assert!(
                sq.x + sq.side <= 4000 && sq.y + sq.side <= 3000,
                "{f:?} {sq:?}"
            );
        }
        let p = around_point(3000, 4000, Focus::new(1.0, 1.0).unwrap());
        assert_eq!((p.x, p.y, p.side), (0, 1000, 3000));
        let p = around_point(4000, 3000, Focus::new(0.5, 0.0).unwrap());
        assert_eq!((p.x, p.y, p.side), (500, 0, 3000));
    }

    #[test]
    fn geometric_matches_the_old_crop() {
        assert_eq!(
            geometric(3000, 4000, CropMode::Top),
            Square {
                x: 0,
                y: 150,
                side: 3000
            }
        );
        assert_eq!(geometric(3000, 4000, CropMode::Center).y, 500);
        assert_eq!(geometric(4000, 3000, CropMode::Top).x, 500);
    }

    #[test]
    fn warnings() {
        let sq = 1000;
        assert_eq!(judge(&[], sq), vec![Warning::NoFaceFound]);
        assert_eq!(judge(&[face(0.0, 0.0, 420.0)], sq), vec![]);
        assert_eq!(
            judge(&[face(0.0, 0.0, 420.0), face(500.0, 0.0, 300.0)], sq),
            vec![Warning::SeveralFaces]
        );
        // A much smaller second face (a poster behind) is not a group.
        assert_eq!(
            judge(&[face(0.0, 0.0, 420.0), face(500.0, 0.0, 100.0)], sq),
            vec![]
        );
        assert_eq!(
            judge(&[face(0.0, 0.0, 140.0)], sq),
            vec![Warning::FaceTooSmall]
        );
    }

    #[test]
    fn focus_parsing() {
        assert_eq!(Focus::parse(" 0.4, 0.25"), Focus::new(0.4, 0.25));
        assert_eq!(Focus::parse("1.2,0.5"), None);
        assert_eq!(Focus::parse("0.5"), None);
        assert_eq!(Focus::parse("NaN,0.5"), None);
        assert_eq!(Focus::parse("a,b"), None);
    }
}
