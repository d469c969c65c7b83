//! The SharePoint target through the real binary: pictures and properties,
//! account-name escaping, the certificate requirement, retries that never
//! upload to Graph twice, and no calls when the target is off.

use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Record, Status};
use serde_json::{Value, json};

use crate::fakes::graph::{FakeGraph, FakeUser, Fault, Route};
use crate::helpers::{TestApp, jpeg, pairs, run_binary, spawn_app_with};

async fn start(users: &[&str], extra: &[(&str, &str)]) -> (TestApp, FakeGraph) {
    let fake = FakeGraph::start().await;
    for upn in users {
        fake.add_user(FakeUser::new(&format!("id-{upn}"), upn));
    }
    let mut env = fake.certificate_env();
    env.extend(fake.sharepoint_env());
    (spawn_app_with(&env, extra).await, fake)
}

/// Uploads and delivers the blob as the host would; returns the HTTP status.
async fn drop_photo(app: &TestApp, name: &str) -> u16 {
    let bytes = jpeg(700, 700);
    app.upload(name, &bytes).await;
    let body = crate::host::blob_body(name, &bytes);
    app.invoke("PhotoUploaded", "inv-sp", body.to_string())
        .await
        .status()
        .as_u16()
}

async fn record(app: &TestApp, name: &str) -> Record {
    Ledger::new(app.stores.state.clone())
        .get(&PhotoName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap()
        .record
}

fn size_of(jpeg: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(jpeg).unwrap();
    (img.width(), img.height())
}

#[tokio::test]
async fn pictures_and_profile_properties_are_written_for_a_user() {
    let (app, fake) = start(&["alice@contoso.com"], &[]).await;
    assert_eq!(drop_photo(&app, "alice@contoso.com.jpg").await, 200);

    for (file, edge) in [("SThumb", 48), ("MThumb", 72), ("LThumb", 200)] {
        let jpeg = fake
            .sp_file(&format!("alice_contoso_com_{file}.jpg"))
            .unwrap_or_else(|| panic!("{file} missing"));
        assert_eq!(size_of(&jpeg), (edge, edge), "{file}");
    }
    let properties = fake.sp_properties();
    let value = |name: &str| {
        properties
            .iter()
            .find(|(account, property, _)| {
                account == "i:0#.f|membership|alice@contoso.com" && property == name
            })
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} not set: {properties:?}"))
    };
    assert_eq!(
        value("PictureURL"),
        format!(
            "{}/sp-my/User%20Photos/Profile%20Pictures/alice_contoso_com_MThumb.jpg",
            fake.url
        )
    );
    assert_eq!(value("SPS-PicturePlaceholderState"), "0");
    assert_eq!(value("SPS-PictureExchangeSyncState"), "0");
    assert!(value("SPS-PictureTimestamp").parse::<i64>().is_ok());

    let record = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(record.status, Status::Synced);
    assert_eq!(record.sharepoint.unwrap().status, Status::Synced);
    // The SharePoint-only sizes are not thumbnails for other apps.
    assert!(
        app.stores
            .thumbnails
            .head("alice@contoso.com/72x72.jpg")
            .await
            .is_err()
    );
    assert!(
        app.stores
            .thumbnails
            .head("alice@contoso.com/648x648.jpg")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn account_names_are_escaped() {
    let (app, fake) = start(&["o'brien@contoso.co.uk"], &[]).await;
    assert_eq!(drop_photo(&app, "o'brien@contoso.co.uk.jpg").await, 200);
    assert!(fake.sp_file("o'brien_contoso_co_uk_SThumb.jpg").is_some());
    assert!(
        fake.sp_properties()
            .iter()
            .any(|(a, p, v)| a == "i:0#.f|membership|o'brien@contoso.co.uk"
                && p == "PictureURL"
                && v.ends_with("/o'brien_contoso_co_uk_MThumb.jpg"))
    );
}

#[tokio::test]
async fn a_client_secret_alone_is_one_clear_configuration_error() {
    let fake = FakeGraph::start().await;
    let mut env = fake.secret_env();
    env.extend(fake.sharepoint_env());
    let (status, _, stderr) = run_binary(&["serve"], &pairs(&env));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sharepoint-needs-certificate"), "{stderr}");
    assert!(
        stderr.contains("PHOTOSYNC_CLIENT_CERTIFICATE_PATH"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_sharepoint_outage_is_retried_later_without_a_second_graph_upload() {
    let (app, fake) = start(
        &["alice@contoso.com"],
        &[("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "1")],
    )
    .await;
    fake.inject(Route::SharePoint, Fault::Unavailable, 1);
    assert_eq!(
        drop_photo(&app, "alice@contoso.com.jpg").await,
        500,
        "the host retries"
    );
    let first = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(first.status, Status::Synced, "Graph has it");
    let sharepoint = first.sharepoint.clone().unwrap();
    assert_eq!(sharepoint.status, Status::Retrying);
    assert_eq!(
        sharepoint.problem.unwrap().code.as_str(),
        "sharepoint-unavailable"
    );

    // The timer picks it up once due.
    let ledger = Ledger::new(app.stores.state.clone());
    let name = PhotoName::parse("alice@contoso.com.jpg").unwrap();
    let mut current = ledger.get(&name).await.unwrap().unwrap();
    current.record.sharepoint.as_mut().unwrap().next_attempt = Some(chrono::Utc::now());
    ledger
        .put(&current.record, Some(&current.etag))
        .await
        .unwrap();
    let tick =
        json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    let answer: Value = app
        .invoke("Reconcile", "inv-t", tick.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert!(
        answer["Logs"][0].as_str().unwrap().contains("1 worked on"),
        "{answer}"
    );

    assert_eq!(
        fake.requests_to("PUT", "/photo/$value").len(),
        1,
        "one Graph upload only"
    );
    assert!(fake.sp_file("alice_contoso_com_MThumb.jpg").is_some());
    let after = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(after.sharepoint.unwrap().status, Status::Synced);
}

#[tokio::test]
async fn with_the_target_off_sharepoint_is_never_called() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-alice", "alice@contoso.com"));
    let env = fake.certificate_env();
    let app = spawn_app_with(&env, &[]).await;
    assert_eq!(drop_photo(&app, "alice@contoso.com.jpg").await, 200);
    assert!(fake.photo("id-alice").is_some());
    assert!(fake.requests().iter().all(|r| !r.path.starts_with("/sp-")));
    assert!(
        record(&app, "alice@contoso.com.jpg")
            .await
            .sharepoint
            .is_none()
    );
}
