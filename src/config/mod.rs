//! Typed settings, read once at start-up from the environment.
//!
//! The Functions host hands every app setting to the handler as an environment
//! variable, so one configuration (local.settings.json locally, Application
//! settings in Azure) serves host and handler. Names are matched
//! case-insensitively, as the host does. Every problem is reported with the
//! setting's name; values are echoed only for settings that hold no secret.

pub mod connection_string;
pub mod env_file;
mod graph;
mod known;
mod memory;
mod reconcile;
mod sharepoint;
mod web;

use std::collections::HashMap;
use std::fmt;

use url::Url;

pub use memory::MemorySettings;

use crate::graph::GraphSettings;
use crate::pipeline::{CropMode, RenderOptions};
pub use connection_string::{BlobAuth, BlobConnection};
pub use known::UnknownSetting;
pub use reconcile::ReconcileSettings;
pub use web::{WebAuth, WebSettings};

/// Where the handler listens when the host gives no port (local experiments only).
pub const FALLBACK_PORT: u16 = 8080;

/// All settings the process needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Port on 127.0.0.1 for the handler; `None` when the host set no port variable.
    pub port: Option<u16>,
    /// How long a client may take to send a request's headers, and how long
    /// an idle connection stays open (`PHOTOSYNC_HANDLER_HEADER_TIMEOUT_SECS`,
    /// 1–120, default 10): the host sends at once; a stalled client is closed.
    pub header_timeout: std::time::Duration,
    /// How long the rest of a request's body may take once its headers are
    /// in (`PHOTOSYNC_HANDLER_BODY_TIMEOUT_SECS`, 1–600, default 60: ample
    /// for 70 MB over loopback).
    pub body_timeout: std::time::Duration,
    /// How to reach blob storage.
    pub storage: StorageSettings,
    /// Container names, shared with `function.json` through `%SETTING%` expansion.
    pub containers: Containers,
    /// Sizes, quality and safety limits of the photo pipeline.
    pub render: RenderOptions,
    /// How the process's memory target splits between photos held and
    /// decodes (`PHOTOSYNC_MEMORY_MB`).
    pub memory: MemorySettings,
    /// Log output shape and filter.
    pub log: LogSettings,
    /// Microsoft Graph target and app identity.
    pub graph: GraphSettings,
    /// The Reconcile run.
    pub reconcile: ReconcileSettings,
    /// The SharePoint Online target; `None` when not configured.
    pub sharepoint: Option<crate::sharepoint::SharePointSettings>,
    /// The web page: sign-in trust, roles, upload limits.
    pub web: WebSettings,
    /// `PHOTOSYNC_*` variables photosync does not read (typos): logged as
    /// warnings once logging is set up, never fatal (an old setting left
    /// behind must not stop a deployment).
    pub unknown: Vec<UnknownSetting>,
}

/// The three containers the product uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containers {
    /// Where people drop photos (`PHOTOSYNC_PHOTOS_CONTAINER`).
    pub photos: String,
    /// Where square thumbnails go for other apps (`PHOTOSYNC_THUMBNAILS_CONTAINER`).
    pub thumbnails: String,
    /// Ledger and reports (`PHOTOSYNC_STATE_CONTAINER`); never the photos container,
    /// because writing there would re-trigger the blob trigger.
    pub state: String,
}

/// Blob storage location and credentials, and which setting they came from.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// The app setting (prefix) this was read from, for messages.
    pub source: String,
    /// The connection itself.
    pub kind: StorageKind,
}

/// The two ways the Functions convention describes a storage connection.
#[derive(Debug, Clone)]
pub enum StorageKind {
    /// A classic connection string (account key or SAS, or Azurite).
    ConnectionString(BlobConnection),
    /// An identity-based connection: `{PREFIX}__blobServiceUri` (or `__accountName`),
    /// authorised with the app's managed identity (on Azure: the platform
    /// sets `IDENTITY_ENDPOINT`, or `{PREFIX}__credential=managedidentity`).
    ManagedIdentity {
        /// Blob service URL, e.g. `https://acct.blob.core.windows.net`.
        blob_service_uri: Url,
        /// Storage account name, taken from the URL's first label.
        account: String,
        /// Client id of a user-assigned identity; `None` selects the system-assigned one.
        client_id: Option<String>,
    },
    /// An identity-based connection off Azure (no managed identity there, or
    /// `{PREFIX}__credential=azurecli`): the admin's own Azure CLI sign-in.
    AzureCli {
        /// Blob service URL, e.g. `https://acct.blob.core.windows.net`.
        blob_service_uri: Url,
        /// Storage account name, taken from the URL's first label.
        account: String,
    },
    /// Nothing configured. Never a silent Azurite: commands that need storage
    /// refuse with what to set ([`StorageSettings::unconfigured_help`]).
    Unconfigured,
}

impl StorageSettings {
    /// What to set when no storage is configured.
    pub fn unconfigured_help() -> &'static str {
        "no storage account is configured: set PHOTOSYNC_STORAGE__accountName=<account> \
         (signs in with your Azure CLI login, `az login`), or a connection string in \
         PHOTOSYNC_STORAGE, or PHOTOSYNC_STORAGE=UseDevelopmentStorage=true for a local Azurite"
    }

    /// One line naming the account and how photosync signs in to it, for the
    /// first line of a command and the start-up log; never a secret.
    pub fn describe(&self) -> String {
        match &self.kind {
            StorageKind::ConnectionString(c) if c.is_emulator => format!(
                "Azurite development storage at {} (from {})",
                c.blob_endpoint, self.source
            ),
            StorageKind::ConnectionString(c) => format!(
                "storage account `{}` at {} ({}, from {})",
                c.account,
                c.blob_endpoint,
                c.auth.kind(),
                self.source
            ),
            StorageKind::ManagedIdentity {
                blob_service_uri,
                account,
                ..
            } => format!(
                "storage account `{account}` at {blob_service_uri} (managed identity, from {})",
                self.source
            ),
            StorageKind::AzureCli {
                blob_service_uri,
                account,
            } => format!(
                "storage account `{account}` at {blob_service_uri} (your Azure CLI sign-in, from {})",
                self.source
            ),
            StorageKind::Unconfigured => "no storage account configured".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// Output shape (`PHOTOSYNC_LOG_FORMAT`).
    pub format: LogFormat,
    /// `tracing` filter directives (`PHOTOSYNC_LOG`, else `RUST_LOG`, else `info`).
    pub filter: String,
}

/// JSON for machines (Azure), pretty for people (a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when stderr is not a terminal (as under the Functions host), else pretty.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable, coloured when on a terminal.
    Pretty,
}

/// A setting that could not be used. Display: `PHOTOSYNC_SIZES: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {setting}: {problem}")]
pub struct SettingsError {
    /// The app setting's name, as the admin would type it.
    pub setting: String,
    /// What is wrong with it, without secret values.
    pub problem: String,
}

/// Settings that parse but cannot be used together or as given (a
/// certificate that cannot be read, a secret where SharePoint needs a
/// certificate): found at start-up, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigurationError(pub String);

impl SettingsError {
    fn new(setting: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.to_string(),
        }
    }
}

/// Case-insensitive view over a set of variables.
struct Env(HashMap<String, String>);

impl Env {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(&name.to_ascii_lowercase())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, SettingsError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| SettingsError::new(name, format!("`{raw}`: {e}"))),
        }
    }
}

impl Env {
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    fn flag(&self, name: &str, default: bool) -> Result<bool, SettingsError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(SettingsError::new(
                name,
                format!("`{other}` must be true or false"),
            )),
        }
    }
}

/// A number setting within `range` (inclusive), `default` when unset.
fn bounded<T>(
    env: &Env,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    T::Err: std::fmt::Display,
{
    let value: T = env.parse(name, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(SettingsError::new(
            name,
            format!(
                "`{value}` must be between {} and {}",
                range.start(),
                range.end()
            ),
        ))
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from any set of variables (tests pass their own).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, SettingsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let env = Env(vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()))
            .collect());
        let render = render(&env)?;
        let memory = memory::memory(&env, &render, body_limit(render.max_bytes) as u64)?;
        let graph = graph::graph(&env)?;
        Ok(Self {
            port: port(&env)?,
            header_timeout: std::time::Duration::from_secs(bounded(
                &env,
                "PHOTOSYNC_HANDLER_HEADER_TIMEOUT_SECS",
                10,
                1..=120,
            )?),
            body_timeout: std::time::Duration::from_secs(bounded(
                &env,
                "PHOTOSYNC_HANDLER_BODY_TIMEOUT_SECS",
                60,
                1..=600,
            )?),
            storage: storage(&env)?,
            containers: containers(&env)?,
            web: web::web(&env, graph.match_by, render.max_bytes)?,
            render,
            memory,
            log: log(&env)?,
            graph,
            reconcile: reconcile::reconcile(&env)?,
            sharepoint: sharepoint::sharepoint(&env)?,
            unknown: known::unknown(env.0.keys().map(String::as_str)),
        })
    }

    /// Largest invocation body the handler accepts: the photo arrives base64-encoded
    /// (4 bytes per 3) inside JSON with its metadata, so allow a third more plus slack.
    pub fn max_body_bytes(&self) -> usize {
        body_limit(self.render.max_bytes)
    }
}

/// The invocation body a photo of `max_bytes` arrives in.
fn body_limit(max_bytes: u64) -> usize {
    let photo = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    photo.saturating_add(photo / 3).saturating_add(64 * 1024)
}

fn port(env: &Env) -> Result<Option<u16>, SettingsError> {
    for name in ["FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT"] {
        if env.get(name).is_some() {
            return env.parse::<u16>(name, 0).map(Some);
        }
    }
    Ok(None)
}

/// `PHOTOSYNC_STORAGE`, then its identity-based form, then the same for
/// `AzureWebJobsStorage`; with nothing at all, unconfigured (never a silent
/// Azurite: `retry` against the wrong storage looks like success).
fn storage(env: &Env) -> Result<StorageSettings, SettingsError> {
    for prefix in ["PHOTOSYNC_STORAGE", "AzureWebJobsStorage"] {
        if let Some(raw) = env.get(prefix) {
            let connection = connection_string::parse(raw).map_err(|e| {
                SettingsError::new(prefix, format!("not a usable connection string: {e}"))
            })?;
            return Ok(StorageSettings {
                source: prefix.to_owned(),
                kind: StorageKind::ConnectionString(connection),
            });
        }
        if let Some(kind) = identity_connection(env, prefix)? {
            return Ok(StorageSettings {
                source: prefix.to_owned(),
                kind,
            });
        }
    }
    Ok(StorageSettings {
        source: "(none set)".to_owned(),
        kind: StorageKind::Unconfigured,
    })
}

fn identity_connection(env: &Env, prefix: &str) -> Result<Option<StorageKind>, SettingsError> {
    let uri_name = format!("{prefix}__blobServiceUri");
    let account_name = format!("{prefix}__accountName");
    let uri = match (env.get(&uri_name), env.get(&account_name)) {
        (Some(uri), _) => Url::parse(uri)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
            .ok_or_else(|| {
                SettingsError::new(&uri_name, format!("`{uri}` is not an http(s) URL"))
            })?,
        (None, Some(account)) => Url::parse(&format!("https://{account}.blob.core.windows.net"))
            .map_err(|_| {
                SettingsError::new(&account_name, format!("`{account}` is not an account name"))
            })?,
        (None, None) => return Ok(None),
    };
    // `https://acct.blob.core.windows.net`; an emulator or proxy on an IP
    // address carries the account in the path (`http://127.0.0.1:10000/acct`).
    let account = match uri.host() {
        Some(url::Host::Domain(d)) if !d.eq_ignore_ascii_case("localhost") => {
            d.split('.').next().unwrap_or_default().to_owned()
        }
        _ => uri
            .path_segments()
            .and_then(|mut s| s.next())
            .unwrap_or_default()
            .to_owned(),
    };
    // The Functions convention names `managedidentity`
    // (learn.microsoft.com/azure/azure-functions/functions-reference#common-properties-for-identity-based-connections);
    // off Azure (no platform identity endpoint) the admin's Azure CLI sign-in applies.
    let credential_name = format!("{prefix}__credential");
    let azure_cli = match env.get(&credential_name) {
        Some(c) if c.eq_ignore_ascii_case("managedidentity") => false,
        Some(c) if c.eq_ignore_ascii_case("azurecli") => true,
        Some(other) => {
            return Err(SettingsError::new(
                credential_name,
                format!(
                    "`{other}` is not supported; use `managedidentity`, `azurecli` or leave it unset"
                ),
            ));
        }
        // A `__clientId` names a user-assigned managed identity.
        None => {
            env.get("IDENTITY_ENDPOINT").is_none()
                && env.get(&format!("{prefix}__clientId")).is_none()
        }
    };
    if azure_cli {
        return Ok(Some(StorageKind::AzureCli {
            blob_service_uri: uri,
            account,
        }));
    }
    Ok(Some(StorageKind::ManagedIdentity {
        blob_service_uri: uri,
        account,
        client_id: env.get(&format!("{prefix}__clientId")).map(str::to_owned),
    }))
}

fn containers(env: &Env) -> Result<Containers, SettingsError> {
    let name = |setting: &str, default: &str| -> Result<String, SettingsError> {
        let value = env.get(setting).unwrap_or(default).to_owned();
        validate_container_name(&value).map_err(|problem| SettingsError::new(setting, problem))?;
        Ok(value)
    };
    let containers = Containers {
        photos: name("PHOTOSYNC_PHOTOS_CONTAINER", "photos")?,
        thumbnails: name("PHOTOSYNC_THUMBNAILS_CONTAINER", "thumbnails")?,
        state: name("PHOTOSYNC_STATE_CONTAINER", "photosync")?,
    };
    if containers.state == containers.photos || containers.thumbnails == containers.photos {
        return Err(SettingsError::new(
            "PHOTOSYNC_PHOTOS_CONTAINER",
            "must differ from the thumbnails and state containers (writes there would re-trigger the blob trigger)",
        ));
    }
    if containers.state == containers.thumbnails {
        return Err(SettingsError::new(
            "PHOTOSYNC_STATE_CONTAINER",
            "must differ from PHOTOSYNC_THUMBNAILS_CONTAINER (apps read thumbnails from there; the ledger and reports are private)",
        ));
    }
    Ok(containers)
}

/// Azure's rules: 3–63 characters, lower-case letters, digits and single hyphens,
/// starting and ending with a letter or digit.
fn validate_container_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid container name (3-63 lower-case letters, digits, single hyphens)"
        ))
    }
}

fn render(env: &Env) -> Result<RenderOptions, SettingsError> {
    let defaults = RenderOptions::default();
    let sizes = match env.get("PHOTOSYNC_SIZES") {
        None => defaults.sizes.clone(),
        Some(raw) => parse_sizes(raw).map_err(|p| SettingsError::new("PHOTOSYNC_SIZES", p))?,
    };
    let quality: u8 = bounded(
        env,
        "PHOTOSYNC_JPEG_QUALITY",
        defaults.jpeg_quality,
        1..=100,
    )?;
    let crop = match env
        .get("PHOTOSYNC_CROP")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => defaults.crop,
        Some("center" | "centre") => CropMode::Center,
        Some("top") => CropMode::Top,
        Some("face") => CropMode::Face,
        Some(other) => {
            return Err(SettingsError::new(
                "PHOTOSYNC_CROP",
                format!("`{other}` must be `face`, `top` or `center`"),
            ));
        }
    };
    let background = match env.get("PHOTOSYNC_BACKGROUND") {
        None => defaults.background,
        Some(raw) => parse_colour(raw).ok_or_else(|| {
            SettingsError::new(
                "PHOTOSYNC_BACKGROUND",
                format!("`{raw}` is not a colour like #ffffff"),
            )
        })?,
    };
    // Options without a setting keep the pipeline's defaults.
    #[allow(clippy::needless_update)]
    let options = RenderOptions {
        min_size: bounded(env, "PHOTOSYNC_MIN_SIZE", defaults.min_size, 16..=4096)?,
        // The host refuses requests over 100 MB, and the photo arrives
        // base64-encoded (4/3 larger): 75 MB is the most a trigger can carry.
        max_bytes: bounded(
            env,
            "PHOTOSYNC_MAX_BYTES",
            defaults.max_bytes,
            1024..=75 * 1024 * 1024,
        )?,
        max_pixels: bounded(
            env,
            "PHOTOSYNC_MAX_PIXELS",
            defaults.max_pixels,
            10_000..=500_000_000,
        )?,
        // Below 32 MB even a 12 MP baseline JPEG would be refused; above
        // 4 GB is more than any Functions plan has.
        max_decode_bytes: bounded(
            env,
            "PHOTOSYNC_MAX_DECODE_MB",
            defaults.max_decode_bytes >> 20,
            32..=4096,
        )? << 20,
        time_budget: Some(std::time::Duration::from_secs(bounded(
            env,
            "PHOTOSYNC_MAX_RENDER_SECS",
            defaults.time_budget.map_or(20, |d| d.as_secs()),
            1..=600,
        )?)),
        sizes,
        jpeg_quality: quality,
        crop,
        background,
        ..defaults
    };
    Ok(options)
}

/// `"648, 48,96"` → `[48, 96, 648]`.
pub fn parse_sizes(raw: &str) -> Result<Vec<u32>, String> {
    let mut sizes = raw
        .split(',')
        .map(|s| {
            let s = s.trim();
            s.parse::<u32>()
                .ok()
                .filter(|n| (16..=4096).contains(n))
                .ok_or_else(|| format!("`{s}` is not a size between 16 and 4096"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

/// `#rrggbb` or `rrggbb`.
fn parse_colour(raw: &str) -> Option<[u8; 3]> {
    let hex = raw.strip_prefix('#').unwrap_or(raw);
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

fn log(env: &Env) -> Result<LogSettings, SettingsError> {
    let format = match env
        .get("PHOTOSYNC_LOG_FORMAT")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("auto") => LogFormat::Auto,
        Some("json") => LogFormat::Json,
        Some("pretty") => LogFormat::Pretty,
        Some(other) => {
            return Err(SettingsError::new(
                "PHOTOSYNC_LOG_FORMAT",
                format!("`{other}` must be auto, json or pretty"),
            ));
        }
    };
    let (name, filter) = match (env.get("PHOTOSYNC_LOG"), env.get("RUST_LOG")) {
        (Some(f), _) => ("PHOTOSYNC_LOG", f),
        (None, Some(f)) => ("RUST_LOG", f),
        (None, None) => ("PHOTOSYNC_LOG", "info"),
    };
    // Checked now: a filter that does not parse would otherwise silently log nothing.
    tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
        SettingsError::new(
            name,
            format!("`{filter}` is not a log filter ({e}); e.g. `info` or `photosync=debug,warn`"),
        )
    })?;
    Ok(LogSettings {
        format,
        filter: filter.to_owned(),
    })
}

#[cfg(test)]
mod tests;
