//! Files only their owner may read: the compile cache, the credentials file, the install
//! record. Written whole or not at all (a temporary file, synced, then renamed), never through a
//! symlink an attacker planted (the temporary file is created fresh).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `path`'s parent directories as 0700 when they do not exist yet.
pub fn create_parent_dir(path: &Path) -> std::io::Result<()> {
    match path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty() && !dir.exists())
    {
        Some(dir) => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
        None => Ok(()),
    }
}

/// Replaces `path` with `bytes`, mode 0600, atomically.
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_parent_dir(path)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    // A leftover from a crashed run of the same pid would make `create_new` fail.
    let _ = fs::remove_file(&tmp);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_replace_the_file_whole_and_private() {
        let dir = std::env::temp_dir().join(format!("dema-private-{}", std::process::id()));
        let path = dir.join("nested").join("file.json");
        assert!(write_private_atomically(&path, b"one").is_ok());
        assert!(write_private_atomically(&path, b"two").is_ok());
        assert_eq!(fs::read(&path).ok().as_deref(), Some(&b"two"[..]));
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode(&path), Some(0o600));
        assert_eq!(mode(&dir.join("nested")), Some(0o700));
        let leftovers = fs::read_dir(dir.join("nested"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(leftovers, 1, "no temporary file left behind");
        let _ = fs::remove_dir_all(dir);
    }
}
