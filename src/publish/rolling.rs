//! A manifest for rolling deploys (`manifest_keep = K`). While servers move from one release to
//! the next, some still render the previous release's templates and look up its keys in the
//! manifest they read. So the manifest a publish puts up holds the keys of the last K releases,
//! the newest value winning where two releases share a key, and pruning keeps those releases'
//! bundles. Each release's own manifest is kept beside its record (`.stapler/manifests/`,
//! named by its sha256), which is what later publishes merge; the manifest `compress` wrote in
//! the static root is left as it is.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::config::ManifestSettings;
use crate::error::{Error, Location, Result};
use crate::store::{LocalFile, ObjectInfo, Store, StoreError};

use super::plan::LocalObject;
use super::release::{self, Release};

/// Where each release's own manifest is kept, under the prefix.
pub const MANIFESTS: &str = ".stapler/manifests/";

/// What merging did: the folder holding the merged manifest (alive as long as the publish),
/// and how many earlier releases' keys it carries.
pub struct Rolled {
    _dir: tempfile::TempDir,
    pub earlier_releases: usize,
    /// Keys only earlier releases have.
    pub earlier_keys: usize,
}

/// Replaces the local manifest object with the union of this release's keys and those of the
/// K − 1 releases before it, and adds this release's own manifest to what is sent. `None`
/// when there is no manifest to merge into.
pub async fn merge_earlier(
    store: &impl Store,
    remote: &BTreeMap<String, ObjectInfo>,
    local: &mut Vec<LocalObject>,
    manifest: &ManifestSettings,
    keep: usize,
) -> Result<Option<Rolled>> {
    let Some(index) = local.iter().position(|object| object.name == manifest.name) else {
        return Ok(None);
    };
    let own_path = local[index].file.path.clone();
    let own_bytes =
        std::fs::read(&own_path).map_err(|error| Error::io(&own_path, "reading", error))?;
    let own = parse(&own_bytes, &own_path.display().to_string())?;
    let own_name = format!(
        "{MANIFESTS}{}.json",
        hex::encode(Sha256::digest(&own_bytes))
    );
    if !local.iter().any(|object| object.name == own_name) {
        local.push(LocalObject {
            name: own_name.clone(),
            file: LocalFile::hash(&own_path)?,
            hashed: true,
        });
    }

    // The newest earlier releases, each once (a republish of one release writes no new
    // record, and this release's own records do not count).
    let mut seen = BTreeSet::from([own_name.clone()]);
    let mut earlier: Vec<BTreeMap<String, serde_json::Value>> = Vec::new();
    for record in release::records_newest_first(remote) {
        if earlier.len() + 1 >= keep {
            break;
        }
        let release = match store.get(record).await {
            Ok(bytes) => Release::parse(record, &bytes)?,
            Err(StoreError::NotFound { .. }) => continue,
            Err(error) => return Err(error.into()),
        };
        let Some(kept) = release
            .objects
            .keys()
            .find(|name| name.starts_with(MANIFESTS))
        else {
            // Published before manifests were kept, or with `manifest_keep = 1`.
            continue;
        };
        if !seen.insert(kept.clone()) {
            continue;
        }
        match store.get(kept).await {
            Ok(bytes) => earlier.push(parse(&bytes, kept)?),
            Err(StoreError::NotFound { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }

    let mut merged: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for keys in earlier.iter().rev() {
        merged.extend(keys.clone());
    }
    let earlier_keys = merged.keys().filter(|key| !own.contains_key(*key)).count();
    merged.extend(own);
    let dir =
        tempfile::tempdir().map_err(|error| Error::io(&std::env::temp_dir(), "creating", error))?;
    let path = dir.path().join("manifest.json");
    let text = serde_json::to_vec_pretty(&merged).unwrap_or_default();
    std::fs::write(&path, text).map_err(|error| Error::io(&path, "writing", error))?;
    local[index].file = LocalFile::hash(&path)?;
    Ok(Some(Rolled {
        _dir: dir,
        earlier_releases: earlier.len(),
        earlier_keys,
    }))
}

fn parse(bytes: &[u8], name: &str) -> Result<BTreeMap<String, serde_json::Value>> {
    serde_json::from_slice(bytes).map_err(|error| {
        Error::input(
            Location::file(name),
            format!(
                "is not an offline manifest ({error}); rerun `stapler compress --offline`, or set `manifest_keep = 1` to publish this release's keys alone"
            ),
        )
    })
}
