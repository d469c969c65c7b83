//! A fake Entra ID token endpoint, managed-identity endpoint and Microsoft
//! Graph (users and profile photos) on one port of 127.0.0.1, and the two
//! SharePoint hosts (My Site and admin) on two more, in the test's runtime.
//!
//! It enforces what the real services enforce: client id, secret or a signed
//! certificate assertion in a pair Entra accepts (see `entra`); the identity
//! header; bearer tokens that exist, are not expired and are for the service
//! they reach; plain `eq` filters on employeeId, mail and mailNickname without
//! `ConsistencyLevel` (Graph's user reference lists default `$filter` support
//! for them: learn.microsoft.com/graph/api/resources/user), while other
//! operators and `$count` need `ConsistencyLevel: eventual` + `$count=true`
//! and read an index that lags behind writes
//! (learn.microsoft.com/graph/aad-advanced-queries); JPEG/PNG content type;
//! the 4 MB photo limit; 404 for unknown users; the 1x1 placeholder a user
//! without a photo may answer with (learn.microsoft.com/graph/api/profilephoto-get).
//! Tests can inject 429 (with Retry-After), 503, slow answers, slow token
//! fetches per resource, token expiry, a token endpoint that redirects,
//! missing permissions and the on-premises photo policy.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::entra::{self, Issued};
use super::photo_load::{Capacity, LoadFigures, PhotoLoad, photo_user};

pub const TENANT: &str = "contoso-test-tenant";
pub const CLIENT_ID: &str = "0c2f6d0e-5a1b-4c3d-9e8f-7a6b5c4d3e2f";
pub const CLIENT_SECRET: &str = "fake~client~secret~Q8x7Wv";
pub const IDENTITY_HEADER: &str = "fake-identity-header-5d41402abc";
pub const CERTIFICATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/test-app-certificate.pem"
);
const MAX_PHOTO: usize = 4 * 1024 * 1024;

/// A directory user.
#[derive(Debug, Clone, Default)]
pub struct FakeUser {
    pub id: String,
    pub upn: String,
    pub mail: Option<String>,
    pub employee_id: Option<String>,
    pub mail_nickname: Option<String>,
    pub enabled: bool,
    /// Visible to advanced (eventual) queries; a new hire is not yet.
    pub indexed: bool,
}

impl FakeUser {
    /// An enabled user whose mail equals the UPN and whose nickname is its local part.
    pub fn new(id: &str, upn: &str) -> Self {
        Self {
            id: id.into(),
            upn: upn.into(),
            mail: Some(upn.into()),
            employee_id: None,
            mail_nickname: upn.split('@').next().map(str::to_owned),
            enabled: true,
            indexed: true,
        }
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "userPrincipalName": self.upn, "mail": self.mail,
               "employeeId": self.employee_id, "mailNickname": self.mail_nickname,
               "accountEnabled": self.enabled, "displayName": self.upn})
    }
}

/// Which family of endpoints a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Token,
    Users,
    Photo,
    SharePoint,
}

/// A misbehaviour to inject.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with this `Retry-After` value (or none).
    Throttle(Option<&'static str>),
    /// 503 Service Unavailable.
    Unavailable,
    /// Answer normally after this delay.
    Slow(Duration),
}

/// Which of the fake's listeners received a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Entra, managed identity and Graph.
    Graph,
    /// The SharePoint My Site host (`…-my.sharepoint.com`): picture files.
    MySite,
    /// The SharePoint admin host (`…-admin.sharepoint.com`): profile properties.
    Admin,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub service: Service,
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body_len: usize,
    pub status: u16,
    /// On the runtime's clock: with a paused clock, exact virtual time.
    pub at: Instant,
}

/// How a token was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub credential: &'static str,
    pub resource: String,
    pub client_id: Option<String>,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) users: Vec<FakeUser>,
    photos: HashMap<String, (Vec<u8>, String)>,
    pub(super) tokens: HashMap<String, Issued>,
    requests: Vec<Recorded>,
    pub(super) grants: Vec<TokenGrant>,
    faults: VecDeque<(Route, Fault)>,
    policy: Option<&'static str>,
    /// The Graph application permissions granted to the app (its service
    /// principal's app role assignments); copied into each new token.
    pub(super) app_roles: Vec<String>,
    photo_delay: Duration,
    placeholders: std::collections::HashSet<String>,
    token_delays: HashMap<String, Duration>,
    pub(super) token_redirect: Option<String>,
    pub(super) sp_files: HashMap<String, Vec<u8>>,
    pub(super) sp_properties: Vec<(String, String, String)>,
    pub(super) sp_denied: Vec<Service>,
    pub(super) sp_library: Option<String>,
    pub(super) sp_without_profile: Vec<String>,
}

pub(super) struct Shared {
    pub(super) inner: Mutex<Inner>,
    /// The Graph/Entra listener's base URL (also Graph's token resource).
    pub(super) base_url: String,
    /// The My Site host's origin (its token resource).
    pub(super) mysite_url: String,
    /// The admin host's origin (its token resource).
    pub(super) admin_url: String,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Per-mailbox and tenant limits of the photo endpoint.
    load: PhotoLoad,
    /// Woken after each request is recorded (tests wait on it, not on a clock).
    recorded: tokio::sync::Notify,
}

/// The running fake; stops when dropped.
pub struct FakeGraph {
    /// `http://127.0.0.1:{port}`: authority, Graph and identity endpoint in one.
    pub url: String,
    /// `http://127.0.0.1:{port}`: the SharePoint My Site host.
    pub mysite_url: String,
    /// `http://127.0.0.1:{port}`: the SharePoint admin host.
    pub admin_url: String,
    shared: Arc<Shared>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

impl FakeGraph {
    pub async fn start() -> Self {
        let (graph, url) = listener().await;
        let (mysite, mysite_url) = listener().await;
        let (admin, admin_url) = listener().await;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                policy: Some("cloud"),
                app_roles: [
                    "ProfilePhoto.ReadWrite.All",
                    "User.Read.All",
                    "PeopleSettings.Read.All",
                ]
                .map(str::to_owned)
                .to_vec(),
                ..Inner::default()
            }),
            base_url: url.clone(),
            mysite_url: mysite_url.clone(),
            admin_url: admin_url.clone(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            load: PhotoLoad::default(),
            recorded: tokio::sync::Notify::new(),
        });
        let servers = [
            (graph, Service::Graph),
            (mysite, Service::MySite),
            (admin, Service::Admin),
        ]
        .into_iter()
        .map(|(listener, service)| {
            let app = axum::Router::new()
                .fallback(handle)
                .with_state((Arc::clone(&shared), service));
            tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            })
        })
        .collect();
        Self {
            url,
            mysite_url,
            admin_url,
            shared,
            servers,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }

    pub fn add_user(&self, user: FakeUser) {
        self.inner().users.push(user);
    }

    /// A user created a moment ago: in the directory, not yet in the index
    /// advanced (`ConsistencyLevel: eventual`) queries read.
    pub fn add_new_hire(&self, user: FakeUser) {
        self.add_user(FakeUser {
            indexed: false,
            ..user
        });
    }

    /// The user's photo reads as Graph's 1x1 "no photo" placeholder.
    pub fn set_placeholder_photo(&self, id: &str) {
        let mut inner = self.inner();
        inner.photos.remove(id);
        inner.placeholders.insert(id.to_owned());
    }

    /// Token requests for `resource` take this long (before being answered).
    pub fn set_token_delay(&self, resource: &str, delay: Duration) {
        self.inner().token_delays.insert(resource.to_owned(), delay);
    }

    /// The token endpoint answers `307 Location: {location}` from now on.
    pub fn redirect_tokens_to(&self, location: &str) {
        self.inner().token_redirect = Some(location.to_owned());
    }

    /// The app lacks SharePoint permissions on this host: 403 Access denied.
    pub fn deny_sharepoint(&self, host: Service) {
        self.inner().sp_denied.push(host);
    }

    /// The My Site host's pictures library is at this path (a localised host).
    pub fn set_sharepoint_library(&self, path: &str) {
        self.inner().sp_library = Some(path.to_owned());
    }

    /// SharePoint has no user profile for this UPN yet.
    pub fn without_sharepoint_profile(&self, upn: &str) {
        self.inner().sp_without_profile.push(upn.to_lowercase());
    }

    /// A valid token for `resource`, as Entra would issue it to the app with a
    /// certificate (to try what a service does with it).
    pub fn mint_token(&self, resource: &str) -> String {
        entra::mint(&self.shared, resource)
    }

    /// The next `times` requests to `route` misbehave.
    pub fn inject(&self, route: Route, fault: Fault, times: usize) {
        let mut inner = self.inner();
        for _ in 0..times {
            inner.faults.push_back((route, fault.clone()));
        }
    }

    /// Every token issued so far stops working (as when it expires early or is revoked).
    pub fn expire_tokens(&self) {
        for issued in self.inner().tokens.values_mut() {
            issued.expires_at = Instant::now();
        }
    }

    pub fn set_policy(&self, source: &'static str) {
        self.inner().policy = Some(source);
    }

    /// The app lacks ProfilePhoto.ReadWrite.All, in its live tokens too (as
    /// once the tokens issued before a revocation have expired).
    pub fn deny_photo_writes(&self) {
        self.revoke_everywhere("ProfilePhoto.ReadWrite.All");
    }

    /// The app lacks User.Read.All, in its live tokens too.
    pub fn deny_user_reads(&self) {
        self.revoke_everywhere("User.Read.All");
    }

    fn revoke_everywhere(&self, role: &str) {
        let mut inner = self.inner();
        inner.app_roles.retain(|r| r != role);
        for issued in inner.tokens.values_mut() {
            issued.roles.retain(|r| r != role);
        }
    }

    /// The app's Graph permissions from now on. Tokens already issued keep
    /// the roles they were issued with, as Entra's do.
    pub fn set_app_roles(&self, roles: &[&str]) {
        self.inner().app_roles = roles.iter().map(|r| (*r).to_owned()).collect();
    }

    /// Photo calls take this long (to observe concurrency).
    pub fn set_photo_delay(&self, delay: Duration) {
        self.inner().photo_delay = delay;
    }

    /// The tenant takes at most `capacity.writes` photo writes at once.
    pub fn set_write_capacity(&self, capacity: Capacity) {
        self.shared.load.set_capacity(capacity);
    }

    /// Writes seen, throttled, and the most in flight (overall, per user).
    pub fn load(&self) -> LoadFigures {
        self.shared.load.figures()
    }

    /// Mean photo writes in flight since [`FakeGraph::restart_mean`].
    pub fn mean_writes_in_flight(&self) -> f64 {
        self.shared.load.mean_writes_in_flight()
    }

    pub fn restart_mean(&self) {
        self.shared.load.restart_mean();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner().requests.clone()
    }

    /// Requests one of the listeners received.
    pub fn requests_on(&self, service: Service) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.service == service)
            .collect()
    }

    /// Requests whose path contains `fragment` with this method.
    /// Waits until `done` holds, re-checked after each request (at most 60 s).
    pub async fn wait_until(&self, done: impl Fn(&FakeGraph) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let next = self.shared.recorded.notified();
            tokio::pin!(next);
            next.as_mut().enable();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, next).await.is_err() {
                return done(self);
            }
        }
    }

    pub fn requests_to(&self, method: &str, fragment: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(fragment))
            .collect()
    }

    pub fn grants(&self) -> Vec<TokenGrant> {
        self.inner().grants.clone()
    }

    /// The photo bytes stored for a user id.
    pub fn photo(&self, id: &str) -> Option<Vec<u8>> {
        self.inner().photos.get(id).map(|(b, _)| b.clone())
    }

    /// Someone changes the user's photo outside photosync (Outlook, Teams, an admin).
    pub fn set_photo_elsewhere(&self, id: &str, bytes: Vec<u8>) {
        self.inner()
            .photos
            .insert(id.to_owned(), (bytes, "image/jpeg".to_owned()));
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Settings that turn the SharePoint target on, against this fake: the
    /// two hosts on their own ports, no pacing.
    pub fn sharepoint_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PHOTOSYNC_SHAREPOINT_MYSITE_URL".into(),
                self.mysite_url.clone(),
            ),
            (
                "PHOTOSYNC_SHAREPOINT_ADMIN_URL".into(),
                self.admin_url.clone(),
            ),
            ("PHOTOSYNC_SHAREPOINT_PACING_MS".into(), "0".into()),
        ]
    }

    /// A file in SharePoint's pictures library.
    pub fn sp_file(&self, name: &str) -> Option<Vec<u8>> {
        self.inner().sp_files.get(name).cloned()
    }

    /// Profile properties set, as (account, property, value).
    pub fn sp_properties(&self) -> Vec<(String, String, String)> {
        self.inner().sp_properties.clone()
    }

    /// Settings for an app registration with a client secret.
    pub fn secret_env(&self) -> Vec<(String, String)> {
        self.env(&[("PHOTOSYNC_CLIENT_SECRET", CLIENT_SECRET)])
    }

    /// Settings for an app registration with the test certificate.
    pub fn certificate_env(&self) -> Vec<(String, String)> {
        self.env(&[("PHOTOSYNC_CLIENT_CERTIFICATE_PATH", CERTIFICATE)])
    }

    /// Settings as the platform sets them for a managed identity.
    pub fn managed_identity_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "IDENTITY_ENDPOINT".into(),
                format!("{}/msi/token", self.url),
            ),
            ("IDENTITY_HEADER".into(), IDENTITY_HEADER.into()),
            ("PHOTOSYNC_AUTHORITY_URL".into(), self.url.clone()),
            ("PHOTOSYNC_GRAPH_URL".into(), self.url.clone()),
        ]
    }

    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("PHOTOSYNC_TENANT_ID".to_owned(), TENANT.to_owned()),
            ("PHOTOSYNC_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
            ("PHOTOSYNC_AUTHORITY_URL".to_owned(), self.url.clone()),
            ("PHOTOSYNC_GRAPH_URL".to_owned(), self.url.clone()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }
}

/// 429 as Graph answers it (learn.microsoft.com/graph/throttling:
/// `TooManyRequests`, optionally with `Retry-After` in seconds).
fn throttled(retry_after: Option<&str>) -> Response {
    let mut r = graph_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests.",
    );
    if let Some(value) = retry_after {
        r.headers_mut()
            .insert("Retry-After", value.parse().unwrap());
    }
    r
}

pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response();
    response.headers_mut().insert(
        "request-id",
        uuid::Uuid::new_v4().to_string().parse().unwrap(),
    );
    response
}

async fn handle(
    State((shared, service)): State<(Arc<Shared>, Service)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(Body::new(body), usize::MAX)
        .await
        .unwrap_or_default();
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let route = if service != Service::Graph {
        Route::SharePoint
    } else if path.ends_with("/oauth2/v2.0/token") || path == "/msi/token" {
        Route::Token
    } else if path.contains("/photo/") || path.ends_with("/photo") {
        Route::Photo
    } else {
        Route::Users
    };

    let is_photo = route == Route::Photo;
    if is_photo {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    }
    let write = matches!(parts.method.as_str(), "PUT" | "PATCH" | "DELETE");
    let ticket = match photo_user(&path).filter(|_| is_photo) {
        Some(user) => match shared.load.enter(user, write) {
            Ok(ticket) => Some(Ok(ticket)),
            Err(refused) => Some(Err(refused.retry_after_secs)),
        },
        None => None,
    };
    let (fault, delay) = {
        let mut inner = shared.inner.lock().unwrap();
        let fault = inner
            .faults
            .iter()
            .position(|(r, _)| *r == route)
            .and_then(|i| inner.faults.remove(i))
            .map(|(_, f)| f);
        let delay = match route {
            Route::Photo => inner.photo_delay,
            Route::Token => entra::requested_resource(&path, &query, &body)
                .and_then(|resource| inner.token_delays.get(&resource).copied())
                .unwrap_or_default(),
            _ => Duration::ZERO,
        };
        (fault, delay)
    };
    let delay = match &ticket {
        Some(Ok(ticket)) => delay.max(ticket.delay),
        Some(Err(_)) => Duration::ZERO,
        None => delay,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let refused = match &ticket {
        Some(Err(secs)) => Some(secs.to_string()),
        _ => None,
    };
    let response = match fault {
        _ if refused.is_some() => throttled(refused.as_deref()),
        Some(Fault::Throttle(retry_after)) => throttled(retry_after),
        Some(Fault::Unavailable) => graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Try again later.",
        ),
        slow => {
            if let Some(Fault::Slow(d)) = slow {
                tokio::time::sleep(d).await;
            }
            serve(
                &shared,
                service,
                &parts.method,
                &path,
                &query,
                &parts.headers,
                &body,
            )
        }
    };
    drop(ticket);
    if is_photo {
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    shared.inner.lock().unwrap().requests.push(Recorded {
        service,
        method: parts.method.to_string(),
        path,
        query,
        headers: parts.headers,
        body_len: body.len(),
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    shared.recorded.notify_waiters();
    response
}

fn serve(
    shared: &Shared,
    service: Service,
    method: &axum::http::Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if service != Service::Graph {
        return super::sharepoint::route(shared, service, method, path, headers, body);
    }
    if path.ends_with("/oauth2/v2.0/token") && method == "POST" {
        return entra::token(shared, path, body);
    }
    if path == "/msi/token" && method == "GET" {
        return entra::managed_identity(shared, query, headers);
    }
    let roles = match entra::bearer(shared, headers, &shared.base_url) {
        Ok((_, roles)) => roles,
        Err(reason) => {
            // The 401 Graph answers for a missing, unknown, expired or foreign token.
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                &reason,
            );
        }
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let Some(refusal) = refuse_ungranted(method.as_str(), &segments, &roles) {
        return refusal;
    }
    let mut inner = shared.inner.lock().unwrap();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["beta", "admin", "people", "photoUpdateSettings"]) => {
            axum::Json(json!({"source": inner.policy, "allowedRoles": []})).into_response()
        }
        ("GET", ["v1.0", "users"]) => filter_users(&inner.users, query, headers),
        ("GET", ["v1.0", "users", key]) => match find(&inner.users, key) {
            Some(user) => axum::Json(user.json()).into_response(),
            None => not_found(key),
        },
        (m, ["v1.0", "users", key, "photo", "$value"]) if m == "PUT" || m == "PATCH" => {
            let Some(id) = find(&inner.users, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !matches!(content_type, "image/jpeg" | "image/png") {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "The photo must be an image.",
                );
            }
            if body.len() > MAX_PHOTO {
                return graph_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    "The request is larger than 4 MB.",
                );
            }
            if body.is_empty() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "Empty photo.",
                );
            }
            inner.placeholders.remove(&id);
            inner
                .photos
                .insert(id, (body.to_vec(), content_type.to_owned()));
            StatusCode::OK.into_response()
        }
        ("GET", ["v1.0", "users", key, "photo"]) => {
            let Some(id) = find(&inner.users, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
            if inner.placeholders.contains(&id) {
                // The documented "no photo" answer: a 1x1 image's metadata.
                return axum::Json(json!({
                    "@odata.mediaContentType": "image/gif",
                    "@odata.mediaEtag": "\"placeholder\"",
                    "id": "1X1", "width": 1, "height": 1}))
                .into_response();
            }
            match inner.photos.get(&id) {
                Some((bytes, content_type)) => axum::Json(json!({
                    "@odata.mediaContentType": content_type,
                    "@odata.mediaEtag": media_etag(bytes),
                    "id": "648x648", "width": 648, "height": 648}))
                .into_response(),
                None => graph_error(
                    StatusCode::NOT_FOUND,
                    "ImageNotFound",
                    "The photo wasn't found.",
                ),
            }
        }
        // The photo's binary data, or 404 when no photo exists
        // (https://learn.microsoft.com/en-us/graph/api/profilephoto-get).
        // What `$value` answers for the 1x1 placeholder: no source found;
        // the fake answers 404, and photosync reads the metadata first anyway.
        ("GET", ["v1.0", "users", key, "photo", "$value"]) => {
            let Some(id) = find(&inner.users, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
            match inner.photos.get(&id) {
                Some((bytes, content_type)) => (
                    StatusCode::OK,
                    [("content-type", content_type.clone())],
                    bytes.clone(),
                )
                    .into_response(),
                None => graph_error(
                    StatusCode::NOT_FOUND,
                    "ImageNotFound",
                    "The photo wasn't found.",
                ),
            }
        }
        ("DELETE", ["v1.0", "users", key, "photo", "$value"]) => {
            let Some(id) = find(&inner.users, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
            match inner.photos.remove(&id) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => graph_error(
                    StatusCode::NOT_FOUND,
                    "ImageNotFound",
                    "The photo wasn't found.",
                ),
            }
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unsupported request in the fake.",
        ),
    }
}

/// Changes whenever the photo's bytes change, like Graph's.
fn media_etag(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

fn not_found(key: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn find<'a>(users: &'a [FakeUser], key: &str) -> Option<&'a FakeUser> {
    users
        .iter()
        .find(|u| u.id == key || u.upn.eq_ignore_ascii_case(key))
}

/// `$filter=attr eq 'value'` with OData quoting (`''` is one quote).
///
/// Plain `eq` on these properties is a default query: no `ConsistencyLevel`
/// needed, and it reads the directory as it is now. `$count` and any other
/// operator are advanced queries: they need `ConsistencyLevel: eventual` and
/// `$count=true`, and read an index that lags behind writes (new hires are
/// missing from it for a while).
fn filter_users(
    users: &[FakeUser],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let eventual = headers
        .get("consistencylevel")
        .is_some_and(|v| v == "eventual");
    let advanced = eventual && query.get("$count").is_some_and(|c| c == "true");
    if query.contains_key("$count") && !eventual {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "$count is not currently supported without the ConsistencyLevel header set to eventual.",
        );
    }
    let Some(filter) = query.get("$filter") else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The fake needs $filter.",
        );
    };
    let parsed = filter.split_once(" eq '").and_then(|(attr, rest)| {
        let literal = rest.strip_suffix('\'')?;
        // A lone quote inside the literal ends it early in real OData: refuse it.
        let unquoted = literal.replace("''", "");
        (!unquoted.contains('\'')).then(|| (attr.trim(), literal.replace("''", "'")))
    });
    let Some((attribute, value)) = parsed else {
        // Not a plain `eq` (ne, endsWith, …): advanced only.
        return if advanced {
            graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("The fake implements only eq: {filter}"),
            )
        } else {
            graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!("Unsupported or invalid query filter clause specified: {filter}"),
            )
        };
    };
    let field = |u: &FakeUser| -> Option<String> {
        match attribute {
            "mail" => u.mail.clone(),
            "employeeId" => u.employee_id.clone(),
            "mailNickname" => u.mail_nickname.clone(),
            "userPrincipalName" => Some(u.upn.clone()),
            _ => None,
        }
    };
    let matched: Vec<Value> = users
        .iter()
        .filter(|u| !advanced || u.indexed)
        .filter(|u| field(u).is_some_and(|f| f.eq_ignore_ascii_case(&value)))
        .map(FakeUser::json)
        .collect();
    let mut answer = json!({"value": matched});
    if advanced {
        answer["@odata.count"] = json!(matched.len());
    }
    axum::Json(answer).into_response()
}

/// 403 when the token's roles hold none of the application permissions the
/// call accepts, as listed in each API's permissions table: user-get and
/// user-list (User.Read.All or wider), profilephoto-get (ProfilePhoto.Read.All
/// or wider), profilephoto-update and -delete (ProfilePhoto.ReadWrite.All or
/// User.ReadWrite.All), peopleadminsettings photoUpdateSettings
/// (PeopleSettings.Read.All or PeopleSettings.ReadWrite.All). Users answer
/// `Authorization_RequestDenied`, the Outlook-served photo `ErrorAccessDenied`
/// (the codes the reference doc lists as seen in the field).
fn refuse_ungranted(method: &str, segments: &[&str], roles: &[String]) -> Option<Response> {
    let (accepted, code, message): (&[&str], _, _) = match (method, segments) {
        ("GET", ["beta", "admin", "people", "photoUpdateSettings"]) => (
            &["PeopleSettings.Read.All", "PeopleSettings.ReadWrite.All"],
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        ("GET", ["v1.0", "users", ..]) if !segments.contains(&"photo") => (
            &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        ("GET", ["v1.0", "users", _, "photo", ..]) => (
            &[
                "ProfilePhoto.Read.All",
                "ProfilePhoto.ReadWrite.All",
                "User.Read.All",
                "User.ReadWrite.All",
            ],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (_, ["v1.0", "users", _, "photo", ..]) => (
            &["ProfilePhoto.ReadWrite.All", "User.ReadWrite.All"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        _ => return None,
    };
    let granted = accepted.iter().any(|a| roles.iter().any(|r| r == a));
    (!granted).then(|| graph_error(StatusCode::FORBIDDEN, code, message))
}
