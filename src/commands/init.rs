//! `photosync init`: create the photos, thumbnails and state containers.

use anyhow::Context as _;

use crate::config::Settings;

/// Creates whichever of the three containers is missing.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let stores = super::storage::stores(settings)?;
    for store in [&stores.photos, &stores.thumbnails, &stores.state] {
        store
            .ensure_container()
            .await
            .with_context(|| format!("cannot create {}", store.location()))?;
        crate::say!("ready: {}", store.location());
    }
    Ok(())
}
