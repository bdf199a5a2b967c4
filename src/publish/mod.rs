//! Publish: send the static root to a store (a bucket, or a local directory laid out like one),
//! sending only what changed, the manifests last, then a release record.
//!
//! Plan first ([`plan`]: what is local, what is remote, what differs), from one listing of the
//! prefix and the latest release record ([`release`]), never a request per file; then execute
//! (uploads in parallel, manifests after every other object, the record after the manifests);
//! then report. Runs that share a prefix coordinate through [`guard`]; every phase before the
//! manifests goes up is bounded by the publish's deadline.

pub mod guard;
pub mod plan;
pub mod release;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::config::{ManifestSettings, PublishSettings, RunFlags};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::progress::{Progress, Work};
use crate::store::{AnyStore, Headers, ObjectInfo, Store, StoreError};

use guard::{Holder, Lock};
use plan::{LocalObject, Plan};
use release::{Live, Release, Seen};

/// What a publish did.
#[derive(Debug, Default)]
pub struct Report {
    pub target: String,
    pub sent: usize,
    pub sent_bytes: u64,
    pub skipped: usize,
    /// Content-hashed objects sent again because the stored copy was damaged.
    pub repaired: usize,
    pub deleted: usize,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Requests sent again after a failed attempt.
    pub retries: u64,
    pub elapsed: Duration,
    /// The release record written, if any.
    pub release: Option<String>,
    pub dry_run: bool,
    /// The plan as `--dry-run` prints it.
    pub plan_text: String,
    /// What a person should know although the publish succeeded.
    pub warnings: Vec<String>,
}

/// Uploads that fail one after another, with nothing succeeding in between, before the rest
/// are given up: the endpoint has plainly gone.
const BREAKER: usize = 8;

/// A publish may take this long, plus a second per MiB it sends, unless `timeout` says otherwise.
const BASE_DEADLINE: Duration = Duration::from_secs(120);

/// How long a waiting publish sleeps between looks at a running prune.
const PRUNE_POLL: Duration = Duration::from_secs(1);

/// Publishes the static root to the configured target. The static root is read before the
/// store is opened, so a missing one is a configuration error whatever the credentials.
pub async fn publish(
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    options: RunFlags,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    let local = plan::scan_static_root(settings, manifest)?;
    let store = AnyStore::open(&settings.target).await?;
    publish_to(
        &store, local, settings, manifest, options, progress, started,
    )
    .await
}

/// One run's view of time: when it started and when it must have given up.
struct Clock {
    started: Instant,
    deadline: Instant,
    /// The whole allowance, recorded for other runs (deadline, plus the manifests' own bound).
    allowance: Duration,
}

impl Clock {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Publishes the scanned static root to `store`.
async fn publish_to(
    store: &impl Store,
    local: Vec<LocalObject>,
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    options: RunFlags,
    progress: &dyn Progress,
    started: Instant,
) -> Result<Report> {
    let mut report = Report {
        target: store.describe(),
        dry_run: options.dry_run,
        ..Report::default()
    };
    let this = plan::this_release(&manifest.name, &local);
    let local_bytes: u64 = local.iter().map(|object| object.file.size).sum();
    let budget = settings
        .timeout
        .unwrap_or(BASE_DEADLINE + Duration::from_secs(local_bytes >> 20));
    let manifests_bound = crate::store::request_bound(
        local
            .iter()
            .filter(|object| plan::is_manifest(&manifest.name, &object.name))
            .map(|object| object.file.size)
            .sum(),
    ) * 3;
    let clock = Clock {
        started,
        deadline: started + budget,
        allowance: budget + manifests_bound,
    };
    // A first look, which is all a dry run or a publish with nothing to do needs.
    let looked = tokio::time::timeout(clock.remaining(), async {
        let remote = store.list().await?;
        let latest = release::latest(store, &remote).await?;
        Ok::<_, Error>((remote, latest))
    })
    .await
    .unwrap_or_else(|_| Err(out_of_time_planning(&clock)));
    let (remote, latest) = looked?;
    let mut plan = plan::make_plan(&manifest.name, &local, &remote, latest.as_ref(), options);
    if options.dry_run {
        if options.prune {
            let now = SystemTime::now();
            let mut records = read_records(store, &remote).await?;
            records.push(Seen {
                name: this.name(),
                release: this.clone(),
                modified: Some(now),
            });
            let live = read_live(store, manifest).await?;
            let decision = release::decide(&records, &remote, &live, settings.keep, now);
            plan.deletes = decision.deletes;
            report.warnings = decision.warnings;
        }
        report.plan_text = plan.describe();
        report.skipped = plan.unchanged.len();
        report.requests = store.requests();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let nothing_to_do =
        plan.uploads.is_empty() && plan.manifests.is_empty() && plan.release.is_none();
    if nothing_to_do && !options.prune {
        report.plan_text = plan.describe();
        report.skipped = plan.unchanged.len();
        report.requests = store.requests();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let mut pending = this.clone();
    pending.deadline_secs = Some(clock.allowance.as_secs() + 1);
    let pending_name = pending.pending_name(&run_id());
    store
        .put_bytes(&pending_name, pending.to_json(), &record_headers())
        .await
        .map_err(|error| nothing_changed("writing this release's pending record", error))?;
    let holder = Holder::new(this.created.clone(), clock.allowance);
    let run = Run {
        local: &local,
        settings,
        manifest,
        options,
        progress,
        clock: &clock,
        this: &this,
        pending_name: &pending_name,
    };
    let locked = locked_phase(store, &run, &holder, &mut report).await;
    report.requests = store.requests();
    report.retries = store.retries();
    report.elapsed = clock.started.elapsed();
    locked.map(|()| report)
}

fn out_of_time_planning(clock: &Clock) -> Error {
    Error::NotPublished {
        message: format!(
            "the publish ran out of time ({} s) before it could plan: the store did not answer in time. Nothing was sent; the previous release is still live. Rerun, or raise `timeout`.",
            clock.deadline.duration_since(clock.started).as_secs()
        ),
        context: Vec::new(),
    }
}

/// A name unique to this run, for its pending record and prune notice.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.subsec_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:09}", std::process::id())
}

fn record_headers() -> Headers {
    Headers {
        content_type: "application/json; charset=utf-8".into(),
        cache_control: "no-store".into(),
        ..Headers::default()
    }
}

/// A failure before any manifest was sent: the previous release is still live.
fn nothing_changed(doing: &str, error: StoreError) -> Error {
    Error::NotPublished {
        message: format!(
            "{error} (while {doing}). Nothing that servers read changed: the previous release is still live. Rerun `stapler publish`."
        ),
        context: error.context().map(str::to_string).into_iter().collect(),
    }
}

/// What one publish works from, once its pending record is written.
#[derive(Clone, Copy)]
struct Run<'a> {
    local: &'a [LocalObject],
    settings: &'a PublishSettings,
    manifest: &'a ManifestSettings,
    options: RunFlags,
    progress: &'a dyn Progress,
    clock: &'a Clock,
    this: &'a Release,
    pending_name: &'a str,
}

/// Takes the lock, publishes, and gives the lock back whatever happened.
async fn locked_phase(
    store: &impl Store,
    run: &Run<'_>,
    holder: &Holder,
    report: &mut Report,
) -> Result<()> {
    let (options, pending_name) = (run.options, run.pending_name);
    let forget_pending = || async {
        let _ = store.delete(&[pending_name.to_string()]).await;
    };
    let lock = match guard::lock(store, holder, options.break_lock, pending_name).await {
        Ok(Ok(lock)) => lock,
        Ok(Err(busy)) => {
            forget_pending().await;
            return Err(Error::NotPublished {
                message: busy.describe(),
                context: Vec::new(),
            });
        }
        Err(error) => {
            forget_pending().await;
            return Err(nothing_changed("taking the lock", error));
        }
    };
    if lock == Lock::NotHonoured {
        report.warnings.push(format!(
            "{} does not honour conditional writes, so publishes to this prefix cannot lock each other out: two at once can leave names that are not content-hashed (robots.txt, favicon.ico) from different releases. Content-hashed names and manifests are unaffected.",
            store.describe()
        ));
    }
    let result = publish_locked(store, run, report).await;
    if let Err(error) = guard::unlock(store).await {
        report.warnings.push(format!(
            "the lock {} could not be removed ({error}); the next publish will refuse to start until it is run with --break-lock",
            guard::LOCK
        ));
    }
    if result.is_err() {
        // Left in place after a success or when the manifest may be live, it protects this
        // release's objects; after a failure before the manifests it protects nothing live,
        // and a prune retires it after its deadline anyway.
        if !matches!(result, Err(Error::PartlyPublished { .. })) {
            forget_pending().await;
        }
    }
    result
}

/// The publish proper, with the lock held (or known not to exclude anything).
async fn publish_locked(store: &impl Store, run: &Run<'_>, report: &mut Report) -> Result<()> {
    let Run {
        local,
        settings,
        manifest,
        options,
        progress,
        clock,
        this,
        pending_name,
    } = *run;
    let planned = tokio::time::timeout(clock.remaining(), async {
        let remote = listing_without_prunes(store, pending_name, progress, clock).await?;
        let latest = release::latest(store, &remote).await?;
        Ok::<_, Error>((remote, latest))
    })
    .await;
    let (remote, latest) = match planned {
        Ok(Ok(found)) => found,
        Ok(Err(Error::Store(error))) => return Err(nothing_changed("planning", error)),
        Ok(Err(error)) => return Err(error),
        Err(_) => return Err(out_of_time_planning(clock)),
    };
    let plan = plan::make_plan(&manifest.name, local, &remote, latest.as_ref(), options);
    report.plan_text = plan.describe();
    report.skipped = plan.unchanged.len();
    report.repaired = plan.repairs();
    progress.start(Work::Bytes, plan.upload_bytes());
    let uploaded = upload(settings, store, &plan, progress, clock).await;
    progress.finish();
    (report.sent, report.sent_bytes) = uploaded?;
    let sent_manifests = send_manifests(settings, store, &plan, manifest, latest.as_ref()).await?;
    report.sent += sent_manifests;
    let live_name = this.name();
    if plan.release.is_some() {
        let mut record = this.clone();
        record.deadline_secs = None;
        if let Err(error) = store
            .put_bytes(&live_name, record.to_json(), &record_headers())
            .await
        {
            return Err(Error::PartlyPublished {
                message: format!(
                    "release {live_name} is live, but its record could not be written ({error}). Its pending record {pending_name} still protects its files from pruning; rerun `stapler publish` to write the record."
                ),
                context: error.context().map(str::to_string).into_iter().collect(),
            });
        }
        report.release = Some(live_name.clone());
    }
    if let Err(error) = store.delete(&[pending_name.to_string()]).await {
        report.warnings.push(format!(
            "the pending record {pending_name} could not be removed ({error}); a later prune removes it"
        ));
    }
    if options.prune {
        report.deleted = prune(store, settings, manifest, clock, report)
            .await
            .map_err(|error| Error::PartlyPublished {
                message: format!(
                    "the release is live, but pruning failed: {error}. Rerun `stapler publish --prune` to finish pruning."
                ),
                context: match &error {
                    Error::Store(error) => error.context().map(str::to_string).into_iter().collect(),
                    _ => Vec::new(),
                },
            })?;
    }
    Ok(())
}

/// Lists the prefix once no prune is running: a prune that started before this publish's
/// pending record was written may delete what this publish would otherwise skip, so planning
/// waits for it to end and then sees what it deleted.
async fn listing_without_prunes(
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
        tokio::time::sleep(PRUNE_POLL).await;
    }
}

/// Reads every release record, final and pending, in a listing.
async fn read_records(
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
async fn prune(
    store: &impl Store,
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    clock: &Clock,
    report: &mut Report,
) -> Result<usize> {
    let notice = format!("{}{}.json", guard::PRUNING, run_id());
    let holder = Holder::new(
        time_now(),
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

fn time_now() -> String {
    Release::new(String::new(), BTreeMap::new()).created
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
    if clock.remaining().is_zero() {
        report.warnings.push(format!(
            "pruning skipped: the publish's deadline passed before it could delete the {} object(s) no release needs",
            decision.deletes.len()
        ));
        return Ok(0);
    }
    store.delete(&decision.deletes).await?;
    Ok(decision.deletes.len())
}

/// What the live manifests refer to, read from the store right now.
async fn read_live(store: &impl Store, manifest: &ManifestSettings) -> Result<Live> {
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

/// Sends the uploads, `jobs` at a time, within the deadline, giving up early when the store
/// has plainly gone.
async fn upload(
    settings: &PublishSettings,
    store: &impl Store,
    plan: &Plan,
    progress: &dyn Progress,
    clock: &Clock,
) -> Result<(usize, u64)> {
    use futures::stream::{self, StreamExt};
    let counters = Counters::default();
    let total = plan.uploads.len();
    let retries = async {
        let mut shown = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let retries = store.retries();
            if retries != shown {
                shown = retries;
                progress.status(&format!("retrying: {retries} request(s) sent again"));
            }
        }
    };
    let all = stream::iter(plan.uploads.iter().map(|(object, _)| object))
        .map(|object| {
            let counters = &counters;
            async move {
                let result = send_guarded(settings, store, object, counters, progress).await;
                (object, result)
            }
        })
        .buffer_unordered(settings.jobs)
        .collect::<Vec<_>>();
    let results = tokio::select! {
        results = tokio::time::timeout(clock.remaining(), all) => results,
        // The ticker loops for ever: the uploads always end first.
        () = retries => Ok(Vec::new()),
    };
    let went_up = counters.sent.load(Ordering::Relaxed);
    let Ok(results) = results else {
        return Err(Error::NotPublished {
            message: format!(
                "the publish ran out of time ({} s) with {went_up} of {total} uploads done; the manifest was NOT sent, so servers keep using the previous release. Rerun `stapler publish` to finish (what went up is not sent again), or raise `timeout`.",
                clock.deadline.duration_since(clock.started).as_secs()
            ),
            context: Vec::new(),
        });
    };
    let mut failures = Vec::new();
    let mut given_up = 0;
    for (object, result) in results {
        match result {
            Ok(()) => {}
            Err(Some(error)) => failures.push((object.name.clone(), error)),
            Err(None) => given_up += 1,
        }
    }
    if failures.is_empty() {
        return Ok((went_up, counters.bytes.load(Ordering::Relaxed)));
    }
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    let listed: Vec<String> = failures
        .iter()
        .take(10)
        .map(|(name, error)| format!("  {name}: {error}"))
        .collect();
    let more = failures.len().saturating_sub(10);
    let stopped = if given_up > 0 {
        format!(" {BREAKER} uploads in a row failed, so the other {given_up} were not tried.")
    } else {
        String::new()
    };
    Err(Error::NotPublished {
        message: format!(
            "{} of {total} uploads failed after retries and {went_up} succeeded.{stopped} The manifest was NOT sent, so servers keep using the previous release. Rerun `stapler publish` to finish.\n{}{}",
            failures.len(),
            listed.join("\n"),
            if more > 0 { format!("\n  … and {more} more") } else { String::new() }
        ),
        context: failures
            .iter()
            .filter_map(|(name, error)| error.context().map(|context| format!("{name}: {context}")))
            .collect(),
    })
}

/// What the uploads have done so far, shared by those in flight.
#[derive(Default)]
struct Counters {
    sent: AtomicUsize,
    bytes: AtomicU64,
    /// Failures since the last success.
    failing: AtomicUsize,
    /// Set once [`BREAKER`] uploads failed in a row: the others are not tried.
    broken: AtomicBool,
}

/// Sends one object unless the breaker is open: `Err(None)` when it was not tried.
async fn send_guarded(
    settings: &PublishSettings,
    store: &impl Store,
    object: &LocalObject,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<(), Option<StoreError>> {
    if counters.broken.load(Ordering::Relaxed) {
        return Err(None);
    }
    match send_one(settings, store, object, &counters.bytes, progress).await {
        Ok(()) => {
            counters.failing.store(0, Ordering::Relaxed);
            counters.sent.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(error) => {
            if counters.failing.fetch_add(1, Ordering::Relaxed) + 1 >= BREAKER {
                counters.broken.store(true, Ordering::Relaxed);
            }
            Err(Some(error))
        }
    }
}

/// Sends the manifests, one after the other, after every other object. When one fails, the
/// store is asked which manifests it now holds, so the message says which release is live.
async fn send_manifests(
    settings: &PublishSettings,
    store: &impl Store,
    plan: &Plan,
    manifest: &ManifestSettings,
    latest: Option<&Release>,
) -> Result<usize> {
    let sent_bytes = AtomicU64::new(0);
    let quiet = crate::progress::Quiet;
    let mut sent = 0;
    for (object, _) in &plan.manifests {
        let Err(error) = send_one(settings, store, object, &sent_bytes, &quiet).await else {
            sent += 1;
            continue;
        };
        let context: Vec<String> = error.context().map(str::to_string).into_iter().collect();
        let live = manifests_live(store, plan).await;
        let previous = latest.map(Release::name).unwrap_or_else(|| "none".into());
        return Err(match live {
            Ok(0) => Error::NotPublished {
                message: format!(
                    "every object was uploaded but the manifest {} was not ({error}); the store still holds the previous manifest, so release {previous} is still live. Rerun `stapler publish` to send it.",
                    object.name
                ),
                context,
            },
            Ok(count) if count == plan.manifests.len() => Error::PartlyPublished {
                message: format!(
                    "the manifest {} reached the store although its answer was lost ({error}): the new release is live, but its record was not written. Rerun `stapler publish` to write it.",
                    object.name
                ),
                context,
            },
            Ok(_) => Error::PartlyPublished {
                message: format!(
                    "the manifest {} was not sent ({error}) after the other manifest was: servers reading {} see the new release and the rest the previous one. Rerun `stapler publish` to finish.",
                    object.name, manifest.name
                ),
                context,
            },
            Err(check) => Error::PartlyPublished {
                message: format!(
                    "sending the manifest {} failed ({error}) and the store could not be asked what it now holds ({check}): the new release may or may not be live. Rerun `stapler publish` to finish.",
                    object.name
                ),
                context,
            },
        });
    }
    Ok(sent)
}

/// How many of the plan's manifests the store holds with this publish's bytes.
async fn manifests_live(store: &impl Store, plan: &Plan) -> Result<usize, StoreError> {
    let mut live = 0;
    for (object, _) in &plan.manifests {
        match store.get(&object.name).await {
            Ok(bytes) if Md5::digest(&bytes).as_slice() == object.file.md5 => live += 1,
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(live)
}

async fn send_one(
    settings: &PublishSettings,
    store: &impl Store,
    object: &LocalObject,
    sent_bytes: &AtomicU64,
    progress: &dyn Progress,
) -> Result<(), crate::store::StoreError> {
    let headers = headers_for(settings, object);
    store.put_file(&object.name, &object.file, &headers).await?;
    sent_bytes.fetch_add(object.file.size, Ordering::Relaxed);
    progress.advance(object.file.size);
    Ok(())
}

/// `Content-Type` from the extension (with `charset=utf-8` for text), and `Cache-Control` by
/// whether the name is content-hashed.
fn headers_for(settings: &PublishSettings, object: &LocalObject) -> Headers {
    Headers {
        content_type: content_type(&object.name),
        cache_control: if object.hashed {
            settings.cache_control_hashed.clone()
        } else {
            settings.cache_control.clone()
        },
        extra: settings.headers.clone(),
        acl: settings.acl.clone(),
    }
}

/// The MIME type of a name, with `charset=utf-8` for every text type.
pub fn content_type(name: &str) -> String {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    // Where the table behind mime_guess lags the registrations browsers follow (RFC 9239
    // made JavaScript text/javascript) or lacks source maps.
    let mime: mime_guess::Mime = match extension.as_str() {
        "js" | "mjs" | "cjs" => mime_guess::mime::TEXT_JAVASCRIPT,
        "map" => mime_guess::mime::APPLICATION_JSON,
        _ => mime_guess::from_ext(&extension).first_or_octet_stream(),
    };
    let is_text = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "json" | "xml" | "javascript")
        || mime
            .suffix()
            .is_some_and(|suffix| matches!(suffix.as_str(), "json" | "xml"));
    if is_text {
        format!("{mime}; charset=utf-8")
    } else {
        mime.essence_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_carry_a_charset() {
        let cases = [
            ("CACHE/css/output.1.css", "text/css; charset=utf-8"),
            ("CACHE/js/output.1.js", "text/javascript; charset=utf-8"),
            (
                "CACHE/js/output.1.js.map",
                "application/json; charset=utf-8",
            ),
            ("staticfiles.json", "application/json; charset=utf-8"),
            ("img/bg.svg", "image/svg+xml; charset=utf-8"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("img/logo.PNG", "image/png"),
            ("fonts/a.woff2", "font/woff2"),
            ("LICENSE", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(name), expected, "{name}");
        }
    }
}
