//! Files that hold keys or card data (the vault key, the SQLite database and its `-wal` and
//! `-shm` files): created owner-only, in a 0700 directory with 0600 files. The modes are set
//! explicitly after creation instead of being left to the process umask, which a service
//! manager or a shell may have set to anything.

use std::io;
use std::path::Path;

/// Creates `dir` (and any missing parents, with default modes) as a 0700 directory. An
/// existing directory is left as it is: see [`shared_mode`] to warn about it.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => set_mode(dir, 0o700),
        // Created by a concurrent start (another process on the same directory).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `path` empty with mode 0600 unless it exists; says whether it created it.
pub fn create_private_file(path: &Path) -> io::Result<bool> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => set_mode(path, 0o600).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The file's permission bits when group or others have any access to it, else `None`.
pub fn shared_mode(path: &Path) -> io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn private_dir_and_file_are_owner_only_and_existing_ones_are_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/data");
        create_private_dir(&dir).unwrap();
        assert_eq!(shared_mode(&dir).unwrap(), None);
        let file = dir.join("key");
        assert!(create_private_file(&file).unwrap());
        assert_eq!(shared_mode(&file).unwrap(), None);
        assert!(!create_private_file(&file).unwrap());
        set_mode(&file, 0o640).unwrap();
        assert_eq!(shared_mode(&file).unwrap(), Some(0o640));
    }
}
