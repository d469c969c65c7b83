//! `photosync package` lays out what the Functions host loads, and the
//! packaged binary serves from there.

use serde_json::Value;

use photosync::commands::elf::{self, Requirement};
use photosync::commands::package::FUNCTIONS_GLIBC;

use crate::helpers::{BINARY, run_binary, spawn_app_from, temp_dir};

/// The test binary is linked against the build machine's glibc (2.36 on
/// Debian 12), newer than the Functions hosts': these tests are about the
/// layout, so they package it anyway.
const NEWER_GLIBC: &str = "--allow-newer-glibc";

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn package_lays_out_a_loadable_function_app() {
    let dir = temp_dir();
    let out = dir.path().join("app");
    let out_text = out.display().to_string();
    let (status, stdout, stderr) = run_binary(
        &[
            "package",
            "--out",
            &out_text,
            "--binary",
            BINARY,
            NEWER_GLIBC,
        ],
        &[],
    );
    assert!(status.success(), "{stderr}");
    // host.json, the binary, the two trigger functions and the web's seven.
    assert_eq!(stdout.lines().count(), 4 + 7, "{stdout}");

    let host = read_json(&out.join("host.json"));
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["extensionBundle"]["id"],
        "Microsoft.Azure.Functions.ExtensionBundle"
    );
    assert_eq!(host["extensionBundle"]["version"], "[4.*, 5.0.0)");
    assert!(host["functionTimeout"].is_string());
    let description = &host["customHandler"]["description"];
    assert_eq!(description["arguments"], serde_json::json!(["serve"]));
    let executable = out.join(description["defaultExecutablePath"].as_str().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&executable).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "the executable is not executable");
    }

    let blob = read_json(&out.join("PhotoUploaded/function.json"));
    let binding = &blob["bindings"][0];
    assert_eq!(binding["type"], "blobTrigger");
    assert_eq!(binding["direction"], "in");
    assert_eq!(binding["name"], "photo");
    assert_eq!(binding["path"], "%PHOTOSYNC_PHOTOS_CONTAINER%/{name}");
    assert_eq!(binding["connection"], "PHOTOSYNC_STORAGE");
    assert_eq!(binding["dataType"], "binary");
    assert!(
        binding.get("source").is_none(),
        "polling is the default source"
    );

    let timer = read_json(&out.join("Reconcile/function.json"));
    assert_eq!(timer["bindings"][0]["type"], "timerTrigger");
    assert_eq!(timer["bindings"][0]["name"], "timer");
    assert_eq!(
        timer["bindings"][0]["schedule"],
        "%PHOTOSYNC_RECONCILE_SCHEDULE%"
    );

    // The packaged app starts from its own folder, as the host would start it.
    let app = spawn_app_from(&executable, &out, &[]).await;
    let ready = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[test]
fn event_grid_packages_set_the_trigger_source() {
    let dir = temp_dir();
    let out = dir.path().display().to_string();
    let (status, _, stderr) = run_binary(
        &[
            "package",
            "--out",
            &out,
            "--binary",
            BINARY,
            "--trigger-source",
            "eventgrid",
            NEWER_GLIBC,
        ],
        &[],
    );
    assert!(status.success(), "{stderr}");
    let blob = read_json(&dir.path().join("PhotoUploaded/function.json"));
    assert_eq!(blob["bindings"][0]["source"], "EventGrid");
}

#[test]
fn the_committed_function_folders_are_the_ones_packaged() {
    // The package embeds the repository's files; a packaged app must not drift from them.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = temp_dir();
    let out = dir.path().display().to_string();
    let (status, _, stderr) = run_binary(
        &["package", "--out", &out, "--binary", BINARY, NEWER_GLIBC],
        &[],
    );
    assert!(status.success(), "{stderr}");
    // Every committed function folder, and nothing else, is in the package.
    let mut committed: Vec<String> = std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    let mut packaged: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    packaged.sort();
    assert_eq!(committed, packaged);
    let files = std::iter::once("host.json".to_owned())
        .chain(committed.iter().map(|f| format!("{f}/function.json")));
    for file in files {
        let source = match file.as_str() {
            "host.json" => root.join(&file),
            other => root.join("functions").join(other),
        };
        assert_eq!(
            read_json(&source),
            read_json(&dir.path().join(&file)),
            "{file}"
        );
    }
}

/// The web functions are exactly what the host forwards: one `httpTrigger`
/// in and one `http` out (azure-functions-host
/// `FunctionMetadataExtensions.IsHttpInAndOutFunction`), with forwarding on
/// in host.json (`DefaultHttpWorkerService.InvokeAsync`), anonymous at the
/// function level because App Service Authentication signs people in, and
/// routes that never overlap: the host does not order routes by precedence,
/// so a catch-all next to a literal would be a coin toss.
#[test]
fn the_web_functions_are_forwarded_http_functions_with_distinct_routes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let host = read_json(&root.join("host.json"));
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    assert!(
        host["extensions"]["http"]["routePrefix"].is_null(),
        "the handler serves /api/photos: keep the default route prefix `api`"
    );
    let mut routes = Vec::new();
    for (name, route, definition) in photosync::handler::web::FUNCTIONS {
        let parsed: Value = serde_json::from_str(definition).unwrap();
        let bindings = parsed["bindings"].as_array().unwrap();
        assert_eq!(bindings.len(), 2, "{name}");
        let (trigger, output) = (&bindings[0], &bindings[1]);
        assert_eq!(trigger["type"], "httpTrigger", "{name}");
        assert_eq!(trigger["direction"], "in", "{name}");
        assert_eq!(trigger["authLevel"], "anonymous", "{name}");
        assert_eq!(trigger["route"], route, "{name}");
        assert!(!trigger["methods"].as_array().unwrap().is_empty(), "{name}");
        assert_eq!(output["type"], "http", "{name}");
        assert_eq!(output["direction"], "out", "{name}");
        routes.push(route);
    }
    // No route is a prefix of another's literal part through a parameter.
    for a in &routes {
        for b in &routes {
            if a == b {
                continue;
            }
            let literal = |r: &str| r.split("/{").next().unwrap().to_owned();
            let catches = |r: &str| r.contains('{');
            assert!(
                !(catches(a) && literal(b).starts_with(&format!("{}/", literal(a)))),
                "{a} would catch {b}"
            );
        }
    }
}

#[test]
fn the_example_local_settings_load_as_they_are() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = read_json(&root.join("local.settings.example.json"));
    let values = example["Values"].as_object().expect("Values");
    assert_eq!(values["FUNCTIONS_WORKER_RUNTIME"], "custom");
    let vars = values
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()));
    let settings = photosync::config::Settings::from_vars(vars).expect("the example is valid");
    assert!(
        settings.graph.dry_run,
        "the example never writes photos by accident"
    );
    // Every setting the function definitions expand must be listed.
    for name in [
        "PHOTOSYNC_PHOTOS_CONTAINER",
        "PHOTOSYNC_RECONCILE_SCHEDULE",
        "PHOTOSYNC_STORAGE",
    ] {
        assert!(values.contains_key(name), "{name} missing from the example");
    }
}

/// A binary built against a newer glibc than the Functions image's would
/// not start there: `package` refuses it with the fix, writes nothing, and
/// packages it only when told to, loudly.
#[test]
fn a_binary_needing_a_newer_glibc_is_refused_with_the_fix() {
    let needed = match elf::glibc_requirement(&std::fs::read(BINARY).unwrap()) {
        Ok(Requirement::Elf(Some(needed))) => needed,
        other => panic!("the test binary is a dynamic ELF: {other:?}"),
    };
    let dir = temp_dir();
    let out = dir.path().join("app");
    let out_text = out.display().to_string();
    let (status, stdout, stderr) =
        run_binary(&["package", "--out", &out_text, "--binary", BINARY], &[]);
    if needed <= FUNCTIONS_GLIBC {
        // A build machine as old as the hosts: nothing to refuse.
        assert!(status.success(), "{stderr}");
        return;
    }
    assert_eq!(status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("needs GLIBC_{needed}")),
        "{stderr}"
    );
    assert!(stderr.contains("glibc 2.31"), "{stderr}");
    assert!(stderr.contains("./scripts/release.sh"), "{stderr}");
    assert!(stderr.contains("x86_64-unknown-linux-gnu.2.31"), "{stderr}");
    assert!(stderr.contains("--allow-newer-glibc"), "{stderr}");
    assert!(!out.exists(), "a refused package must not be written");

    let (status, _, stderr) = run_binary(
        &[
            "package",
            "--out",
            &out_text,
            "--binary",
            BINARY,
            NEWER_GLIBC,
        ],
        &[],
    );
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("WARNING"), "{stderr}");
    assert!(stderr.contains("will not start there"), "{stderr}");
    assert!(out.exists());
}
