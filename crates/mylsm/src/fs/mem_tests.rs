//! `MemFs` unit tests: handles and inodes, namespace queries and their errors,
//! `sync_file`, locks, and removing directories. What crashes keep is tested by the
//! crash model's own tests in `fs/crash.rs` and by `tests/crash.rs`.

use super::*;
use crate::fs::test_util::*;
use crate::fs::CrashMode;

fn is_not_found(r: Result<impl fmt::Debug>) -> bool {
    matches!(r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound)
}

#[test]
fn handles_follow_the_inode() {
    let (fs, dir) = db();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let mut w = fs.create(&a).unwrap();
    let r = fs.open(&a).unwrap();
    w.append(b"one").unwrap();
    fs.rename(&a, &b).unwrap();
    w.append(b"two").unwrap();
    assert_eq!(fs.file_contents(&b).unwrap(), b"onetwo");
    fs.remove_file(&b).unwrap();
    w.append(b"three").unwrap();
    assert_eq!(w.len(), 11);
    assert_eq!(r.read_all().unwrap(), b"onetwothree");
    assert!(fs.paths().is_empty());
    drop((w, r));
    assert!(fs.state().inodes.is_empty(), "unreferenced inodes are freed");
}

#[test]
fn create_truncates_and_clones_share_state() {
    let (fs, dir) = db();
    let path = dir.join("f");
    let clone = fs.clone();
    drop(write(&fs, &path, b"old", b""));
    assert_eq!(clone.file_contents(&path).unwrap(), b"old");
    let w = clone.create(&path).unwrap();
    assert!(w.is_empty());
    assert_eq!(fs.file_contents(&path).unwrap(), b"");
    assert_eq!(fs.synced_len(&path), Some(0));
}

#[test]
fn namespace_queries_and_errors() {
    let (fs, dir) = db();
    fs.create_dir_all(&dir.join("sub/deeper")).unwrap();
    fs.create(&dir.join("a")).unwrap();
    let mut names = fs.list_dir(&dir).unwrap();
    names.sort();
    assert_eq!(names, ["a", "sub"]);
    assert!(fs.exists(&dir.join("sub/deeper")));
    assert_eq!(fs.list_dir(Path::new("/")).unwrap(), ["db"]);

    assert!(is_not_found(fs.open(&dir.join("missing"))));
    assert!(is_not_found(fs.rename(&dir.join("missing"), &dir.join("b"))));
    assert!(is_not_found(fs.remove_file(&dir.join("missing"))));
    assert!(is_not_found(fs.create(&dir.join("nodir/f"))));
    assert!(is_not_found(fs.list_dir(&dir.join("nodir"))));

    fs.write_file(&dir.join("new/x"), b"abc");
    assert_eq!(fs.synced_len(&dir.join("new/x")), Some(3));
    assert_eq!(fs.durable_paths(), vec![dir.join("new/x")]);
    let mut buf = [0u8; 8];
    let r = fs.open(&dir.join("new/x")).unwrap();
    assert_eq!(r.read_at(1, &mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"bc");
    assert_eq!(r.read_at(99, &mut buf).unwrap(), 0);
}

#[test]
fn sync_file_makes_a_path_durable() {
    let (fs, dir) = db();
    let path = dir.join("000007.log");
    fs.create(&path).unwrap().append(b"left by a crashed process").unwrap();
    assert_eq!(fs.synced_len(&path), Some(0));
    fs.sync_file(&path).unwrap();
    assert_eq!(fs.synced_len(&path), Some(25));
    assert_eq!(fs.sync_count(), 1);
    assert!(is_not_found(fs.sync_file(&dir.join("missing"))));
}

#[test]
fn lock_is_exclusive_until_the_guard_drops() {
    let (fs, dir) = db();
    let path = dir.join("LOCK");
    let guard = fs.lock(&path).unwrap();
    assert!(fs.exists(&path));
    assert!(matches!(fs.clone().lock(&path), Err(Error::Locked(p)) if p == path));
    // A power loss releases every lock, in the new file system only.
    let after = fs.crash(CrashMode::DropUnsynced, 0);
    after.create_dir_all(&dir).unwrap();
    drop(after.lock(&path).unwrap());
    assert!(matches!(fs.lock(&path), Err(Error::Locked(_))));
    drop(guard);
    let _again = fs.lock(&path).unwrap();
}

#[test]
fn remove_dir_removes_only_an_empty_directory() {
    let (fs, dir) = db();
    let sub = dir.join("sub");
    fs.create_dir_all(&sub).unwrap();
    fs.create(&sub.join("f")).unwrap();
    assert!(fs.remove_dir(&sub).is_err(), "not empty");
    fs.remove_file(&sub.join("f")).unwrap();
    fs.remove_dir(&sub).unwrap();
    assert!(!fs.exists(&sub));
    assert!(is_not_found(fs.remove_dir(&sub)));
}
