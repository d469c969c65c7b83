//! The decision table, row by row: every status against every observation.

use chrono::Duration;

use super::*;
use crate::problem::Problem;
use crate::sync::ledger::{TargetState, sample};

const KEY: &str = "alice@contoso.com";
const SHA: &str = "abababababababababababababababababababababababababababababababab";

fn etag(s: &str) -> ETag {
    ETag::new(s).unwrap()
}

fn record(status: Status) -> Record {
    let mut r = sample("alice@contoso.com.jpg", status);
    r.sha256 = SHA.to_owned();
    r.etag = Some(etag("0x1"));
    if status == Status::Failed {
        r.problem = Some(Problem::new(ProblemCode::UserNotFound, "no"));
    }
    if status == Status::RemovalHeld {
        r.held_from = Some(Status::Synced);
    }
    r
}

/// What the caller observed, by row.
#[derive(Clone, Copy, Debug)]
enum Obs {
    /// The listing's version equals the record's (quoted vs unquoted).
    SameVersion,
    /// The listing's version differs (no bytes read yet).
    OtherVersion,
    /// Bytes read: the same hash (under a new version).
    SameBytes,
    /// Bytes read: another hash.
    OtherBytes,
    /// Same content, another key.
    OtherKey,
    /// Same content, a new focus.
    OtherFocus,
}

fn decide(record: Option<&Record>, obs: Obs, ctx: Context) -> Action {
    let same = etag("\"0x1\"");
    let other = etag("0x2");
    let focus = Focus::new(0.5, 0.3).unwrap();
    let seen = match obs {
        Obs::SameVersion => Seen {
            etag: Some(&same),
            sha256: None,
            key: KEY,
            focus: None,
        },
        Obs::OtherVersion => Seen {
            etag: Some(&other),
            sha256: None,
            key: KEY,
            focus: None,
        },
        Obs::SameBytes => Seen {
            etag: Some(&other),
            sha256: Some(SHA),
            key: KEY,
            focus: None,
        },
        Obs::OtherBytes => Seen {
            etag: Some(&other),
            sha256: Some("cd"),
            key: KEY,
            focus: None,
        },
        Obs::OtherKey => Seen {
            etag: Some(&same),
            sha256: None,
            key: "bob@contoso.com",
            focus: None,
        },
        Obs::OtherFocus => Seen {
            etag: Some(&same),
            sha256: None,
            key: KEY,
            focus: Some(focus),
        },
    };
    next_action(record, &seen, &ctx)
}

fn schedule() -> Context {
    Context {
        now: Utc::now(),
        source: Source::Schedule,
        graph_live: true,
        granted_since: None,
        sharepoint: false,
        enforce: false,
        force: false,
    }
}

fn delivery() -> Context {
    Context {
        source: Source::Delivery,
        ..schedule()
    }
}

use Action::{CheckDrift, SharePointOnly, Skip as S, Sync};

#[test]
fn no_record_is_new_whatever_was_seen() {
    for obs in [
        Obs::SameVersion,
        Obs::OtherVersion,
        Obs::SameBytes,
        Obs::OtherBytes,
        Obs::OtherKey,
    ] {
        for ctx in [schedule(), delivery()] {
            assert_eq!(decide(None, obs, ctx), Sync(Why::New), "{obs:?}");
        }
    }
}

#[test]
fn a_held_record_without_its_former_status_is_synced_again() {
    let mut r = record(Status::RemovalHeld);
    r.held_from = None;
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, schedule()),
        Sync(Why::Reappeared)
    );
}

#[test]
fn every_status_against_every_observation() {
    use Obs::*;
    let failed = S(Skip::Failed(Some(ProblemCode::UserNotFound)));
    // (status, what a scheduled pass does for SameVersion, SameBytes) — the
    // content and key rows are the same for every status (below).
    let rows: [(Status, Action, Action); 10] = [
        (Status::Synced, S(Skip::Unchanged), S(Skip::Unchanged)),
        (Status::Restored, S(Skip::Unchanged), S(Skip::Unchanged)),
        (Status::Failed, failed, failed),
        (Status::Ignored, S(Skip::Ignored), S(Skip::Ignored)),
        (Status::Superseded, S(Skip::Superseded), S(Skip::Superseded)),
        (Status::Retrying, Sync(Why::Retry), Sync(Why::Retry)),
        (Status::Syncing, Sync(Why::Abandoned), Sync(Why::Abandoned)),
        (
            Status::DryRun,
            Sync(Why::CredentialsConfigured),
            Sync(Why::CredentialsConfigured),
        ),
        (
            Status::Removed,
            Sync(Why::Reappeared),
            Sync(Why::Reappeared),
        ),
        (Status::RemovalHeld, Action::Reinstate, Action::Reinstate),
    ];
    for (status, same_version, same_bytes) in rows {
        let r = record(status);
        for ctx in [schedule(), delivery()] {
            assert_eq!(
                decide(Some(&r), SameVersion, ctx),
                same_version,
                "{status:?} same version"
            );
            assert_eq!(
                decide(Some(&r), SameBytes, ctx),
                same_bytes,
                "{status:?} same bytes"
            );
            assert_eq!(
                decide(Some(&r), OtherVersion, ctx),
                Sync(Why::Changed),
                "{status:?}"
            );
            assert_eq!(
                decide(Some(&r), OtherBytes, ctx),
                Sync(Why::Changed),
                "{status:?}"
            );
            assert_eq!(
                decide(Some(&r), OtherKey, ctx),
                Sync(Why::Reassigned),
                "{status:?}"
            );
            assert_eq!(
                decide(Some(&r), OtherFocus, ctx),
                Sync(Why::Reassigned),
                "{status:?}"
            );
            let forced = Context { force: true, ..ctx };
            assert_eq!(
                decide(Some(&r), SameVersion, forced),
                Sync(Why::Forced),
                "{status:?}"
            );
        }
    }
}

#[test]
fn a_live_claim_is_honoured_unless_new_bytes_arrive() {
    let mut r = record(Status::Syncing);
    r.lease_until = Some(Utc::now() + Duration::minutes(5));
    for obs in [
        Obs::SameVersion,
        Obs::OtherVersion,
        Obs::SameBytes,
        Obs::OtherKey,
    ] {
        for ctx in [
            schedule(),
            delivery(),
            Context {
                force: true,
                ..schedule()
            },
        ] {
            assert_eq!(decide(Some(&r), obs, ctx), S(Skip::InProgress), "{obs:?}");
        }
    }
    assert_eq!(
        decide(Some(&r), Obs::OtherBytes, delivery()),
        Sync(Why::Changed)
    );
    r.lease_until = Some(Utc::now() - Duration::seconds(1));
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, schedule()),
        Sync(Why::Abandoned)
    );
}

#[test]
fn retries_wait_for_their_time_on_a_schedule_but_not_on_a_delivery() {
    let mut r = record(Status::Retrying);
    r.next_attempt = Some(Utc::now() + Duration::minutes(5));
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, schedule()),
        S(Skip::NotDue)
    );
    assert_eq!(
        decide(Some(&r), Obs::SameBytes, delivery()),
        Sync(Why::Retry)
    );
    r.next_attempt = Some(Utc::now() - Duration::seconds(1));
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, schedule()),
        Sync(Why::Retry)
    );
}

#[test]
fn a_permission_denied_photo_is_retried_once_the_grant_is_seen() {
    let mut r = record(Status::Failed);
    r.problem = Some(Problem::new(ProblemCode::PermissionDenied, "grant it"));
    let since = |at| Context {
        granted_since: Some(at),
        ..schedule()
    };
    let denied = S(Skip::Failed(Some(ProblemCode::PermissionDenied)));
    // Not known to be granted: it waits, as every failure does.
    assert_eq!(decide(Some(&r), Obs::SameVersion, schedule()), denied);
    // Granted after it failed: tried again, by a pass or a delivery.
    let later = r.updated + Duration::minutes(5);
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, since(later)),
        Sync(Why::PermissionGranted)
    );
    assert_eq!(
        decide(
            Some(&r),
            Obs::SameBytes,
            Context {
                source: Source::Delivery,
                ..since(later)
            }
        ),
        Sync(Why::PermissionGranted)
    );
    // Failed again after the grant was seen: a real refusal, not retried.
    let earlier = r.updated - Duration::minutes(5);
    assert_eq!(decide(Some(&r), Obs::SameVersion, since(earlier)), denied);
    // Other failures do not care about the grant.
    let other = record(Status::Failed);
    assert_eq!(
        decide(Some(&other), Obs::SameVersion, since(later)),
        S(Skip::Failed(Some(ProblemCode::UserNotFound)))
    );
}

#[test]
fn a_dry_run_waits_for_credentials() {
    let r = record(Status::DryRun);
    let dry = Context {
        graph_live: false,
        ..schedule()
    };
    assert_eq!(decide(Some(&r), Obs::SameVersion, dry), S(Skip::DryRun));
    assert_eq!(
        decide(
            Some(&r),
            Obs::SameBytes,
            Context {
                graph_live: false,
                ..delivery()
            }
        ),
        S(Skip::DryRun)
    );
}

#[test]
fn sharepoint_alone_is_redone_when_only_it_is_pending_and_due() {
    let mut r = record(Status::Synced);
    r.sharepoint = Some(TargetState {
        status: Status::Retrying,
        problem: None,
        updated: Utc::now(),
        next_attempt: Some(Utc::now() + Duration::minutes(5)),
    });
    let on = Context {
        sharepoint: true,
        ..schedule()
    };
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, on),
        S(Skip::Unchanged),
        "not due"
    );
    assert_eq!(
        decide(
            Some(&r),
            Obs::SameBytes,
            Context {
                sharepoint: true,
                ..delivery()
            }
        ),
        SharePointOnly
    );
    r.sharepoint.as_mut().unwrap().next_attempt = Some(Utc::now() - Duration::seconds(1));
    assert_eq!(decide(Some(&r), Obs::SameVersion, on), SharePointOnly);
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, schedule()),
        S(Skip::Unchanged),
        "target off"
    );
}

#[test]
fn drift_is_checked_on_a_schedule_with_enforce_and_live_credentials_only() {
    let r = record(Status::Synced);
    let enforce = Context {
        enforce: true,
        ..schedule()
    };
    assert_eq!(decide(Some(&r), Obs::SameVersion, enforce), CheckDrift);
    assert_eq!(
        decide(
            Some(&r),
            Obs::SameBytes,
            Context {
                enforce: true,
                ..delivery()
            }
        ),
        S(Skip::Unchanged)
    );
    assert_eq!(
        decide(
            Some(&r),
            Obs::SameVersion,
            Context {
                graph_live: false,
                ..enforce
            }
        ),
        S(Skip::Unchanged)
    );
}

#[test]
fn a_record_without_a_version_is_read_to_compare() {
    let mut r = record(Status::Synced);
    r.etag = None;
    assert_eq!(
        decide(Some(&r), Obs::SameVersion, schedule()),
        Sync(Why::Changed)
    );
    assert_eq!(
        decide(Some(&r), Obs::SameBytes, schedule()),
        S(Skip::Unchanged)
    );
}
