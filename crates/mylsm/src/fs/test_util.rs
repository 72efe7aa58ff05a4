//! Helpers shared by the tests of the in-memory file system.

use std::path::{Path, PathBuf};

use super::{parent_dir, FileSystem, MemFs, WritableFile};

/// A fresh `MemFs` with the directory `/db` created, and that directory.
pub(super) fn db() -> (MemFs, PathBuf) {
    let fs = MemFs::new();
    let dir = PathBuf::from("/db");
    fs.create_dir_all(&dir).unwrap();
    (fs, dir)
}

/// Writes `synced` then `unsynced` to a new file and makes its entry durable.
pub(super) fn write(
    fs: &MemFs,
    path: &Path,
    synced: &[u8],
    unsynced: &[u8],
) -> Box<dyn WritableFile> {
    let mut w = fs.create(path).unwrap();
    w.append(synced).unwrap();
    w.sync().unwrap();
    fs.sync_dir(&parent_dir(path)).unwrap();
    w.append(unsynced).unwrap();
    w
}
