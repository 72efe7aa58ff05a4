//! Crash simulation for [`MemFs`]: what a power loss or a process crash leaves behind.
//!
//! A power loss ([`MemFs::crash`]) keeps only the durable namespace, the entries made
//! durable by `sync_dir`, and of each file its synced prefix plus whatever of the
//! unsynced tail the [`CrashMode`] lets through. A process crash
//! ([`MemFs::crash_process`]) keeps everything the OS holds, durable or not. Both
//! return an independent [`MemFs`] with every lock released, so a test can reopen the
//! engine on it while the old instance is still alive.

use std::collections::HashMap;

use super::mem::{Ino, Inode, State};
use super::MemFs;

/// The page size used to tear unsynced data in [`CrashMode::TornPages`].
const PAGE_SIZE: usize = 4096;

/// What [`MemFs::crash`] keeps of each file's unsynced tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// Only synced bytes survive.
    DropUnsynced,
    /// Synced bytes plus a random-length prefix of the unsynced bytes survive.
    KeepRandomPrefix,
    /// The file is cut at a random length at or past the synced prefix, and each 4 KiB
    /// page (aligned to file offset) of the unsynced part below the cut is independently
    /// kept or replaced by zeros, as when the disk wrote the size but not every page.
    TornPages,
}

impl MemFs {
    /// A new, independent file system holding what a machine would see after power
    /// loss now: the durable namespace, each file cut according to `mode` (the random
    /// choices drawn from `seed`). Locks, faults and counters start afresh.
    pub fn crash(&self, mode: CrashMode, seed: u64) -> MemFs {
        let st = self.state();
        let mut rng = SplitMix64::new(seed);
        let mut new = State { dirs: st.dirs.clone(), ..State::default() };
        let mut copied: HashMap<Ino, Ino> = HashMap::new();
        for (path, ino) in &st.durable {
            let new_ino = match copied.get(ino) {
                Some(&n) => n,
                None => {
                    let i = &st.inodes[ino];
                    let data = crash_image(i, mode, &mut rng);
                    // What survived a power loss is on the disk, so all of it is synced.
                    let len = data.len();
                    let n = new.alloc(data, len);
                    copied.insert(*ino, n);
                    n
                }
            };
            new.link_live(path.clone(), new_ino);
            new.link_durable(path.clone(), new_ino);
            // A directory removed after its entries' removal, which no directory sync
            // made durable, comes back with them.
            if let Some(parent) = path.parent() {
                new.add_dirs(parent);
            }
        }
        MemFs::from_state(new)
    }

    /// A new, independent file system holding what survives a crash of the process: the
    /// live namespace with every appended byte. What was durable stays durable and what
    /// was not stays not, so a later [`MemFs::crash`] of the copy still loses it. Locks
    /// are released; faults and counters start afresh.
    pub fn crash_process(&self) -> MemFs {
        MemFs::from_state(self.state().copy_files())
    }
}

impl State {
    /// A copy with the same namespaces and contents but no locks, open handles or faults.
    fn copy_files(&self) -> State {
        let mut inodes = HashMap::new();
        for (&ino, i) in &self.inodes {
            if i.live_links > 0 || i.durable_links > 0 {
                inodes.insert(ino, Inode { handles: 0, ..i.clone() });
            }
        }
        State {
            next_ino: self.next_ino,
            inodes,
            live: self.live.clone(),
            durable: self.durable.clone(),
            dirs: self.dirs.clone(),
            ..State::default()
        }
    }
}

/// A small seeded generator (SplitMix64), so that crashes replay from a seed without a
/// dependency on `rand`.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`; the modulo bias is irrelevant for crash tests.
    fn up_to(&mut self, max: usize) -> usize {
        (self.next_u64() % (max as u64 + 1)) as usize
    }
}

/// What a power loss leaves of file `i` under `mode`. Appends that overwrote synced,
/// preallocated zeros are unsynced like any other, and where the crash loses them the
/// zeros are what the disk still holds.
fn crash_image(i: &Inode, mode: CrashMode, rng: &mut SplitMix64) -> Vec<u8> {
    let from = i.rewritten_from.unwrap_or(i.synced_len).min(i.synced_len);
    let mut out = crash_contents(&i.data, from, mode, rng);
    if out.len() < i.synced_len {
        out.resize(i.synced_len, 0);
    }
    out
}

/// What a power loss leaves of a file holding `data` of which `synced` bytes were
/// synced, under `mode`.
fn crash_contents(data: &[u8], synced: usize, mode: CrashMode, rng: &mut SplitMix64) -> Vec<u8> {
    let synced = synced.min(data.len());
    match mode {
        CrashMode::DropUnsynced => data[..synced].to_vec(),
        CrashMode::KeepRandomPrefix => {
            let cut = synced + rng.up_to(data.len() - synced);
            data[..cut].to_vec()
        }
        CrashMode::TornPages => {
            let cut = synced + rng.up_to(data.len() - synced);
            let mut out = data[..cut].to_vec();
            // Pages are aligned to file offsets; the page holding the end of the synced
            // prefix may be torn only past that end, since synced bytes are on disk.
            let mut page_start = synced / PAGE_SIZE * PAGE_SIZE;
            while page_start < cut {
                let page_end = (page_start + PAGE_SIZE).min(cut);
                if rng.next_u64() & 1 == 0 {
                    out[page_start.max(synced)..page_end].fill(0);
                }
                page_start += PAGE_SIZE;
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::test_util::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;
    use crate::fs::FileSystem;

    #[test]
    fn crash_keeps_synced_data() {
        let (fs, dir) = db();
        let path = dir.join("000001.log");
        let _w = write(&fs, &path, b"durable", b"");
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix, CrashMode::TornPages] {
            let after = fs.crash(mode, 7);
            assert_eq!(after.file_contents(&path).unwrap(), b"durable");
            assert_eq!(after.open(&path).unwrap().read_all().unwrap(), b"durable");
        }
    }

    #[test]
    fn appends_over_preallocated_zeros_are_lost_like_any_unsynced_append() {
        let (fs, dir) = db();
        let path = dir.join("000001.log");
        let mut w = fs.create(&path).unwrap();
        fs.sync_dir(&dir).unwrap();
        w.append(b"synced").unwrap();
        w.preallocate(6000).unwrap();
        w.sync().unwrap();
        w.append(b" and not").unwrap();
        assert_eq!(w.len(), 14);
        assert_eq!(&fs.file_contents(&path).unwrap()[..14], b"synced and not");
        let mut zeroed = b"synced".to_vec();
        zeroed.resize(6000, 0);
        assert_eq!(fs.crash(CrashMode::DropUnsynced, 0).file_contents(&path).unwrap(), zeroed);
        for seed in 0..20 {
            for mode in [CrashMode::KeepRandomPrefix, CrashMode::TornPages] {
                let got = fs.crash(mode, seed).file_contents(&path).unwrap();
                assert_eq!(got.len(), 6000, "the synced size survives");
                assert_eq!(&got[..6], b"synced");
                let kept = got[6..].iter().take_while(|&&b| b != 0).count();
                assert_eq!(&got[6..6 + kept], &b" and not"[..kept]);
                assert!(got[6 + kept..].iter().all(|&b| b == 0), "{mode:?} {seed}");
            }
        }
        // Once synced, the overwrite is what survives.
        w.sync().unwrap();
        assert_eq!(
            &fs.crash(CrashMode::DropUnsynced, 0).file_contents(&path).unwrap()[..14],
            b"synced and not"
        );
    }

    #[test]
    fn drop_unsynced_loses_the_unsynced_tail() {
        let (fs, dir) = db();
        let path = dir.join("000001.log");
        let _w = write(&fs, &path, b"synced", b" and not");
        assert_eq!(fs.file_contents(&path).unwrap(), b"synced and not");
        assert_eq!(fs.synced_len(&path), Some(6));
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.file_contents(&path).unwrap(), b"synced");
        assert_eq!(after.synced_len(&path), Some(6));
    }

    #[test]
    fn created_file_without_dir_sync_disappears() {
        let (fs, dir) = db();
        let path = dir.join("000002.sst");
        let mut w = fs.create(&path).unwrap();
        w.append(b"data").unwrap();
        w.sync().unwrap();
        assert_eq!(fs.crash(CrashMode::DropUnsynced, 0).paths(), Vec::<PathBuf>::new());
        fs.sync_dir(&dir).unwrap();
        assert_eq!(fs.crash(CrashMode::DropUnsynced, 0).paths(), vec![path]);
    }

    #[test]
    fn rename_without_dir_sync_reverts() {
        let (fs, dir) = db();
        let (tmp, current) = (dir.join("CURRENT.tmp"), dir.join("CURRENT"));
        drop(write(&fs, &current, b"MANIFEST-1", b""));
        drop(write(&fs, &tmp, b"MANIFEST-2", b""));
        fs.rename(&tmp, &current).unwrap();
        assert_eq!(fs.paths(), vec![current.clone()]);

        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.paths(), vec![current.clone(), tmp.clone()]);
        assert_eq!(after.file_contents(&current).unwrap(), b"MANIFEST-1");

        fs.sync_dir(&dir).unwrap();
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.paths(), vec![current.clone()]);
        assert_eq!(after.file_contents(&current).unwrap(), b"MANIFEST-2");
    }

    #[test]
    fn remove_without_dir_sync_reappears() {
        let (fs, dir) = db();
        let path = dir.join("old.log");
        drop(write(&fs, &path, b"old", b""));
        fs.remove_file(&path).unwrap();
        assert!(!fs.exists(&path));
        assert_eq!(fs.crash(CrashMode::DropUnsynced, 0).file_contents(&path).unwrap(), b"old");
        fs.sync_dir(&dir).unwrap();
        assert!(!fs.crash(CrashMode::DropUnsynced, 0).exists(&path));
    }

    #[test]
    fn keep_random_prefix_is_a_prefix_at_least_synced() {
        let (fs, dir) = db();
        let path = dir.join("000003.log");
        let all: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let _w = write(&fs, &path, &all[..1000], &all[1000..]);
        let mut lens = BTreeSet::new();
        for seed in 0..50 {
            let got = fs.crash(CrashMode::KeepRandomPrefix, seed).file_contents(&path).unwrap();
            assert!(got.len() >= 1000 && all.starts_with(&got), "seed {seed}");
            lens.insert(got.len());
        }
        assert!(lens.len() > 10, "cut lengths should vary with the seed: {lens:?}");
        let again = fs.crash(CrashMode::KeepRandomPrefix, 3).file_contents(&path);
        assert_eq!(again, fs.crash(CrashMode::KeepRandomPrefix, 3).file_contents(&path));
    }

    #[test]
    fn torn_pages_keep_length_and_tear_whole_pages() {
        let (fs, dir) = db();
        let path = dir.join("000004.log");
        let synced = 5000;
        let all = vec![0xAB; 40_000];
        let _w = write(&fs, &path, &all[..synced], &all[synced..]);
        let (mut saw_zero_page, mut saw_kept_page) = (false, false);
        for seed in 0..50 {
            let got = fs.crash(CrashMode::TornPages, seed).file_contents(&path).unwrap();
            assert!(got.len() >= synced && got.len() <= all.len(), "seed {seed}");
            assert_eq!(&got[..synced], &all[..synced], "synced bytes are never torn");
            // Each file-aligned page of the unsynced part is all original or all zeros.
            let mut start = synced;
            while start < got.len() {
                let end = ((start / 4096 + 1) * 4096).min(got.len());
                let chunk = &got[start..end];
                if chunk.iter().all(|&b| b == 0) {
                    saw_zero_page = true;
                } else {
                    assert_eq!(chunk, &all[start..end], "seed {seed}: page at {start}");
                    saw_kept_page = true;
                }
                start = end;
            }
        }
        assert!(saw_zero_page && saw_kept_page);
    }

    #[test]
    fn crash_process_keeps_everything_but_not_durability() {
        let (fs, dir) = db();
        let path = dir.join("000005.log");
        let _w = write(&fs, &path, b"synced", b"+unsynced");
        let fresh = dir.join("fresh");
        fs.create(&fresh).unwrap().append(b"x").unwrap();
        let _lock = fs.lock(&dir.join("LOCK")).unwrap();

        let after = fs.crash_process();
        assert_eq!(after.paths(), fs.paths());
        assert_eq!(after.file_contents(&path).unwrap(), b"synced+unsynced");
        assert_eq!(after.file_contents(&fresh).unwrap(), b"x");
        let _relock = after.lock(&dir.join("LOCK")).unwrap();
        // The copy is what the OS holds; a later power loss still drops what was unsynced.
        let lost = after.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(lost.file_contents(&path).unwrap(), b"synced");
        assert!(!lost.exists(&fresh));
    }

    #[test]
    fn crashed_copies_are_independent() {
        let (fs, dir) = db();
        let path = dir.join("f");
        let mut w = write(&fs, &path, b"a", b"");
        let after = fs.crash_process();
        w.append(b"b").unwrap();
        after.write_file(&path, b"z");
        assert_eq!(fs.file_contents(&path).unwrap(), b"ab");
        assert_eq!(after.file_contents(&path).unwrap(), b"z");
    }

    #[test]
    fn crash_contents_by_mode() {
        let data: Vec<u8> = (1..=255u8).cycle().take(3 * PAGE_SIZE).collect();
        let mut rng = SplitMix64::new(1);
        let synced = PAGE_SIZE + 100;
        assert_eq!(
            crash_contents(&data, synced, CrashMode::DropUnsynced, &mut rng),
            &data[..synced]
        );
        assert_eq!(crash_contents(&data, data.len(), CrashMode::TornPages, &mut rng), data);
        assert_eq!(crash_contents(&data, 0, CrashMode::DropUnsynced, &mut rng), b"");
        for _ in 0..100 {
            let got = crash_contents(&data, synced, CrashMode::TornPages, &mut rng);
            assert_eq!(&got[..synced], &data[..synced]);
            // The rest of the page that holds the synced end is torn as one piece.
            let tail = &got[synced..got.len().min(2 * PAGE_SIZE)];
            let zero = tail.iter().all(|&b| b == 0);
            assert!(zero || tail == &data[synced..synced + tail.len()]);
        }
    }
}
