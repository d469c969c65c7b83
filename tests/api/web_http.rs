//! The web functions over plain HTTP, as the host forwards them, without a
//! browser: limits, headers and the misconfigured-host answer. The test plays
//! the platform: `WEBSITE_AUTH_ENABLED=True` and the principal header Easy
//! Auth would add ([`Account::principal`]).

use base64::Engine as _;
use futures::TryStreamExt;
use serde_json::Value;

use crate::fakes::easy_auth::Account;
use crate::helpers::{TestApp, jpeg, spawn_app};

fn principal(account: &Account) -> String {
    base64::engine::general_purpose::STANDARD.encode(account.principal().to_string())
}

fn hr() -> Account {
    Account::new("hr@contoso.com", "HR", &["photosync.uploader"])
}

/// A POST from the page itself, signed in as `account`.
fn from_page(app: &TestApp, account: &Account, path: &str) -> reqwest::RequestBuilder {
    app.client
        .post(format!("{}{path}", app.address))
        .header("x-ms-client-principal", principal(account))
        .header("Origin", &app.address)
        .header("X-Photosync-Request", "1")
        .header("Content-Type", "image/jpeg")
}

async fn photo_count(app: &TestApp) -> usize {
    let names: Vec<_> = app
        .stores
        .photos
        .list_blobs(None)
        .try_collect()
        .await
        .unwrap();
    names.len()
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app(&[("WEBSITE_AUTH_ENABLED", "True")]).await;
    for path in [
        "/api/photos",
        "/api/photos/assets/app.js",
        "/api/photos/status",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .header("x-ms-client-principal", principal(&hr()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn an_oversized_upload_is_refused_before_it_is_stored() {
    let app = spawn_app(&[
        ("WEBSITE_AUTH_ENABLED", "True"),
        ("PHOTOSYNC_WEB_MAX_UPLOAD_BYTES", "2048"),
    ])
    .await;
    let response = from_page(&app, &hr(), "/api/photos/upload?for=bob%40contoso.com")
        .body(jpeg(400, 400))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "image-too-large");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("PHOTOSYNC_WEB_MAX_UPLOAD_BYTES")
    );
    assert_eq!(photo_count(&app).await, 0);
}

#[tokio::test]
async fn uploads_over_the_hourly_limit_wait_with_retry_after() {
    let app = spawn_app(&[
        ("WEBSITE_AUTH_ENABLED", "True"),
        ("PHOTOSYNC_WEB_UPLOADS_PER_HOUR", "2"),
    ])
    .await;
    let photo = jpeg(200, 200);
    for n in 0..2 {
        let response = from_page(&app, &hr(), &format!("/api/photos/upload?for=user{n}"))
            .body(photo.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "upload {n}");
    }
    let response = from_page(&app, &hr(), "/api/photos/upload?for=user3")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&wait), "Retry-After {wait}");
    // Another person is not held up.
    let other = Account::new("hr2@contoso.com", "HR 2", &["photosync.uploader"]);
    let response = from_page(&app, &other, "/api/photos/upload?for=user3")
        .body(photo)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(photo_count(&app).await, 3);
}

#[tokio::test]
async fn a_web_function_invoked_without_forwarding_says_how_to_fix_host_json() {
    // What the host sends when host.json lacks enableForwardingHttpRequest:
    // POST /{FunctionName} with the request as JSON (ScriptInvocationContextExtensions).
    let app = spawn_app(&[]).await;
    let response = app
        .invoke(
            "PhotosPage",
            "inv-web",
            r#"{"Data":{"req":{"Method":"GET","Url":"https://x/api/photos"}},"Metadata":{}}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Outputs"]["res"]["statusCode"], 500);
    assert!(
        body["Outputs"]["res"]["body"]
            .as_str()
            .unwrap()
            .contains("enableForwardingHttpRequest")
    );
}
