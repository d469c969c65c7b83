//! Settings of the Reconcile run (the timer and `photosync reconcile`).

use std::path::Path;
use std::time::Duration;

use super::{Env, SettingsError, bounded};

/// The host's default `functionTimeout` on the Consumption plan.
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(600);

/// How a reconcile run behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Stop taking new photos after this long (`PHOTOSYNC_RECONCILE_BUDGET_SECS`);
    /// defaults to 80% of the host's `functionTimeout`, so the timer answers in time.
    pub budget: Duration,
    /// Photos worked on at once (`PHOTOSYNC_RECONCILE_CONCURRENCY`); rendering is
    /// further bounded by the cores and memory, Graph calls by the pacer (so
    /// this is well above `PHOTOSYNC_GRAPH_MAX_CONCURRENCY`: the pacer, not
    /// this, should decide how many uploads are in flight).
    pub concurrency: usize,
    /// Remove the profile photo when its photo blob is deleted (`PHOTOSYNC_DELETE_REMOVED`).
    pub delete_removed: bool,
    /// Lock photos to the HR-approved image (`PHOTOSYNC_ENFORCE`): a profile photo
    /// someone changed is set back to ours on the next run.
    pub enforce: bool,
    /// The accidental-deletion guard (`PHOTOSYNC_REMOVAL_LIMIT`): a run that
    /// would remove more synced photos than this removes none; 0 removes none ever.
    pub removal_limit: usize,
    /// This run may remove up to this many (`--allow-removals N`; never from
    /// the environment, so a confirmation cannot outlive its run).
    pub allow_removals: Option<usize>,
    /// The command a held removal's message tells the admin to confirm
    /// with: `photosync reconcile`, or for local mode `photosync sync DIR`.
    pub confirm_with: String,
    /// How long a claim on a photo holds without renewal (`PHOTOSYNC_LEASE_SECS`);
    /// a live worker renews it every third of that, so a crashed worker's
    /// photos are free again at most this long after the crash.
    pub lease: Duration,
    /// Days of `reports/history/` kept (`PHOTOSYNC_REPORT_HISTORY_DAYS`).
    pub report_history_days: u32,
    /// Backups kept per user besides the oldest (`PHOTOSYNC_BACKUP_KEEP`):
    /// the oldest (the photo before photosync) and the newest N stay.
    pub backup_keep: usize,
    /// Where to post a summary after a run that did something
    /// (`PHOTOSYNC_NOTIFY_WEBHOOK`, a Teams webhook or Workflows URL).
    pub notify: Option<crate::notify::Webhook>,
}

pub(super) fn reconcile(env: &Env) -> Result<ReconcileSettings, SettingsError> {
    let app_root = env
        .get("FUNCTIONS_APP_ROOT_PATH")
        .map(Path::new)
        .unwrap_or(Path::new("."));
    let default_budget = function_timeout(&app_root.join("host.json"))
        .unwrap_or(DEFAULT_FUNCTION_TIMEOUT)
        .mul_f64(0.8);
    // At least a second (0 would stop every run before it starts); at most
    // a day, far beyond any host's functionTimeout.
    let budget = match env.get("PHOTOSYNC_RECONCILE_BUDGET_SECS") {
        None => default_budget,
        Some(_) => Duration::from_secs(bounded(
            env,
            "PHOTOSYNC_RECONCILE_BUDGET_SECS",
            0u64,
            1..=86_400,
        )?),
    };
    let concurrency: usize = bounded(env, "PHOTOSYNC_RECONCILE_CONCURRENCY", 32, 1..=256)?;
    Ok(ReconcileSettings {
        budget,
        concurrency,
        delete_removed: env.flag("PHOTOSYNC_DELETE_REMOVED", false)?,
        enforce: env.flag("PHOTOSYNC_ENFORCE", false)?,
        removal_limit: bounded(env, "PHOTOSYNC_REMOVAL_LIMIT", 10, 0..=100_000)?,
        allow_removals: None,
        confirm_with: "photosync reconcile".to_owned(),
        // At least 2 s (renewed every third); at most 10 minutes, the
        // longest a crashed worker may strand a photo.
        lease: Duration::from_secs(bounded(env, "PHOTOSYNC_LEASE_SECS", 60u64, 2..=600)?),
        report_history_days: bounded(env, "PHOTOSYNC_REPORT_HISTORY_DAYS", 30, 1..=3650)?,
        backup_keep: bounded(env, "PHOTOSYNC_BACKUP_KEEP", 5, 1..=1000)?,
        notify: match env
            .get("PHOTOSYNC_NOTIFY_WEBHOOK")
            .filter(|v| !v.trim().is_empty())
        {
            None => None,
            Some(raw) => Some(
                crate::notify::Webhook::parse(raw)
                    .map_err(|e| SettingsError::new("PHOTOSYNC_NOTIFY_WEBHOOK", e))?,
            ),
        },
    })
}

/// `functionTimeout` from host.json (`hh:mm:ss`), when readable.
fn function_timeout(host_json: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(host_json).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    parse_timespan(json.get("functionTimeout")?.as_str()?)
}

/// `00:10:00` → 600 s (`d.hh:mm:ss` too).
fn parse_timespan(text: &str) -> Option<Duration> {
    let (days, clock) = match text.split_once('.') {
        Some((d, rest)) if !d.contains(':') => (d.parse::<u64>().ok()?, rest),
        _ => (0, text),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.split('.').next().unwrap_or(p).parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = parts[..] else { return None };
    Some(Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans_as_host_json_writes_them() {
        assert_eq!(parse_timespan("00:10:00"), Some(Duration::from_secs(600)));
        assert_eq!(parse_timespan("01:00:30"), Some(Duration::from_secs(3630)));
        assert_eq!(
            parse_timespan("1.00:00:00"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(parse_timespan("-1"), None);
    }

    #[test]
    fn the_committed_host_json_gives_an_eight_minute_budget() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let timeout = function_timeout(&root.join("host.json")).unwrap();
        assert_eq!(timeout.mul_f64(0.8), Duration::from_secs(480));
    }
}
