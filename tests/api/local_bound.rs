//! Local mode's output belongs to one folder (issue 16): sibling folders with
//! the default OUT never touch each other, a mismatched `--out` is refused
//! with exit 2, and an emptied folder removes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{BINARY, jpeg, temp_dir};

/// `photosync sync ARGS` with a clean environment (dry: no credentials).
fn sync(args: &[&Path]) -> (Option<i32>, String, String) {
    let output = Command::new(BINARY)
        .arg("sync")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A folder `parent/name` with a photo for each of `people`.
fn folder(parent: &Path, name: &str, people: &[&str]) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for person in people {
        std::fs::write(
            dir.join(format!("{person}@contoso.com.jpg")),
            jpeg(200, 200),
        )
        .unwrap();
    }
    dir
}

/// Photo name → status, from OUT's report.
fn statuses(out: &Path) -> Vec<(String, String)> {
    crate::local::statuses(&crate::local::report(out))
}

/// Files under `dir`, at any depth.
fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn dry(people: &[&str]) -> Vec<(String, String)> {
    people
        .iter()
        .map(|p| (format!("{p}@contoso.com.jpg"), "dry-run".to_owned()))
        .collect()
}

#[test]
fn sibling_folders_with_the_default_output_never_touch_each_other() {
    let root = temp_dir();
    let side = root.path().join("side");
    let batch1 = folder(&side, "batch1", &["alice", "bob"]);
    let newhires = folder(&side, "newhires", &["carol"]);
    for dir in [&batch1, &newhires, &batch1] {
        let (code, stdout, stderr) = sync(&[dir]);
        assert_eq!(code, Some(0), "{stdout}\n{stderr}");
        assert!(!stdout.contains("removed"), "{stdout}");
    }
    let out1 = side.join("photosync-out-batch1");
    let out2 = side.join("photosync-out-newhires");
    assert_eq!(statuses(&out1), dry(&["alice", "bob"]));
    assert_eq!(statuses(&out2), dry(&["carol"]));
    let marker = std::fs::read_to_string(out1.join(".photosync-source")).unwrap();
    assert_eq!(
        marker.trim_end(),
        batch1.canonicalize().unwrap().display().to_string()
    );
}

#[test]
fn a_mismatched_out_exits_2_and_says_what_to_do() {
    let root = temp_dir();
    let batch1 = folder(root.path(), "batch1", &["alice", "bob"]);
    let newhires = folder(root.path(), "newhires", &["carol"]);
    let out = root.path().join("shared-out");
    let (code, _, stderr) = sync(&[&batch1, Path::new("--out"), &out]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = sync(&[&newhires, Path::new("--out"), &out]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("holds the thumbnails and ledger of")
            && stderr.contains("batch1")
            && stderr.contains("Use another output folder"),
        "{stderr}"
    );
    assert_eq!(statuses(&out), dry(&["alice", "bob"]), "untouched");
}

#[test]
fn an_emptied_folder_removes_nothing() {
    let root = temp_dir();
    let people = ["alice", "bob", "carol"];
    let dir = folder(root.path(), "photos", &people);
    let (code, _, stderr) = sync(&[&dir]);
    assert_eq!(code, Some(0), "{stderr}");
    let out = root.path().join("photosync-out-photos");
    let thumbnails = files(&out.join("thumbnails"));
    assert!(thumbnails >= 3, "{thumbnails}");
    for person in people {
        std::fs::remove_file(dir.join(format!("{person}@contoso.com.jpg"))).unwrap();
    }
    let (code, stdout, stderr) = sync(&[&dir]);
    assert_eq!(code, Some(1), "held needs a person: {stdout}\n{stderr}");
    assert!(stdout.contains("removal held (3 photos)"), "{stdout}");
    assert!(
        stdout.contains("--allow-removals 3`"),
        "the exact command: {stdout}"
    );
    let held: Vec<(String, String)> = people
        .iter()
        .map(|p| (format!("{p}@contoso.com.jpg"), "removal-held".to_owned()))
        .collect();
    assert_eq!(statuses(&out), held);
    assert_eq!(
        files(&out.join("thumbnails")),
        thumbnails,
        "nothing deleted"
    );
    // Confirmed: the thumbnails of the three go.
    let (code, stdout, stderr) = sync(&[&dir, Path::new("--allow-removals"), Path::new("3")]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(files(&out.join("thumbnails")), 0, "{stdout}");
}
