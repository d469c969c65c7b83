//! Local mode: `photosync sync DIR` over a copy of `examples/photos`, with no
//! Azure at all — dry, incremental, interrupted and resumed, and for real
//! against the Graph fake through an env file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::helpers::{BINARY, temp_dir};

/// A copy of the committed samples in a fresh folder; returns (root, photos dir).
pub(crate) fn samples() -> (tempfile::TempDir, PathBuf) {
    let root = temp_dir();
    let photos = root.path().join("photos");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/photos"),
        &photos,
    );
    (root, photos)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `photosync sync` with a clean environment (no Azure, no credentials).
fn sync(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(BINARY)
        .arg("sync")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub(crate) fn report(out: &Path) -> Value {
    let text = std::fs::read(out.join("photosync/reports/latest.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

pub(crate) fn statuses(report: &Value) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = report["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["photo"].as_str().unwrap().to_owned(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_first_command_shows_every_outcome_without_azure() {
    let (root, photos) = samples();
    let out = root.path().join("out");
    let (code, stdout, stderr) = sync(&[photos.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(1), "one sample is corrupt: {stdout}\n{stderr}");
    assert!(stderr.contains("running dry"), "says so once: {stderr}");
    assert_eq!(stderr.matches("running dry").count(), 1);
    assert!(stdout.contains("10 files in"), "{stdout}");
    assert!(
        stdout.contains("dry-run") && stdout.contains("ignored"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pradeep.gupta@contoso.com.jpg  corrupt-image: "),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            &out.join("photosync/reports/latest.html")
                .display()
                .to_string()
        ),
        "{stdout}"
    );

    let rows = statuses(&report(&out));
    let expected: Vec<(String, String)> = [
        ("100234.jpg", "dry-run"),
        ("README.txt", "ignored"),
        ("adele.vance@contoso.com.jpg", "dry-run"),
        ("alex.wilber@contoso.com.jpg", "dry-run"),
        ("lee.gu@contoso.com.png", "dry-run"),
        ("mapping.csv", "ignored"),
        ("megan.bowen@contoso.com.jpg", "dry-run"),
        ("nestor.wilke@contoso.com.heic", "dry-run"),
        ("pradeep.gupta@contoso.com.jpg", "failed"),
        ("team/IMG_0042.jpg", "dry-run"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(rows, expected);
    // Without credentials nothing reached Microsoft 365: the report says so first.
    assert_eq!(report(&out)["dry_run"], true);
    let page = std::fs::read_to_string(out.join("photosync/reports/latest.html")).unwrap();
    assert!(page.contains("Dry run — nothing was changed in Microsoft 365"));

    // Thumbnails with the Azure layout; the mapped photo under its user.
    for size in [48, 64, 96, 120, 240, 360, 432, 504, 648] {
        assert!(
            out.join(format!(
                "thumbnails/adele.vance@contoso.com/{size}x{size}.jpg"
            ))
            .is_file()
        );
    }
    assert!(
        out.join("thumbnails/diego.siciliani@contoso.com/648x648.jpg")
            .is_file()
    );
    // The EXIF-rotated portrait comes out upright: the head is in the upper half.
    let megan = image::open(out.join("thumbnails/megan.bowen@contoso.com/96x96.jpg"))
        .unwrap()
        .to_rgb8();
    let skin = |y: u32| {
        let p = megan.get_pixel(48, y);
        p[0] > 200 && p[1] > 150 && p[1] < 190
    };
    assert!((10..48).any(skin), "the face is in the upper half");
    // A transparent corner became white, not black.
    let lee = image::open(out.join("thumbnails/lee.gu@contoso.com/96x96.jpg"))
        .unwrap()
        .to_rgb8();
    assert!(
        lee.get_pixel(1, 1).0.iter().all(|c| *c > 240),
        "{:?}",
        lee.get_pixel(1, 1)
    );
    let html = std::fs::read_to_string(out.join("photosync/reports/latest.html")).unwrap();
    assert!(html.contains("Needs attention (1)"));
}

#[test]
fn re_running_is_incremental_and_a_changed_file_is_redone() {
    let (root, photos) = samples();
    let out = root.path().join("out");
    let args = [photos.to_str().unwrap(), "--out", out.to_str().unwrap()];
    sync(&args);
    let (_, stdout, _) = sync(&args);
    assert!(stdout.contains("(0 processed this run)"), "{stdout}");

    std::fs::copy(
        photos.join("alex.wilber@contoso.com.jpg"),
        photos.join("adele.vance@contoso.com.jpg"),
    )
    .unwrap();
    let (_, stdout, _) = sync(&args);
    assert!(stdout.contains("(1 processed this run)"), "{stdout}");
}

#[test]
fn a_missing_folder_or_settings_file_is_a_usage_error() {
    let (code, _, stderr) = sync(&["/nonexistent/photos"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("/nonexistent/photos is not a folder"),
        "{stderr}"
    );
    let (root, photos) = samples();
    let env = root.path().join("bad.env");
    std::fs::write(&env, "PHOTOSYNC_TENANT_ID\n").unwrap();
    let (code, _, stderr) = sync(&[
        photos.to_str().unwrap(),
        "--env-file",
        env.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("line 1 is not KEY=VALUE"), "{stderr}");
}

#[test]
fn help_reads_well() {
    let output = Command::new(BINARY)
        .args(["sync", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for words in [
        "Sync a folder of photos",
        "--out <OUT>",
        "--dry-run",
        "--env-file <FILE>",
        "--match-by <ATTRIBUTE>",
    ] {
        assert!(help.contains(words), "{words} missing:\n{help}");
    }
}

/// An env file pointing the app at the fake.
fn env_file(fake: &FakeGraph, dir: &Path) -> PathBuf {
    let path = dir.join(".env");
    let lines: Vec<String> = fake
        .secret_env()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

/// `sync PHOTOS --out OUT --env-file ENV`.
fn real_args(photos: &Path, out: &Path, env: &Path) -> Vec<String> {
    [
        photos,
        Path::new("--out"),
        out,
        Path::new("--env-file"),
        env,
    ]
    .iter()
    .map(|p| p.to_str().unwrap().to_owned())
    .collect()
}

/// Runs the CLI on a blocking thread: the fake serves on this runtime.
async fn sync_off_runtime(args: Vec<String>) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || sync(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .unwrap()
}

fn add_sample_users(fake: &FakeGraph) {
    for upn in [
        "adele.vance@contoso.com",
        "alex.wilber@contoso.com",
        "megan.bowen@contoso.com",
        "lee.gu@contoso.com",
        "nestor.wilke@contoso.com",
        "diego.siciliani@contoso.com",
    ] {
        fake.add_user(FakeUser::new(&format!("id-{upn}"), upn));
    }
}

#[tokio::test]
async fn with_an_env_file_it_syncs_for_real() {
    let fake = FakeGraph::start().await;
    add_sample_users(&fake);
    let (root, photos) = samples();
    let out = root.path().join("out");
    let env = env_file(&fake, root.path());
    let args = real_args(&photos, &out, &env);
    let (code, stdout, stderr) = sync_off_runtime(args).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("running dry"), "{stderr}");
    let rows = statuses(&report(&out));
    let synced: Vec<&str> = rows
        .iter()
        .filter(|(_, s)| s == "synced")
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        synced.len(),
        7 - 1,
        "all but the employee-id name (no such UPN): {rows:?}"
    );
    assert!(rows.contains(&("100234.jpg".to_owned(), "failed".to_owned())));
    assert!(
        fake.photo("id-diego.siciliani@contoso.com").is_some(),
        "mapping.csv applied"
    );
    assert_eq!(fake.requests_to("PUT", "/photo/$value").len(), 6);
    // The iPhone-style HEIC (grid, irot) synced like a JPEG.
    assert!(
        rows.contains(&(
            "nestor.wilke@contoso.com.heic".to_owned(),
            "synced".to_owned()
        )),
        "{rows:?}"
    );
}

#[tokio::test]
async fn an_interrupted_run_is_completed_by_the_next_one() {
    let fake = FakeGraph::start().await;
    add_sample_users(&fake);
    let (root, photos) = samples();
    for i in 0..40 {
        let upn = format!("user{i}@contoso.com");
        fake.add_user(FakeUser::new(&format!("id-{upn}"), &upn));
        std::fs::copy(
            photos.join("adele.vance@contoso.com.jpg"),
            photos.join(format!("{upn}.jpg")),
        )
        .unwrap();
    }
    fake.set_photo_delay(Duration::from_millis(150));
    let out = root.path().join("out");
    let env = env_file(&fake, root.path());
    let args = real_args(&photos, &out, &env);

    let mut child = Command::new(BINARY)
        .arg("sync")
        .args(&args)
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it hard once some photos are done, like a closed laptop lid.
    let ledger = out.join("photosync/ledger");
    let mut polls = 0;
    while std::fs::read_dir(&ledger).map_or(0, |d| d.count()) < 8 {
        polls += 1;
        assert!(polls < 3000, "the run never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = fake.requests_to("PUT", "/photo/$value").len();
    assert!(
        after_kill < 45,
        "it was stopped mid-run ({after_kill} uploads)"
    );

    fake.set_photo_delay(Duration::ZERO);
    let (code, stdout, stderr) = sync_off_runtime(args).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let rows = statuses(&report(&out));
    assert_eq!(rows.len(), 50, "every file exactly once");
    assert!(rows.iter().all(|(_, s)| s != "retrying"), "{rows:?}");
    assert_eq!(rows.iter().filter(|(_, s)| s == "synced").count(), 46);
    for i in 0..40 {
        assert!(
            fake.photo(&format!("id-user{i}@contoso.com")).is_some(),
            "user{i}"
        );
    }
}
