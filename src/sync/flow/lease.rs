//! Holding a claim while working on it, and a held removal called off.
//!
//! The claim's lease is short (`PHOTOSYNC_LEASE_SECS`, 60 s by default) and
//! renewed every third of its length while the worker lives, so a crashed
//! worker's photos are free again within one lease, however long a render or
//! a throttled upload of a live one takes.

use std::future::Future;
use std::sync::Mutex;

use chrono::Utc;

use super::{Flow, PhotoOutcome};
use crate::store::ETag;
use crate::sync::PhotoName;
use crate::sync::decide::Skip;
use crate::sync::ledger::{LedgerError, Record, Status, Versioned};

impl Flow {
    /// Runs `work` while keeping the claim `claimed` (written with `etag`)
    /// alive; returns the work's result and the claim's ETag after it.
    pub(super) async fn renewing<T>(
        &self,
        claimed: &Record,
        etag: ETag,
        work: impl Future<Output = T>,
    ) -> (T, ETag) {
        if self.lease.is_zero() {
            return (work.await, etag);
        }
        let current = Mutex::new(etag);
        let done = tokio::sync::Notify::new();
        let every = self.lease / 3;
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX);
        let renew = async {
            loop {
                // A renewal in progress always completes (it is not raced
                // against `done`), so the ETag kept is the one in storage.
                tokio::select! {
                    () = done.notified() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let mut claim = claimed.clone();
                claim.lease_until = Some(Utc::now() + lease);
                let expected = current.lock().expect("never poisoned").clone();
                match self.ledger.put(&claim, Some(&expected)).await {
                    Ok(etag) => *current.lock().expect("never poisoned") = etag,
                    Err(LedgerError::Conflict(_)) => {
                        tracing::warn!(photo = %claim.photo, "the claim was taken over; this worker's result will not be recorded");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(photo = %claim.photo, "cannot renew the claim (trying again): {e}");
                    }
                }
            }
        };
        let (result, ()) = tokio::join!(
            async {
                let result = work.await;
                done.notify_one();
                result
            },
            renew
        );
        (result, current.into_inner().expect("never poisoned"))
    }

    /// The blob of a `removal-held` record is back with the same bytes: the
    /// record returns to its former status; nothing is uploaded, since the
    /// profile photo was never removed. `etag`: the blob's version now (put
    /// back, it has a new one), remembered so it is not read again.
    pub(crate) async fn reinstate(
        &self,
        name: &PhotoName,
        current: Versioned,
        etag: Option<ETag>,
    ) -> PhotoOutcome {
        let mut record = current.record;
        if etag.is_some() {
            record.etag = etag;
        }
        record.status = record.held_from.take().unwrap_or(Status::Retrying);
        record.problem = None;
        record.detail = Some("the photo is back; its removal was called off".to_owned());
        record.next_attempt = None;
        record.lease_until = None;
        record.updated = Utc::now();
        match self.ledger.put(&record, Some(&current.etag)).await {
            Ok(etag) => PhotoOutcome {
                status: Some(record.status),
                problem: None,
                retry: None,
                summary: format!("{name}: back, removal called off ({})", record.status),
                written: Some(Box::new(Versioned { record, etag })),
                small: None,
            },
            Err(LedgerError::Conflict(_)) => PhotoOutcome::skipped(name, Skip::InProgress),
            Err(e) => PhotoOutcome::unrecorded(name, e.into()),
        }
    }
}
