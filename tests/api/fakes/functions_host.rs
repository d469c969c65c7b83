//! A stand-in for the Azure Functions host in front of the real handler
//! process, with Easy Auth ([`super::easy_auth`]) in front of it: what a
//! browser talks to in the web tests.
//!
//! It behaves as the host's source says (Azure/azure-functions-host):
//! - HTTP functions: routes from the committed `functions/*/function.json`
//!   under the default prefix `api` (`{param}` and optional `{param?}`
//!   segments, the listed methods, case-insensitive literals); only
//!   HTTP-in-and-out functions (`FunctionMetadataExtensions.IsHttpInAndOutFunction`)
//!   and only with `enableForwardingHttpRequest: true` in host.json, which the
//!   fake requires. Such a request is sent to the handler at the request's own
//!   path and query with every header (`HttpRequestExtensions.ToHttpRequestMessage`:
//!   Host included; the body only when `Content-Length` > 0), plus
//!   `X-Azure-Functions-HostVersion`, `X-Azure-Functions-InvocationId` and the
//!   host's `User-Agent` product (`DefaultHttpWorkerService.AddHeaders`); the
//!   answer comes back as it is and redirects are not followed
//!   (`CreateHttpClient`: `AllowAutoRedirect = !EnableForwardingHttpRequest`).
//!   A request no route matches gets 404.
//! - The blob trigger: [`super::blob_trigger`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::Value;

use super::blob_trigger::TriggerCall;
use super::easy_auth::{Account, COOKIE, Decision, EasyAuth, picker_page};
use photosync::store::Store;

pub const HOST_VERSION: &str = "4.1037.0.0";
/// The host's request size limit (`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`, 100 MB default).
const MAX_REQUEST: usize = 100 * 1024 * 1024;

/// One HTTP function the host would route to.
#[derive(Debug, Clone)]
struct HttpFunction {
    name: String,
    segments: Vec<String>,
    methods: Vec<String>,
}

impl HttpFunction {
    fn matches(&self, method: &Method, path: &str) -> bool {
        if !self
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method.as_str()))
        {
            return false;
        }
        let Some(rest) = path.strip_prefix("/api/") else {
            return false;
        };
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let required = self.segments.iter().filter(|s| !s.ends_with("?}")).count();
        if parts.len() < required || parts.len() > self.segments.len() {
            return false;
        }
        self.segments
            .iter()
            .zip(parts.iter().map(Some).chain(std::iter::repeat(None)))
            .all(|(template, part)| match part {
                None => template.ends_with("?}"),
                Some(part) if template.starts_with('{') => !part.is_empty(),
                Some(part) => template.eq_ignore_ascii_case(part),
            })
    }
}

/// The HTTP functions of the committed app, checked to be forwardable.
fn http_functions() -> Vec<HttpFunction> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let host: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("host.json")).unwrap()).unwrap();
    assert_eq!(
        host["customHandler"]["enableForwardingHttpRequest"], true,
        "the fake host models request forwarding only"
    );
    let mut functions = Vec::new();
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        let definition: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("function.json")).unwrap())
                .unwrap();
        let bindings = definition["bindings"].as_array().unwrap();
        let Some(trigger) = bindings.iter().find(|b| b["type"] == "httpTrigger") else {
            continue;
        };
        let ins = bindings.iter().filter(|b| b["direction"] == "in").count();
        let outs: Vec<_> = bindings
            .iter()
            .filter(|b| b["direction"] == "out")
            .collect();
        assert!(
            ins == 1 && outs.len() == 1 && outs[0]["type"] == "http",
            "{}: the host forwards only HTTP-in-and-out functions",
            dir.display()
        );
        functions.push(HttpFunction {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            segments: trigger["route"]
                .as_str()
                .unwrap()
                .split('/')
                .map(str::to_owned)
                .collect(),
            methods: trigger["methods"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect(),
        });
    }
    functions
}

struct Shared {
    auth: EasyAuth,
    functions: Vec<HttpFunction>,
    handler: String,
    client: reqwest::Client,
    triggers: Arc<Mutex<Vec<TriggerCall>>>,
    forwarded: Mutex<Vec<(String, String, u16)>>,
}

/// The running front: Easy Auth, host routing and the blob trigger.
pub struct FakeFunctionsHost {
    /// `http://127.0.0.1:{port}`: what the browser opens.
    pub url: String,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeFunctionsHost {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeFunctionsHost {
    /// Fronts the handler on `handler_port`; with `photos`, also runs the
    /// blob trigger on that container.
    pub async fn start(handler_port: u16, photos: Option<Store>, accounts: Vec<Account>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            auth: EasyAuth::new(accounts),
            functions: http_functions(),
            handler: format!("http://127.0.0.1:{handler_port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            triggers: Arc::default(),
            forwarded: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(front)
            .with_state(Arc::clone(&shared));
        let mut tasks = vec![tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        })];
        if let Some(photos) = photos {
            tasks.push(tokio::spawn(super::blob_trigger::run(
                shared.client.clone(),
                shared.handler.clone(),
                photos,
                Arc::clone(&shared.triggers),
            )));
        }
        Self { url, shared, tasks }
    }

    /// Blob-trigger invocations so far.
    pub fn trigger_calls(&self) -> Vec<TriggerCall> {
        self.shared.triggers.lock().unwrap().clone()
    }

    /// Forwarded HTTP requests so far, as (function, path, status).
    pub fn forwarded(&self) -> Vec<(String, String, u16)> {
        self.shared.forwarded.lock().unwrap().clone()
    }
}

async fn front(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_owned());
    match (request.method().clone(), path.as_str()) {
        (Method::GET, "/.auth/login/aad") => {
            let redirect =
                url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "post_login_redirect_uri")
                    .map_or("/".to_owned(), |(_, v)| v.into_owned());
            return Html(picker_page(shared.auth.accounts(), &redirect)).into_response();
        }
        (Method::POST, "/.auth/login/aad/callback") => {
            let body = to_bytes(request.into_body(), 64 * 1024).await.unwrap();
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            let Some(session) = shared
                .auth
                .sign_in(form.get("upn").map_or("", String::as_str))
            else {
                return (StatusCode::UNAUTHORIZED, "unknown account").into_response();
            };
            // Only same-site redirects, as Easy Auth's allowedExternalRedirectUrls default.
            let target = form
                .get("redirect")
                .filter(|r| r.starts_with('/') && !r.starts_with("//"))
                .cloned()
                .unwrap_or_else(|| "/".to_owned());
            let mut response = Redirect::to(&target).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&format!(
                    "{COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
                ))
                .unwrap(),
            );
            return response;
        }
        (_, "/.auth/logout") => {
            shared.auth.sign_out(request.headers());
            let mut response = Html("<!doctype html><p>You signed out.</p>").into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_static("AppServiceAuthSession=; Path=/; Max-Age=0"),
            );
            return response;
        }
        _ => {}
    }
    let headers = match shared
        .auth
        .decide(&path_and_query, &path, request.headers())
    {
        Decision::Forward(headers) => headers,
        Decision::SignIn(location) => return Redirect::to(&location).into_response(),
    };
    let Some(function) = shared
        .functions
        .iter()
        .find(|f| f.matches(request.method(), &path))
        .cloned()
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let method = request.method().clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if declared > MAX_REQUEST {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let body = to_bytes(request.into_body(), MAX_REQUEST)
        .await
        .unwrap_or_default();
    let mut forward = shared
        .client
        .request(method, format!("{}{path_and_query}", shared.handler));
    for (name, value) in &headers {
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        forward = forward.header(name, value);
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or(format!("Azure-Functions-Host/{HOST_VERSION}"), |ua| {
            format!("{ua} Azure-Functions-Host/{HOST_VERSION}")
        });
    forward = forward
        .header(header::USER_AGENT, agent)
        .header("X-Azure-Functions-HostVersion", HOST_VERSION)
        .header(
            "X-Azure-Functions-InvocationId",
            uuid::Uuid::new_v4().to_string(),
        );
    if declared > 0 {
        forward = forward.body(body);
    }
    let answer = match forward.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("handler unreachable: {e}"),
            )
                .into_response();
        }
    };
    let status = answer.status();
    shared
        .forwarded
        .lock()
        .unwrap()
        .push((function.name.clone(), path.clone(), status.as_u16()));
    let mut response = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if !matches!(
            name.as_str(),
            "transfer-encoding" | "connection" | "content-length"
        ) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer.bytes().await.unwrap_or_default()))
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_as_the_host_s_templates_do() {
        let f = |route: &str, methods: &[&str]| HttpFunction {
            name: "F".into(),
            segments: route.split('/').map(str::to_owned).collect(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        };
        let page = f("photos", &["get"]);
        assert!(page.matches(&Method::GET, "/api/photos"));
        assert!(page.matches(&Method::GET, "/api/Photos/"));
        assert!(!page.matches(&Method::POST, "/api/photos"));
        assert!(!page.matches(&Method::GET, "/api/photos/x"));
        assert!(!page.matches(&Method::GET, "/photos"));
        let review = f("photos/review/{action?}", &["get", "post"]);
        assert!(review.matches(&Method::GET, "/api/photos/review"));
        assert!(review.matches(&Method::POST, "/api/photos/review/approve"));
        assert!(!review.matches(&Method::POST, "/api/photos/review/a/b"));
        let asset = f("photos/assets/{file}", &["get"]);
        assert!(asset.matches(&Method::GET, "/api/photos/assets/app.js"));
        assert!(!asset.matches(&Method::GET, "/api/photos/assets"));
    }
}
