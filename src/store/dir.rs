//! The `file:///dir` store: a directory laid out as the bucket would be. Writes go through a
//! temporary file and a rename, so a reader never sees half an object.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::output::{self, Durability};

use super::{Headers, LocalFile, ObjectInfo, Store, StoreError};

pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: &Path) -> Self {
        DirStore {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(StoreError::UnsafeName {
                name: name.to_string(),
            });
        }
        Ok(self.dir.join(name))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(name)?;
        Ok(output::write_atomic(&path, bytes, Durability::Buffered)?)
    }
}

impl Store for DirStore {
    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Every file under the directory with its size and MD5.
    async fn list(&self) -> Result<BTreeMap<String, ObjectInfo>, StoreError> {
        let mut out = BTreeMap::new();
        if !self.dir.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&self.dir) {
            let entry = entry.map_err(|error| StoreError::Io {
                path: self.dir.clone(),
                action: "listing",
                source: error.into(),
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
            if entry.file_name().to_str().is_some_and(output::is_temporary) {
                continue;
            }
            let file = LocalFile::hash(entry.path())?;
            let modified = entry.metadata().ok().and_then(|meta| meta.modified().ok());
            out.insert(
                name,
                ObjectInfo {
                    size: file.size,
                    md5: Some(file.md5_hex()),
                    modified,
                },
            );
        }
        Ok(out)
    }

    async fn get(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound {
                endpoint: self.describe(),
                name: name.to_string(),
            },
            _ => StoreError::Io {
                path,
                action: "reading",
                source,
            },
        })
    }

    async fn put_file(
        &self,
        name: &str,
        file: &LocalFile,
        _headers: &Headers,
    ) -> Result<(), StoreError> {
        let bytes = file.read_unchanged()?;
        self.write(name, &bytes)
    }

    async fn put_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        _headers: &Headers,
    ) -> Result<(), StoreError> {
        self.write(name, &bytes)
    }

    /// Created with a hard link, which the kernel refuses when the name is taken.
    async fn put_if_absent(
        &self,
        name: &str,
        bytes: Vec<u8>,
        _headers: &Headers,
    ) -> Result<bool, StoreError> {
        let path = self.path(name)?;
        Ok(output::write_new(&path, &bytes)?)
    }

    async fn delete(&self, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            let path = self.path(name)?;
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path,
                        action: "deleting",
                        source,
                    })
                }
            }
        }
        Ok(())
    }
}
