//! A content-addressed cache of minified sources (`.stapler-cache/` by default), so a warm run
//! costs little more than reading the inputs. An entry is named by the sha256 of everything that
//! determines it (the text, its kind, the minifier settings and stapler's version) and carries
//! the sha256 and length of its payload: a truncated or corrupt entry is detected, ignored and
//! rebuilt, never used.
//!
//! Behind the local directory there can be a shared cache on an S3 prefix, so CI runners reuse
//! each other's work: a local miss asks the prefix, new entries are uploaded at the end of the
//! build, and when the prefix holds more than `max_entries`, 1 / `cull_frequency` of them are
//! deleted, as Django's caches cull. A shared cache that cannot be reached is a warning, not a
//! failed build.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::config::SharedCacheConfig;
use crate::publish::s3::S3Target;
use crate::publish::Headers;

use sha2::{Digest, Sha256};

const HEADER: &str = "stapler-cache-1";

/// The cache, or a stand-in that stores nothing (`--no-cache`).
#[derive(Debug, Default)]
pub struct Cache {
    dir: Option<PathBuf>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Content hashes of files read during this run: stylesheets name the same images and fonts
    /// over and over, and each is read once.
    file_hashes: Mutex<HashMap<PathBuf, String>>,
    shared: Option<Shared>,
    /// What went wrong with the shared cache, for the summary.
    warnings: Mutex<Vec<String>>,
}

/// The S3 side of the cache.
struct Shared {
    runtime: tokio::runtime::Runtime,
    target: S3Target,
    settings: SharedCacheConfig,
    /// Entries written during this build, uploaded by `finish`.
    pending: Mutex<Vec<(String, Vec<u8>)>>,
    /// Set after the first connection failure, so a dead endpoint costs one timeout, not many.
    unreachable: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("to", &self.settings.target.to)
            .finish()
    }
}

/// What the shared cache did during a build.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SharedReport {
    pub uploaded: u64,
    pub culled: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Cache {
    pub fn new(dir: Option<&Path>) -> Self {
        Cache {
            dir: dir.map(Path::to_path_buf),
            ..Cache::default()
        }
    }

    /// The local cache, with the shared one behind it when configured and reachable.
    pub fn open(dir: Option<&Path>, shared: Option<&SharedCacheConfig>) -> Self {
        let mut cache = Cache::new(dir);
        let Some(settings) = shared else { return cache };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                cache.warn(format!(
                    "shared cache disabled: cannot start its runtime ({error})"
                ));
                return cache;
            }
        };
        match runtime.block_on(S3Target::connect(&settings.target)) {
            Ok(target) => {
                cache.shared = Some(Shared {
                    runtime,
                    target,
                    settings: settings.clone(),
                    pending: Mutex::default(),
                    unreachable: AtomicBool::new(false),
                })
            }
            Err(error) => cache.warn(format!(
                "shared cache {} disabled: {error}",
                settings.target.to
            )),
        }
        cache
    }

    fn warn(&self, message: String) {
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.push(message);
        }
    }

    /// Warnings about the shared cache.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn shared_get(&self, key: &str) -> Option<String> {
        let shared = self.shared.as_ref()?;
        if shared.unreachable.load(Ordering::Relaxed) {
            return None;
        }
        match shared.runtime.block_on(shared.target.get(key)) {
            Ok(bytes) => {
                let value = verify(&bytes)?;
                if let Some(path) = self.path(key) {
                    write_entry(&path, &bytes);
                }
                Some(value)
            }
            Err(error) => {
                let text = error.to_string();
                if text.contains("cannot reach") || text.contains("refused the credentials") {
                    shared.unreachable.store(true, Ordering::Relaxed);
                    self.warn(format!(
                        "shared cache {} disabled for this build: {text}",
                        shared.settings.target.to
                    ));
                }
                None
            }
        }
    }

    /// Uploads this build's new entries and culls the prefix. Call once, after the build.
    pub fn finish(&self) -> SharedReport {
        let mut report = SharedReport::default();
        let Some(shared) = &self.shared else {
            return report;
        };
        if shared.unreachable.load(Ordering::Relaxed) {
            return report;
        }
        let pending = shared
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let headers = Headers {
            content_type: "application/octet-stream".into(),
            cache_control: "no-store".into(),
            extra: Default::default(),
            acl: None,
        };
        let uploaded = shared.runtime.block_on(async {
            use futures::stream::{self, StreamExt};
            stream::iter(pending)
                .map(|(key, bytes)| {
                    let headers = &headers;
                    async move { shared.target.put_bytes(&key, bytes, headers).await }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
        });
        for result in uploaded {
            match result {
                Ok(()) => report.uploaded += 1,
                Err(error) => {
                    self.warn(format!("shared cache upload failed: {error}"));
                    return report;
                }
            }
        }
        match shared.runtime.block_on(shared.target.list()) {
            Ok(entries) if entries.len() > shared.settings.max_entries => {
                let doomed: Vec<String> = entries
                    .keys()
                    .take(entries.len() / shared.settings.cull_frequency)
                    .cloned()
                    .collect();
                match shared.runtime.block_on(shared.target.delete(&doomed)) {
                    Ok(()) => report.culled = doomed.len() as u64,
                    Err(error) => self.warn(format!("shared cache cull failed: {error}")),
                }
            }
            Ok(_) => {}
            Err(error) => self.warn(format!("shared cache listing failed: {error}")),
        }
        report
    }

    /// The key for a result determined by `parts` (each length-prefixed, so no two lists collide).
    pub fn key(parts: &[&[u8]]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hex(&hasher.finalize())
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(&key[..2]).join(&key[2..]))
    }

    /// The stored text for `key`, if present and intact.
    pub fn get(&self, key: &str) -> Option<String> {
        let found = self
            .path(key)
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| verify(&bytes))
            .or_else(|| self.shared_get(key));
        match found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    /// Stores `value` under `key`. The cache is an optimisation: a failure to write is ignored.
    pub fn put(&self, key: &str, value: &str) {
        let header = format!(
            "{HEADER} {} {}\n",
            hex(&Sha256::digest(value.as_bytes())),
            value.len()
        );
        let mut entry = header.into_bytes();
        entry.extend_from_slice(value.as_bytes());
        if let Some(path) = self.path(key) {
            write_entry(&path, &entry);
        }
        if let Some(shared) = &self.shared {
            if let Ok(mut pending) = shared.pending.lock() {
                pending.push((key.to_string(), entry));
            }
        }
    }

    /// The first 12 hex digits of a file's sha256, reading each file once per run.
    pub fn file_hash(&self, path: &Path) -> Result<String, String> {
        if let Some(hash) = self
            .file_hashes
            .lock()
            .ok()
            .and_then(|known| known.get(path).cloned())
        {
            return Ok(hash);
        }
        let bytes = std::fs::read(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let hash = hex(&Sha256::digest(&bytes))[..12].to_string();
        if let Ok(mut known) = self.file_hashes.lock() {
            known.insert(path.to_path_buf(), hash.clone());
        }
        Ok(hash)
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// Writes an entry through a temporary file; a failure only costs a later miss.
fn write_entry(path: &Path, entry: &[u8]) {
    let Some(parent) = path.parent() else { return };
    if std::fs::create_dir_all(parent).is_err() {
        return;
    }
    let Ok(mut file) = tempfile::NamedTempFile::new_in(parent) else {
        return;
    };
    if file.write_all(entry).is_ok() {
        let _ = file.persist(path);
    }
}

fn verify(bytes: &[u8]) -> Option<String> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let mut words = header.split(' ');
    if words.next() != Some(HEADER) {
        return None;
    }
    let digest = words.next()?;
    let length: usize = words.next()?.parse().ok()?;
    let payload = &bytes[newline + 1..];
    if payload.len() != length || hex(&Sha256::digest(payload)) != digest {
        return None;
    }
    String::from_utf8(payload.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_never_a_hit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(Some(dir.path()));
        let key = Cache::key(&[b"js", b"var a = 1;"]);
        assert_eq!(cache.get(&key), None);
        cache.put(&key, "var a=1");
        assert_eq!(cache.get(&key).as_deref(), Some("var a=1"));
        let path = cache.path(&key).expect("path");
        let stored = std::fs::read(&path).expect("entry");
        std::fs::write(&path, &stored[..stored.len() - 2]).expect("truncate");
        assert_eq!(cache.get(&key), None, "a truncated entry is a miss");
        let mut flipped = stored.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        std::fs::write(&path, &flipped).expect("corrupt");
        assert_eq!(cache.get(&key), None, "a corrupt entry is a miss");
        assert_eq!(cache.stats(), (1, 3));
    }

    #[test]
    fn keys_do_not_collide_across_part_boundaries() {
        assert_ne!(Cache::key(&[b"ab", b"c"]), Cache::key(&[b"a", b"bc"]));
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::new(None);
        cache.put("00aa", "x");
        assert_eq!(cache.get("00aa"), None);
    }
}
