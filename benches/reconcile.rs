//! Reconcile throughput against the Graph fake with realistic latency:
//! 1,000 small photos, 100 ms per photo upload, the Graph cap at 4 — so at
//! most 40 photos/s are possible — then a second run with nothing to do.
//!
//! Needs Azurite: `./scripts/with-azurite.sh cargo bench --bench reconcile`.
//! Photos in flight: `PHOTOSYNC_RECONCILE_CONCURRENCY` (32 here unless set).

#[allow(dead_code)]
#[path = "../tests/api/fakes/entra.rs"]
mod entra;
#[allow(dead_code)]
#[path = "../tests/api/fakes/graph.rs"]
mod graph;
#[allow(dead_code)]
#[path = "../tests/api/fakes/sharepoint.rs"]
mod sharepoint;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use photosync::config::Settings;
use photosync::store::{BlobProperties, Stores, WriteMode};
use photosync::sync::{Engine, Targets};

const PHOTOS: usize = 1000;
const LATENCY: Duration = Duration::from_millis(100);
const CAP: usize = 4;

fn small_jpeg(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(128, 128, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, (seed % 251) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[tokio::main]
async fn main() {
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", 10000)).is_ok(),
        "Azurite is not running: ./scripts/with-azurite.sh cargo bench --bench reconcile"
    );
    let fake = graph::FakeGraph::start().await;
    for i in 0..PHOTOS {
        fake.add_user(graph::FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_photo_delay(LATENCY);

    let run = std::process::id();
    let mut env = fake.secret_env();
    env.extend([
        (
            "PHOTOSYNC_STORAGE".to_owned(),
            "UseDevelopmentStorage=true".to_owned(),
        ),
        (
            "PHOTOSYNC_PHOTOS_CONTAINER".to_owned(),
            format!("bench{run}-photos"),
        ),
        (
            "PHOTOSYNC_THUMBNAILS_CONTAINER".to_owned(),
            format!("bench{run}-thumbs"),
        ),
        (
            "PHOTOSYNC_STATE_CONTAINER".to_owned(),
            format!("bench{run}-state"),
        ),
        ("PHOTOSYNC_GRAPH_CONCURRENCY".to_owned(), CAP.to_string()),
        (
            "PHOTOSYNC_RECONCILE_CONCURRENCY".to_owned(),
            "16".to_owned(),
        ),
        (
            "PHOTOSYNC_RECONCILE_BUDGET_SECS".to_owned(),
            "3600".to_owned(),
        ),
    ]);
    let settings = Settings::from_vars(env).unwrap();
    let stores = Stores::open(&settings.storage, &settings.containers).unwrap();
    stores.ensure_containers().await.unwrap();

    let uploads = (0..PHOTOS).map(|i| {
        let photos = stores.photos.clone();
        async move {
            photos
                .put(
                    &format!("user{i}@contoso.com.jpg"),
                    Bytes::from(small_jpeg(i as u32)),
                    &BlobProperties::default(),
                    WriteMode::Overwrite,
                )
                .await
                .unwrap();
        }
    });
    futures::stream::iter(uploads)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;

    let targets = Targets::from_settings(&settings).unwrap();
    let engine = Engine::new(Arc::new(settings), stores, targets);

    let started = Instant::now();
    let never = std::sync::atomic::AtomicBool::new(false);
    let first = engine.run_reconcile(&|_| {}, &never).await.unwrap();
    let first_time = started.elapsed();
    assert_eq!(
        fake.requests_to("PUT", "/photo/$value").len(),
        PHOTOS,
        "{}",
        first.line()
    );

    let started = Instant::now();
    let second = engine.run_reconcile(&|_| {}, &never).await.unwrap();
    let second_time = started.elapsed();
    assert_eq!(second.worked, 0, "{}", second.line());

    let rate = PHOTOS as f64 / first_time.as_secs_f64();
    let ceiling = CAP as f64 / LATENCY.as_secs_f64();
    println!("| run | photos | time | photos/s | of the {ceiling:.0}/s ceiling |");
    println!("|---|---|---|---|---|");
    println!(
        "| first (all new, {} ms per upload, cap {CAP}) | {PHOTOS} | {:.2} s | {rate:.1} | {:.2} |",
        LATENCY.as_millis(),
        first_time.as_secs_f64(),
        rate / ceiling
    );
    println!(
        "| second (nothing changed) | {PHOTOS} | {:.2} s | — | — |",
        second_time.as_secs_f64()
    );
    println!("max photo requests in flight: {}", fake.max_in_flight());
}
