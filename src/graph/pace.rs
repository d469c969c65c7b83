//! Adaptive pacing of profile-photo calls, so that one process and a fleet
//! of them settle on what the tenant can take without a coordinator.
//!
//! Graph serves photos from the Outlook service: at most 4 concurrent
//! requests per app **per mailbox**; across users the binding limits are
//! tenant-wide and Graph signals them only with `429` + `Retry-After`
//! (learn.microsoft.com/graph/throttling-limits#outlook-service-limits;
//! `../shared/reference/microsoft-365-photos.md`, "Throttling"). So:
//!
//! - **one photo call per user** in flight (well inside the 4 per mailbox,
//!   and a user's read never races its write);
//! - a process-wide **window** of calls in flight: starts at
//!   `PHOTOSYNC_GRAPH_CONCURRENCY` (4), grows additively while answers come
//!   back without 429, **halves once per 429 event** (answers to calls sent
//!   before the last halving do not halve again), never exceeds
//!   `PHOTOSYNC_GRAPH_MAX_CONCURRENCY` (16);
//! - a **gate**: after a 429, no photo call starts before its `Retry-After`
//!   has passed.
//!
//! After the first 429 the window knows roughly where the limit is: it comes
//! back quickly to a level that worked (a fixed share, [`BACKOFF`], of the
//! one throttled) and probes one step above it only every [`PROBE_EVERY`],
//! because every probe that fails costs a whole `Retry-After` of silence.
//! Every instance of a fleet backs off on the 429s it sees, by a factor, so
//! together they converge on the tenant's limit and on even shares of it
//! (additive increase, multiplicative decrease: a one-step decrease would
//! keep whatever unequal shares the first 429s left).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How often the window may try one call more than the last level that
/// worked. A failed probe stops every photo call for a `Retry-After`
/// (seconds), so probing must be much rarer than that to keep the pipe full.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);

/// What share of the window that was throttled counts as working: the
/// level the window returns to quickly after a 429.
const BACKOFF: f64 = 0.85;

/// The process's photo-call pacer; one per Graph client.
#[derive(Debug)]
pub struct Pacer {
    /// Window, calls in flight, users busy, gate.
    state: Mutex<State>,
    /// Woken whenever a slot frees, the window grows or the gate moves.
    changed: Notify,
    /// `PHOTOSYNC_GRAPH_MAX_CONCURRENCY`.
    max: f64,
}

#[derive(Debug)]
struct State {
    /// Calls allowed in flight (fractional so additive growth can be
    /// `+1 / window` per answer: one more per window's worth of answers).
    window: f64,
    /// Calls in flight now.
    in_flight: usize,
    /// Users with a photo call in flight.
    busy: HashSet<String>,
    /// Bumped on every halving: answers to calls started before it are
    /// part of the same 429 event.
    epoch: u64,
    /// The last window that worked before a 429; `None` until one came.
    known_good: Option<f64>,
    /// Not before this may the window grow past `known_good`.
    probe_at: Instant,
    /// No call starts before this (the latest `Retry-After`).
    gate: Option<Instant>,
    /// For the figures: most calls in flight at once, and 429 events.
    peak: usize,
    halvings: u64,
}

/// What came back, for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Not throttled (success or an error that says nothing about load).
    Served,
    /// 429, with the server's `Retry-After` if it gave one.
    Throttled(Option<Duration>),
}

/// One call's slot; frees it when dropped.
#[derive(Debug)]
pub struct Slot<'a> {
    pacer: &'a Pacer,
    user: String,
    epoch: u64,
}

/// A snapshot for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// The current window.
    pub window: f64,
    /// Most calls that were in flight at once.
    pub peak_in_flight: usize,
    /// How often the window halved (429 events).
    pub halvings: u64,
}

impl Pacer {
    /// A pacer starting at `start` calls in flight, growing to at most `max`.
    pub fn new(start: usize, max: usize) -> Self {
        let max = max.max(1) as f64;
        Self {
            state: Mutex::new(State {
                window: (start.max(1) as f64).min(max),
                in_flight: 0,
                busy: HashSet::new(),
                epoch: 0,
                known_good: None,
                probe_at: Instant::now(),
                gate: None,
                peak: 0,
                halvings: 0,
            }),
            changed: Notify::new(),
            max,
        }
    }

    /// Waits for a slot for a photo call on `user`: past the gate, inside
    /// the window, and no other call on the same user in flight.
    pub async fn slot(&self, user: &str) -> Slot<'_> {
        loop {
            // Registered before looking, so a release between the look and
            // the wait is not missed.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait_until = {
                let mut state = self.lock();
                let now = Instant::now();
                match state.gate {
                    Some(gate) if gate > now => Some(gate),
                    _ => {
                        state.gate = None;
                        if state.in_flight < state.window.floor() as usize
                            && !state.busy.contains(user)
                        {
                            state.in_flight += 1;
                            state.peak = state.peak.max(state.in_flight);
                            state.busy.insert(user.to_owned());
                            return Slot {
                                pacer: self,
                                user: user.to_owned(),
                                epoch: state.epoch,
                            };
                        }
                        None
                    }
                }
            };
            match wait_until {
                // A later 429 may move the gate; the wake-up re-reads it.
                Some(gate) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(gate) => {}
                        () = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Where the window stands.
    pub fn pace(&self) -> Pace {
        let state = self.lock();
        Pace {
            window: state.window,
            peak_in_flight: state.peak,
            halvings: state.halvings,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds
        // consistent numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Slot<'_> {
    /// Tells the window what the call's answer was, and frees the slot.
    pub fn answered(self, answer: Answer) {
        let pacer = self.pacer;
        {
            let mut state = pacer.lock();
            let now = Instant::now();
            let fresh = self.epoch == state.epoch;
            match answer {
                Answer::Throttled(retry_after) => {
                    if let Some(wait) = retry_after {
                        let until = now + wait;
                        state.gate = Some(state.gate.map_or(until, |g| g.max(until)));
                    }
                    if fresh {
                        // Remembered below the level that failed by a factor,
                        // not by one step: a process throttled often gives
                        // up more, so a fleet's shares even out (AIMD).
                        state.known_good = Some((state.window.floor() * BACKOFF).floor().max(1.0));
                        state.window = (state.window / 2.0).max(1.0);
                        state.epoch += 1;
                        state.halvings += 1;
                        state.probe_at = now + retry_after.unwrap_or_default() + PROBE_EVERY;
                        tracing::info!(
                            window = state.window,
                            known_good = state.known_good,
                            retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                            "graph throttled photo calls; halved the window"
                        );
                    }
                }
                Answer::Served if fresh => {
                    let max = pacer.max;
                    state.window = match state.known_good {
                        // Back to the level that worked, one answer at a time.
                        Some(good) if state.window < good => (state.window + 1.0).min(good),
                        // At it: one step further, now and then.
                        Some(_) if now < state.probe_at => state.window,
                        Some(_) => {
                            state.probe_at = now + PROBE_EVERY;
                            state.known_good = Some(state.window.floor());
                            state.window.floor() + 1.0
                        }
                        // No 429 yet: one more per window's worth of answers.
                        None => state.window + 1.0 / state.window,
                    }
                    .min(max);
                }
                Answer::Served => {}
            }
        }
        // Dropping `self` here frees the slot and wakes the waiters.
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.pacer.lock();
            state.in_flight -= 1;
            state.busy.remove(&self.user);
        }
        self.pacer.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn grows_additively_halves_once_per_event_and_gates() {
        let pacer = Pacer::new(4, 16);
        // 4 answers at window 4 make one more slot.
        for i in 0..4 {
            pacer.slot(&format!("u{i}")).await.answered(Answer::Served);
        }
        assert!(
            (pacer.pace().window - 5.0).abs() < 0.1,
            "{:?}",
            pacer.pace()
        );

        // Two calls in flight come back 429: one event, one halving.
        let a = pacer.slot("a").await;
        let b = pacer.slot("b").await;
        a.answered(Answer::Throttled(Some(Duration::from_secs(1))));
        b.answered(Answer::Throttled(Some(Duration::from_secs(1))));
        let pace = pacer.pace();
        assert_eq!(pace.halvings, 1);
        assert!(pace.window >= 2.4 && pace.window <= 2.6, "{pace:?}");

        // The gate: nothing starts before Retry-After.
        let before = Instant::now();
        let slot = pacer.slot("c").await;
        assert!(Instant::now() - before >= Duration::from_secs(1));
        slot.answered(Answer::Served);
    }

    #[tokio::test(start_paused = true)]
    async fn one_call_per_user_and_the_window_is_a_cap() {
        let pacer = std::sync::Arc::new(Pacer::new(2, 2));
        let first = pacer.slot("alice").await;
        let p = std::sync::Arc::clone(&pacer);
        let second = tokio::spawn(async move {
            p.slot("alice").await.answered(Answer::Served);
        });
        // Bob gets in (window 2), Carol does not until a slot frees.
        let bob = pacer.slot("bob").await;
        let p = std::sync::Arc::clone(&pacer);
        let carol = tokio::spawn(async move {
            p.slot("carol").await.answered(Answer::Served);
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished() && !carol.is_finished());
        first.answered(Answer::Served);
        bob.answered(Answer::Served);
        second.await.unwrap();
        carol.await.unwrap();
        assert_eq!(pacer.pace().peak_in_flight, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_429_it_returns_to_the_good_level_and_probes_rarely() {
        let pacer = Pacer::new(8, 16);
        pacer.slot("x").await.answered(Answer::Throttled(None));
        // Window 4, known good ⌊8 × 0.85⌋ = 6: back to 6 within a few answers.
        for i in 0..2 {
            pacer.slot(&format!("u{i}")).await.answered(Answer::Served);
        }
        assert_eq!(pacer.pace().window, 6.0);
        for i in 0..50 {
            pacer.slot(&format!("v{i}")).await.answered(Answer::Served);
        }
        assert_eq!(pacer.pace().window, 6.0, "no probe before PROBE_EVERY");
        tokio::time::advance(PROBE_EVERY).await;
        pacer.slot("w").await.answered(Answer::Served);
        assert_eq!(pacer.pace().window, 7.0);
    }
}
