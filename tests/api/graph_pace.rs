//! The adaptive Graph limiter against a tenant that takes 6 photo writes at
//! once and answers 429 + `Retry-After: 1` above that (the synthetic tenant
//! of `fakes::photo_load`; Graph signals tenant limits only by 429 +
//! `Retry-After`: learn.microsoft.com/graph/throttling).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use photosync::config::Settings;
use photosync::graph::Written;
use photosync::store::{BlobProperties, Stores, WriteMode};
use photosync::sync::ledger::Status;
use photosync::sync::{Engine, Targets};

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::fakes::photo_load::Capacity;
use crate::graph::{client_with, photo};

const TENANT: Capacity = Capacity {
    writes: 6,
    write_time: Duration::from_millis(100),
    retry_after_secs: 1,
};

async fn tenant(users: usize) -> FakeGraph {
    let fake = FakeGraph::start().await;
    for i in 0..users {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_write_capacity(TENANT);
    fake
}

#[tokio::test]
async fn the_window_settles_near_the_tenant_limit_with_one_write_per_user() {
    const USERS: usize = 60;
    let fake = tenant(USERS).await;
    // Starting low shows both halves: it grows to the limit and backs off
    // from above it.
    let client = Arc::new(client_with(
        fake.secret_env(),
        &[
            ("PHOTOSYNC_GRAPH_CONCURRENCY", "2"),
            ("PHOTOSYNC_GRAPH_MAX_CONCURRENCY", "16"),
        ],
    ));
    // Three writes per user, all at once: they must queue per user.
    let uploads = (0..USERS * 3).map(|i| {
        let client = Arc::clone(&client);
        async move {
            client
                .set_photo(&format!("id-{}", i % USERS), photo())
                .await
        }
    });
    let measuring = async {
        // The ramp-up and the first `Retry-After` of silence are left out of
        // the mean: once writes resume, the window should hover at the limit.
        fake.wait_until(|f| f.load().throttled_writes > 0).await;
        let throttled_at = fake.load().writes;
        fake.wait_until(|f| f.load().writes > throttled_at + TENANT.writes)
            .await;
        fake.restart_mean();
    };
    let (results, ()) = tokio::join!(futures::future::join_all(uploads), measuring);
    for result in results {
        assert_eq!(result.expect("every photo is written"), Written::Done);
    }
    let load = fake.load();
    let mean = fake.mean_writes_in_flight();
    assert_eq!(load.peak_writes_per_user, 1, "{load:?}");
    assert!(load.throttled_writes > 0, "the limit was found: {load:?}");
    assert!(
        load.throttled_writes * 10 <= load.writes,
        "at most a tenth throttled: {load:?}"
    );
    assert!(
        (4.0..=6.0).contains(&mean),
        "writes in flight once they resumed after the first 429 averaged {mean:.2} (limit 6): {load:?}"
    );
    let pace = client.pace();
    assert!(
        (3.0..=7.0).contains(&pace.window),
        "the window ended at {pace:?}"
    );
}

#[tokio::test]
async fn a_reconcile_against_a_throttling_tenant_syncs_every_photo() {
    const PHOTOS: usize = 60;
    let fake = tenant(PHOTOS).await;
    let mut vars = fake.secret_env();
    vars.push(("PHOTOSYNC_SIZES".into(), "96".into()));
    let settings = Settings::from_vars(vars).unwrap();
    let stores = Stores::memory();
    let photo = bytes::Bytes::from(crate::helpers::jpeg(120, 120));
    for i in 0..PHOTOS {
        stores
            .photos
            .put(
                &format!("user{i}@contoso.com.jpg"),
                photo.clone(),
                &BlobProperties::default(),
                WriteMode::Overwrite,
            )
            .await
            .unwrap();
    }
    let targets = Targets::from_settings(&settings).unwrap();
    let engine = Engine::new(Arc::new(settings), stores, targets);
    let summary = engine
        .run_reconcile(&|_| {}, &AtomicBool::new(false))
        .await
        .unwrap();
    assert_eq!(
        summary.counts.get(&Status::Synced).copied().unwrap_or(0),
        PHOTOS,
        "{}",
        summary.line()
    );
    let load = fake.load();
    assert_eq!(load.writes - load.throttled_writes, PHOTOS, "{load:?}");
    assert!(
        load.throttled_writes > 0,
        "the tenant pushed back: {load:?}"
    );
    assert_eq!(load.peak_writes_per_user, 1, "{load:?}");
}
