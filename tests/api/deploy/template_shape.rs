//! The template as a document: parameters, expressions, references.

#[allow(unused_imports)]
use super::*;

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
    // Flex Consumption refuses a maximumInstanceCount below 40 (the stack
    // data's `lowestMaximumInstanceCount`; shared/reference/functions-host.md),
    // and the count bounds instances, not Graph calls (those are per process).
    let instances = &parameters["maximumInstanceCount"];
    assert_eq!(instances["minValue"], 40);
    let text = instances["metadata"]["description"].as_str().unwrap();
    assert!(
        text.contains("does not bound calls to Microsoft Graph"),
        "{text}"
    );
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
