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
    /// The machine and process, so that a run on the same machine can tell a dead holder.
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
}

/// This machine's name, as holders record it.
fn this_host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "a machine".into())
}

/// Whether a process of this machine is still running.
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if pid <= 0 {
            return true;
        }
        // Signal 0 checks that the process exists without touching it.
        let found = unsafe { libc::kill(pid, 0) } == 0;
        found || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

impl Holder {
    pub fn new(started: String, deadline: Duration) -> Holder {
        let host = this_host();
        Holder {
            owner: format!("{host} pid {}", std::process::id()),
            started,
            deadline_secs: deadline.as_secs(),
            host,
            pid: std::process::id(),
        }
    }

    /// Why the run that wrote this is known to be gone, if it is: its deadline passed (by the
    /// store's clock, `age` since it was written), or it ran on this machine and its process
    /// has ended.
    pub fn gone(&self, age: Option<Duration>) -> Option<String> {
        if let Some(age) = age {
            if age > Duration::from_secs(self.deadline_secs) + STALE_MARGIN {
                return Some(format!(
                    "its deadline ({} s) passed {} s ago",
                    self.deadline_secs,
                    (age - Duration::from_secs(self.deadline_secs)).as_secs()
                ));
            }
        }
        let here = !self.host.is_empty() && self.host == this_host();
        if here && self.pid != 0 && self.pid != std::process::id() && !process_alive(self.pid) {
            return Some(format!(
                "its process {} on this machine has ended",
                self.pid
            ));
        }
        None
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

/// The lock as taken, and the line that says whose dead lock it replaced, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    pub lock: Lock,
    pub took_over: Option<String>,
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
        format!("another publish to this prefix holds {LOCK}, taken by {who}{age}, and it is still running (within its deadline); rerun with --wait SECONDS to queue behind it, or, if you know it is dead, with --break-lock. Nothing was sent; the previous release is still live")
    }
}

/// What the lock is now: its holder as written, its bytes, and its age by the store's clock.
struct Seen {
    bytes: Vec<u8>,
    holder: Option<Holder>,
    age: Option<Duration>,
}

/// `written_now` names an object written `since` ago by this run, whose time is the store's.
async fn look(
    store: &impl Store,
    written_now: &str,
    since: Duration,
) -> Result<Option<Seen>, StoreError> {
    let bytes = match store.get(LOCK).await {
        Ok(bytes) => bytes,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    let listing = store.list().await?;
    let now = listing
        .get(written_now)
        .and_then(|info| info.modified)
        .map(|written| written + since);
    let age = match (listing.get(LOCK).and_then(|info| info.modified), now) {
        (Some(taken), Some(now)) => now.duration_since(taken).ok(),
        _ => None,
    };
    Ok(Some(Seen {
        holder: Holder::parse(&bytes),
        bytes,
        age,
    }))
}

/// How long a queued publish sleeps between looks at the lock.
const LOCK_POLL: Duration = Duration::from_secs(1);

/// Takes the lock. A lock whose holder is gone (past its deadline, or a dead process of this
/// machine) is taken over with a conditional replace, so of two runs taking it over one wins;
/// `break_lock` takes over any. A live holder's lock is waited for until `wait_until`, else
/// refused. Then checks that the store honours conditional writes by asking a second time.
/// `written_now` names an object this run wrote just before, whose time is the store's "now".
pub async fn lock(
    store: &impl Store,
    holder: &Holder,
    break_lock: bool,
    written_now: &str,
    wait_until: Option<std::time::Instant>,
) -> Result<Result<Taken, Busy>, StoreError> {
    let mut took_over = None;
    let started = std::time::Instant::now();
    loop {
        if store
            .put_if_absent(LOCK, holder.to_json(), &headers())
            .await?
        {
            break;
        }
        let Some(seen) = look(store, written_now, started.elapsed()).await? else {
            continue;
        };
        let gone = match &seen.holder {
            Some(held) => held.gone(seen.age),
            None => seen
                .age
                .filter(|age| *age > STALE_MARGIN * 6)
                .map(|_| "it cannot be read and is old".to_string()),
        };
        let why = match (gone, break_lock) {
            (Some(why), _) => Some(why),
            (None, true) => Some("--break-lock".to_string()),
            (None, false) => None,
        };
        if let Some(why) = why {
            if store
                .replace_if_unchanged(LOCK, &seen.bytes, holder.to_json(), &headers())
                .await?
            {
                let whose = seen.holder.as_ref().map_or_else(
                    || "an unreadable holder".to_string(),
                    |held| held.owner.clone(),
                );
                took_over = Some(format!("took over {LOCK} from {whose}: {why}"));
                break;
            }
            // Another run replaced it first; look again.
            continue;
        }
        match wait_until {
            Some(until) if std::time::Instant::now() + LOCK_POLL < until => {
                if crate::interrupt::received().is_some() {
                    return Ok(Err(Busy {
                        holder: seen.holder,
                        age: seen.age,
                    }));
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
            _ => {
                return Ok(Err(Busy {
                    holder: seen.holder,
                    age: seen.age,
                }))
            }
        }
    }
    let honoured = !store
        .put_if_absent(LOCK, holder.to_json(), &headers())
        .await?;
    Ok(Ok(Taken {
        lock: if honoured {
            Lock::Held
        } else {
            Lock::NotHonoured
        },
        took_over,
    }))
}

/// Removes the lock if it is this run's (after a lock request was abandoned, which may or may
/// not have landed).
pub async fn unlock_if_ours(store: &impl Store, holder: &Holder) -> Result<(), StoreError> {
    match store.get(LOCK).await {
        Ok(bytes) if Holder::parse(&bytes).as_ref() == Some(holder) => unlock(store).await,
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(error) => Err(error),
    }
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
