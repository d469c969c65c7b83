//! Opening the configured storage for a command, saying first which account
//! it is and how photosync signs in to it: an admin must never act on the
//! wrong storage without seeing so (a `retry` against an Azurite nobody
//! meant answered "0 photo(s) marked", which looked like success).

use anyhow::Context as _;

use crate::config::{Settings, StorageKind, StorageSettings};
use crate::store::{Store, Stores};

/// The three containers.
pub fn stores(settings: &Settings) -> anyhow::Result<Stores> {
    announce(&settings.storage)?;
    Stores::open(&settings.storage, &settings.containers)
        .context("the storage settings are not usable")
}

/// One container (`state` for the ledger, `photos` for a preview).
pub fn container(settings: &Settings, name: &str) -> anyhow::Result<Store> {
    announce(&settings.storage)?;
    Store::open(&settings.storage, name).context("the storage settings are not usable")
}

/// The first line on stderr, or the refusal when nothing is configured.
fn announce(storage: &StorageSettings) -> anyhow::Result<()> {
    if matches!(storage.kind, StorageKind::Unconfigured) {
        return Err(super::UsageError(StorageSettings::unconfigured_help().to_owned()).into());
    }
    eprintln!("storage: {}", storage.describe());
    Ok(())
}
