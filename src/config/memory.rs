//! `PHOTOSYNC_MEMORY_MB`: how the process's memory target splits into the
//! pools of [`crate::memory::Memory`], checked so that one photo of the
//! largest accepted size always fits.

use super::{Env, SettingsError, bounded};
use crate::memory::{BASE_MB, parse_cost};
use crate::pipeline::RenderOptions;

const MB: u64 = 1 << 20;

/// The memory pools, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySettings {
    /// The target for the whole process (`PHOTOSYNC_MEMORY_MB`, default 256).
    pub target: u64,
    /// Photo bytes held in memory: the target less [`BASE_MB`] and the
    /// decode pool.
    pub held: u64,
    /// Decode allocations (`PHOTOSYNC_MAX_DECODE_MB`).
    pub decode: u64,
}

/// Reads the target; `max_body` is the largest invocation body accepted.
pub(super) fn memory(
    env: &Env,
    render: &RenderOptions,
    max_body: u64,
) -> Result<MemorySettings, SettingsError> {
    // 256 MB: what is left to a handler on the smallest instances (Flex
    // Consumption's 512 MB instance also runs the host); below 160 MB even
    // the base and one 12 MP render would not fit.
    let target_mb: u64 = bounded(env, "PHOTOSYNC_MEMORY_MB", 256, 160..=65_536)?;
    let decode = render.max_decode_bytes;
    let held = (target_mb.saturating_sub(BASE_MB) * MB).saturating_sub(decode);
    let needed = parse_cost(max_body);
    if held < needed {
        return Err(SettingsError::new(
            "PHOTOSYNC_MEMORY_MB",
            format!(
                "`{target_mb}` leaves {} MB for photos in memory once {BASE_MB} MB for the \
                 process and PHOTOSYNC_MAX_DECODE_MB={} are set aside, but one photo of \
                 PHOTOSYNC_MAX_BYTES={} needs {} MB while it arrives; raise PHOTOSYNC_MEMORY_MB \
                 to at least {}, or lower PHOTOSYNC_MAX_BYTES or PHOTOSYNC_MAX_DECODE_MB",
                held / MB,
                decode / MB,
                render.max_bytes,
                needed.div_ceil(MB),
                (needed + decode).div_ceil(MB) + BASE_MB,
            ),
        ));
    }
    Ok(MemorySettings {
        target: target_mb * MB,
        held,
        decode,
    })
}
