//! The flow's branches in process: an `Engine` over in-memory containers and
//! the Graph fake, driven through its public face, one test per row of the
//! decision table. Fast enough to cover every branch; the end-to-end tests
//! keep what needs the real binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use chrono::{Duration, Utc};
use photosync::config::Settings;
use photosync::store::{BlobProperties, Stores, WriteMode};
use photosync::sync::ledger::{Ledger, Record, Status};
use photosync::sync::{Engine, PhotoEvent, PhotoName, Targets};

use crate::fakes::graph::{FakeGraph, FakeUser, Fault, Route};
use crate::helpers::jpeg;

struct World {
    engine: Engine,
    stores: Stores,
    fake: FakeGraph,
}

async fn world(extra: &[(&str, &str)]) -> World {
    let fake = FakeGraph::start().await;
    for upn in ["alice@contoso.com", "bob@contoso.com"] {
        fake.add_user(FakeUser::new(&format!("id-{upn}"), upn));
    }
    let mut vars = fake.secret_env();
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    vars.push(("PHOTOSYNC_GRAPH_MAX_ATTEMPTS".into(), "1".into()));
    let settings = Settings::from_vars(vars).unwrap();
    let stores = Stores::memory();
    let targets = Targets::from_settings(&settings).unwrap();
    World {
        engine: Engine::new(Arc::new(settings), stores.clone(), targets),
        stores,
        fake,
    }
}

impl World {
    async fn upload(&self, name: &str, bytes: &[u8]) {
        self.stores
            .photos
            .put(
                name,
                Bytes::copy_from_slice(bytes),
                &BlobProperties::default(),
                WriteMode::Overwrite,
            )
            .await
            .unwrap();
    }

    /// A delivery as the 5.x host makes it: no bytes kept, no version.
    async fn deliver(&self, name: &str) -> (Option<String>, String) {
        let outcome = self
            .engine
            .photo_uploaded(PhotoEvent {
                name: name.to_owned(),
                bytes: None,
                etag: None,
                length: None,
                last_modified: None,
                metadata: BTreeMap::new(),
            })
            .await;
        (outcome.retry, outcome.logs.join("\n"))
    }

    async fn reconcile(&self) -> photosync::sync::reconcile::RunSummary {
        self.engine
            .run_reconcile(&|_| {}, &AtomicBool::new(false))
            .await
            .unwrap()
    }

    fn ledger(&self) -> Ledger {
        Ledger::new(self.stores.state.clone())
    }

    async fn record(&self, name: &str) -> Record {
        self.ledger()
            .get(&PhotoName::parse(name).unwrap())
            .await
            .unwrap()
            .expect("a record")
            .record
    }

    /// Rewrites a record (to put the ledger into a state under test).
    async fn edit(&self, name: &str, change: impl FnOnce(&mut Record)) {
        let current = self
            .ledger()
            .get(&PhotoName::parse(name).unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut record = current.record;
        change(&mut record);
        self.ledger()
            .put(&record, Some(&current.etag))
            .await
            .unwrap();
    }

    fn uploads(&self) -> usize {
        self.fake.requests_to("PUT", "/photo/$value").len()
    }
}

const ALICE: &str = "alice@contoso.com.jpg";

#[tokio::test]
async fn new_then_unchanged_then_changed() {
    let w = world(&[]).await;
    w.upload(ALICE, &jpeg(500, 500)).await;
    let (retry, log) = w.deliver(ALICE).await;
    assert_eq!(retry, None, "{log}");
    assert_eq!(w.record(ALICE).await.status, Status::Synced);
    assert_eq!(w.uploads(), 1);

    let (_, log) = w.deliver(ALICE).await;
    assert_eq!(log, format!("{ALICE}: unchanged"));
    assert_eq!(w.uploads(), 1, "a redelivery uploads nothing");
    assert_eq!(w.reconcile().await.worked, 0);

    w.upload(ALICE, &jpeg(600, 500)).await;
    let summary = w.reconcile().await;
    assert_eq!(summary.worked, 1, "{}", summary.line());
    assert_eq!(w.uploads(), 2);
}

#[tokio::test]
async fn the_same_bytes_under_a_new_version_are_noted_not_uploaded() {
    let w = world(&[]).await;
    let photo = jpeg(500, 500);
    w.upload(ALICE, &photo).await;
    w.deliver(ALICE).await;
    let first = w.record(ALICE).await.etag;
    w.upload(ALICE, &photo).await; // re-uploaded as is: new version, same bytes
    let summary = w.reconcile().await;
    assert_eq!(summary.worked, 1, "read once to compare");
    assert_eq!(w.uploads(), 1, "not uploaded again");
    let noted = w.record(ALICE).await.etag;
    assert_ne!(first, noted, "the new version is remembered");
    assert_eq!(w.reconcile().await.worked, 0, "and not read again");
}

#[tokio::test]
async fn a_mapping_change_reassigns_the_photo() {
    let w = world(&[]).await;
    w.upload("hr/IMG_1.jpg", &jpeg(500, 500)).await;
    w.upload(
        "hr/mapping.csv",
        b"file,user\nIMG_1.jpg,alice@contoso.com\n",
    )
    .await;
    w.reconcile().await;
    assert_eq!(w.record("hr/IMG_1.jpg").await.key, "alice@contoso.com");
    assert_eq!(w.record("hr/mapping.csv").await.status, Status::Ignored);
    w.upload("hr/mapping.csv", b"file;user\nIMG_1.jpg;bob@contoso.com\n")
        .await;
    let summary = w.reconcile().await;
    assert_eq!(
        summary.worked,
        2,
        "the mapping file and the photo: {}",
        summary.line()
    );
    let record = w.record("hr/IMG_1.jpg").await;
    assert_eq!(record.user.unwrap().upn, "bob@contoso.com");
    assert!(w.fake.photo("id-bob@contoso.com").is_some());
}

#[tokio::test]
async fn a_transient_failure_is_retried_when_due_and_a_permanent_one_waits() {
    let w = world(&[]).await;
    w.fake.inject(Route::Photo, Fault::Unavailable, 1);
    w.upload(ALICE, &jpeg(500, 500)).await;
    let (retry, log) = w.deliver(ALICE).await;
    assert!(retry.unwrap().starts_with("graph-unavailable"), "{log}");
    assert_eq!(w.record(ALICE).await.status, Status::Retrying);
    assert_eq!(w.reconcile().await.worked, 0, "not due yet");
    w.edit(ALICE, |r| {
        r.next_attempt = Some(Utc::now() - Duration::seconds(1))
    })
    .await;
    assert_eq!(w.reconcile().await.worked, 1);
    assert_eq!(w.record(ALICE).await.status, Status::Synced);

    w.upload("nobody@contoso.com.jpg", &jpeg(500, 500)).await;
    w.deliver("nobody@contoso.com.jpg").await;
    assert_eq!(
        w.record("nobody@contoso.com.jpg").await.status,
        Status::Failed
    );
    let (_, log) = w.deliver("nobody@contoso.com.jpg").await;
    assert!(
        log.contains("unchanged since it failed (user-not-found)"),
        "{log}"
    );
}

#[tokio::test]
async fn a_live_claim_is_respected_and_an_expired_one_is_taken_over() {
    let w = world(&[]).await;
    w.upload(ALICE, &jpeg(500, 500)).await;
    w.deliver(ALICE).await;
    w.edit(ALICE, |r| {
        r.status = Status::Syncing;
        r.lease_until = Some(Utc::now() + Duration::minutes(5));
    })
    .await;
    let (_, log) = w.deliver(ALICE).await;
    assert!(log.contains("another invocation is syncing it"), "{log}");
    assert_eq!(w.reconcile().await.worked, 0);
    // The worker died: its claim runs out and the next run finishes the photo.
    w.edit(ALICE, |r| {
        r.lease_until = Some(Utc::now() - Duration::seconds(1))
    })
    .await;
    assert_eq!(w.reconcile().await.worked, 1);
    assert_eq!(w.record(ALICE).await.status, Status::Synced);
}

#[tokio::test]
async fn racing_deliveries_claim_once() {
    let w = world(&[]).await;
    w.fake
        .set_photo_delay(std::time::Duration::from_millis(200));
    w.upload(ALICE, &jpeg(500, 500)).await;
    let (a, b) = tokio::join!(w.deliver(ALICE), w.deliver(ALICE));
    assert_eq!(w.uploads(), 1, "{a:?} {b:?}");
    assert!(
        a.1.contains("another invocation") || b.1.contains("another invocation"),
        "{a:?} {b:?}"
    );
}

#[tokio::test]
async fn the_newest_of_several_photos_of_one_person_is_the_only_upload() {
    let w = world(&[]).await;
    for name in [
        "a/alice@contoso.com.jpg",
        "b/alice@contoso.com.jpg",
        "c/alice@contoso.com.jpg",
    ] {
        // Uploaded last, or on a tie of Last-Modified the largest name: `c/` wins.
        w.upload(name, &jpeg(500, 500)).await;
    }
    let summary = w.reconcile().await;
    assert_eq!(w.uploads(), 1, "{}", summary.line());
    assert_eq!(
        w.record("c/alice@contoso.com.jpg").await.status,
        Status::Synced
    );
    for older in ["a/alice@contoso.com.jpg", "b/alice@contoso.com.jpg"] {
        let record = w.record(older).await;
        assert_eq!(record.status, Status::Superseded, "{older}");
        assert!(record.detail.unwrap().contains("c/alice@contoso.com.jpg"));
    }
}

#[tokio::test]
async fn without_credentials_it_runs_dry_and_syncs_once_they_come() {
    let dry = world(&[("PHOTOSYNC_DRY_RUN", "true")]).await;
    dry.upload(ALICE, &jpeg(500, 500)).await;
    dry.deliver(ALICE).await;
    assert_eq!(dry.record(ALICE).await.status, Status::DryRun);
    assert_eq!(dry.reconcile().await.worked, 0, "still dry: nothing to do");

    // The same containers under an engine with live credentials.
    let live = world(&[]).await;
    let settings = Settings::from_vars(live.fake.secret_env()).unwrap();
    let targets = Targets::from_settings(&settings).unwrap();
    let engine = Engine::new(Arc::new(settings), dry.stores.clone(), targets);
    let summary = engine
        .run_reconcile(&|_| {}, &AtomicBool::new(false))
        .await
        .unwrap();
    assert_eq!(summary.worked, 1, "{}", summary.line());
    assert_eq!(dry.record(ALICE).await.status, Status::Synced);
}

#[tokio::test]
async fn a_deleted_photo_is_removed_and_comes_back_when_uploaded_again() {
    let w = world(&[]).await;
    let photo = jpeg(500, 500);
    w.upload(ALICE, &photo).await;
    w.deliver(ALICE).await;
    // Bob's photo stays: a container emptied at once is held (the guard).
    w.upload("bob@contoso.com.jpg", &photo).await;
    w.deliver("bob@contoso.com.jpg").await;
    w.stores.photos.delete(ALICE).await.unwrap();
    assert_eq!(w.reconcile().await.removed, 1);
    assert_eq!(w.record(ALICE).await.status, Status::Removed);
    w.upload(ALICE, &photo).await;
    assert_eq!(w.reconcile().await.worked, 1);
    assert_eq!(w.record(ALICE).await.status, Status::Synced);
}

#[tokio::test]
async fn a_file_that_is_no_photo_is_ignored_once() {
    let w = world(&[]).await;
    w.upload("notes.txt", b"hello").await;
    w.reconcile().await;
    assert_eq!(w.record("notes.txt").await.status, Status::Ignored);
    assert_eq!(w.reconcile().await.worked, 0);
}

#[tokio::test]
async fn a_focus_from_the_mapping_or_the_blob_re_renders_the_photo() {
    let w = world(&[]).await;
    w.upload("hr/IMG_1.jpg", &jpeg(1200, 600)).await;
    w.upload(
        "hr/mapping.csv",
        b"file,user,focus\nIMG_1.jpg,alice@contoso.com,\"0.2,0.5\"\n",
    )
    .await;
    w.reconcile().await;
    let first = w.record("hr/IMG_1.jpg").await;
    assert_eq!(first.focus, photosync::pipeline::Focus::new(0.2, 0.5));
    let left = w.fake.photo("id-alice@contoso.com").unwrap();

    // Moving the focus is a change of the photo's assignment: rendered and synced again.
    w.upload(
        "hr/mapping.csv",
        b"file,user,focus\nIMG_1.jpg,alice@contoso.com,\"0.8,0.5\"\n",
    )
    .await;
    let summary = w.reconcile().await;
    assert_eq!(w.uploads(), 2, "{}", summary.line());
    let right = w.fake.photo("id-alice@contoso.com").unwrap();
    assert_ne!(left, right, "another square was cut");
    assert_eq!(w.reconcile().await.worked, 0, "and then it is stable");

    // Blob metadata (what the web page sets) gives a photo its focus too.
    let metadata = BlobProperties {
        metadata: BTreeMap::from([("photosync_focus".to_owned(), "0.5,0.4".to_owned())]),
        ..BlobProperties::default()
    };
    w.stores
        .photos
        .put(
            "bob@contoso.com.jpg",
            Bytes::from(jpeg(900, 600)),
            &metadata,
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
    w.deliver("bob@contoso.com.jpg").await;
    assert_eq!(
        w.record("bob@contoso.com.jpg").await.focus,
        photosync::pipeline::Focus::new(0.5, 0.4)
    );
}
