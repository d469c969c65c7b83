//! The token provider and the token endpoint, against the fake Entra ID:
//! the certificate assertion pairs Entra accepts, one fetch per resource at a
//! time without one resource holding up another, and a token endpoint that
//! tries to redirect the client secret elsewhere.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use photosync::identity::{Credentials, TokenProvider};
use photosync::resilience::{RetryPolicy, http_client_builder};
use photosync::sync::ledger::Status;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fakes::entra::thumbprints;
use crate::fakes::graph::{CERTIFICATE, CLIENT_ID, CLIENT_SECRET, FakeGraph, FakeUser, TENANT};
use crate::fakes::trap::Trap;
use crate::helpers::spawn_app_with;
use crate::sharepoint::{drop_photo, record};

fn provider(fake: &FakeGraph, credentials: Credentials) -> TokenProvider {
    let long = Duration::from_secs(600);
    let http = http_client_builder(long, long)
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    TokenProvider::new(
        credentials,
        fake.url.parse().unwrap(),
        http,
        RetryPolicy::default(),
    )
    .unwrap()
}

fn secret() -> Credentials {
    Credentials::ClientSecret {
        tenant_id: TENANT.into(),
        client_id: CLIENT_ID.into(),
        secret: SecretString::from(CLIENT_SECRET),
    }
}

/// Posts a client assertion with this header to the fake token endpoint.
async fn try_assertion(fake: &FakeGraph, alg: Algorithm, s256: bool) -> (u16, Value) {
    let pem = std::fs::read(CERTIFICATE).unwrap();
    let key_block = pem::parse_many(&pem)
        .unwrap()
        .into_iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .unwrap();
    let key = EncodingKey::from_rsa_pem(pem::encode(&key_block).as_bytes()).unwrap();
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", fake.url);
    let mut header = Header::new(alg);
    let thumbprints = thumbprints();
    if s256 {
        header.x5t_s256 = Some(thumbprints.sha256);
    } else {
        header.x5t = Some(thumbprints.sha1);
    }
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"aud": token_url, "iss": CLIENT_ID, "sub": CLIENT_ID,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 600});
    let assertion = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let response = reqwest::Client::new()
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", &format!("{}/.default", fake.url)),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_fake_accepts_only_the_header_pairs_entra_documents() {
    let fake = FakeGraph::start().await;
    assert_eq!(try_assertion(&fake, Algorithm::PS256, true).await.0, 200);
    assert_eq!(
        try_assertion(&fake, Algorithm::RS256, false).await.0,
        200,
        "the legacy pair: RS256 with the SHA-1 x5t"
    );
    for (alg, s256) in [(Algorithm::RS256, true), (Algorithm::PS256, false)] {
        let (status, body) = try_assertion(&fake, alg, s256).await;
        assert_eq!(status, 401, "{alg:?} s256={s256}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("AADSTS700027"), "{description}");
        assert!(description.contains("unsupported header"), "{description}");
    }
}

#[tokio::test]
async fn our_certificate_assertion_is_accepted() {
    let fake = FakeGraph::start().await;
    let tokens = provider(
        &fake,
        Credentials::Certificate {
            tenant_id: TENANT.into(),
            client_id: CLIENT_ID.into(),
            path: CERTIFICATE.into(),
        },
    );
    tokens.token(&fake.url).await.unwrap();
    assert_eq!(fake.grants()[0].credential, "certificate");
}

#[tokio::test(start_paused = true)]
async fn a_slow_fetch_for_one_resource_does_not_hold_up_another() {
    let fake = FakeGraph::start().await;
    fake.set_token_delay("https://slow.example", Duration::from_secs(90));
    let tokens = Arc::new(provider(&fake, secret()));
    let started = tokio::time::Instant::now();
    let slow = {
        let tokens = Arc::clone(&tokens);
        async move {
            tokens.token("https://slow.example").await.unwrap();
            started.elapsed()
        }
    };
    let fast = {
        let tokens = Arc::clone(&tokens);
        async move {
            // Start second, so the slow fetch is already under way.
            tokio::task::yield_now().await;
            tokens.token("https://fast.example").await.unwrap();
            started.elapsed()
        }
    };
    let (slow, fast) = tokio::join!(slow, fast);
    assert!(slow >= Duration::from_secs(90), "{slow:?}");
    assert!(
        fast < Duration::from_secs(1),
        "waited for the other resource: {fast:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_for_one_resource_share_one_fetch() {
    let fake = FakeGraph::start().await;
    fake.set_token_delay(&fake.url, Duration::from_secs(5));
    let tokens = Arc::new(provider(&fake, secret()));
    let callers = (0..10).map(|_| {
        let tokens = Arc::clone(&tokens);
        let resource = fake.url.clone();
        async move { tokens.token(&resource).await.map(|t| t.bearer()) }
    });
    let results = futures::future::join_all(callers).await;
    let first = results[0].as_ref().unwrap();
    assert!(results.iter().all(|r| r.as_ref().unwrap() == first));
    assert_eq!(fake.requests_to("POST", "/oauth2/v2.0/token").len(), 1);
    // And a later call is served from the cache.
    tokens.token(&fake.url).await.unwrap();
    assert_eq!(fake.grants().len(), 1);
}

#[tokio::test]
async fn a_redirecting_token_endpoint_gets_no_second_chance() {
    let fake = FakeGraph::start().await;
    let trap = Trap::start().await;
    fake.redirect_tokens_to(&format!("{}/steal", trap.url));
    let tokens = provider(&fake, secret());
    let err = tokens.token(&fake.url).await.unwrap_err();
    assert_eq!(err.code().as_str(), "redirect-refused");
    assert!(err.is_transient());
    assert!(
        err.to_string().contains(&format!("{}/steal", trap.url)),
        "{err}"
    );
    assert!(
        trap.caught().is_empty(),
        "the form went to the redirect target"
    );
    assert_eq!(
        fake.requests_to("POST", "/oauth2/v2.0/token").len(),
        1,
        "a redirect is not retried in a loop"
    );
}

#[tokio::test]
async fn a_redirected_token_request_leaves_the_photo_retrying_and_the_secret_home() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-alice", "alice@contoso.com"));
    let trap = Trap::start().await;
    fake.redirect_tokens_to(&format!("{}/steal", trap.url));
    let app = spawn_app_with(&fake.secret_env(), &[]).await;
    assert_eq!(
        drop_photo(&app, "alice@contoso.com.jpg").await,
        500,
        "the host retries"
    );
    assert!(trap.caught().is_empty(), "{:?}", trap.caught());
    let record = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record.status, Status::Retrying);
    let problem = record.problem.unwrap();
    assert_eq!(problem.code.as_str(), "redirect-refused");
    assert!(problem.message.contains(&trap.url), "{}", problem.message);
    assert!(fake.photo("id-alice").is_none());
    assert!(!problem.message.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn plain_http_authorities_stop_start_up_except_on_loopback() {
    let (status, _, stderr) = crate::helpers::run_binary(
        &["serve"],
        &[("PHOTOSYNC_AUTHORITY_URL", "http://login.example")],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PHOTOSYNC_AUTHORITY_URL"), "{stderr}");

    let fake = FakeGraph::start().await;
    // The fakes live on http://127.0.0.1:…: accepted.
    let app = spawn_app_with(&fake.secret_env(), &[]).await;
    assert!(app.env["PHOTOSYNC_AUTHORITY_URL"].starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn bad_timeouts_and_identity_endpoints_stop_start_up() {
    for vars in [
        &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "0")][..],
        &[
            ("IDENTITY_ENDPOINT", "file:///etc/passwd"),
            ("IDENTITY_HEADER", "x"),
        ][..],
    ] {
        let (status, _, stderr) = crate::helpers::run_binary(&["serve"], vars);
        assert_eq!(status.code(), Some(2), "{vars:?}: {stderr}");
        assert!(stderr.contains(vars[0].0), "{stderr}");
    }
}
