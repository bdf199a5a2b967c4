//! The plan: what is local (the static root, hashed once while read), what is remote (one
//! listing and the latest release record), and from the two what to send. A content-hashed name
//! that exists remotely is never sent again.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::{ManifestSettings, PublishSettings, RunFlags};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::output;
use crate::store::{LocalFile, ObjectInfo};

use super::release::{RecordedObject, Release};

/// A file of the static root.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalObject {
    /// The object's name under the prefix, `/`-separated.
    pub name: String,
    pub file: LocalFile,
    /// Content-hashed names never change content, so they are cached for a year.
    pub hashed: bool,
}

/// Why an object is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    New,
    Changed,
    /// A content-hashed name whose stored copy has the wrong size or MD5.
    Repair,
    Forced,
}

impl Reason {
    fn word(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::Changed => "changed",
            Reason::Repair => "repair",
            Reason::Forced => "forced",
        }
    }
}

/// What a publish will do.
#[derive(Debug, Default)]
pub struct Plan {
    /// Objects to send before the manifests, with why.
    pub uploads: Vec<(LocalObject, Reason)>,
    /// Manifests to send after everything else (`CACHE/manifest.json`, `staticfiles.json`).
    pub manifests: Vec<(LocalObject, Reason)>,
    pub unchanged: Vec<LocalObject>,
    /// Remote names to delete (only with `--prune`).
    pub deletes: Vec<String>,
    /// The record this publish writes, or `None` when it would repeat the latest one.
    pub release: Option<Release>,
}

impl Plan {
    pub fn upload_bytes(&self) -> u64 {
        self.uploads
            .iter()
            .chain(&self.manifests)
            .map(|(object, _)| object.file.size)
            .sum()
    }

    /// Content-hashed objects sent again because the stored copy was damaged.
    pub fn repairs(&self) -> usize {
        self.uploads
            .iter()
            .chain(&self.manifests)
            .filter(|(_, reason)| *reason == Reason::Repair)
            .count()
    }

    pub fn unchanged_bytes(&self) -> u64 {
        self.unchanged.iter().map(|object| object.file.size).sum()
    }

    /// The plan as `--dry-run` prints it.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (object, reason) in self.uploads.iter().chain(&self.manifests) {
            out.push_str(&format!(
                "{:>12}  {}  ({} bytes)\n",
                reason.word(),
                object.name,
                object.file.size
            ));
        }
        for name in &self.deletes {
            out.push_str(&format!("{:>12}  {name}\n", "would-delete"));
        }
        let count = |reason: Reason| {
            self.uploads
                .iter()
                .chain(&self.manifests)
                .filter(|(_, r)| *r == reason)
                .count()
        };
        out.push_str(&format!(
            "plan: {} new, {} changed, {} repair, {} forced ({} bytes to send); {} unchanged ({} bytes); {} would-delete\n",
            count(Reason::New),
            count(Reason::Changed),
            count(Reason::Repair),
            count(Reason::Forced),
            self.upload_bytes(),
            self.unchanged.len(),
            self.unchanged_bytes(),
            self.deletes.len()
        ));
        out
    }
}

/// Walks the static root, hashing every file while reading it once, in parallel.
pub fn scan_static_root(
    settings: &PublishSettings,
    manifest: &ManifestSettings,
) -> Result<Vec<LocalObject>> {
    let root = &settings.static_root;
    if !root.is_dir() {
        return Err(Error::config(
            root.display(),
            "the static root does not exist; run `collectstatic` and `stapler compress --offline` first (or `stapler deploy`)",
        ));
    }
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|error| {
            Error::config(
                root.display(),
                format!("cannot walk the static root: {error}"),
            )
        })?;
        if !entry.file_type().is_file() || is_temporary(entry.file_name()) {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        paths.push((name, entry.path().to_path_buf()));
    }
    let output_prefix = format!("{}/", manifest.output_dir);
    // Bundles left by earlier builds that the current manifest no longer uses are not part of
    // this release: they are neither sent nor recorded, so pruning can retire them. A bundle's
    // map and precompressed copies go with it.
    if let Some(used) = outputs_in_use(manifest) {
        paths.retain(|(name, _)| {
            !name.starts_with(&output_prefix)
                || *name == manifest.name
                || used.contains(companion_of(name).unwrap_or(name))
        });
    }
    // Companions the settings keep at home: precompressed copies (S3 cannot choose one per
    // request) and maps, when asked.
    let names: HashSet<&str> = paths.iter().map(|(name, _)| name.as_str()).collect();
    let excluded: HashSet<String> = paths
        .iter()
        .filter(|(name, _)| {
            let Some(of) = companion_of(name) else {
                return false;
            };
            names.contains(of)
                && if name.ends_with(".map") {
                    !settings.source_maps
                } else {
                    !settings.sends_precompressed()
                        || (name.ends_with(".map.gz") || name.ends_with(".map.br"))
                            && !settings.source_maps
                }
        })
        .map(|(name, _)| name.clone())
        .collect();
    paths.retain(|(name, _)| !excluded.contains(name));
    let staticfiles = django_manifest_values(root);
    paths
        .par_iter()
        .map(|(name, path)| {
            let file = LocalFile::hash(path)?;
            // A precompressed copy of a content-hashed file is as immutable as the file.
            let precompressed_of = companion_of(name).filter(|_| !name.ends_with(".map"));
            let hashed = (name.starts_with(&output_prefix) && *name != manifest.name)
                || staticfiles.contains(name)
                || settings.hashed_pattern.is_match(name)
                || precompressed_of.is_some_and(|of| {
                    staticfiles.contains(of) || settings.hashed_pattern.is_match(of)
                });
            Ok(LocalObject {
                name: name.clone(),
                file,
                hashed,
            })
        })
        .collect()
}

/// The file a companion stands beside: `a.js` for `a.js.map`, `a.js.gz`, `a.js.br`,
/// `a.js.map.gz` and `a.js.map.br`.
pub fn companion_of(name: &str) -> Option<&str> {
    let uncompressed = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".br"));
    match uncompressed.unwrap_or(name).strip_suffix(".map") {
        Some(of) => Some(of),
        None => uncompressed,
    }
}

/// Temporary files a killed build or publish left behind.
fn is_temporary(name: &std::ffi::OsStr) -> bool {
    output::is_temporary(&name.to_string_lossy())
}

/// The output files the current offline manifest refers to, or `None` without a manifest.
fn outputs_in_use(settings: &ManifestSettings) -> Option<BTreeSet<String>> {
    Manifest::load(settings)
        .ok()
        .map(|manifest| manifest.outputs(&settings.output_dir))
}

/// Django's `ManifestStaticFilesStorage` manifest, published after every other object.
pub const STATICFILES: &str = "staticfiles.json";

/// Whether a name is one of the manifests servers read, sent last.
pub fn is_manifest(manifest_name: &str, name: &str) -> bool {
    name == manifest_name || name == STATICFILES
}

/// The hashed names Django's `ManifestStaticFilesStorage` wrote into `staticfiles.json`.
fn django_manifest_values(root: &Path) -> HashSet<String> {
    std::fs::read(root.join(STATICFILES))
        .map(|bytes| staticfiles_values(&bytes).into_iter().collect())
        .unwrap_or_default()
}

/// The hashed names a `staticfiles.json` maps to (none when it is not one).
pub fn staticfiles_values(bytes: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct StaticFiles {
        paths: BTreeMap<String, String>,
    }
    serde_json::from_slice::<StaticFiles>(bytes)
        .map(|manifest| manifest.paths.into_values().collect())
        .unwrap_or_default()
}

/// The record of this release: every local object with its MD5 and size, and the offline
/// manifest's SHA-256.
pub fn this_release(manifest_name: &str, local: &[LocalObject]) -> Release {
    let objects: BTreeMap<String, RecordedObject> = local
        .iter()
        .map(|object| {
            (
                object.name.clone(),
                RecordedObject {
                    md5: object.file.md5_hex(),
                    size: object.file.size,
                },
            )
        })
        .collect();
    let manifest_sha256 = local
        .iter()
        .find(|object| object.name == manifest_name)
        .and_then(|object| std::fs::read(&object.file.path).ok())
        .map(|bytes| hex::encode(Sha256::digest(&bytes)))
        .unwrap_or_default();
    Release::new(manifest_sha256, objects)
}

/// Decides what to send. A content-hashed name present remotely is never re-sent, unless the
/// stored copy's size or MD5 shows it damaged. `this` is [`this_release`] of `local`.
pub fn make_plan(
    manifest_name: &str,
    local: &[LocalObject],
    this: &Release,
    remote: &BTreeMap<String, ObjectInfo>,
    latest: Option<&Release>,
    options: RunFlags,
) -> Plan {
    let mut plan = Plan::default();
    for object in local {
        let reason = if options.force {
            Some(Reason::Forced)
        } else {
            match remote.get(&object.name) {
                None => Some(Reason::New),
                Some(there) if object.hashed => {
                    let damaged = there.size != object.file.size
                        || there
                            .md5
                            .as_deref()
                            .is_some_and(|md5| md5 != object.file.md5_hex());
                    damaged.then_some(Reason::Repair)
                }
                Some(there) if there.size != object.file.size => Some(Reason::Changed),
                Some(there) => {
                    let known_md5 = there.md5.clone().or_else(|| {
                        latest
                            .and_then(|release| release.objects.get(&object.name))
                            .map(|recorded| recorded.md5.clone())
                    });
                    if known_md5.as_deref() == Some(object.file.md5_hex().as_str()) {
                        None
                    } else {
                        Some(Reason::Changed)
                    }
                }
            }
        };
        match reason {
            None => plan.unchanged.push(object.clone()),
            Some(reason) if is_manifest(manifest_name, &object.name) => {
                plan.manifests.push((object.clone(), reason))
            }
            Some(reason) => plan.uploads.push((object.clone(), reason)),
        }
    }
    let repeats_latest = latest.is_some_and(|release| {
        release.objects == this.objects && release.manifest_sha256 == this.manifest_sha256
    });
    if !repeats_latest || options.force {
        plan.release = Some(this.clone());
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::companion_of;

    #[test]
    fn companions_name_the_file_they_stand_beside() {
        assert_eq!(
            companion_of("CACHE/js/a.0123456789ab.js.map"),
            Some("CACHE/js/a.0123456789ab.js")
        );
        assert_eq!(companion_of("css/a.css.gz"), Some("css/a.css"));
        assert_eq!(companion_of("css/a.css.br"), Some("css/a.css"));
        assert_eq!(companion_of("js/a.js.map.br"), Some("js/a.js"));
        assert_eq!(companion_of("js/a.js"), None);
        assert_eq!(companion_of("data/world.json"), None);
    }
}
