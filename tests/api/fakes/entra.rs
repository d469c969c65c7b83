//! The Entra ID side of the fake: the v2.0 token endpoint (client secret or
//! certificate assertion), the App Service managed-identity endpoint, and the
//! bearer-token check every fake service applies.
//!
//! Certificate assertions are checked as Entra documents them
//! (learn.microsoft.com/entra/identity-platform/certificate-credentials: `alg`
//! PS256 with `x5t#S256`, PSS signature; the older page: RS256 with `x5t`, the
//! SHA-1 thumbprint) and as MSAL.NET sends them (JsonWebToken.cs in
//! AzureAD/microsoft-authentication-library-for-dotnet pairs PS256 with
//! `x5t#S256` and RS256 with `x5t`, nothing else). Any other pair — RS256
//! with `x5t#S256` in particular — is refused.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::graph::{CLIENT_ID, CLIENT_SECRET, IDENTITY_HEADER, Shared, TENANT, TokenGrant};

const CERTIFICATE_PEM: &[u8] = include_bytes!("../../fixtures/test-app-certificate.pem");
const PUBLIC_KEY: &[u8] = include_bytes!("../../fixtures/test-app-public-key.pem");

/// A token the fake issued.
pub(super) struct Issued {
    /// The resource it is for (`scope` without `/.default`).
    pub(super) audience: String,
    pub(super) expires_at: Instant,
    /// `secret`, `certificate` or `managed identity`: SharePoint refuses secret tokens.
    pub(super) credential: &'static str,
    /// The application permissions granted when it was issued: Entra bakes
    /// them into the token's `roles` claim, so a grant made later takes effect
    /// only with a new token (learn.microsoft.com/entra/identity-platform/
    /// access-token-claims-reference; managed-identity tokens are cached up
    /// to 24 h: learn.microsoft.com/entra/identity/managed-identities-azure-resources/
    /// managed-identity-best-practice-recommendations).
    pub(super) roles: Vec<String>,
}

/// A Graph token as Entra shapes an app-only one: a JWT whose payload holds
/// `aud`, `tid`, `exp` and the granted `roles` (absent when none are granted,
/// as Entra leaves it out). The signature is not a real one: nothing in
/// photosync verifies it, and the fake checks tokens by lookup.
fn graph_jwt(audience: &str, roles: &[String], lifetime: u64) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "aud": audience, "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": now, "nbf": now, "exp": now + lifetime as i64, "appid": CLIENT_ID,
        "idtyp": "app", "tid": TENANT, "ver": "1.0", "jti": uuid::Uuid::new_v4().to_string(),
    });
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    format!(
        "{}.{}.{}",
        b64(&json!({"typ": "JWT", "alg": "RS256", "x5t": "fake"})),
        b64(&claims),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
    )
}

/// The test certificate's thumbprints, computed here from its DER (not by
/// the code under test): base64url SHA-256 (`x5t#S256`) and SHA-1 (`x5t`).
pub struct Thumbprints {
    pub sha256: String,
    pub sha1: String,
}

pub fn thumbprints() -> Thumbprints {
    let der = pem::parse_many(CERTIFICATE_PEM)
        .unwrap()
        .into_iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .unwrap()
        .into_contents();
    use sha2::Digest as _;
    Thumbprints {
        sha256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)),
        sha1: URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref(),
        ),
    }
}

pub(super) fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The resource a token request asks for, to look up injected delays.
pub(super) fn requested_resource(
    path: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Option<String> {
    if path == "/msi/token" {
        return query.get("resource").cloned();
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "scope")
        .and_then(|(_, v)| v.strip_suffix("/.default").map(str::to_owned))
}

/// Checks the bearer token as every Microsoft service does: present, issued
/// here, not expired, for `audience`. Gives how it was obtained, or why not.
pub(super) fn bearer(
    shared: &Shared,
    headers: &HeaderMap,
    audience: &str,
) -> Result<(&'static str, Vec<String>), String> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("Access token is empty.")?;
    let inner = shared.inner.lock().unwrap();
    let issued = inner.tokens.get(token).ok_or("Invalid token.")?;
    if issued.expires_at <= Instant::now() {
        return Err("Access token has expired or is not yet valid.".into());
    }
    if issued.audience != audience {
        return Err(format!("Invalid audience Uri '{}'.", issued.audience));
    }
    Ok((issued.credential, issued.roles.clone()))
}

fn issue(shared: &Shared, grant: TokenGrant) -> (String, u64) {
    let mut inner = shared.inner.lock().unwrap();
    let lifetime = 3599;
    let (token, roles) = if grant.resource == shared.base_url {
        let roles = inner.app_roles.clone();
        (graph_jwt(&grant.resource, &roles, lifetime), roles)
    } else {
        let token = format!(
            "fake-access-token-{}-{}",
            inner.tokens.len() + 1,
            uuid::Uuid::new_v4()
        );
        (token, Vec::new())
    };
    inner.tokens.insert(
        token.clone(),
        Issued {
            audience: grant.resource.clone(),
            expires_at: Instant::now() + Duration::from_secs(lifetime),
            credential: grant.credential,
            roles,
        },
    );
    inner.grants.push(grant);
    (token, lifetime)
}

pub(super) fn token(shared: &Shared, path: &str, body: &[u8]) -> Response {
    if let Some(location) = shared.inner.lock().unwrap().token_redirect.clone() {
        // What a hijacked or misconfigured endpoint would answer.
        return (StatusCode::TEMPORARY_REDIRECT, [("Location", location)]).into_response();
    }
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

/// The header pairs Entra accepts, then the signature with the algorithm the
/// header names, then the claims (`aud` = this token endpoint, `iss` = `sub`
/// = client id, `exp`, `nbf`, a `jti`).
pub(super) fn verify_assertion(shared: &Shared, path: &str, assertion: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    let thumbprints = thumbprints();
    let (thumbprint, expected) = match (
        header.alg,
        header.x5t_s256.as_deref(),
        header.x5t.as_deref(),
    ) {
        (Algorithm::PS256, Some(t), None) => (t, &thumbprints.sha256),
        (Algorithm::RS256, None, Some(t)) => (t, &thumbprints.sha1),
        (alg, s256, sha1) => {
            let named = match (s256, sha1) {
                (Some(_), None) => "x5t#S256",
                (None, Some(_)) => "x5t",
                (Some(_), Some(_)) => "both x5t and x5t#S256",
                (None, None) => "no thumbprint",
            };
            return Err(format!("unsupported header: alg {alg:?} with {named}"));
        }
    };
    if thumbprint != expected {
        return Err("unknown certificate thumbprint".into());
    }
    let mut validation = Validation::new(header.alg);
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

/// The App Service managed-identity endpoint (api-version 2019-08-01).
pub(super) fn managed_identity(
    shared: &Shared,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let bad = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"statusCode": 400, "message": message})),
        )
            .into_response()
    };
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return bad("No X-IDENTITY-HEADER or an invalid one.");
    }
    if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return bad("Unsupported api-version.");
    }
    let Some(resource) = query.get("resource") else {
        return bad("resource is required.");
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

/// A live certificate-backed token for `resource`, outside any grant (for
/// tests that hand a service a token meant for another).
pub(super) fn mint(shared: &Shared, resource: &str) -> String {
    let token = format!("fake-access-token-minted-{}", uuid::Uuid::new_v4());
    let mut inner = shared.inner.lock().unwrap();
    let roles = inner.app_roles.clone();
    inner.tokens.insert(
        token.clone(),
        Issued {
            audience: resource.to_owned(),
            expires_at: Instant::now() + Duration::from_secs(3599),
            credential: "certificate",
            roles,
        },
    );
    token
}
