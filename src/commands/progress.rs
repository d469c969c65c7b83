//! What `sync` and `reconcile` show while a run goes on. On a terminal: a
//! spinner while the container is listed, then, once the listing says how
//! many photos need work, a bar with done/total and an ETA. Piped: plain
//! lines a log keeps, with whole numbers only (no `3.6129/s`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::sync::reconcile::Progress;

/// Piped output says where the run is every this many photos (and at the end).
const LINE_EVERY: usize = 25;

/// Counts of one run, shared by the tasks that report to it.
#[derive(Debug, Default)]
struct Counts {
    examined: usize,
    planned: Option<usize>,
    worked: usize,
    /// When the listing was done: the ETA counts from there.
    planned_at: Option<Instant>,
}

/// Turns [`Progress`] events into a bar (terminal) or plain lines (piped).
pub struct Meter {
    bar: Option<ProgressBar>,
    counts: Mutex<Counts>,
}

impl Meter {
    /// A bar when `terminal`, plain lines otherwise.
    pub fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} listing: {msg}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            counts: Mutex::new(Counts::default()),
        }
    }

    /// Records one event and shows it.
    pub fn record(&self, event: Progress) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Progress::Examined => {
                counts.examined += 1;
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{} photos examined", counts.examined));
                }
            }
            Progress::Planned(total) => {
                counts.planned = Some(total);
                counts.planned_at = Some(Instant::now());
                match &self.bar {
                    Some(bar) => {
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{elapsed} [{bar:30}] {pos}/{len} photos processed, ETA {eta}",
                            )
                            .expect("valid template")
                            .progress_chars("=> "),
                        );
                        bar.set_length(total as u64);
                        bar.set_position(0);
                        bar.reset_eta();
                    }
                    None => crate::say!("{}", listed_line(counts.examined, total)),
                }
            }
            Progress::Worked => {
                counts.worked += 1;
                match &self.bar {
                    Some(bar) => bar.inc(1),
                    None => {
                        let total = counts.planned.unwrap_or(counts.worked);
                        if counts.worked.is_multiple_of(LINE_EVERY) || counts.worked == total {
                            let elapsed = counts.planned_at.map(|at| at.elapsed());
                            crate::say!("{}", worked_line(counts.worked, total, elapsed));
                        }
                    }
                }
            }
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `listing: 120 photos examined, 7 to process`.
fn listed_line(examined: usize, total: usize) -> String {
    format!("listing: {examined} photos examined, {total} to process")
}

/// `progress: 25/100 photos processed, about 1m 30s left`: the ETA from
/// the pace so far, whole seconds; none at the end.
fn worked_line(worked: usize, total: usize, elapsed: Option<Duration>) -> String {
    let mut line = format!("progress: {worked}/{total} photos processed");
    if let Some(elapsed) = elapsed.filter(|_| worked > 0 && worked < total) {
        let left = elapsed.as_secs_f64() / worked as f64 * (total - worked) as f64;
        line.push_str(&format!(
            ", about {} left",
            whole_seconds(left.round() as u64)
        ));
    }
    line
}

/// `45s`, `2m 05s`, `1h 02m`.
fn whole_seconds(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_use_whole_numbers_and_a_readable_eta() {
        assert_eq!(
            listed_line(120, 7),
            "listing: 120 photos examined, 7 to process"
        );
        assert_eq!(
            worked_line(25, 100, Some(Duration::from_secs(30))),
            "progress: 25/100 photos processed, about 1m 30s left"
        );
        assert_eq!(
            worked_line(100, 100, Some(Duration::from_secs(30))),
            "progress: 100/100 photos processed"
        );
        assert_eq!(whole_seconds(7), "7s");
        assert_eq!(whole_seconds(3725), "1h 02m");
    }
}
