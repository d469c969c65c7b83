//! The page's static files, compiled into the binary (no CDN, no build step),
//! and the small page shown instead when someone is not let in.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::auth::{Refusal, SIGN_IN};

/// The page: markup only; the script fills it in.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// `GET /api/photos/assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Revalidate: a new deployment must not run with an old script.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

use crate::html::escape;

/// Why the page is not shown, with a way forward.
pub fn refusal_page(status: StatusCode, refusal: &Refusal) -> Response {
    let action = if status == StatusCode::UNAUTHORIZED {
        format!(
            "<p><a class=\"button\" href=\"{}\">Sign in</a></p>",
            escape(SIGN_IN)
        )
    } else {
        "<p><a href=\"/.auth/logout\">Sign out</a> to use another account.</p>".to_owned()
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>photosync</title><link rel=\"stylesheet\" href=\"/api/photos/assets/app.css\"></head>\
         <body><header><h1>photosync</h1></header><main><section class=\"card refusal\" id=\"refusal\" data-code=\"{code}\">\
         <h2>{title}</h2><p>{message}</p>{action}</section></main></body></html>\n",
        code = escape(refusal.code),
        title = if status == StatusCode::UNAUTHORIZED {
            "Please sign in"
        } else {
            "Not available"
        },
        message = escape(&refusal.message),
    );
    (status, Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_files_and_no_inline_script() {
        assert!(INDEX_HTML.contains("src=\"/api/photos/assets/app.js\""));
        assert!(INDEX_HTML.contains("href=\"/api/photos/assets/app.css\""));
        // Every <script> has a src: the CSP allows no inline script.
        assert_eq!(
            INDEX_HTML.matches("<script").count(),
            INDEX_HTML.matches("<script src=").count()
        );
        assert!(!INDEX_HTML.contains("style=") && !INDEX_HTML.contains("<style"));
        // The script never turns data into markup.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
    }
}
