//! A fake Entra ID token endpoint, managed-identity endpoint and Microsoft
//! Graph (users and profile photos), on 127.0.0.1 in the test's runtime.
//!
//! It enforces what the real services enforce: client id, secret or a signed
//! certificate assertion; the identity header; bearer tokens that exist, are
//! not expired and are for Graph; `ConsistencyLevel: eventual` for employeeId
//! filters; JPEG/PNG content type; the 4 MB photo limit; 404 for unknown users.
//! Tests can inject 429 (with Retry-After), 503, slow answers, token expiry,
//! missing permissions and the on-premises photo policy.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::time::Instant;

pub const TENANT: &str = "contoso-test-tenant";
pub const CLIENT_ID: &str = "0c2f6d0e-5a1b-4c3d-9e8f-7a6b5c4d3e2f";
pub const CLIENT_SECRET: &str = "fake~client~secret~Q8x7Wv";
pub const IDENTITY_HEADER: &str = "fake-identity-header-5d41402abc";
pub const CERTIFICATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/test-app-certificate.pem"
);
const PUBLIC_KEY: &[u8] = include_bytes!("../../fixtures/test-app-public-key.pem");
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

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
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

pub(super) struct Issued {
    pub(super) audience: String,
    pub(super) expires_at: Instant,
    /// `secret`, `certificate` or `managed identity`: SharePoint refuses secret tokens.
    pub(super) credential: &'static str,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) users: Vec<FakeUser>,
    photos: HashMap<String, (Vec<u8>, String)>,
    pub(super) tokens: HashMap<String, Issued>,
    requests: Vec<Recorded>,
    grants: Vec<TokenGrant>,
    faults: VecDeque<(Route, Fault)>,
    policy: Option<&'static str>,
    deny_photo_writes: bool,
    deny_user_reads: bool,
    photo_delay: Duration,
    pub(super) sp_files: HashMap<String, Vec<u8>>,
    pub(super) sp_properties: Vec<(String, String, String)>,
}

pub(super) struct Shared {
    pub(super) inner: Mutex<Inner>,
    pub(super) base_url: String,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    thumbprint: String,
}

/// The running fake; stops when dropped.
pub struct FakeGraph {
    /// `http://127.0.0.1:{port}`: authority, Graph and identity endpoint in one.
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGraph {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let signer =
            photosync::identity::AssertionSigner::from_pem_file(CERTIFICATE.as_ref()).unwrap();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                policy: Some("cloud"),
                ..Inner::default()
            }),
            base_url: url.clone(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            thumbprint: signer.thumbprint().to_owned(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            shared,
            server,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }

    pub fn add_user(&self, user: FakeUser) {
        self.inner().users.push(user);
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

    /// The app lacks ProfilePhoto.ReadWrite.All.
    pub fn deny_photo_writes(&self) {
        self.inner().deny_photo_writes = true;
    }

    /// The app lacks User.Read.All.
    pub fn deny_user_reads(&self) {
        self.inner().deny_user_reads = true;
    }

    /// Photo calls take this long (to observe concurrency).
    pub fn set_photo_delay(&self, delay: Duration) {
        self.inner().photo_delay = delay;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner().requests.clone()
    }

    /// Requests whose path contains `fragment` with this method.
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

    /// Settings that turn the SharePoint target on, against this fake.
    pub fn sharepoint_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PHOTOSYNC_SHAREPOINT_MYSITE_URL".into(),
                format!("{}/sp-my", self.url),
            ),
            (
                "PHOTOSYNC_SHAREPOINT_ADMIN_URL".into(),
                format!("{}/sp-admin", self.url),
            ),
            (
                "PHOTOSYNC_SHAREPOINT_RESOURCE".into(),
                format!("{}/sharepoint", self.url),
            ),
            ("PHOTOSYNC_SHAREPOINT_PACING_MS".into(), "0".into()),
        ]
    }

    /// A file in SharePoint's `User Photos/Profile Pictures`.
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

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
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
    let route = if path.ends_with("/oauth2/v2.0/token") || path == "/msi/token" {
        Route::Token
    } else if path.starts_with("/sp-") {
        Route::SharePoint
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
    let (fault, delay) = {
        let mut inner = shared.inner.lock().unwrap();
        let fault = inner
            .faults
            .iter()
            .position(|(r, _)| *r == route)
            .and_then(|i| inner.faults.remove(i))
            .map(|(_, f)| f);
        (
            fault,
            if is_photo {
                inner.photo_delay
            } else {
                Duration::ZERO
            },
        )
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match fault {
        Some(Fault::Throttle(retry_after)) => {
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
        Some(Fault::Unavailable) => graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Try again later.",
        ),
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            route_request(&shared, &parts.method, &path, &query, &parts.headers, &body)
        }
        None => route_request(&shared, &parts.method, &path, &query, &parts.headers, &body),
    };
    if is_photo {
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    shared.inner.lock().unwrap().requests.push(Recorded {
        method: parts.method.to_string(),
        path,
        query,
        headers: parts.headers,
        body_len: body.len(),
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

fn route_request(
    shared: &Shared,
    method: &axum::http::Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if path.ends_with("/oauth2/v2.0/token") && method == "POST" {
        return token(shared, path, body);
    }
    if path == "/msi/token" && method == "GET" {
        return managed_identity(shared, query, headers);
    }
    if path.starts_with("/sp-") {
        return super::sharepoint::route(shared, method, path, headers, body);
    }
    if let Some(refusal) = refuse_unauthorized(shared, headers) {
        return refusal;
    }
    let mut inner = shared.inner.lock().unwrap();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["beta", "admin", "people", "photoUpdateSettings"]) => {
            axum::Json(json!({"source": inner.policy, "allowedRoles": []})).into_response()
        }
        ("GET", ["v1.0", "users"]) => {
            if inner.deny_user_reads {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                );
            }
            filter_users(&inner.users, query, headers)
        }
        ("GET", ["v1.0", "users", key]) => {
            if inner.deny_user_reads {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                );
            }
            match find(&inner.users, key) {
                Some(user) => axum::Json(user.json()).into_response(),
                None => not_found(key),
            }
        }
        (m, ["v1.0", "users", key, "photo", "$value"]) if m == "PUT" || m == "PATCH" => {
            let Some(id) = find(&inner.users, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
            if inner.deny_photo_writes {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "ErrorAccessDenied",
                    "Access is denied. Check credentials and try again.",
                );
            }
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
            inner
                .photos
                .insert(id, (body.to_vec(), content_type.to_owned()));
            StatusCode::OK.into_response()
        }
        ("GET", ["v1.0", "users", key, "photo"]) => {
            let Some(id) = find(&inner.users, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
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
fn filter_users(
    users: &[FakeUser],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
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
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid filter clause: {filter}"),
        );
    };
    let advanced = headers
        .get("consistencylevel")
        .is_some_and(|v| v == "eventual")
        && query.get("$count").is_some_and(|c| c == "true");
    if attribute == "employeeId" && !advanced {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "Unsupported or invalid query filter clause specified for property 'employeeId' of resource 'User'.",
        );
    }
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
        .filter(|u| field(u).is_some_and(|f| f.eq_ignore_ascii_case(&value)))
        .map(FakeUser::json)
        .collect();
    axum::Json(json!({"@odata.count": matched.len(), "value": matched})).into_response()
}

/// The 401 Graph answers for a missing, unknown, expired or foreign token.
fn refuse_unauthorized(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    bearer(shared, headers, &shared.base_url)
        .err()
        .map(|reason| {
            graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                reason,
            )
        })
}

/// Checks the bearer token as every Microsoft service does: present, issued
/// here, not expired, for `audience`. Gives how it was obtained, or why not.
pub(super) fn bearer(
    shared: &Shared,
    headers: &HeaderMap,
    audience: &str,
) -> Result<&'static str, &'static str> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("Access token is empty.")?;
    let inner = shared.inner.lock().unwrap();
    let issued = inner.tokens.get(token).ok_or("Invalid token.")?;
    if issued.expires_at <= Instant::now() {
        return Err("Access token has expired or is not yet valid.");
    }
    if issued.audience != audience {
        return Err("Invalid audience.");
    }
    Ok(issued.credential)
}

fn issue(shared: &Shared, grant: TokenGrant) -> (String, u64) {
    let mut inner = shared.inner.lock().unwrap();
    let token = format!(
        "fake-access-token-{}-{}",
        inner.tokens.len() + 1,
        uuid::Uuid::new_v4()
    );
    let lifetime = 3599;
    inner.tokens.insert(
        token.clone(),
        Issued {
            audience: grant.resource.clone(),
            expires_at: Instant::now() + Duration::from_secs(lifetime),
            credential: grant.credential,
        },
    );
    inner.grants.push(grant);
    (token, lifetime)
}

fn token(shared: &Shared, path: &str, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    if path != format!("/{TENANT}/oauth2/v2.0/token") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90002: Tenant not found.",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: unsupported grant type.",
        );
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    let Some(resource) = form.get("scope").and_then(|s| s.strip_suffix("/.default")) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid.",
        );
    };
    let credential = if let Some(secret) = form.get("client_secret") {
        if secret != CLIENT_SECRET {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1234",
            );
        }
        "secret"
    } else if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "AADSTS7000219: bad client_assertion_type.",
            );
        }
        if let Err(reason) = verify_assertion(shared, path, assertion) {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!("AADSTS700027: Client assertion failed signature validation: {reason}"),
            );
        }
        "certificate"
    } else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000218: client_assertion or client_secret required.",
        );
    };
    let (token, lifetime) = issue(
        shared,
        TokenGrant {
            credential,
            resource: resource.to_owned(),
            client_id: Some(CLIENT_ID.to_owned()),
        },
    );
    axum::Json(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})).into_response()
}

fn verify_assertion(shared: &Shared, path: &str, assertion: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::RS256 {
        return Err("not RS256".into());
    }
    if header.x5t_s256.as_deref() != Some(shared.thumbprint.as_str()) {
        return Err("unknown certificate thumbprint".into());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[format!("{}{path}", shared.base_url)]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(CLIENT_ID.to_owned());
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY).map_err(|e| e.to_string())?;
    let claims =
        jsonwebtoken::decode::<Value>(assertion, &key, &validation).map_err(|e| e.to_string())?;
    if claims
        .claims
        .get("jti")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("no jti".into());
    }
    Ok(())
}

fn managed_identity(
    shared: &Shared,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"statusCode": 400, "message": "No X-IDENTITY-HEADER or an invalid one."}),
            ),
        )
            .into_response();
    }
    if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"statusCode": 400, "message": "Unsupported api-version."})),
        )
            .into_response();
    }
    let Some(resource) = query.get("resource") else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"statusCode": 400, "message": "resource is required."})),
        )
            .into_response();
    };
    let (token, lifetime) = issue(
        shared,
        TokenGrant {
            credential: "managed identity",
            resource: resource.clone(),
            client_id: query.get("client_id").cloned(),
        },
    );
    let expires_on = chrono::Utc::now().timestamp() + lifetime as i64;
    axum::Json(
        json!({"access_token": token, "expires_on": expires_on.to_string(), "resource": resource,
                      "token_type": "Bearer", "client_id": query.get("client_id")}),
    )
    .into_response()
}
