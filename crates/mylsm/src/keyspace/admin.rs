//! The [`Db`] calls that look up, create and drop keyspaces.

use super::*;

impl Db {
    /// The keyspace named `name`; [`Error::NotFound`] if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.create_keyspace("users", Default::default())?;
    /// assert_eq!(db.keyspace("users")?.name(), "users");
    /// assert!(db.keyspace("orders").unwrap_err().is_not_found());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `NotFound` if no keyspace has that name; `Closed`.
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        self.check_open()?;
        match self.shared().tree_named(name) {
            Some(tree) => Ok(Keyspace { db: self.clone(), tree }),
            None => Err(Error::NotFound(format!("keyspace {name:?}"))),
        }
    }

    /// The default keyspace, which `Db::put`, `Db::get` and the rest use.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.default_keyspace().put("k", "v")?;
    /// assert_eq!(db.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    pub fn default_keyspace(&self) -> Keyspace {
        Keyspace { db: self.clone(), tree: Arc::clone(self.default_tree()) }
    }

    /// The names of the live keyspaces, `"default"` first.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.create_keyspace("users", Default::default())?;
    /// assert_eq!(db.keyspaces(), ["default", "users"]);
    /// # Ok(()) }
    /// ```
    pub fn keyspaces(&self) -> Vec<String> {
        self.shared().trees().iter().map(|t| t.name().to_string()).collect()
    }

    /// The keyspace named `name`, created with `options()` if there is none. An
    /// existing keyspace keeps the options it was created with.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let a = db.keyspace_or_create("users", Default::default)?;
    /// let b = db.keyspace_or_create("users", Default::default)?;
    /// a.put("k", "v")?;
    /// assert_eq!(b.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a name over the limit or options a reopen would refuse (an
    /// unknown merge operator); `Closed`; I/O errors writing the manifest.
    pub fn keyspace_or_create(
        &self,
        name: &str,
        options: impl FnOnce() -> KeyspaceOptions,
    ) -> Result<Keyspace> {
        match self.keyspace(name) {
            Err(Error::NotFound(_)) => match self.create_keyspace(name, options()) {
                // Another thread created it meanwhile.
                Err(Error::InvalidArgument(_)) if self.keyspace(name).is_ok() => {
                    self.keyspace(name)
                }
                r => r,
            },
            r => r,
        }
    }

    /// Creates the keyspace `name` with `options`, recorded durably in the manifest
    /// before it returns. Fails with [`Error::InvalidArgument`] if a keyspace of that
    /// name exists, if the name is empty or longer than [`MAX_KEYSPACE_NAME_LEN`], or if
    /// the options cannot work (as [`crate::Options`] would be refused).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let users = db.create_keyspace("users", mylsm::KeyspaceOptions::default())?;
    /// users.put("k", "v")?;
    /// assert!(db.create_keyspace("users", Default::default()).unwrap_err().is_invalid_argument());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if a keyspace of that name exists or the name is empty or too
    /// long; `Closed`; I/O errors writing the manifest.
    pub fn create_keyspace(&self, name: &str, options: KeyspaceOptions) -> Result<Keyspace> {
        if name.is_empty() || name.len() > MAX_KEYSPACE_NAME_LEN {
            return Err(Error::InvalidArgument(format!(
                "a keyspace name is 1 to {MAX_KEYSPACE_NAME_LEN} bytes, not {}",
                name.len()
            )));
        }
        let full = options.apply_to(self.options());
        full.validate()?;
        let shared = self.shared();
        let w = self.writer()?;
        let tree = w.with_log(|log| -> Result<Arc<Tree>> {
            // Under the log lock no group is half written, so the keyspace's first
            // record lands in the live WAL or a later one.
            if shared.tree_named(name).is_some() {
                return Err(Error::InvalidArgument(format!("keyspace {name:?} exists")));
            }
            let wal_number = w.wal().number;
            let mut versions = shared.versions();
            let id = versions.next_keyspace_id();
            let def = KeyspaceDef {
                id,
                name: name.to_string(),
                log_number: wal_number,
                options: options.encode(),
            };
            let edit = VersionEdit {
                keyspaces_added: vec![def],
                max_keyspace_id: Some(id),
                ..VersionEdit::default()
            };
            versions.log_and_apply(edit, shared.next_file_number(), shared.latch())?;
            drop(versions);
            let tree = Arc::new(Tree::new(
                id,
                name.to_string(),
                options.tree_options(self.options()),
                Arc::new(Version::default()),
                Arc::new(MemTable::new()),
                Arc::clone(shared.tables()),
            ));
            shared.insert_tree(Arc::clone(&tree));
            log.add_tree(Arc::clone(&tree));
            Ok(tree)
        })?;
        Ok(Keyspace { db: self.clone(), tree })
    }

    /// Drops `keyspace`: recorded durably in the manifest before it returns, after
    /// which every call on any handle of it fails, a batch naming it is refused, and its
    /// tables are deleted once no snapshot or iterator reads them. Its name may be
    /// reused; the new keyspace starts empty. The default keyspace cannot be dropped
    /// ([`Error::InvalidArgument`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let ks = db.create_keyspace("tmp", Default::default())?;
    /// db.drop_keyspace(&ks)?;
    /// assert_eq!(db.keyspaces(), ["default"]);
    /// assert!(ks.put("k", "v").unwrap_err().is_invalid_argument());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for the default keyspace or one already dropped; `Closed`; I/O
    /// errors writing the manifest.
    pub fn drop_keyspace(&self, keyspace: &Keyspace) -> Result<()> {
        keyspace.check()?;
        let tree = keyspace.tree();
        if tree.id() == 0 || tree.name() == DEFAULT_KEYSPACE {
            return Err(Error::InvalidArgument("the default keyspace cannot be dropped".into()));
        }
        let shared = self.shared();
        let w = self.writer()?;
        w.with_log(|log| -> Result<()> {
            let mut versions = shared.versions();
            let edit = VersionEdit { keyspaces_dropped: vec![tree.id()], ..VersionEdit::default() };
            versions.log_and_apply(edit, shared.next_file_number(), shared.latch())?;
            // Marked under the manifest lock, which a flush or compaction holds to
            // install: each of them sees the drop and discards its output.
            tree.mark_dropped();
            drop(versions);
            log.remove_tree(tree.id());
            shared.remove_tree(tree.id());
            Ok(())
        })?;
        {
            // A flush or compaction under way sees the drop when it installs, discards
            // its output and lets go of its inputs: wait for that, so the tables can go.
            let mut st = tree.state();
            while st.flushing || st.compacting.running > 0 || st.compacting.manual {
                st = tree.wait(st, None);
            }
            let files: Vec<_> = st.version.files().map(|(_, f)| Arc::clone(f)).collect();
            st.obsolete.extend(files);
            st.version = Arc::new(Version::default());
            st.imms.clear();
            // The view held the tables too.
            tree.install_view(&st, Arc::new(MemTable::new()));
        }
        crate::jobs::compact::delete_obsolete_tables(shared, tree);
        // WALs only the dropped keyspace needed.
        let needed = shared.versions().log_number();
        shared.delete_wals_below(needed);
        Ok(())
    }
}
