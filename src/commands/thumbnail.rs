//! `photosync thumbnail FILE... --out DIR`: the pipeline's command-line face.
//!
//! Designers preview crops with it and the benchmark races it against
//! `vipsthumbnail`. Files are rendered concurrently, one per core, each
//! decoded once; renditions go to `{out}/{file stem}/{N}x{N}.jpg`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;

use crate::pipeline::{self, RenderOptions};

/// What `photosync thumbnail` was asked to do.
#[derive(Debug, Clone)]
pub struct ThumbnailJob {
    /// Input image files; each is decoded once.
    pub files: Vec<PathBuf>,
    /// Output root; renditions go to `{out}/{file stem}/{N}x{N}.jpg`.
    pub out: PathBuf,
    /// Sizes, quality and limits.
    pub options: RenderOptions,
}

/// Renders every file; prints one line per file (errors to stderr) and
/// returns how many failed. Only a setup problem is an `Err`.
pub fn run(job: &ThumbnailJob) -> anyhow::Result<usize> {
    std::fs::create_dir_all(&job.out)
        .with_context(|| format!("cannot create {}", job.out.display()))?;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(job.files.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    // Serialises printing so lines from concurrent workers never interleave.
    let print = Mutex::new(());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(file) = job.files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = render_file(file, &job.out, &job.options);
                    let _lock = print
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    match outcome {
                        Ok(line) => crate::say!("{}: {line}", file.display()),
                        Err(error) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("{}: {error:#}", file.display());
                        }
                    }
                }
            });
        }
    });
    Ok(failed.into_inner())
}

/// Renders one file and writes its thumbnails; returns the summary line.
fn render_file(file: &Path, out: &Path, options: &RenderOptions) -> anyhow::Result<String> {
    // Refuse an oversized file before reading it into memory.
    let size = std::fs::metadata(file).context("cannot read")?.len();
    pipeline::check_byte_size(size, options).map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
    let bytes = std::fs::read(file).context("cannot read")?;
    let rendition =
        pipeline::render(&bytes, options).map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
    let stem = file
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy());
    let dir = out.join(stem.as_ref());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for thumbnail in &rendition.thumbnails {
        let path = dir.join(format!("{0}x{0}.jpg", thumbnail.size));
        std::fs::write(&path, &thumbnail.jpeg)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let sizes: Vec<String> = rendition
        .thumbnails
        .iter()
        .map(|t| t.size.to_string())
        .collect();
    let warnings: String = rendition
        .warnings
        .iter()
        .map(|w| format!(" [{}]", w.code()))
        .collect();
    Ok(format!(
        "{} {}x{} -> {} ({}){warnings}",
        rendition.format.name(),
        rendition.width,
        rendition.height,
        dir.display(),
        sizes.join(",")
    ))
}

fn describe(error: pipeline::PipelineError) -> String {
    format!("{}: {error}", error.code())
}
