//! What an admin deploys: the ARM template in `infra/`, the zip that
//! `photosync package` writes for it, and what the running handler must
//! never write to its logs (which end up in Application Insights).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};

use photosync::commands::package::{PHOTO_UPLOADED_JSON, RECONCILE_JSON};
use photosync::handler::{PHOTO_UPLOADED, RECONCILE};

use crate::helpers::{jpeg, run_binary, spawn_app, temp_dir};

// ---------------------------------------------------------------------------
// The ARM template
// ---------------------------------------------------------------------------

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/azuredeploy.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn resources(template: &Value) -> &Vec<Value> {
    template["resources"]
        .as_array()
        .expect("resources is a list")
}

/// The resources of one type (ARM types are case-insensitive).
fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<&'a Value> {
    resources(template)
        .iter()
        .filter(|r| {
            r["type"]
                .as_str()
                .unwrap_or_default()
                .eq_ignore_ascii_case(kind)
        })
        .collect()
}

fn one_of_type<'a>(template: &'a Value, kind: &str) -> &'a Value {
    let found = of_type(template, kind);
    assert_eq!(found.len(), 1, "expected exactly one {kind}");
    found[0]
}

fn function_bindings(definition: &str) -> Value {
    let parsed: Value = serde_json::from_str(definition).unwrap();
    parsed["bindings"][0].clone()
}

#[test]
fn the_template_is_an_arm_deployment_template() {
    let t = template();
    assert_eq!(
        t["$schema"],
        "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
    );
    assert_eq!(t["contentVersion"], "1.0.0.0");
    for section in ["parameters", "variables", "outputs"] {
        assert!(t[section].is_object(), "{section} is missing");
    }
    for resource in resources(&t) {
        for key in ["type", "apiVersion", "name"] {
            assert!(resource[key].is_string(), "{key} missing in {resource}");
        }
        let api = resource["apiVersion"].as_str().unwrap();
        assert!(
            api.len() >= 10 && api[..10].chars().all(|c| c.is_ascii_digit() || c == '-'),
            "apiVersion `{api}`"
        );
    }
}

#[test]
fn every_parameter_has_a_description_and_a_sound_default() {
    let t = template();
    let parameters = t["parameters"].as_object().unwrap();
    assert!(parameters.len() >= 10);
    for (name, parameter) in parameters {
        let description = parameter["metadata"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.len() >= 20,
            "parameter {name} has no real description"
        );
        let kind = parameter["type"].as_str().unwrap();
        assert!(
            ["string", "securestring", "int", "bool", "object", "array"].contains(&kind),
            "{name}: type {kind}"
        );
        if let (Some(default), Some(allowed)) = (
            parameter.get("defaultValue"),
            parameter["allowedValues"].as_array(),
        ) {
            assert!(allowed.contains(default), "{name}: default not allowed");
        }
    }
    // The deploy button works with no input at all: every parameter has a default.
    let required: Vec<_> = parameters
        .iter()
        .filter(|(_, p)| p.get("defaultValue").is_none())
        .map(|(n, _)| n)
        .collect();
    assert!(
        required.is_empty(),
        "parameters without a default: {required:?}"
    );
    assert_eq!(parameters["hostingPlan"]["defaultValue"], "FlexConsumption");
    assert_eq!(parameters["blobsExtensionKey"]["type"], "securestring");
}

#[test]
fn every_expression_parses_and_names_only_known_functions_parameters_and_variables() {
    let t = template();
    let parameters: BTreeSet<String> = t["parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let variables: BTreeSet<String> = t["variables"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let copy_loops: BTreeSet<String> = resources(&t)
        .iter()
        .filter_map(|r| r["copy"]["name"].as_str().map(str::to_owned))
        .collect();
    let mut expressions = Vec::new();
    collect_expressions(&t, "$", &mut expressions);
    assert!(
        expressions.len() > 50,
        "found only {} expressions",
        expressions.len()
    );
    for (at, text) in &expressions {
        let parsed = parse_expression(text).unwrap_or_else(|e| panic!("{at}: `{text}`: {e}"));
        let mut calls = Vec::new();
        parsed.calls(&mut calls);
        for (function, first) in calls {
            assert!(
                ARM_FUNCTIONS.contains(&function.to_ascii_lowercase().as_str()),
                "{at}: unknown template function {function}"
            );
            match (function.as_str(), first) {
                ("parameters", Some(name)) => {
                    assert!(parameters.contains(&name), "{at}: no parameter {name}")
                }
                ("variables", Some(name)) => {
                    assert!(variables.contains(&name), "{at}: no variable {name}")
                }
                ("parameters" | "variables", None) => panic!("{at}: {function} needs a name"),
                _ => {}
            }
        }
    }
    // dependsOn entries are resource ids or copy-loop names.
    for resource in resources(&t) {
        for dependency in resource["dependsOn"].as_array().into_iter().flatten() {
            let dependency = dependency.as_str().unwrap();
            assert!(
                dependency.starts_with("[resourceId(") || copy_loops.contains(dependency),
                "dependsOn `{dependency}`"
            );
        }
    }
}

#[test]
fn every_resource_id_names_a_resource_of_the_template() {
    // ARM refuses a dependsOn on a resource the template does not define,
    // and reference()/listKeys() on one it does not create fails at deploy time.
    let t = template();
    for plan in ["FlexConsumption", "Consumption", "ElasticPremium"] {
        let mut e = Evaluator::new(&t);
        e.set("hostingPlan", json!(plan));
        let mut defined = BTreeSet::new();
        for resource in resources(&t) {
            let count = match resource.get("copy") {
                Some(copy) => e.eval_value(&copy["count"]).unwrap().as_u64().unwrap(),
                None => 1,
            };
            for i in 0..count {
                e.copy_index = resource.get("copy").map(|_| i);
                let name = e.eval_value(&resource["name"]).unwrap();
                let kind = resource["type"].as_str().unwrap();
                defined
                    .insert(format!("/providers/{kind}/{}", name.as_str().unwrap()).to_lowercase());
            }
            e.copy_index = None;
        }
        let mut expressions = Vec::new();
        collect_expressions(&t, "$", &mut expressions);
        let mut checked = 0;
        for (at, text) in &expressions {
            let mut ids = Vec::new();
            parse_expression(text).unwrap().resource_ids(&mut ids);
            for id in ids {
                let Ok(value) = e.eval(&id) else {
                    // Needs copyIndex() of its own loop; the copy-loop case is covered above.
                    continue;
                };
                let id = value.as_str().unwrap().to_lowercase();
                assert!(
                    defined.contains(&id),
                    "{plan}: {at} refers to {id}, which the template does not define"
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} resource ids checked");
    }
}

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

// ---------------------------------------------------------------------------
// The deployable zip
// ---------------------------------------------------------------------------

struct ZipEntry {
    contents: Vec<u8>,
    mode: Option<u32>,
}

fn read_zip(path: &Path) -> BTreeMap<String, ZipEntry> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(file).expect("a valid zip archive");
    let mut entries = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).unwrap();
        entries.insert(
            entry.name().expect("a UTF-8 entry name").to_string(),
            ZipEntry {
                contents,
                mode: entry.unix_mode(),
            },
        );
    }
    entries
}

/// A stand-in for the executable: the layout does not depend on its size,
/// and deflating the 170 MB debug binary takes a minute.
fn fake_binary(dir: &Path) -> PathBuf {
    let path = dir.join("fake-photosync");
    std::fs::write(&path, b"#!/bin/sh\necho photosync\n").unwrap();
    path
}

fn package_zip(out: &Path, binary: &Path, source: &str) -> String {
    let out_text = out.display().to_string();
    let binary_text = binary.display().to_string();
    let (status, stdout, stderr) = run_binary(
        &[
            "package",
            "--out",
            &out_text,
            "--binary",
            &binary_text,
            "--trigger-source",
            source,
        ],
        &[],
    );
    assert!(status.success(), "{stderr}");
    stdout
}

#[test]
fn package_writes_a_deployable_zip_for_each_trigger_source() {
    let dir = temp_dir();
    let fake = fake_binary(dir.path());
    let binary = std::fs::read(&fake).unwrap();
    for (source, expected_source) in [("polling", None), ("eventgrid", Some("EventGrid"))] {
        let zip_path = dir.path().join(format!("dist/photosync-{source}.zip"));
        let stdout = package_zip(&zip_path, &fake, source);
        assert_eq!(stdout.lines().count(), 4, "{stdout}");

        let entries = read_zip(&zip_path);
        let names: Vec<&str> = entries.keys().map(String::as_str).collect();
        let photo_uploaded = format!("{PHOTO_UPLOADED}/function.json");
        let reconcile = format!("{RECONCILE}/function.json");
        let mut expected = vec!["host.json", "photosync", &photo_uploaded, &reconcile];
        expected.sort();
        assert_eq!(
            names, expected,
            "files at the root of the zip, nothing else"
        );

        let host: Value = serde_json::from_slice(&entries["host.json"].contents).unwrap();
        let executable = host["customHandler"]["description"]["defaultExecutablePath"]
            .as_str()
            .unwrap();
        let shipped = &entries[executable];
        assert_eq!(shipped.contents, binary, "the binary is shipped unchanged");
        assert_eq!(shipped.mode.map(|m| m & 0o777), Some(0o755), "executable");
        assert_eq!(entries["host.json"].mode.map(|m| m & 0o777), Some(0o644));

        let trigger: Value = serde_json::from_slice(&entries[&photo_uploaded].contents).unwrap();
        assert_eq!(trigger["bindings"][0]["type"], "blobTrigger");
        assert_eq!(
            trigger["bindings"][0].get("source").and_then(Value::as_str),
            expected_source,
            "{source}"
        );
        let timer: Value = serde_json::from_slice(&entries[&reconcile].contents).unwrap();
        assert_eq!(timer["bindings"][0]["type"], "timerTrigger");
    }
}

#[test]
fn the_zip_matches_the_folder_layout_and_is_reproducible() {
    let dir = temp_dir();
    let fake = fake_binary(dir.path());
    let fake_text = fake.display().to_string();
    let folder = dir.path().join("app");
    let folder_text = folder.display().to_string();
    let (status, _, stderr) = run_binary(
        &[
            "package",
            "--out",
            &folder_text,
            "--binary",
            &fake_text,
            "--trigger-source",
            "eventgrid",
        ],
        &[],
    );
    assert!(status.success(), "{stderr}");
    let first = dir.path().join("a.zip");
    let second = dir.path().join("b.ZIP");
    package_zip(&first, &fake, "eventgrid");
    package_zip(&second, &fake, "eventgrid");
    for (name, entry) in read_zip(&first) {
        let on_disk = std::fs::read(folder.join(&name)).unwrap();
        assert_eq!(entry.contents, on_disk, "{name}");
    }
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "same inputs, same bytes"
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_failed_zip_leaves_nothing_behind() {
    let dir = temp_dir();
    let zip_path = dir.path().join("photosync.zip");
    let out = zip_path.display().to_string();
    let missing = dir.path().join("no-such-binary").display().to_string();
    let (status, _, stderr) = run_binary(&["package", "--out", &out, "--binary", &missing], &[]);
    assert!(!status.success());
    assert!(stderr.contains("no-such-binary"), "{stderr}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

// ---------------------------------------------------------------------------
// Secrets never reach the logs
// ---------------------------------------------------------------------------

/// The well-known Azurite account key (as sensitive as a real one would be).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const SAS_SIGNATURE: &str = "c2VjcmV0LXNhcy1zaWduYXR1cmUtZG8tbm90LWxvZw%3D";
const IDENTITY_HEADER: &str = "identity-header-9f1c2d7e-never-logged";

fn blob_body(name: &str, bytes: &[u8]) -> Value {
    json!({
        "Data": {"photo": base64::engine::general_purpose::STANDARD.encode(bytes)},
        "Metadata": {
            "Uri": serde_json::to_string(&format!("http://127.0.0.1:10000/devstoreaccount1/photos/{name}")).unwrap(),
            "name": serde_json::to_string(name).unwrap(),
            "Properties": {"Length": bytes.len(), "ContentType": "image/jpeg",
                           "ETag": "\"0x8DA6E28262505DD\"", "LastModified": "2026-11-20T10:26:34+00:00",
                           "Created": "2026-11-20T10:26:34+00:00", "BlobType": 2},
            "Metadata": {},
            "sys": {"MethodName": PHOTO_UPLOADED, "UtcNow": "2026-11-20T10:26:43.03Z",
                    "RandGuid": "30d01e72-94e7-4d4f-906a-2ce51939bfcc"}
        }
    })
}

fn timer_body() -> Value {
    json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": RECONCILE, "UtcNow": "2026-11-20T10:15:00.01Z",
                             "RandGuid": "6a4f7bd4-7a55-4c6a-9a8b-3f5e5b0e2b10"}}
    })
}

/// Runs the handler at the most verbose log level with `storage` settings,
/// invokes both functions, and checks that no line of the log and no answer
/// carries a secret.
async fn assert_no_secret_logged(storage: &[(&str, &str)], secrets: &[&str]) {
    let mut env = vec![
        ("PHOTOSYNC_LOG", "trace"),
        ("PHOTOSYNC_LOG_FORMAT", "json"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token"),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ];
    env.extend_from_slice(storage);
    let mut app = spawn_app(&env).await;
    let mut answers = Vec::new();
    for (function, body) in [
        (
            PHOTO_UPLOADED,
            blob_body("alice@contoso.com.jpg", &jpeg(300, 400)),
        ),
        (PHOTO_UPLOADED, blob_body("../escape.jpg", &jpeg(120, 120))),
        (RECONCILE, timer_body()),
    ] {
        let response = app
            .invoke(function, "5f0e2c1a-secrecy", body.to_string())
            .await;
        answers.push(response.text().await.unwrap());
    }
    // The invocations are logged with their id once they are done.
    app.wait_for_log(|l| l.contains("5f0e2c1a-secrecy"));
    let logs = app.logs();
    assert!(logs.len() >= 2, "expected some log lines: {logs:?}");
    for secret in secrets.iter().chain([&IDENTITY_HEADER]) {
        for line in logs.iter().chain(&answers) {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
    }
}

#[tokio::test]
async fn an_account_key_never_reaches_the_log() {
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};\
         BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    );
    assert_no_secret_logged(&[("PHOTOSYNC_STORAGE", &connection)], &[AZURITE_KEY]).await;
}

#[tokio::test]
async fn a_shared_access_signature_never_reaches_the_log() {
    // A SAS Azurite refuses, so every storage call fails and gets logged.
    let connection = format!(
        "AccountName=devstoreaccount1;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\
         SharedAccessSignature=sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig={SAS_SIGNATURE}"
    );
    assert_no_secret_logged(&[("PHOTOSYNC_STORAGE", &connection)], &[SAS_SIGNATURE]).await;
}

#[tokio::test]
async fn the_managed_identity_header_never_reaches_the_log() {
    assert_no_secret_logged(
        &[(
            "PHOTOSYNC_STORAGE__blobServiceUri",
            "http://127.0.0.1:10000/devstoreaccount1",
        )],
        &[],
    )
    .await;
}

// ---------------------------------------------------------------------------
// A small evaluator for the template language (enough for these tests)
// ---------------------------------------------------------------------------

/// Template functions the expressions may use (lower case).
const ARM_FUNCTIONS: &[&str] = &[
    "and",
    "concat",
    "contains",
    "copyindex",
    "createarray",
    "createobject",
    "empty",
    "environment",
    "equals",
    "format",
    "guid",
    "if",
    "length",
    "listkeys",
    "newguid",
    "not",
    "null",
    "or",
    "parameters",
    "reference",
    "resourcegroup",
    "resourceid",
    "subscriptionresourceid",
    "take",
    "tolower",
    "union",
    "uniquestring",
    "variables",
];

#[derive(Debug, Clone)]
enum Expr {
    Text(String),
    Int(i64),
    Call(String, Vec<Expr>),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every `resourceId(...)` call (not `subscriptionResourceId`), innermost too.
    fn resource_ids(&self, out: &mut Vec<Expr>) {
        match self {
            Expr::Text(_) | Expr::Int(_) => {}
            Expr::Call(name, args) => {
                if name.eq_ignore_ascii_case("resourceId") {
                    out.push(self.clone());
                }
                args.iter().for_each(|a| a.resource_ids(out));
            }
            Expr::Property(inner, _) => inner.resource_ids(out),
            Expr::Index(inner, index) => {
                inner.resource_ids(out);
                index.resource_ids(out);
            }
        }
    }

    /// Every function call with its first argument when that is a literal.
    fn calls(&self, out: &mut Vec<(String, Option<String>)>) {
        match self {
            Expr::Text(_) | Expr::Int(_) => {}
            Expr::Call(name, args) => {
                let first = match args.first() {
                    Some(Expr::Text(text)) => Some(text.clone()),
                    _ => None,
                };
                out.push((name.clone(), first));
                args.iter().for_each(|a| a.calls(out));
            }
            Expr::Property(inner, _) => inner.calls(out),
            Expr::Index(inner, index) => {
                inner.calls(out);
                index.calls(out);
            }
        }
    }
}

/// Every string that is a template expression (`[...]`, not `[[...`), with where it is.
fn collect_expressions(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']') => {
            out.push((at.to_owned(), s.clone()))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_expressions(item, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_expressions(item, &format!("{at}.{key}"), out);
            }
        }
        _ => {}
    }
}

fn parse_expression(text: &str) -> Result<Expr, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("not an expression")?;
    let mut parser = Parser {
        chars: inner.chars().collect(),
        at: 0,
    };
    let expr = parser.expr()?;
    parser.skip_space();
    if parser.at != parser.chars.len() {
        return Err(format!("unexpected text at {}", parser.at));
    }
    Ok(expr)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> Result<(), String> {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{c}` at {}", self.at))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.skip_space();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(format!("expected a name at {start}"));
        }
        Ok(self.chars[start..self.at].iter().collect())
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.skip_space();
        let mut expr = match self.peek() {
            Some('\'') => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string".into()),
                        Some('\'') if self.chars.get(self.at + 1) == Some(&'\'') => {
                            text.push('\'');
                            self.at += 2;
                        }
                        Some('\'') => {
                            self.at += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(c);
                            self.at += 1;
                        }
                    }
                }
                Expr::Text(text)
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.at;
                self.at += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let digits: String = self.chars[start..self.at].iter().collect();
                Expr::Int(digits.parse().map_err(|e| format!("{digits}: {e}"))?)
            }
            _ => {
                let name = self.ident()?;
                self.eat('(')?;
                let mut args = Vec::new();
                self.skip_space();
                if self.peek() == Some(')') {
                    self.at += 1;
                } else {
                    loop {
                        args.push(self.expr()?);
                        self.skip_space();
                        match self.peek() {
                            Some(',') => self.at += 1,
                            Some(')') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(format!("expected `,` or `)` at {}", self.at)),
                        }
                    }
                }
                Expr::Call(name, args)
            }
        };
        loop {
            self.skip_space();
            match self.peek() {
                Some('.') => {
                    self.at += 1;
                    expr = Expr::Property(Box::new(expr), self.ident()?);
                }
                Some('[') => {
                    self.at += 1;
                    let index = self.expr()?;
                    self.eat(']')?;
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                _ => return Ok(expr),
            }
        }
    }
}

/// Evaluates expressions with the parameters' defaults (the deploy button
/// with no input), a fixed resource group, and overrides set by a test.
/// Functions that need Azure (reference, listKeys) are not evaluated.
struct Evaluator<'a> {
    template: &'a Value,
    overrides: BTreeMap<String, Value>,
    copy_index: Option<u64>,
}

impl<'a> Evaluator<'a> {
    fn new(template: &'a Value) -> Self {
        let mut overrides = BTreeMap::new();
        // Names the deploy button would derive from uniqueString(resourceGroup().id).
        overrides.insert("appName".to_owned(), json!("photosync-test"));
        overrides.insert("storageAccountName".to_owned(), json!("photosynctest"));
        Self {
            template,
            overrides,
            copy_index: None,
        }
    }

    fn set(&mut self, parameter: &str, value: Value) {
        self.overrides.insert(parameter.to_owned(), value);
    }

    /// Evaluates a JSON value: expressions in strings, recursively in objects and arrays.
    fn eval_value(&mut self, value: &Value) -> Result<Value, String> {
        match value {
            Value::String(s) if s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']') => {
                let expr = parse_expression(s)?;
                self.eval(&expr)
            }
            Value::Array(items) => items.iter().map(|v| self.eval_value(v)).collect(),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.eval_value(v)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// The site's app settings as evaluated, less what only Azure knows
    /// (the Application Insights connection string, storage keys), which
    /// are recorded as present with a placeholder value.
    fn app_settings(&mut self) -> BTreeMap<String, String> {
        let site = one_of_type(self.template, "Microsoft.Web/sites");
        let expression = site["properties"]["siteConfig"]["appSettings"]
            .as_str()
            .unwrap();
        let parsed = parse_expression(expression).unwrap();
        let value = self.eval(&parsed).unwrap();
        let mut settings = BTreeMap::new();
        for setting in value.as_array().unwrap() {
            let name = setting["name"].as_str().unwrap().to_owned();
            let value = match &setting["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert!(
                settings.insert(name.clone(), value).is_none(),
                "{name} set twice"
            );
        }
        settings
    }

    fn eval(&mut self, expr: &Expr) -> Result<Value, String> {
        Ok(match expr {
            Expr::Text(t) => json!(t),
            Expr::Int(i) => json!(i),
            Expr::Property(inner, name) => {
                let value = self.eval(inner)?;
                value
                    .get(name)
                    .cloned()
                    .ok_or(format!("no property {name}"))?
            }
            Expr::Index(inner, index) => {
                let value = self.eval(inner)?;
                match self.eval(index)? {
                    Value::String(key) => value.get(&key).cloned(),
                    Value::Number(n) => value.get(n.as_u64().unwrap() as usize).cloned(),
                    other => return Err(format!("bad index {other}")),
                }
                .ok_or("index out of range")?
            }
            Expr::Call(name, args) => return self.call(name, args),
        })
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> Result<Value, String> {
        let name = name.to_ascii_lowercase();
        // Lazily evaluated, like ARM's own `if`.
        if name == "if" {
            let condition = self.eval(&args[0])?;
            return self.eval(&args[if condition == true { 1 } else { 2 }]);
        }
        // What only Azure can answer: a recognisable placeholder.
        if ["reference", "listkeys"].contains(&name.as_str()) {
            return Ok(json!({
                "ConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
                "keys": [{"value": "<storage account key>"}],
                "defaultHostName": "photosync-test.azurewebsites.net",
                "identity": {"principalId": "<principal id>"}
            }));
        }
        let values = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        let text = |i: usize| {
            values[i]
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("{name}: arg {i} not text"))
        };
        Ok(match name.as_str() {
            "parameters" => {
                let parameter = text(0)?;
                if let Some(value) = self.overrides.get(&parameter) {
                    return Ok(value.clone());
                }
                let default = self.template["parameters"][&parameter]["defaultValue"].clone();
                self.eval_value(&default)?
            }
            "variables" => {
                let variable = self.template["variables"][&text(0)?].clone();
                self.eval_value(&variable)?
            }
            "copyindex" => json!(self.copy_index.ok_or("copyIndex() outside a loop")?),
            "concat" if values.iter().all(Value::is_array) => Value::Array(
                values
                    .iter()
                    .flat_map(|v| v.as_array().unwrap().clone())
                    .collect(),
            ),
            "concat" => json!(
                values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<String>()
            ),
            "format" => {
                let mut out = text(0)?;
                for (i, value) in values.iter().enumerate().skip(1) {
                    let value = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out = out.replace(&format!("{{{}}}", i - 1), &value);
                }
                json!(out)
            }
            "environment" => json!({"suffixes": {"storage": "core.windows.net"}}),
            "resourcegroup" => {
                json!({"id": "/subscriptions/0000/resourceGroups/photosync", "location": "westeurope"})
            }
            "uniquestring" => json!("uniq3test"),
            "tolower" => json!(text(0)?.to_lowercase()),
            "take" => {
                let n = values[1].as_u64().ok_or("take: count")? as usize;
                json!(text(0)?.chars().take(n).collect::<String>())
            }
            "equals" => json!(values[0] == values[1]),
            "not" => json!(values[0] != true),
            "and" => json!(values.iter().all(|v| *v == true)),
            "or" => json!(values.iter().any(|v| *v == true)),
            "empty" => json!(match &values[0] {
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Null => true,
                _ => false,
            }),
            "null" => Value::Null,
            "length" => json!(match &values[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                _ => return Err("length of a scalar".into()),
            }),
            "createarray" => Value::Array(values),
            "createobject" => {
                let mut map = serde_json::Map::new();
                for pair in values.chunks(2) {
                    map.insert(
                        pair[0].as_str().ok_or("createObject key")?.to_owned(),
                        pair[1].clone(),
                    );
                }
                Value::Object(map)
            }
            "resourceid" | "subscriptionresourceid" => {
                let parts: Vec<String> = values
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect();
                json!(format!("/providers/{}/{}", parts[0], parts[1..].join("/")))
            }
            "guid" | "newguid" => json!("00000000-0000-0000-0000-000000000001"),
            other => return Err(format!("the test evaluator cannot run {other}()")),
        })
    }
}
