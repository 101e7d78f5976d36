//! SQLite's WAL-index header, read from the `-shm` file that every connection to a database in
//! WAL mode shares (<https://sqlite.org/walformat.html>; the format is fixed, since processes
//! running different SQLite versions share the file). A writer rewrites it in every commit
//! (its change counter, last frame and checksums) before the commit returns, and it is kept
//! twice: the second copy is written first, the first last. So while both copies read the same
//! as just before the last `PRAGMA data_version`, nothing was committed since, and the pragma
//! (a read transaction: two file-lock system calls) can be skipped. Anything else (no such
//! file, the copies differing mid-commit, a read error) means "ask the pragma".
//!
//! The token index reads it before every answer from memory, so it is read the way SQLite
//! reads it: from a shared mapping of the file, without a system call (a `pread` per request was
//! a measurable share of a token check when it was measured). This module holds
//! the project's only `unsafe` code: the reads of that mapping.
//!
//! Why the mapping stays valid: reading a mapped page past the end of its file raises
//! `SIGBUS`, so the file must never shrink under it. SQLite truncates a `-shm` file only when a
//! connection opens it while no process holds its "DMS" lock (a shared `fcntl` lock every
//! process with the database open holds), and this server's index keeps a connection open for
//! as long as the mapping exists; the header is checked to be in the file before mapping it.
//! Someone who can write the `-shm` file (the server's own user) can still truncate it, and
//! then the next read of the mapping kills the server with `SIGBUS`, as it faults SQLite's own
//! mapping of it; the file is created owner-only (see `files.rs`), so no one else can. Checking
//! the file's length before each read would cost the very system call the mapping saves.
//!
//! Why the file is never closed: closing *any* descriptor of a file drops every `fcntl` lock
//! the process holds on it (POSIX), SQLite's own included, which would let another process
//! checkpoint over a page a reader of ours is still reading, or rebuild the WAL index under
//! a connection. So no owned `File` of a `-shm` file exists here that could ever be dropped:
//! each is opened at most once per process, kept in [`SHM_FILES`] for the life of the process,
//! and handed out as `&'static File`. The number kept is bounded by the `-shm` files (inodes)
//! the process ever opens: one for a server.

#[cfg(unix)]
use std::fs::File;
use std::path::Path;
#[cfg(unix)]
use std::sync::{Mutex, PoisonError};

/// One copy of the header (`WalIndexHdr`: 48 bytes, the two copies back to back).
pub type WalHeaderBytes = [u8; WAL_HEADER_LEN];
const WAL_HEADER_LEN: usize = 48;
const WORDS: usize = WAL_HEADER_LEN / 8;

/// Every `-shm` file this process opened, by (device, inode), each open until the process
/// ends (see the module's notes). Never removed from, and holding no owned `File`, so that no
/// code path can close one.
#[cfg(unix)]
static SHM_FILES: Mutex<Vec<((u64, u64), &'static File)>> = Mutex::new(Vec::new());

/// The process's one descriptor of the `-shm` file at `path`, opened on first use; `None` if
/// there is no such file. Looked up by `stat` (which opens nothing) before opening, so that a
/// file already open is never opened, and so never closed, a second time.
#[cfg(unix)]
fn shm_file(path: &Path) -> Option<&'static File> {
    use std::os::unix::fs::MetadataExt;
    let key = |metadata: &std::fs::Metadata| (metadata.dev(), metadata.ino());
    let mut files = SHM_FILES.lock().unwrap_or_else(PoisonError::into_inner);
    let named = key(&std::fs::metadata(path).ok()?);
    if let Some((_, file)) = files.iter().find(|(found, _)| *found == named) {
        return Some(file);
    }
    // Leaked on purpose: this descriptor must outlive every SQLite connection to the file.
    let file: &'static File = Box::leak(Box::new(File::open(path).ok()?));
    // Keyed by what was opened: the name may have moved to another file since the `stat`.
    // Should that file be in the list already, this second descriptor is kept all the same.
    let opened = file.metadata().map_or(named, |metadata| key(&metadata));
    files.push((opened, file));
    Some(file)
}

/// The `-shm` file of a database, open for reading its header.
pub struct WalHeader {
    /// Open for the life of the process (see the module's notes), mapped or not.
    #[cfg(unix)]
    shm: &'static File,
    /// The first page of the file, mapped shared and read-only; `None` where mapping failed,
    /// and the header is read with `pread` instead.
    #[cfg(unix)]
    map: Option<memmap2::MmapRaw>,
}

impl WalHeader {
    /// Opens the `-shm` file of the database at `database`; `None` if there is none (not in
    /// WAL mode, or no connection has read the database yet).
    #[cfg(unix)]
    pub fn open(database: &Path) -> Option<Self> {
        let mut name = database.as_os_str().to_owned();
        name.push("-shm");
        let shm = shm_file(Path::new(&name))?;
        let map = shm
            .metadata()
            .is_ok_and(|metadata| metadata.len() >= (2 * WAL_HEADER_LEN) as u64)
            .then(|| {
                memmap2::MmapOptions::new()
                    .len(2 * WAL_HEADER_LEN)
                    .map_raw_read_only(shm)
                    .ok()
            })
            .flatten()
            // A mapping starts on a page boundary; checked all the same, as reads rely on it.
            .filter(|map| words_of(map).is_aligned());
        Some(Self { shm, map })
    }

    /// Elsewhere the header is not read: every check asks `PRAGMA data_version`.
    #[cfg(not(unix))]
    pub fn open(_database: &Path) -> Option<Self> {
        None
    }

    /// The header as committed, or `None` if it cannot be trusted right now.
    #[cfg(unix)]
    pub fn read(&self) -> Option<WalHeaderBytes> {
        let (first, second) = match &self.map {
            Some(map) => mapped_copies(map),
            None => self.read_copies()?,
        };
        // Byte 12 is `isInit`: a header not yet built by any connection says nothing.
        (first == second && first[12] != 0).then_some(first)
    }

    #[cfg(not(unix))]
    pub fn read(&self) -> Option<WalHeaderBytes> {
        None
    }

    /// Both copies, read with a system call.
    #[cfg(unix)]
    fn read_copies(&self) -> Option<(WalHeaderBytes, WalHeaderBytes)> {
        use std::os::unix::fs::FileExt;
        let mut both = [0u8; 2 * WAL_HEADER_LEN];
        self.shm.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(WAL_HEADER_LEN);
        Some((first.try_into().ok()?, second.try_into().ok()?))
    }

    /// Whether the header is read from a mapping (for tests).
    #[cfg(all(test, unix))]
    fn is_mapped(&self) -> bool {
        self.map.is_some()
    }
}

/// Both copies, read from the mapping: the first, then the second, as SQLite's readers do
/// (`walIndexTryHdr`), the reverse of the order its writers write them in.
#[cfg(unix)]
fn mapped_copies(map: &memmap2::MmapRaw) -> (WalHeaderBytes, WalHeaderBytes) {
    let words = words_of(map);
    let first = mapped_copy(words);
    // Keeps the second copy's reads after the first's (x86 never reorders loads; other CPUs
    // may), like SQLite's `walShmBarrier` between them.
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    let second = mapped_copy(words.wrapping_add(WORDS));
    (first, second)
}

/// The mapping as 64-bit words.
#[cfg(unix)]
#[expect(
    clippy::cast_ptr_alignment,
    reason = "a mapping is page-aligned, and `WalHeader::open` checks it"
)]
fn words_of(map: &memmap2::MmapRaw) -> *const u64 {
    map.as_ptr().cast::<u64>()
}

/// One copy, read a word at a time with volatile reads: the memory belongs to no Rust
/// allocation and other processes write it, so no reference to it is ever made and every read
/// really happens.
#[cfg(unix)]
#[allow(unsafe_code)]
fn mapped_copy(words: *const u64) -> WalHeaderBytes {
    let mut copy = [0u8; WAL_HEADER_LEN];
    for (index, bytes) in copy.chunks_exact_mut(8).enumerate() {
        // SAFETY: `words` points into a live mapping of at least two copies (`WalHeader`
        // maps `2 * WAL_HEADER_LEN` bytes and drops the mapping only with itself, and its
        // callers pass the start of either copy), so each of the `WORDS` words read is inside
        // it; the mapping is 8-byte aligned (checked when mapped) and the copies start at
        // multiples of 8 bytes, so each word is aligned; and the file is never shorter than the mapping while it
        // exists (module notes). Concurrent writes by SQLite can tear a copy; the two copies
        // are compared for exactly that reason.
        let word = unsafe { std::ptr::read_volatile(words.add(index)) };
        bytes.copy_from_slice(&word.to_ne_bytes());
    }
    copy
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn execute(connection: &Connection, sql: &str) {
        connection.execute_batch(sql).expect(sql);
    }

    /// The shortcut is only sound if every commit, from any connection, changes the header
    /// and reading it is stable while nothing is committed; the mapping and `pread` agree.
    #[test]
    #[cfg(unix)]
    fn the_wal_index_header_changes_with_every_commit_and_only_then() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("wal.db");
        let writer = Connection::open(&path).expect("create");
        execute(
            &writer,
            "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);",
        );
        let reader = Connection::open(&path).expect("open");
        execute(&reader, "SELECT COUNT(*) FROM t");
        let wal = WalHeader::open(&path).expect("the -shm file exists in WAL mode");
        assert!(wal.is_mapped());
        let read = || {
            let header = wal.read();
            let copies = wal.read_copies().expect("pread");
            assert_eq!(header, (copies.0 == copies.1).then_some(copies.0));
            header
        };

        let mut seen = vec![read().expect("a header")];
        for round in 0..5 {
            // Reads, from either connection, change nothing.
            execute(&reader, "SELECT COUNT(*) FROM t");
            execute(&writer, "SELECT COUNT(*) FROM t");
            assert_eq!(read(), seen.last().copied(), "round {round}: no commit");
            // A commit (from the other connection) always does, to a header never seen before.
            execute(&writer, "INSERT INTO t VALUES (1)");
            let header = read().expect("a header");
            assert!(!seen.contains(&header), "round {round}: commit not visible");
            seen.push(header);
        }
        // So does a commit after a checkpoint restarted the log.
        execute(
            &writer,
            "PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO t VALUES (2);",
        );
        let header = read().expect("a header");
        assert!(
            !seen.contains(&header),
            "commit after a checkpoint not visible"
        );
    }

    /// Whether any process, this one included, holds an `fcntl` lock on part of `file` that
    /// conflicts with a write lock. Asked as an open-file-description lock (Linux), which
    /// conflicts with this process's own POSIX locks where a plain `F_GETLK` would not.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    #[expect(
        clippy::cast_possible_truncation,
        reason = "libc's lock constants are small, declared as int for the C API's short fields"
    )]
    fn locked(file: &File) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: `flock` is plain data, for which all zeroes is a valid value.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: the descriptor is open, and `lock` is a valid `flock` for the call to fill.
        let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &raw mut lock) };
        assert_eq!(
            result,
            0,
            "F_OFD_GETLK: {}",
            std::io::Error::last_os_error()
        );
        lock.l_type != libc::F_UNLCK as libc::c_short
    }

    fn open_descriptors() -> usize {
        std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .count()
    }

    /// Issue 18, item 9, as the hazard: with a read transaction open (SQLite then holds locks
    /// on the `-shm` file), opening and dropping the header a hundred times must leave those
    /// locks in place (a closed descriptor of the file would drop them all) and must not
    /// open a descriptor each time.
    #[test]
    #[cfg(target_os = "linux")]
    fn dropping_a_header_never_releases_sqlites_locks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("wal.db");
        let writer = Connection::open(&path).expect("create");
        execute(
            &writer,
            "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
        );
        let reader = Connection::open(&path).expect("open");
        execute(&reader, "BEGIN; SELECT COUNT(*) FROM t;");
        // The test's own descriptor, only dropped once everything has been checked: closing
        // it releases the locks too.
        let probe = File::open(dir.path().join("wal.db-shm")).expect("the -shm file");
        assert!(locked(&probe), "SQLite holds locks on the -shm file");

        let first = WalHeader::open(&path).expect("the -shm file");
        assert!(first.read().is_some());
        let descriptors = open_descriptors();
        drop(first);
        for _ in 0..100 {
            let header = WalHeader::open(&path).expect("the -shm file");
            assert!(header.read().is_some());
        }
        assert!(locked(&probe), "SQLite's locks outlive every header");
        assert_eq!(open_descriptors(), descriptors, "one descriptor per file");
        // SQLite still works with its locks: the reader's snapshot holds, a commit lands.
        execute(&writer, "INSERT INTO t VALUES (2)");
        let count: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .expect("count");
        assert_eq!(count, 1, "the read transaction still sees its snapshot");
        execute(&reader, "COMMIT");
        drop(probe);
    }

    #[test]
    fn no_shm_file_means_no_shortcut() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(WalHeader::open(&dir.path().join("missing.db")).is_none());
    }
}
