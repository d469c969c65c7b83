//! The Reconcile summary in Teams (`PHOTOSYNC_NOTIFY_WEBHOOK`): one card
//! after a run that did something, none after a run that did nothing,
//! problems grouped by cause, and the webhook's signature in no log line.

use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::fakes::webhook::{FakeWebhook, SIGNATURE};
use crate::helpers::{jpeg, spawn_app_with};
use crate::reconcile::reconcile;

fn text(card: &Value) -> String {
    card.to_string()
}

#[tokio::test]
async fn a_run_that_did_something_posts_one_card_and_a_quiet_run_none() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-0", "user0@contoso.com"));
    let hook = FakeWebhook::start().await;
    let app = spawn_app_with(
        &fake.secret_env(),
        &[("PHOTOSYNC_NOTIFY_WEBHOOK", hook.url.as_str())],
    )
    .await;
    app.upload("user0@contoso.com.jpg", &jpeg(300, 300)).await;
    app.upload("nobody@contoso.com.jpg", &jpeg(300, 300)).await;
    app.upload("ghost@contoso.com.jpg", &jpeg(300, 300)).await;

    reconcile(&app).await;
    let cards = hook.cards();
    assert_eq!(cards.len(), 1, "{cards:#?}");
    let card = text(&cards[0]);
    assert!(
        card.contains("3 photo(s) worked on, 2 need attention"),
        "{card}"
    );
    assert!(
        card.contains("**user-not-found** × 2"),
        "grouped by cause: {card}"
    );
    assert!(
        !card.contains("nobody@contoso.com"),
        "no people in a channel: {card}"
    );
    assert!(!card.contains(crate::fakes::graph::CLIENT_SECRET), "{card}");

    reconcile(&app).await;
    assert_eq!(hook.cards().len(), 1, "nothing changed: no second card");
    let leaked: Vec<String> = app
        .logs()
        .into_iter()
        .filter(|l| l.contains(SIGNATURE))
        .collect();
    assert!(leaked.is_empty(), "{leaked:#?}");
}

#[tokio::test]
async fn a_webhook_that_is_not_https_is_refused_without_repeating_it() {
    let (status, _, err) = crate::helpers::run_binary(
        &["reconcile"],
        &[(
            "PHOTOSYNC_NOTIFY_WEBHOOK",
            "http://teams.example.com/hook?sig=s3cr3t-signature",
        )],
    );
    assert!(!status.success());
    assert!(err.contains("PHOTOSYNC_NOTIFY_WEBHOOK"), "{err}");
    assert!(!err.contains("s3cr3t-signature"), "{err}");
}
