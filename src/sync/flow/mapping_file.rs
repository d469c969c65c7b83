//! A `mapping.csv` arrived: it is checked and recorded, not rendered, and
//! the cached copy is dropped so the next photo sees the new rows.

use tokio::time::Instant;

use super::failure::Failure;
use super::publish::Published;
use super::{Content, Flow, PhotoOutcome};
use crate::sync::PhotoName;
use crate::sync::ledger::Versioned;
use crate::sync::mapping::MappingFile;

impl Flow {
    /// Records the mapping file as `ignored` (it is not a photo) with how
    /// many rows apply, or `failed` naming every bad line or conflict.
    pub(super) async fn mapping_file(
        &self,
        name: &PhotoName,
        content: Content,
        existing: Option<Versioned>,
        started: Instant,
    ) -> PhotoOutcome {
        self.mappings.invalidate(name.as_str());
        let record = super::settle::base_record(
            name,
            &content,
            &name.key(),
            None,
            existing.as_ref().map(|v| &v.record),
        );
        let parse = {
            let name = name.clone();
            let bytes = content.bytes.clone();
            tokio::task::spawn_blocking(move || MappingFile::parse(&name, &bytes)).await
        };
        let result = match parse {
            Err(e) => Err(Failure::new(
                crate::problem::ProblemCode::InternalError,
                format!("reading the mapping file stopped: {e}"),
            )),
            Ok(Err(problem)) => Err(Failure {
                problem,
                user: None,
            }),
            Ok(Ok(file)) => match file.problem() {
                Some(problem) => Err(Failure {
                    problem,
                    user: None,
                }),
                None => Ok(Published::NotAPhoto {
                    reason: format!("a mapping file; {} rows apply", file.len()),
                }),
            },
        };
        let claim = existing.map(|v| v.etag);
        self.settle(record, claim, result, started).await
    }
}
