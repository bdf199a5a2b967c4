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

    async fn replace_if_unchanged(
        &self,
        name: &str,
        expected: &[u8],
        bytes: Vec<u8>,
        _headers: &Headers,
    ) -> Result<bool, StoreError> {
        let path = self.path(name)?;
        // Only one caller can move the file aside: the rename is the decision.
        let aside = path.with_file_name(format!(
            ".stapler-replaced-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|since| since.as_nanos())
                .unwrap_or_default()
        ));
        match std::fs::rename(&path, &aside) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(StoreError::Io {
                    path,
                    action: "moving aside",
                    source,
                })
            }
        }
        let moved = std::fs::read(&aside).unwrap_or_default();
        if moved != expected {
            // Someone wrote it anew since it was read: put theirs back, never over another.
            let _ = std::fs::hard_link(&aside, &path);
            let _ = std::fs::remove_file(&aside);
            return Ok(false);
        }
        let _ = std::fs::remove_file(&aside);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Of many runs taking over the same lock at once (threads released together), exactly
    /// one replaces it.
    #[test]
    fn one_of_many_concurrent_replacements_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DirStore::new(dir.path());
        std::fs::create_dir_all(dir.path().join(".stapler")).expect("mkdir");
        for round in 0..50 {
            let old = format!("held by a dead run, round {round}").into_bytes();
            std::fs::write(dir.path().join(".stapler/lock"), &old).expect("lock");
            let start = std::sync::Barrier::new(8);
            let winners: Vec<bool> = std::thread::scope(|scope| {
                let takers: Vec<_> = (0..8)
                    .map(|taker| {
                        let (store, old, start) = (&store, &old, &start);
                        scope.spawn(move || {
                            start.wait();
                            futures::executor::block_on(store.replace_if_unchanged(
                                ".stapler/lock",
                                old,
                                format!("taker {taker}").into_bytes(),
                                &Headers::default(),
                            ))
                            .expect("replace")
                        })
                    })
                    .collect();
                takers
                    .into_iter()
                    .map(|taker| taker.join().expect("taker"))
                    .collect()
            });
            assert_eq!(
                winners.iter().filter(|won| **won).count(),
                1,
                "round {round}"
            );
            let now = std::fs::read_to_string(dir.path().join(".stapler/lock")).expect("lock");
            let winner = winners.iter().position(|won| *won).expect("a winner");
            assert_eq!(now, format!("taker {winner}"));
        }
    }
}
