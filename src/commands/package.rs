//! `photosync package --out DIR`: lays out a deployable Functions app.
//!
//! The host finds functions as folders (each with a `function.json`) next to
//! `host.json` at the app root, and starts the executable `host.json` names.
//! The definitions are compiled into the binary from the repository's own
//! files, so a package always matches the code that serves it. An `--out`
//! ending in `.zip` writes the same layout as a deployable zip archive.
//!
//! The executable must start on the Functions Linux hosts, whose image has
//! an older glibc than a current build machine: a binary that needs a newer
//! `GLIBC_x.y` is refused (see [`FUNCTIONS_GLIBC`]) unless overridden.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use super::UsageError;
use super::elf::{self, GlibcVersion, Requirement};
use crate::handler::{PHOTO_UPLOADED, RECONCILE};

/// The glibc of the Functions host image photosync's package runs on. The
/// Functions 4.x Linux images are built on Debian 11 "bullseye"
/// (Azure/azure-functions-docker, `host/4/bullseye/amd64/`), whose libc6 is
/// 2.31 (packages.debian.org/bullseye/libc6: 2.31-13); `scripts/release.sh`
/// links against the same version.
pub const FUNCTIONS_GLIBC: GlibcVersion = GlibcVersion(2, 31, 0);

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
    /// Package a binary that needs a newer glibc than [`FUNCTIONS_GLIBC`]
    /// anyway (with a warning): for hosts known to have it.
    pub allow_newer_glibc: bool,
}

/// Writes the layout; returns the files written, relative to `out`.
///
/// When `out` ends in `.zip`, the same layout is written as one zip archive
/// instead of a folder (files at the archive's root, the executable with
/// mode 0755, fixed timestamps so equal inputs give equal archives): the
/// package `az functionapp deployment source config-zip` and the template's
/// `packageUri` take. The paths returned are then the archive's entries.
pub fn run(job: &PackageJob) -> anyhow::Result<Vec<PathBuf>> {
    let binary = std::fs::read(&job.binary)
        .with_context(|| format!("cannot read the executable {}", job.binary.display()))?;
    check_glibc(job, &binary)?;
    let mut entries = vec![
        Entry::file("host.json", HOST_JSON.as_bytes().to_vec()),
        Entry::file(
            &format!("{PHOTO_UPLOADED}/function.json"),
            photo_uploaded_json(job.trigger_source)?.into_bytes(),
        ),
        Entry::file(
            &format!("{RECONCILE}/function.json"),
            RECONCILE_JSON.as_bytes().to_vec(),
        ),
    ];
    // The web page's HTTP functions (forwarded by the host, see handler::web).
    for (name, _, definition) in crate::handler::web::FUNCTIONS {
        entries.push(Entry::file(
            &format!("{name}/function.json"),
            definition.as_bytes().to_vec(),
        ));
    }
    entries.push(Entry {
        path: EXECUTABLE.to_owned(),
        contents: binary,
        executable: true,
    });
    if is_zip(&job.out) {
        write_zip(&job.out, &entries)?;
    } else {
        write_folder(&job.out, &entries)?;
    }
    Ok(entries.iter().map(|e| PathBuf::from(&e.path)).collect())
}

/// Refuses (or, with `--allow-newer-glibc`, warns about) an executable the
/// Functions hosts' glibc cannot start: it would fail there with "version
/// `GLIBC_2.34' not found" before photosync could log a line.
fn check_glibc(job: &PackageJob, binary: &[u8]) -> anyhow::Result<()> {
    let shown = job.binary.display();
    let needed = match elf::glibc_requirement(binary) {
        Ok(Requirement::Elf(Some(needed))) if needed > FUNCTIONS_GLIBC => needed,
        Ok(_) => return Ok(()),
        Err(problem) => {
            return Err(
                UsageError(format!("cannot read {shown} as an executable: {problem}")).into(),
            );
        }
    };
    let fix = format!(
        "build the release binary with ./scripts/release.sh (or cargo zigbuild --release \
         --target x86_64-unknown-linux-gnu.{FUNCTIONS_GLIBC}) and package that"
    );
    if job.allow_newer_glibc {
        eprintln!(
            "photosync: WARNING: {shown} needs GLIBC_{needed}, newer than the Functions hosts' \
             glibc {FUNCTIONS_GLIBC}: it will not start there. Packaged anyway \
             (--allow-newer-glibc). To fix: {fix}."
        );
        return Ok(());
    }
    Err(UsageError(format!(
        "{shown} needs GLIBC_{needed}, newer than the Functions hosts' glibc \
         {FUNCTIONS_GLIBC} (Debian 11 image), so it would not start there. To fix: {fix}. \
         To package it anyway, for a host with a newer glibc: --allow-newer-glibc"
    ))
    .into())
}

/// Whether `path` names a zip archive rather than a folder.
pub fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"))
}

/// One file of the package, its path relative to the app root with `/`.
struct Entry {
    path: String,
    contents: Vec<u8>,
    executable: bool,
}

impl Entry {
    fn file(path: &str, contents: Vec<u8>) -> Self {
        Self {
            path: path.to_owned(),
            contents,
            executable: false,
        }
    }
}

fn write_folder(out: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    for entry in entries {
        let path = out.join(&entry.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &entry.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if entry.executable {
            make_executable(&path)?;
        }
    }
    Ok(())
}

/// Writes the archive next to `out` first and renames it into place, so a
/// failed run never leaves a truncated package behind.
fn write_zip(out: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use zip::write::SimpleFileOptions;

    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let partial = out.with_extension("zip.partial");
    let write = || -> anyhow::Result<()> {
        let file = std::fs::File::create(&partial)?;
        let mut archive = zip::ZipWriter::new(std::io::BufWriter::new(file));
        for entry in entries {
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(zip::DateTime::default())
                .unix_permissions(if entry.executable { 0o755 } else { 0o644 });
            archive.start_file(entry.path.as_str(), options)?;
            archive.write_all(&entry.contents)?;
        }
        archive.finish()?.flush()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("cannot write {}", out.display())));
    }
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))
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
