//! A failure on the way through the flow: its problem (code and message)
//! and, once known, the user. Whether it is retried follows from the code
//! ([`ProblemCode::is_transient`]), so no flag can contradict it.

use crate::graph::GraphError;
use crate::pipeline::PipelineError;
use crate::problem::{Problem, ProblemCode};
use crate::sharepoint::SharePointError;
use crate::store::StoreError;
use crate::sync::ledger::{LedgerError, UserRef};

/// Why a step stopped the photo.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What went wrong.
    pub problem: Problem,
    /// The matched user, when the failure came after the match (so the
    /// report still says whose photo it is).
    pub user: Option<UserRef>,
}

impl Failure {
    pub fn new(code: ProblemCode, message: impl std::fmt::Display) -> Self {
        Self {
            problem: Problem::new(code, message),
            user: None,
        }
    }

    /// The same failure, for `user`.
    pub fn for_user(mut self, user: Option<&UserRef>) -> Self {
        self.user = user.cloned();
        self
    }

    /// Whether the host (or the timer) should try again.
    pub fn is_transient(&self) -> bool {
        self.problem.is_transient()
    }
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        Self::new(e.code(), &e)
    }
}

impl From<SharePointError> for Failure {
    fn from(e: SharePointError) -> Self {
        Self::new(e.code(), &e)
    }
}

impl From<PipelineError> for Failure {
    fn from(e: PipelineError) -> Self {
        Self::new(e.code(), &e)
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(e) => e.into(),
            LedgerError::Corrupt { .. } => Self::new(ProblemCode::LedgerCorrupt, e),
            LedgerError::Conflict(_) => Self::new(ProblemCode::StorageUnavailable, e),
        }
    }
}

impl From<crate::sync::backup::BackupError> for Failure {
    fn from(e: crate::sync::backup::BackupError) -> Self {
        use crate::sync::backup::BackupError;
        let code = match &e {
            BackupError::Graph(g) => g.code(),
            BackupError::Store(s) => s.code(),
        };
        Self::new(code, &e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::new(e.code(), format!("{e:#}"))
    }
}
