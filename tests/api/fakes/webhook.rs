//! A Teams incoming webhook / Workflows webhook trigger. It refuses what
//! Teams refuses for an Adaptive Card post
//! (MicrosoftDocs/msteams-docs, `webhooks-and-connectors/how-to/connectors-using.md`,
//! "Send adaptive cards using an incoming webhook": `type` must be
//! `message`, `attachments` holds the cards, `contentType` must be
//! `application/vnd.microsoft.card.adaptive`, `content` is the card; Workflows
//! accept Adaptive Cards only), bodies over Teams' ~28 KB message limit (413;
//! the limit as stated on learn.microsoft.com's "Create and send messages"
//! page, quoted in public 413 reports — no source code to cite), anything
//! but a JSON POST, and a path other than its own signed one (a wrong `sig`
//! is a 401 at Workflows). It answers 202 Accepted, as a Workflows trigger does.

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde_json::Value;

/// The signature in the URL: what a leaked log line would expose.
pub const SIGNATURE: &str = "sig-Zm9vYmFyLXNlY3JldC1ub3QtZm9yLWxvZ3M";

const MAX_BYTES: usize = 28 * 1024;

/// The running fake; stops when dropped.
pub struct FakeWebhook {
    /// The whole webhook URL, signature included.
    pub url: String,
    posts: Arc<Mutex<Vec<Value>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWebhook {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeWebhook {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig={SIGNATURE}",
            listener.local_addr().unwrap()
        );
        let posts: Arc<Mutex<Vec<Value>>> = Arc::default();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&posts));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, posts, server }
    }

    /// The cards accepted so far (the `content` of each post's attachment).
    pub fn cards(&self) -> Vec<Value> {
        self.posts.lock().unwrap().clone()
    }
}

async fn receive(
    State(posts): State<Arc<Mutex<Vec<Value>>>>,
    request: Request,
) -> (StatusCode, String) {
    let (parts, body) = request.into_parts();
    let signed = parts
        .uri
        .query()
        .is_some_and(|q| q.contains(&format!("sig={SIGNATURE}")));
    if !signed {
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    if parts.method != "POST" {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST only".into());
    }
    let json_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json only".into(),
        );
    }
    let Ok(bytes) = to_bytes(Body::new(body), 10 * MAX_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "too large".into());
    };
    if bytes.len() > MAX_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, "message too large".into());
    }
    let Ok(message) = serde_json::from_slice::<Value>(&bytes) else {
        return (StatusCode::BAD_REQUEST, "not JSON".into());
    };
    let attachment = &message["attachments"][0];
    let card = &attachment["content"];
    if message["type"] != "message"
        || attachment["contentType"] != "application/vnd.microsoft.card.adaptive"
        || card["type"] != "AdaptiveCard"
        || !card["body"].is_array()
    {
        return (
            StatusCode::BAD_REQUEST,
            "not an Adaptive Card message".into(),
        );
    }
    posts.lock().unwrap().push(card.clone());
    (StatusCode::ACCEPTED, String::new())
}
