//! Resource limits of one instance (`--max-memory`, `--timeout`,
//! `--max-fds`) and their parsers. Linear memory is bounded by a wasmtime
//! `StoreLimits`; time by the instance's deadline (`crate::deadline`).

use std::time::Duration;

use wasmtime::{StoreLimits, StoreLimitsBuilder};

/// Limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes of linear memory the module may have; `memory.grow`
    /// past it fails (returns -1), as the Wasm spec allows.
    pub max_memory: u64,
    /// Wall-clock time from start to the end of `_start`; `None`: no limit.
    pub timeout: Option<Duration>,
    /// The most descriptors (stdio and preopens included) the module may
    /// hold open in sysd; past it opens fail with `MFILE`. VM isolation
    /// only: wasmtime-wasi has no such limit.
    pub max_fds: u32,
}

/// The most descriptors sysd's table holds.
pub const MAX_FDS: u32 = 256;

impl Default for Limits {
    /// 1 GiB of linear memory; 15 minutes, the common serverless cap.
    fn default() -> Self {
        Self {
            max_memory: 1 << 30,
            timeout: Some(Duration::from_secs(15 * 60)),
            max_fds: MAX_FDS,
        }
    }
}

impl Limits {
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.max_memory).unwrap_or(usize::MAX))
            .build()
    }
}

/// Parses `--max-fds`: 4 (stdio and one preopen) to [`MAX_FDS`].
pub fn parse_max_fds(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of descriptors"))?;
    if !(4..=MAX_FDS).contains(&n) {
        return Err(format!("must be between 4 and {MAX_FDS}"));
    }
    Ok(n)
}

/// Parses a byte size: a number with an optional `K`, `M` or `G` suffix
/// (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "m" | "MiB" => 20,
        "G" | "g" | "GiB" => 30,
        other => return Err(format!("unknown size unit `{other}` (expected K, M or G)")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 512M)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A `--timeout` value: a duration, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl std::str::FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_timeout(s).map(Timeout)
    }
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h`; `0` (or
/// `none`) means no limit.
pub fn parse_timeout(s: &str) -> Result<Option<Duration>, String> {
    if s == "0" || s == "none" {
        return Ok(None);
    }
    let split = s
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(s.len(), |(i, _)| i);
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s)"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "" => return Err(format!("`{s}` needs a unit: ms, s, m or h")),
        other => {
            return Err(format!(
                "unknown time unit `{other}` (expected ms, s, m or h)"
            ))
        }
    };
    Ok((!d.is_zero()).then_some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn timeouts_parse_with_units_and_zero_is_none() {
        assert_eq!(parse_timeout("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_timeout("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(parse_timeout("15m"), Ok(Some(Duration::from_secs(900))));
        assert_eq!(parse_timeout("2h"), Ok(Some(Duration::from_secs(7200))));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert_eq!(parse_timeout("none"), Ok(None));
        assert!(parse_timeout("10").is_err(), "a unit is required");
        assert!(parse_timeout("10d").is_err());
    }
}
