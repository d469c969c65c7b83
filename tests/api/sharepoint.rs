//! The SharePoint target through the real binary: pictures and properties on
//! two hosts with a token each, account-name escaping, the certificate
//! requirement, retries that never upload to Graph twice, configuration
//! problems reported once, and no calls when the target is off.

use photosync::sync::PhotoName;
use photosync::sync::ledger::{Ledger, Record, Status};
use serde_json::{Value, json};

use crate::fakes::graph::{FakeGraph, FakeUser, Fault, Route, Service};
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
pub(crate) async fn drop_photo(app: &TestApp, name: &str) -> u16 {
    let bytes = jpeg(700, 700);
    app.upload(name, &bytes).await;
    let body = crate::host::blob_body(name, &bytes);
    app.invoke("PhotoUploaded", "inv-sp", body.to_string())
        .await
        .status()
        .as_u16()
}

pub(crate) async fn record(app: &TestApp, name: &str) -> Record {
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
            "{}/User%20Photos/Profile%20Pictures/alice_contoso_com_MThumb.jpg",
            fake.mysite_url
        )
    );
    assert_eq!(value("SPS-PicturePlaceholderState"), "0");
    assert_eq!(value("SPS-PictureExchangeSyncState"), "0");
    // .NET-epoch seconds (since 0001-01-01), within a minute of now.
    let timestamp: i64 = value("SPS-PictureTimestamp").parse().unwrap();
    let now = chrono::Utc::now().timestamp() + 62_135_596_800;
    assert!((now - timestamp).abs() < 60, "{timestamp} vs {now}");

    // One token per host, from one provider, all certificate-backed.
    let mut resources: Vec<String> = fake.grants().iter().map(|g| g.resource.clone()).collect();
    resources.sort();
    let mut expected = vec![
        fake.url.clone(),
        fake.mysite_url.clone(),
        fake.admin_url.clone(),
    ];
    expected.sort();
    assert_eq!(resources, expected);
    assert!(fake.grants().iter().all(|g| g.credential == "certificate"));
    assert!(
        fake.photo("id-alice@contoso.com").is_some(),
        "Graph has the photo"
    );
    // Files went to the My Site host, properties to the admin host.
    assert_eq!(fake.requests_on(Service::MySite).len(), 3);
    assert_eq!(fake.requests_on(Service::Admin).len(), 4);
    // Every request, Entra's included, is decorated as SharePoint asks.
    for request in fake.requests() {
        let agent = request.headers["user-agent"].to_str().unwrap();
        assert!(
            agent.starts_with("ISV|photosync|photosync/"),
            "{agent}: {request:?}"
        );
    }

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
    let (line, _) = reconcile(&app).await;
    assert!(line.contains("1 worked on"), "{line}");

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
    assert!(fake.requests().iter().all(|r| r.service == Service::Graph));
    assert!(
        record(&app, "alice@contoso.com.jpg")
            .await
            .sharepoint
            .is_none()
    );
}

/// Posts a picture to the My Site host or a property to the admin host with
/// `token`; returns the status and `x-ms-diagnostics`.
async fn post_with(fake: &FakeGraph, host: Service, token: &str) -> (u16, String) {
    let url = match host {
        Service::MySite => format!(
            "{}/_api/web/GetFolderByServerRelativeUrl('/User%20Photos/Profile%20Pictures')/Files/add(url='a_SThumb.jpg',overwrite=true)",
            fake.mysite_url
        ),
        _ => format!(
            "{}/_api/SP.UserProfiles.PeopleManager/SetSingleValueProfileProperty",
            fake.admin_url
        ),
    };
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .body(r#"{"accountName":"i:0#.f|membership|alice@contoso.com","propertyName":"x","propertyValue":"y"}"#)
        .send()
        .await
        .unwrap();
    let diagnostics = response
        .headers()
        .get("x-ms-diagnostics")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), diagnostics)
}

#[tokio::test]
async fn each_host_refuses_a_token_minted_for_the_other() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-alice", "alice@contoso.com"));
    let for_mysite = fake.mint_token(&fake.mysite_url);
    let for_admin = fake.mint_token(&fake.admin_url);
    for (host, wrong, right) in [
        (Service::MySite, &for_admin, &for_mysite),
        (Service::Admin, &for_mysite, &for_admin),
    ] {
        let (status, diagnostics) = post_with(&fake, host, wrong).await;
        assert_eq!(status, 401, "{host:?}");
        assert!(
            diagnostics.contains("Invalid audience Uri"),
            "{diagnostics}"
        );
        assert_eq!(post_with(&fake, host, right).await.0, 200, "{host:?}");
    }
}

async fn start_many(count: usize, extra: &[(&str, &str)]) -> (TestApp, FakeGraph, Vec<String>) {
    let upns: Vec<String> = (0..count).map(|i| format!("user{i}@contoso.com")).collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let (app, fake) = start(&refs, extra).await;
    for upn in &upns {
        app.upload(&format!("{upn}.jpg"), &jpeg(300, 300)).await;
    }
    (app, fake, upns)
}

/// Runs the timer as the host would: its log line and the JSON report.
async fn reconcile(app: &TestApp) -> (String, Value) {
    let tick =
        json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    let answer: Value = app
        .invoke("Reconcile", "inv-t", tick.to_string())
        .await
        .json()
        .await
        .unwrap();
    let line = answer["Logs"][0].as_str().unwrap_or_default().to_owned();
    assert!(line.contains("reconcile:"), "{answer}");
    let report = app.stores.state.get("reports/latest.json").await.unwrap();
    (line, serde_json::from_slice(&report.bytes).unwrap())
}

#[tokio::test]
async fn access_denied_on_the_admin_host_is_one_configuration_problem() {
    let (app, fake, upns) = start_many(20, &[]).await;
    fake.deny_sharepoint(Service::Admin);
    let (_, report) = reconcile(&app).await;

    let configuration = report["configuration"].as_array().unwrap();
    assert_eq!(configuration.len(), 1, "{report:#}");
    assert_eq!(configuration[0]["code"], "sharepoint-access-denied");
    assert_eq!(configuration[0]["target"], "sharepoint");
    assert_eq!(configuration[0]["photos"], 20);
    let advice = configuration[0]["advice"].as_str().unwrap();
    assert!(advice.contains("Sites.FullControl.All") && advice.contains("User.ReadWrite.All"));
    assert_eq!(report["targets"]["graph"]["synced"], 20);
    assert_eq!(report["targets"]["sharepoint"]["failed"], 20);

    // The first user's three pictures, then one refused property; the other
    // nineteen users are answered from memory.
    let (mysite, admin) = (
        fake.requests_on(Service::MySite).len(),
        fake.requests_on(Service::Admin).len(),
    );
    assert!(
        mysite + admin <= 5,
        "{mysite} + {admin} SharePoint requests for one refusal"
    );
    assert_eq!((mysite, admin), (3, 1), "asked once, not retried");
    for upn in &upns {
        assert!(
            fake.photo(&format!("id-{upn}")).is_some(),
            "Graph has {upn}"
        );
    }
    let html = app.stores.state.get("reports/latest.html").await.unwrap();
    let page = String::from_utf8(html.bytes.to_vec()).unwrap();
    assert!(page.contains("Configuration problems (1)"), "{page}");
    assert!(
        page.contains("Needs attention (0)"),
        "listed once, not per photo"
    );
}

#[tokio::test]
async fn a_user_without_a_profile_fails_alone_without_retries() {
    let (app, fake) = start(&["alice@contoso.com", "bob@contoso.com"], &[]).await;
    fake.without_sharepoint_profile("bob@contoso.com");
    assert_eq!(
        drop_photo(&app, "bob@contoso.com.jpg").await,
        200,
        "permanent: no host retry"
    );
    assert_eq!(drop_photo(&app, "alice@contoso.com.jpg").await, 200);

    let bob = record(&app, "bob@contoso.com.jpg").await;
    assert_eq!(bob.status, Status::Synced, "Graph has it");
    let sharepoint = bob.sharepoint.unwrap();
    assert_eq!(sharepoint.status, Status::Failed);
    assert_eq!(
        sharepoint.problem.unwrap().code.as_str(),
        "sharepoint-profile-missing"
    );
    let bob_properties = fake
        .requests_on(Service::Admin)
        .into_iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(bob_properties, 1, "one answer is enough");
    let alice = record(&app, "alice@contoso.com.jpg").await;
    assert_eq!(alice.sharepoint.unwrap().status, Status::Synced);
}

#[tokio::test]
async fn the_localised_library_is_a_setting_and_a_wrong_one_names_it() {
    let (app, fake) = start(&["alice@contoso.com"], &[]).await;
    fake.set_sharepoint_library("/User Photos/Profielafbeeldingen");
    assert_eq!(drop_photo(&app, "alice@contoso.com.jpg").await, 200);
    let problem = record(&app, "alice@contoso.com.jpg")
        .await
        .sharepoint
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.code.as_str(), "sharepoint-library-missing");
    assert!(
        problem
            .message
            .contains("PHOTOSYNC_SHAREPOINT_LIBRARY_PATH"),
        "{}",
        problem.message
    );
    drop(app);

    let mut env = fake.certificate_env();
    env.extend(fake.sharepoint_env());
    let dutch = spawn_app_with(
        &env,
        &[(
            "PHOTOSYNC_SHAREPOINT_LIBRARY_PATH",
            "/User Photos/Profielafbeeldingen",
        )],
    )
    .await;
    assert_eq!(drop_photo(&dutch, "alice@contoso.com.jpg").await, 200);
    let state = record(&dutch, "alice@contoso.com.jpg")
        .await
        .sharepoint
        .unwrap();
    assert_eq!(state.status, Status::Synced, "{state:?}");
    assert!(
        fake.sp_properties()
            .iter()
            .any(|(_, p, v)| p == "PictureURL"
                && v.ends_with("/User%20Photos/Profielafbeeldingen/alice_contoso_com_MThumb.jpg"))
    );
}
