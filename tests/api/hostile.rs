//! Issue 15's hostile files, generated in code, sent to the real `serve`
//! binary three at a time: each is answered 200 with its specific code in
//! the ledger, and the handler's peak resident memory stays under 256 MB
//! (read from `/proc/<pid>/status`, `VmHWM`), while a 40 MP PNG is still
//! rendered. How long each answer takes is a benchmark figure (docs/pipeline.md),
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
    // (release timings are in docs/pipeline.md, from `cargo bench`).
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

/// A JPEG of `side` px in `shade`, padded with comment segments (which
/// decoders skip) to `size` bytes: the largest photo the default limits
/// accept, without a large decode.
fn padded_jpeg(side: u32, shade: u8, size: usize) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(side, side, image::Rgb([shade, 120, 200]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .unwrap();
    let mut padded = jpeg[..2].to_vec(); // SOI
    while padded.len() + 65_537 + jpeg.len() - 2 <= size {
        padded.extend_from_slice(&[0xFF, 0xFE, 0xFF, 0xFF]); // COM, length 65535
        padded.extend(std::iter::repeat_n(b'x', 65_533));
    }
    padded.extend_from_slice(&jpeg[2..]);
    padded
}

/// POSTs `body` chunked, without a length, as the Functions host does (it
/// posts an `ObjectContent`, whose length is unknown: `ToHttpRequestMessage`
/// in the host's `Workers/Http/HttpScriptInvocationContextExtensions.cs`).
/// Returns the HTTP status.
async fn post_chunked(address: &str, path: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         X-Azure-Functions-InvocationId: inv-chunked\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let status_line = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
    status_line[9..12].parse().unwrap()
}

/// Three photos of the largest size the defaults accept (20 MB, so 27 MB
/// bodies), delivered at once the way the host sends them: the bodies take
/// their share of the memory target before they are read, so the handler
/// stays under 256 MB and every photo is synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_largest_photos_at_once_stay_under_the_memory_target() {
    let fake = FakeGraph::start().await;
    let app = spawn_app_with(&fake.secret_env(), &[]).await;
    let limit = photosync::pipeline::RenderOptions::default().max_bytes as usize;
    let photos: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            fake.add_user(FakeUser::new(
                &format!("id-{i}"),
                &format!("big{i}@contoso.com"),
            ));
            let jpeg = padded_jpeg(400, 40 * i as u8, limit - 100_000);
            assert!(jpeg.len() <= limit && jpeg.len() > limit - 200_000);
            (format!("big{i}@contoso.com.jpg"), jpeg)
        })
        .collect();
    let mut bodies = Vec::new();
    for (name, bytes) in &photos {
        app.upload(name, bytes).await;
        bodies.push(blob_body(name, bytes).to_string());
    }
    let answers = futures::future::join_all(
        bodies
            .iter()
            .map(|body| post_chunked(&app.address, "/PhotoUploaded", body.as_bytes())),
    )
    .await;
    assert_eq!(answers, [200, 200, 200]);
    for (name, _) in &photos {
        let record = record(&app, name).await;
        assert_eq!(
            record.status,
            Status::Synced,
            "{name}: {:?}",
            record.problem
        );
    }
    let peak = peak_rss(app.pid());
    eprintln!(
        "handler peak RSS with three 20 MB photos: {} MB",
        peak >> 20
    );
    assert!(peak < 256 << 20, "the handler peaked at {} MB", peak >> 20);
}
