//! A content-addressed cache of build results (`.stapler-cache/` by default), so a warm run costs
//! little more than reading the inputs. An entry is named by the sha256 of everything that
//! determines it (its inputs, the settings that shape it and stapler's version), holds a typed
//! value as JSON, and carries the sha256 and length of that payload: a truncated or corrupt entry
//! is detected, ignored and rebuilt, never used.
//!
//! Behind the local directory there can be a shared cache on an S3 prefix, so CI runners reuse
//! each other's work. It is only talked to outside the parallel build: [`Cache::prefetch`] lists
//! the prefix once and fetches the local misses in one batch before minifying, and
//! [`Cache::finish`] uploads new entries and culls after the build. As Django's caches cull,
//! past `max_entries` 1 / `cull_frequency` of the entries are deleted. A shared cache that
//! cannot be reached is a warning, not a failed build.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::SharedCacheSettings;
use crate::run::Run;
use crate::store::s3::S3Store;
use crate::store::{Headers, Store, StoreError};

use super::pack::Packs;

const HEADER: &str = "stapler-cache-2";

/// Changed whenever what is cached for the same input changes within one version (a minifier
/// fix), so entries an earlier build wrote are not reused.
const REVISION: &str = "2";

/// The cache, or a stand-in that stores nothing (`--no-cache`).
#[derive(Default)]
pub struct Cache {
    local: Option<Packs>,
    shared: Option<Shared>,
    /// What went wrong with the shared cache, for the summary.
    warnings: Mutex<Vec<String>>,
}

/// The S3 side of the cache.
struct Shared {
    runtime: tokio::runtime::Handle,
    store: S3Store,
    settings: SharedCacheSettings,
    /// Entries written during this build, uploaded by `finish`.
    pending: Mutex<Vec<(String, Vec<u8>)>>,
    /// Set once the store proved out of reach, so a dead endpoint costs one timeout, not many.
    unavailable: std::sync::atomic::AtomicBool,
}

/// What the shared cache did during a build.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharedReport {
    /// Entries fetched from the shared cache for local misses.
    pub fetched: u64,
    pub uploaded: u64,
    pub culled: u64,
    /// What went wrong with it: an optimisation failing, never a reason to fail a build.
    pub warnings: Vec<String>,
}

/// Counts of lookups that found an intact entry and that did not.
#[derive(Debug, Default)]
pub struct Counter {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counter {
    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Cache {
    /// A local cache in `dir` (none when `None`).
    pub fn new(dir: Option<&Path>) -> Self {
        Cache {
            local: dir.map(Packs::new),
            ..Cache::default()
        }
    }

    /// The local cache, with the shared one behind it when configured and reachable, talked to
    /// on the run's async runtime.
    pub fn open(dir: Option<&Path>, shared: Option<&SharedCacheSettings>, run: &Run) -> Self {
        let mut cache = Cache::new(dir);
        let Some(settings) = shared else { return cache };
        let runtime = match run.runtime() {
            Ok(runtime) => runtime.handle().clone(),
            Err(error) => {
                cache.warn(format!(
                    "shared cache disabled: cannot start its runtime ({error})"
                ));
                return cache;
            }
        };
        let location = format!(
            "s3://{}/{}",
            settings.location.bucket, settings.location.prefix
        );
        match runtime.block_on(S3Store::connect(&settings.location)) {
            Ok(store) => {
                cache.shared = Some(Shared {
                    runtime,
                    store,
                    settings: settings.clone(),
                    pending: Mutex::default(),
                    unavailable: Default::default(),
                })
            }
            Err(error) => cache.warn(format!("shared cache {location} disabled: {error}")),
        }
        cache
    }

    /// Whether a shared cache is behind the local one.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    fn warn(&self, message: String) {
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.push(message);
        }
    }

    /// Warnings about the shared cache.
    fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// The key for a result determined by `parts` (each length-prefixed, so no two lists collide).
    /// A cache key: the parts, the version, and [`REVISION`].
    pub fn key(parts: &[&[u8]]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(REVISION.as_bytes());
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hex::encode(hasher.finalize())
    }

    fn read_local(&self, key: &str) -> Option<Vec<u8>> {
        let bytes = self.local.as_ref()?.read(key)?;
        verify(&bytes).map(<[u8]>::to_vec)
    }

    /// The stored value for `key`, if an intact local entry holds one; `counter` (if given)
    /// counts the lookup.
    pub fn get<T: DeserializeOwned>(&self, key: &str, counter: Option<&Counter>) -> Option<T> {
        let found = self
            .read_local(key)
            .and_then(|payload| serde_json::from_slice(&payload).ok());
        if let Some(counter) = counter {
            counter.count(found.is_some());
        }
        found
    }

    /// Whether an intact local entry exists for `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.read_local(key).is_some()
    }

    /// Stores `value` under `key`, locally and (after the build) in the shared cache. The
    /// cache is an optimisation: a failure to write is ignored.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) {
        let Some(entry) = self.put_local(key, value) else {
            return;
        };
        if let Some(shared) = &self.shared {
            if let Ok(mut pending) = shared.pending.lock() {
                pending.push((key.to_string(), entry));
            }
        }
    }

    /// Stores `value` under `key` in the local cache only, for facts about this machine's files.
    /// Returns the entry written.
    pub fn put_local<T: Serialize>(&self, key: &str, value: &T) -> Option<Vec<u8>> {
        let payload = serde_json::to_vec(value).ok()?;
        let mut entry = format!(
            "{HEADER} {} {}\n",
            hex::encode(Sha256::digest(&payload)),
            payload.len()
        )
        .into_bytes();
        entry.extend_from_slice(&payload);
        if let Some(local) = &self.local {
            local.write(key, &entry);
        }
        Some(entry)
    }

    /// Fetches from the shared cache, in one batch, the entries of `keys` that are missing
    /// locally, and stores them locally. Returns how many arrived.
    pub fn prefetch(&self, keys: &[String]) -> u64 {
        let Some(shared) = &self.shared else { return 0 };
        let missing: Vec<&String> = keys.iter().filter(|key| !self.contains(key)).collect();
        if missing.is_empty() {
            return 0;
        }
        let fetched = shared.runtime.block_on(async {
            use futures::stream::{self, StreamExt};
            let listing = shared.store.list().await?;
            let wanted = missing.into_iter().filter(|key| listing.contains_key(*key));
            let results: Vec<_> = stream::iter(wanted)
                .map(|key| async move { (key, shared.store.get(key).await) })
                .buffer_unordered(16)
                .collect()
                .await;
            Ok::<_, StoreError>(results)
        });
        let mut arrived = 0;
        match fetched {
            Ok(results) => {
                for (key, result) in results {
                    match result {
                        Ok(bytes) if verify(&bytes).is_some() => {
                            if let Some(local) = &self.local {
                                local.write(key, &bytes);
                                arrived += 1;
                            }
                        }
                        Ok(_) => {}
                        Err(error) => {
                            self.shared_failed(shared, "reading", error);
                            break;
                        }
                    }
                }
            }
            Err(error) => self.shared_failed(shared, "listing", error),
        }
        arrived
    }

    fn shared_failed(&self, shared: &Shared, action: &str, error: StoreError) {
        if error.is_unavailable() {
            shared.unavailable.store(true, Ordering::Relaxed);
            self.warn(format!("shared cache disabled for this build: {error}"));
        } else {
            self.warn(format!("shared cache {action} failed: {error}"));
        }
    }

    /// Seals this build's local entries, then uploads them to the shared cache and culls its
    /// prefix. Call once, after the build.
    pub fn finish(&self, fetched: u64) -> SharedReport {
        if let Some(local) = &self.local {
            local.seal();
        }
        let mut report = self.upload_and_cull(fetched);
        report.warnings = self.warnings();
        report
    }

    fn upload_and_cull(&self, fetched: u64) -> SharedReport {
        let mut report = SharedReport {
            fetched,
            ..SharedReport::default()
        };
        let Some(shared) = &self.shared else {
            return report;
        };
        if shared.unavailable.load(Ordering::Relaxed) {
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
            ..Headers::default()
        };
        let uploaded = shared.runtime.block_on(async {
            use futures::stream::{self, StreamExt};
            stream::iter(pending)
                .map(|(key, bytes)| {
                    let headers = &headers;
                    async move { shared.store.put_bytes(&key, bytes, headers).await }
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
        let settings = &shared.settings;
        match shared.runtime.block_on(shared.store.list()) {
            Ok(entries) if entries.len() > settings.max_entries => {
                let doomed: Vec<String> = entries
                    .keys()
                    .take(entries.len() / settings.cull_frequency)
                    .cloned()
                    .collect();
                match shared.runtime.block_on(shared.store.delete(&doomed)) {
                    Ok(()) => report.culled = doomed.len() as u64,
                    Err(error) => self.warn(format!("shared cache cull failed: {error}")),
                }
            }
            Ok(_) => {}
            Err(error) => self.warn(format!("shared cache listing failed: {error}")),
        }
        report
    }
}

/// The payload of an intact entry.
fn verify(bytes: &[u8]) -> Option<&[u8]> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let mut words = header.split(' ');
    if words.next() != Some(HEADER) {
        return None;
    }
    let digest = words.next()?;
    let length: usize = words.next()?.parse().ok()?;
    let payload = &bytes[newline + 1..];
    (payload.len() == length && hex::encode(Sha256::digest(payload)) == digest).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_never_a_hit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(Some(dir.path()));
        let counter = Counter::default();
        let key = Cache::key(&[b"js", b"var a = 1;"]);
        assert_eq!(cache.get::<String>(&key, Some(&counter)), None);
        cache.put(&key, &"var a=1".to_string());
        assert_eq!(
            cache.get::<String>(&key, Some(&counter)).as_deref(),
            Some("var a=1"),
            "readable in the build that wrote it"
        );
        drop(cache);
        let cache = Cache::new(Some(dir.path()));
        assert_eq!(
            cache.get::<String>(&key, Some(&counter)).as_deref(),
            Some("var a=1"),
            "and in the next"
        );
        let pack = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|ext| ext == "pack"))
            .expect("a pack");
        let mut stored = std::fs::read(&pack).expect("pack");
        let at = stored
            .windows(7)
            .position(|window| window == b"var a=1")
            .expect("the payload");
        stored[at] ^= 1;
        std::fs::write(&pack, &stored).expect("corrupt");
        let cache = Cache::new(Some(dir.path()));
        assert_eq!(cache.get::<String>(&key, Some(&counter)), None, "corrupt");
        assert_eq!(
            (counter.hits(), counter.misses.load(Ordering::Relaxed)),
            (2, 2)
        );
    }

    #[test]
    fn keys_do_not_collide_across_part_boundaries() {
        assert_ne!(Cache::key(&[b"ab", b"c"]), Cache::key(&[b"a", b"bc"]));
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::new(None);
        let key = Cache::key(&[b"x"]);
        cache.put(&key, &"x".to_string());
        assert_eq!(cache.get::<String>(&key, None), None);
        assert_eq!(cache.prefetch(&[key]), 0);
    }
}
