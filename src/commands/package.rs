//! `photosync package --out DIR`: lays out a deployable Functions app.
//!
//! The host finds functions as folders (each with a `function.json`) next to
//! `host.json` at the app root, and starts the executable `host.json` names.
//! The definitions are compiled into the binary from the repository's own
//! files, so a package always matches the code that serves it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use crate::handler::{PHOTO_UPLOADED, RECONCILE};

/// `host.json` as committed at the repository root.
pub const HOST_JSON: &str = include_str!("../../host.json");
/// The blob-trigger definition as committed.
pub const PHOTO_UPLOADED_JSON: &str = include_str!("../../functions/PhotoUploaded/function.json");
/// The timer definition as committed.
pub const RECONCILE_JSON: &str = include_str!("../../functions/Reconcile/function.json");
/// File name of the executable in the package; `host.json` names it.
pub const EXECUTABLE: &str = "photosync";

/// How the blob trigger learns about new photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TriggerSource {
    /// The host polls the container's logs and listings (Consumption, Premium, Dedicated).
    Polling,
    /// Event Grid pushes BlobCreated events (required on Flex Consumption).
    Eventgrid,
}

/// What `photosync package` was asked to do.
#[derive(Debug, Clone)]
pub struct PackageJob {
    /// Folder to lay the app out in (created; our files in it are replaced).
    pub out: PathBuf,
    /// Executable to ship: normally this very binary, built with `--release`.
    pub binary: PathBuf,
    /// Blob trigger source written into `PhotoUploaded/function.json`.
    pub trigger_source: TriggerSource,
}

/// Writes the layout; returns the files written, relative to `out`.
pub fn run(job: &PackageJob) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut write = |relative: &str, contents: &[u8]| -> anyhow::Result<()> {
        let path = job.out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(PathBuf::from(relative));
        Ok(())
    };
    write("host.json", HOST_JSON.as_bytes())?;
    write(
        &format!("{PHOTO_UPLOADED}/function.json"),
        photo_uploaded_json(job.trigger_source)?.as_bytes(),
    )?;
    write(
        &format!("{RECONCILE}/function.json"),
        RECONCILE_JSON.as_bytes(),
    )?;
    let binary = std::fs::read(&job.binary)
        .with_context(|| format!("cannot read the executable {}", job.binary.display()))?;
    write(EXECUTABLE, &binary)?;
    make_executable(&job.out.join(EXECUTABLE))?;
    Ok(written)
}

/// The blob-trigger definition with `source` set for Event Grid when asked.
fn photo_uploaded_json(source: TriggerSource) -> anyhow::Result<String> {
    let mut definition: Value =
        serde_json::from_str(PHOTO_UPLOADED_JSON).context("PhotoUploaded/function.json")?;
    if source == TriggerSource::Eventgrid {
        let binding = definition
            .pointer_mut("/bindings/0")
            .and_then(Value::as_object_mut)
            .context("PhotoUploaded/function.json has no binding")?;
        binding.insert("source".into(), Value::from("EventGrid"));
    }
    Ok(serde_json::to_string_pretty(&definition)? + "\n")
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}
