//! The process's memory account, so that no file within the documented
//! limits can push the handler past `PHOTOSYNC_MEMORY_MB` (default 256 MB,
//! the smallest Flex Consumption instance leaves about that much to us).
//!
//! What a photo costs comes in two kinds, and each has its pool of
//! one-megabyte permits:
//! - **held**: photo bytes in memory — an invocation body while it is read
//!   and parsed (the body plus the photo decoded from its base64, 7/4 of the
//!   body), a photo read from storage, an upload from the web page;
//! - **decode**: what a render allocates, predicted from the header
//!   (`pipeline::estimate`), `PHOTOSYNC_MAX_DECODE_MB`.
//!
//! A task takes held permits before it takes decode permits, never the
//! other way round, and never holds two held permits at once: so no set of
//! waiting tasks can hold what the others wait for (no deadlock). The rest of
//! the process (code, runtime, clients, the face model) is [`BASE_MB`].

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const MB: u64 = 1 << 20;

/// What the process needs besides photos (code pages, the runtime and its
/// threads, HTTP clients, the face model, the allocator's slack); measured
/// idle after a first render at 30-40 MB (`VmRSS` of `serve`).
pub const BASE_MB: u64 = 48;

/// Held bytes per body byte while an invocation is parsed: the body, and
/// the photo decoded from its base64 (3/4 of it) beside it.
const PARSE_NUMERATOR: u64 = 7;
const PARSE_DENOMINATOR: u64 = 4;

/// Bytes an invocation body of `body` bytes holds while parsed.
pub fn parse_cost(body: u64) -> u64 {
    body.saturating_mul(PARSE_NUMERATOR) / PARSE_DENOMINATOR
}

/// A pool of one-megabyte permits.
#[derive(Debug, Clone)]
struct Pool {
    /// One permit per megabyte.
    permits: Arc<Semaphore>,
    /// The pool's size, in megabytes.
    total: u32,
}

impl Pool {
    fn new(bytes: u64) -> Self {
        let total = (bytes / MB).clamp(1, u64::from(u32::MAX >> 4)) as u32;
        Self {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits until `bytes` (rounded up to megabytes, capped at the whole
    /// pool so that nothing waits for permits that do not exist) are free.
    async fn take(&self, bytes: u64) -> Held {
        let weight = bytes.div_ceil(MB).clamp(1, u64::from(self.total)) as u32;
        let permit = Arc::clone(&self.permits)
            .acquire_many_owned(weight)
            .await
            .expect("the pools are never closed");
        Held(permit)
    }
}

/// Megabytes taken from a pool until dropped.
#[derive(Debug)]
#[must_use = "the memory is given back when this is dropped"]
pub struct Held(OwnedSemaphorePermit);

impl Held {
    /// Gives back all but `bytes` (rounded up to megabytes, at least one):
    /// what is still held after a body has been parsed.
    pub fn keep(mut self, bytes: u64) -> Self {
        let keep = bytes.div_ceil(MB).max(1) as usize;
        if self.0.num_permits() > keep {
            drop(self.0.split(self.0.num_permits() - keep));
        }
        self
    }

    /// Megabytes held.
    pub fn megabytes(&self) -> usize {
        self.0.num_permits()
    }
}

/// The two pools of one process.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Photo bytes in memory.
    held: Pool,
    /// Decode allocations.
    decode: Pool,
}

impl Memory {
    /// Pools of `held` and `decode` bytes.
    pub fn new(held: u64, decode: u64) -> Self {
        Self {
            held: Pool::new(held),
            decode: Pool::new(decode),
        }
    }

    /// Takes `bytes` of photo bytes about to be held in memory.
    pub async fn hold(&self, bytes: u64) -> Held {
        self.held.take(bytes).await
    }

    /// Takes `bytes` a render is predicted to allocate.
    pub async fn decode(&self, bytes: u64) -> Held {
        self.decode.take(bytes).await
    }
}

/// Malloc arenas the process may use (glibc's default is 8 per core).
pub const MALLOC_ARENAS: i32 = 2;

/// Allocations at least this large are mapped on their own and unmapped when
/// freed (glibc's default starts at 128 KiB and grows to this, its maximum).
pub const MALLOC_MMAP_THRESHOLD: i32 = 32 << 20;

/// Free memory at the top of a heap beyond which the allocator hands it
/// back. 8 MiB is as fast for 12 MP JPEGs as 64 MiB, and a 20,000-photo
/// first `sync` peaks as with glibc's default (58-71 MB, run to run), where
/// 64 MiB peaked at 82 MB.
pub const MALLOC_TRIM_THRESHOLD: i32 = 8 << 20;

/// Tunes glibc's allocator for a process that renders one photo after
/// another; call first in `main`, before any thread starts. Each
/// `MALLOC_*` variable still wins when set.
///
/// - Arenas capped at [`MALLOC_ARENAS`]: a photo's work moves between the
///   runtime's workers and blocking threads, and memory a thread frees into
///   its own arena is not reused by the others. With the default, a
///   20,000-photo Reconcile peaked at 105 MB RSS, with two arenas at 66 MB,
///   in the same time (docs/architecture.md).
/// - Fixed mmap and trim thresholds: a render's buffers (a 12 MP JPEG's
///   decode is 7 MB) are then reused by the next photo instead of being
///   mapped, zero-filled by page faults and unmapped again for every photo,
///   which cost 10% of `photosync thumbnail`'s time on 12 MP JPEGs (about
///   60 -> 52.5 ms a file). Buffers over 32 MiB (huge photos) are still
///   handed back at once, and [`release_free_pages`] still returns
///   everything free.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (variable, option, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, MALLOC_ARENAS),
        (
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MALLOC_MMAP_THRESHOLD,
        ),
        (
            "MALLOC_TRIM_THRESHOLD_",
            libc::M_TRIM_THRESHOLD,
            MALLOC_TRIM_THRESHOLD,
        ),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mallopt only sets a tunable of glibc's allocator;
            // called before other threads exist, it races with nothing.
            unsafe {
                libc::mallopt(option, value);
            }
        }
    }
}

/// Hands the allocator's wholly free pages back to the system, after a run
/// dropped something large (the listing, a report file): the next large
/// allocation then starts from what is live, not from the high-water mark.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// `Some` when `f` completes without waiting.
    async fn now<F: std::future::Future>(f: F) -> Option<F::Output> {
        tokio::time::timeout(Duration::ZERO, f).await.ok()
    }

    #[tokio::test]
    async fn two_big_decodes_never_hold_the_budget_at_once() {
        let memory = Memory::new(64 * MB, 256 * MB);
        let first = memory.decode(150 * MB).await;
        // A second 150 MB render must wait for the first.
        assert!(now(memory.decode(150 * MB)).await.is_none());
        // A small one fits beside it.
        let small = memory.decode(20 * MB).await;
        drop((first, small));
        assert!(now(memory.decode(150 * MB)).await.is_some());
        // More than the whole pool takes the whole pool, never waits forever.
        assert_eq!(memory.decode(10_000 * MB).await.megabytes(), 256);
    }

    #[tokio::test]
    async fn a_parsed_body_gives_back_all_but_the_photo() {
        let memory = Memory::new(48 * MB, 160 * MB);
        let body = memory.hold(parse_cost(27 * MB)).await;
        assert_eq!(body.megabytes(), 48);
        // Nothing else fits while it is parsed...
        assert!(now(memory.hold(MB)).await.is_none());
        // ...and once parsed, only the 20 MB photo stays held.
        let photo = body.keep(20 * MB);
        assert_eq!(photo.megabytes(), 20);
        assert!(now(memory.hold(28 * MB)).await.is_some());
        // Held and decode are separate: a held photo never blocks a decode.
        assert!(now(memory.decode(160 * MB)).await.is_some());
    }
}
