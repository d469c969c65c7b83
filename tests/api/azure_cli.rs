//! An admin on a laptop: no key, no managed identity. The CLI signs in with
//! the admin's Azure CLI login, says first which storage account it talks
//! to, and never falls back to Azurite silently.
//!
//! `az` is a stand-in script on PATH answering what `az account
//! get-access-token --output json` documents (MicrosoftDocs/azure-docs-cli,
//! docs-ref-conceptual/includes/refresh-token.md). The blob endpoint is a
//! fake that enforces what Azure Storage enforces for Entra tokens: a
//! `Bearer` token it issued and `x-ms-version` 2017-11-09 or later
//! (learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory),
//! answering List Blobs with an empty `EnumerationResults`
//! (learn.microsoft.com/rest/api/storageservices/list-blobs), Get Blob with
//! 404 `BlobNotFound` (learn.microsoft.com/rest/api/storageservices/blob-service-error-codes),
//! or a 403 `AuthenticationFailed` error body.

use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::helpers::BINARY;

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-cli-token.sig";

/// A directory holding an `az` that records its arguments and prints a token.
fn fake_az(dir: &std::path::Path) -> std::path::PathBuf {
    let calls = dir.join("az-calls.txt");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nexp=$(( $(date +%s) + 3600 ))\n\
         printf '{{\"accessToken\": \"{TOKEN}\", \"expiresOn\": \"2030-01-01 00:00:00.000000\", \
         \"expires_on\": %s, \"subscription\": \"s\", \"tenant\": \"t\", \"tokenType\": \"Bearer\"}}\\n' \"$exp\"\n",
        calls.display()
    );
    let az = dir.join("az");
    std::fs::write(&az, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    calls
}

/// The blob service of account `contosophotos`; records each request's
/// Authorization header.
async fn blob_service() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    async fn handle(State(seen): State<Arc<Mutex<Vec<String>>>>, request: Request) -> Response {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let auth = header("authorization");
        seen.lock().unwrap().push(auth.clone());
        let version_ok = header("x-ms-version").as_str() >= "2017-11-09";
        if auth != format!("Bearer {TOKEN}") || !version_ok {
            return (
                StatusCode::FORBIDDEN,
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>\
                 <Message>Server failed to authenticate the request.</Message></Error>",
            )
                .into_response();
        }
        let path = request.uri().path().trim_start_matches('/').to_owned();
        if !request.uri().query().unwrap_or("").contains("comp=list") {
            // Get Blob of a blob that is not there (the ledger's index).
            return (
                StatusCode::NOT_FOUND,
                [("x-ms-error-code", "BlobNotFound")],
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
                 <Message>The specified blob does not exist.</Message></Error>",
            )
                .into_response();
        }
        let container = path;
        (
            StatusCode::OK,
            [("content-type", "application/xml")],
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults \
                 ServiceEndpoint=\"http://127.0.0.1/\" ContainerName=\"{container}\">\
                 <Blobs /><NextMarker /></EnumerationResults>"
            ),
        )
            .into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn retry_all_failed(path: &str, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = Command::new(BINARY)
        .args(["retry", "--all-failed"])
        .env_clear()
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn nothing_configured_is_refused_instead_of_using_azurite() {
    let (code, stdout, stderr) = retry_all_failed(&std::env::var("PATH").unwrap_or_default(), &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        !stdout.contains("marked"),
        "no answer that looks like success: {stdout}"
    );
    assert!(
        stderr.contains("no storage account is configured")
            && stderr.contains("PHOTOSYNC_STORAGE__accountName")
            && stderr.contains("UseDevelopmentStorage=true"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_account_name_signs_in_with_the_admins_azure_cli_login() {
    let dir = crate::helpers::temp_dir();
    let calls = fake_az(dir.path());
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (service, seen) = blob_service().await;
    // On an IP address the account is the path's first segment, as with Azurite.
    let endpoint = format!("{service}/contosophotos");
    let (code, stdout, stderr) = {
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            let env = [
                ("PHOTOSYNC_STORAGE__blobServiceUri", endpoint.as_str()),
                ("PHOTOSYNC_STATE_CONTAINER", "photosync"),
            ];
            retry_all_failed(&path, &env)
        })
        .await
        .unwrap()
    };
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("0 photo(s) marked"), "{stdout}");
    let first = stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with("storage: storage account `contosophotos`")
            && first.contains(&endpoint)
            && first.contains("Azure CLI"),
        "the first line names the account and the sign-in: {stderr}"
    );
    let az = std::fs::read_to_string(calls).unwrap();
    assert!(
        az.contains("account get-access-token --output json --resource https://storage.azure.com"),
        "{az}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|a| a == &format!("Bearer {TOKEN}")));
    assert!(
        !stderr.contains(TOKEN) && !stdout.contains(TOKEN),
        "the token is never shown"
    );
}

#[tokio::test]
async fn without_the_azure_cli_the_error_says_what_to_install() {
    let dir = crate::helpers::temp_dir();
    // A PATH without `az`.
    let path = dir.path().display().to_string();
    let (code, stdout, stderr) = retry_all_failed(
        &path,
        &[("PHOTOSYNC_STORAGE__accountName", "contosophotos")],
    );
    assert_ne!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("`contosophotos`") && stderr.contains("az login"),
        "{stderr}"
    );
}
