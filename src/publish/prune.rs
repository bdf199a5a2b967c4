//! `--prune`: announce, read every release record and the live manifests, decide
//! ([`release::decide`]), delete in batches while the deadline allows, withdraw the notice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::config::{ManifestSettings, PublishSettings};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::store::{ObjectInfo, Store, StoreError};

use super::guard::{self, Holder};
use super::release::{self, Live, Release, Seen};
use super::{plan, run_id, Clock, Report};

/// How long a waiting publish sleeps between looks at a running prune.
const PRUNE_POLL: Duration = Duration::from_secs(1);

/// Objects deleted per request, S3's largest batch.
const DELETE_BATCH: usize = 1000;

/// Reads every release record, final and pending, in a listing.
pub(super) async fn read_records(
    store: &impl Store,
    listing: &BTreeMap<String, ObjectInfo>,
) -> Result<Vec<Seen>> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    let names: Vec<(&String, &ObjectInfo)> = listing
        .iter()
        .filter(|(name, _)| {
            name.starts_with(release::RELEASES) || name.starts_with(release::PENDING)
        })
        .collect();
    stream::iter(names)
        .map(|(name, info)| async move {
            let bytes = store.get(name).await?;
            Ok::<_, Error>(Seen {
                name: name.clone(),
                release: Release::parse(name, &bytes)?,
                modified: info.modified,
            })
        })
        .buffered(16)
        .try_collect()
        .await
}

/// Deletes what no live or recent release needs, announced first (see [`guard`]), and
/// returns how many objects went.
pub(super) async fn prune(
    store: &impl Store,
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    clock: &Clock,
    report: &mut Report,
) -> Result<usize> {
    let notice = format!("{}{}.json", guard::PRUNING, run_id());
    let holder = Holder::new(
        release::timestamp_now(),
        clock.remaining() + crate::store::request_bound(0),
    );
    guard::announce_prune(store, &notice, &holder).await?;
    let result = prune_announced(store, settings, manifest, clock, &notice, report).await;
    if let Err(error) = store.delete(std::slice::from_ref(&notice)).await {
        report.warnings.push(format!(
            "the prune notice {notice} could not be removed ({error}); publishes wait for it until its deadline passes"
        ));
    }
    result
}

async fn prune_announced(
    store: &impl Store,
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    clock: &Clock,
    notice: &str,
    report: &mut Report,
) -> Result<usize> {
    // A record can move (pending to final) or be retired between the listing and its read;
    // the listing is then taken again.
    let mut tries = 0;
    let (listing, records) = loop {
        tries += 1;
        let listing = store.list().await?;
        match read_records(store, &listing).await {
            Ok(records) => break (listing, records),
            Err(Error::Store(StoreError::NotFound { .. })) if tries < 5 => continue,
            Err(error) => return Err(error),
        }
    };
    let now = listing
        .get(notice)
        .and_then(|info| info.modified)
        .unwrap_or_else(SystemTime::now);
    let live = read_live(store, manifest).await?;
    let mut decision = release::decide(&records, &listing, &live, settings.keep, now);
    report.warnings.append(&mut decision.warnings);
    let stale_notices: Vec<String> = {
        let running = guard::running_prunes(store, &listing, Some(now)).await?;
        listing
            .keys()
            .filter(|name| {
                name.starts_with(guard::PRUNING) && *name != notice && !running.contains(name)
            })
            .cloned()
            .collect()
    };
    decision.deletes.extend(stale_notices);
    if decision.deletes.is_empty() {
        return Ok(0);
    }
    // The notice promises publishes that deleting ends by the deadline: a batch starts only
    // before it, and one batch takes at most one request's bound, which the notice allows for.
    let mut deleted = 0;
    for batch in decision.deletes.chunks(DELETE_BATCH) {
        if crate::interrupt::received().is_some() {
            report.warnings.push(format!(
                "pruning stopped by a signal with {} of {} object(s) no release needs deleted; rerun with --prune to finish",
                deleted,
                decision.deletes.len()
            ));
            break;
        }
        if clock.remaining().is_zero() {
            report.warnings.push(format!(
                "pruning stopped: the publish's deadline passed with {} of {} object(s) no release needs deleted; rerun with --prune to finish",
                deleted,
                decision.deletes.len()
            ));
            break;
        }
        store.delete(batch).await?;
        deleted += batch.len();
    }
    Ok(deleted)
}

/// What the live manifests refer to, read from the store right now.
pub(super) async fn read_live(store: &impl Store, manifest: &ManifestSettings) -> Result<Live> {
    let mut live = Live::default();
    match store.get(&manifest.name).await {
        Ok(bytes) => {
            live.manifest_sha256 = Some(hex::encode(Sha256::digest(&bytes)));
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Ok(parsed) = Manifest::parse(text, manifest) {
                    live.referenced.extend(parsed.outputs(&manifest.output_dir));
                }
            }
            live.referenced.insert(manifest.name.clone());
        }
        Err(StoreError::NotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    match store.get(plan::STATICFILES).await {
        Ok(bytes) => {
            live.referenced.extend(plan::staticfiles_values(&bytes));
            live.referenced.insert(plan::STATICFILES.into());
        }
        Err(StoreError::NotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(live)
}

/// Lists the prefix once no prune is running: a prune that started before this publish's
/// pending record was written may delete what this publish would otherwise skip, so planning
/// waits for it to end and then sees what it deleted.
pub(super) async fn listing_without_prunes(
    store: &impl Store,
    pending_name: &str,
    progress: &dyn Progress,
    clock: &Clock,
) -> Result<BTreeMap<String, ObjectInfo>> {
    let waiting_since = Instant::now();
    let mut now = None;
    loop {
        let listing = store.list().await?;
        // The store's clock: this run's pending record was written just before the first look.
        now = now.or_else(|| listing.get(pending_name).and_then(|info| info.modified));
        let running = guard::running_prunes(
            store,
            &listing,
            now.map(|now| now + waiting_since.elapsed()),
        )
        .await?;
        if running.is_empty() {
            return Ok(listing);
        }
        if clock.remaining() <= PRUNE_POLL {
            return Err(Error::NotPublished {
                message: format!(
                    "a prune of this prefix ({}) was still running when the publish ran out of time. Nothing was sent; the previous release is still live. Rerun when it has finished.",
                    running.join(", ")
                ),
                context: Vec::new(),
            });
        }
        progress.status(&format!(
            "waiting for a prune to finish ({} s)",
            waiting_since.elapsed().as_secs()
        ));
        tokio::select! {
            () = tokio::time::sleep(PRUNE_POLL) => {}
            signal = crate::interrupt::stopping() => return Err(super::stopped_before_manifests(signal)),
        }
    }
}
