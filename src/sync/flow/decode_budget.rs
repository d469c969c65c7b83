//! The decode memory budget shared by every render of this process: a
//! semaphore of `PHOTOSYNC_MAX_DECODE_MB` one-megabyte permits, from which
//! each render takes as many as its header predicts it will allocate. Two
//! renders that together would exceed the budget therefore never decode at
//! once; one over the whole budget was already refused by the prediction
//! (`image-too-large`), so no render can wait for permits that do not exist.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Failure;
use crate::problem::ProblemCode;

const MB: u64 = 1 << 20;

/// The megabytes of decode memory still free.
#[derive(Debug)]
pub(crate) struct DecodeBudget {
    /// One permit per megabyte.
    permits: Arc<Semaphore>,
    /// The budget, in megabytes.
    total: u32,
}

impl DecodeBudget {
    /// A budget of `bytes`, rounded down to whole megabytes (at least one).
    pub(crate) fn new(bytes: u64) -> Self {
        let total = (bytes / MB).clamp(1, u64::from(u32::MAX)) as u32;
        Self {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits until `bytes` (rounded up to megabytes, capped at the whole
    /// budget) are free and takes them until the permit is dropped.
    pub(crate) async fn acquire(&self, bytes: u64) -> Result<OwnedSemaphorePermit, Failure> {
        let weight = bytes.div_ceil(MB).clamp(1, u64::from(self.total)) as u32;
        Arc::clone(&self.permits)
            .acquire_many_owned(weight)
            .await
            .map_err(|_| Failure::new(ProblemCode::InternalError, "the render queue is closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_big_decodes_never_hold_the_budget_at_once() {
        let budget = DecodeBudget::new(256 * MB);
        let first = budget.acquire(150 * MB).await.unwrap();
        // A second 150 MB render must wait for the first.
        let waiting = tokio::time::timeout(std::time::Duration::ZERO, budget.acquire(150 * MB));
        assert!(waiting.await.is_err());
        // A small one fits beside it.
        let small = budget.acquire(20 * MB).await.unwrap();
        drop((first, small));
        let second = budget.acquire(150 * MB).await.unwrap();
        drop(second);
        // More than the whole budget takes the whole budget, never waits forever.
        let all = budget.acquire(10_000 * MB).await.unwrap();
        assert_eq!(all.num_permits(), 256);
    }
}
