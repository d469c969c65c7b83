//! The web page's sign-in as the template deploys it: App Service
//! Authentication with the Entra provider (`Microsoft.Web/sites/config`
//! `authsettingsV2`, schema at
//! learn.microsoft.com/azure/templates/microsoft.web/sites/config-authsettingsv2).

#[allow(unused_imports)]
use super::*;

fn auth_settings(t: &Value) -> &Value {
    one_of_type(t, "Microsoft.Web/sites/config")
}

#[test]
fn entra_sign_in_redirects_people_and_lets_event_grid_through() {
    let t = template();
    let auth = auth_settings(&t);
    let mut e = Evaluator::new(&t);
    assert_eq!(
        e.eval_value(&auth["name"]).unwrap(),
        "photosync-test/authsettingsV2"
    );
    let p = &auth["properties"];
    assert_eq!(p["platform"]["enabled"], true);
    let validation = &p["globalValidation"];
    assert_eq!(validation["requireAuthentication"], true);
    assert_eq!(
        validation["unauthenticatedClientAction"], "RedirectToLoginPage",
        "unauthenticated requests are sent to sign in"
    );
    // Easy Auth guards the whole app, the host's webhooks included
    // (azure-functions-host issue #4674): the Event Grid delivery, which
    // authenticates with the blobs_extension key, must not be redirected.
    let subscription = one_of_type(&t, "Microsoft.EventGrid/systemTopics/eventSubscriptions");
    let endpoint = subscription["properties"]["destination"]["properties"]["endpointUrl"]
        .as_str()
        .unwrap();
    let excluded: Vec<&str> = validation["excludedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(excluded, ["/runtime/webhooks/blobs"]);
    assert!(
        endpoint.contains(&format!("{}?", excluded[0])),
        "{endpoint}"
    );
    // The page itself is not excluded.
    assert!(!excluded.iter().any(|p| "/api/photos".starts_with(p)));

    let entra = &p["identityProviders"]["azureActiveDirectory"];
    assert_eq!(entra["enabled"], true);
    assert_eq!(
        entra["registration"]["clientId"],
        "[parameters('webClientId')]"
    );
    assert_eq!(
        e.eval_value(&entra["registration"]["openIdIssuer"])
            .unwrap(),
        "https://login.microsoftonline.com/contoso-test-tenant/v2.0"
    );
    // No client secret anywhere: the ID-token sign-in needs none.
    assert!(
        entra["registration"]
            .get("clientSecretSettingName")
            .is_none()
    );
    assert_eq!(p["httpSettings"]["requireHttps"], true);
}

#[test]
fn sign_in_is_deployed_only_with_an_app_registration() {
    let t = template();
    let auth = auth_settings(&t);
    let mut e = Evaluator::new(&t);
    assert_eq!(e.eval_value(&auth["condition"]).unwrap(), false);
    e.set("webClientId", json!("6c1f2a9d-0000-4000-8000-000000000001"));
    assert_eq!(e.eval_value(&auth["condition"]).unwrap(), true);
    let parameters = &t["parameters"];
    assert_eq!(parameters["webClientId"]["defaultValue"], "");
    assert_eq!(parameters["webSelfService"]["defaultValue"], false);
    assert_eq!(parameters["webApproval"]["defaultValue"], false);
    let outputs = &t["outputs"];
    assert!(
        outputs["signInRedirectUri"]["value"]
            .as_str()
            .unwrap()
            .contains("/.auth/login/aad/callback")
    );
    assert!(
        outputs["webPageUrl"]["value"]
            .as_str()
            .unwrap()
            .contains("/api/photos")
    );
}

#[test]
fn the_web_settings_the_template_sets_are_ones_the_handler_accepts() {
    let t = template();
    let mut e = Evaluator::new(&t);
    e.set("webSelfService", json!(true));
    e.set("webApproval", json!(true));
    let settings = e.app_settings();
    assert_eq!(settings["PHOTOSYNC_SELF_SERVICE"], "True");
    assert_eq!(settings["PHOTOSYNC_APPROVAL"], "True");
    let parsed = photosync::config::Settings::from_vars(settings.clone()).unwrap();
    assert!(parsed.web.self_service && parsed.web.approval);
    let defaults = Evaluator::new(&t).app_settings();
    let parsed = photosync::config::Settings::from_vars(defaults).unwrap();
    assert!(!parsed.web.self_service && !parsed.web.approval);
}
