//! SharePoint Online's side of the fake: the My Site host (file uploads into
//! the pictures library) and the admin host (profile properties), each on its
//! own port, each taking only app-only tokens minted for itself and never
//! tokens obtained with a client secret.
//!
//! What it checks and answers, with where that comes from:
//! - the token's audience against the host that receives it: 401 with
//!   `x-ms-diagnostics: 3000003;reason="Invalid audience Uri '…'";category="invalid_client"`
//!   and `{"error_description":"Exception of type
//!   'Microsoft.IdentityModel.Tokens.AudienceUriValidationFailedException' was
//!   thrown."}` (captures in AzureAD/azure-activedirectory-library-for-dotnet#543
//!   and pnp/powershell#5133, where an admin-host token was refused by another
//!   host); PnP requests `https://{host}/.default` per host;
//! - client-secret tokens refused for app-only access ("Unsupported app only
//!   token."; "Granting access via Azure AD App-Only",
//!   learn.microsoft.com/sharepoint/dev/solution-guidance/security-apponly-azuread:
//!   app-only access through Entra needs a certificate);
//! - a missing grant: 403 `-2147024891, System.UnauthorizedAccessException`
//!   "Access denied. You do not have permission to perform this action or
//!   access this resource." (pnp/powershell#277, #612), in SharePoint's JSON
//!   light error shape `{"odata.error":{"code","message":{"lang","value"}}}`;
//! - a folder that is not there: 404 `-2147024894, System.IO.FileNotFoundException`
//!   "File Not Found." — the library name is localised (`/User Photos/Profile
//!   Pictures` in English; PnP's uploader has `targetLibraryPath` for it);
//! - a user without a profile: 500 with
//!   `Microsoft.Office.Server.UserProfiles.UserNotFoundException` (the code
//!   name is from the reference notes; no public capture of SharePoint
//!   Online's exact body for it was found, so only the exception name in the
//!   code is relied on).

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::entra::bearer;
use super::graph::{Service, Shared};

const ENGLISH_LIBRARY: &str = "/User Photos/Profile Pictures";

/// SharePoint's JSON light error body.
fn sp_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}}),
        ),
    )
        .into_response()
}

pub(super) fn route(
    shared: &Shared,
    service: Service,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let audience = match service {
        Service::MySite => &shared.mysite_url,
        _ => &shared.admin_url,
    };
    if let Some(refusal) = refuse(shared, headers, audience) {
        return refusal;
    }
    if shared.inner.lock().unwrap().sp_denied.contains(&service) {
        return sp_error(
            StatusCode::FORBIDDEN,
            "-2147024891, System.UnauthorizedAccessException",
            "Access denied. You do not have permission to perform this action or access this resource.",
        );
    }
    if method != Method::POST {
        return sp_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "-1",
            "POST only in the fake",
        );
    }
    match service {
        Service::MySite => {
            if let Some(rest) = path.strip_prefix("/_api/web/GetFolderByServerRelativeUrl('") {
                return add_file(shared, rest, body);
            }
        }
        _ => {
            if path == "/_api/SP.UserProfiles.PeopleManager/SetSingleValueProfileProperty" {
                return set_property(shared, body);
            }
        }
    }
    sp_error(
        StatusCode::NOT_FOUND,
        "-1",
        "Unknown SharePoint endpoint on this host in the fake",
    )
}

/// 401 unless the bearer token is a live app-only token for this host that
/// was not obtained with a client secret.
fn refuse(shared: &Shared, headers: &HeaderMap, audience: &str) -> Option<Response> {
    let (reason, diagnostics) = match bearer(shared, headers, audience) {
        Ok(("secret", _)) => (
            "Unsupported app only token.".to_owned(),
            "3001000;reason=\"There has been an error authenticating the request.\";category=\"invalid_client\"".to_owned(),
        ),
        Ok(_) => return None,
        Err(reason) if reason.starts_with("Invalid audience") => (
            "Exception of type 'Microsoft.IdentityModel.Tokens.AudienceUriValidationFailedException' was thrown.".to_owned(),
            format!("3000003;reason=\"{reason}\";category=\"invalid_client\""),
        ),
        Err(reason) => (
            "Invalid issuer or signature.".to_owned(),
            format!("3000006;reason=\"{reason}\";category=\"invalid_client\""),
        ),
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error_description": reason })),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-ms-diagnostics", diagnostics.parse().unwrap());
    Some(response)
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
        return sp_error(
            StatusCode::BAD_REQUEST,
            "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
            "Malformed Files/add call (overwrite=true expected)",
        );
    };
    let mut inner = shared.inner.lock().unwrap();
    let library = inner
        .sp_library
        .clone()
        .unwrap_or_else(|| ENGLISH_LIBRARY.to_owned());
    if folder != library {
        return sp_error(
            StatusCode::NOT_FOUND,
            "-2147024894, System.IO.FileNotFoundException",
            "File Not Found.",
        );
    }
    if body.is_empty() {
        return sp_error(StatusCode::BAD_REQUEST, "-1", "Empty file.");
    }
    inner.sp_files.insert(file, body.to_vec());
    StatusCode::OK.into_response()
}

fn set_property(shared: &Shared, body: &[u8]) -> Response {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return sp_error(StatusCode::BAD_REQUEST, "-1", "Invalid JSON.");
    };
    let field = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(account), Some(property), Some(value)) = (
        field("accountName"),
        field("propertyName"),
        field("propertyValue"),
    ) else {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "-1",
            "accountName, propertyName and propertyValue are required.",
        );
    };
    let mut inner = shared.inner.lock().unwrap();
    let upn = account
        .strip_prefix("i:0#.f|membership|")
        .map(str::to_lowercase);
    let known = upn.as_ref().is_some_and(|upn| {
        inner.users.iter().any(|u| u.upn.eq_ignore_ascii_case(upn))
            && !inner.sp_without_profile.contains(upn)
    });
    if !known {
        return sp_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "-2146232832, Microsoft.Office.Server.UserProfiles.UserNotFoundException",
            "User Profile Error 1000: User Not Found: Could not load profile data from the database.",
        );
    }
    inner.sp_properties.push((account, property, value));
    StatusCode::OK.into_response()
}
