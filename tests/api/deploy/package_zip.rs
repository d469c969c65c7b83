//! The deployable zip `photosync package` writes, for both trigger sources.

#[allow(unused_imports)]
use super::*;

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
        assert_eq!(stdout.lines().count(), 4 + 7, "{stdout}");

        let entries = read_zip(&zip_path);
        let names: Vec<&str> = entries.keys().map(String::as_str).collect();
        let photo_uploaded = format!("{PHOTO_UPLOADED}/function.json");
        let reconcile = format!("{RECONCILE}/function.json");
        let web: Vec<String> = photosync::handler::web::FUNCTIONS
            .iter()
            .map(|(name, _, _)| format!("{name}/function.json"))
            .collect();
        let mut expected = vec!["host.json", "photosync", &photo_uploaded, &reconcile];
        expected.extend(web.iter().map(String::as_str));
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
