//! `photosync thumbnail FILE... --out DIR`: the pipeline's command-line face.
//!
//! (Skeleton: the pipeline issue fills this in.)

use std::path::PathBuf;

use crate::pipeline::RenderOptions;

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

/// Renders every file; returns how many failed.
pub fn run(job: &ThumbnailJob) -> anyhow::Result<usize> {
    anyhow::bail!(
        "thumbnail is not implemented yet ({} files asked for)",
        job.files.len()
    )
}
