//! `photosync serve`: the custom handler the Functions host starts.

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::{FALLBACK_PORT, Settings};
use crate::handler;
use crate::store::Stores;
use crate::sync::{Engine, Targets};

/// Binds 127.0.0.1 (never other interfaces: only the host may call us) and
/// serves until SIGTERM or Ctrl-C.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let port = settings.port.unwrap_or_else(|| {
        tracing::warn!(
            "FUNCTIONS_CUSTOMHANDLER_PORT is not set (not started by the Functions host?); \
             listening on port {FALLBACK_PORT}"
        );
        FALLBACK_PORT
    });
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!(
        storage = %settings.storage.describe(),
        photos = %settings.containers.photos,
        max_body_bytes = settings.max_body_bytes(),
        "listening on http://{address}"
    );
    let stores = Stores::open(&settings.storage, &settings.containers)
        .context("the storage settings are not usable")?;
    let targets = Targets::from_settings(&settings)?;
    match &targets.graph {
        None => tracing::warn!(
            "no Microsoft Graph credentials (PHOTOSYNC_CLIENT_SECRET, \
             PHOTOSYNC_CLIENT_CERTIFICATE_PATH or a managed identity): profile photos are not \
             written, the Microsoft 365 target runs dry"
        ),
        Some(client) => tracing::info!(
            graph = %settings.graph.graph_url,
            match_by = settings.graph.match_by.attribute(),
            dry_run = client.is_dry_run(),
            sharepoint = targets.sharepoint.is_some(),
            "Microsoft 365 target ready ({:?})",
            settings.graph.credentials
        ),
    }
    let settings = Arc::new(settings);
    let engine = Engine::new(Arc::clone(&settings), stores.clone(), targets);
    let portal = crate::portal::Portal::new(Arc::clone(&settings), stores, engine.renderer());
    log_web_trust(&settings.web);
    let router = handler::router(
        engine,
        &settings.containers.photos,
        settings.max_body_bytes(),
    )
    .merge(handler::web::router(portal, &settings.web));
    let limits = handler::server::Limits {
        max_connections: handler::server::MAX_CONNECTIONS,
        header_timeout: settings.header_timeout,
        body_timeout: settings.body_timeout,
    };
    handler::run(listener, router, limits, shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Says once at start-up whom the web page will trust.
fn log_web_trust(web: &crate::config::WebSettings) {
    use crate::config::WebAuth;
    match web.auth {
        WebAuth::EasyAuth {
            platform_enabled: true,
        } => tracing::info!(
            self_service = web.self_service,
            approval = web.approval,
            "web page on /api/photos: sign-in by App Service Authentication"
        ),
        WebAuth::EasyAuth {
            platform_enabled: false,
        } => tracing::warn!(
            "web page on /api/photos refuses every request: App Service Authentication is off \
             (WEBSITE_AUTH_ENABLED is not True)"
        ),
        WebAuth::Development => tracing::warn!(
            "web page on /api/photos in DEVELOPMENT mode: any X-MS-CLIENT-PRINCIPAL header is \
             believed (PHOTOSYNC_WEB_AUTH=development; never in Azure)"
        ),
    }
}

/// Completes on SIGTERM (the host stopping us) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down after in-flight invocations");
}
