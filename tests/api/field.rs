//! The field contract: the host's real blob-trigger body, request counts that
//! show the trigger path lists nothing and the next Reconcile redoes
//! nothing, blob names Azure allows but photosync cannot use, and the
//! reason of a failed invocation where the host shows it.

use std::path::Path;
use std::process::Command;

use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Status};
use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser, Fault, Route};
use crate::helpers::{BINARY, TestApp, jpeg, spawn_app_with, temp_dir};
use crate::host::{blob_body, legacy_blob_body, timer_body};
use crate::storage_proxy::{StorageProxy, put_raw};

/// The app, talking to Azurite through a counting proxy, against a fake
/// directory of `users`.
async fn counted_app(users: &[&str], extra: &[(&str, &str)]) -> (TestApp, FakeGraph, StorageProxy) {
    let fake = FakeGraph::start().await;
    for upn in users {
        fake.add_user(FakeUser::new(&format!("id-{upn}"), upn));
    }
    let proxy = StorageProxy::start().await;
    let mut env = fake.secret_env();
    env.push(("PHOTOSYNC_STORAGE".into(), proxy.connection_string.clone()));
    (spawn_app_with(&env, extra).await, fake, proxy)
}

async fn post(app: &TestApp, function: &str, body: Value) -> (u16, Vec<String>) {
    let response = app.invoke(function, "inv-field", body.to_string()).await;
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let logs = answer["Logs"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|x| x.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    (status, logs)
}

fn container(app: &TestApp, setting: &str) -> String {
    app.env[setting].clone()
}

async fn status_of(app: &TestApp, name: &str) -> Status {
    Ledger::new(app.stores.state.clone())
        .get(&PhotoName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no record for {name}"))
        .record
        .status
}

#[tokio::test]
async fn trigger_synced_photos_cost_the_next_reconcile_no_download_and_no_upload() {
    let users = ["alice@contoso.com", "bob@contoso.com", "carol@contoso.com"];
    let (app, fake, proxy) = counted_app(&users, &[]).await;
    let names = [
        "alice@contoso.com.jpg",
        "hr/bob@contoso.com.jpg",
        "hr/new/carol@contoso.com.png",
    ];
    for name in names {
        let photo = jpeg(700, 700);
        app.upload(name, &photo).await;
        // The real 5.x body: no ETag, so the handler reads bytes and version in one GET.
        let (status, logs) = post(&app, "PhotoUploaded", blob_body(name, &photo)).await;
        assert_eq!(status, 200, "{logs:?}");
        assert!(logs[0].contains(" synced in "), "{logs:?}");
    }
    assert_eq!(fake.requests_to("PUT", "/photo/$value").len(), 3);
    let lists: Vec<_> = proxy.seen().into_iter().filter(|s| s.is_list()).collect();
    assert!(lists.is_empty(), "the trigger path listed: {lists:?}");

    proxy.reset();
    let (status, logs) = post(&app, "Reconcile", timer_body(Value::Null)).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(logs[0].contains("0 worked on"), "{logs:?}");
    assert_eq!(
        fake.requests_to("PUT", "/photo/$value").len(),
        3,
        "no upload"
    );
    let photos = container(&app, "PHOTOSYNC_PHOTOS_CONTAINER");
    let reads: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.is_read_in(&photos))
        .collect();
    assert!(reads.is_empty(), "photos were downloaded again: {reads:?}");
}

#[tokio::test]
async fn the_legacy_body_with_its_etag_still_syncs_without_reading_the_blob() {
    let (app, fake, proxy) = counted_app(&["alice@contoso.com"], &[]).await;
    let photo = jpeg(700, 700);
    let info = app.upload("alice@contoso.com.jpg", &photo).await;
    proxy.reset();
    let body = legacy_blob_body(
        "alice@contoso.com.jpg",
        &photo,
        info.etag.unwrap().raw(),
        "2026-11-20T10:26:34+00:00",
    );
    let (status, logs) = post(&app, "PhotoUploaded", body).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(fake.photo("id-alice@contoso.com").is_some(), "{logs:?}");
    let photos = container(&app, "PHOTOSYNC_PHOTOS_CONTAINER");
    assert!(
        !proxy.seen().iter().any(|s| s.is_read_in(&photos)),
        "the delivered bytes were used"
    );
}

#[tokio::test]
async fn blob_names_photosync_cannot_use_cost_only_themselves() {
    let (mut app, fake, _proxy) = counted_app(&["alice@contoso.com", "bob@contoso.com"], &[]).await;
    let photos = container(&app, "PHOTOSYNC_PHOTOS_CONTAINER");
    // Names Azure (here Azurite) accepts; `object_store`'s Path refuses them.
    assert_eq!(
        put_raw(&photos, "odd//double%40contoso.com.jpg", &jpeg(300, 300)).await,
        201
    );
    assert_eq!(
        put_raw(
            &photos,
            "%3DHYPERLINK(%22http:%2F%2Fx%22)%40contoso.com.jpg",
            &jpeg(300, 300)
        )
        .await,
        201
    );

    // The trigger for another photo syncs (no listing on that path at all).
    let photo = jpeg(700, 700);
    app.upload("alice@contoso.com.jpg", &photo).await;
    let (status, logs) = post(
        &app,
        "PhotoUploaded",
        blob_body("alice@contoso.com.jpg", &photo),
    )
    .await;
    assert_eq!(status, 200, "{logs:?}");
    // A trigger for the odd name itself is refused with its code, not retried.
    let (status, logs) = post(
        &app,
        "PhotoUploaded",
        blob_body("odd//double@contoso.com.jpg", b"x"),
    )
    .await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(logs[0].contains("invalid-name"), "{logs:?}");

    // Reconcile: answers 200, syncs the rest, reports the odd ones.
    app.upload("bob@contoso.com.jpg", &jpeg(700, 700)).await;
    let (status, logs) = post(&app, "Reconcile", timer_body(Value::Null)).await;
    assert_eq!(status, 200, "{logs:?}");
    assert!(logs[0].contains("2 unusable name(s)"), "{logs:?}");
    assert_eq!(status_of(&app, "bob@contoso.com.jpg").await, Status::Synced);
    assert!(fake.photo("id-bob@contoso.com").is_some());
    let report: Value = serde_json::from_slice(
        &app.stores
            .state
            .get("reports/latest.json")
            .await
            .unwrap()
            .bytes,
    )
    .unwrap();
    let invalid: Vec<&str> = report["photos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["code"] == "invalid-name")
        .map(|r| r["photo"].as_str().unwrap())
        .collect();
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    assert!(
        invalid.contains(&"odd//double@contoso.com.jpg"),
        "{invalid:?}"
    );
    assert!(
        invalid.iter().any(|n| n.starts_with("=HYPERLINK(")),
        "{invalid:?}"
    );
    // The refusal was logged escaped, on one line.
    assert!(
        app.wait_for_log(|l| l.contains("odd//double@contoso.com.jpg"))
            .is_some()
    );
}

#[tokio::test]
async fn a_failed_invocation_says_why_on_stderr_where_the_host_shows_it() {
    let (mut app, fake, _proxy) = counted_app(
        &["alice@contoso.com"],
        &[("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "1")],
    )
    .await;
    fake.inject(Route::Photo, Fault::Unavailable, 1);
    let photo = jpeg(700, 700);
    app.upload("alice@contoso.com.jpg", &photo).await;
    let (status, _) = post(
        &app,
        "PhotoUploaded",
        blob_body("alice@contoso.com.jpg", &photo),
    )
    .await;
    assert_eq!(status, 500);
    let line = app
        .wait_for_log(|l| {
            l.starts_with("photosync: PhotoUploaded invocation inv-field failed (HTTP 500)")
        })
        .expect("a plain stderr line says why");
    assert!(line.contains("graph-unavailable"), "{line}");

    let (status, _) = post(&app, "PhotoUploaded", serde_json::json!({"Metadata": {}})).await;
    assert_eq!(status, 400);
    assert!(
        app.wait_for_log(|l| l.contains("failed (HTTP 400): invalid invocation body"))
            .is_some()
    );
}

#[cfg(unix)]
#[test]
fn a_local_folder_with_a_non_utf8_name_and_links_out_syncs_the_rest() {
    use std::os::unix::ffi::OsStrExt;
    let root = temp_dir();
    let dir = root.path().join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("alice@contoso.com.jpg"), jpeg(400, 400)).unwrap();
    std::fs::write(
        dir.join(std::ffi::OsStr::from_bytes(b"bad\xffname.jpg")),
        jpeg(400, 400),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop"), dir.join("loop")).unwrap();
    let out = root.path().join("out");
    let output = Command::new(BINARY)
        .args([
            "sync",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("photosync/reports/latest.json")).unwrap())
            .unwrap();
    let rows = report["photos"].as_array().unwrap();
    let row = |prefix: &str| {
        rows.iter()
            .find(|r| r["photo"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no row for {prefix}: {rows:?}"))
    };
    assert_eq!(row("alice@contoso.com.jpg")["status"], "dry-run");
    assert_eq!(row("bad")["code"], "invalid-name");
    assert!(
        row("etc")["detail"]
            .as_str()
            .unwrap()
            .contains("outside the folder")
    );
    assert!(
        row("loop")["detail"]
            .as_str()
            .unwrap()
            .contains("broken or loops")
    );
    assert!(
        !Path::new(&out).join("thumbnails/etc").exists(),
        "nothing outside DIR was read"
    );
    assert!(!stdout.contains("root:"), "no /etc content anywhere");
}
