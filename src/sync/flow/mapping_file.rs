//! A `mapping.csv` arrived: it is checked and recorded, not rendered.

use tokio::time::Instant;

use super::failure::Failure;
use super::{Flow, PhotoJob, PhotoOutcome, transient_outcome};
use crate::sync::ledger::Status;
use crate::sync::mapping::Mapping;

impl Flow {
    /// A mapping file changed: check it, record it as `ignored` (it is not a
    /// photo) or `failed` with the line that is wrong, and re-read mappings.
    pub(super) async fn mapping_file(
        &self,
        job: &PhotoJob,
        bytes: &[u8],
        sha256: &str,
        started: Instant,
    ) -> PhotoOutcome {
        self.mappings.invalidate().await;
        let existing = match self.ledger.get(&job.name).await {
            Ok(existing) => existing,
            Err(e) => return transient_outcome(&job.name, e),
        };
        let key = job.name.key();
        let mut record = self.base_record(job, sha256, bytes.len() as u64, &key, existing.as_ref());
        let result = match Mapping::default().add_csv(bytes) {
            Ok(entries) => {
                record.detail = Some(format!("mapping file with {entries} entries"));
                Ok(Status::Ignored)
            }
            Err(problem) => Err(Failure::new(
                "invalid-mapping",
                format!("{}: {problem}", job.name),
                false,
            )),
        };
        let claim = existing.map(|v| v.etag);
        self.finish(record, claim, result, started).await
    }
}
