//! `photosync doctor` as a new admin runs it: one line per check, ✓ or ✗
//! with the fix, exit 0 only when nothing is to fix; and the Reconcile's own
//! grant check: a missing Graph permission is one report line, and photos
//! that failed for it sync by themselves once it is granted.
//!
//! The Graph fake issues Graph tokens shaped as Entra's app-only tokens: a
//! JWT whose `roles` claim lists the granted application permissions (left
//! out when none are: learn.microsoft.com/entra/identity-platform/
//! access-token-claims-reference), and refuses a call whose token lacks the
//! permission the API's permissions table asks for (see `fakes::graph`).

use crate::fakes::graph::{CLIENT_SECRET, FakeGraph, FakeUser};
use crate::helpers::{deployment, jpeg, photosync};

fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
}

#[tokio::test]
async fn a_healthy_deployment_is_all_ticks() {
    let fake = FakeGraph::start().await;
    let (env, _stores) = deployment(&fake).await;
    let (code, out, err) = photosync(&["doctor"], env).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains('✗'), "{out}");
    for start in [
        "✓ settings",
        "✓ storage: Azurite",
        "✓ Microsoft Graph: token obtained (client secret)",
        "✓ Graph permissions: ProfilePhoto.ReadWrite.All, User.Read.All",
        "✓ photo update policy: cloud",
        "– SharePoint: not configured",
    ] {
        line(&out, start);
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with("✓ container")).count(),
        3,
        "{out}"
    );
    assert!(!out.contains(CLIENT_SECRET) && !err.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn each_thing_to_fix_is_one_cross_with_its_fix() {
    let fake = FakeGraph::start().await;
    fake.set_app_roles(&["User.Read.All", "PeopleSettings.Read.All"]);
    fake.set_policy("onPremises");
    let (mut env, _stores) = deployment(&fake).await;
    env.push(("PHOTOSYNC_CROPP".into(), "face".into()));
    for (k, v) in &mut env {
        if k == "PHOTOSYNC_STATE_CONTAINER" {
            *v = format!("{v}-never-created");
        }
    }
    let (code, out, err) = photosync(&["doctor"], env).await;
    assert_eq!(code, 1, "{out}\n{err}");

    let typo = line(&out, "✗ setting PHOTOSYNC_CROPP");
    assert!(typo.contains("did you mean PHOTOSYNC_CROP"), "{typo}");
    assert!(out.contains("rename it to PHOTOSYNC_CROP"), "{out}");

    let state = line(&out, "✗ container `t");
    assert!(
        state.contains("never-created") && state.contains("does not exist"),
        "{state}"
    );
    assert!(out.contains("photosync init"), "{out}");

    let grant = line(&out, "✗ Graph permissions");
    assert!(
        grant.contains("lacks ProfilePhoto.ReadWrite.All"),
        "{grant}"
    );
    assert!(
        !grant.contains("User.Read.All"),
        "granted, so not named: {grant}"
    );
    // The command to run, for this app registration.
    assert!(
        out.contains(&format!(
            "principal=$(az ad sp show --id {} --query id -o tsv)",
            crate::fakes::graph::CLIENT_ID
        )),
        "{out}"
    );
    assert!(
        out.contains("for permission in ProfilePhoto.ReadWrite.All; do"),
        "{out}"
    );

    line(&out, "✗ photo update policy: `onPremises`");
    assert!(!out.contains(CLIENT_SECRET) && !err.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn settings_that_do_not_load_are_a_cross_not_a_usage_error() {
    let (code, out, _) = photosync(
        &["doctor"],
        vec![("PHOTOSYNC_JPEG_QUALITY".into(), "500".into())],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    let settings = line(&out, "✗ settings:");
    assert!(out.contains("PHOTOSYNC_JPEG_QUALITY"), "{settings}\n{out}");
}

#[tokio::test]
async fn a_missing_grant_is_reported_once_and_its_photos_sync_once_granted() {
    let fake = FakeGraph::start().await;
    for i in 0..3 {
        fake.add_user(FakeUser::new(
            &format!("id-{i}"),
            &format!("user{i}@contoso.com"),
        ));
    }
    fake.set_app_roles(&["User.Read.All"]);
    let (env, stores) = deployment(&fake).await;
    for i in 0..3 {
        stores
            .photos
            .put(
                &format!("user{i}@contoso.com.jpg"),
                jpeg(300, 300).into(),
                &Default::default(),
                photosync::store::WriteMode::Overwrite,
            )
            .await
            .unwrap();
    }

    let (code, out, err) = photosync(&["reconcile"], env.clone()).await;
    assert_eq!(code, 1, "photos failed: {out}\n{err}");
    // One error line for the grant (with the command), not one per photo.
    let grant_lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("appRoleAssignments"))
        .collect();
    assert_eq!(grant_lines.len(), 1, "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&stores.state.get("reports/latest.json").await.unwrap().bytes)
            .unwrap();
    let configuration = report["configuration"].as_array().unwrap();
    assert_eq!(configuration.len(), 1, "{report:#}");
    assert_eq!(configuration[0]["code"], "permission-denied");
    assert_eq!(configuration[0]["photos"], 3);
    assert!(
        configuration[0]["message"]
            .as_str()
            .unwrap()
            .contains("lacks ProfilePhoto.ReadWrite.All"),
        "{report:#}"
    );
    assert_eq!(fake.photo("id-0"), None);

    // The admin grants it; a new process has a new token.
    fake.set_app_roles(&["User.Read.All", "ProfilePhoto.ReadWrite.All"]);
    let (code, out, err) = photosync(&["reconcile"], env.clone()).await;
    assert_eq!(code, 0, "{out}\n{err}");
    for i in 0..3 {
        assert!(fake.photo(&format!("id-{i}")).is_some(), "user{i}: {err}");
    }
    let writes = fake.requests_to("PUT", "/photo/$value").len();

    // Synced now; the next run has nothing to redo.
    let (code, _, err) = photosync(&["reconcile"], env).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(fake.requests_to("PUT", "/photo/$value").len(), writes);
}
