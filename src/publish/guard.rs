//! Coordination between runs that share a prefix, through objects under `.stapler/`:
//! - the lock (`.stapler/lock`), created with a conditional write, so that one publish at a time
//!   sends the names that are not content-hashed;
//! - prune notices (`.stapler/pruning/…`), written by a prune before it reads the release
//!   records, so that a publish that starts meanwhile waits for the prune to end and then sees
//!   what it deleted.
//!
//! Why the two together keep every live manifest whole, with or without conditional writes: a
//! prune writes its notice before it lists; a publish (or rollback) writes its pending record,
//! naming every object it needs, before it lists. The store is read-after-write consistent, so
//! of the two listings at least one sees the other's object.
//! - The prune's listing sees the pending record: it keeps every object the record names (a
//!   pending record counts until its own deadline).
//! - Else the publish's listing sees the notice. It plans only from a listing in which no prune
//!   may have been deleting: it waits while a notice is there and within its deadline (a prune
//!   starts no delete after its deadline), and a notice that is gone when read means the prune
//!   ended after the listing was taken, which may show objects since deleted, so it lists
//!   again. The listing it plans from shows every deletion, and what is missing is sent again.
//!
//! Neither case needs the lock, which only keeps two publishes from sending names that are not
//! content-hashed at once.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::store::{Headers, ObjectInfo, Store, StoreError};

use super::release::STALE_MARGIN;

/// The lock's name, under the prefix.
pub const LOCK: &str = ".stapler/lock";

/// Where prune notices live, under the prefix.
pub const PRUNING: &str = ".stapler/pruning/";

/// What the lock and prune notices say of the run that wrote them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    /// `host pid N`, for the message another run prints.
    pub owner: String,
    /// When it started, by its own clock (UTC), for people.
    pub started: String,
    /// How long it may take, from the moment the object was written.
    pub deadline_secs: u64,
}

impl Holder {
    pub fn new(started: String, deadline: Duration) -> Holder {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "a machine".into());
        Holder {
            owner: format!("{host} pid {}", std::process::id()),
            started,
            deadline_secs: deadline.as_secs(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings and numbers: serializing into memory cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    fn parse(bytes: &[u8]) -> Option<Holder> {
        serde_json::from_slice(bytes).ok()
    }
}

fn headers() -> Headers {
    Headers {
        content_type: "application/json; charset=utf-8".into(),
        cache_control: "no-store".into(),
        ..Headers::default()
    }
}

/// How the lock was taken.
#[derive(Debug, Clone, PartialEq)]
pub enum Lock {
    /// Taken, and the store honours conditional writes: no other publish runs meanwhile.
    Held,
    /// Written, but the store ignores conditional writes, so it excludes nothing.
    NotHonoured,
}

/// Another run holds the lock.
#[derive(Debug)]
pub struct Busy {
    pub holder: Option<Holder>,
    /// How long ago it was taken, by the store's clock.
    pub age: Option<Duration>,
}

impl Busy {
    /// One paragraph for the person who ran this publish.
    pub fn describe(&self) -> String {
        let who = match &self.holder {
            Some(holder) => format!("{} (started {})", holder.owner, holder.started),
            None => "another run".into(),
        };
        let age = self
            .age
            .map(|age| format!(" {} s ago", age.as_secs()))
            .unwrap_or_default();
        let stale = match (&self.holder, self.age) {
            (Some(holder), Some(age))
                if age > Duration::from_secs(holder.deadline_secs) + STALE_MARGIN =>
            {
                format!(
                    "; it is older than that publish's own deadline ({} s), so that publish has ended without removing it: rerun with --break-lock",
                    holder.deadline_secs
                )
            }
            _ => "; wait for it to finish, or, if you know it is dead, rerun with --break-lock"
                .into(),
        };
        format!("another publish to this prefix holds {LOCK}, taken by {who}{age}{stale}. Nothing was sent; the previous release is still live")
    }
}

/// Takes the lock, breaking a held one when asked to, and checks that the store honours the
/// condition by asking for it a second time. `written_now` names an object this run wrote just
/// before, whose time is the store's "now".
pub async fn lock(
    store: &impl Store,
    holder: &Holder,
    break_lock: bool,
    written_now: &str,
) -> Result<Result<Lock, Busy>, StoreError> {
    if !store
        .put_if_absent(LOCK, holder.to_json(), &headers())
        .await?
    {
        if !break_lock {
            let held = match store.get(LOCK).await {
                Ok(bytes) => Holder::parse(&bytes),
                Err(StoreError::NotFound { .. }) => None,
                Err(error) => return Err(error),
            };
            let listing = store.list().await?;
            let now = listing.get(written_now).and_then(|info| info.modified);
            let age = match (listing.get(LOCK).and_then(|info| info.modified), now) {
                (Some(taken), Some(now)) => now.duration_since(taken).ok(),
                _ => None,
            };
            return Ok(Err(Busy { holder: held, age }));
        }
        store.delete(&[LOCK.to_string()]).await?;
        if !store
            .put_if_absent(LOCK, holder.to_json(), &headers())
            .await?
        {
            return Ok(Err(Busy {
                holder: None,
                age: None,
            }));
        }
    }
    let honoured = !store
        .put_if_absent(LOCK, holder.to_json(), &headers())
        .await?;
    Ok(Ok(if honoured {
        Lock::Held
    } else {
        Lock::NotHonoured
    }))
}

/// Removes the lock this run took.
pub async fn unlock(store: &impl Store) -> Result<(), StoreError> {
    store.delete(&[LOCK.to_string()]).await
}

/// Announces a prune: written before the prune reads the release records.
pub async fn announce_prune(
    store: &impl Store,
    name: &str,
    holder: &Holder,
) -> Result<(), StoreError> {
    store.put_bytes(name, holder.to_json(), &headers()).await
}

/// The prune notices in a listing whose prune may still have been deleting when the listing was
/// taken: a notice older than its prune's deadline (by the store's clock, `now`) belongs to a
/// prune that had ended; one that is gone by the time it is read ended after the listing.
pub async fn running_prunes(
    store: &impl Store,
    listing: &BTreeMap<String, ObjectInfo>,
    now: Option<SystemTime>,
) -> Result<Vec<String>, StoreError> {
    let mut running = Vec::new();
    for (name, info) in listing.range(PRUNING.to_string()..) {
        if !name.starts_with(PRUNING) {
            break;
        }
        let deadline = match store.get(name).await {
            Ok(bytes) => Holder::parse(&bytes).map(|holder| holder.deadline_secs),
            // Its prune ended between the listing and now: it was deleting while the listing
            // was taken, so the listing may show what is gone. It counts as running, and the
            // caller lists again.
            Err(StoreError::NotFound { .. }) => {
                running.push(name.clone());
                continue;
            }
            Err(error) => return Err(error),
        };
        let ended = match (info.modified, now, deadline) {
            (Some(written), Some(now), Some(seconds)) => {
                written + Duration::from_secs(seconds) + STALE_MARGIN < now
            }
            _ => false,
        };
        if !ended {
            running.push(name.clone());
        }
    }
    Ok(running)
}
