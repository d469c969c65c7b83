//! `photosync preview [DIR] [--out FILE.html]`: one self-contained HTML page
//! showing, for every photo, the original scaled down with the chosen square
//! and the face box drawn on it, the 96 px result and any warning or error.
//! Nothing is uploaded; it is how an administrator checks a batch before
//! the first real sync. Without DIR it reads the configured photos container.
//!
//! The page loads nothing: images are `data:` URIs, the style is inline and
//! a Content-Security-Policy meta tag forbids everything else (no scripts,
//! no network). File names come from uploads, so every one is HTML-escaped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::TryStreamExt as _;

use crate::config::Settings;
use crate::html::escape;
use crate::pipeline::{self, Overview, RenderOptions, Rendition};
use crate::store::Store;

/// Long side of the scaled-down original on the page.
const OVERVIEW_SIDE: u32 = 320;

/// The thumbnail size shown (Teams and Outlook show 96 px and smaller).
const SHOWN_SIZE: u32 = 96;

/// What `photosync preview` was asked to do.
#[derive(Debug, Clone)]
pub struct PreviewJob {
    /// Folder of photos; `None` reads the configured photos container.
    pub dir: Option<PathBuf>,
    /// The HTML file to write.
    pub out: PathBuf,
}

/// One photo's line on the page.
#[derive(Debug)]
pub struct Entry {
    /// Name in the folder or container.
    pub name: String,
    /// The rendering and the overview, or why there is none.
    pub outcome: Result<(Rendition, Overview), pipeline::PipelineError>,
}

/// Counts for the command's summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PreviewSummary {
    /// Photos shown with their crop.
    pub rendered: usize,
    /// Of those, photos with at least one warning.
    pub warned: usize,
    /// Photos that could not be rendered (with the reason on the page).
    pub failed: usize,
    /// Files that are not images photosync reads (listed at the end).
    pub skipped: usize,
}

/// Renders every photo and writes the page.
pub async fn run(settings: &Settings, job: &PreviewJob) -> anyhow::Result<PreviewSummary> {
    let store = match &job.dir {
        Some(dir) if !dir.is_dir() => {
            return Err(super::UsageError(format!("{} is not a folder", dir.display())).into());
        }
        Some(dir) => Store::local(dir).context("cannot open the photos folder")?,
        None => super::storage::container(settings, &settings.containers.photos)?,
    };
    // Names photosync cannot use are not photos it would sync: left out here,
    // reported by `sync` and Reconcile as `invalid-name`.
    let mut names: Vec<String> = store
        .list_blobs(None)
        .map_ok(|info| info.name)
        .try_filter(|name| futures::future::ready(crate::sync::PhotoName::parse(name).is_ok()))
        .try_collect()
        .await
        .context("cannot list the photos")?;
    names.sort();
    let mut entries = Vec::with_capacity(names.len());
    for name in names {
        let blob = store
            .get(&name)
            .await
            .with_context(|| format!("cannot read {name}"))?;
        let options = settings.render.clone();
        // Decoding is CPU work: off the async runtime.
        let outcome = tokio::task::spawn_blocking(move || preview_one(&blob.bytes, &options))
            .await
            .context("rendering stopped")?;
        entries.push(Entry { name, outcome });
    }
    let title = match &job.dir {
        Some(dir) => dir.display().to_string(),
        None => format!("container {}", settings.containers.photos),
    };
    std::fs::write(&job.out, page(&title, &entries))
        .with_context(|| format!("cannot write {}", job.out.display()))?;
    let mut summary = PreviewSummary::default();
    for entry in &entries {
        match &entry.outcome {
            Ok((r, _)) => {
                summary.rendered += 1;
                summary.warned += usize::from(!r.warnings.is_empty());
            }
            Err(e) if e.code() == crate::problem::ProblemCode::UnsupportedFormat => {
                summary.skipped += 1
            }
            Err(_) => summary.failed += 1,
        }
    }
    Ok(summary)
}

/// The rendition (as the sync would make it) and the overview of one photo.
pub fn preview_one(
    bytes: &[u8],
    options: &RenderOptions,
) -> Result<(Rendition, Overview), pipeline::PipelineError> {
    let rendition = pipeline::render(bytes, options)?;
    let overview = pipeline::overview(bytes, options, OVERVIEW_SIDE)?;
    Ok((rendition, overview))
}

/// The whole page.
pub fn page(title: &str, entries: &[Entry]) -> String {
    let mut html = String::with_capacity(64 * 1024 * entries.len().max(1));
    html.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; ",
        "img-src data:; style-src 'unsafe-inline'\">\n",
        "<meta name=\"referrer\" content=\"no-referrer\">\n",
    ));
    let _ = writeln!(
        html,
        "<title>photosync crop preview: {}</title>",
        escape(title)
    );
    html.push_str(STYLE);
    let _ = writeln!(
        html,
        "</head><body>\n<h1>Crop preview: {}</h1>\n<p>{} files. Green: the square the thumbnails are cut from; yellow: the face it was framed on.</p>",
        escape(title),
        entries.len()
    );
    // Files that are not images at all (notes, mapping.csv) go in one list
    // at the end instead of a card each; the sync ignores or refuses them.
    let (skipped, shown): (Vec<&Entry>, Vec<&Entry>) = entries
        .iter()
        .partition(|e| matches!(&e.outcome, Err(error) if error.code() == crate::problem::ProblemCode::UnsupportedFormat));
    for entry in shown {
        card(&mut html, entry);
    }
    if !skipped.is_empty() {
        html.push_str("<h2>Not photos photosync reads</h2>\n<ul class=\"skipped\">\n");
        for entry in skipped {
            if let Err(error) = &entry.outcome {
                let _ = writeln!(
                    html,
                    "<li><b>{}</b>: {}</li>",
                    escape(&entry.name),
                    escape(&error.to_string())
                );
            }
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn card(html: &mut String, entry: &Entry) {
    let name = escape(&entry.name);
    let (rendition, overview) = match &entry.outcome {
        Ok(pair) => pair,
        Err(error) => {
            let _ = writeln!(
                html,
                "<section class=\"card failed\"><h2>{name}</h2><p class=\"code\">{}</p><p>{}</p></section>",
                escape(error.code().as_str()),
                escape(&error.to_string())
            );
            return;
        }
    };
    // Overlay coordinates are in the overview's pixels.
    let k = f64::from(overview.width) / f64::from(rendition.width.max(1));
    let sq = rendition.square;
    let _ = write!(
        html,
        "<section class=\"card{}\"><h2>{name}</h2>\n<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{name} with its crop\">\
<image width=\"{w}\" height=\"{h}\" href=\"data:image/jpeg;base64,{}\"/>\
<rect class=\"square\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
        if rendition.warnings.is_empty() {
            ""
        } else {
            " warned"
        },
        STANDARD.encode(&overview.jpeg),
        f64::from(sq.x) * k,
        f64::from(sq.y) * k,
        f64::from(sq.side) * k,
        f64::from(sq.side) * k,
        w = overview.width,
        h = overview.height,
    );
    if let Some(face) = rendition.face {
        let _ = write!(
            html,
            "<rect class=\"face\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            face.x * k,
            face.y * k,
            face.width * k,
            face.height * k
        );
    }
    html.push_str("</svg>\n");
    if let Some(thumb) = rendition
        .thumbnails
        .iter()
        .find(|t| t.size == SHOWN_SIZE)
        .or_else(|| rendition.thumbnails.first())
    {
        let _ = writeln!(
            html,
            "<img class=\"result\" width=\"{0}\" height=\"{0}\" alt=\"{1} as a {0} px thumbnail\" src=\"data:image/jpeg;base64,{2}\">",
            thumb.size,
            name,
            STANDARD.encode(&thumb.jpeg)
        );
    }
    let _ = writeln!(
        html,
        "<p>{} {}x{}, square {}x{} at ({}, {})</p>",
        rendition.format.name(),
        rendition.width,
        rendition.height,
        sq.side,
        sq.side,
        sq.x,
        sq.y
    );
    for warning in &rendition.warnings {
        let _ = writeln!(
            html,
            "<p class=\"warning\"><span class=\"code\">{}</span> {}</p>",
            warning.code(),
            escape(warning.message())
        );
    }
    html.push_str("</section>\n");
}

/// Where the page goes when `--out` is not given.
pub fn default_out(dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(dir) => super::sync::default_out(dir).with_file_name("photosync-preview.html"),
        None => PathBuf::from("photosync-preview.html"),
    }
}

const STYLE: &str = "<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#f6f6f6;color:#222}
.card{display:inline-block;vertical-align:top;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.75rem;margin:.5rem;max-width:340px}
.card h2{font-size:1rem;margin:0 0 .5rem;word-break:break-all}
.card svg{display:block;background:#eee}
.card .square{fill:none;stroke:#0a0;stroke-width:2}
.card .face{fill:none;stroke:#fc0;stroke-width:2;stroke-dasharray:4 2}
.result{margin-top:.5rem;border-radius:50%}
.warned{border-color:#e90}.failed{border-color:#c00}
.warning{color:#850}.failed p{color:#a00}
.code{font-family:ui-monospace,monospace;font-weight:600}
</style>
";
