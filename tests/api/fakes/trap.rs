//! A listener that should never be reached: the target of a hostile or
//! misconfigured redirect. It records whatever arrives (and answers like a
//! token endpoint would, so a client that followed the redirect would be
//! handed a "token" from it).

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use serde_json::json;

/// What arrived: method, path and body.
pub type Caught = (String, String, Vec<u8>);

/// The running trap; stops when dropped.
pub struct Trap {
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    caught: Arc<Mutex<Vec<Caught>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Trap {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let caught: Arc<Mutex<Vec<Caught>>> = Arc::default();
        let app = axum::Router::new()
            .fallback(catch)
            .with_state(Arc::clone(&caught));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            caught,
            server,
        }
    }

    /// Every request received so far.
    pub fn caught(&self) -> Vec<Caught> {
        self.caught.lock().unwrap().clone()
    }
}

async fn catch(
    State(caught): State<Arc<Mutex<Vec<Caught>>>>,
    request: Request,
) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let body = to_bytes(Body::new(body), usize::MAX)
        .await
        .unwrap_or_default();
    caught.lock().unwrap().push((
        parts.method.to_string(),
        parts.uri.path().to_owned(),
        body.to_vec(),
    ));
    axum::Json(
        json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "stolen-endpoint-token"}),
    )
}
