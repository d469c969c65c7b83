//! What the template creates: storage, the app, roles, settings, Event Grid, outputs.

#[allow(unused_imports)]
use super::*;

#[test]
fn storage_is_https_only_tls12_private_and_keyless_on_flex() {
    let t = template();
    let account = one_of_type(&t, "Microsoft.Storage/storageAccounts");
    let p = &account["properties"];
    assert_eq!(p["supportsHttpsTrafficOnly"], true);
    assert_eq!(p["minimumTlsVersion"], "TLS1_2");
    assert_eq!(p["allowBlobPublicAccess"], false);
    assert_eq!(p["allowCrossTenantReplication"], false);
    assert_eq!(p["defaultToOAuthAuthentication"], true);
    // Shared keys are off wherever the plan allows: Flex needs none; the
    // classic plans' content share (Azure Files) cannot use an identity.
    let (mut flex, mut classic) = (Evaluator::new(&t), Evaluator::new(&t));
    classic.set("hostingPlan", json!("Consumption"));
    assert_eq!(flex.eval_value(&p["allowSharedKeyAccess"]).unwrap(), false);
    assert_eq!(
        classic.eval_value(&p["allowSharedKeyAccess"]).unwrap(),
        true
    );

    // The three containers, private, with the names the app settings use.
    let containers = of_type(
        &t,
        "Microsoft.Storage/storageAccounts/blobServices/containers",
    );
    let names: BTreeSet<String> = containers
        .iter()
        .filter(|c| c.get("copy").is_some())
        .flat_map(|c| {
            let count = flex
                .eval_value(&c["copy"]["count"])
                .unwrap()
                .as_u64()
                .unwrap();
            (0..count)
                .map(|i| {
                    flex.copy_index = Some(i);
                    let name = flex.eval_value(&c["name"]).unwrap();
                    flex.copy_index = None;
                    name.as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: BTreeSet<String> = ["photos", "thumbnails", "photosync"]
        .map(String::from)
        .into();
    assert_eq!(names, expected);
    for container in containers {
        assert_eq!(container["properties"]["publicAccess"], "None");
    }
}

#[test]
fn the_function_app_is_a_linux_custom_handler_with_a_managed_identity() {
    let t = template();
    let site = one_of_type(&t, "Microsoft.Web/sites");
    assert_eq!(site["kind"], "functionapp,linux");
    assert_eq!(site["identity"]["type"], "SystemAssigned");
    let p = &site["properties"];
    assert_eq!(p["reserved"], true);
    assert_eq!(p["httpsOnly"], true);
    assert_eq!(p["siteConfig"]["minTlsVersion"], "1.2");
    assert_eq!(p["siteConfig"]["ftpsState"], "Disabled");

    // Flex: functionAppConfig with the custom runtime and identity-authenticated
    // deployment storage; the classic plans get none of it.
    let mut flex = Evaluator::new(&t);
    let config = flex.eval_value(&p["functionAppConfig"]).unwrap();
    assert_eq!(config["runtime"]["name"], "custom");
    assert_eq!(config["deployment"]["storage"]["type"], "blobContainer");
    assert_eq!(
        config["deployment"]["storage"]["authentication"]["type"],
        "SystemAssignedIdentity"
    );
    let package_container = config["deployment"]["storage"]["value"].as_str().unwrap();
    assert!(
        package_container.starts_with("https://photosynctest.blob.core.windows.net/"),
        "{package_container}"
    );
    assert!(config["scaleAndConcurrency"]["instanceMemoryMB"].is_i64());
    let mut classic = Evaluator::new(&t);
    classic.set("hostingPlan", json!("ElasticPremium"));
    assert_eq!(
        classic.eval_value(&p["functionAppConfig"]).unwrap(),
        Value::Null
    );

    let plan = one_of_type(&t, "Microsoft.Web/serverfarms");
    for (hosting, sku) in [
        ("FlexConsumption", "FC1"),
        ("Consumption", "Y1"),
        ("ElasticPremium", "EP1"),
    ] {
        let mut e = Evaluator::new(&t);
        e.set("hostingPlan", json!(hosting));
        assert_eq!(
            e.eval_value(&plan["sku"]).unwrap()["name"],
            sku,
            "{hosting}"
        );
    }
    assert_eq!(plan["properties"]["reserved"], true, "Linux plan");

    // Basic-auth publishing (FTP, SCM) is off: deployments use Entra ID.
    let policies = of_type(&t, "Microsoft.Web/sites/basicPublishingCredentialsPolicies");
    assert_eq!(policies.len(), 2);
    assert!(policies.iter().all(|p| p["properties"]["allow"] == false));
}

/// Role definition ids of the built-in roles the app needs, and why.
const STORAGE_BLOB_DATA_OWNER: &str = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
const STORAGE_QUEUE_DATA_CONTRIBUTOR: &str = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
const STORAGE_TABLE_DATA_CONTRIBUTOR: &str = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";

#[test]
fn the_managed_identity_gets_exactly_the_data_roles_it_needs() {
    let t = template();
    let mut e = Evaluator::new(&t);
    let mut granted = BTreeMap::new();
    for assignment in of_type(&t, "Microsoft.Authorization/roleAssignments") {
        let p = &assignment["properties"];
        assert_eq!(p["principalType"], "ServicePrincipal");
        let principal = p["principalId"].as_str().unwrap();
        assert!(
            principal.contains("resourceId('Microsoft.Web/sites'")
                && principal.contains("identity.principalId"),
            "role assigned to something other than the app's identity: {principal}"
        );
        let scope = e.eval_value(&assignment["scope"]).unwrap();
        let count = match assignment["copy"]["count"].as_str() {
            Some(_) => e
                .eval_value(&assignment["copy"]["count"])
                .unwrap()
                .as_u64()
                .unwrap(),
            None => 1,
        };
        for i in 0..count {
            e.copy_index = assignment.get("copy").map(|_| i);
            let role = e.eval_value(&p["roleDefinitionId"]).unwrap();
            let role = role
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            granted.insert(role, scope.as_str().unwrap().to_owned());
        }
        e.copy_index = None;
    }
    let storage = "Microsoft.Storage/storageAccounts/photosynctest";
    let expected = BTreeMap::from([
        (STORAGE_BLOB_DATA_OWNER.to_owned(), storage.to_owned()),
        (
            STORAGE_QUEUE_DATA_CONTRIBUTOR.to_owned(),
            storage.to_owned(),
        ),
        (
            STORAGE_TABLE_DATA_CONTRIBUTOR.to_owned(),
            storage.to_owned(),
        ),
        (
            MONITORING_METRICS_PUBLISHER.to_owned(),
            "Microsoft.Insights/components/photosync-test-insights".to_owned(),
        ),
    ]);
    assert_eq!(granted, expected, "no broader role, no wider scope");
}

#[test]
fn app_settings_wire_the_functions_to_identity_based_storage() {
    let t = template();
    let mut e = Evaluator::new(&t);
    let settings = e.app_settings();

    // Host storage and the blob trigger's connection, both by identity.
    assert_eq!(
        settings["AzureWebJobsStorage__accountName"],
        "photosynctest"
    );
    let trigger = function_bindings(PHOTO_UPLOADED_JSON);
    let connection = trigger["connection"].as_str().unwrap();
    assert_eq!(
        settings[&format!("{connection}__blobServiceUri")],
        "https://photosynctest.blob.core.windows.net"
    );
    assert_eq!(
        settings[&format!("{connection}__queueServiceUri")],
        "https://photosynctest.queue.core.windows.net",
        "the host's poison queue for the blob trigger"
    );
    // Every %SETTING% the function definitions use is set.
    for definition in [PHOTO_UPLOADED_JSON, RECONCILE_JSON] {
        let binding = function_bindings(definition);
        for value in binding.as_object().unwrap().values() {
            let Some(text) = value.as_str() else { continue };
            for name in text.split('%').skip(1).step_by(2) {
                assert!(
                    settings.contains_key(name),
                    "{name} is not set by the template"
                );
            }
        }
    }
    assert_eq!(settings["PHOTOSYNC_PHOTOS_CONTAINER"], "photos");
    assert_eq!(
        settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"],
        "Authorization=AAD"
    );
    assert!(settings.contains_key("APPLICATIONINSIGHTS_CONNECTION_STRING"));
    // No secret and no connection string for photosync or the host on Flex.
    for (name, value) in &settings {
        assert!(!value.contains("AccountKey"), "{name} carries a key");
        assert!(!name.starts_with("WEBSITE_CONTENT"), "{name} on Flex");
        assert!(
            !["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"].contains(&name.as_str()),
            "{name} is deprecated on Flex (functionAppConfig.runtime replaces it)"
        );
    }
    assert!(!settings.contains_key("PHOTOSYNC_STORAGE"));
    assert!(!settings.contains_key("AzureWebJobsStorage"));

    // The classic plans add the worker runtime and the content share.
    let mut classic = Evaluator::new(&t);
    classic.set("hostingPlan", json!("Consumption"));
    classic.set(
        "packageUri",
        json!("https://example.org/photosync-polling.zip"),
    );
    let classic_settings = classic.app_settings();
    assert_eq!(classic_settings["FUNCTIONS_WORKER_RUNTIME"], "custom");
    assert_eq!(classic_settings["FUNCTIONS_EXTENSION_VERSION"], "~4");
    assert_eq!(
        classic_settings["WEBSITE_RUN_FROM_PACKAGE"],
        "https://example.org/photosync-polling.zip"
    );
    assert!(classic_settings.contains_key("WEBSITE_CONTENTSHARE"));
    assert!(classic_settings.contains_key("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"));
}

#[tokio::test]
async fn the_handler_starts_with_the_app_settings_the_template_sets() {
    // Every value is validated at start-up, so a setting the template gets
    // wrong would stop the app in Azure; here it must start and pick the
    // identity-based connection for photos.
    let t = template();
    let settings = Evaluator::new(&t).app_settings();
    let env: Vec<(&str, &str)> = settings
        .iter()
        .filter(|(name, _)| !name.starts_with("APPLICATIONINSIGHTS"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut app = spawn_app(&env).await;
    let line = app.wait_for_log(|l| l.contains("listening on")).unwrap();
    assert!(line.contains("PHOTOSYNC_STORAGE"), "{line}");
}

#[test]
fn on_flex_event_grid_feeds_the_blob_trigger_through_the_blobs_extension_webhook() {
    let t = template();
    let trigger = function_bindings(PHOTO_UPLOADED_JSON);
    assert_eq!(trigger["type"], "blobTrigger");

    let topic = one_of_type(&t, "Microsoft.EventGrid/systemTopics");
    assert_eq!(
        topic["properties"]["topicType"],
        "Microsoft.Storage.StorageAccounts"
    );
    assert!(
        topic["properties"]["source"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Storage/storageAccounts")
    );
    let subscription = one_of_type(&t, "Microsoft.EventGrid/systemTopics/eventSubscriptions");
    let p = &subscription["properties"];
    assert_eq!(p["destination"]["endpointType"], "WebHook");
    let url = p["destination"]["properties"]["endpointUrl"]
        .as_str()
        .unwrap();
    assert!(url.contains("/runtime/webhooks/blobs?"), "{url}");
    assert!(
        url.contains(&format!("functionName=Host.Functions.{PHOTO_UPLOADED}&")),
        "{url}"
    );
    assert!(url.contains("parameters('blobsExtensionKey')"), "{url}");
    assert_eq!(
        p["filter"]["includedEventTypes"],
        json!(["Microsoft.Storage.BlobCreated"])
    );
    let mut e = Evaluator::new(&t);
    assert_eq!(
        e.eval_value(&p["filter"]["subjectBeginsWith"]).unwrap(),
        "/blobServices/default/containers/photos/"
    );

    // The key the webhook URL carries is the one the template sets on the host.
    let key = one_of_type(&t, "Microsoft.Web/sites/host/systemkeys");
    assert_eq!(
        e.eval_value(&key["name"]).unwrap(),
        "photosync-test/default/blobs_extension"
    );
    assert_eq!(key["properties"]["name"], "blobs_extension");
    assert_eq!(
        key["properties"]["value"],
        "[parameters('blobsExtensionKey')]"
    );

    // Created on Flex when code is deployed with it (Event Grid validates the
    // endpoint at once); never on the polling plans.
    let condition = &subscription["condition"];
    assert_eq!(
        e.eval_value(condition).unwrap(),
        false,
        "no package, no subscription"
    );
    e.set(
        "packageUri",
        json!("https://example.org/photosync-flex.zip"),
    );
    assert_eq!(e.eval_value(condition).unwrap(), true);
    assert_eq!(e.eval_value(&key["condition"]).unwrap(), true);
    let onedeploy = one_of_type(&t, "Microsoft.Web/sites/extensions");
    assert!(onedeploy["name"].as_str().unwrap().contains("onedeploy"));
    assert_eq!(e.eval_value(&onedeploy["condition"]).unwrap(), true);
    e.set("hostingPlan", json!("Consumption"));
    assert_eq!(e.eval_value(condition).unwrap(), false);
    assert_eq!(e.eval_value(&topic["condition"]).unwrap(), false);
}

#[test]
fn application_insights_accepts_entra_id_only() {
    let t = template();
    let insights = one_of_type(&t, "Microsoft.Insights/components");
    assert_eq!(insights["properties"]["DisableLocalAuth"], true);
    assert!(
        insights["properties"]["WorkspaceResourceId"]
            .as_str()
            .unwrap()
            .contains("Microsoft.OperationalInsights/workspaces")
    );
    one_of_type(&t, "Microsoft.OperationalInsights/workspaces");
}

#[test]
fn outputs_name_what_the_next_steps_need_and_no_secret() {
    let t = template();
    let outputs = t["outputs"].as_object().unwrap();
    for name in [
        "functionAppName",
        "functionAppHostName",
        "principalId",
        "storageAccountName",
        "photosContainerUrl",
        "applicationInsightsName",
        "triggerSource",
        "eventSubscriptionCreated",
    ] {
        assert!(outputs.contains_key(name), "output {name} is missing");
    }
    for (name, output) in outputs {
        let text = output.to_string();
        for secret in [
            "listKeys",
            "blobsExtensionKey",
            "ConnectionString",
            "securestring",
        ] {
            assert!(!text.contains(secret), "output {name} exposes {secret}");
        }
    }
    let mut e = Evaluator::new(&t);
    assert_eq!(
        e.eval_value(&outputs["triggerSource"]["value"]).unwrap(),
        "eventgrid"
    );
    e.set("hostingPlan", json!("ElasticPremium"));
    assert_eq!(
        e.eval_value(&outputs["triggerSource"]["value"]).unwrap(),
        "polling"
    );
}
