//! [`OsFs`]: the [`FileSystem`] backed by the real operating system, the only code in
//! the project that touches `std::fs`.
//!
//! Appends go straight to the kernel with `pwrite` (no user-space buffer), so after
//! [`WritableFile::append`] returns the bytes survive a process crash; they survive a
//! power loss only after [`WritableFile::sync`] (`fdatasync`). Directory entries are made
//! durable by opening the directory and calling `fsync` on it. Locks are `flock`s, which
//! conflict between two opens of the same file even within one process.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FileLock, FileSystem, RandomAccessFile, WritableFile};
use crate::{Error, Result};

/// The operating system's file system.
#[derive(Debug, Default, Clone)]
pub struct OsFs;

/// Wraps an I/O error with the operation and path, keeping its [`io::ErrorKind`] so that
/// callers can still match on `NotFound`, `StorageFull` and the like.
fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |e| Error::from(io::Error::new(e.kind(), format!("{op} {}: {e}", path.display())))
}

impl FileSystem for OsFs {
    fn create_dir_all(&self, path: &Path) -> Result<()> {
        std::fs::create_dir_all(path).map_err(io_err("create_dir_all", path))
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let file = File::create(path).map_err(io_err("create", path))?;
        Ok(Box::new(OsWritableFile { file, path: path.to_path_buf(), len: 0, size: 0 }))
    }

    fn open(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        let file = File::open(path).map_err(io_err("open", path))?;
        Ok(Arc::new(OsRandomAccessFile { file, path: path.to_path_buf() }))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_err("read_dir", path))? {
            let entry = entry.map_err(io_err("read_dir", path))?;
            // The engine names every file it owns in ASCII, so a non-UTF-8 name cannot be
            // one of ours and is skipped rather than failing the whole listing.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(io_err("remove_file", path))
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        std::fs::remove_dir(path).map_err(io_err("remove_dir", path))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to).map_err(io_err("rename", from))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let file = File::open(dir).map_err(io_err("open directory", dir))?;
        file.sync_all().map_err(io_err("sync directory", dir))
    }

    fn sync_file(&self, path: &Path) -> Result<()> {
        // `fsync` needs no write access, and a read-only open cannot create or truncate.
        let file = File::open(path).map_err(io_err("open", path))?;
        file.sync_data().map_err(io_err("sync", path))
    }

    fn hard_link(&self, from: &Path, to: &Path) -> Result<bool> {
        match std::fs::hard_link(from, to) {
            Ok(()) => Ok(true),
            // Another device, or a file system without links: the caller copies.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::CrossesDevices
                        | io::ErrorKind::Unsupported
                        | io::ErrorKind::PermissionDenied
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(io_err("hard link", from)(e)),
        }
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        // Truncating would wipe whatever the current holder wrote into the lock file.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open lock file", path))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(OsFileLock { _file: file, _path: path.to_path_buf() })),
            Err(TryLockError::WouldBlock) => Err(Error::Locked(path.to_path_buf())),
            Err(TryLockError::Error(e)) => Err(io_err("lock", path)(e)),
        }
    }
}

/// A file open for appending; every append is one unbuffered `pwrite` at the append
/// position, which is the end of the file unless [`WritableFile::preallocate`] put zeros
/// past it.
#[derive(Debug)]
struct OsWritableFile {
    file: File,
    path: PathBuf,
    /// The append position.
    len: u64,
    /// The file's size: `len`, or more after `preallocate`.
    size: u64,
}

impl WritableFile for OsWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        match self.file.write_all_at(data, self.len) {
            Ok(()) => {
                self.len += data.len() as u64;
                self.size = self.size.max(self.len);
                Ok(())
            }
            Err(e) => {
                // A failed `write_all_at` may have written part of `data`; asking the
                // kernel for the size keeps `len` honest about what is really in the
                // file. Over preallocated zeros the size says nothing, and the partial
                // bytes are a torn tail to the WAL reader (the only such file).
                if self.size <= self.len {
                    if let Ok(meta) = self.file.metadata() {
                        self.len = meta.len();
                        self.size = self.len;
                    }
                }
                Err(io_err("append", &self.path)(e))
            }
        }
    }

    fn preallocate(&mut self, size: u64) -> Result<()> {
        // Zeros really written (not `fallocate`, whose unwritten extents would still
        // need a metadata update when the first append lands on them).
        const CHUNK: u64 = 64 * 1024;
        let zeros = vec![0u8; CHUNK as usize];
        while self.size < size {
            let n = (size - self.size).min(CHUNK);
            if let Err(e) = self.file.write_all_at(&zeros[..n as usize], self.size) {
                if let Ok(meta) = self.file.metadata() {
                    self.size = meta.len().max(self.len);
                }
                return Err(io_err("preallocate", &self.path)(e));
            }
            self.size += n;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(io_err("sync", &self.path))
    }

    fn len(&self) -> u64 {
        self.len
    }
}

/// A file open for positional reads with `pread`, which needs no shared cursor and so
/// serves concurrent readers without a lock.
#[derive(Debug)]
struct OsRandomAccessFile {
    file: File,
    path: PathBuf,
}

impl RandomAccessFile for OsRandomAccessFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        // `pread` may return short counts before the end of the file; the trait promises
        // a short read only at the end, so keep reading until the buffer is full or EOF.
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", &self.path)(e)),
            }
        }
        Ok(done)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(io_err("stat", &self.path))?.len())
    }
}

/// Holds the open lock file; dropping it closes the descriptor, which releases the
/// `flock`.
#[derive(Debug)]
struct OsFileLock {
    _file: File,
    /// Kept only so that `Debug` says which lock this is.
    _path: PathBuf,
}

impl FileLock for OsFileLock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_and_len() {
        let dir = tempfile::tempdir().unwrap();
        let fs = OsFs;
        let path = dir.path().join("a.log");
        let mut w = fs.create(&path).unwrap();
        assert!(w.is_empty());
        w.append(b"hello ").unwrap();
        w.append(b"world").unwrap();
        w.sync().unwrap();
        assert_eq!(w.len(), 11);

        let r = fs.open(&path).unwrap();
        assert_eq!(r.len().unwrap(), 11);
        assert_eq!(r.read_all().unwrap(), b"hello world");
        let mut buf = [0u8; 8];
        assert_eq!(r.read_at(6, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"world");
        assert_eq!(r.read_at(100, &mut buf).unwrap(), 0);

        // Appended bytes are visible to a reader before any sync: they are in the OS.
        w.append(b"!").unwrap();
        assert_eq!(r.read_all().unwrap(), b"hello world!");
    }

    #[test]
    fn appends_overwrite_preallocated_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.log");
        let mut w = OsFs.create(&path).unwrap();
        w.append(b"head").unwrap();
        w.preallocate(100_000).unwrap();
        assert_eq!(w.len(), 4);
        w.append(b"tail").unwrap();
        w.sync().unwrap();
        let r = OsFs.open(&path).unwrap();
        assert_eq!(r.len().unwrap(), 100_000);
        let bytes = r.read_all().unwrap();
        assert_eq!(&bytes[..8], b"headtail");
        assert!(bytes[8..].iter().all(|&b| b == 0));
        // A smaller size changes nothing; appends past the zeros extend the file.
        w.preallocate(10).unwrap();
        w.append(&vec![7u8; 100_000]).unwrap();
        assert_eq!(w.len(), 100_008);
        assert_eq!(r.len().unwrap(), 100_008);
    }

    #[test]
    fn create_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let fs = OsFs;
        let path = dir.path().join("f");
        fs.create(&path).unwrap().append(b"old contents").unwrap();
        let w = fs.create(&path).unwrap();
        assert_eq!(w.len(), 0);
        assert_eq!(fs.open(&path).unwrap().len().unwrap(), 0);
    }

    #[test]
    fn dir_operations() {
        let dir = tempfile::tempdir().unwrap();
        let fs = OsFs;
        let db = dir.path().join("x/y");
        fs.create_dir_all(&db).unwrap();
        fs.create_dir_all(&db).unwrap();
        assert!(fs.exists(&db));
        fs.create(&db.join("a")).unwrap();
        fs.create(&db.join("b")).unwrap();
        fs.rename(&db.join("a"), &db.join("c")).unwrap();
        fs.sync_file(&db.join("c")).unwrap();
        fs.remove_file(&db.join("b")).unwrap();
        fs.sync_dir(&db).unwrap();
        assert_eq!(fs.list_dir(&db).unwrap(), vec!["c".to_string()]);
        assert!(!fs.exists(&db.join("a")));

        let err = fs.open(&db.join("missing")).unwrap_err();
        assert!(matches!(err, Error::Io(ref e) if e.kind() == io::ErrorKind::NotFound));
        let err = fs.rename(&db.join("missing"), &db.join("z")).unwrap_err();
        assert!(matches!(err, Error::Io(ref e) if e.kind() == io::ErrorKind::NotFound));
    }

    #[test]
    fn lock_conflicts_within_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let fs = OsFs;
        let path = dir.path().join("LOCK");
        let guard = fs.lock(&path).unwrap();
        assert!(fs.exists(&path));
        match fs.lock(&path) {
            Err(Error::Locked(p)) => assert_eq!(p, path),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(guard);
        let _again = fs.lock(&path).unwrap();
    }
}
