//! The process's memory use, read from `/proc/self/status` on Linux.

use std::fs;

/// Memory the process holds now and has held at most, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rss {
    /// `VmRSS`: resident now.
    pub current: Option<u64>,
    /// `VmHWM`: the high-water mark of resident memory since the process started.
    pub peak: Option<u64>,
}

/// Reads the current and peak resident set size; both are `None` where `/proc` is
/// unavailable (not Linux, or mounted elsewhere), so reports show null rather than 0.
pub fn rss() -> Rss {
    fs::read_to_string("/proc/self/status").map_or_else(|_| Rss::default(), |s| parse(&s))
}

/// The `VmRSS` and `VmHWM` lines of a `/proc/<pid>/status` text.
fn parse(status: &str) -> Rss {
    let field = |name: &str| {
        let line = status.lines().find_map(|l| l.strip_prefix(name))?;
        // The kernel always writes these in kB ("VmHWM:\t  12345 kB").
        let kb: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    };
    Rss { current: field("VmRSS:"), peak: field("VmHWM:") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let text = "Name:\tmylsm\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(parse(text), Rss { current: Some(1 << 20), peak: Some(2 << 20) });
        assert_eq!(parse("Name:\tx\n"), Rss::default());
    }

    #[test]
    fn reads_own_status_on_linux() {
        if cfg!(target_os = "linux") {
            let r = rss();
            assert!(r.peak.unwrap() >= r.current.unwrap() && r.current.unwrap() > 0);
        }
    }
}
