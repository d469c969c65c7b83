//! The report's per-target view: what happened at Microsoft Graph and at
//! SharePoint (an optional, legacy target) separately, and configuration
//! problems — the same for every photo — listed once with the number of
//! photos they hold up, instead of once per photo.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::problem::ProblemCode;
use crate::sync::ledger::Record;

/// Where a problem happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Microsoft Graph (and the app identity): the record's own status.
    Graph,
    /// SharePoint's own copy: the record's `sharepoint` state.
    SharePoint,
}

impl Target {
    /// The word in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Graph => "graph",
            Self::SharePoint => "sharepoint",
        }
    }
}

/// One configuration problem, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigurationProblem {
    /// Which target refused.
    pub target: Target,
    /// Problem code.
    pub code: ProblemCode,
    /// The message of the first photo it held up (they are all alike).
    pub message: String,
    /// How many photos it holds up.
    pub photos: usize,
}

/// The SharePoint cell of a photo's row: `synced`, `failed: sharepoint-access-denied`,
/// or empty when the target is off or was never reached.
pub fn sharepoint_cell(record: &Record) -> String {
    match &record.sharepoint {
        None => String::new(),
        Some(state) => match &state.problem {
            Some(problem) => format!("{}: {}", state.status, problem.code),
            None => state.status.as_str().to_owned(),
        },
    }
}

/// Records by status, per target (SharePoint only where it was reached).
pub fn counts(records: &[&Record]) -> BTreeMap<Target, BTreeMap<&'static str, usize>> {
    let mut counts: BTreeMap<Target, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for record in records {
        *counts
            .entry(Target::Graph)
            .or_default()
            .entry(record.status.as_str())
            .or_default() += 1;
        if let Some(state) = &record.sharepoint {
            *counts
                .entry(Target::SharePoint)
                .or_default()
                .entry(state.status.as_str())
                .or_default() += 1;
        }
    }
    counts
}

/// Configuration problems across all records, one entry per target and code.
/// `grant_missing` is the run's own finding (the token lacks a permission):
/// it is listed even before any photo failed for it, and its message,
/// naming every missing permission, replaces the first photo's.
pub fn configuration_problems(
    records: &[&Record],
    grant_missing: Option<&crate::problem::Problem>,
) -> Vec<ConfigurationProblem> {
    let mut found: BTreeMap<(Target, ProblemCode), ConfigurationProblem> = BTreeMap::new();
    let mut note = |target: Target, code: ProblemCode, message: &str| {
        if !code.is_configuration() {
            return;
        }
        found
            .entry((target, code))
            .or_insert_with(|| ConfigurationProblem {
                target,
                code,
                message: message.to_owned(),
                photos: 0,
            })
            .photos += 1;
    };
    for record in records {
        if let Some(p) = &record.problem {
            note(Target::Graph, p.code, &p.message);
        }
        if let Some(p) = record.sharepoint.as_ref().and_then(|s| s.problem.as_ref()) {
            note(Target::SharePoint, p.code, &p.message);
        }
    }
    if let Some(grant) = grant_missing {
        let entry =
            found
                .entry((Target::Graph, grant.code))
                .or_insert_with(|| ConfigurationProblem {
                    target: Target::Graph,
                    code: grant.code,
                    message: String::new(),
                    photos: 0,
                });
        entry.message.clone_from(&grant.message);
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ledger::{Problem, Status, TargetState};

    fn record(photo: &str, sharepoint: Option<(Status, Option<&str>)>) -> Record {
        let mut r: Record = serde_json::from_value(serde_json::json!({
            "photo": photo, "sha256": "", "size": 0, "key": photo, "status": "synced",
            "attempts": 1, "first_seen": "2026-11-20T10:00:00Z", "updated": "2026-11-20T10:00:00Z"
        }))
        .expect("a minimal record parses");
        r.sharepoint = sharepoint.map(|(status, code)| TargetState {
            status,
            problem: code.map(|code| {
                Problem::new(ProblemCode::parse(code).unwrap(), format!("{code} message"))
            }),
            updated: chrono::Utc::now(),
            next_attempt: None,
        });
        r
    }

    #[test]
    fn a_configuration_problem_is_listed_once_with_its_count() {
        let records: Vec<Record> = (0..20)
            .map(|i| {
                record(
                    &format!("u{i}.jpg"),
                    Some((Status::Failed, Some("sharepoint-access-denied"))),
                )
            })
            .chain([
                record(
                    "x.jpg",
                    Some((Status::Failed, Some("sharepoint-profile-missing"))),
                ),
                record("y.jpg", None),
            ])
            .collect();
        let refs: Vec<&Record> = records.iter().collect();
        let problems = configuration_problems(&refs, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].code, ProblemCode::SharepointAccessDenied);
        assert_eq!(problems[0].target, Target::SharePoint);
        assert_eq!(problems[0].photos, 20);

        let counts = counts(&refs);
        assert_eq!(counts[&Target::Graph]["synced"], 22);
        assert_eq!(counts[&Target::SharePoint]["failed"], 21);
        assert_eq!(
            sharepoint_cell(&records[0]),
            "failed: sharepoint-access-denied"
        );
        assert_eq!(sharepoint_cell(&records[21]), "");
    }
}
