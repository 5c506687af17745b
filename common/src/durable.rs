//! Durable file writes for what the daemons keep across crashes and power cuts: the agent's
//! applied fleet config, model files, breaker and pause records, the config in force; the hub's
//! broker ACL and password files and its signing key. One implementation, so every one of them
//! gets the same guarantees.
//!
//! Must never leave a half-written file under the final name, nor report a write done before
//! the file and its directory entry are on disk.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `path` atomically: a temp file beside it (`.NAME.tmp`), fsync, `before_rename`, rename
/// over `path`, fsync of the directory. On an error `path` is as it was and the temp file is
/// gone. `before_rename` is for a step that must happen in between (keeping the replaced file,
/// a fault-injection stall).
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce() -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_atomic_full(path, bytes, 0o666, before_rename)
}

/// [`write_atomic`] creating the file with permission bits `mode` (before the umask): a secret
/// is never readable under its final name with wider permissions, not even for an instant.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_atomic_full(path, bytes, mode, || Ok(()))
}

fn write_atomic_full(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    before_rename: impl FnOnce() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{}: not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| before_rename())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path)
}

/// [`write_atomic_with`] with nothing between the fsync and the rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, bytes, || Ok(()))
}

/// Removes `path` (absent already is fine) and makes the removal durable.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A rename, creation or removal is durable only once the directory holding it is.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => std::fs::File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        // A failing step before the rename leaves the old content.
        let err = write_atomic_with(&path, b"three", || Err(std::io::Error::other("stop"))).unwrap_err();
        assert_eq!(err.to_string(), "stop");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        remove(&path).expect("remove");
        remove(&path).expect("removing twice is fine");
        assert!(!path.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_mode_is_set_on_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        write_atomic_mode(&path, b"k", 0o600).expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
