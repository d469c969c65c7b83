//! The accept loop: bounded connections, bounded time to send headers and
//! body, graceful shutdown.
//!
//! `axum::serve` has no header or body read timeout and no connection
//! limit, so 300 connections that never send a byte would stay open forever
//! and a client that stalls mid-body would hold a handler task forever. The
//! host talks to us over loopback and sends each request at once, so these
//! bounds never touch it; they only close what a local attacker (or a
//! broken client) leaves hanging.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// How many connections are served at once; further ones wait to be
/// accepted (the host keeps a handful open).
pub const MAX_CONNECTIONS: usize = 256;

/// The connection bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a request's headers to arrive (also the idle time of a
    /// kept-alive connection between requests).
    pub header_timeout: Duration,
    /// Time for its body once the headers are in.
    pub body_timeout: Duration,
}

/// Serves `router` on `listener` within `limits` until `shutdown`
/// completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only, as the host speaks: protocol sniffing (hyper-util's
    // `auto` builder) would wait for a first byte with no timeout at all.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
        };
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
