//! A summary where admins already look: after a Reconcile run that worked on,
//! removed or held something, one Adaptive Card to a Teams incoming webhook
//! or a Teams Workflows "When a Teams webhook request is received" URL
//! (`PHOTOSYNC_NOTIFY_WEBHOOK`).
//!
//! The payload is the shape Teams documents for Adaptive Cards through a
//! webhook: `{"type":"message","attachments":[{"contentType":
//! "application/vnd.microsoft.card.adaptive","content":{AdaptiveCard}}]}`
//! (MicrosoftDocs/msteams-docs, `webhooks-and-connectors/how-to/connectors-using.md`,
//! "Send adaptive cards using an incoming webhook"); Workflows accept Adaptive
//! Cards only. The card holds counts and problem codes, never photo names
//! or people (a channel is wider than the report's readers) and never a
//! secret. The URL itself is a secret (its `sig` grants posting): it is never
//! logged or echoed; messages name its host only.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::problem::ProblemCode;
use crate::sync::reconcile::RunSummary;

/// Teams refuses webhook messages over about 28 KB (HTTP 413); the card stays
/// far below by listing at most this many problem codes.
const MAX_CODES: usize = 12;

/// Where to post: the URL (secret) and its host (for messages).
#[derive(Clone)]
pub struct Webhook {
    /// The whole URL, with its signature.
    url: SecretString,
    /// Its host, which messages may name.
    host: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({}, …)", self.host)
    }
}

impl PartialEq for Webhook {
    fn eq(&self, other: &Self) -> bool {
        self.url.expose_secret() == other.url.expose_secret()
    }
}

impl Eq for Webhook {}

impl Webhook {
    /// Reads a webhook URL: https (plain http only to a loopback host, for
    /// tests). The error never repeats the value.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw.trim())
            .map_err(|_| "is not a URL (paste the whole webhook URL from Teams)".to_owned())?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        match url.scheme() {
            "https" if !host.is_empty() => {}
            "http" if loopback => {}
            _ => {
                return Err(format!(
                    "must be an https URL (the one for host `{host}` is not)"
                ));
            }
        }
        Ok(Self {
            url: SecretString::from(url.to_string()),
            host,
        })
    }

    /// The host, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// Whether a run is worth a message: it did something or stopped something.
pub fn worth_telling(summary: &RunSummary) -> bool {
    summary.worked > 0 || summary.removed > 0 || summary.held > 0
}

/// The message for a run: the Teams webhook envelope around an Adaptive Card.
pub fn message(summary: &RunSummary) -> Value {
    let attention: usize = summary.failures.values().sum();
    let title = format!(
        "photosync: {} photo(s) worked on, {attention} need attention",
        summary.worked
    );
    let mut facts = vec![
        fact("Examined", summary.examined),
        fact("Worked on", summary.worked),
        fact("Left for the next run", summary.left),
        fact("Removed", summary.removed),
    ];
    if summary.held > 0 {
        facts.push(fact("Removals held (see the report)", summary.held));
    }
    facts.extend(summary.counts.iter().map(|(s, n)| fact(s.as_str(), *n)));
    let mut body = vec![
        json!({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if !summary.failures.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "Needs attention, by cause", "weight": "Bolder", "wrap": true}));
        let mut by_count: Vec<(&String, &usize)> = summary.failures.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (code, n) in by_count.into_iter().take(MAX_CODES) {
            let advice = ProblemCode::parse(code).map_or("", ProblemCode::advice);
            body.push(json!({"type": "TextBlock", "wrap": true,
                "text": format!("**{code}** × {n}: {advice}")}));
        }
    }
    body.push(json!({"type": "TextBlock", "isSubtle": true, "wrap": true,
        "text": "The report (reports/latest.html in the state container) lists every photo."}));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            }
        }]
    })
}

fn fact(title: &str, n: usize) -> Value {
    json!({"title": title, "value": n.to_string()})
}

/// Posts the message for `summary`; a failure is logged, never raised (the
/// run's work and report stand whatever a chat service says).
pub async fn send(webhook: &Webhook, summary: &RunSummary) {
    if let Err(e) = post(webhook, &message(summary)).await {
        tracing::warn!(
            host = webhook.host(),
            "cannot post the Reconcile summary to PHOTOSYNC_NOTIFY_WEBHOOK: {e}"
        );
    }
}

async fn post(webhook: &Webhook, message: &Value) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        // A redirect would carry the signed URL's meaning elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(webhook.url.expose_secret())
        .header("Content-Type", "application/json; charset=utf-8")
        .body(message.to_string())
        .send()
        .await
        .map_err(|e| format!("no answer from {}: {}", webhook.host, e.without_url()))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    // Classic connectors answer 200 with the error in the body (the Teams
    // docs' rate-limit sample checks for "returned HTTP error 429").
    if status.is_success() && !text.contains("returned HTTP error") {
        tracing::info!(
            host = webhook.host(),
            status = status.as_u16(),
            "Reconcile summary posted"
        );
        Ok(())
    } else {
        let first: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Err(format!("{} answered {status}: {first}", webhook.host))
    }
}

/// Records needing attention by problem code (for the message and report).
pub fn by_code<'a>(problems: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut codes = BTreeMap::new();
    for code in problems {
        *codes.entry(code.to_owned()).or_default() += 1;
    }
    codes
}
