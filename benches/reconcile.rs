//! Reconcile cost as the container grows: N small photos on Azurite, the
//! Graph fake answering each photo upload after a fixed latency, then
//!
//! 1. a first run (every photo new) and
//! 2. a run with nothing to do,
//!
//! each in a **fresh `photosync reconcile` process** (a new Functions
//! instance, the normal case on Consumption plans), behind a counting proxy
//! in front of Azurite. Printed per run: wall time, storage requests (total
//! and by kind), peak RSS of the process (`wait4`'s `ru_maxrss`).
//!
//! `./scripts/with-azurite.sh cargo bench --bench reconcile`; settings:
//! `BENCH_PHOTOS` (default 1000), `BENCH_UPLOAD_MS` (default 100),
//! `BENCH_SEED_SYNCED=1` (write the photos with ledger records as a first
//! run leaves them, instead of running one: at 100,000 photos a real first
//! run takes longer than a session; the no-change runs are then measured
//! twice, without and with the index),
//! `PHOTOSYNC_GRAPH_MAX_CONCURRENCY` / `PHOTOSYNC_RECONCILE_CONCURRENCY`
//! pass through (defaults 16 and 32; the fake never throttles, so the
//! pacer's window grows to the most and the ceiling is that), `BENCH_AZURITE_PORT` (default 10000:
//! give the bench an Azurite of its own, e.g. `azurite-blob --blobPort
//! 10100 --inMemoryPersistence`, so other work's containers do not slow it).

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
#[allow(dead_code)]
#[path = "../tests/api/storage_proxy.rs"]
mod storage_proxy;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use photosync::config::Settings;
use photosync::store::{BlobProperties, Stores, WriteMode};
use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Record, Status, UserRef};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn small_jpeg(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(128, 128, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, (seed % 251) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// One finished process: wall time, peak RSS (bytes), exit status.
struct Ran {
    elapsed: Duration,
    peak_rss: u64,
    ok: bool,
}

/// Runs `photosync reconcile` with exactly `env`, waits with `wait4` so the
/// peak RSS is this child's alone.
async fn reconcile_process(env: &[(String, String)], log: &std::path::Path) -> Ran {
    let started = Instant::now();
    // Reaped by `wait4` below, which `Child::wait` cannot replace (no rusage).
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_photosync"))
        .arg("reconcile")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (status, rusage) = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: wait4 on our own child with valid out-pointers.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(r, pid, "wait4 failed");
        (status, usage)
    })
    .await
    .unwrap();
    Ran {
        elapsed: started.elapsed(),
        // Linux reports ru_maxrss in kilobytes.
        peak_rss: rusage.ru_maxrss as u64 * 1024,
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

/// Storage requests by kind: method and the part of the path that says
/// what it is for (container, ledger/users/index/reports folder, listing).
fn kinds(seen: &[storage_proxy::Seen], run: u32) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for s in seen {
        let path = s.path_and_query.split('?').next().unwrap_or("");
        let mut parts = path.trim_start_matches('/').splitn(4, '/').skip(1);
        let container = parts
            .next()
            .unwrap_or("")
            .replace(&format!("bench{run}-"), "");
        let rest = parts.next().unwrap_or("");
        let what = if s.is_list() {
            "list".to_owned()
        } else if container == "state" {
            rest.to_owned()
        } else if container == "thumbs" && !rest.is_empty() {
            "thumbnail".to_owned()
        } else {
            String::new()
        };
        *kinds
            .entry(format!("{} {container} {what}", s.method))
            .or_default() += 1;
    }
    kinds
}

/// What a first run leaves, written directly: the photos, a `synced` ledger
/// record for each (the blob's version, so nothing is due), and the 48 px
/// thumbnails the report embeds.
async fn seed_synced(stores: &Stores, photos: usize) {
    let thumbnail = Bytes::from(small_jpeg(0));
    let writes = (0..photos).map(|i| {
        let (stores, thumbnail) = (stores.clone(), thumbnail.clone());
        async move {
            let upn = format!("user{i}@contoso.com");
            let name = PhotoName::parse(&format!("{upn}.jpg")).unwrap();
            let bytes = Bytes::from(small_jpeg(i as u32));
            let size = bytes.len() as u64;
            let blob = stores
                .photos
                .put(
                    name.as_str(),
                    bytes,
                    &BlobProperties::default(),
                    WriteMode::Overwrite,
                )
                .await
                .unwrap();
            let now = chrono::Utc::now();
            let record = Record {
                photo: name.as_str().to_owned(),
                etag: blob.etag.clone(),
                sha256: format!("{i:064x}"),
                size,
                last_modified: Some(blob.last_modified),
                key: name.key(),
                focus: None,
                user: Some(UserRef {
                    id: format!("id-{i}"),
                    upn: upn.clone(),
                    account_enabled: true,
                }),
                status: Status::Synced,
                problem: None,
                detail: None,
                warnings: Vec::new(),
                attempts: 1,
                first_seen: now,
                updated: now,
                synced_at: Some(now),
                lease_until: None,
                next_attempt: None,
                graph_etag: None,
                sharepoint: None,
                held_from: None,
            };
            // As `Ledger::put` writes it, but unconditionally: a conditional
            // create is not retried on a dropped connection, an overwrite is.
            stores
                .state
                .put(
                    &Ledger::key(&name),
                    Bytes::from(serde_json::to_vec_pretty(&record).unwrap()),
                    &BlobProperties::default(),
                    WriteMode::Overwrite,
                )
                .await
                .unwrap();
            if i < 2000 {
                stores
                    .thumbnails
                    .put(
                        &format!("{upn}/48x48.jpg"),
                        thumbnail,
                        &BlobProperties::default(),
                        WriteMode::Overwrite,
                    )
                    .await
                    .unwrap();
            }
        }
    });
    futures::stream::iter(writes)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

#[tokio::main]
async fn main() {
    let port = env_or("BENCH_AZURITE_PORT", 10000) as u16;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "Azurite is not running on {port}: ./scripts/with-azurite.sh cargo bench --bench reconcile"
    );
    let photos = env_or("BENCH_PHOTOS", 1000);
    let latency = Duration::from_millis(env_or("BENCH_UPLOAD_MS", 100) as u64);
    let cap = env_or("PHOTOSYNC_GRAPH_MAX_CONCURRENCY", 16);
    let in_flight = env_or("PHOTOSYNC_RECONCILE_CONCURRENCY", 32);

    let fake = graph::FakeGraph::start().await;
    for i in 0..photos {
        fake.add_user(graph::FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_photo_delay(latency);
    let proxy = storage_proxy::StorageProxy::start_to(port).await;

    let run = std::process::id();
    let mut env = fake.secret_env();
    env.extend([
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
        (
            "PHOTOSYNC_GRAPH_MAX_CONCURRENCY".to_owned(),
            cap.to_string(),
        ),
        (
            "PHOTOSYNC_RECONCILE_CONCURRENCY".to_owned(),
            in_flight.to_string(),
        ),
        (
            "PHOTOSYNC_RECONCILE_BUDGET_SECS".to_owned(),
            "86400".to_owned(),
        ),
    ]);
    // Seeding goes straight to Azurite; the runs go through the proxy.
    let mut direct = env.clone();
    direct.push((
        "PHOTOSYNC_STORAGE".to_owned(),
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};\
             BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
            storage_proxy::AZURITE_KEY
        ),
    ));
    env.push((
        "PHOTOSYNC_STORAGE".to_owned(),
        proxy.connection_string.clone(),
    ));
    let settings = Settings::from_vars(direct).unwrap();
    let stores = Stores::open(&settings.storage, &settings.containers).unwrap();
    stores.ensure_containers().await.unwrap();
    let seeding = Instant::now();
    let uploads = (0..photos).map(|i| {
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
    let seeded = env_or("BENCH_SEED_SYNCED", 0) == 1;
    if seeded {
        seed_synced(&stores, photos).await;
    } else {
        futures::stream::iter(uploads)
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
    }
    eprintln!(
        "seeded {photos} photos in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let log = std::env::temp_dir().join(format!("bench{run}-reconcile.log"));
    let mut table = Vec::new();
    let runs: &[(&str, usize)] = if seeded {
        &[("nothing changed, no index yet", 0), ("nothing changed", 0)]
    } else {
        &[("first (all new)", photos), ("nothing changed", photos)]
    };
    for &(label, expect_uploads) in runs {
        proxy.reset();
        let ran = reconcile_process(&env, &log).await;
        assert!(ran.ok, "photosync reconcile failed; see {}", log.display());
        let uploads = fake.requests_to("PUT", "/photo/$value").len();
        assert_eq!(uploads, expect_uploads, "{label}: uploads so far");
        let seen = proxy.seen();
        eprintln!("{label}: storage requests by kind:");
        for (kind, n) in kinds(&seen, run) {
            eprintln!("  {n:>8}  {kind}");
        }
        table.push((label, ran, seen.len()));
    }

    // Every photo call (the backup's read, the upload, the read of the
    // new media ETag) takes the latency and one of the cap's slots.
    let photo_calls = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/photo"))
        .count();
    let calls_per_photo = photo_calls as f64 / photos as f64;
    let ceiling = cap as f64 / (latency.as_secs_f64() * calls_per_photo).max(f64::EPSILON);
    if seeded {
        println!("N = {photos}, seeded as a first run leaves them (no Graph calls)");
    } else {
        println!(
            "N = {photos}, {} ms per Graph photo call, {calls_per_photo:.1} photo calls per photo, Graph window up to {cap} \
             ({ceiling:.1} photos/s ceiling), {in_flight} photos in flight",
            latency.as_millis()
        );
    }
    println!(
        "| run (fresh process) | time | photos/s | of ceiling | storage requests | per photo | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (i, (label, ran, requests)) in table.iter().enumerate() {
        let secs = ran.elapsed.as_secs_f64();
        let (rate, share) = if i == 0 && !seeded {
            let rate = photos as f64 / secs;
            (format!("{rate:.1}"), format!("{:.2}", rate / ceiling))
        } else {
            ("—".to_owned(), "—".to_owned())
        };
        println!(
            "| {label} | {secs:.2} s | {rate} | {share} | {requests} | {:.2} | {:.0} MB |",
            *requests as f64 / photos as f64,
            ran.peak_rss as f64 / 1e6
        );
    }
    println!(
        "max photo requests in flight at Graph: {}",
        fake.max_in_flight()
    );
}
