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

mod arm;
#[allow(unused_imports)]
use arm::*;
mod log_secrecy;
mod package_zip;
mod template_resources;
mod template_shape;
mod template_sign_in;

// Helpers shared by the template tests.

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
