//! The `file:///dir` target: a directory laid out as the bucket would be. Writes go through a
//! temporary file and a rename, so a reader never sees half an object.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};

use super::{md5_file, LocalObject, RemoteObject};

pub struct LocalTarget {
    dir: PathBuf,
}

impl LocalTarget {
    pub fn new(dir: &Path) -> Self {
        LocalTarget {
            dir: dir.to_path_buf(),
        }
    }

    pub fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(Error::input(
                Location::file(name),
                "is not a safe object name",
            ));
        }
        Ok(self.dir.join(name))
    }

    /// Every file under the directory with its size and MD5.
    pub fn list(&self) -> Result<BTreeMap<String, RemoteObject>> {
        let mut out = BTreeMap::new();
        if !self.dir.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&self.dir) {
            let entry = entry.map_err(|error| Error::Remote {
                message: format!("cannot list {}: {error}", self.dir.display()),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = entry.path().strip_prefix(&self.dir).unwrap_or(entry.path());
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if name.ends_with(".stapler-tmp") {
                continue;
            }
            let (size, md5) = md5_file(entry.path())?;
            out.insert(
                name,
                RemoteObject {
                    size,
                    md5: Some(super::hex(&md5)),
                },
            );
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|error| Error::io(&path, "reading", error))
    }

    pub fn put_file(&self, object: &LocalObject) -> Result<()> {
        let bytes = std::fs::read(&object.path).map_err(|error| {
            Error::input(
                Location::file(&object.path),
                format!("vanished or became unreadable while publishing ({error}); rerun"),
            )
        })?;
        object.check_unchanged(&bytes)?;
        self.put_bytes(&object.name, &bytes)
    }

    pub fn put_bytes(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(name)?;
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&parent)
            .map_err(|error| Error::io(&parent, "creating the folder", error))?;
        let mut file = tempfile::Builder::new()
            .suffix(".stapler-tmp")
            .tempfile_in(&parent)
            .map_err(|error| Error::io(&parent, "creating a temporary file", error))?;
        file.write_all(bytes)
            .map_err(|error| Error::io(&path, "writing", error))?;
        file.persist(&path)
            .map_err(|error| Error::io(&path, "renaming", error.error))?;
        Ok(())
    }

    pub fn delete(&self, names: &[String]) -> Result<()> {
        for name in names {
            let path = self.path(name)?;
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(Error::io(&path, "deleting", error)),
            }
        }
        Ok(())
    }
}
