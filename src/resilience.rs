//! What every HTTP adapter (Entra, Graph, SharePoint) shares: the HTTP client
//! (no redirects, connect and total timeouts, decorated User-Agent), and retry
//! timing — honour the server's `Retry-After`, otherwise exponential backoff
//! with full jitter, bounded in attempts and in total time.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};

/// Sent with every Entra, Graph and SharePoint request. SharePoint's
/// throttling guidance asks apps to "decorate" their traffic as
/// `ISV|CompanyName|AppName/Version`, so throttling and support can tell an
/// app from a browser (learn.microsoft.com/sharepoint/dev/general-development/
/// how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online).
pub const USER_AGENT: &str = concat!("ISV|photosync|photosync/", env!("CARGO_PKG_VERSION"));

/// Longest wait for a TCP/TLS connection before the attempt counts as failed
/// (never longer than the request's total timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client builder every adapter's client comes from: it follows **no**
/// redirect (a token endpoint answering `307` would otherwise get the form,
/// client secret included, re-posted to wherever `Location` points, and the
/// answer from there trusted as a token), gives up connecting after `connect`
/// and on the whole request after `total`, and decorates its traffic.
pub fn http_client_builder(connect: Duration, total: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect.min(total))
        .timeout(total)
        .user_agent(USER_AGENT)
}

/// The HTTP client of the adapters, with [`CONNECT_TIMEOUT`] and `total`.
pub fn http_client(total: Duration) -> Result<reqwest::Client, String> {
    http_client_builder(CONNECT_TIMEOUT, total)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// For a `3xx` answer: what to say about the redirect that was refused,
/// naming the target (`Location` without its query, which may carry anything).
/// `None` for any other status.
pub fn refused_redirect(status: StatusCode, headers: &HeaderMap) -> Option<String> {
    if !status.is_redirection() {
        return None;
    }
    let target = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|location| {
            let end = location.find(['?', '#']).unwrap_or(location.len());
            location[..end].chars().take(200).collect::<String>()
        })
        .unwrap_or_else(|| "(no Location)".to_owned());
    Some(format!(
        "HTTP {status} redirect to {target} refused: photosync follows no redirects"
    ))
}

/// How persistent an adapter is with a struggling service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Longest total time spent waiting between attempts.
    pub max_wait: Duration,
    /// First backoff ceiling; doubles per attempt.
    pub base_delay: Duration,
    /// Largest single backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_wait: Duration::from_secs(120),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// What to do after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// The bound is reached: report the failure.
    GiveUp,
}

impl RetryPolicy {
    /// Decides after failed attempt number `attempt` (1-based), having waited
    /// `waited` so far, given the server's advice `retry_after`.
    pub fn next(&self, attempt: u32, waited: Duration, retry_after: Option<Duration>) -> Next {
        if attempt >= self.max_attempts {
            return Next::GiveUp;
        }
        let delay = retry_after.unwrap_or_else(|| self.backoff(attempt));
        if waited + delay > self.max_wait {
            Next::GiveUp
        } else {
            Next::RetryAfter(delay)
        }
    }

    /// Full jitter: uniform in `[0, min(max_delay, base · 2^(attempt-1))]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }
}

/// What one attempt of a call came to.
pub enum Step<T, E> {
    /// Finished: the answer.
    Done(T),
    /// Finished: a failure retrying cannot fix.
    Fail(E),
    /// Worth another attempt.
    Retry {
        /// The server's `Retry-After`, if it gave one.
        advice: Option<Duration>,
        /// 429 (as opposed to an outage), for the final error's kind.
        throttled: bool,
        /// What went wrong, for the final error's message.
        detail: String,
    },
}

/// Why the attempts stopped without an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// Attempts made.
    pub attempts: u32,
    /// Time spent waiting between them.
    pub waited: Duration,
    /// The last failure was throttling.
    pub throttled: bool,
    /// The last failure.
    pub detail: String,
}

impl RetryPolicy {
    /// Runs `attempt(1)`, `attempt(2)`, … until one is final or the bounds are
    /// reached; `exhausted` turns the last failure into the caller's error.
    pub async fn run<T, E, F, Fut>(
        &self,
        mut attempt: F,
        exhausted: impl Fn(Exhausted) -> E,
    ) -> Result<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Step<T, E>>,
    {
        let mut waited = Duration::ZERO;
        let mut number = 0;
        loop {
            number += 1;
            let (advice, throttled, detail) = match attempt(number).await {
                Step::Done(answer) => return Ok(answer),
                Step::Fail(error) => return Err(error),
                Step::Retry {
                    advice,
                    throttled,
                    detail,
                } => (advice, throttled, detail),
            };
            match self.next(number, waited, advice) {
                Next::RetryAfter(delay) => {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                }
                Next::GiveUp => {
                    return Err(exhausted(Exhausted {
                        attempts: number,
                        waited,
                        throttled,
                        detail,
                    }));
                }
            }
        }
    }
}

/// The retry step for an answer that means "try again": 429 (throttled) and
/// the 5xx of a passing outage (500, 502, 503, 504). `None` for any other
/// status, whose meaning is the adapter's to give.
pub fn retry_step<T, E>(
    status: StatusCode,
    advice: Option<Duration>,
    detail: &str,
) -> Option<Step<T, E>> {
    match status.as_u16() {
        429 => Some(Step::Retry {
            advice,
            throttled: true,
            detail: detail.to_owned(),
        }),
        500 | 502 | 503 | 504 => Some(Step::Retry {
            advice,
            throttled: false,
            detail: format!("HTTP {status} {detail}"),
        }),
        _ => None,
    }
}

/// Reads `Retry-After` as delta-seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn redirects_are_named_without_their_query() {
        let mut h = HeaderMap::new();
        h.insert(
            LOCATION,
            HeaderValue::from_static("http://127.0.0.1:9/steal?secret=x"),
        );
        let detail = refused_redirect(StatusCode::TEMPORARY_REDIRECT, &h).unwrap();
        assert!(detail.contains("307"), "{detail}");
        assert!(detail.contains("http://127.0.0.1:9/steal"), "{detail}");
        assert!(!detail.contains("secret"), "{detail}");
        assert!(refused_redirect(StatusCode::OK, &h).is_none());
        assert!(refused_redirect(StatusCode::NOT_FOUND, &h).is_none());
        assert!(
            refused_redirect(StatusCode::FOUND, &HeaderMap::new())
                .unwrap()
                .contains("(no Location)")
        );
        assert!(USER_AGENT.starts_with("ISV|photosync|photosync/"));
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_as_seconds_or_date() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(120);
        let parsed = retry_after(&headers(&httpdate::fmt_http_date(future))).unwrap();
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120));
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(retry_after(&headers(&past)), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn only_throttling_and_passing_outages_are_retried() {
        let seven = Some(Duration::from_secs(7));
        let step =
            |code: u16| retry_step::<(), ()>(StatusCode::from_u16(code).unwrap(), seven, "x");
        assert!(
            matches!(step(429), Some(Step::Retry { throttled: true, advice, .. }) if advice == seven)
        );
        for code in [500, 502, 503, 504] {
            match step(code) {
                Some(Step::Retry {
                    throttled: false,
                    detail,
                    ..
                }) => {
                    assert!(detail.starts_with(&format!("HTTP {code}")), "{detail}");
                }
                _ => panic!("{code} is retried"),
            }
        }
        for code in [400, 401, 403, 404, 413, 501] {
            assert!(step(code).is_none(), "{code} is the adapter's to judge");
        }
    }

    #[test]
    fn server_advice_wins_within_the_bounds() {
        let policy = RetryPolicy::default();
        let seven = Some(Duration::from_secs(7));
        assert_eq!(
            policy.next(1, Duration::ZERO, seven),
            Next::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            policy.next(6, Duration::ZERO, seven),
            Next::GiveUp,
            "attempts bound"
        );
        assert_eq!(
            policy.next(2, Duration::from_secs(115), seven),
            Next::GiveUp,
            "total wait bound"
        );
    }

    #[test]
    fn backoff_is_jittered_under_a_doubling_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..=5 {
            let ceiling = Duration::from_millis(500 * (1 << (attempt - 1)));
            for _ in 0..50 {
                match policy.next(attempt, Duration::ZERO, None) {
                    Next::RetryAfter(d) => assert!(d <= ceiling, "{d:?} > {ceiling:?}"),
                    Next::GiveUp => panic!("gave up early"),
                }
            }
        }
        let long = RetryPolicy {
            max_attempts: 50,
            ..policy
        };
        for _ in 0..50 {
            let Next::RetryAfter(d) = long.next(30, Duration::ZERO, None) else {
                panic!()
            };
            assert!(d <= Duration::from_secs(30));
        }
    }
}
