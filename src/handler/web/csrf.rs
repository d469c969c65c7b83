//! Cross-site request forgery: a state-changing request must come from the
//! page itself. Two independent checks (OWASP CSRF Prevention Cheat Sheet,
//! "Verifying Origin With Standard Headers" and "Custom Request Headers"):
//!
//! - `Origin` must be present and name this app: the request's own `Host`
//!   (the host forwards every header unchanged,
//!   azure-functions-host `HttpRequestExtensions.ToHttpRequestMessage`)
//!   with the scheme the front end saw (`X-Forwarded-Proto`), or an origin
//!   listed in `PHOTOSYNC_WEB_ORIGINS`. Browsers send `Origin` on every POST.
//! - A custom header, `X-Photosync-Request: 1`: a cross-site form cannot set
//!   it, and a cross-site script setting it needs a CORS preflight that this
//!   app never grants.
//!
//! `Sec-Fetch-Site: cross-site`, where a browser sends it, is refused outright.

use axum::http::{HeaderMap, StatusCode};

use super::auth::Refusal;
use crate::config::WebSettings;

/// The header the page sets on every state-changing request.
pub const REQUEST_HEADER: &str = "x-photosync-request";

fn refuse(message: String) -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        code: "cross-site-request",
        message,
    }
}

/// Passes requests the page made; refuses anything a foreign site could make.
pub fn check(headers: &HeaderMap, settings: &WebSettings) -> Result<(), Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err(refuse(
            "the browser says this request comes from another site".to_owned(),
        ));
    }
    if header(REQUEST_HEADER) != Some("1") {
        return Err(refuse(format!(
            "state-changing requests must carry `{REQUEST_HEADER}: 1` (the page sends it)"
        )));
    }
    let Some(origin) = header("origin") else {
        return Err(refuse(
            "state-changing requests must carry an Origin header (browsers send it)".to_owned(),
        ));
    };
    let origin = origin.trim_end_matches('/');
    let host = header("host").unwrap_or_default();
    let scheme = header("x-forwarded-proto")
        .and_then(|p| p.split(',').next())
        .map(str::trim)
        .unwrap_or("http");
    let own = format!("{scheme}://{host}");
    let allowed = (!host.is_empty() && origin.eq_ignore_ascii_case(&own))
        || settings
            .extra_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin));
    if allowed {
        Ok(())
    } else {
        Err(refuse(format!(
            "Origin `{origin}` is not this app ({own}); add it to PHOTOSYNC_WEB_ORIGINS if it is a custom domain of this app"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebAuth;
    use crate::graph::MatchBy;

    fn settings(extra: &[&str]) -> WebSettings {
        WebSettings {
            auth: WebAuth::Development,
            self_service: false,
            approval: false,
            uploader_group: None,
            approver_group: None,
            max_upload_bytes: 1 << 20,
            uploads_per_hour: 10,
            extra_origins: extra.iter().map(|s| (*s).to_owned()).collect(),
            match_by: MatchBy::UserPrincipalName,
        }
    }

    use super::super::test_headers as headers;

    const PAGE: [(&str, &str); 4] = [
        ("host", "photosync-abc.azurewebsites.net"),
        ("x-forwarded-proto", "https"),
        ("origin", "https://photosync-abc.azurewebsites.net"),
        (REQUEST_HEADER, "1"),
    ];

    #[test]
    fn the_page_s_own_requests_pass() {
        assert!(check(&headers(&PAGE), &settings(&[])).is_ok());
        // Locally, without a front end: plain http on the request's host.
        let local = headers(&[
            ("host", "127.0.0.1:7071"),
            ("origin", "http://127.0.0.1:7071"),
            (REQUEST_HEADER, "1"),
        ]);
        assert!(check(&local, &settings(&[])).is_ok());
    }

    #[test]
    fn forged_requests_are_refused() {
        let without = |name: &str| -> HeaderMap {
            headers(
                &PAGE
                    .iter()
                    .copied()
                    .filter(|(k, _)| *k != name)
                    .collect::<Vec<_>>(),
            )
        };
        let with = |name: &str, value: &str| -> HeaderMap {
            let mut h = headers(&PAGE);
            h.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
            h
        };
        let cases = [
            ("no custom header", without(REQUEST_HEADER)),
            ("custom header not 1", with(REQUEST_HEADER, "yes")),
            ("no Origin", without("origin")),
            ("another site", with("origin", "https://evil.example")),
            (
                "same host over http",
                with("origin", "http://photosync-abc.azurewebsites.net"),
            ),
            (
                "a look-alike host",
                with(
                    "origin",
                    "https://photosync-abc.azurewebsites.net.evil.example",
                ),
            ),
            (
                "the browser says cross-site",
                with("sec-fetch-site", "cross-site"),
            ),
            ("Origin null (sandboxed frame)", with("origin", "null")),
        ];
        for (what, h) in cases {
            let refusal = check(&h, &settings(&[])).expect_err(what);
            assert_eq!(refusal.status, StatusCode::FORBIDDEN, "{what}");
            assert_eq!(refusal.code, "cross-site-request", "{what}");
        }
    }

    #[test]
    fn a_listed_custom_domain_passes() {
        let mut h = headers(&PAGE);
        h.insert("origin", "https://photos.contoso.com".parse().unwrap());
        assert!(check(&h, &settings(&[])).is_err());
        assert!(check(&h, &settings(&["https://photos.contoso.com"])).is_ok());
    }
}
