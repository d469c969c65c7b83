//! `photosync doctor`: everything a deployment needs, one line each, ✓ or ✗
//! with the fix, so an admin can work down the list until all are ✓.
//! Exit 0 when nothing needs fixing, 1 otherwise. It writes nothing but a
//! probe blob in the thumbnails and state containers (deleted at once) and
//! changes no profile photo.

use bytes::Bytes;
use futures::StreamExt as _;

use crate::config::{Settings, SettingsError, StorageKind, StorageSettings};
use crate::graph::{GraphClient, PhotoPolicy, REQUIRED_PERMISSIONS, grant_hint};
use crate::identity::claims::Roles;
use crate::store::{BlobProperties, Store, StoreError, WriteMode};

/// One checked thing.
#[derive(Debug)]
pub struct Line {
    /// Fine, to fix, or only for information (does not fail the run).
    pub verdict: Verdict,
    /// What was checked and what was found.
    pub text: String,
    /// What to do, when something is to fix.
    pub fix: Option<String>,
}

/// A line's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Good,
    Fix,
    Note,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = match self.verdict {
            Verdict::Good => "✓",
            Verdict::Fix => "✗",
            Verdict::Note => "–",
        };
        write!(f, "{mark} {}", self.text)?;
        if let Some(fix) = &self.fix {
            for line in fix.lines() {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

fn good(text: impl Into<String>) -> Line {
    Line {
        verdict: Verdict::Good,
        text: text.into(),
        fix: None,
    }
}

fn fix(text: impl Into<String>, what: impl Into<String>) -> Line {
    Line {
        verdict: Verdict::Fix,
        text: text.into(),
        fix: Some(what.into()),
    }
}

fn note(text: impl Into<String>) -> Line {
    Line {
        verdict: Verdict::Note,
        text: text.into(),
        fix: None,
    }
}

/// Prints each line as it is found; returns whether all is well.
pub async fn run(settings: &Settings) -> bool {
    let mut all_good = true;
    let mut print = |line: Line| {
        all_good &= line.verdict != Verdict::Fix;
        crate::say!("{line}");
    };
    for line in settings_lines(settings) {
        print(line);
    }
    for line in storage_lines(settings).await {
        print(line);
    }
    for line in graph_lines(settings).await {
        print(line);
    }
    print(sharepoint_line(settings).await);
    all_good
}

/// When the settings do not even load: the one line there is to print.
pub fn unreadable_settings(error: &SettingsError) -> String {
    fix(
        format!("settings: {}", error.problem),
        format!("fix the app setting {}", error.setting),
    )
    .to_string()
}

fn settings_lines(settings: &Settings) -> Vec<Line> {
    let mut lines: Vec<Line> = settings
        .unknown
        .iter()
        .map(|unknown| {
            let what = match unknown.did_you_mean {
                Some(known) => format!("rename it to {known}"),
                None => "remove it, or see docs/configuration.md for the settings photosync reads"
                    .to_owned(),
            };
            fix(unknown.to_string(), what)
        })
        .collect();
    if lines.is_empty() {
        lines.push(good(
            "settings: every PHOTOSYNC_* setting is known and in range",
        ));
    }
    lines
}

async fn storage_lines(settings: &Settings) -> Vec<Line> {
    let storage = &settings.storage;
    if matches!(storage.kind, StorageKind::Unconfigured) {
        return vec![fix(
            "storage: not configured",
            StorageSettings::unconfigured_help(),
        )];
    }
    let mut lines = vec![good(format!("storage: {}", storage.describe()))];
    let containers = &settings.containers;
    for (name, writable) in [
        (&containers.photos, false),
        (&containers.thumbnails, true),
        (&containers.state, true),
    ] {
        let store = match Store::open(storage, name) {
            Ok(store) => store,
            Err(e) => {
                lines.push(fix(
                    format!("container `{name}`: {e}"),
                    "fix PHOTOSYNC_STORAGE",
                ));
                return lines;
            }
        };
        lines.push(container_line(&store, name, writable).await);
    }
    lines
}

/// Lists one entry; where photosync writes, writes and deletes a probe.
async fn container_line(store: &Store, name: &str, writable: bool) -> Line {
    let problem = |what: &str, e: StoreError| {
        let (text, fix_it) = match e {
            StoreError::Configuration { message } if message.contains("does not exist") => (
                message,
                "run `photosync init` (creates the three containers), or fix the container setting",
            ),
            e => (
                format!("{what}: {:#}", anyhow::Error::new(e)),
                "give the identity Storage Blob Data Contributor on the account (docs/deployment.md)",
            ),
        };
        fix(format!("container `{name}`: {text}"), fix_it)
    };
    if let Some(Err(e)) = store.list_blobs(None).next().await {
        return problem("cannot list it", e);
    }
    if !writable {
        return good(format!("container `{name}`: exists, photosync can list it"));
    }
    let probe = format!("photosync-doctor/probe-{}", uuid::Uuid::new_v4());
    let body = Bytes::from_static(b"photosync doctor");
    let properties = BlobProperties::default();
    if let Err(e) = store
        .put(&probe, body, &properties, WriteMode::Create)
        .await
    {
        return problem("photosync cannot write to it", e);
    }
    if let Err(e) = store.delete(&probe).await {
        return problem(&format!("cannot delete the probe `{probe}`"), e);
    }
    good(format!(
        "container `{name}`: exists, photosync can list, write and delete"
    ))
}

async fn graph_lines(settings: &Settings) -> Vec<Line> {
    let Some(credentials) = settings.graph.credentials.as_ref() else {
        return vec![fix(
            "Microsoft Graph: no credentials: runs dry (thumbnails and report, no profile photo changes)",
            "deploy to Azure (the managed identity is used), or set PHOTOSYNC_TENANT_ID with \
             PHOTOSYNC_CLIENT_ID and a secret or certificate (docs/configuration.md)",
        )];
    };
    let graph = match crate::resilience::http_client(settings.graph.timeout)
        .map_err(anyhow::Error::msg)
        .and_then(|http| Ok(GraphClient::from_settings(&settings.graph, http)?))
    {
        Ok(Some(graph)) => graph,
        Ok(None) => unreachable!("credentials are set"),
        Err(e) => {
            return vec![fix(
                format!("Microsoft Graph: {e:#}"),
                "fix the Graph settings",
            )];
        }
    };
    let kind = credentials.kind();
    let roles = match graph.roles().await {
        Ok(roles) => roles,
        Err(e) => {
            return vec![fix(
                format!("Microsoft Graph: no token ({kind}): {e}"),
                e.code().advice(),
            )];
        }
    };
    let mut lines = vec![good(format!("Microsoft Graph: token obtained ({kind})"))];
    let for_the_app = credentials.speaks_for_the_app();
    lines.push(match roles.missing(&REQUIRED_PERMISSIONS) {
        _ if !for_the_app => note(
            "Graph permissions: not checked: your Azure CLI sign-in acts with your own \
             (delegated) rights; run doctor where the app runs to check the app's grant",
        ),
        None => note("Graph permissions: the token does not list them (not a readable JWT)"),
        Some(missing) if missing.is_empty() => good(format!(
            "Graph permissions: {}",
            REQUIRED_PERMISSIONS.join(", ")
        )),
        Some(missing) => fix(
            format!(
                "Graph permissions: the app's token lacks {}",
                missing.join(", ")
            ),
            grant_hint(credentials, &missing),
        ),
    });
    if let Roles::Granted(held) = &roles
        && !held.iter().any(|r| r.starts_with("PeopleSettings."))
        && for_the_app
    {
        lines.push(note(
            "photo update policy: not checked (optional PeopleSettings.Read.All not granted)",
        ));
        return lines;
    }
    lines.push(match graph.photo_policy().await {
        PhotoPolicy::Cloud => good("photo update policy: cloud updates allowed"),
        PhotoPolicy::OnPremises => fix(
            "photo update policy: `onPremises`: Microsoft 365 refuses every photo change",
            crate::problem::ProblemCode::PhotoUpdatesDisabled.advice(),
        ),
        PhotoPolicy::Unknown(why) => note(format!("photo update policy: not readable: {why}")),
    });
    lines
}

async fn sharepoint_line(settings: &Settings) -> Line {
    let Some(sharepoint) = settings.sharepoint.as_ref() else {
        return note("SharePoint: not configured (optional)");
    };
    let targets = match crate::sync::Targets::from_settings(settings) {
        Ok(targets) => targets,
        Err(e) => {
            return fix(
                format!("SharePoint: {e:#}"),
                "see docs/targets.md, Permissions",
            );
        }
    };
    match targets.sharepoint {
        None => note("SharePoint: configured, but no credentials: runs dry"),
        Some(client) => match client.check_tokens().await {
            Ok(()) => good(format!(
                "SharePoint: tokens obtained for {} and its admin host",
                sharepoint.mysite_url
            )),
            Err(e) => fix(format!("SharePoint: {e}"), e.code().advice()),
        },
    }
}
