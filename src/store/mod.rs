//! Objects in a bucket-like place: one [`Store`] trait with an S3 implementation ([`s3`]) and a
//! local directory laid out like a bucket ([`dir`]), and the typed errors they fail with.
//! Publishing and the shared build cache both sit on it; nothing else talks to the network.

pub mod cloudfront;
pub mod dir;
pub mod s3;
mod sdk;
mod target;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use crate::error::StoreError;
pub use target::{S3Settings, Target};

use md5::{Digest, Md5};

/// How long one attempt of a request may take: enough for a small object on any link, plus
/// time for the bytes of a large one at a slow 512 KiB/s.
pub fn attempt_timeout(bytes: u64) -> Duration {
    BASE_ATTEMPT + Duration::from_secs(bytes / (512 * 1024))
}

/// The shortest time one attempt is allowed.
pub const BASE_ATTEMPT: Duration = Duration::from_secs(15);

/// Attempts a request gets before it fails: the first and five retries, so that a store
/// refusing a third of all requests still takes every object.
pub const ATTEMPTS: u32 = 6;

/// The longest one request can take, all its attempts and their backoff included.
pub fn request_bound(bytes: u64) -> Duration {
    attempt_timeout(bytes) * ATTEMPTS + Duration::from_secs(5)
}

/// What a store holds under a name, as one listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub size: u64,
    /// The object's MD5 in lowercase hex when its ETag is one (single-part uploads); `None`
    /// for multipart uploads, whose ETag is not an MD5.
    pub md5: Option<String>,
    /// When the store last wrote it, by the store's own clock (so times of objects written by
    /// different machines compare without trusting their clocks).
    pub modified: Option<SystemTime>,
}

/// The headers an object is stored with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headers {
    pub content_type: String,
    pub cache_control: String,
    /// `Content-Disposition`, `Content-Encoding`, `Content-Language`, `Expires`, `x-amz-meta-*`.
    pub extra: BTreeMap<String, String>,
    /// A canned ACL such as `public-read`.
    pub acl: Option<String>,
}

/// A local file about to be stored, with the size and MD5 it had when the upload was planned.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalFile {
    pub path: PathBuf,
    pub size: u64,
    pub md5: [u8; 16],
}

impl LocalFile {
    /// Reads a file once, in 1 MiB pieces, for its size and MD5.
    pub fn hash(path: &Path) -> Result<LocalFile, StoreError> {
        let unreadable = |source| StoreError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let mut hasher = Md5::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let read = file.read(&mut buffer).map_err(unreadable)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        Ok(LocalFile {
            path: path.to_path_buf(),
            size,
            md5: hasher.finalize().into(),
        })
    }

    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// The file's bytes, refused when they are not what was hashed: the file changed (or was
    /// replaced) since, and storing it would break the record of what was published.
    pub fn read_unchanged(&self) -> Result<Vec<u8>, StoreError> {
        let bytes = std::fs::read(&self.path).map_err(|source| StoreError::Unreadable {
            path: self.path.clone(),
            source,
        })?;
        self.check_unchanged(&bytes)?;
        Ok(bytes)
    }

    fn check_unchanged(&self, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.len() as u64 == self.size && Md5::digest(bytes).as_slice() == self.md5 {
            return Ok(());
        }
        Err(StoreError::Changed {
            path: self.path.clone(),
        })
    }
}

impl From<crate::output::WriteError> for StoreError {
    fn from(error: crate::output::WriteError) -> Self {
        StoreError::Io {
            path: error.path,
            action: error.action,
            source: error.source,
        }
    }
}

/// Objects in a bucket-like place, named by `/`-separated names under the store's prefix.
pub trait Store: Send + Sync {
    /// Where the objects go, for messages (`s3://bucket/prefix/ at http://…`).
    fn describe(&self) -> String;

    /// Every object under the prefix, from one paginated listing.
    fn list(&self)
        -> impl Future<Output = Result<BTreeMap<String, ObjectInfo>, StoreError>> + Send;

    /// One object's bytes.
    fn get(&self, name: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Stores a local file, refusing it if it changed since it was hashed.
    fn put_file(
        &self,
        name: &str,
        file: &LocalFile,
        headers: &Headers,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores bytes held in memory.
    fn put_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores bytes only if nothing is stored under `name` yet (S3's `If-None-Match: *`):
    /// `Ok(true)` when this call created the object, `Ok(false)` when one was already there.
    /// A store that ignores the condition overwrites and answers `Ok(true)`; callers that rely
    /// on the condition check that it is honoured.
    fn put_if_absent(
        &self,
        name: &str,
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Replaces the object only if it still holds `expected` (S3's `If-Match` on its ETag; an
    /// atomic rename in a folder): `Ok(true)` when this call replaced it, `Ok(false)` when it
    /// changed or went meanwhile, so that of two callers replacing the same object one wins.
    fn replace_if_unchanged(
        &self,
        name: &str,
        expected: &[u8],
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes objects; a name that is already gone is not an error.
    fn delete(&self, names: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// HTTP requests made so far, retries included (0 where there is no network).
    fn requests(&self) -> u64 {
        0
    }

    /// Requests sent again after a failed attempt, so far.
    fn retries(&self) -> u64 {
        0
    }
}

/// A store opened from a configured target.
pub enum AnyStore {
    Dir(dir::DirStore),
    S3(s3::S3Store),
}

impl AnyStore {
    /// Opens the store a target names; for S3 this loads and checks the credentials.
    pub async fn open(target: &Target) -> Result<AnyStore, StoreError> {
        Ok(match target {
            Target::Dir(path) => AnyStore::Dir(dir::DirStore::new(path)),
            Target::S3(settings) => AnyStore::S3(s3::S3Store::connect(settings).await?),
        })
    }
}

impl Store for AnyStore {
    fn describe(&self) -> String {
        match self {
            AnyStore::Dir(store) => store.describe(),
            AnyStore::S3(store) => store.describe(),
        }
    }

    async fn list(&self) -> Result<BTreeMap<String, ObjectInfo>, StoreError> {
        match self {
            AnyStore::Dir(store) => store.list().await,
            AnyStore::S3(store) => store.list().await,
        }
    }

    async fn get(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            AnyStore::Dir(store) => store.get(name).await,
            AnyStore::S3(store) => store.get(name).await,
        }
    }

    async fn put_file(
        &self,
        name: &str,
        file: &LocalFile,
        headers: &Headers,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Dir(store) => store.put_file(name, file, headers).await,
            AnyStore::S3(store) => store.put_file(name, file, headers).await,
        }
    }

    async fn put_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Dir(store) => store.put_bytes(name, bytes, headers).await,
            AnyStore::S3(store) => store.put_bytes(name, bytes, headers).await,
        }
    }

    async fn put_if_absent(
        &self,
        name: &str,
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::Dir(store) => store.put_if_absent(name, bytes, headers).await,
            AnyStore::S3(store) => store.put_if_absent(name, bytes, headers).await,
        }
    }

    async fn replace_if_unchanged(
        &self,
        name: &str,
        expected: &[u8],
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> Result<bool, StoreError> {
        match self {
            AnyStore::Dir(store) => {
                store
                    .replace_if_unchanged(name, expected, bytes, headers)
                    .await
            }
            AnyStore::S3(store) => {
                store
                    .replace_if_unchanged(name, expected, bytes, headers)
                    .await
            }
        }
    }

    async fn delete(&self, names: &[String]) -> Result<(), StoreError> {
        match self {
            AnyStore::Dir(store) => store.delete(names).await,
            AnyStore::S3(store) => store.delete(names).await,
        }
    }

    fn requests(&self) -> u64 {
        match self {
            AnyStore::Dir(store) => store.requests(),
            AnyStore::S3(store) => store.requests(),
        }
    }

    fn retries(&self) -> u64 {
        match self {
            AnyStore::Dir(store) => store.retries(),
            AnyStore::S3(store) => store.retries(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_changed_since_hashing_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.css");
        std::fs::write(&path, b"abc").expect("write");
        let file = LocalFile::hash(&path).expect("hash");
        assert_eq!(file.size, 3);
        assert_eq!(file.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(file.read_unchanged().expect("unchanged"), b"abc");
        std::fs::write(&path, b"abd").expect("same size, other bytes");
        let error = file.read_unchanged().expect_err("changed");
        assert!(matches!(error, StoreError::Changed { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "{}: changed while publishing; rerun `stapler publish`",
                path.display()
            )
        );
        std::fs::write(&path, b"abcd").expect("longer");
        assert!(matches!(
            file.read_unchanged(),
            Err(StoreError::Changed { .. })
        ));
    }
}
