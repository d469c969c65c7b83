//! Who is asking: the principal App Service Authentication (Easy Auth) puts
//! into the request, trusted only when the platform says authentication is on.
//!
//! Sources:
//! - Headers and the decoded shape (`auth_typ`, `claims[{typ, val}]`,
//!   `name_typ`, `role_typ`; "External requests aren't allowed to set these
//!   headers, so they're present only if set by App Service"):
//!   <https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities>
//! - `WEBSITE_AUTH_ENABLED` and the claim types the host itself sends in its
//!   Easy Auth tests (`name`, `upn`, `nameidentifier`, `role_typ`):
//!   Azure/azure-functions-host `EnvironmentSettingNames.cs`,
//!   `EnvironmentExtensions.IsEasyAuthEnabled`,
//!   `test/…/SamplesEndToEndTests_CSharp.cs` (`MockEasyAuth`).
//! - Entra claims as Easy Auth passes them (`objectidentifier`,
//!   `preferred_username`, repeated `groups`, `roles` unmapped):
//!   the example in the same doc page's localized versions, and
//!   AzureAD/microsoft-identity-web `AppServicesAuthenticationInformation.cs`
//!   (roles claim type `roles`).

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use crate::config::{WebAuth, WebSettings};
use crate::portal::{APPROVER_ROLE, Actor, Roles, UPLOADER_ROLE};

/// The principal header: base64 of the JSON below.
pub const PRINCIPAL: &str = "x-ms-client-principal";
/// The caller's name as the provider set it (UPN for Entra).
pub const PRINCIPAL_NAME: &str = "x-ms-client-principal-name";
/// The caller's id as the provider set it (object id for Entra).
pub const PRINCIPAL_ID: &str = "x-ms-client-principal-id";
/// Where Easy Auth signs people in (Entra provider).
pub const SIGN_IN: &str = "/.auth/login/aad?post_login_redirect_uri=/api/photos";

const OBJECT_ID: [&str; 2] = [
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
];
const UPN: [&str; 3] = [
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "preferred_username",
];
const NAME: [&str; 2] = [
    "name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
];
/// Role claim types: Entra's `roles`, and the mapped type the principal
/// names in `role_typ` (the default shown here).
const ROLES: [&str; 2] = [
    "roles",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
];
const GROUPS: &str = "groups";

/// Base64 as the platform writes it, padded or not.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One claim.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claim {
    /// Claim type (possibly mapped to a URI).
    pub typ: String,
    /// Its value.
    pub val: String,
}

/// The decoded `X-MS-CLIENT-PRINCIPAL`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientPrincipal {
    /// Provider name (`aad` for Entra).
    #[serde(default)]
    pub auth_typ: String,
    /// Every claim, repeated types included (one `groups` claim per group).
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// Which claim type holds the name.
    #[serde(default)]
    pub name_typ: Option<String>,
    /// Which claim type holds roles.
    #[serde(default)]
    pub role_typ: Option<String>,
}

impl ClientPrincipal {
    /// The first value of the first of `types` present.
    fn first(&self, types: &[&str]) -> Option<&str> {
        types.iter().find_map(|t| {
            self.claims
                .iter()
                .find(|c| c.typ.eq_ignore_ascii_case(t) && !c.val.trim().is_empty())
                .map(|c| c.val.trim())
        })
    }

    /// Every value of claims of these types.
    fn all<'a>(&'a self, types: &'a [&str]) -> impl Iterator<Item = &'a str> + 'a {
        self.claims
            .iter()
            .filter(move |c| types.iter().any(|t| c.typ.eq_ignore_ascii_case(t)))
            .map(|c| c.val.trim())
    }
}

/// Why a request gets no answer but a refusal, for the person and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401 (not signed in) or 403 (not trusted / not allowed).
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// What the person should do.
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// Decodes the header: base64, then JSON with `claims`.
pub fn decode_principal(header: &str) -> Result<ClientPrincipal, String> {
    let json = LENIENT
        .decode(header.trim())
        .map_err(|e| format!("X-MS-CLIENT-PRINCIPAL is not base64: {e}"))?;
    serde_json::from_slice(&json)
        .map_err(|e| format!("X-MS-CLIENT-PRINCIPAL is not the principal JSON: {e}"))
}

/// Maps a principal to the person and their roles: app role values
/// `photosync.uploader` / `photosync.approver`, or membership of the groups
/// the settings name. `name` and `id` are the platform's companion headers,
/// used when the claims lack them.
pub fn actor(
    principal: &ClientPrincipal,
    name: Option<&str>,
    id: Option<&str>,
    settings: &WebSettings,
) -> Result<Actor, String> {
    let object_id = principal
        .first(&OBJECT_ID)
        .or(id.map(str::trim).filter(|i| !i.is_empty()))
        .ok_or("the principal has no object id claim")?;
    let upn = principal
        .first(&UPN)
        .or(name.map(str::trim).filter(|n| !n.is_empty()))
        .ok_or("the principal has no user name claim (upn or preferred_username)")?;
    let mut role_types: Vec<&str> = ROLES.to_vec();
    if let Some(extra) = principal.role_typ.as_deref() {
        role_types.push(extra);
    }
    let roles: Vec<&str> = principal.all(&role_types).collect();
    let groups: Vec<String> = principal
        .all(&[GROUPS])
        .map(str::to_ascii_lowercase)
        .collect();
    let member = |group: &Option<String>| group.as_ref().is_some_and(|g| groups.contains(g));
    Ok(Actor {
        id: object_id.to_owned(),
        upn: upn.to_owned(),
        name: principal.first(&NAME).unwrap_or(upn).to_owned(),
        roles: Roles {
            uploader: roles.contains(&UPLOADER_ROLE) || member(&settings.uploader_group),
            approver: roles.contains(&APPROVER_ROLE) || member(&settings.approver_group),
        },
    })
}

/// The signed-in person, or why the request is refused. The header is
/// believed only when the platform set it (`WEBSITE_AUTH_ENABLED`) or in the
/// explicit development mode.
pub fn authenticate(headers: &HeaderMap, settings: &WebSettings) -> Result<Actor, Refusal> {
    if settings.auth
        == (WebAuth::EasyAuth {
            platform_enabled: false,
        })
    {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "authentication-off",
            "App Service Authentication is not on for this app (WEBSITE_AUTH_ENABLED is not True), \
             so photosync trusts no sign-in: an administrator turns it on (docs/web.md)",
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(raw) = header(PRINCIPAL) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "not-signed-in",
            format!("sign in first: {SIGN_IN}"),
        ));
    };
    let principal = decode_principal(raw)
        .map_err(|e| Refusal::new(StatusCode::UNAUTHORIZED, "invalid-principal", e))?;
    actor(
        &principal,
        header(PRINCIPAL_NAME),
        header(PRINCIPAL_ID),
        settings,
    )
    .map_err(|e| Refusal::new(StatusCode::UNAUTHORIZED, "invalid-principal", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::MatchBy;
    use serde_json::json;

    fn settings(auth: WebAuth) -> WebSettings {
        WebSettings {
            auth,
            self_service: true,
            approval: true,
            uploader_group: Some("3f2504e0-4f89-11d3-9a0c-0305e82c3301".into()),
            approver_group: None,
            max_upload_bytes: 1 << 20,
            uploads_per_hour: 10,
            extra_origins: Vec::new(),
            match_by: MatchBy::UserPrincipalName,
        }
    }

    const ON: WebAuth = WebAuth::EasyAuth {
        platform_enabled: true,
    };

    /// What Easy Auth sends for an Entra user (shape of the doc's example).
    fn entra(claims: serde_json::Value) -> String {
        let principal = json!({
            "auth_typ": "aad",
            "claims": claims,
            "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
        });
        base64::engine::general_purpose::STANDARD.encode(principal.to_string())
    }

    use super::super::test_headers as headers;

    #[test]
    fn an_entra_principal_yields_the_person_and_their_roles() {
        let raw = entra(json!([
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "5b5450db-eb26-4c1a-981c-ba1d25f0483d"},
            {"typ": "preferred_username", "val": "Alice@contoso.com"},
            {"typ": "name", "val": "Alice Adams"},
            {"typ": "roles", "val": "photosync.approver"},
            {"typ": "groups", "val": "f08bbbea-b793-4a36-a5fc-136c18d8aa8f"},
            {"typ": "groups", "val": "3F2504E0-4F89-11D3-9A0C-0305E82C3301"}
        ]));
        let actor = authenticate(&headers(&[(PRINCIPAL, &raw)]), &settings(ON)).unwrap();
        assert_eq!(actor.id, "5b5450db-eb26-4c1a-981c-ba1d25f0483d");
        assert_eq!(actor.upn, "Alice@contoso.com");
        assert_eq!(actor.name, "Alice Adams");
        // Approver by app role, uploader by membership of the configured group.
        assert_eq!(
            actor.roles,
            Roles {
                uploader: true,
                approver: true
            }
        );
    }

    #[test]
    fn the_host_s_own_test_principal_and_companion_headers_work() {
        // azure-functions-host MockEasyAuth: name, upn, nameidentifier claims.
        let raw = base64::engine::general_purpose::STANDARD.encode(
            json!({"auth_typ": "aad", "claims": [
                {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "val": "bob@contoso.com"},
                {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "val": "bob@contoso.com"},
                {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", "val": "x"}],
              "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
              "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"})
            .to_string(),
        );
        let actor = authenticate(
            &headers(&[
                (PRINCIPAL, raw.trim_end_matches('=')),
                (PRINCIPAL_ID, "oid-bob"),
            ]),
            &settings(ON),
        )
        .unwrap();
        assert_eq!(
            (actor.upn.as_str(), actor.id.as_str()),
            ("bob@contoso.com", "oid-bob")
        );
        assert_eq!(actor.roles, Roles::default());
    }

    #[test]
    fn roles_in_the_mapped_claim_type_count_too_and_near_misses_do_not() {
        let raw = entra(json!([
            {"typ": "oid", "val": "o"}, {"typ": "upn", "val": "u@contoso.com"},
            {"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": "photosync.uploader"},
            {"typ": "roles", "val": "photosync.approvers"},
            {"typ": "groups", "val": "photosync.approver"}
        ]));
        let actor = authenticate(&headers(&[(PRINCIPAL, &raw)]), &settings(ON)).unwrap();
        assert_eq!(
            actor.roles,
            Roles {
                uploader: true,
                approver: false
            }
        );
    }

    #[test]
    fn nothing_is_trusted_unless_the_platform_or_development_mode_says_so() {
        let raw = entra(json!([{"typ": "oid", "val": "o"}, {"typ": "upn", "val": "u@c.com"}]));
        let with = headers(&[(PRINCIPAL, &raw)]);
        let off = WebAuth::EasyAuth {
            platform_enabled: false,
        };
        let refusal = authenticate(&with, &settings(off)).unwrap_err();
        assert_eq!(
            (refusal.status, refusal.code),
            (StatusCode::FORBIDDEN, "authentication-off")
        );
        assert!(authenticate(&with, &settings(WebAuth::Development)).is_ok());
        let refusal = authenticate(&HeaderMap::new(), &settings(ON)).unwrap_err();
        assert_eq!(
            (refusal.status, refusal.code),
            (StatusCode::UNAUTHORIZED, "not-signed-in")
        );
    }

    #[test]
    fn broken_principals_are_refused_with_a_reason() {
        for (raw, expected) in [
            ("!!!", "not base64"),
            ("bm90IGpzb24=", "not the principal JSON"),
            (
                entra(json!([{"typ": "upn", "val": "u@c.com"}])).as_str(),
                "object id",
            ),
            (
                entra(json!([{"typ": "oid", "val": "o"}])).as_str(),
                "user name",
            ),
        ] {
            let refusal = authenticate(&headers(&[(PRINCIPAL, raw)]), &settings(ON)).unwrap_err();
            assert_eq!(refusal.status, StatusCode::UNAUTHORIZED);
            assert!(
                refusal.message.contains(expected),
                "{raw}: {}",
                refusal.message
            );
        }
    }
}
