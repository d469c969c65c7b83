//! A counting proxy in front of Azurite: the app talks to it as its blob
//! endpoint, it forwards every request unchanged and records method and
//! path, so tests can assert how many storage requests something made.
//!
//! Shared Key signatures cover the canonicalised resource (`/account/path`)
//! and headers, not the host or port ("Authorize with Shared Key",
//! <https://learn.microsoft.com/en-us/rest/api/storageservices/authorize-with-shared-key>),
//! so a request signed for the proxy is valid at Azurite.

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;

/// Azurite's well-known development account key (public, documented in
/// Azurite's README).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// One request as it passed.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub path_and_query: String,
}

impl Seen {
    /// A List Blobs call (`?restype=container&comp=list`).
    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.path_and_query.contains("comp=list")
    }

    /// A read of a photo's content in `container` (`GET`, not a listing,
    /// not of a `mapping.csv`, which the trigger path reads by name).
    pub fn is_read_in(&self, container: &str) -> bool {
        self.method == "GET"
            && !self.is_list()
            && self.path_and_query.contains(&format!("/{container}/"))
            && !self
                .path_and_query
                .split('?')
                .next()
                .unwrap_or("")
                .ends_with("/mapping.csv")
    }
}

struct Shared {
    seen: Mutex<Vec<Seen>>,
    client: reqwest::Client,
    /// Azurite's blob port.
    upstream: u16,
}

/// The running proxy; stops when dropped.
pub struct StorageProxy {
    /// The connection string that sends the app through the proxy.
    pub connection_string: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StorageProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StorageProxy {
    pub async fn start() -> Self {
        Self::start_to(10000).await
    }

    /// A proxy in front of an Azurite on `upstream` (the benches run their own).
    pub async fn start_to(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            seen: Mutex::new(Vec::new()),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            upstream,
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            connection_string: format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};\
                 BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1"
            ),
            shared,
            server,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Forgets what was seen (count from here).
    pub fn reset(&self) {
        self.shared.seen.lock().unwrap().clear();
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    shared.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path_and_query: path_and_query.clone(),
    });
    let body = to_bytes(Body::new(body), usize::MAX)
        .await
        .unwrap_or_default();
    let mut upstream = shared
        .client
        .request(
            parts.method,
            format!("http://127.0.0.1:{}{path_and_query}", shared.upstream),
        )
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return Response::builder()
                .status(502)
                .body(Body::from(format!("proxy: {e}")))
                .unwrap();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer.bytes().await.unwrap_or_default()))
        .unwrap()
}

/// Puts a blob into an Azurite container under a raw, already-encoded URL
/// path, over a plain socket so no HTTP client normalises it (`a//b`,
/// `./x` stay as written): the names Azure accepts but many path types
/// refuse. Signed with Shared Key, as the Blob service REST API documents.
pub async fn put_raw(container: &str, encoded_name: &str, bytes: &[u8]) -> u16 {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let account = "devstoreaccount1";
    let path = format!("/{account}/{container}/{encoded_name}");
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n{}\n\napplication/octet-stream\n\n\n\n\n\n\nx-ms-blob-type:BlockBlob\nx-ms-date:{date}\nx-ms-version:{version}\n/{account}{path}",
        bytes.len()
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:10000\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\
         x-ms-blob-type: BlockBlob\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\n\
         Authorization: SharedKey {account}:{signature}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    let mut socket = tokio::net::TcpStream::connect("127.0.0.1:10000")
        .await
        .unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
