//! Finding the user a photo belongs to, against the fake Graph: every match
//! attribute with plain `eq` filters (no advanced query, so new hires are
//! found), ambiguity, how long lookups are remembered, and what "no photo"
//! looks like.

use std::time::Duration;

use photosync::graph::MatchBy;
use serde_json::Value;

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::graph::{client_with, fake_with_alice, photo};

#[tokio::test]
async fn every_match_by_attribute_finds_the_one_user() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser {
        employee_id: Some("E1001".into()),
        mail_nickname: Some("obrien".into()),
        ..FakeUser::new("id-obrien", "o'brien@contoso.co.uk")
    });
    fake.add_user(FakeUser {
        enabled: false,
        employee_id: Some("E2002".into()),
        ..FakeUser::new("id-left", "former@contoso.com")
    });
    let cases = [
        (
            MatchBy::UserPrincipalName,
            "O'Brien@contoso.co.uk",
            "id-obrien",
        ),
        (MatchBy::Mail, "o'brien@contoso.co.uk", "id-obrien"),
        (MatchBy::EmployeeId, "e1001", "id-obrien"),
        (MatchBy::MailNickname, "obrien", "id-obrien"),
        (MatchBy::Id, "id-obrien", "id-obrien"),
        (MatchBy::EmployeeId, "E2002", "id-left"),
    ];
    for (match_by, key, id) in cases {
        let client = client_with(
            fake.secret_env(),
            &[("PHOTOSYNC_MATCH_BY", match_by.attribute())],
        );
        let user = client
            .find_user(key)
            .await
            .unwrap_or_else(|e| panic!("{match_by:?} {key}: {e}"));
        assert_eq!(user.id, id, "{match_by:?}");
        if id == "id-left" {
            assert!(
                !user.account_enabled,
                "disabled accounts are matched and flagged"
            );
        }
        let missing = client.find_user("nobody-like-this").await.unwrap_err();
        assert_eq!(missing.code().as_str(), "user-not-found", "{match_by:?}");
        assert!(!missing.is_transient());
    }
    // The filters carried the OData-quoted key, and none of them asked for an
    // advanced query (plain `eq` is a default query on these properties).
    let filtered = fake.requests_to("GET", "/v1.0/users");
    assert!(filtered.iter().any(|r| {
        r.query
            .get("$filter")
            .is_some_and(|f| f.starts_with("employeeId eq "))
    }));
    for request in &filtered {
        assert!(
            !request.headers.contains_key("consistencylevel"),
            "{request:?}"
        );
        assert!(!request.query.contains_key("$count"), "{request:?}");
    }
    assert!(
        filtered
            .iter()
            .any(|r| r.query.get("$filter").map(String::as_str)
                == Some("mail eq 'o''brien@contoso.co.uk'"))
    );
}

#[tokio::test]
async fn two_users_with_one_key_are_ambiguous_never_guessed() {
    let fake = FakeGraph::start().await;
    for (id, upn) in [
        ("id-1", "jsmith@contoso.com"),
        ("id-2", "john.smith@contoso.com"),
    ] {
        fake.add_user(FakeUser {
            employee_id: Some("7".into()),
            ..FakeUser::new(id, upn)
        });
    }
    let client = client_with(fake.secret_env(), &[("PHOTOSYNC_MATCH_BY", "employeeId")]);
    let err = client.find_user("7").await.unwrap_err();
    assert_eq!(err.code().as_str(), "ambiguous-user");
    let text = err.to_string();
    assert!(
        text.contains("jsmith@contoso.com") && text.contains("john.smith@contoso.com"),
        "{text}"
    );
    assert!(text.contains("mapping.csv"), "{text}");
}

#[tokio::test]
async fn lookups_are_cached_within_a_run() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[]);
    for _ in 0..3 {
        client.find_user("alice@contoso.com").await.unwrap();
        assert_eq!(
            client
                .find_user("ghost@contoso.com")
                .await
                .unwrap_err()
                .code()
                .as_str(),
            "user-not-found"
        );
    }
    assert_eq!(fake.requests_to("GET", "/v1.0/users/").len(), 2);
}

#[tokio::test]
async fn an_employee_id_match_works_without_consistency_level() {
    let fake = FakeGraph::start().await;
    // Created a moment ago: advanced (eventual) queries do not see it yet.
    fake.add_new_hire(FakeUser {
        employee_id: Some("E7788".into()),
        ..FakeUser::new("id-new", "new.hire@contoso.com")
    });
    let client = client_with(fake.secret_env(), &[("PHOTOSYNC_MATCH_BY", "employeeId")]);
    let user = client.find_user("E7788").await.unwrap();
    assert_eq!(user.id, "id-new");
    let lookup = &fake.requests_to("GET", "/v1.0/users")[0];
    assert_eq!(lookup.query["$filter"], "employeeId eq 'e7788'");
    assert!(!lookup.headers.contains_key("consistencylevel"));
    assert!(!lookup.query.contains_key("$count"));
}

/// The fake itself: like Graph, `$count` and operators other than `eq` need
/// the advanced-query headers, and those read an index without new hires.
#[tokio::test]
async fn the_fake_answers_advanced_queries_only_with_consistency_level() {
    let fake = FakeGraph::start().await;
    fake.add_new_hire(FakeUser {
        employee_id: Some("E1".into()),
        ..FakeUser::new("id-new", "new@contoso.com")
    });
    let token = fake.mint_token(&fake.url);
    let http = reqwest::Client::new();
    let get = |query: &[(&str, &str)], eventual: bool| {
        let mut request = http
            .get(format!("{}/v1.0/users", fake.url))
            .bearer_auth(&token)
            .query(query);
        if eventual {
            request = request.header("ConsistencyLevel", "eventual");
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let plain = [("$filter", "employeeId eq 'E1'")];
    let (status, body) = get(&plain, false).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    let counted = [("$filter", "employeeId eq 'E1'"), ("$count", "true")];
    assert_eq!(get(&counted, false).await.0, 400);
    let (status, body) = get(&counted, true).await;
    assert_eq!(status, 200);
    assert_eq!(body["@odata.count"], 0, "the eventual index lags: {body}");
    let ne = [("$filter", "employeeId ne 'E1'")];
    let (status, body) = get(&ne, false).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
}

#[tokio::test(start_paused = true)]
async fn not_found_is_not_remembered_past_the_run_or_for_long() {
    let fake = fake_with_alice().await;
    let client = client_with(
        fake.secret_env(),
        &[("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "600")],
    );
    let lookups = || fake.requests_to("GET", "/v1.0/users/bob").len();
    assert_eq!(
        client
            .find_user("bob@contoso.com")
            .await
            .unwrap_err()
            .code()
            .as_str(),
        "user-not-found"
    );
    fake.add_user(FakeUser::new("id-bob", "bob@contoso.com"));
    // Within the same burst the miss is reused…
    assert!(client.find_user("bob@contoso.com").await.is_err());
    assert_eq!(lookups(), 1);
    // …a new run asks again…
    client.forget_users().await;
    assert_eq!(
        client.find_user("bob@contoso.com").await.unwrap().id,
        "id-bob"
    );
    assert_eq!(lookups(), 2);

    // …and so does a later trigger in a long-lived process, after a minute.
    assert!(client.find_user("carol@contoso.com").await.is_err());
    fake.add_user(FakeUser::new("id-carol", "carol@contoso.com"));
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(
        client.find_user("carol@contoso.com").await.unwrap().id,
        "id-carol"
    );
    // A user found is reused longer.
    client.find_user("carol@contoso.com").await.unwrap();
    assert_eq!(fake.requests_to("GET", "/v1.0/users/carol").len(), 2);
}

#[tokio::test]
async fn a_one_by_one_placeholder_means_no_photo() {
    let fake = fake_with_alice().await;
    let client = client_with(fake.secret_env(), &[]);
    client.set_photo("id-alice", photo()).await.unwrap();
    assert!(client.photo_info("id-alice").await.unwrap().is_some());
    fake.set_placeholder_photo("id-alice");
    assert_eq!(client.photo_info("id-alice").await.unwrap(), None);
}
