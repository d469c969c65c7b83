//! Pacing against a throttling tenant: how much of Graph's capacity a bulk
//! load uses, and how many of its writes are throttled, for one process and
//! for three processes sharing the tenant.
//!
//! Two shapes of work:
//! - **fleet**: a bulk drop into one photos container, its blob events
//!   spread over the instances as the Functions host spreads them (each
//!   instance takes the next event when it has room, up to 32 at once);
//!   this is the figure for "a fleet converges on the tenant's limit";
//! - **fixed shares**: each process reconciles its own container of N/3
//!   photos; the run ends with the slowest, so it also shows how evenly
//!   the processes share the tenant.
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
use photosync::store::{BlobProperties, Stores, WriteMode};
use photosync::sync::ledger::Status;
use photosync::sync::{Engine, PhotoEvent, Targets};

const CAPACITY: photo_load::Capacity = photo_load::Capacity {
    writes: 12,
    write_time: Duration::from_millis(150),
    retry_after_secs: 1,
};

fn tiny_jpeg(seed: usize) -> Bytes {
    let img = image::RgbImage::from_fn(128, 128, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, (seed % 251) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    Bytes::from(out.into_inner())
}

/// Photos for users `first..first + photos` into `stores`.
async fn seed(stores: &Stores, first: usize, photos: usize) {
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
}

/// One "process" over `stores` with its own targets (Graph client, pacer,
/// token); the second `Targets` shares its Graph client, to read the pace.
fn process(fake: &graph::FakeGraph, stores: Stores) -> (Engine, Targets) {
    let mut vars = fake.secret_env();
    vars.push(("PHOTOSYNC_RECONCILE_BUDGET_SECS".into(), "86400".into()));
    let settings = Settings::from_vars(vars).unwrap();
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

/// How the work reaches the processes.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Fleet,
    FixedShares,
}

async fn scenario(shape: Shape, processes: usize, photos: usize) {
    let fake = graph::FakeGraph::start().await;
    for i in 0..photos {
        fake.add_user(graph::FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_write_capacity(CAPACITY);
    let share = photos / processes;
    let photos = share * processes;
    let mut engines = Vec::new();
    let shared = Stores::memory();
    if shape == Shape::Fleet {
        seed(&shared, 0, photos).await;
    }
    for p in 0..processes {
        let stores = match shape {
            Shape::Fleet => shared.clone(),
            Shape::FixedShares => {
                let own = Stores::memory();
                seed(&own, p * share, share).await;
                own
            }
        };
        engines.push(process(&fake, stores));
    }
    let started = Instant::now();
    let never = AtomicBool::new(false);
    // Fleet: one queue of blob events; each instance takes the next one
    // when it has room (the host's per-instance concurrency: 32 here).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let runs = engines.iter().map(|(engine, _)| {
        let next = &next;
        // Lazy: `buffer_unordered` takes an event only when it has room.
        let queue = futures::stream::iter(std::iter::from_fn(move || {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            (i < photos).then_some(i)
        }));
        let never = &never;
        async move {
            match shape {
                Shape::FixedShares => {
                    let summary = engine.run_reconcile(&|_| {}, never).await.unwrap();
                    let done = summary.counts.get(&Status::Synced).copied().unwrap_or(0);
                    assert_eq!(done, share, "{}", summary.line());
                    done
                }
                Shape::Fleet => {
                    queue
                        .map(|i| async move {
                            let outcome = engine
                                .photo_uploaded(PhotoEvent {
                                    name: format!("user{i}@contoso.com.jpg"),
                                    bytes: None,
                                    etag: None,
                                    length: None,
                                    last_modified: None,
                                    metadata: Default::default(),
                                })
                                .await;
                            assert_eq!(outcome.retry, None, "{:?}", outcome.logs);
                        })
                        .buffer_unordered(32)
                        .count()
                        .await
                }
            }
        }
    });
    // `BENCH_TRACE=1`: once a second, the tenant's mean writes in flight and
    // each process's window (to see how the fleet converges).
    let trace = async {
        if std::env::var("BENCH_TRACE").is_err() {
            return futures::future::pending().await;
        }
        loop {
            fake.restart_mean();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let windows: Vec<String> = engines
                .iter()
                .map(|(_, t)| format!("{:.1}", t.graph.as_ref().unwrap().pace().window))
                .collect();
            eprintln!(
                "t={:>5.1}s in flight {:>5.2} windows {}",
                started.elapsed().as_secs_f64(),
                fake.mean_writes_in_flight(),
                windows.join(" ")
            );
        }
    };
    let summaries: Vec<usize> = tokio::select! {
        done = futures::future::join_all(runs) => done,
        () = trace => unreachable!(),
    };
    let elapsed = started.elapsed().as_secs_f64();
    let synced: usize = summaries.iter().sum();
    assert_eq!(synced, photos, "every photo synced");
    assert_eq!(
        fake.load().writes - fake.load().throttled_writes,
        photos,
        "one accepted write per photo"
    );
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
    let label = match shape {
        Shape::Fleet => "fleet",
        Shape::FixedShares => "fixed shares",
    };
    println!(
        "| {processes}, {label} | {synced} | {elapsed:.1} s | {rate:.1} | {:.2} | {} of {} ({:.1} %) | {} |",
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
    scenario(Shape::Fleet, 1, photos).await;
    scenario(Shape::Fleet, 3, photos).await;
    scenario(Shape::FixedShares, 3, photos).await;
}
