//! Failures on the way through the flow, classified for the ledger (which
//! status, which code) and for the host (retry or not).

use crate::graph::GraphError;
use crate::store::StoreError;
use crate::sync::ledger::{LedgerError, Problem};

/// A failure on the way, classified for the ledger and the answer.
pub(super) struct Failure {
    pub problem: Problem,
    pub transient: bool,
    /// Not a photo at all: recorded as `ignored`, not `failed`.
    pub ignored: bool,
}

impl Failure {
    pub fn new(code: &str, message: impl std::fmt::Display, transient: bool) -> Self {
        Self {
            problem: Problem {
                code: code.to_owned(),
                message: message.to_string(),
            },
            transient,
            ignored: false,
        }
    }
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        Self::new(e.code(), &e, e.is_transient())
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(e) => e.into(),
            other => Self::new("storage-unavailable", other, true),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::new(e.code(), format!("{e:#}"), e.is_transient())
    }
}
