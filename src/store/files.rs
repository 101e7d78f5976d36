//! The files grantd writes are its owner's alone: the SQLite database with its `-wal`, `-shm`
//! and `-journal` files (password hashes, sealed TOTP secrets, token hashes), the secret key
//! (`seeds.rs`), exports and minted tokens (`cli/mod.rs`). `grantd` also sets a process umask
//! of 077 (`main.rs`), which covers any file created later; this module does not rely on it,
//! since the library also runs in processes of others (the tests).

use std::path::{Path, PathBuf};

/// The companion files SQLite may create beside a database, each with the database file's own
/// mode (its unix VFS copies it), which is why the database is created owner-only first.
const SQLITE_SUFFIXES: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// `path` with `suffix` appended to its file name (`grantd.db` → `grantd.db-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates the database file owner-only if it does not exist yet, before SQLite does (which
/// would create it 0644 under the usual umask), and takes group and world access away from
/// an existing one and its companions, with a warning.
pub fn prepare_sqlite_database(database: &Path) -> std::io::Result<()> {
    match create_private(database) {
        Ok(_) => {}
        // Another process made it first, or the directory does not exist (SQLite then says
        // so in its own error).
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotFound
            ) => {}
        Err(error) => return Err(error),
    }
    for suffix in SQLITE_SUFFIXES {
        make_owner_only(&with_suffix(database, suffix));
    }
    Ok(())
}

/// Creates a new file that only its owner may read and write; fails if it exists.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Takes group and world access away from an existing file (as grantd made it, readable by
/// every local user), warning that it did; only warns if it may not (another owner, a
/// read-only mount). A missing file is left missing.
pub fn make_owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        let mode = metadata.permissions().mode() & 0o777;
        // Group and world bits: the octal mask says what it means better than bit counting.
        #[expect(
            clippy::verbose_bit_mask,
            reason = "the permission bits of group and world"
        )]
        if mode & 0o077 == 0 {
            return;
        }
        let file = path.display();
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700)) {
            Ok(()) => tracing::warn!(
                "{file} was readable by other local users (mode {mode:o}); it is now its owner's only"
            ),
            Err(error) => tracing::warn!(
                %error,
                "{file} is readable by other local users (mode {mode:o}) and cannot be changed: make it its owner's only"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn a_new_database_is_created_owner_only_and_an_old_one_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        prepare_sqlite_database(&new).unwrap();
        assert_eq!(mode(&new), 0o600);

        let old = dir.path().join("old.db");
        for suffix in ["", "-wal", "-shm"] {
            let file = with_suffix(&old, suffix);
            std::fs::write(&file, b"").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        prepare_sqlite_database(&old).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            assert_eq!(mode(&with_suffix(&old, suffix)), 0o600, "{suffix}");
        }
        assert!(!with_suffix(&old, "-journal").exists());
    }
}
