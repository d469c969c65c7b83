//! The rendition plan: which sizes one decode renders, which of them is
//! Microsoft Graph's master, which go to the thumbnails container and which
//! to SharePoint. Built once from the settings and the configured targets,
//! so those choices live here and nowhere else.

use bytes::Bytes;

use crate::graph::MAX_PHOTO_BYTES;
use crate::pipeline::{RenderOptions, Rendition, Thumbnail};

/// The size of the thumbnails a report shows beside each photo.
pub const REPORT_THUMBNAIL_SIZE: u32 = 48;

/// What to render and where each rendition goes.
#[derive(Debug, Clone)]
pub struct RenditionPlan {
    /// Options for the pipeline: the configured sizes plus SharePoint's.
    render: RenderOptions,
    /// The configured sizes (`PHOTOSYNC_SIZES`): the thumbnails container gets these.
    configured: Vec<u32>,
    /// SharePoint's small, medium and large edge, when that target is on.
    sharepoint: Option<[u32; 3]>,
}

impl RenditionPlan {
    /// The plan for these render settings and, when SharePoint is on, its sizes.
    pub fn new(settings: &RenderOptions, sharepoint: Option<[u32; 3]>) -> Self {
        let mut render = settings.clone();
        if let Some(sizes) = sharepoint {
            render.sizes.extend(sizes);
            render.sizes.sort_unstable();
            render.sizes.dedup();
        }
        // Graph refuses uploads over 4 MB; the master's quality steps down to fit.
        render.master_max_bytes = Some(MAX_PHOTO_BYTES);
        Self {
            render,
            configured: settings.sizes.clone(),
            sharepoint,
        }
    }

    /// The pipeline options.
    pub fn options(&self) -> &RenderOptions {
        &self.render
    }

    /// The photo for Microsoft Graph: the largest rendition within the
    /// configured sizes (SharePoint's extra sizes never count). A photo
    /// smaller than the largest size is rendered at its own size, which is
    /// then the master.
    pub fn graph_master<'a>(&self, rendition: &'a Rendition) -> &'a Thumbnail {
        let limit = self.configured.iter().copied().max().unwrap_or(u32::MAX);
        rendition
            .thumbnails
            .iter()
            .rev()
            .find(|t| t.size <= limit)
            .unwrap_or_else(|| rendition.master())
    }

    /// The renditions that belong in the thumbnails container: the
    /// configured sizes and the master.
    pub fn thumbnails<'a>(&self, rendition: &'a Rendition) -> Vec<&'a Thumbnail> {
        let master = self.graph_master(rendition).size;
        rendition
            .thumbnails
            .iter()
            .filter(|t| t.size == master || self.configured.contains(&t.size))
            .collect()
    }

    /// The thumbnail reports embed ([`REPORT_THUMBNAIL_SIZE`]), when it is
    /// among those written.
    pub fn report_thumbnail(&self, rendition: &Rendition) -> Option<Bytes> {
        self.thumbnails(rendition)
            .into_iter()
            .find(|t| t.size == REPORT_THUMBNAIL_SIZE)
            .map(|t| t.jpeg.clone())
    }

    /// SharePoint's three pictures (small, medium, large), when that target is on:
    /// for each, the largest rendition not larger than asked.
    pub fn sharepoint_pictures(&self, rendition: &Rendition) -> Option<[Bytes; 3]> {
        let sizes = self.sharepoint?;
        Some(sizes.map(|size| {
            rendition
                .thumbnails
                .iter()
                .rev()
                .find(|t| t.size <= size)
                .unwrap_or(&rendition.thumbnails[0])
                .jpeg
                .clone()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Format;

    fn rendition(sizes: &[u32]) -> Rendition {
        Rendition {
            thumbnails: sizes
                .iter()
                .map(|&size| Thumbnail {
                    size,
                    jpeg: Bytes::from(vec![size as u8]),
                    quality: 85,
                })
                .collect(),
            format: Format::Jpeg,
            width: 1000,
            height: 1000,
            square: crate::pipeline::Square {
                x: 0,
                y: 0,
                side: 1000,
            },
            face: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn one_decode_serves_graph_the_thumbnails_and_sharepoint() {
        let settings = RenderOptions {
            sizes: vec![48, 96],
            ..RenderOptions::default()
        };
        let plan = RenditionPlan::new(&settings, Some([48, 72, 200]));
        assert_eq!(plan.options().sizes, [48, 72, 96, 200]);
        assert_eq!(plan.options().master_max_bytes, Some(MAX_PHOTO_BYTES));
        let r = rendition(&[48, 72, 96, 200]);
        assert_eq!(
            plan.graph_master(&r).size,
            96,
            "SharePoint's 200 is not Graph's"
        );
        let thumbs: Vec<u32> = plan.thumbnails(&r).iter().map(|t| t.size).collect();
        assert_eq!(thumbs, [48, 96]);
        let pictures = plan.sharepoint_pictures(&r).unwrap();
        assert_eq!(pictures.map(|b| b[0]), [48, 72, 200]);
        assert!(
            RenditionPlan::new(&settings, None)
                .sharepoint_pictures(&r)
                .is_none()
        );
    }

    #[test]
    fn a_small_photo_is_its_own_master() {
        let plan = RenditionPlan::new(&RenderOptions::default(), None);
        let r = rendition(&[48, 64, 96, 120, 240, 360, 432, 500]);
        assert_eq!(plan.graph_master(&r).size, 500);
        assert!(plan.thumbnails(&r).iter().any(|t| t.size == 500));
    }
}
