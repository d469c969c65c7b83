//! The accidental-deletion guard: how many photos one run may remove.
//!
//! Photos vanishing in bulk (an emptied or renamed container, the wrong
//! folder, a mistaken `azcopy sync --delete-destination`) are far likelier a
//! mistake than a wave of leavers, so such a run removes none and holds them
//! for an admin to confirm, as Entra Connect's "prevent accidental deletes"
//! threshold does for directory objects. Pure: every case is a test below.

/// What a run may do with the photos whose blobs are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Remove them as usual.
    Remove,
    /// Remove none; hold every one, for this reason.
    Hold(Held),
}

/// Why a run removes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// More than `PHOTOSYNC_REMOVAL_LIMIT` (0: removal is off).
    OverLimit {
        /// Photos that would be removed.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More than this run's `--allow-removals N`.
    OverAllowed {
        /// Photos that would be removed.
        count: usize,
        /// What the admin allowed.
        allowed: usize,
    },
    /// Not a single photo is left: the container or folder is likely the wrong one.
    Everything {
        /// Photos that would be removed.
        count: usize,
    },
}

/// The guard. `at_stake`: photos this run would remove (synced, dry-run or
/// already held); `listed`: photos still there; `limit`:
/// `PHOTOSYNC_REMOVAL_LIMIT`; `allowed`: the admin's `--allow-removals N`,
/// which replaces both the limit and the empty-container rule for one run.
pub fn verdict(at_stake: usize, listed: usize, limit: usize, allowed: Option<usize>) -> Verdict {
    if at_stake == 0 {
        return Verdict::Remove;
    }
    match allowed {
        Some(allowed) if at_stake > allowed => Verdict::Hold(Held::OverAllowed {
            count: at_stake,
            allowed,
        }),
        Some(_) => Verdict::Remove,
        None if at_stake > limit => Verdict::Hold(Held::OverLimit {
            count: at_stake,
            limit,
        }),
        None if listed == 0 => Verdict::Hold(Held::Everything { count: at_stake }),
        None => Verdict::Remove,
    }
}

impl Held {
    /// Photos held.
    pub fn count(&self) -> usize {
        match self {
            Self::OverLimit { count, .. }
            | Self::OverAllowed { count, .. }
            | Self::Everything { count } => *count,
        }
    }

    /// What happened and the exact way to confirm, for each held record;
    /// `confirm` is the command that runs this kind of run
    /// (`photosync reconcile`, `photosync sync DIR`).
    pub fn message(&self, confirm: &str) -> String {
        let count = self.count();
        let why = match self {
            Self::OverLimit { limit: 0, .. } => {
                "PHOTOSYNC_REMOVAL_LIMIT is 0 (removal is off)".to_owned()
            }
            Self::OverLimit { limit, .. } => {
                format!("more than PHOTOSYNC_REMOVAL_LIMIT ({limit}) allows")
            }
            Self::OverAllowed { allowed, .. } => {
                format!("more than --allow-removals {allowed} allowed")
            }
            Self::Everything { .. } => {
                "every photo is gone, which looks like an emptied or wrong container or folder"
                    .to_owned()
            }
        };
        format!(
            "{count} photo(s) vanished in one run, {why}: none was removed and the profile photos stay. \
             If they were deleted on purpose, run `{confirm} --allow-removals {count}`{raise}; \
             otherwise put them back and they return to normal",
            raise = if matches!(self, Self::OverLimit { .. }) {
                " or raise PHOTOSYNC_REMOVAL_LIMIT"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_limit_removal_works_as_before() {
        assert_eq!(verdict(0, 0, 10, None), Verdict::Remove);
        assert_eq!(verdict(1, 50, 10, None), Verdict::Remove);
        assert_eq!(verdict(10, 50, 10, None), Verdict::Remove);
    }

    #[test]
    fn over_the_limit_nothing_is_removed() {
        assert_eq!(
            verdict(12, 50, 10, None),
            Verdict::Hold(Held::OverLimit {
                count: 12,
                limit: 10
            })
        );
        assert_eq!(
            verdict(1, 50, 0, None),
            Verdict::Hold(Held::OverLimit { count: 1, limit: 0 }),
            "0 disables removal"
        );
    }

    #[test]
    fn an_empty_container_is_held_whatever_the_limit() {
        assert_eq!(
            verdict(3, 0, 10, None),
            Verdict::Hold(Held::Everything { count: 3 })
        );
    }

    #[test]
    fn an_admin_allows_exactly_one_run_up_to_n() {
        assert_eq!(verdict(12, 50, 10, Some(12)), Verdict::Remove);
        assert_eq!(verdict(3, 0, 10, Some(3)), Verdict::Remove);
        assert_eq!(verdict(1, 50, 0, Some(1)), Verdict::Remove);
        assert_eq!(
            verdict(13, 50, 10, Some(12)),
            Verdict::Hold(Held::OverAllowed {
                count: 13,
                allowed: 12
            })
        );
    }

    #[test]
    fn the_message_gives_the_count_and_the_exact_command() {
        let text = Held::OverLimit {
            count: 12,
            limit: 10,
        }
        .message("photosync reconcile");
        assert!(text.starts_with("12 photo(s) vanished"), "{text}");
        assert!(text.contains("`photosync reconcile --allow-removals 12`"));
        assert!(text.contains("raise PHOTOSYNC_REMOVAL_LIMIT"));
        let local = Held::Everything { count: 64 }.message("photosync sync /photos/side");
        assert!(local.contains("`photosync sync /photos/side --allow-removals 64`"));
    }
}
