//! What a Reconcile run did, for the timer's log line, the terminal and the
//! report's header.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::sync::ledger::{Corrupt, Record, Status};

/// Something in the photos container that cannot be a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// Its name, escaped for printing.
    pub name: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// A photo that needs a person after the run (failed, or its removal held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// The photo's name.
    pub photo: String,
    /// `failed` or `removal-held`.
    pub status: Status,
    /// Its problem, when the record has one.
    pub problem: Option<crate::problem::Problem>,
}

/// How many failed, and how many removal-held, photos a summary names: a
/// terminal's worth, and bounded memory however many failed (the report
/// names every one).
pub const ATTENTION_NAMED: usize = 50;

impl Attention {
    /// The first [`ATTENTION_NAMED`] failed and removal-held photos among
    /// `records`, in their order.
    pub fn of(records: &[&Record]) -> Vec<Self> {
        let first = |status: Status| {
            records
                .iter()
                .filter(move |r| r.status == status)
                .take(ATTENTION_NAMED)
                .map(|r| Self {
                    photo: r.photo.clone(),
                    status: r.status,
                    problem: r.problem.clone(),
                })
        };
        first(Status::Failed)
            .chain(first(Status::RemovalHeld))
            .collect()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Entries listed (photos and unusable entries).
    pub examined: usize,
    /// Photos synced (or attempted) in this run.
    pub worked: usize,
    /// Photos that needed work but were left for the next run (time budget).
    pub left: usize,
    /// Ledger entries newly marked `removed`.
    pub removed: usize,
    /// Removals the guard held (`removal-held`): nothing of theirs was removed.
    pub held: usize,
    /// Entries whose name or kind photosync cannot use (`invalid-name`).
    pub unusable: Vec<Unusable>,
    /// Ledger records that could not be read (`ledger-corrupt`).
    pub corrupt: Vec<Corrupt>,
    /// Per mapping file, what the report should say (rows naming no photo).
    pub mapping_notes: BTreeMap<String, String>,
    /// Records by status after the run.
    pub counts: BTreeMap<Status, usize>,
    /// What needs a person after the run, by problem code (failed and held
    /// records, unusable names, unreadable records).
    pub failures: BTreeMap<String, usize>,
    /// The first failed and removal-held photos after the run: what `sync`
    /// names on the terminal without reading the ledger a second time (at
    /// 100,000 photos that read took 100 MB more than the run).
    pub attention: Vec<Attention>,
    /// How long it took.
    pub elapsed: Duration,
    /// Nothing was written to Microsoft 365 (no credentials, or
    /// `PHOTOSYNC_DRY_RUN`): the report says so first.
    pub dry_run: bool,
    /// Where the photos were listed from (container and endpoint, or folder).
    pub source: String,
    /// The Graph permission the app's token lacks, found before any photo
    /// was tried: the report's one line for it.
    pub grant_missing: Option<crate::problem::Problem>,
}

impl RunSummary {
    /// How many records have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// The line for the timer's `Logs` and the terminal.
    pub fn line(&self) -> String {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        let mut problems = String::new();
        if self.held > 0 {
            problems.push_str(&format!(
                ", {} removal(s) held by PHOTOSYNC_REMOVAL_LIMIT (see the report)",
                self.held
            ));
        }
        if !self.unusable.is_empty() {
            problems.push_str(&format!(", {} unusable name(s)", self.unusable.len()));
        }
        if !self.corrupt.is_empty() {
            problems.push_str(&format!(
                ", {} unreadable ledger record(s)",
                self.corrupt.len()
            ));
        }
        format!(
            "reconcile: {} photos examined, {} worked on, {} left for the next run, {} removed{problems} in {} ms; ledger: {}",
            self.examined,
            self.worked,
            self.left,
            self.removed,
            self.elapsed.as_millis(),
            if counts.is_empty() {
                "empty".to_owned()
            } else {
                counts.join(", ")
            }
        )
    }
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// One more entry listed.
    Examined,
    /// This many photos will be worked on (known once the listing is read).
    Planned(usize),
    /// One more planned photo done (a drift check that found nothing to do
    /// counts too), so the done count reaches `Planned`.
    Worked,
}

/// Records by status.
pub fn counts(records: &[&Record]) -> BTreeMap<Status, usize> {
    let mut counts = BTreeMap::new();
    for record in records {
        *counts.entry(record.status).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ledger::sample as record;

    #[test]
    fn attention_names_the_first_failed_and_held_photos_and_no_more() {
        let records: Vec<Record> = (0..ATTENTION_NAMED + 7)
            .map(|i| record(&format!("f{i:03}.jpg"), Status::Failed))
            .chain((0..3).map(|i| record(&format!("h{i}.jpg"), Status::RemovalHeld)))
            .chain([record("s.jpg", Status::Synced)])
            .collect();
        let refs: Vec<&Record> = records.iter().collect();
        let named = Attention::of(&refs);
        let failed: Vec<_> = named
            .iter()
            .filter(|a| a.status == Status::Failed)
            .collect();
        assert_eq!(failed.len(), ATTENTION_NAMED);
        assert_eq!(failed[0].photo, "f000.jpg");
        let held: Vec<_> = named
            .iter()
            .filter(|a| a.status == Status::RemovalHeld)
            .map(|a| a.photo.as_str())
            .collect();
        assert_eq!(held, ["h0.jpg", "h1.jpg", "h2.jpg"]);
    }
}
