//! [`MemFs`]: an in-memory [`FileSystem`] that simulates power loss and process crashes
//! so that tests can check what the engine recovers.
//!
//! The model follows Pebble's `vfs.MemFS` (with `CrashClone`) and LevelDB's
//! fault-injection `Env`. Files are inodes holding their bytes and a `synced_len`: the
//! prefix made durable by [`WritableFile::sync`]. Paths map to inodes in two namespaces:
//! the *live* one that every call sees, and the *durable* one that a power loss would
//! leave behind. The durable namespace changes only on [`FileSystem::sync_dir`], which
//! copies exactly that directory's direct children (creations, renames, removals) from
//! the live namespace. As a simplification, directories themselves are durable as soon
//! as [`FileSystem::create_dir_all`] returns, and creating a file (or renaming onto a
//! path) requires its parent directory to exist, as on a real file system.
//!
//! Creating an existing file truncates its inode in place, dropping its synced prefix
//! too, which is the pessimistic reading of `O_TRUNC`. An append over zeros that
//! [`WritableFile::preallocate`] put past the append position overwrites them; until
//! the next sync the disk still holds the zeros there (`Inode::rewritten_from`). Handles refer to inodes, so an
//! open file outlives a rename or removal of its path, as with a real descriptor.
//! Crashes are simulated in the sibling `crash` module (`MemFs::crash` for power loss
//! under a `CrashMode`, `MemFs::crash_process` for a process crash) and faults are
//! injected through the `fault` module (`MemFs::fail_write_after` and friends); both
//! sets of knobs are public only under the `test-util` feature.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::fault::Faults;
use super::{parent_dir, FileLock, FileSystem, RandomAccessFile, WritableFile};
use crate::{Error, Result};

pub(super) type Ino = u64;

/// A file's contents, and who refers to it (so it can be freed once nobody does).
#[derive(Debug, Default, Clone)]
pub(super) struct Inode {
    pub(super) data: Vec<u8>,
    pub(super) synced_len: usize,
    /// The lowest offset below `synced_len` that an append overwrote since the last
    /// sync: on disk, `synced_len` bytes from there on are still preallocated zeros.
    pub(super) rewritten_from: Option<usize>,
    pub(super) live_links: usize,
    pub(super) durable_links: usize,
    pub(super) handles: usize,
}

/// Everything a [`MemFs`] holds, behind one mutex so that each call is atomic.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) next_ino: Ino,
    pub(super) inodes: HashMap<Ino, Inode>,
    pub(super) live: BTreeMap<PathBuf, Ino>,
    pub(super) durable: BTreeMap<PathBuf, Ino>,
    pub(super) dirs: BTreeSet<PathBuf>,
    pub(super) locks: BTreeSet<PathBuf>,
    pub(super) faults: Faults,
}

fn not_found(op: &str, path: &Path) -> Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{op} {}: no such file", path.display())).into()
}

/// The roots of absolute and relative paths, which always exist.
fn is_root(path: &Path) -> bool {
    path.as_os_str().is_empty() || path == Path::new(".") || path == Path::new("/")
}

impl State {
    #[expect(
        clippy::expect_used,
        reason = "an inode is freed only once no namespace entry or handle refers to it \
                  (`collect`), and callers pass only inodes they hold a reference to"
    )]
    fn inode(&mut self, ino: Ino) -> &mut Inode {
        self.inodes.get_mut(&ino).expect("a referenced inode is never freed")
    }

    pub(super) fn alloc(&mut self, data: Vec<u8>, synced_len: usize) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, Inode { data, synced_len, ..Inode::default() });
        ino
    }

    /// Frees `ino` once no namespace entry and no open handle refers to it.
    fn collect(&mut self, ino: Ino) {
        let i = &self.inodes[&ino];
        if i.live_links == 0 && i.durable_links == 0 && i.handles == 0 {
            self.inodes.remove(&ino);
        }
    }

    // The link helpers count the new reference before dropping the replaced one, so an
    // inode replaced by itself is never freed in between.
    pub(super) fn link_live(&mut self, path: PathBuf, ino: Ino) {
        self.inode(ino).live_links += 1;
        if let Some(old) = self.live.insert(path, ino) {
            self.inode(old).live_links -= 1;
            self.collect(old);
        }
    }

    fn unlink_live(&mut self, path: &Path) -> Option<Ino> {
        let ino = self.live.remove(path)?;
        self.inode(ino).live_links -= 1;
        self.collect(ino);
        Some(ino)
    }

    pub(super) fn link_durable(&mut self, path: PathBuf, ino: Ino) {
        self.inode(ino).durable_links += 1;
        if let Some(old) = self.durable.insert(path, ino) {
            self.inode(old).durable_links -= 1;
            self.collect(old);
        }
    }

    fn unlink_durable(&mut self, path: &Path) {
        if let Some(ino) = self.durable.remove(path) {
            self.inode(ino).durable_links -= 1;
            self.collect(ino);
        }
    }

    /// Makes `ino`'s bytes durable, or fails as an injected sync failure says.
    fn sync_inode(&mut self, ino: Ino, path: &Path) -> Result<()> {
        let failed = self.faults.check_sync(path);
        let i = self.inode(ino);
        if let Err(e) = failed {
            // Linux marks the dirty pages clean after a failed `fsync` and reports the
            // error once, so the unsynced bytes are as good as gone: drop them.
            let synced = i.synced_len;
            i.data.truncate(synced);
            if let Some(from) = i.rewritten_from.take() {
                i.data[from..].fill(0);
            }
            return Err(e.into());
        }
        i.synced_len = i.data.len();
        i.rewritten_from = None;
        self.faults.syncs += 1;
        Ok(())
    }

    fn dir_exists(&self, path: &Path) -> bool {
        is_root(path) || self.dirs.contains(path)
    }

    pub(super) fn add_dirs(&mut self, path: &Path) {
        for dir in path.ancestors().filter(|d| !is_root(d)) {
            self.dirs.insert(dir.to_path_buf());
        }
    }

    /// Bytes held by files the OS still has: linked in the live namespace or open.
    pub(super) fn used_bytes(&self) -> u64 {
        let live = |i: &&Inode| i.live_links > 0 || i.handles > 0;
        self.inodes.values().filter(live).map(|i| i.data.len() as u64).sum()
    }
}

/// An in-memory file system; clones share the same files.
///
/// It keeps what a power loss would leave apart from what the OS holds, so that tests
/// can check what the engine recovers: with the `test-util` feature, `MemFs::crash`
/// and `MemFs::crash_process` make crash images of it, and `MemFs::fail_write_after`
/// and its siblings inject I/O failures.
#[derive(Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The file contents may be megabytes; the count is enough to tell instances apart.
        let st = self.state();
        f.debug_struct("MemFs").field("files", &st.live.len()).finish_non_exhaustive()
    }
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state. A panic in another test thread must not hide this one's result,
    /// so a poisoned mutex is used as is: every mutation leaves the state consistent.
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(any(test, feature = "test-util"))]
    pub(super) fn from_state(state: State) -> Self {
        MemFs { state: Arc::new(Mutex::new(state)) }
    }

    /// The contents of live file `path`, or `None` if it does not exist.
    pub fn file_contents(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.state();
        st.live.get(path).map(|ino| st.inodes[ino].data.clone())
    }

    /// Sets the contents of `path` to `data`, fully synced and durable, creating the file
    /// and its parent directories if needed. Meant for tests that damage files.
    pub fn write_file(&self, path: &Path, data: &[u8]) {
        let mut st = self.state();
        st.add_dirs(&parent_dir(path));
        let ino = match st.live.get(path) {
            Some(&ino) => {
                let i = st.inode(ino);
                i.data = data.to_vec();
                i.synced_len = data.len();
                ino
            }
            None => {
                let ino = st.alloc(data.to_vec(), data.len());
                st.link_live(path.to_path_buf(), ino);
                ino
            }
        };
        st.link_durable(path.to_path_buf(), ino);
    }

    /// How many bytes of live file `path` are synced, or `None` if it does not exist.
    pub fn synced_len(&self, path: &Path) -> Option<u64> {
        let st = self.state();
        st.live.get(path).map(|ino| st.inodes[ino].synced_len as u64)
    }

    /// The paths of every file in the live namespace, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.state().live.keys().cloned().collect()
    }

    /// The paths of every file in the durable namespace (what a power loss would leave),
    /// sorted.
    pub fn durable_paths(&self) -> Vec<PathBuf> {
        self.state().durable.keys().cloned().collect()
    }
}

impl FileSystem for MemFs {
    fn create_dir_all(&self, path: &Path) -> Result<()> {
        let mut st = self.state();
        if st.live.contains_key(path) {
            let msg = format!("create_dir_all {}: a file is in the way", path.display());
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, msg).into());
        }
        st.add_dirs(path);
        Ok(())
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let mut st = self.state();
        if st.dir_exists(path) {
            let msg = format!("create {}: is a directory", path.display());
            return Err(io::Error::new(io::ErrorKind::IsADirectory, msg).into());
        }
        if !st.dir_exists(&parent_dir(path)) {
            return Err(not_found("create", path));
        }
        let ino = match st.live.get(path) {
            Some(&ino) => {
                let i = st.inode(ino);
                i.data.clear();
                i.synced_len = 0;
                i.rewritten_from = None;
                ino
            }
            None => {
                let ino = st.alloc(Vec::new(), 0);
                st.link_live(path.to_path_buf(), ino);
                ino
            }
        };
        st.inode(ino).handles += 1;
        Ok(Box::new(MemWritableFile { fs: self.clone(), ino, path: path.to_path_buf(), pos: 0 }))
    }

    fn open(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        let mut st = self.state();
        let ino = *st.live.get(path).ok_or_else(|| not_found("open", path))?;
        st.inode(ino).handles += 1;
        Ok(Arc::new(MemRandomAccessFile { fs: self.clone(), ino, path: path.to_path_buf() }))
    }

    fn exists(&self, path: &Path) -> bool {
        let st = self.state();
        st.live.contains_key(path) || st.dir_exists(path)
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        let st = self.state();
        if !st.dir_exists(path) {
            return Err(not_found("list_dir", path));
        }
        let children = st.live.keys().chain(st.dirs.iter()).filter(|p| parent_dir(p) == path);
        let names = children.filter_map(|p| p.file_name()?.to_str().map(str::to_owned));
        Ok(names.collect())
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let mut st = self.state();
        st.faults.check_remove(path)?;
        st.unlink_live(path).map(|_| ()).ok_or_else(|| not_found("remove_file", path))
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        let mut st = self.state();
        if !st.dirs.contains(path) {
            return Err(not_found("remove_dir", path));
        }
        if st.live.keys().chain(st.dirs.iter()).any(|p| parent_dir(p) == path) {
            let msg = format!("remove_dir {}: not empty", path.display());
            return Err(io::Error::new(io::ErrorKind::DirectoryNotEmpty, msg).into());
        }
        st.dirs.remove(path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut st = self.state();
        let ino = *st.live.get(from).ok_or_else(|| not_found("rename", from))?;
        if from == to {
            return Ok(());
        }
        if !st.dir_exists(&parent_dir(to)) {
            return Err(not_found("rename", to));
        }
        st.link_live(to.to_path_buf(), ino);
        st.unlink_live(from);
        Ok(())
    }

    /// Links like a POSIX file system: `to` names the same inode, live at once and
    /// durable after `sync_dir` of its directory; a failure is injected as a write's.
    fn hard_link(&self, from: &Path, to: &Path) -> Result<bool> {
        let mut st = self.state();
        st.faults.check_write(to)?;
        let ino = *st.live.get(from).ok_or_else(|| not_found("hard_link", from))?;
        if st.live.contains_key(to) || st.dir_exists(to) {
            let msg = format!("hard_link {}: exists", to.display());
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, msg).into());
        }
        if !st.dir_exists(&parent_dir(to)) {
            return Err(not_found("hard_link", to));
        }
        st.link_live(to.to_path_buf(), ino);
        Ok(true)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut st = self.state();
        st.faults.check_sync(dir)?;
        if !st.dir_exists(dir) {
            return Err(not_found("sync_dir", dir));
        }
        let in_dir = |p: &&PathBuf| parent_dir(p) == dir;
        let gone: Vec<PathBuf> = st.durable.keys().filter(in_dir).cloned().collect();
        let now: Vec<(PathBuf, Ino)> =
            st.live.iter().filter(|(p, _)| in_dir(p)).map(|(p, &i)| (p.clone(), i)).collect();
        for path in gone {
            st.unlink_durable(&path);
        }
        for (path, ino) in now {
            st.link_durable(path, ino);
        }
        st.faults.dir_syncs += 1;
        Ok(())
    }

    fn sync_file(&self, path: &Path) -> Result<()> {
        let mut st = self.state();
        let ino = *st.live.get(path).ok_or_else(|| not_found("sync_file", path))?;
        st.sync_inode(ino, path)
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        let mut st = self.state();
        if st.locks.contains(path) {
            return Err(Error::Locked(path.to_path_buf()));
        }
        if !st.live.contains_key(path) {
            if !st.dir_exists(&parent_dir(path)) {
                return Err(not_found("lock", path));
            }
            let ino = st.alloc(Vec::new(), 0);
            st.link_live(path.to_path_buf(), ino);
        }
        st.locks.insert(path.to_path_buf());
        Ok(Box::new(MemFileLock { fs: self.clone(), path: path.to_path_buf() }))
    }
}

/// An append handle on an inode; like a real descriptor it keeps writing to that inode
/// even after its path is renamed or removed.
#[derive(Debug)]
struct MemWritableFile {
    fs: MemFs,
    ino: Ino,
    path: PathBuf,
    /// The append position: the inode's end unless `preallocate` put zeros past it.
    pos: usize,
}

impl WritableFile for MemWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let mut st = self.fs.state();
        st.faults.check_write(&self.path)?;
        let used = st.used_bytes();
        let i = st.inode(self.ino);
        // After a failed sync dropped unsynced bytes, appends go to the inode's end.
        let pos = self.pos.min(i.data.len());
        let over = data.len().min(i.data.len() - pos);
        st.faults.check_space(used, (data.len() - over) as u64)?;
        let i = st.inode(self.ino);
        debug_assert!(i.data[pos..pos + over].iter().all(|&b| b == 0), "overwrote data");
        i.data[pos..pos + over].copy_from_slice(&data[..over]);
        i.data.extend_from_slice(&data[over..]);
        if over > 0 && pos < i.synced_len {
            i.rewritten_from = Some(i.rewritten_from.map_or(pos, |f| f.min(pos)));
        }
        self.pos = pos + data.len();
        st.faults.appends += 1;
        st.faults.bytes_appended += data.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.fs.state().sync_inode(self.ino, &self.path)
    }

    fn len(&self) -> u64 {
        // Bounded by the inode's length, like `fstat`: after a failed sync dropped the
        // unsynced bytes, this is shorter than everything ever appended.
        let mut st = self.fs.state();
        self.pos.min(st.inode(self.ino).data.len()) as u64
    }

    fn preallocate(&mut self, size: u64) -> Result<()> {
        let size = usize::try_from(size).map_err(|_| Error::InvalidArgument("too big".into()))?;
        let mut st = self.fs.state();
        st.faults.check_write(&self.path)?;
        let (used, len) = (st.used_bytes(), st.inode(self.ino).data.len());
        st.faults.check_space(used, size.saturating_sub(len) as u64)?;
        self.pos = self.pos.min(len);
        st.inode(self.ino).data.resize(size.max(len), 0);
        Ok(())
    }
}

impl Drop for MemWritableFile {
    fn drop(&mut self) {
        let mut st = self.fs.state();
        st.inode(self.ino).handles -= 1;
        st.collect(self.ino);
    }
}

/// A read handle on an inode; it always reads the inode's current bytes.
#[derive(Debug)]
struct MemRandomAccessFile {
    fs: MemFs,
    ino: Ino,
    path: PathBuf,
}

impl RandomAccessFile for MemRandomAccessFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let mut st = self.fs.state();
        st.faults.check_read(&self.path)?;
        let State { inodes, faults, .. } = &mut *st;
        let data = &inodes[&self.ino].data;
        let start = usize::try_from(offset).map_or(data.len(), |o| o.min(data.len()));
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        faults.corrupt_read(&mut buf[..n]);
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.fs.state().inode(self.ino).data.len() as u64)
    }
}

impl Drop for MemRandomAccessFile {
    fn drop(&mut self) {
        let mut st = self.fs.state();
        st.inode(self.ino).handles -= 1;
        st.collect(self.ino);
    }
}

/// An exclusive lock on a path of one [`MemFs`], released on drop.
#[derive(Debug)]
struct MemFileLock {
    fs: MemFs,
    path: PathBuf,
}

impl FileLock for MemFileLock {}

impl Drop for MemFileLock {
    fn drop(&mut self) {
        self.fs.state().locks.remove(&self.path);
    }
}

#[cfg(test)]
#[path = "mem_tests.rs"]
mod tests;
