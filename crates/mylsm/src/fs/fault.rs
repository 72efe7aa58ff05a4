//! Fault injection and operation counters for [`MemFs`](super::MemFs).
//!
//! Faults are armed through `&self` at any time and from any thread (the errorfs of
//! Pebble, the fault-injection `Env` of LevelDB): `fail_*_after(n)` lets `n` more calls
//! of that kind succeed and then fails every later one until [`MemFs::clear_faults`]. A
//! space limit makes appends fail with `ENOSPC`. An injected sync failure also drops the
//! file's unsynced bytes, as Linux does (see [`MemFs::fail_sync_after`]). Reads can also
//! succeed with damaged bytes ([`MemFs::corrupt_reads_after`]), as from a disk or bus
//! that returns bad data without an error, so tests can check that checksums catch it.

use std::io;
use std::path::Path;

#[cfg(any(test, feature = "test-util"))]
use super::MemFs;

/// `ENOSPC` on Linux.
const ENOSPC: i32 = 28;

/// Armed faults and counters of one [`MemFs`].
#[derive(Debug, Default, Clone)]
pub(super) struct Faults {
    write_budget: Option<u64>,
    sync_budget: Option<u64>,
    read_budget: Option<u64>,
    corrupt_budget: Option<u64>,
    remove_budget: Option<u64>,
    space_limit: Option<u64>,
    pub(super) reads_corrupted: u64,
    pub(super) syncs: u64,
    pub(super) dir_syncs: u64,
    pub(super) appends: u64,
    pub(super) bytes_appended: u64,
}

/// Spends one call from `budget`; true if this call must fail.
fn spend(budget: &mut Option<u64>) -> bool {
    match budget {
        None => false,
        Some(0) => true,
        Some(n) => {
            *n -= 1;
            false
        }
    }
}

fn injected(what: &str, path: &Path) -> io::Error {
    io::Error::other(format!("injected {what} failure on {}", path.display()))
}

impl Faults {
    /// Fails if an armed write failure is due.
    pub(super) fn check_write(&mut self, path: &Path) -> io::Result<()> {
        if spend(&mut self.write_budget) {
            return Err(injected("write", path));
        }
        Ok(())
    }

    /// Fails if an armed sync failure (file or directory) is due.
    pub(super) fn check_sync(&mut self, path: &Path) -> io::Result<()> {
        if spend(&mut self.sync_budget) {
            return Err(injected("sync", path));
        }
        Ok(())
    }

    /// Fails if an armed remove failure is due.
    pub(super) fn check_remove(&mut self, path: &Path) -> io::Result<()> {
        if spend(&mut self.remove_budget) {
            return Err(injected("remove", path));
        }
        Ok(())
    }

    /// Fails if an armed read failure is due.
    pub(super) fn check_read(&mut self, path: &Path) -> io::Result<()> {
        if spend(&mut self.read_budget) {
            return Err(injected("read", path));
        }
        Ok(())
    }

    /// Flips one bit of `buf`, the bytes a read returns, if an armed read corruption is
    /// due. Empty reads are left alone and do not count against the budget.
    pub(super) fn corrupt_read(&mut self, buf: &mut [u8]) {
        if buf.is_empty() || !spend(&mut self.corrupt_budget) {
            return;
        }
        // The damaged position moves from read to read (a multiplicative hash of the
        // count), so that across a workload headers, payloads and trailers are all hit.
        let n = self.reads_corrupted;
        let at = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % buf.len();
        buf[at] ^= 1 << (n % 8);
        self.reads_corrupted += 1;
    }

    /// Fails with `ENOSPC` if `extra` more bytes on top of `used` exceed the space limit.
    pub(super) fn check_space(&self, used: u64, extra: u64) -> io::Result<()> {
        match self.space_limit {
            Some(limit) if used.saturating_add(extra) > limit => {
                Err(io::Error::from_raw_os_error(ENOSPC))
            }
            _ => Ok(()),
        }
    }
}

// The knobs are test scaffolding (see `fs/mod.rs`). Without them nothing arms a fault,
// so every budget stays `None` and each check above passes.
#[cfg(any(test, feature = "test-util"))]
impl MemFs {
    /// Lets `n` more appends succeed, then fails every later one (appending nothing)
    /// until [`MemFs::clear_faults`].
    pub fn fail_write_after(&self, n: u64) {
        self.state().faults.write_budget = Some(n);
    }

    /// Lets `n` more syncs (of files and directories together) succeed, then fails every
    /// later one until [`MemFs::clear_faults`]. Like Linux, whose failed `fsync` marks the
    /// dirty pages clean and reports the error once, a failed file sync drops the file's
    /// unsynced bytes: its data is cut back to what was synced before.
    pub fn fail_sync_after(&self, n: u64) {
        self.state().faults.sync_budget = Some(n);
    }

    /// Lets `n` more file removals succeed, then fails every later one (removing
    /// nothing) until [`MemFs::clear_faults`]: a process stopped partway through
    /// deleting files leaves the same directory.
    pub fn fail_remove_after(&self, n: u64) {
        self.state().faults.remove_budget = Some(n);
    }

    /// Lets `n` more positional reads succeed, then fails every later one until
    /// [`MemFs::clear_faults`].
    pub fn fail_read_after(&self, n: u64) {
        self.state().faults.read_budget = Some(n);
    }

    /// Lets `n` more non-empty positional reads return true bytes, then flips one bit in
    /// what every later one returns (the read itself succeeds) until
    /// [`MemFs::clear_faults`]. The file's stored bytes are untouched: a read after the
    /// fault is cleared sees them intact, as after a transient bus or controller error.
    pub fn corrupt_reads_after(&self, n: u64) {
        self.state().faults.corrupt_budget = Some(n);
    }

    /// Bytes held by files the OS still has (linked or open), the measure a space limit
    /// caps; tests set a limit relative to it.
    pub fn used_bytes(&self) -> u64 {
        self.state().used_bytes()
    }

    /// How many reads [`MemFs::corrupt_reads_after`] damaged.
    pub fn corrupted_read_count(&self) -> u64 {
        self.state().faults.reads_corrupted
    }

    /// Caps the bytes held by all files together; an append that would exceed the cap
    /// fails with `ENOSPC` ([`io::ErrorKind::StorageFull`]) and appends nothing. Files
    /// that are removed but still open count, as on a real disk.
    pub fn set_space_limit(&self, limit: Option<u64>) {
        self.state().faults.space_limit = limit;
    }

    /// Disarms every injected failure and the space limit; counters are kept.
    pub fn clear_faults(&self) {
        let mut st = self.state();
        let f = &mut st.faults;
        f.write_budget = None;
        f.sync_budget = None;
        f.read_budget = None;
        f.corrupt_budget = None;
        f.remove_budget = None;
        f.space_limit = None;
    }

    /// How many file syncs succeeded.
    pub fn sync_count(&self) -> u64 {
        self.state().faults.syncs
    }

    /// How many directory syncs succeeded.
    pub fn dir_sync_count(&self) -> u64 {
        self.state().faults.dir_syncs
    }

    /// How many appends succeeded.
    pub fn append_count(&self) -> u64 {
        self.state().faults.appends
    }

    /// How many bytes successful appends wrote.
    pub fn bytes_appended(&self) -> u64 {
        self.state().faults.bytes_appended
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::test_util::*;

    use std::collections::BTreeSet;

    use super::*;
    use crate::fs::FileSystem;
    use crate::Error;

    fn io_kind<T>(r: crate::Result<T>) -> Option<io::ErrorKind> {
        match r {
            Err(Error::Io(e)) => Some(e.kind()),
            _ => None,
        }
    }

    #[test]
    fn injected_write_failure_persists_until_cleared() {
        let (fs, dir) = db();
        let path = dir.join("f");
        let mut w = fs.create(&path).unwrap();
        fs.fail_write_after(2);
        w.append(b"a").unwrap();
        w.append(b"b").unwrap();
        for _ in 0..3 {
            let err = w.append(b"c").unwrap_err();
            assert!(err.to_string().contains("injected write failure"), "{err}");
        }
        assert_eq!(fs.file_contents(&path).unwrap(), b"ab");
        fs.clear_faults();
        w.append(b"d").unwrap();
        assert_eq!(fs.file_contents(&path).unwrap(), b"abd");
    }

    #[test]
    fn injected_sync_failure_drops_unsynced_bytes() {
        let (fs, dir) = db();
        let path = dir.join("f");
        let mut w = fs.create(&path).unwrap();
        w.append(b"kept").unwrap();
        fs.fail_sync_after(1);
        w.sync().unwrap();
        w.append(b"lost").unwrap();
        let err = w.sync().unwrap_err();
        assert!(err.to_string().contains("injected sync failure"), "{err}");
        assert_eq!(fs.file_contents(&path).unwrap(), b"kept");
        assert_eq!(w.len(), 4);
        assert_eq!(fs.synced_len(&path), Some(4));

        // Directory syncs share the budget and leave the durable namespace untouched.
        assert!(fs.sync_dir(&dir).is_err());
        assert!(fs.durable_paths().is_empty());
        fs.clear_faults();
        fs.sync_dir(&dir).unwrap();
        assert_eq!(fs.durable_paths(), vec![path]);
    }

    #[test]
    fn injected_read_failure() {
        let (fs, dir) = db();
        let path = dir.join("f");
        fs.write_file(&path, b"abc");
        let r = fs.open(&path).unwrap();
        fs.fail_read_after(1);
        assert_eq!(r.read_all().unwrap(), b"abc");
        assert_eq!(io_kind(r.read_all()), Some(io::ErrorKind::Other));
        fs.clear_faults();
        assert_eq!(r.read_all().unwrap(), b"abc");
    }

    #[test]
    fn corrupted_reads_flip_one_bit_and_leave_the_file_intact() {
        let (fs, dir) = db();
        let path = dir.join("f");
        let data: Vec<u8> = (0..200u8).collect();
        fs.write_file(&path, &data);
        let r = fs.open(&path).unwrap();
        fs.corrupt_reads_after(1);
        assert_eq!(r.read_all().unwrap(), data);
        let mut positions = BTreeSet::new();
        for _ in 0..20 {
            let got = r.read_all().unwrap();
            let diff: Vec<usize> = (0..data.len()).filter(|&i| got[i] != data[i]).collect();
            assert_eq!(diff.len(), 1, "exactly one byte differs");
            assert_eq!((got[diff[0]] ^ data[diff[0]]).count_ones(), 1, "by one bit");
            positions.insert(diff[0]);
        }
        assert!(positions.len() > 5, "the damage moves between reads: {positions:?}");
        assert_eq!(fs.corrupted_read_count(), 20);
        // An empty read has nothing to damage and does not use up the budget.
        assert_eq!(r.read_at(500, &mut [0u8; 4]).unwrap(), 0);
        fs.clear_faults();
        assert_eq!(r.read_all().unwrap(), data);
        assert_eq!(fs.file_contents(&path).unwrap(), data);
    }

    #[test]
    fn space_limit_fails_with_enospc_and_appends_nothing() {
        let (fs, dir) = db();
        fs.set_space_limit(Some(10));
        let mut a = fs.create(&dir.join("a")).unwrap();
        let mut b = fs.create(&dir.join("b")).unwrap();
        a.append(b"123456").unwrap();
        b.append(b"1234").unwrap();
        let r = a.append(b"x");
        assert_eq!(io_kind(r.clone()), Some(io::ErrorKind::StorageFull));
        assert!(matches!(r, Err(Error::Io(e)) if e.raw_os_error() == Some(ENOSPC)));
        assert_eq!(a.len(), 6);
        // Space is freed only once a removed file is also closed.
        fs.remove_file(&dir.join("b")).unwrap();
        assert!(a.append(b"x").is_err());
        drop(b);
        a.append(b"x").unwrap();
        fs.clear_faults();
        a.append(&[0; 100]).unwrap();
    }

    #[test]
    fn counters_count_successful_calls() {
        let (fs, dir) = db();
        let mut w = fs.create(&dir.join("f")).unwrap();
        w.append(b"abc").unwrap();
        w.append(b"de").unwrap();
        w.sync().unwrap();
        fs.sync_dir(&dir).unwrap();
        fs.fail_write_after(0);
        assert!(w.append(b"zzz").is_err());
        assert_eq!(
            (fs.append_count(), fs.bytes_appended(), fs.sync_count(), fs.dir_sync_count()),
            (2, 5, 1, 1)
        );
        let after = fs.crash_process();
        assert_eq!((after.append_count(), after.sync_count()), (0, 0));
    }
}
