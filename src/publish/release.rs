//! Release records (`.stapler/releases/<time>-<manifest hash>.json`): every object a publish
//! left in place, with its MD5 and size. They let a republish skip what is known, and let
//! `--prune` retire only what no recent release uses.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::error::{Error, Location, Result};
use crate::store::{ObjectInfo, Store};

/// Where release records live, under the prefix.
pub const RELEASES: &str = ".stapler/releases/";

/// `20261122T041530.123Z`: sortable, so the newest record is the last listed.
const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:3]Z");

/// A release record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Release {
    pub created: String,
    pub manifest_sha256: String,
    pub objects: BTreeMap<String, RecordedObject>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedObject {
    pub md5: String,
    pub size: u64,
}

impl Release {
    /// A record made now.
    pub fn new(manifest_sha256: String, objects: BTreeMap<String, RecordedObject>) -> Release {
        Release {
            created: timestamp(OffsetDateTime::now_utc()),
            manifest_sha256,
            objects,
        }
    }

    /// The record's object name.
    pub fn name(&self) -> String {
        format!(
            "{RELEASES}{}-{}.json",
            self.created,
            self.manifest_sha256.get(..12).unwrap_or("none")
        )
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings and numbers: serializing into memory cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn parse(name: &str, bytes: &[u8]) -> Result<Release> {
        serde_json::from_slice(bytes).map_err(|error| {
            Error::input(
                Location::file(name),
                format!("is not a stapler release record ({error}); delete it from the bucket"),
            )
        })
    }
}

fn timestamp(time: OffsetDateTime) -> String {
    time.format(TIMESTAMP).unwrap_or_default()
}

/// The names of the release records in a listing, newest first.
pub fn records_newest_first(remote: &BTreeMap<String, ObjectInfo>) -> Vec<&String> {
    let mut records: Vec<&String> = remote
        .keys()
        .filter(|name| name.starts_with(RELEASES))
        .collect();
    records.reverse();
    records
}

/// The newest release record, if any.
pub async fn latest(
    store: &impl Store,
    remote: &BTreeMap<String, ObjectInfo>,
) -> Result<Option<Release>> {
    match records_newest_first(remote).first() {
        Some(name) => Ok(Some(Release::parse(name, &store.get(name).await?)?)),
        None => Ok(None),
    }
}

/// What `--prune` deletes: objects that an older release record lists and none of the `keep`
/// newest releases (`this` one included) uses, and those older records themselves. Objects no
/// stapler release ever listed (uploaded by something else) are never touched.
pub async fn prune_candidates(
    store: &impl Store,
    remote: &BTreeMap<String, ObjectInfo>,
    this: Option<&Release>,
    keep: usize,
) -> Result<Vec<String>> {
    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut keep_from_remote = keep;
    if let Some(release) = this {
        kept.extend(release.objects.keys().cloned());
        keep_from_remote = keep_from_remote.saturating_sub(1);
    }
    let mut retired: BTreeSet<String> = BTreeSet::new();
    for (index, name) in records_newest_first(remote).into_iter().enumerate() {
        let release = Release::parse(name, &store.get(name).await?)?;
        if index < keep_from_remote {
            kept.extend(release.objects.into_keys());
        } else {
            retired.extend(release.objects.into_keys());
            retired.insert(name.clone());
        }
    }
    Ok(retired
        .into_iter()
        .filter(|name| !kept.contains(name) && remote.contains_key(name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_and_sortable() {
        let time = OffsetDateTime::from_unix_timestamp_nanos(1_795_320_930_123_000_000)
            .expect("a valid time");
        assert_eq!(timestamp(time), "20261122T041530.123Z");
        assert_eq!(
            timestamp(OffsetDateTime::UNIX_EPOCH),
            "19700101T000000.000Z"
        );
    }

    #[test]
    fn record_names_carry_time_and_manifest_hash() {
        let release = Release {
            created: "20261122T041530.123Z".into(),
            manifest_sha256: "ec8316ab4584ffff".into(),
            objects: BTreeMap::new(),
        };
        assert_eq!(
            release.name(),
            ".stapler/releases/20261122T041530.123Z-ec8316ab4584.json"
        );
        assert_eq!(
            Release::parse("r", &release.to_json()).expect("parses"),
            release
        );
    }
}
