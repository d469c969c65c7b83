//! A stand-in for App Service Authentication (Easy Auth) with the Microsoft
//! Entra provider, in front of the fake Functions host.
//!
//! What it does, as the platform does (sources):
//! - Strips `X-MS-CLIENT-PRINCIPAL*` and `X-MS-TOKEN-*` headers a client sent:
//!   "External requests aren't allowed to set these headers, so they're
//!   present only if set by App Service"
//!   (learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
//! - Adds, for a signed-in session, `X-MS-CLIENT-PRINCIPAL` (base64 JSON:
//!   `auth_typ`, `claims[{typ, val}]`, `name_typ`, `role_typ`; Entra claims
//!   `objectidentifier`, `preferred_username`, `name`, `roles`, one `groups`
//!   claim per group — the doc's example), `-NAME`, `-ID` and `-IDP` (same page).
//! - Sends unauthenticated requests to `/.auth/login/aad?post_login_redirect_uri=…`
//!   (`unauthenticatedClientAction: RedirectToLoginPage`), except for
//!   `globalValidation.excludedPaths`, which it reads from the repository's
//!   ARM template so the test runs with the configuration that is deployed
//!   (learn.microsoft.com/azure/templates/microsoft.web/sites/config-authsettingsv2).
//! - Keeps the session in the `AppServiceAuthSession` cookie
//!   (learn.microsoft.com/azure/app-service/overview-authentication-authorization,
//!   "Token store" / session cookie).
//!
//! The sign-in itself is a fake account picker (Entra's page cannot run
//! here): one button per directory account.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use serde_json::{Value, json};

/// The session cookie's name.
pub const COOKIE: &str = "AppServiceAuthSession";

/// A directory account people can sign in as.
#[derive(Debug, Clone)]
pub struct Account {
    pub upn: String,
    pub object_id: String,
    pub name: String,
    /// App role values assigned to the person for this app.
    pub roles: Vec<String>,
    /// Group object ids.
    pub groups: Vec<String>,
}

impl Account {
    pub fn new(upn: &str, name: &str, roles: &[&str]) -> Self {
        Self {
            upn: upn.to_owned(),
            object_id: format!("oid-{}", upn.split('@').next().unwrap_or(upn)),
            name: name.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            groups: Vec::new(),
        }
    }

    /// The principal JSON as Easy Auth writes it for an Entra user.
    pub fn principal(&self) -> Value {
        let mut claims = vec![
            json!({"typ": "aud", "val": "00000000-photosync-test-app"}),
            json!({"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": self.object_id}),
            json!({"typ": "preferred_username", "val": self.upn}),
            json!({"typ": "name", "val": self.name}),
            json!({"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": "contoso-test-tenant"}),
        ];
        claims.extend(self.roles.iter().map(|r| json!({"typ": "roles", "val": r})));
        claims.extend(
            self.groups
                .iter()
                .map(|g| json!({"typ": "groups", "val": g})),
        );
        json!({
            "auth_typ": "aad",
            "claims": claims,
            "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
        })
    }
}

/// Sign-in state: accounts and open sessions.
pub struct EasyAuth {
    accounts: Vec<Account>,
    sessions: Mutex<HashMap<String, String>>,
    excluded: Vec<String>,
}

/// What to do with a request that is not for `/.auth/…`.
pub enum Decision {
    /// Forward it, with these headers.
    Forward(HeaderMap),
    /// Send the browser to sign in first.
    SignIn(String),
}

impl EasyAuth {
    pub fn new(accounts: Vec<Account>) -> Self {
        Self {
            accounts,
            sessions: Mutex::default(),
            excluded: excluded_paths_from_template(),
        }
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Opens a session for `upn`; returns the cookie value.
    pub fn sign_in(&self, upn: &str) -> Option<String> {
        self.accounts.iter().find(|a| a.upn == upn)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.sessions
            .lock()
            .unwrap()
            .insert(id.clone(), upn.to_owned());
        Some(id)
    }

    pub fn sign_out(&self, headers: &HeaderMap) {
        if let Some(id) = session_id(headers) {
            self.sessions.lock().unwrap().remove(&id);
        }
    }

    fn account_of(&self, headers: &HeaderMap) -> Option<Account> {
        let id = session_id(headers)?;
        let upn = self.sessions.lock().unwrap().get(&id)?.clone();
        self.accounts.iter().find(|a| a.upn == upn).cloned()
    }

    /// The platform's treatment of an app request.
    pub fn decide(&self, path_and_query: &str, path: &str, incoming: &HeaderMap) -> Decision {
        let mut headers = incoming.clone();
        let injected: Vec<_> = headers
            .keys()
            .filter(|k| {
                let k = k.as_str();
                k.starts_with("x-ms-client-principal") || k.starts_with("x-ms-token-")
            })
            .cloned()
            .collect();
        for name in injected {
            headers.remove(name);
        }
        match self.account_of(incoming) {
            Some(account) => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(account.principal().to_string());
                for (name, value) in [
                    ("x-ms-client-principal", encoded.as_str()),
                    ("x-ms-client-principal-name", account.upn.as_str()),
                    ("x-ms-client-principal-id", account.object_id.as_str()),
                    ("x-ms-client-principal-idp", "aad"),
                ] {
                    headers.insert(name, HeaderValue::from_str(value).unwrap());
                }
                Decision::Forward(headers)
            }
            None if self.excluded.iter().any(|p| path.starts_with(p.as_str())) => {
                Decision::Forward(headers)
            }
            None => Decision::SignIn(format!(
                "/.auth/login/aad?post_login_redirect_uri={}",
                percent_encoding::utf8_percent_encode(
                    path_and_query,
                    percent_encoding::NON_ALPHANUMERIC
                )
            )),
        }
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// `globalValidation.excludedPaths` of the template's `authsettingsV2`.
fn excluded_paths_from_template() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/infra/azuredeploy.json");
    let template: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let auth = template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["type"] == "Microsoft.Web/sites/config"
                && r["name"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("authsettingsV2")
        })
        .expect("the template configures authsettingsV2");
    auth["properties"]["globalValidation"]["excludedPaths"]
        .as_array()
        .expect("excludedPaths is a literal list")
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// The fake account picker.
pub fn picker_page(accounts: &[Account], redirect: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut page = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto\">\
         <h1 style=\"font-size:1.4rem\">Pick an account</h1><p>(test stand-in for Microsoft Entra sign-in)</p>",
    );
    for account in accounts {
        page.push_str(&format!(
            "<form method=\"post\" action=\"/.auth/login/aad/callback\" style=\"margin:.5rem 0\">\
             <input type=\"hidden\" name=\"upn\" value=\"{upn}\"><input type=\"hidden\" name=\"redirect\" value=\"{redirect}\">\
             <button type=\"submit\" data-upn=\"{upn}\" style=\"width:100%;padding:.6rem;text-align:left\">{name}<br><small>{upn}</small></button></form>",
            upn = escape(&account.upn),
            name = escape(&account.name),
            redirect = escape(redirect),
        ));
    }
    page.push_str("</body></html>");
    page
}
