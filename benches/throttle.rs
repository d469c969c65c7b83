//! Pacing against a throttling tenant: how much of Graph's capacity a
//! Reconcile uses, and how many of its writes are throttled, for one process
//! and for three processes sharing the tenant.
//!
//! The tenant (the Graph fake's synthetic capacity, issue 20): at most 12
//! photo writes in flight, 150 ms each (80 writes/s possible), 429 +
//! `Retry-After: 1` above that. Storage is in memory, so the figure
//! measures pacing, not this machine's Azurite. "Processes" are independent
//! engines in this one OS process — each its own Graph client, pacer, token
//! and containers; they share nothing but the fake, exactly as Functions
//! instances share nothing but the tenant.
//!
//! `cargo bench --bench throttle`; `BENCH_PHOTOS` (default 3000, split
//! between the processes).

#[allow(dead_code)]
#[path = "../tests/api/fakes/entra.rs"]
mod entra;
#[allow(dead_code)]
#[path = "../tests/api/fakes/graph.rs"]
mod graph;
#[allow(dead_code)]
#[path = "../tests/api/fakes/photo_load.rs"]
mod photo_load;
#[allow(dead_code)]
#[path = "../tests/api/fakes/sharepoint.rs"]
mod sharepoint;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use photosync::config::Settings;
use photosync::store::{BlobProperties, Store, Stores, WriteMode};
use photosync::sync::ledger::Status;
use photosync::sync::{Engine, Targets};

const CAPACITY: photo_load::Capacity = photo_load::Capacity {
    writes: 12,
    write_time: Duration::from_millis(150),
    retry_after_secs: 1,
};

fn tiny_jpeg(seed: usize) -> Bytes {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, (seed % 251) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    Bytes::from(out.into_inner())
}

/// One "process": its own containers holding `photos` photos for users
/// `first..first + photos`, and its own targets.
async fn process(fake: &graph::FakeGraph, first: usize, photos: usize) -> (Engine, Targets) {
    let mut vars = fake.secret_env();
    vars.push(("PHOTOSYNC_RECONCILE_BUDGET_SECS".into(), "86400".into()));
    let settings = Settings::from_vars(vars).unwrap();
    let stores = Stores {
        photos: Store::memory(),
        thumbnails: Store::memory(),
        state: Store::memory(),
    };
    futures::stream::iter(first..first + photos)
        .for_each_concurrent(32, |i| {
            let photos = stores.photos.clone();
            async move {
                photos
                    .put(
                        &format!("user{i}@contoso.com.jpg"),
                        tiny_jpeg(i),
                        &BlobProperties::default(),
                        WriteMode::Overwrite,
                    )
                    .await
                    .unwrap();
            }
        })
        .await;
    let engine_targets = Targets::from_settings(&settings).unwrap();
    let pace_view = Targets {
        graph: engine_targets.graph.clone(),
        sharepoint: None,
    };
    (
        Engine::new(Arc::new(settings), stores, engine_targets),
        pace_view,
    )
}

async fn scenario(processes: usize, photos: usize) {
    let fake = graph::FakeGraph::start().await;
    for i in 0..photos {
        fake.add_user(graph::FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_write_capacity(CAPACITY);
    let share = photos / processes;
    let mut engines = Vec::new();
    for p in 0..processes {
        engines.push(process(&fake, p * share, share).await);
    }
    let started = Instant::now();
    let never = AtomicBool::new(false);
    let runs = engines
        .iter()
        .map(|(engine, _)| engine.run_reconcile(&|_| {}, &never));
    let summaries = futures::future::join_all(runs).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut synced = 0;
    for summary in summaries {
        let summary = summary.unwrap();
        synced += summary.counts.get(&Status::Synced).copied().unwrap_or(0);
    }
    assert_eq!(synced, share * processes, "every photo synced");
    let load = fake.load();
    let possible = CAPACITY.writes as f64 / CAPACITY.write_time.as_secs_f64();
    let rate = synced as f64 / elapsed;
    let windows: Vec<String> = engines
        .iter()
        .map(|(_, targets)| {
            let pace = targets.graph.as_ref().unwrap().pace();
            format!(
                "{:.1} (peak {}, {} halvings)",
                pace.window, pace.peak_in_flight, pace.halvings
            )
        })
        .collect();
    println!(
        "| {processes} | {synced} | {elapsed:.1} s | {rate:.1} | {:.2} | {} of {} ({:.1} %) | {} |",
        rate / possible,
        load.throttled_writes,
        load.writes,
        100.0 * load.throttled_writes as f64 / load.writes.max(1) as f64,
        windows.join(", ")
    );
}

#[tokio::main]
async fn main() {
    let photos: usize = std::env::var("BENCH_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    println!(
        "tenant: {} photo writes in flight, {} ms each ({:.0}/s possible), 429 + Retry-After: {} above",
        CAPACITY.writes,
        CAPACITY.write_time.as_millis(),
        CAPACITY.writes as f64 / CAPACITY.write_time.as_secs_f64(),
        CAPACITY.retry_after_secs
    );
    println!(
        "| processes | photos | time | photos/s | of capacity | writes throttled | final window per process |"
    );
    println!("|---|---|---|---|---|---|---|");
    scenario(1, photos).await;
    scenario(3, photos).await;
}
