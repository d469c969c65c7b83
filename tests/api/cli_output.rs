//! What the command line prints when its reader goes away or a setting is
//! misspelt: the two ways a script around photosync goes wrong quietly.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::helpers::BINARY;
use crate::local::samples;

/// `photosync sync DIR --out OUT` with a clean environment plus `env`.
fn sync_command(photos: &std::path::Path, out: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args([
            "sync",
            photos.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    command
}

/// `photosync sync DIR | head -2`: the reader closes stdout before photosync
/// writes its summary. The run finishes, records everything, and exits as it
/// would have (1: the samples include photos that fail), without a panic.
#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    let (root, photos) = samples();
    let out = root.path().join("out");
    let mut child = sync_command(&photos, &out, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closing our end first makes every write of the child fail with EPIPE.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        out.join("photosync/reports/latest.json").is_file(),
        "the run completed and wrote its report"
    );
}

/// A typo in a setting's name is a warning that names the likely setting;
/// the run goes on (an old setting left behind must not stop a deployment).
#[test]
fn a_misspelt_setting_is_named_with_a_did_you_mean() {
    let (root, photos) = samples();
    let out = root.path().join("out");
    let output = sync_command(&photos, &out, &[("PHOTOSYNC_CROPP", "top")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PHOTOSYNC_CROPP is not one photosync reads; did you mean PHOTOSYNC_CROP?"),
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
}

/// Piped (not a terminal), `sync` prints plain progress lines a log keeps:
/// how many photos the listing found and how many need work, then done/total
/// as whole numbers, ending at total; no spinner, no `3.6129/s` rates.
#[test]
fn piped_progress_is_plain_lines_with_done_and_total() {
    let (root, photos) = samples();
    let out = root.path().join("out");
    let output = sync_command(&photos, &out, &[]).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let listing = stdout
        .lines()
        .find(|l| l.starts_with("listing: "))
        .unwrap_or_else(|| panic!("no listing line:\n{stdout}"));
    // listing: 10 photos examined, 8 to process
    let words: Vec<&str> = listing.split_whitespace().collect();
    let examined: usize = words[1].parse().unwrap();
    let total: usize = words[4].parse().unwrap();
    assert!(examined >= total && total > 0, "{listing}");
    assert_eq!(
        listing,
        format!("listing: {examined} photos examined, {total} to process")
    );
    let last = stdout
        .lines()
        .rfind(|l| l.starts_with("progress: "))
        .unwrap_or_else(|| panic!("no progress line:\n{stdout}"));
    assert_eq!(last, format!("progress: {total}/{total} photos processed"));
    assert!(!stdout.contains("/s)"), "{stdout}");
    for control in ['\r', '\u{1b}'] {
        assert!(
            !stdout.contains(control),
            "terminal control codes when piped: {stdout:?}"
        );
        assert!(
            !stderr.contains(control),
            "terminal control codes when piped: {stderr:?}"
        );
    }
}

/// `--sizes` is one argument holding a list, on `thumbnail` and on `sync`
/// alike (it once panicked in the argument parser), and decides which
/// squares are written.
#[test]
fn sizes_on_the_command_line_choose_the_squares() {
    let dir = crate::helpers::temp_dir();
    let photo = dir.path().join("alice@contoso.com.jpg");
    std::fs::write(&photo, crate::helpers::jpeg(300, 200)).unwrap();
    let out = dir.path().join("thumbs");
    let run = Command::new(BINARY)
        .args(["thumbnail", "--sizes", "120,48", "--quality", "80", "--out"])
        .arg(&out)
        .arg(&photo)
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let mut written: Vec<(String, (u32, u32))> = std::fs::read_dir(out.join("alice@contoso.com"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let size = image::image_dimensions(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                size,
            )
        })
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            ("120x120.jpg".to_owned(), (120, 120)),
            ("48x48.jpg".to_owned(), (48, 48))
        ]
    );

    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(&photo, photos.join("alice@contoso.com.jpg")).unwrap();
    let synced = dir.path().join("out");
    let run = sync_command(&photos, &synced, &[])
        .args(["--sizes", "96"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let names: Vec<String> = std::fs::read_dir(synced.join("thumbnails/alice@contoso.com"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["96x96.jpg"], "{stderr}");
}
