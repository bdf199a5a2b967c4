//! A content-addressed cache of minified sources (`.stapler-cache/` by default), so a warm run
//! costs little more than reading the inputs. An entry is named by the sha256 of everything that
//! determines it (the text, its kind, the minifier settings and stapler's version) and carries
//! the sha256 and length of its payload: a truncated or corrupt entry is detected, ignored and
//! rebuilt, never used.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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
            .and_then(|bytes| verify(&bytes));
        match found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    /// Stores `value` under `key`. The cache is an optimisation: a failure to write is ignored.
    pub fn put(&self, key: &str, value: &str) {
        let Some(path) = self.path(key) else { return };
        let Some(parent) = path.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let Ok(mut file) = tempfile::NamedTempFile::new_in(parent) else {
            return;
        };
        let header = format!(
            "{HEADER} {} {}\n",
            hex(&Sha256::digest(value.as_bytes())),
            value.len()
        );
        if file
            .write_all(header.as_bytes())
            .and_then(|()| file.write_all(value.as_bytes()))
            .is_ok()
        {
            let _ = file.persist(&path);
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
