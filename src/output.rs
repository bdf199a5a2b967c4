//! Writing files: every file stapler writes (bundles, hashed asset copies, the manifest, objects
//! of a `file://` target) goes through [`write_atomic`] or [`copy_atomic`]: a temporary file with an unpredictable name,
//! created exclusively in the destination's folder, then renamed over the destination, so a
//! reader never sees half a file and a planted link is never written through. The file gets
//! the mode any new file gets (`0666` less the umask), as django-compressor's do.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file that could not be written: which, doing what, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {action} failed: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub action: &'static str,
    pub source: std::io::Error,
}

type Result<T> = std::result::Result<T, WriteError>;

fn failed(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError {
        path,
        action,
        source,
    }
}

pub(crate) const TEMPORARY_PREFIX: &str = ".stapler-";
pub(crate) const TEMPORARY_SUFFIX: &str = ".tmp";

/// Whether a file name is one of the temporary files writes go through (left behind only when
/// a run is killed): today's `.stapler-XXXXXX.tmp`, and what earlier versions used,
/// `<name>.stapler-tmp` and tempfile's default `.tmpXXXXXX`.
pub fn is_temporary(name: &str) -> bool {
    let earlier_default = name.len() == 10
        && name.starts_with(".tmp")
        && name[4..].chars().all(|c| c.is_ascii_alphanumeric());
    (name.starts_with(TEMPORARY_PREFIX) && name.ends_with(TEMPORARY_SUFFIX))
        || name.ends_with(".stapler-tmp")
        || earlier_default
}

/// Whether the data must be on disk before the rename makes it visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced first: for the manifest, which must never point at a file a crash lost.
    Synced,
    /// Left to the kernel: bundles and assets are rebuilt if a crash loses them.
    Buffered,
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    let mut file = temporary_beside(path)?;
    file.write_all(bytes).map_err(failed(path, "writing"))?;
    finish(file, path, durability)
}

/// Writes `bytes` to `path` atomically unless something is already there: `Ok(false)`, and
/// nothing changed, when it is.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    let mut file = temporary_beside(path)?;
    file.write_all(bytes).map_err(failed(path, "writing"))?;
    let temporary = file.path().to_path_buf();
    let persisted = file.persist_noclobber(path);
    forget_temporary(&temporary);
    match persisted {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(failed(path, "creating")(error.error)),
    }
}

/// Copies the file at `from` to `path` atomically.
pub fn copy_atomic(from: &Path, path: &Path) -> Result<()> {
    let mut source = std::fs::File::open(from).map_err(failed(from, "reading"))?;
    let mut file = temporary_beside(path)?;
    std::io::copy(&mut source, &mut file).map_err(failed(path, "copying"))?;
    finish(file, path, Durability::Buffered)
}

fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(failed(parent, "creating the folder"))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMPORARY_PREFIX).suffix(TEMPORARY_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Passed to open(2), so the umask applies as it does to any new file.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // Created and recorded under one lock, so a stop by signal removes every one of them.
    let mut live = LIVE_TEMPORARIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let file = builder
        .tempfile_in(parent)
        .map_err(failed(parent, "creating a temporary file"))?;
    live.insert(file.path().to_path_buf());
    Ok(file)
}

/// The temporary files that exist now, to be removed if the run is stopped by a signal.
static LIVE_TEMPORARIES: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn forget_temporary(path: &Path) {
    if let Ok(mut live) = LIVE_TEMPORARIES.lock() {
        live.remove(path);
    }
}

/// Removes every temporary file this process has open, and keeps the lock so that no other is
/// made: for a run about to exit on a signal.
pub fn remove_temporaries() {
    let live = LIVE_TEMPORARIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for path in live.iter() {
        let _ = std::fs::remove_file(path);
    }
    std::mem::forget(live);
}

fn finish(file: tempfile::NamedTempFile, path: &Path, durability: Durability) -> Result<()> {
    if durability == Durability::Synced {
        file.as_file().sync_all().map_err(failed(path, "syncing"))?;
    }
    let temporary = file.path().to_path_buf();
    let persisted = file.persist(path);
    forget_temporary(&temporary);
    persisted.map_err(|error| failed(path, "renaming")(error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_mode_of_any_new_file_not_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").expect("a file made the ordinary way");
        let written = dir.path().join("sub/written.css");
        write_atomic(&written, b"a{}", Durability::Synced).expect("write");
        assert_eq!(std::fs::read(&written).expect("read"), b"a{}");
        assert_eq!(mode(&written), mode(&plain));
        let copied = dir.path().join("img/copy.png");
        copy_atomic(&written, &copied).expect("copy");
        assert_eq!(mode(&copied), mode(&plain));
    }

    #[test]
    fn a_new_file_is_written_once_and_never_over_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lock");
        assert!(write_new(&path, b"first").expect("first"));
        assert!(!write_new(&path, b"second").expect("second"));
        assert_eq!(std::fs::read(&path).expect("read"), b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn temporary_names_are_recognised_and_others_are_not() {
        for name in [".stapler-a1B2c3.tmp", "logo.png.stapler-tmp", ".tmpAb12Cd"] {
            assert!(is_temporary(name), "{name}");
        }
        for name in [".tmp-notes.txt", "site.tmp", ".stapler", ".tmpfile.css"] {
            assert!(!is_temporary(name), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_destination_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").expect("write");
        let destination = dir.path().join("logo.abc.png");
        std::os::unix::fs::symlink(&outside, &destination).expect("symlink");
        write_atomic(&destination, b"new", Durability::Buffered).expect("write");
        assert_eq!(std::fs::read(&outside).expect("read"), b"keep");
        assert_eq!(std::fs::read(&destination).expect("read"), b"new");
        assert!(!std::fs::symlink_metadata(&destination)
            .expect("meta")
            .file_type()
            .is_symlink());
    }
}
