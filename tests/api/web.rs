//! The web page in a real browser: headless Chromium (Debian's `chromium`)
//! driven by `playwright-core` (`tests/web/scenarios.mjs`), against the real
//! `photosync serve` with Azurite and the Graph fake, behind the fake
//! Functions host with Easy Auth in front ([`FakeFunctionsHost`]).
//!
//! Each test starts the stack, runs one browser scenario (which asserts what
//! a person sees and saves screenshots under `target/web-screenshots/`), then
//! checks what reached storage and Microsoft 365. `./scripts/setup.sh`
//! installs Chromium and the Node packages.

use std::path::Path;
use std::time::Duration;

use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::fakes::easy_auth::Account;
use crate::fakes::functions_host::FakeFunctionsHost;
use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::helpers::{TestApp, spawn_app_with, temp_dir};

/// One stack and browser at a time (taken by [`stack`]): two cores are
/// shared by everything else too.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// A whole scenario, generous: the page polls every 1.5 s.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);
const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The people of the test tenant, as Easy Auth signs them in.
fn accounts() -> Vec<Account> {
    vec![
        Account::new(
            "hr@contoso.com",
            "Harriet Ross (HR)",
            &["photosync.uploader"],
        ),
        Account::new("alice@contoso.com", "Alice Adams", &[]),
        Account::new("boss@contoso.com", "Bo Boss", &["photosync.approver"]),
    ]
}

/// The same people (and two more) in the directory Graph serves.
async fn directory() -> FakeGraph {
    let graph = FakeGraph::start().await;
    for upn in [
        "hr@contoso.com",
        "alice@contoso.com",
        "boss@contoso.com",
        "bob@contoso.com",
        "carol@contoso.com",
    ] {
        let id = format!("id-{}", upn.split('@').next().unwrap());
        graph.add_user(FakeUser::new(&id, upn));
    }
    graph
}

struct Stack {
    /// Held for the whole test: a waiting test starts nothing yet.
    _browser: tokio::sync::MutexGuard<'static, ()>,
    graph: FakeGraph,
    app: TestApp,
    front: FakeFunctionsHost,
}

/// Graph fake, the handler as the host starts it with authentication on,
/// and the front a browser talks to.
async fn stack(extra: &[(&str, &str)]) -> Stack {
    let browser = BROWSER.lock().await;
    let graph = directory().await;
    let mut env = vec![("WEBSITE_AUTH_ENABLED", "True")];
    env.extend_from_slice(extra);
    let app = spawn_app_with(&graph.secret_env(), &env).await;
    let front =
        FakeFunctionsHost::start(app.port, Some(app.stores.photos.clone()), accounts()).await;
    Stack {
        _browser: browser,
        graph,
        app,
        front,
    }
}

/// Photos on "the user's computer": a portrait and a landscape, named after people.
fn photo_folder() -> tempfile::TempDir {
    let dir = temp_dir();
    let person = |w: u32, h: u32, tint: [u8; 3]| {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let head = ((x as i32 - w as i32 / 2).pow(2) + (y as i32 - h as i32 / 3).pow(2))
                < (w as i32 / 5).pow(2);
            if head {
                image::Rgb([235, 190, 160])
            } else {
                image::Rgb([tint[0], tint[1].wrapping_add((y / 8) as u8), tint[2]])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    for (name, w, h, tint) in [
        ("bob@contoso.com.jpg", 600, 800, [40, 90, 160]),
        ("carol@contoso.com.jpg", 900, 600, [150, 60, 60]),
        ("alice-selfie.jpg", 500, 700, [60, 140, 80]),
    ] {
        std::fs::write(dir.path().join(name), person(w, h, tint)).unwrap();
    }
    dir
}

/// Runs one browser scenario; fails the test with the browser's output.
async fn scenario(name: &str, env: &[(&str, String)]) -> Value {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run ./scripts/setup.sh (installs Debian's chromium)"
    );
    assert!(
        root().join(".tools/node_modules/playwright-core").exists(),
        "playwright-core is missing: run ./scripts/setup.sh"
    );
    let shots = root().join("target/web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let run = tokio::process::Command::new("node")
        .arg(root().join("tests/web/scenarios.mjs"))
        .arg(name)
        .env("PHOTOSYNC_SCREENSHOTS", &shots)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCENARIO_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("scenario {name} did not finish in {SCENARIO_TIMEOUT:?}"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser scenario {name} failed:\n{stdout}\n{stderr}"
    );
    // The scenario's last line is its findings, as JSON.
    let last = stdout.lines().last().unwrap_or("{}");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("scenario {name} said {last:?}: {e}"))
}

fn path_env(name: &'static str, path: &Path) -> (&'static str, String) {
    (name, path.display().to_string())
}

async fn blob_names(store: &photosync::store::Store, prefix: &str) -> Vec<String> {
    store
        .list_blobs(Some(prefix))
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap()
}

/// The audit records' actions, in the state container.
async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut actions = Vec::new();
    for name in blob_names(&app.stores.state, "audit").await {
        let blob = app.stores.state.get(&name).await.unwrap();
        let entry: Value = serde_json::from_slice(&blob.bytes).unwrap();
        actions.push(format!(
            "{} {} {}",
            entry["actor"].as_str().unwrap(),
            entry["action"].as_str().unwrap(),
            entry["subject"].as_str().unwrap()
        ));
    }
    actions.sort();
    actions
}

#[tokio::test]
async fn an_uploader_drops_two_photos_and_sees_both_synced() {
    let s = stack(&[]).await;
    let photos = photo_folder();
    let found = scenario(
        "uploader",
        &[
            ("PHOTOSYNC_FRONT_URL", s.front.url.clone()),
            path_env("PHOTOSYNC_PHOTOS", photos.path()),
        ],
    )
    .await;

    // Both profile photos reached Microsoft 365 (the fake's store).
    for id in ["id-bob", "id-carol"] {
        let jpeg = s
            .graph
            .photo(id)
            .unwrap_or_else(|| panic!("no photo for {id}"));
        let image = image::load_from_memory(&jpeg).unwrap();
        assert_eq!(image.width(), image.height(), "a square for {id}");
    }
    // Through the photos container, by the blob trigger, with the app's identity.
    let mut names = blob_names(&s.app.stores.photos, "web").await;
    names.sort();
    assert_eq!(
        names,
        ["web/bob@contoso.com.jpg", "web/carol@contoso.com.jpg"]
    );
    assert!(
        s.front.trigger_calls().iter().all(|c| c.status == 200),
        "{:?}",
        s.front.trigger_calls()
    );
    // Each file went through the forwarded upload function.
    let uploads = s
        .front
        .forwarded()
        .into_iter()
        .filter(|(function, _, status)| function == "PhotosUpload" && *status == 201)
        .count();
    assert_eq!(uploads, 2);
    // The focus point the uploader moved is the photo's focus.
    let bob = s
        .app
        .stores
        .photos
        .get("web/bob@contoso.com.jpg")
        .await
        .unwrap();
    let focus = &bob.properties.metadata["photosync_focus"];
    let (x, y) = focus.split_once(',').unwrap();
    let expected = &found["bob_focus"];
    for (got, want) in [(x, &expected[0]), (y, &expected[1])] {
        let got: f64 = got.parse().unwrap();
        assert!(
            (got - want.as_f64().unwrap()).abs() < 0.02,
            "focus {focus}, dragged to {expected}"
        );
    }
    assert_eq!(
        bob.properties.metadata["photosync_uploaded_by"],
        "hr@contoso.com"
    );
    assert_eq!(
        audit_actions(&s.app).await,
        [
            "hr@contoso.com uploaded bob@contoso.com",
            "hr@contoso.com uploaded carol@contoso.com"
        ]
    );
}

#[tokio::test]
async fn an_employee_s_own_photo_waits_for_approval_then_syncs() {
    let s = stack(&[
        ("PHOTOSYNC_SELF_SERVICE", "true"),
        ("PHOTOSYNC_APPROVAL", "true"),
    ])
    .await;
    let photos = photo_folder();
    scenario(
        "approval",
        &[
            ("PHOTOSYNC_FRONT_URL", s.front.url.clone()),
            path_env("PHOTOSYNC_PHOTOS", photos.path()),
        ],
    )
    .await;
    assert!(
        s.graph.photo("id-alice").is_some(),
        "Alice's photo was set after approval"
    );
    assert_eq!(
        blob_names(&s.app.stores.photos, "web").await,
        ["web/alice@contoso.com.jpg"]
    );
    assert!(
        blob_names(&s.app.stores.state, "web/pending")
            .await
            .is_empty()
    );
    assert_eq!(
        audit_actions(&s.app).await,
        [
            "alice@contoso.com submitted alice@contoso.com",
            "boss@contoso.com approved alice@contoso.com"
        ]
    );
    // The blob trigger saw the photo only after the approval: once.
    let calls = s.front.trigger_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].blob, "web/alice@contoso.com.jpg");
}

#[tokio::test]
async fn an_employee_cannot_upload_for_someone_else() {
    let s = stack(&[("PHOTOSYNC_SELF_SERVICE", "true")]).await;
    let photos = photo_folder();
    scenario(
        "someone-else",
        &[
            ("PHOTOSYNC_FRONT_URL", s.front.url.clone()),
            path_env("PHOTOSYNC_PHOTOS", photos.path()),
        ],
    )
    .await;
    assert!(s.graph.photo("id-bob").is_none());
    assert!(blob_names(&s.app.stores.photos, "").await.is_empty());
    assert_eq!(
        audit_actions(&s.app).await,
        ["alice@contoso.com refused bob@contoso.com"]
    );
}

#[tokio::test]
async fn requests_without_a_trusted_principal_are_refused() {
    // Authentication on, but the request bypasses Easy Auth: no principal.
    let s = stack(&[]).await;
    // Authentication off: the header Easy Auth-like front adds is not believed.
    let untrusted = spawn_app_with(&s.graph.secret_env(), &[]).await;
    let untrusted_front = FakeFunctionsHost::start(untrusted.port, None, accounts()).await;
    scenario(
        "untrusted",
        &[
            ("PHOTOSYNC_DIRECT_URL", s.app.address.clone()),
            ("PHOTOSYNC_UNTRUSTED_URL", untrusted_front.url.clone()),
        ],
    )
    .await;
    let said = |app: &TestApp, code: &str| {
        app.logs()
            .iter()
            .any(|l| l.contains("refused") && l.contains(code))
    };
    assert!(said(&s.app, "not-signed-in"), "{:#?}", s.app.logs());
    assert!(
        said(&untrusted, "authentication-off"),
        "{:#?}",
        untrusted.logs()
    );
    assert!(blob_names(&untrusted.stores.photos, "").await.is_empty());
}

#[tokio::test]
async fn the_report_view_searches_filters_and_shows_names_only_as_text() {
    let s = stack(&[]).await;
    let hostile = "hr/<img src=x onerror=\"window.pwned=1\">@contoso.com.jpg";
    let rows = json!([
        {"photo": "hr/alice@contoso.com.jpg", "user": "alice@contoso.com", "status": "synced", "code": "", "detail": "", "sha256": "", "updated_at": "2026-11-20T10:00:00+00:00"},
        {"photo": "hr/carol@contoso.com.jpg", "user": "carol@contoso.com", "status": "synced", "code": "", "detail": "", "sha256": "", "updated_at": "2026-11-20T10:00:00+00:00"},
        {"photo": hostile, "user": "", "status": "failed", "code": "user-not-found", "detail": "no user has userPrincipalName `<b>x</b>`", "sha256": "", "updated_at": "2026-11-20T10:00:00+00:00"},
        {"photo": "hr/IMG_0042.heic", "user": "", "status": "failed", "code": "unsupported-format", "detail": "HEIC/HEIF photos are not supported; export the photo as JPEG", "sha256": "", "updated_at": "2026-11-20T10:00:00+00:00"}
    ]);
    // The report as Reconcile writes it (src/sync/reconcile/report.rs).
    let report = json!({"generated_at": "2026-11-20T10:00:00+00:00",
                        "summary": {"failed": 2, "synced": 2}, "photos": rows});
    s.app
        .stores
        .state
        .put(
            "reports/latest.json",
            bytes::Bytes::from(report.to_string()),
            &photosync::store::BlobProperties::default(),
            photosync::store::WriteMode::Overwrite,
        )
        .await
        .unwrap();
    scenario(
        "report",
        &[
            ("PHOTOSYNC_FRONT_URL", s.front.url.clone()),
            ("PHOTOSYNC_HOSTILE", hostile.to_owned()),
        ],
    )
    .await;
}

/// The Reconcile's `latest.html` in Chromium, as an admin opens it from
/// disk: the sample folder synced (dry: no credentials), then searched,
/// filtered, read in New York time, and at 400 px (screenshots in
/// target/web-screenshots/latest-html-*.png).
#[tokio::test]
async fn the_reconcile_report_searches_filters_and_reads_in_local_time() {
    let (root, photos) = crate::local::samples();
    let out = root.path().join("out");
    let run = std::process::Command::new(crate::helpers::BINARY)
        .arg("sync")
        .arg(&photos)
        .arg("--out")
        .arg(&out)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        run.status.code() == Some(1),
        "the samples include photos that fail: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("photosync/reports/latest.json")).unwrap())
            .unwrap();
    let rows = report["photos"].as_array().unwrap();
    let failed = rows.iter().filter(|r| r["status"] == "failed").count();
    assert!(failed > 0);
    // A photo name no other row's text contains: the search must find one row.
    let text = |r: &Value| {
        ["photo", "user", "status", "detail"]
            .map(|k| r[k].as_str().unwrap_or_default().to_lowercase())
            .join(" ")
    };
    let unique = rows
        .iter()
        .filter_map(|r| r["photo"].as_str())
        .find(|name| {
            rows.iter()
                .filter(|r| text(r).contains(&name.to_lowercase()))
                .count()
                == 1
        })
        .expect("a photo name only one row mentions");
    let findings = scenario(
        "latest-html",
        &[
            path_env(
                "PHOTOSYNC_REPORT",
                &out.join("photosync/reports/latest.html"),
            ),
            ("PHOTOSYNC_REPORT_USER", unique.to_owned()),
            ("PHOTOSYNC_REPORT_FAILED", failed.to_string()),
        ],
    )
    .await;
    assert_eq!(findings["total"], rows.len());
    assert_eq!(findings["failed"], failed);
}
