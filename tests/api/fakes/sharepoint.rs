//! SharePoint Online's side of the fake (served by the same server as the
//! Graph fake, under `/sp-my` and `/sp-admin`): file uploads into
//! `User Photos/Profile Pictures` and profile properties, app-only tokens for
//! the SharePoint resource only, and never tokens obtained with a secret.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::graph::{Shared, bearer, graph_error};

const FOLDER: &str = "/User Photos/Profile Pictures";

pub(super) fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Some(refusal) = refuse(shared, headers) {
        return refusal;
    }
    if method != Method::POST {
        return graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "-1",
            "POST only in the fake",
        );
    }
    if let Some(rest) = path.strip_prefix("/sp-my/_api/web/GetFolderByServerRelativeUrl('") {
        return add_file(shared, rest, body);
    }
    if path == "/sp-admin/_api/SP.UserProfiles.PeopleManager/SetSingleValueProfileProperty" {
        return set_property(shared, body);
    }
    graph_error(
        StatusCode::NOT_FOUND,
        "-1",
        "Unknown SharePoint endpoint in the fake",
    )
}

/// 401 unless the bearer token is a live app-only token for SharePoint that
/// was not obtained with a client secret (SharePoint refuses those).
fn refuse(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let reason = match bearer(shared, headers, &format!("{}/sharepoint", shared.base_url)) {
        Ok("secret") => "Unsupported app only token.",
        Ok(_) => return None,
        Err(reason) => reason,
    };
    Some((StatusCode::UNAUTHORIZED, reason.to_owned()).into_response())
}

/// `/User Photos/Profile Pictures')/Files/add(url='x_MThumb.jpg',overwrite=true)`.
fn add_file(shared: &Shared, rest: &str, body: &[u8]) -> Response {
    let parsed = rest
        .split_once("')/Files/add(url='")
        .and_then(|(folder, file)| {
            let file = file.strip_suffix("',overwrite=true)")?;
            let unquoted = file.replace("''", "");
            (!unquoted.contains('\'')).then(|| (folder.replace("''", "'"), file.replace("''", "'")))
        });
    let Some((folder, file)) = parsed else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "-1",
            "Malformed Files/add call (overwrite=true expected)",
        );
    };
    if folder != FOLDER {
        return graph_error(StatusCode::NOT_FOUND, "-2147024894", "File Not Found.");
    }
    if body.is_empty() {
        return graph_error(StatusCode::BAD_REQUEST, "-1", "Empty file.");
    }
    shared
        .inner
        .lock()
        .unwrap()
        .sp_files
        .insert(file, body.to_vec());
    StatusCode::OK.into_response()
}

fn set_property(shared: &Shared, body: &[u8]) -> Response {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return graph_error(StatusCode::BAD_REQUEST, "-1", "Invalid JSON.");
    };
    let field = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(account), Some(property), Some(value)) = (
        field("accountName"),
        field("propertyName"),
        field("propertyValue"),
    ) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "-1",
            "accountName, propertyName and propertyValue are required.",
        );
    };
    let mut inner = shared.inner.lock().unwrap();
    let known = account
        .strip_prefix("i:0#.f|membership|")
        .is_some_and(|upn| inner.users.iter().any(|u| u.upn.eq_ignore_ascii_case(upn)));
    if !known {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "-1, Microsoft.Office.Server.UserProfiles.UserNotFoundException",
            "User Profile Error 1000: User Not Found",
        );
    }
    inner.sp_properties.push((account, property, value));
    StatusCode::OK.into_response()
}
