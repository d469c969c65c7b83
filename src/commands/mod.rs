//! What each CLI command does; `main.rs` only parses arguments and calls these.
//!
//! Exit codes say what kind of thing happened, so a script (or an admin)
//! can tell a typo from an outage: see [`ExitKind`].

mod say;

pub mod doctor;
pub mod elf;
pub mod init;
pub mod package;
pub mod preview;
pub mod progress;
pub mod reconcile;
pub mod restore;
pub mod retry;
pub mod serve;
pub mod status;
pub mod storage;
pub mod sync;
pub mod thumbnail;

pub use say::say;

use crate::config::{ConfigurationError, SettingsError};
use crate::store::StoreError;

/// A problem with the command line rather than with photos (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What a failed command's error means, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: the command ran, some photos failed (the report says which).
    SomeFailed = 1,
    /// 2: the command line or a setting is wrong; fix it and run again.
    Usage = 2,
    /// 3: a service (storage, Microsoft Graph, Entra ID) could not be
    /// reached or failed; nothing is wrong with the command; run it again later.
    Unavailable = 3,
}

/// Classifies a command's error by what caused it.
pub fn exit_kind(error: &anyhow::Error) -> ExitKind {
    for cause in error.chain() {
        if cause.is::<UsageError>()
            || cause.is::<SettingsError>()
            || cause.is::<ConfigurationError>()
        {
            return ExitKind::Usage;
        }
        // The ledger's storage errors are `transparent`: the chain shows
        // the `LedgerError`, never the `StoreError` inside it.
        let store = cause.downcast_ref::<StoreError>().or_else(|| {
            match cause.downcast_ref::<crate::sync::ledger::LedgerError>() {
                Some(crate::sync::ledger::LedgerError::Store(store)) => Some(store),
                _ => None,
            }
        });
        if let Some(store) = store {
            return if store.is_transient() {
                ExitKind::Unavailable
            } else {
                ExitKind::Usage
            };
        }
        if let Some(graph) = cause.downcast_ref::<crate::graph::GraphError>() {
            return if graph.is_transient() {
                ExitKind::Unavailable
            } else {
                ExitKind::Usage
            };
        }
    }
    ExitKind::SomeFailed
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn an_outage_does_not_read_as_a_typo() {
        let outage: anyhow::Result<()> = Err(StoreError::Unavailable {
            name: "(listing)".into(),
            source: anyhow::anyhow!("connection refused"),
        })
        .context("the reconcile run stopped");
        assert_eq!(exit_kind(&outage.unwrap_err()), ExitKind::Unavailable);
        let config: anyhow::Result<()> = Err(StoreError::Configuration {
            message: "container `photos` does not exist".into(),
        })
        .context("the reconcile run stopped");
        assert_eq!(exit_kind(&config.unwrap_err()), ExitKind::Usage);
        let usage = anyhow::Error::new(UsageError("x is not a folder".into()));
        assert_eq!(exit_kind(&usage), ExitKind::Usage);
    }
}
