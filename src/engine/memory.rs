//! What the machine can hold: runs refuse up front, with the numbers, what
//! would otherwise end in an out-of-memory kill halfway through.

use crate::error::{Error, Result};

/// Set to a number of bytes, the memory accord plans with is at most that:
/// for containers, whose `MemAvailable` shows the host's memory rather
/// than their own limit.
pub const MEMORY_LIMIT_ENV: &str = "ACCORD_MEMORY_LIMIT";

/// Memory the kernel says can be allocated without swapping
/// (`MemAvailable`), lowered to [`MEMORY_LIMIT_ENV`] when set; `None` where
/// neither is known (not Linux).
pub fn available_bytes() -> Option<u64> {
    let limit = std::env::var(MEMORY_LIMIT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let kernel = (|| {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    })();
    match (kernel, limit) {
        (Some(k), Some(l)) => Some(k.min(l)),
        (k, l) => k.or(l),
    }
}

/// Errors with [`Error::Limit`] if `needed` bytes are more than `available`
/// (when known). `what` says what needs them and `instead` what to change.
pub fn check_fits(needed: u64, available: Option<u64>, what: &str, instead: &str) -> Result<()> {
    match available {
        Some(free) if needed > free => Err(Error::Limit(format!(
            "{what} need {} but {} of memory is available; {instead}",
            size_text(needed),
            size_text(free)
        ))),
        _ => Ok(()),
    }
}

/// Bytes in GiB with one decimal, or in MiB below 1 GiB (where "0.0 GiB"
/// would say nothing).
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", (bytes as f64 / (1u64 << 20) as f64).max(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_beyond_memory_is_refused_with_the_numbers() {
        let err = check_fits(3 << 30, Some(1 << 30), "the tables", "use fewer classes")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the tables need 3.0 GiB but 1.0 GiB of memory is available; use fewer classes"
        );
        assert!(check_fits(1 << 30, Some(3 << 30), "x", "y").is_ok());
        let small = check_fits(3 << 20, Some(1 << 20), "x", "y").unwrap_err();
        assert!(
            small.to_string().contains("need 3 MiB but 1 MiB"),
            "{small}"
        );
        assert!(check_fits(u64::MAX, None, "x", "y").is_ok());
    }

    #[test]
    fn this_machine_reports_its_memory() {
        if cfg!(target_os = "linux") {
            assert!(available_bytes().is_some_and(|b| b > 0));
        }
    }
}
