//! Secrets never reach the logs (which end up in Application Insights).

#[allow(unused_imports)]
use super::*;

/// The well-known Azurite account key (as sensitive as a real one would be).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const SAS_SIGNATURE: &str = "c2VjcmV0LXNhcy1zaWduYXR1cmUtZG8tbm90LWxvZw%3D";
const IDENTITY_HEADER: &str = "identity-header-9f1c2d7e-never-logged";

fn blob_body(name: &str, bytes: &[u8]) -> Value {
    json!({
        "Data": {"photo": base64::engine::general_purpose::STANDARD.encode(bytes)},
        "Metadata": {
            "Uri": serde_json::to_string(&format!("http://127.0.0.1:10000/devstoreaccount1/photos/{name}")).unwrap(),
            "name": serde_json::to_string(name).unwrap(),
            "Properties": {"Length": bytes.len(), "ContentType": "image/jpeg",
                           "ETag": "\"0x8DA6E28262505DD\"", "LastModified": "2026-11-20T10:26:34+00:00",
                           "Created": "2026-11-20T10:26:34+00:00", "BlobType": 2},
            "Metadata": {},
            "sys": {"MethodName": PHOTO_UPLOADED, "UtcNow": "2026-11-20T10:26:43.03Z",
                    "RandGuid": "30d01e72-94e7-4d4f-906a-2ce51939bfcc"}
        }
    })
}

fn timer_body() -> Value {
    json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": RECONCILE, "UtcNow": "2026-11-20T10:15:00.01Z",
                             "RandGuid": "6a4f7bd4-7a55-4c6a-9a8b-3f5e5b0e2b10"}}
    })
}

/// Runs the handler at the most verbose log level with `storage` settings,
/// invokes both functions, and checks that no line of the log and no answer
/// carries a secret.
async fn assert_no_secret_logged(storage: &[(&str, &str)], secrets: &[&str]) {
    let mut env = vec![
        ("PHOTOSYNC_LOG", "trace"),
        ("PHOTOSYNC_LOG_FORMAT", "json"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token"),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ];
    env.extend_from_slice(storage);
    let mut app = spawn_app(&env).await;
    let mut answers = Vec::new();
    for (function, body) in [
        (
            PHOTO_UPLOADED,
            blob_body("alice@contoso.com.jpg", &jpeg(300, 400)),
        ),
        (PHOTO_UPLOADED, blob_body("../escape.jpg", &jpeg(120, 120))),
        (RECONCILE, timer_body()),
    ] {
        let response = app
            .invoke(function, "5f0e2c1a-secrecy", body.to_string())
            .await;
        answers.push(response.text().await.unwrap());
    }
    // The invocations are logged with their id once they are done.
    app.wait_for_log(|l| l.contains("5f0e2c1a-secrecy"));
    let logs = app.logs();
    assert!(logs.len() >= 2, "expected some log lines: {logs:?}");
    for secret in secrets.iter().chain([&IDENTITY_HEADER]) {
        for line in logs.iter().chain(&answers) {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
    }
}

#[tokio::test]
async fn an_account_key_never_reaches_the_log() {
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};\
         BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    );
    assert_no_secret_logged(&[("PHOTOSYNC_STORAGE", &connection)], &[AZURITE_KEY]).await;
}

#[tokio::test]
async fn a_shared_access_signature_never_reaches_the_log() {
    // A SAS Azurite refuses, so every storage call fails and gets logged.
    let connection = format!(
        "AccountName=devstoreaccount1;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\
         SharedAccessSignature=sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig={SAS_SIGNATURE}"
    );
    assert_no_secret_logged(&[("PHOTOSYNC_STORAGE", &connection)], &[SAS_SIGNATURE]).await;
}

#[tokio::test]
async fn the_managed_identity_header_never_reaches_the_log() {
    assert_no_secret_logged(
        &[(
            "PHOTOSYNC_STORAGE__blobServiceUri",
            "http://127.0.0.1:10000/devstoreaccount1",
        )],
        &[],
    )
    .await;
}
