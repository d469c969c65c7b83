//! Every `PHOTOSYNC_*` setting photosync reads, so a misspelt one
//! (`PHOTOSYNC_CROPP`) is a warning with a did-you-mean instead of a
//! setting silently ignored. A test keeps this list, the code and the
//! settings table of docs/configuration.md in step.

/// The settings, as docs/configuration.md's table names them.
pub(super) const KNOWN: &[&str] = &[
    "PHOTOSYNC_APPROVAL",
    "PHOTOSYNC_APPROVER_GROUP",
    "PHOTOSYNC_AUTHORITY_URL",
    "PHOTOSYNC_BACKGROUND",
    "PHOTOSYNC_BACKUP_KEEP",
    "PHOTOSYNC_CLIENT_CERTIFICATE_PATH",
    "PHOTOSYNC_CLIENT_ID",
    "PHOTOSYNC_CLIENT_SECRET",
    "PHOTOSYNC_CROP",
    "PHOTOSYNC_DELETE_REMOVED",
    "PHOTOSYNC_DRY_RUN",
    "PHOTOSYNC_ENFORCE",
    "PHOTOSYNC_GRAPH_CONCURRENCY",
    "PHOTOSYNC_GRAPH_MAX_ATTEMPTS",
    "PHOTOSYNC_GRAPH_MAX_CONCURRENCY",
    "PHOTOSYNC_GRAPH_MAX_WAIT_SECS",
    "PHOTOSYNC_GRAPH_TIMEOUT_SECS",
    "PHOTOSYNC_GRAPH_URL",
    "PHOTOSYNC_HANDLER_BODY_TIMEOUT_SECS",
    "PHOTOSYNC_HANDLER_HEADER_TIMEOUT_SECS",
    "PHOTOSYNC_JPEG_QUALITY",
    "PHOTOSYNC_LEASE_SECS",
    "PHOTOSYNC_LOG",
    "PHOTOSYNC_LOG_FORMAT",
    "PHOTOSYNC_MATCH_BY",
    "PHOTOSYNC_MAX_BYTES",
    "PHOTOSYNC_MAX_DECODE_MB",
    "PHOTOSYNC_MEMORY_MB",
    "PHOTOSYNC_MAX_PIXELS",
    "PHOTOSYNC_MAX_RENDER_SECS",
    "PHOTOSYNC_MIN_SIZE",
    "PHOTOSYNC_NOTIFY_WEBHOOK",
    "PHOTOSYNC_PHOTOS_CONTAINER",
    "PHOTOSYNC_RECONCILE_BUDGET_SECS",
    "PHOTOSYNC_RECONCILE_CONCURRENCY",
    "PHOTOSYNC_REMOVAL_LIMIT",
    "PHOTOSYNC_REPORT_HISTORY_DAYS",
    "PHOTOSYNC_SELF_SERVICE",
    "PHOTOSYNC_SHAREPOINT_ADMIN_URL",
    "PHOTOSYNC_SHAREPOINT_LARGE_SIZE",
    "PHOTOSYNC_SHAREPOINT_LIBRARY_PATH",
    "PHOTOSYNC_SHAREPOINT_MYSITE_URL",
    "PHOTOSYNC_SHAREPOINT_PACING_MS",
    "PHOTOSYNC_SHAREPOINT_RESOURCE",
    "PHOTOSYNC_SIZES",
    "PHOTOSYNC_STATE_CONTAINER",
    "PHOTOSYNC_STORAGE",
    "PHOTOSYNC_TENANT_ID",
    "PHOTOSYNC_THUMBNAILS_CONTAINER",
    "PHOTOSYNC_UPLOADER_GROUP",
    "PHOTOSYNC_WEB_AUTH",
    "PHOTOSYNC_WEB_MAX_UPLOAD_BYTES",
    "PHOTOSYNC_WEB_ORIGINS",
    "PHOTOSYNC_WEB_UPLOADS_PER_HOUR",
];

/// Identity-based storage connections are a family
/// (`PHOTOSYNC_STORAGE__accountName`, `__blobServiceUri`, `__credential`, …),
/// as the Functions host names them.
const FAMILY: &str = "PHOTOSYNC_STORAGE__";

/// A `PHOTOSYNC_*` variable photosync does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSetting {
    /// The name as given (upper-cased).
    pub name: String,
    /// The known setting it most likely meant, if one is close.
    pub did_you_mean: Option<&'static str>,
}

impl std::fmt::Display for UnknownSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "setting {} is not one photosync reads", self.name)?;
        match self.did_you_mean {
            Some(known) => write!(f, "; did you mean {known}? It is ignored."),
            None => write!(
                f,
                "; it is ignored (docs/configuration.md lists every setting)."
            ),
        }
    }
}

/// The `PHOTOSYNC_*` names among `names` that photosync does not read.
pub(super) fn unknown<'a>(names: impl Iterator<Item = &'a str>) -> Vec<UnknownSetting> {
    let mut unknown: Vec<UnknownSetting> = names
        .map(str::to_ascii_uppercase)
        .filter(|name| name.starts_with("PHOTOSYNC_"))
        .filter(|name| !name.starts_with(FAMILY) && !KNOWN.contains(&name.as_str()))
        .map(|name| UnknownSetting {
            did_you_mean: closest(&name),
            name,
        })
        .collect();
    unknown.sort_by(|a, b| a.name.cmp(&b.name));
    unknown
}

/// The known name within a few edits of `name` (a typo, not another setting).
fn closest(name: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .map(|known| (edits(name, known), *known))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance over bytes (setting names are ASCII).
fn edits(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_setting_is_named_with_what_it_probably_meant() {
        let found = unknown(
            [
                "PHOTOSYNC_CROPP",
                "photosync_dryrun",
                "PHOTOSYNC_CROP",
                "PHOTOSYNC_STORAGE__accountName",
                "PHOTOSYNC_SOMETHING_ELSE_ENTIRELY",
                "PATH",
            ]
            .into_iter(),
        );
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "setting PHOTOSYNC_CROPP is not one photosync reads; did you mean PHOTOSYNC_CROP? It is ignored.",
                "setting PHOTOSYNC_DRYRUN is not one photosync reads; did you mean PHOTOSYNC_DRY_RUN? It is ignored.",
                "setting PHOTOSYNC_SOMETHING_ELSE_ENTIRELY is not one photosync reads; it is ignored (docs/configuration.md lists every setting).",
            ]
        );
    }

    /// Every name the code reads is in the list, and every listed name is
    /// documented: a new setting cannot be added in one place only.
    #[test]
    fn the_list_matches_the_code_and_the_settings_page() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut read = std::collections::BTreeSet::new();
        let mut pending = vec![root.join("src")];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("known.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (at, _) in text.match_indices("\"PHOTOSYNC_") {
                        let name: String = text[at + 1..]
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'
                            })
                            .collect();
                        if name != FAMILY {
                            read.insert((name, path.display().to_string()));
                        }
                    }
                }
            }
        }
        for (name, file) in &read {
            assert!(
                KNOWN.contains(&name.as_str()),
                "{file} reads {name}: add it to config/known.rs and docs/configuration.md"
            );
        }
        let page = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
        for name in KNOWN {
            assert!(
                page.lines()
                    .filter_map(|line| line.strip_prefix("| `"))
                    .filter_map(|line| line.split('|').next())
                    .any(|cell| cell.contains(&format!("{name}`"))),
                "{name} is not documented in the settings table of docs/configuration.md"
            );
        }
    }
}
