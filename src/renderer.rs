//! The one way a photo is rendered in this process, for the sync flow and
//! the web page's preview alike: off the async runtime (it is CPU work), one
//! per core at a time, within the decode memory pool and the time budget.
//!
//! The memory a render will take is predicted from the header first
//! ([`pipeline::estimate`], which also refuses what is over budget), and
//! the render holds that many megabytes of the decode pool until its
//! decoder has returned, so renders that together exceed
//! `PHOTOSYNC_MAX_DECODE_MB` wait for each other. A render past its time
//! budget is answered `image-too-slow`; its thread finishes in the
//! background (decoders cannot be interrupted) still holding its share.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::memory::Memory;
use crate::pipeline::{self, PipelineError, RenderOptions, Rendition};

/// Why a render gave no rendition.
#[derive(Debug)]
pub enum RenderError {
    /// The pipeline refused the photo (what the admin is told).
    Refused(PipelineError),
    /// The render task stopped (a panic on the blocking pool): our fault.
    Stopped(String),
}

/// The process's render budgets; cheap to clone, shared by every caller.
#[derive(Debug, Clone)]
pub struct Renderer {
    /// Photo bytes and decode memory.
    memory: Memory,
    /// One permit per core: more renders at once only queue.
    slots: Arc<Semaphore>,
}

impl Renderer {
    /// Renders within `memory`, one per core.
    pub fn new(memory: Memory) -> Self {
        Self {
            memory,
            slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// The memory account, for what callers hold themselves (bodies, reads).
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Renders `bytes` with `options` within the budgets.
    pub async fn render(
        &self,
        bytes: bytes::Bytes,
        options: RenderOptions,
    ) -> Result<Rendition, RenderError> {
        let stopped = |e: tokio::task::JoinError| RenderError::Stopped(format!("{e}"));
        let (header_bytes, header_options) = (bytes.clone(), options.clone());
        let estimate =
            tokio::task::spawn_blocking(move || pipeline::estimate(&header_bytes, &header_options))
                .await
                .map_err(stopped)?
                .map_err(RenderError::Refused)?;
        let permit = self.memory.decode(estimate.bytes).await;
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| RenderError::Stopped("the render queue is closed".to_owned()))?;
        let budget = options.time_budget;
        let task = tokio::task::spawn_blocking(move || {
            let rendered = pipeline::render(&bytes, &options);
            drop(permit);
            rendered
        });
        let rendered = match budget {
            Some(limit) => match tokio::time::timeout(limit, task).await {
                Ok(joined) => joined.map_err(stopped)?,
                Err(_) => Err(PipelineError::TooSlow(format!(
                    "rendering took longer than {} s (PHOTOSYNC_MAX_RENDER_SECS); export the photo again as a baseline JPEG or a smaller PNG",
                    limit.as_secs()
                ))),
            },
            None => task.await.map_err(stopped)?,
        };
        rendered.map_err(RenderError::Refused)
    }
}
