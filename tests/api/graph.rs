//! The Microsoft Graph adapter against the fake Entra ID and Graph: each
//! credential kind, throttling, token expiry, limits, policy (user matching:
//! `graph_users`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use photosync::config::Settings;
use photosync::graph::{GraphClient, GraphError, Written};

use crate::fakes::graph::{
    CLIENT_ID, CLIENT_SECRET, FakeGraph, FakeUser, Fault, IDENTITY_HEADER, Route,
};

/// A client for the fake with these settings on top of `env`.
pub(crate) fn client_with(env: Vec<(String, String)>, extra: &[(&str, &str)]) -> GraphClient {
    let vars = env.into_iter().chain(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let settings = Settings::from_vars(vars).expect("valid settings");
    // The adapters' client (no redirects, timeouts, User-Agent), without the
    // idle-connection timer: with tokio's paused clock, the only timers are ours.
    let timeout = settings.graph.timeout;
    let http = photosync::resilience::http_client_builder(timeout, timeout)
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    GraphClient::from_settings(&settings.graph, http)
        .expect("usable credentials")
        .expect("credentials are configured")
}

pub(crate) fn http() -> reqwest::Client {
    photosync::resilience::http_client(Duration::from_secs(60)).unwrap()
}

pub(crate) async fn fake_with_alice() -> FakeGraph {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-alice", "alice@contoso.com"));
    fake
}

pub(crate) fn photo() -> Bytes {
    Bytes::from(crate::helpers::jpeg(64, 64))
}

/// Finds Alice by UPN, sets her photo, and checks what Graph received.
async fn sync_alice(fake: &FakeGraph, client: &GraphClient) {
    let user = client.find_user("Alice@Contoso.com").await.unwrap();
    assert_eq!(user.id, "id-alice");
    assert_eq!(user.user_principal_name, "alice@contoso.com");
    let jpeg = photo();
    assert_eq!(
        client.set_photo(&user.id, jpeg.clone()).await.unwrap(),
        Written::Done
    );
    assert_eq!(fake.photo("id-alice").as_deref(), Some(&jpeg[..]));
    let put = fake.requests_to("PUT", "/photo/$value");
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].path, "/v1.0/users/id-alice/photo/$value");
    assert_eq!(put[0].headers["content-type"], "image/jpeg");
    assert_eq!(put[0].body_len, jpeg.len());
    assert!(
        put[0].headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert!(put[0].headers.contains_key("client-request-id"));
}

#[tokio::test]
async fn client_secret_end_to_end() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[]);
    sync_alice(&fake, &client).await;
    let grants = fake.grants();
    assert_eq!(grants.len(), 1, "one token serves every call: {grants:?}");
    assert_eq!(grants[0].credential, "secret");
    assert_eq!(grants[0].resource, fake.url, "the token is for Graph");
}

#[tokio::test]
async fn certificate_end_to_end() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.certificate_env(), &[]);
    sync_alice(&fake, &client).await;
    assert_eq!(fake.grants()[0].credential, "certificate");
}

#[tokio::test]
async fn managed_identity_end_to_end_with_a_user_assigned_identity() {
    let fake = fake_with_alice().await;
    let client = client_with(
        fake.managed_identity_env(),
        &[("PHOTOSYNC_CLIENT_ID", "ua-1234")],
    );
    sync_alice(&fake, &client).await;
    let grant = &fake.grants()[0];
    assert_eq!(grant.credential, "managed identity");
    assert_eq!(grant.client_id.as_deref(), Some("ua-1234"));
}

#[tokio::test]
async fn a_wrong_secret_is_a_clear_permanent_error_without_the_secret() {
    let fake = fake_with_alice().await;
    let wrong = "wrong~secret~value~123";
    let client = client_with(fake.secret_env(), &[("PHOTOSYNC_CLIENT_SECRET", wrong)]);
    let err = client.find_user("alice@contoso.com").await.unwrap_err();
    assert_eq!(err.code().as_str(), "invalid-credentials");
    assert!(!err.is_transient() && err.is_configuration());
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("Trace ID"), "only the first line: {text}");
    assert!(
        !text.contains(wrong) && !format!("{err:?}").contains(wrong),
        "{text}"
    );
}

#[tokio::test]
async fn a_certificate_file_without_a_key_is_refused_at_start() {
    let dir = crate::helpers::temp_dir();
    let path = dir.path().join("cert-only.pem");
    let full = std::fs::read_to_string(crate::fakes::graph::CERTIFICATE).unwrap();
    let cert_only: String = full
        .split_inclusive('\n')
        .take_while(|l| !l.contains("PRIVATE KEY"))
        .collect();
    std::fs::write(&path, cert_only).unwrap();
    let settings = Settings::from_vars([
        ("PHOTOSYNC_TENANT_ID", "t"),
        ("PHOTOSYNC_CLIENT_ID", "c"),
        ("PHOTOSYNC_CLIENT_CERTIFICATE_PATH", path.to_str().unwrap()),
    ])
    .unwrap();
    let err = GraphClient::from_settings(&settings.graph, http()).unwrap_err();
    assert_eq!(err.code().as_str(), "invalid-credentials");
    assert!(err.to_string().contains("no PRIVATE KEY block"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn throttling_waits_exactly_as_long_as_retry_after_says() {
    let fake = fake_with_alice().await;
    let client = client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600")],
    );
    fake.inject(Route::Photo, Fault::Throttle(Some("7")), 1);
    assert_eq!(
        client.set_photo("id-alice", photo()).await.unwrap(),
        Written::Done
    );
    let puts = fake.requests_to("PUT", "/photo/$value");
    assert_eq!(
        puts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    let waited = puts[1].at - puts[0].at;
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "waited {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn unavailable_then_success() {
    let fake = fake_with_alice().await;
    let client = client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600")],
    );
    fake.inject(Route::Photo, Fault::Unavailable, 2);
    assert_eq!(
        client.set_photo("id-alice", photo()).await.unwrap(),
        Written::Done
    );
    let statuses: Vec<u16> = fake
        .requests_to("PUT", "/photo/$value")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

#[tokio::test(start_paused = true)]
async fn a_request_slower_than_the_timeout_is_abandoned_and_retried() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "10")]);
    fake.inject(Route::Photo, Fault::Slow(Duration::from_secs(600)), 1);
    let started = tokio::time::Instant::now();
    assert_eq!(
        client.set_photo("id-alice", photo()).await.unwrap(),
        Written::Done
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(60),
        "{took:?}"
    );
    assert!(fake.photo("id-alice").is_some());
}

#[tokio::test(start_paused = true)]
async fn endless_throttling_gives_up_at_the_bound_as_throttled() {
    let fake = fake_with_alice().await;
    let client = client_with(
        fake.secret_env(),
        &[
            ("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600"),
            ("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "4"),
        ],
    );
    fake.inject(Route::Photo, Fault::Throttle(Some("2")), 100);
    let err = client.set_photo("id-alice", photo()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "throttled");
    assert!(err.is_transient(), "the timer retries it later");
    assert_eq!(fake.requests_to("PUT", "/photo/$value").len(), 4);
    match err {
        GraphError::Throttled { attempts, waited } => {
            assert_eq!((attempts, waited), (4, Duration::from_secs(6)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_refreshed_once() {
    let fake = fake_with_alice().await;
    fake.add_user(FakeUser::new("id-bob", "bob@contoso.com"));
    let client = client_with(fake.secret_env(), &[]);
    client.set_photo("id-alice", photo()).await.unwrap();
    fake.expire_tokens();
    client.set_photo("id-bob", photo()).await.unwrap();
    assert_eq!(fake.grants().len(), 2, "one new token");
    let statuses: Vec<u16> = fake
        .requests_to("PUT", "/photo/$value")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![200, 401, 200]);
    assert!(fake.photo("id-bob").is_some());
}

#[tokio::test]
async fn never_more_photo_requests_in_flight_than_the_most_allowed() {
    let fake = FakeGraph::start().await;
    for i in 0..24 {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_photo_delay(Duration::from_millis(40));
    // Nothing throttles, so the window grows, up to the most allowed.
    let client = Arc::new(client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_GRAPH_MAX_CONCURRENCY", "5")],
    ));
    let uploads = (0..24).map(|i| {
        let client = Arc::clone(&client);
        async move { client.set_photo(&format!("id-{i}"), photo()).await }
    });
    for result in futures::future::join_all(uploads).await {
        assert_eq!(result.unwrap(), Written::Done);
    }
    assert_eq!(
        fake.max_in_flight(),
        5,
        "from 4 at the start up to PHOTOSYNC_GRAPH_MAX_CONCURRENCY"
    );
}

#[tokio::test]
async fn a_photo_over_four_megabytes_is_never_sent() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[]);
    let big = Bytes::from(vec![0xFFu8; 4_100_000 + 194_304]);
    let err = client.set_photo("id-alice", big).await.unwrap_err();
    assert_eq!(err.code().as_str(), "photo-too-large");
    assert!(fake.requests().is_empty(), "nothing reached Graph");
}

#[tokio::test]
async fn the_on_premises_photo_policy_is_one_configuration_error() {
    let fake = fake_with_alice().await;
    fake.add_user(FakeUser::new("id-bob", "bob@contoso.com"));
    fake.set_policy("onPremises");
    let client = client_with(fake.secret_env(), &[]);
    for id in ["id-alice", "id-bob"] {
        let err = client.set_photo(id, photo()).await.unwrap_err();
        assert_eq!(err.code().as_str(), "photo-updates-disabled");
        assert!(err.is_configuration() && !err.is_transient());
    }
    assert_eq!(
        fake.requests_to("GET", "photoUpdateSettings").len(),
        1,
        "checked once"
    );
    assert!(fake.requests_to("PUT", "/photo").is_empty());
}

#[tokio::test]
async fn missing_permissions_name_the_permission_to_grant() {
    let fake = fake_with_alice().await;
    fake.deny_photo_writes();
    let client = client_with(fake.secret_env(), &[]);
    let err = client.set_photo("id-alice", photo()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "permission-denied");
    assert!(
        err.to_string().contains("ProfilePhoto.ReadWrite.All"),
        "{err}"
    );
    fake.deny_user_reads();
    let err = client.find_user("alice@contoso.com").await.unwrap_err();
    assert!(err.to_string().contains("User.Read.All"), "{err}");
}

#[tokio::test]
async fn dry_run_resolves_users_but_never_writes() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[("PHOTOSYNC_DRY_RUN", "true")]);
    let user = client.find_user("alice@contoso.com").await.unwrap();
    assert_eq!(
        client.set_photo(&user.id, photo()).await.unwrap(),
        Written::DryRun
    );
    assert_eq!(
        client.delete_photo(&user.id).await.unwrap(),
        Written::DryRun
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.ends_with("/token"))
    );
}

#[tokio::test]
async fn no_credentials_means_no_client() {
    let settings = Settings::from_vars(Vec::<(String, String)>::new()).unwrap();
    assert!(
        GraphClient::from_settings(&settings.graph, http())
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn photo_metadata_and_removal() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[]);
    assert_eq!(client.photo_info("id-alice").await.unwrap(), None);
    client.set_photo("id-alice", photo()).await.unwrap();
    let info = client
        .photo_info("id-alice")
        .await
        .unwrap()
        .expect("a photo");
    assert_eq!((info.width, info.height), (648, 648));
    assert!(info.media_etag.is_some());
    assert_eq!(
        client.delete_photo("id-alice").await.unwrap(),
        Written::Done
    );
    assert_eq!(client.photo_info("id-alice").await.unwrap(), None);
    assert_eq!(
        client.delete_photo("id-alice").await.unwrap(),
        Written::Done,
        "already gone is fine"
    );
}

#[tokio::test]
async fn no_secret_or_token_appears_in_any_log_line() {
    let logs = crate::helpers::capture_logs();
    let from = logs.len();

    let fake = fake_with_alice().await;
    for env in [
        fake.secret_env(),
        fake.certificate_env(),
        fake.managed_identity_env(),
    ] {
        let client = client_with(env, &[]);
        client.find_user("alice@contoso.com").await.unwrap();
        client.set_photo("id-alice", photo()).await.unwrap();
        fake.expire_tokens();
        client.set_photo("id-alice", photo()).await.unwrap();
    }
    let wrong = client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_CLIENT_SECRET", "wrong~secret~zz")],
    );
    assert!(wrong.find_user("alice@contoso.com").await.is_err());

    let text = logs.text_since(from);
    assert!(text.contains("graph call"), "calls are logged: {text}");
    assert!(text.contains("token issued"), "{text}");
    // The whole capture (every test in this process so far) must be clean too.
    let text = logs.text_since(0);
    for secret in [
        CLIENT_SECRET,
        "wrong~secret~zz",
        IDENTITY_HEADER,
        "fake-access-token",
        "eyJ",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked into the logs");
    }
    // Every graph call line names method, path, status, attempt and timing.
    for line in text.lines().filter(|l| l.contains("\"graph call\"")) {
        for field in [
            "\"method\"",
            "\"path\"",
            "\"status\"",
            "\"attempt\"",
            "\"duration_ms\"",
            "\"request_id\"",
            "\"client_request_id\"",
        ] {
            assert!(line.contains(field), "{field} missing in {line}");
        }
    }
    let _ = CLIENT_ID;
}

#[tokio::test(start_paused = true)]
async fn tokens_are_renewed_before_they_expire_not_after_a_failure() {
    let fake = fake_with_alice().await;
    let client = client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600")],
    );
    client.set_photo("id-alice", photo()).await.unwrap();
    // The fake's tokens live 3599 s; 3400 s later one is within the renewal margin.
    tokio::time::advance(Duration::from_secs(3400)).await;
    client.set_photo("id-alice", photo()).await.unwrap();
    assert_eq!(fake.grants().len(), 2, "renewed ahead of expiry");
    assert!(
        fake.requests().iter().all(|r| r.status != 401),
        "no call was refused"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_outage_is_retried_then_reported_as_transient() {
    let fake = fake_with_alice().await;
    fake.inject(Route::Token, Fault::Unavailable, 1);
    let client = client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600")],
    );
    client.find_user("alice@contoso.com").await.unwrap();
    assert_eq!(fake.requests_to("POST", "/oauth2/v2.0/token").len(), 2);

    let down = fake_with_alice().await;
    down.inject(Route::Token, Fault::Unavailable, 100);
    let client = client_with(
        down.secret_env(),
        &[
            ("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600"),
            ("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "3"),
        ],
    );
    let err = client.find_user("alice@contoso.com").await.unwrap_err();
    assert_eq!(err.code().as_str(), "identity-unavailable");
    assert!(err.is_transient());
    assert_eq!(down.requests_to("POST", "/oauth2/v2.0/token").len(), 3);
}
