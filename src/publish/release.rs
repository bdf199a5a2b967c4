//! Release records (`.stapler/releases/<time>-<manifest hash>.json`): every object a publish
//! left in place, with its MD5 and size. They let a republish skip what is known, and let
//! `--prune` retire only what no recent release uses.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::error::{Error, Location, Result};
use crate::store::{ObjectInfo, Store, StoreError};

/// Where release records live, under the prefix.
pub const RELEASES: &str = ".stapler/releases/";

/// Where a publish records what it relies on before it relies on it; the record moves to
/// [`RELEASES`] once its manifest is live.
pub const PENDING: &str = ".stapler/pending/";

/// `20261122T041530.123Z`: sortable, so the newest record is the last listed.
const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:3]Z");

/// A release record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Release {
    pub created: String,
    pub manifest_sha256: String,
    pub objects: BTreeMap<String, RecordedObject>,
    /// In a pending record: how long its publish may take to put its manifest up, from the
    /// moment the record was written. Past that (and a margin), it has certainly ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_secs: Option<u64>,
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
            deadline_secs: None,
        }
    }

    /// The name of this release's pending record: unique to this run, so two publishes of the
    /// same release never share one.
    pub fn pending_name(&self, run: &str) -> String {
        format!(
            "{PENDING}{}-{}-{run}.json",
            self.created,
            self.manifest_sha256.get(..12).unwrap_or("none")
        )
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

/// Now, as records name times.
pub fn timestamp_now() -> String {
    timestamp(OffsetDateTime::now_utc())
}

fn timestamp(time: OffsetDateTime) -> String {
    time.format(TIMESTAMP).unwrap_or_default()
}

/// The names of the final release records in a listing, newest first.
pub fn records_newest_first(remote: &BTreeMap<String, ObjectInfo>) -> Vec<&String> {
    let mut records: Vec<&String> = remote
        .keys()
        .filter(|name| name.starts_with(RELEASES))
        .collect();
    records.reverse();
    records
}

/// The newest release record, if any. A record that vanished between the listing and the read
/// (a prune retired it) counts as none.
pub async fn latest(
    store: &impl Store,
    remote: &BTreeMap<String, ObjectInfo>,
) -> Result<Option<Release>> {
    match records_newest_first(remote).first() {
        Some(name) => match store.get(name).await {
            Ok(bytes) => Ok(Some(Release::parse(name, &bytes)?)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        },
        None => Ok(None),
    }
}

/// A release record as a prune sees it: whether it is final or still pending, and when the
/// store wrote it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub name: String,
    pub release: Release,
    pub modified: Option<SystemTime>,
}

impl Seen {
    fn pending(&self) -> bool {
        self.name.starts_with(PENDING)
    }

    /// A pending record whose publish has certainly ended: it is older than the time that
    /// publish allowed itself, by the store's clock.
    fn stale(&self, now: SystemTime) -> bool {
        let (Some(modified), Some(seconds)) = (self.modified, self.release.deadline_secs) else {
            return false;
        };
        modified + Duration::from_secs(seconds) + STALE_MARGIN < now
    }
}

/// Added to a recorded deadline before anything is taken for over, for the store's one-second
/// timestamps and the time between a process's clock starting and its first write.
pub const STALE_MARGIN: Duration = Duration::from_secs(10);

/// What the live manifests on the store refer to, read right before deciding.
#[derive(Debug, Default)]
pub struct Live {
    /// The SHA-256 of the live offline manifest, if there is one.
    pub manifest_sha256: Option<String>,
    /// Names the live manifests refer to directly (bundles, `staticfiles.json` values).
    pub referenced: BTreeSet<String>,
}

/// What a prune decided.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub deletes: Vec<String>,
    /// Why something was not pruned that otherwise would have been.
    pub warnings: Vec<String>,
}

/// Decides what `--prune` deletes, from every record the store holds (final and pending),
/// read after this prune announced itself (see DESIGN.md's publish contract):
/// - kept: the objects of the `keep` newest final records, of every pending record whose
///   publish may still be running, of every record of the live manifest, and every name the
///   live manifests refer to;
/// - deleted: what the other records list and nothing keeps, and those records themselves.
///
/// Objects no record lists (uploaded by something else) are never touched. When the live
/// manifest matches no record, what its stylesheets refer to is unknown, so nothing is deleted.
pub fn decide(
    records: &[Seen],
    remote: &BTreeMap<String, ObjectInfo>,
    live: &Live,
    keep: usize,
    now: SystemTime,
) -> Decision {
    let mut decision = Decision::default();
    if let Some(sha) = &live.manifest_sha256 {
        if !records
            .iter()
            .any(|seen| &seen.release.manifest_sha256 == sha)
        {
            decision.warnings.push(format!(
                "pruning skipped: the live manifest (sha256 {}) matches no release record, so what it needs is unknown; publish it once without --prune to record it",
                sha.get(..12).unwrap_or(sha)
            ));
            return decision;
        }
    }
    let mut finals: Vec<&Seen> = records.iter().filter(|seen| !seen.pending()).collect();
    finals.sort_by(|a, b| b.name.cmp(&a.name));
    let mut kept: BTreeSet<&str> = live.referenced.iter().map(String::as_str).collect();
    let mut retired: BTreeSet<&str> = BTreeSet::new();
    for seen in records {
        let newest = finals
            .iter()
            .take(keep)
            .any(|recent| recent.name == seen.name);
        let is_live =
            live.manifest_sha256.as_deref() == Some(seen.release.manifest_sha256.as_str());
        let running = seen.pending() && !seen.stale(now);
        if newest || is_live || running {
            kept.extend(seen.release.objects.keys().map(String::as_str));
        } else {
            retired.extend(seen.release.objects.keys().map(String::as_str));
            retired.insert(seen.name.as_str());
        }
    }
    decision.deletes = retired
        .into_iter()
        .filter(|name| !kept.contains(name) && remote.contains_key(*name))
        .map(str::to_string)
        .collect();
    decision
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
            deadline_secs: None,
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

    fn seen(name: &str, manifest: &str, objects: &[&str], age: u64, deadline: Option<u64>) -> Seen {
        Seen {
            name: name.to_string(),
            release: Release {
                created: String::new(),
                manifest_sha256: manifest.to_string(),
                objects: objects
                    .iter()
                    .map(|name| {
                        let recorded = RecordedObject {
                            md5: String::new(),
                            size: 1,
                        };
                        (name.to_string(), recorded)
                    })
                    .collect(),
                deadline_secs: deadline,
            },
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1000 - age)),
        }
    }

    fn listing(names: &[&str]) -> BTreeMap<String, ObjectInfo> {
        names
            .iter()
            .map(|name| {
                let info = ObjectInfo {
                    size: 1,
                    md5: None,
                    modified: None,
                };
                (name.to_string(), info)
            })
            .collect()
    }

    #[test]
    fn prune_keeps_recent_live_and_running_releases_and_retires_the_rest() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let old = seen(
            ".stapler/releases/1.json",
            "m1",
            &["a", "shared"],
            900,
            None,
        );
        let live_old = seen(
            ".stapler/releases/2.json",
            "m2",
            &["b", "shared"],
            800,
            None,
        );
        let newest = seen(
            ".stapler/releases/3.json",
            "m3",
            &["c", "shared"],
            700,
            None,
        );
        let running = seen(".stapler/pending/4.json", "m4", &["d"], 30, Some(60));
        let dead = seen(".stapler/pending/5.json", "m5", &["e"], 300, Some(60));
        let records = [old, live_old, newest, running, dead];
        let remote = listing(&[
            "a",
            "b",
            "c",
            "d",
            "e",
            "shared",
            "foreign",
            ".stapler/releases/1.json",
            ".stapler/releases/2.json",
            ".stapler/releases/3.json",
            ".stapler/pending/4.json",
            ".stapler/pending/5.json",
        ]);
        let live = Live {
            manifest_sha256: Some("m2".into()),
            referenced: ["b".to_string()].into(),
        };
        let decision = decide(&records, &remote, &live, 1, now);
        assert_eq!(
            decision.deletes,
            [
                ".stapler/pending/5.json",
                ".stapler/releases/1.json",
                "a",
                "e"
            ],
            "the rollback target m2 is live, m3 is the newest, 4 is still within its allowance; \
             foreign objects are never touched"
        );
        assert!(decision.warnings.is_empty());
    }

    #[test]
    fn a_live_manifest_no_record_knows_stops_the_prune() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let records = [
            seen(".stapler/releases/1.json", "m1", &["a"], 900, None),
            seen(".stapler/releases/2.json", "m2", &["b"], 800, None),
        ];
        let live = Live {
            manifest_sha256: Some("unknown".into()),
            referenced: BTreeSet::new(),
        };
        let decision = decide(&records, &listing(&["a", "b"]), &live, 1, now);
        assert!(decision.deletes.is_empty());
        assert!(
            decision.warnings[0].starts_with("pruning skipped"),
            "{decision:?}"
        );
    }
}
