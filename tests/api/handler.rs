//! The handler as the Functions host sees it: start, readiness, invocation
//! bodies exactly as the host sends them, and the answers.

use serde_json::{Value, json};

use crate::helpers::{free_port, jpeg, run_binary, spawn_app};
use crate::host::{blob_body, timer_body};

/// Checks the host's answer shape and returns its log lines.
async fn well_formed(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["Outputs"], json!({}));
    assert_eq!(answer["ReturnValue"], Value::Null);
    answer["Logs"]
        .as_array()
        .expect("Logs is a list")
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn becomes_ready_on_root_and_listens_on_loopback_only() {
    let app = spawn_app(&[]).await;
    let ready = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // 127.0.0.2 is loopback too, but a socket bound to 127.0.0.1 does not accept it:
    // proof that nothing listens on other addresses.
    let elsewhere = std::net::TcpStream::connect(("127.0.0.2", app.port));
    assert!(elsewhere.is_err(), "the handler must bind 127.0.0.1 only");
    // Without Graph credentials it says once that it runs dry.
    let dry: Vec<String> = app
        .logs()
        .into_iter()
        .filter(|l| l.contains("runs dry"))
        .collect();
    assert_eq!(dry.len(), 1, "{dry:?}");
}

#[tokio::test]
async fn blob_invocation_with_a_tricky_name_is_answered_and_logged_with_its_invocation_id() {
    let mut app = spawn_app(&[]).await;
    let name = "hr/new hires/alice@contoso.com.jpg";
    let photo = jpeg(200, 150);
    app.upload(name, &photo).await;
    let response = app
        .invoke(
            "PhotoUploaded",
            "inv-7f3a",
            blob_body(name, &photo).to_string(),
        )
        .await;
    let logs = well_formed(response).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].starts_with(&format!("{name} → alice@contoso.com dry-run in ")),
        "{logs:?}"
    );

    let line = app
        .wait_for_log(|l| l.contains("dry-run in"))
        .expect("the invocation is logged");
    let line: Value = serde_json::from_str(&line).expect("JSON log lines under the host");
    assert_eq!(line["span"]["invocation_id"], "inv-7f3a", "{line}");
}

#[tokio::test]
async fn timer_invocations_with_and_without_schedule_status() {
    let app = spawn_app(&[]).await;
    let null_status = app
        .invoke("Reconcile", "inv-t1", timer_body(Value::Null).to_string())
        .await;
    let logs = well_formed(null_status).await;
    assert!(
        logs[0].starts_with("reconcile: 0 photos examined"),
        "{logs:?}"
    );

    let status = json!({"Last": "2026-11-20T10:15:00+00:00", "Next": "2026-11-20T11:15:00+00:00",
                        "LastUpdated": "2026-11-20T10:15:00+00:00"});
    let logs = well_formed(
        app.invoke("Reconcile", "inv-t2", timer_body(status).to_string())
            .await,
    )
    .await;
    assert!(logs[0].starts_with("reconcile: "), "{logs:?}");
}

#[tokio::test]
async fn malformed_bodies_get_400_with_a_one_line_reason() {
    let app = spawn_app(&[]).await;
    let cases = [
        (
            "PhotoUploaded",
            "this is not json".to_owned(),
            "invalid invocation body",
        ),
        (
            "PhotoUploaded",
            "{\"Metadata\": {}}".to_owned(),
            "missing field `Data`",
        ),
        (
            "PhotoUploaded",
            json!({"Data": {"photo": "AQID"}, "Metadata": {}}).to_string(),
            "neither `name` nor a usable `Uri`",
        ),
        (
            "Reconcile",
            json!({"Data": {}, "Metadata": {}}).to_string(),
            "Data.timer is missing",
        ),
    ];
    for (function, body, reason) in cases {
        let response = app.invoke(function, "inv-bad", body).await;
        assert_eq!(response.status(), 400, "{reason}");
        let text = response.text().await.unwrap();
        assert!(text.contains(reason), "{text:?} should say {reason:?}");
        assert_eq!(text.trim_end().lines().count(), 1, "{text:?}");
    }
}

#[tokio::test]
async fn unknown_functions_and_routes_get_404() {
    let app = spawn_app(&[]).await;
    let response = app.invoke("DeleteEverything", "inv-x", "{}").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("DeleteEverything"));
    let response = app
        .client
        .post(format!("{}/a/b", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_ordinary_phone_photo_larger_than_two_megabytes_is_accepted() {
    let app = spawn_app(&[]).await;
    // Random bytes do not compress: about 3 MB of base64, above axum's 2 MB default.
    let photo: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    app.upload("bob.jpg", &photo).await;
    let response = app
        .invoke(
            "PhotoUploaded",
            "inv-big",
            blob_body("bob.jpg", &photo).to_string(),
        )
        .await;
    // Not really a photo: refused with its reason, but the body was accepted.
    let logs = well_formed(response).await;
    assert!(logs[0].contains("bob.jpg → bob failed"), "{logs:?}");
}

#[tokio::test]
async fn bodies_beyond_the_configured_photo_size_are_refused() {
    let app = spawn_app(&[("PHOTOSYNC_MAX_BYTES", "100000")]).await;
    let photo = vec![0u8; 200_000];
    let response = app
        .invoke(
            "PhotoUploaded",
            "inv-huge",
            blob_body("big.jpg", &photo).to_string(),
        )
        .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn a_dangerous_blob_name_is_refused_with_its_code_not_retried() {
    let app = spawn_app(&[]).await;
    let response = app
        .invoke(
            "PhotoUploaded",
            "inv-name",
            blob_body("../../etc/passwd.jpg", b"x").to_string(),
        )
        .await;
    let logs = well_formed(response).await;
    assert!(logs[0].contains("invalid-name"), "{logs:?}");
    assert!(logs[0].contains("`..`"), "{logs:?}");
}

#[tokio::test]
async fn the_legacy_port_variable_is_honoured() {
    let port = free_port();
    let port_text = port.to_string();
    let mut app = crate::helpers::spawn_app(&[
        ("FUNCTIONS_CUSTOMHANDLER_PORT", ""),
        ("FUNCTIONS_HTTPWORKER_PORT", &port_text),
    ])
    .await;
    let line = app.wait_for_log(|l| l.contains("listening on")).unwrap();
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_setting_without_the_secret() {
    let key = "c3VwZXItc2VjcmV0LWFjY291bnQta2V5LWJ5dGVz";
    let connection =
        format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};Bogus=1");
    let (status, stdout, stderr) = run_binary(&["serve"], &[("PHOTOSYNC_STORAGE", &connection)]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("setting PHOTOSYNC_STORAGE"), "{stderr}");
    assert!(stderr.contains("unknown key `Bogus`"), "{stderr}");
    assert!(
        !stderr.contains(key) && !stdout.contains(key),
        "the key leaked: {stderr}"
    );
}

#[test]
fn an_unreadable_certificate_stops_start_up_with_a_clear_error() {
    let (status, _, stderr) = run_binary(
        &["serve"],
        &[
            ("PHOTOSYNC_TENANT_ID", "contoso.onmicrosoft.com"),
            (
                "PHOTOSYNC_CLIENT_ID",
                "11111111-2222-3333-4444-555555555555",
            ),
            (
                "PHOTOSYNC_CLIENT_CERTIFICATE_PATH",
                "/nonexistent/photosync.pem",
            ),
        ],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/photosync.pem"),
        "{stderr}"
    );
}

/// Connections that never send a request, or stall in the middle of one,
/// are closed after the configured time; meanwhile the host is still served.
#[tokio::test]
async fn silent_and_stalled_connections_are_closed_and_never_block_the_host() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(&[
        ("PHOTOSYNC_HANDLER_HEADER_TIMEOUT_SECS", "1"),
        ("PHOTOSYNC_HANDLER_BODY_TIMEOUT_SECS", "1"),
    ])
    .await;
    let address = format!("127.0.0.1:{}", app.port);
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    stalled
        .write_all(b"POST /Reconcile HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"Data\"")
        .await
        .unwrap();
    // The host's readiness probe and an invocation still get answers.
    let ready = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let logs = well_formed(
        app.invoke("Reconcile", "inv-busy", timer_body(Value::Null).to_string())
            .await,
    )
    .await;
    assert!(logs[0].starts_with("reconcile: "), "{logs:?}");
    // Each silent connection is closed by the server (EOF), within a bound.
    for mut connection in silent.into_iter().take(20) {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            connection.read(&mut byte),
        )
        .await
        .expect("closed by the header timeout");
        assert_eq!(read.unwrap_or(0), 0, "closed, not answered");
    }
    // The stalled body gets an answer or a close, not an open socket forever.
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stalled.read_to_end(&mut answer),
    )
    .await
    .expect("the stalled request is ended by the body timeout")
    .ok();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 4"),
        "{text}"
    );
}
