//! Issue 15's hostile files, generated in code, sent to the real `serve`
//! binary three at a time: each is answered 200 with its specific code in
//! the ledger, and the handler's peak resident memory stays under 256 MB
//! (read from `/proc/<pid>/status`, `VmHWM`), while a 40 MP PNG is still
//! rendered. How long each answer takes is a benchmark figure (README),
//! not an assertion.

#[path = "../common/hostile_files.rs"]
mod hostile_files;

use photosync::problem::ProblemCode;
use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Record, Status};
use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::helpers::{TestApp, spawn_app_with};
use crate::host::blob_body;

/// The handler's peak resident set so far, in bytes (Linux `VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

async fn record(app: &TestApp, name: &str) -> Record {
    Ledger::new(app.stores.state.clone())
        .get(&PhotoName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no ledger record for {name}"))
        .record
}

/// Uploads and delivers one photo as the host would; the HTTP status.
async fn drop_photo(app: &TestApp, name: &str, bytes: &[u8]) -> u16 {
    app.upload(name, bytes).await;
    let response = app
        .invoke(
            "PhotoUploaded",
            "inv-hostile",
            blob_body(name, bytes).to_string(),
        )
        .await;
    let status = response.status().as_u16();
    let _: Value = response.json().await.unwrap();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_files_get_a_specific_code_and_the_handler_stays_under_256_mb() {
    let fake = FakeGraph::start().await;
    // One person per file: two photos of one person would supersede each other.
    for i in 0..7 {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("person{i}@contoso.com"),
        ));
    }
    // The tests run the debug build, several times slower than release and
    // on a shared machine: the time budget is not what this test measures
    // (release timings are in the README, from `cargo bench`).
    let app = spawn_app_with(&fake.secret_env(), &[("PHOTOSYNC_MAX_RENDER_SECS", "600")]).await;

    let mut files: Vec<(String, Vec<u8>, &str)> = hostile_files::all()
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let (stem, extension) = h.file.split_once('.').unwrap();
            (
                format!("{stem}/person{i}@contoso.com.{extension}"),
                h.bytes,
                h.expect,
            )
        })
        .collect();
    files.push((
        "headshot-40mp/person6@contoso.com.png".to_owned(),
        hostile_files::png_40mp(),
        "synced",
    ));

    for batch in files.chunks(3) {
        let answers = futures::future::join_all(
            batch
                .iter()
                .map(|(name, bytes, _)| drop_photo(&app, name, bytes)),
        )
        .await;
        for ((name, _, _), status) in batch.iter().zip(answers) {
            assert_eq!(status, 200, "{name}");
        }
    }

    for (name, _, expect) in &files {
        let record = record(&app, name).await;
        match *expect {
            "synced" => assert_eq!(
                record.status,
                Status::Synced,
                "{name}: {:?}",
                record.problem
            ),
            "icc-profile-ignored" => {
                assert_eq!(
                    record.status,
                    Status::Synced,
                    "{name}: {:?}",
                    record.problem
                );
                assert!(
                    record.warnings.contains(&ProblemCode::IccProfileIgnored),
                    "{name}: {:?}",
                    record.warnings
                );
            }
            code => {
                assert_eq!(record.status, Status::Failed, "{name}");
                let problem = record.problem.unwrap();
                assert_eq!(problem.code.as_str(), code, "{name}: {}", problem.message);
                assert!(
                    problem.message.contains("PHOTOSYNC_MAX_DECODE_MB"),
                    "{}",
                    problem.message
                );
            }
        }
    }
    let peak = peak_rss(app.pid());
    eprintln!("handler peak RSS: {} MB", peak >> 20);
    assert!(peak < 256 << 20, "the handler peaked at {} MB", peak >> 20);
}

/// A progressive JPEG with more scans than libjpeg-turbo's limit is refused
/// from its header, before a coefficient is decoded.
#[tokio::test]
async fn a_progressive_jpeg_with_too_many_scans_is_too_slow() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-alice", "Alice@contoso.com"));
    let app = spawn_app_with(&fake.secret_env(), &[]).await;
    let jpeg = hostile_files::progressive_jpeg(1200, 1200, 1, photosync::pipeline::MAX_SCANS + 1);
    let name = "scans/alice@contoso.com.jpg";
    assert_eq!(drop_photo(&app, name, &jpeg).await, 200);
    let problem = record(&app, name).await.problem.unwrap();
    assert_eq!(
        problem.code.as_str(),
        "image-too-slow",
        "{}",
        problem.message
    );
    assert!(problem.message.contains("scans"), "{}", problem.message);
}
