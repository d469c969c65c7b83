//! Per-person rate limits: a sliding window of recent requests per person, in
//! this process (each instance of a scaled-out app counts on its own).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many people tracked, people with no recent request are forgotten,
/// so the map stays bounded however many sign in.
const PRUNE_ABOVE: usize = 10_000;

/// At most `limit` requests per person in any `window`.
#[derive(Debug)]
pub struct RateLimiter {
    /// Requests allowed per window.
    limit: u32,
    /// The window's length.
    window: Duration,
    /// When each person's recent requests were made, oldest first. A plain
    /// mutex: held for a few comparisons, never across I/O.
    recent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// A limiter of `limit` per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            recent: Mutex::default(),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts a request by `person` made `now`; `Err(wait)` when over the limit.
    pub fn check(&self, person: &str, now: Instant) -> Result<(), Duration> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() > PRUNE_ABOVE {
            let window = self.window;
            recent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = recent.entry(person.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.limit as usize {
            let oldest = *times.front().expect("non-empty when over the limit");
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_person_gets_their_own_window() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.check("alice", t0).is_ok());
        assert!(limiter.check("alice", t0 + Duration::from_secs(10)).is_ok());
        let wait = limiter
            .check("alice", t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        // Bob is not slowed down by Alice.
        assert!(limiter.check("bob", t0 + Duration::from_secs(20)).is_ok());
        // Once the first request leaves the window, Alice may go again.
        assert!(limiter.check("alice", t0 + Duration::from_secs(61)).is_ok());
        assert!(
            limiter
                .check("alice", t0 + Duration::from_secs(62))
                .is_err()
        );
    }

    #[test]
    fn idle_people_are_forgotten_when_many_are_tracked() {
        let limiter = RateLimiter::new(1, Duration::from_secs(1));
        let t0 = Instant::now();
        for n in 0..=PRUNE_ABOVE {
            limiter.check(&format!("user{n}"), t0).unwrap();
        }
        limiter.check("late", t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(limiter.recent.lock().unwrap().len(), 1);
    }
}
