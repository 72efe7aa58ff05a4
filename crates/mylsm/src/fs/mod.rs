//! The `FileSystem` trait: the engine's only door to files, so tests can swap in
//! [`MemFs`], which (with the `test-util` feature) simulates crashes and injects faults.
//!
//! Invariant: nothing outside this module touches `std::fs`. The engine opens,
//! appends, syncs, renames and deletes files only through these traits; that is what
//! lets every crash and fault test run the real engine on the in-memory file system.
//!
//! The model follows POSIX as the engine must assume it (LevelDB's `Env`, Pebble's
//! `vfs.FS`): appended bytes are durable only after [`WritableFile::sync`], and a
//! created, renamed or removed directory entry is durable only after
//! [`FileSystem::sync_dir`] on its parent directory.

// Crash images and the public fault knobs are test scaffolding: compiled for the crate's
// own unit tests and, for integration tests and users' tests, under `test-util`.
#[cfg(any(test, feature = "test-util"))]
mod crash;
mod fault;
mod mem;
mod os;
#[cfg(test)]
mod test_util;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Result;

#[cfg(any(test, feature = "test-util"))]
pub use crash::CrashMode;
pub use mem::MemFs;
pub use os::OsFs;

/// A file system: directories, whole-file operations and exclusive locks.
pub trait FileSystem: Send + Sync + Debug + 'static {
    /// Creates `path` and any missing parents. Succeeds if it already exists.
    ///
    /// # Errors
    /// An I/O error if a component exists and is not a directory, or the OS refuses.
    fn create_dir_all(&self, path: &Path) -> Result<()>;
    /// Creates (or truncates) `path` for appending.
    ///
    /// # Errors
    /// An I/O error if the parent directory is missing or the file cannot be created.
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>>;
    /// Opens `path` for positional reads.
    ///
    /// # Errors
    /// An I/O error of kind `NotFound` if `path` does not exist; other I/O errors.
    fn open(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>>;
    /// Whether `path` names an existing file or directory.
    fn exists(&self, path: &Path) -> bool;
    /// The names (not paths) of the entries of directory `path`, in no particular order.
    ///
    /// # Errors
    /// An I/O error if `path` is not a readable directory.
    fn list_dir(&self, path: &Path) -> Result<Vec<String>>;
    /// Removes file `path`.
    ///
    /// # Errors
    /// An I/O error of kind `NotFound` if `path` does not exist; other I/O errors.
    fn remove_file(&self, path: &Path) -> Result<()>;
    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    ///
    /// # Errors
    /// An I/O error if `from` does not exist or the rename fails (nothing changes then).
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Makes the directory entries of `dir` (creations, renames, removals) durable.
    ///
    /// # Errors
    /// An I/O error if the sync fails: the entries may or may not be durable then.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
    /// Makes every byte of existing file `path` durable, as [`WritableFile::sync`] would
    /// through an open handle (recovery uses it on logs a crashed process left unsynced).
    ///
    /// # Errors
    /// An I/O error if `path` cannot be opened or the sync fails.
    fn sync_file(&self, path: &Path) -> Result<()>;
    /// Takes an exclusive lock on `path` (created if missing), held until the returned
    /// guard drops.
    ///
    /// # Errors
    /// [`crate::Error::Locked`] if the lock is already held, by this process or another;
    /// an I/O error if `path` cannot be created or locked.
    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>>;

    /// Removes the empty directory `path` (backups remove the directories of the
    /// backups they delete). The default leaves it in place and succeeds: an empty
    /// directory left behind costs an inode and nothing else.
    ///
    /// # Errors
    /// An I/O error if `path` is missing, not empty, or cannot be removed.
    fn remove_dir(&self, path: &Path) -> Result<()> {
        let _ = path;
        Ok(())
    }

    /// Makes `to` a second name of the file `from` (a hard link), if the file system
    /// can; `Ok(false)` when it cannot (another device, no link support), and the
    /// caller copies instead. The default cannot.
    ///
    /// # Errors
    /// An I/O error for a failure other than the file system's inability to link:
    /// `from` missing, `to` already existing.
    fn hard_link(&self, from: &Path, to: &Path) -> Result<bool> {
        let _ = (from, to);
        Ok(false)
    }
}

/// A file open for appending.
pub trait WritableFile: Send + Debug {
    /// Appends `data` at the end of the file. After `append` returns, the bytes are in
    /// the operating system (they survive a process crash, not a power loss).
    ///
    /// # Errors
    /// An I/O error (a full disk, say) if the bytes could not be appended; how much
    /// of `data` reached the file is then unknown.
    fn append(&mut self, data: &[u8]) -> Result<()>;
    /// Makes every appended byte durable (`fdatasync`).
    ///
    /// # Errors
    /// An I/O error if the sync fails. The unsynced bytes may then be lost, even if a
    /// later sync succeeds (Linux drops them), so the caller must not retry and trust it.
    fn sync(&mut self) -> Result<()>;
    /// The append position: every byte appended so far. Zeros added by
    /// [`WritableFile::preallocate`] past it are not counted.
    fn len(&self) -> u64;
    /// Extends the file with zero bytes up to `size` bytes (nothing if it is already that
    /// long) without moving the append position: later appends overwrite the zeros. The
    /// zeros become durable with the next [`WritableFile::sync`], and once they are, a
    /// sync of appends that land on them need not make a new file size durable too
    /// (`fdatasync` skips the metadata). Only for files whose readers take a zero-filled
    /// tail as their end: the WAL. The default does nothing, which is always correct.
    ///
    /// # Errors
    /// An I/O error (a full disk, say) if the zeros could not be written; the append
    /// position is unchanged then.
    fn preallocate(&mut self, size: u64) -> Result<()> {
        let _ = size;
        Ok(())
    }
    /// True if nothing has been appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A file open for positional reads, shared between threads.
pub trait RandomAccessFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (fewer only
    /// at the end of the file).
    ///
    /// # Errors
    /// An I/O error if the read fails.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize>;
    /// The file's length in bytes.
    ///
    /// # Errors
    /// An I/O error if the length cannot be read.
    fn len(&self) -> Result<u64>;
    /// True if the file has no bytes.
    ///
    /// # Errors
    /// As [`RandomAccessFile::len`].
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Reads the whole file.
    ///
    /// # Errors
    /// `InvalidArgument` if the file is too large for memory; any error of
    /// [`RandomAccessFile::read_at`].
    fn read_all(&self) -> Result<Vec<u8>> {
        let len = usize::try_from(self.len()?).map_err(|_| {
            crate::Error::InvalidArgument("file too large to read into memory".into())
        })?;
        let mut buf = vec![0; len];
        let mut done = 0;
        while done < len {
            let n = self.read_at(done as u64, &mut buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        buf.truncate(done);
        Ok(buf)
    }
}

/// An exclusive lock on a file, released on drop.
pub trait FileLock: Send + Sync + Debug {}

/// The parent directory of `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
