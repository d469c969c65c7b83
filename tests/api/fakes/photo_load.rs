//! The load the fake Graph's photo endpoint takes before it throttles.
//!
//! - Per mailbox: the Outlook service, which serves `/users/{id}/photo`,
//!   allows **4 concurrent requests per app and mailbox**
//!   (learn.microsoft.com/graph/throttling-limits#outlook-service-limits;
//!   `../shared/reference/microsoft-365-photos.md`, "Throttling"); a fifth
//!   gets 429.
//! - Per tenant (when a test or bench sets one): at most `writes` photo
//!   writes in flight, each taking `write_time`; above it, 429 with
//!   `Retry-After`. Graph documents that the tenant-wide limits exist and
//!   are signalled only by 429 + `Retry-After`, not their concurrency
//!   shape; this capacity is the synthetic tenant issue 20's benchmark
//!   specifies (12 in flight, 150 ms, `Retry-After: 1`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outlook's per-app, per-mailbox limit of concurrent requests.
const PER_MAILBOX: usize = 4;

/// A tenant that takes this many photo writes at once.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub writes: usize,
    pub write_time: Duration,
    pub retry_after_secs: u64,
}

/// What the photo endpoint has seen, for assertions and figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadFigures {
    /// Photo writes received, throttled ones included.
    pub writes: usize,
    /// Of those, answered 429.
    pub throttled_writes: usize,
    /// Most writes in flight at once (admitted ones).
    pub peak_writes: usize,
    /// Most photo requests in flight on one mailbox.
    pub peak_per_user: usize,
    /// Most writes in flight on one mailbox.
    pub peak_writes_per_user: usize,
}

#[derive(Debug, Default)]
struct State {
    capacity: Option<Capacity>,
    /// Writes in flight integrated over time since `since`, for the mean.
    area: f64,
    since: Option<Instant>,
    last: Option<Instant>,
    /// Requests and writes in flight per user id.
    per_user: HashMap<String, (usize, usize)>,
    writes_in_flight: usize,
    figures: LoadFigures,
}

#[derive(Debug, Default)]
pub struct PhotoLoad {
    state: Arc<Mutex<State>>,
}

/// An admitted request; leaves when dropped.
pub struct Ticket {
    state: Arc<Mutex<State>>,
    user: String,
    write: bool,
    /// How long the write takes at this tenant.
    pub delay: Duration,
}

/// A refused request: 429 with this `Retry-After` (seconds).
pub struct Throttled {
    pub retry_after_secs: u64,
}

impl PhotoLoad {
    pub fn set_capacity(&self, capacity: Capacity) {
        self.state.lock().unwrap().capacity = Some(capacity);
    }

    /// Mean photo writes in flight since the first write after the last
    /// [`PhotoLoad::restart_mean`]: how full the tenant's capacity was kept.
    pub fn mean_writes_in_flight(&self) -> f64 {
        let mut state = self.state.lock().unwrap();
        state.advance();
        match (state.since, state.last) {
            (Some(since), Some(last)) if last > since => state.area / (last - since).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Starts the mean afresh (to leave out the ramp-up).
    pub fn restart_mean(&self) {
        let mut state = self.state.lock().unwrap();
        state.area = 0.0;
        state.since = Some(Instant::now());
        state.last = state.since;
    }

    pub fn figures(&self) -> LoadFigures {
        self.state.lock().unwrap().figures
    }

    /// A photo request on `user` arrives.
    pub fn enter(&self, user: &str, write: bool) -> Result<Ticket, Throttled> {
        let mut state = self.state.lock().unwrap();
        let capacity = state.capacity;
        if write {
            state.figures.writes += 1;
        }
        let (requests, _) = state.per_user.get(user).copied().unwrap_or_default();
        let over_tenant = write && capacity.is_some_and(|c| state.writes_in_flight >= c.writes);
        if requests >= PER_MAILBOX || over_tenant {
            if write {
                state.figures.throttled_writes += 1;
            }
            return Err(Throttled {
                retry_after_secs: capacity.map_or(1, |c| c.retry_after_secs),
            });
        }
        let entry = state.per_user.entry(user.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(write);
        let (requests, writes) = *entry;
        if write {
            if state.since.is_none() {
                state.since = Some(Instant::now());
                state.last = state.since;
            }
            state.advance();
            state.writes_in_flight += 1;
        }
        let figures = &mut state.figures;
        figures.peak_per_user = figures.peak_per_user.max(requests);
        figures.peak_writes_per_user = figures.peak_writes_per_user.max(writes);
        let in_flight = state.writes_in_flight;
        state.figures.peak_writes = state.figures.peak_writes.max(in_flight);
        Ok(Ticket {
            state: Arc::clone(&self.state),
            user: user.to_owned(),
            write,
            delay: match capacity {
                Some(c) if write => c.write_time,
                _ => Duration::ZERO,
            },
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap();
        if self.write {
            state.advance();
            state.writes_in_flight -= 1;
        }
        if let Some(entry) = state.per_user.get_mut(&self.user) {
            entry.0 -= 1;
            entry.1 -= usize::from(self.write);
            if entry.0 == 0 {
                state.per_user.remove(&self.user);
            }
        }
    }
}

impl State {
    /// Adds the time since the last change at the current writes in flight.
    fn advance(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last {
            self.area += self.writes_in_flight as f64 * (now - last).as_secs_f64();
        }
        if self.since.is_some() {
            self.last = Some(now);
        }
    }
}

/// The user id of a photo path (`/v1.0/users/{id}/photo…`, decoded).
pub fn photo_user(path: &str) -> Option<&str> {
    let rest = path.split_once("/users/")?.1;
    rest.split_once("/photo").map(|(user, _)| user)
}
