//! Publish: send the static root to a store (a bucket, or a local directory laid out like one),
//! sending only what changed, the manifests last, then a release record.
//!
//! Plan first ([`plan`]: what is local, what is remote, what differs), from one listing of the
//! prefix and the latest release record ([`release`]), never a request per file; then execute
//! (uploads in parallel, manifests after every other object, the record after the manifests);
//! then report ([`send`]). Runs that share a prefix coordinate through [`guard`], and `--prune`
//! ([`prune`]) deletes only what no live, recent or running release needs; every phase before
//! the manifests go up is bounded by the publish's deadline.

pub mod guard;
pub mod plan;
mod prune;
pub mod release;
pub mod rolling;
mod send;
pub mod verify;

use std::time::{Duration, Instant, SystemTime};

use crate::config::{ManifestSettings, PublishSettings, RunFlags};
use crate::error::{Error, Result};
use crate::progress::{Progress, Work};
use crate::store::{AnyStore, Headers, Store, StoreError};

use guard::{Holder, Lock};
use plan::LocalObject;
use release::{Release, Seen};

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
    /// With `manifest_keep`: the keys the published manifest holds only for earlier releases,
    /// and how many releases they come from.
    pub earlier_keys: Option<(usize, usize)>,
    /// Names sent that were there before with other content and are not content-hashed: what
    /// a CDN may still serve stale.
    pub changed_unhashed: Vec<String>,
    /// What CloudFront was asked to invalidate.
    pub invalidated: Option<crate::store::cloudfront::Invalidated>,
    /// Every object this release sent, the manifests included: (name, local file, hashed).
    pub added: Vec<(String, std::path::PathBuf, bool)>,
    /// What `--verify` found.
    pub verified: Option<verify::Verified>,
}

/// A publish may take this long, plus a second per MiB it sends, unless `timeout` says otherwise.
const BASE_DEADLINE: Duration = Duration::from_secs(120);

/// Publishes the static root to the configured target. The static root is read before the
/// store is opened, so a missing one is a configuration error whatever the credentials.
pub async fn publish(
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    options: RunFlags,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    if settings.verify && settings.public_url.is_none() && !options.dry_run {
        return Err(Error::config(
            "--verify",
            "needs the URL visitors fetch the static root at: set `public_url` in [publish] or pass --public-url",
        ));
    }
    // A signal stops the publish at its next safe point, not at once.
    let _cooperating = crate::interrupt::Cooperating::start();
    let local = plan::scan_static_root(settings, manifest)?;
    let store = AnyStore::open(&settings.target).await?;
    let mut report = publish_to(
        &store, local, settings, manifest, options, progress, started,
    )
    .await?;
    if let Some(cloudfront) = &settings.cloudfront {
        let invalidator = invalidator(cloudfront, settings);
        if options.dry_run {
            let paths = invalidator.paths(&report.changed_unhashed);
            report.plan_text.push_str(&format!(
                "CloudFront {}: would invalidate {}\n",
                cloudfront.distribution_id,
                if paths.is_empty() {
                    "nothing (no name that is not content-hashed changes)".to_string()
                } else {
                    paths.join(" ")
                }
            ));
        } else {
            report.invalidated = Some(invalidate(&invalidator, &report, options).await?);
        }
    }
    Ok(report)
}

/// The CloudFront client's settings for this target.
fn invalidator(
    cloudfront: &crate::config::CloudFrontSettings,
    settings: &PublishSettings,
) -> crate::store::cloudfront::Invalidator {
    let prefix = match &settings.target {
        crate::config::Target::S3(s3) => s3.prefix.clone(),
        crate::config::Target::Dir(_) => String::new(),
    };
    crate::store::cloudfront::Invalidator {
        distribution_id: cloudfront.distribution_id.clone(),
        path_prefix: cloudfront.path_prefix.clone().unwrap_or(prefix),
        max_paths: cloudfront.max_paths,
        endpoint_url: cloudfront.endpoint_url.clone(),
        region: None,
    }
}

/// How long `--wait` waits for CloudFront.
const INVALIDATION_WAIT: Duration = Duration::from_secs(15 * 60);

/// Tells CloudFront to forget the changed names that are not content-hashed, once the manifest
/// is up. A failure leaves the release live, and says how to finish by hand.
async fn invalidate(
    invalidator: &crate::store::cloudfront::Invalidator,
    report: &Report,
    options: RunFlags,
) -> Result<crate::store::cloudfront::Invalidated> {
    let names = &report.changed_unhashed;
    invalidator
        .invalidate(names, options.wait, INVALIDATION_WAIT)
        .await
        .map_err(|error| {
            let paths = invalidator.paths(names);
            Error::PartlyPublished {
                message: format!(
                    "{error}. The release is live, but the CDN may serve the old copies of {} name(s) until their cache time runs out; invalidate them by hand: aws cloudfront create-invalidation --distribution-id {} --paths {}",
                    names.len(),
                    invalidator.distribution_id,
                    paths.join(" ")
                ),
                context: Vec::new(),
            }
        })
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
    mut local: Vec<LocalObject>,
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
    // Held until the publish ends: the merged manifest lives in it.
    let rolled = if settings.manifest_keep > 1 {
        rolling::merge_earlier(store, &remote, &mut local, manifest, settings.manifest_keep).await?
    } else {
        None
    };
    report.earlier_keys = rolled
        .as_ref()
        .map(|rolled| (rolled.earlier_keys, rolled.earlier_releases));
    let this = plan::this_release(&manifest.name, &local);
    let mut plan = plan::make_plan(
        &manifest.name,
        &local,
        &this,
        &remote,
        latest.as_ref(),
        options,
    );
    if options.dry_run && options.prune {
        let now = SystemTime::now();
        let mut records = prune::read_records(store, &remote).await?;
        // The record this publish would write, when it writes one.
        if plan.release.is_some() {
            records.push(Seen {
                name: this.name(),
                release: this.clone(),
                modified: Some(now),
            });
        }
        let live = prune::read_live(store, manifest).await?;
        let decision = release::decide(&records, &remote, &live, settings.keep, now);
        plan.deletes = decision.deletes;
        report.warnings = decision.warnings;
    }
    let changed_unhashed: Vec<String> = plan
        .uploads
        .iter()
        .chain(&plan.manifests)
        .filter(|(object, reason)| {
            !object.hashed && matches!(reason, plan::Reason::Changed | plan::Reason::Forced)
        })
        .map(|(object, _)| object.name.clone())
        .collect();
    let nothing_to_do =
        plan.uploads.is_empty() && plan.manifests.is_empty() && plan.release.is_none();
    if options.dry_run || (nothing_to_do && !options.prune) {
        if options.dry_run {
            report.changed_unhashed = changed_unhashed;
        }
        report.plan_text = plan.describe();
        report.skipped = plan.unchanged.len();
        report.requests = store.requests();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    if let Some(signal) = crate::interrupt::received() {
        return Err(stopped_before_manifests(signal));
    }
    let mut pending = this.clone();
    pending.deadline_secs = Some(clock.allowance.as_secs() + 1);
    let pending_name = pending.pending_name(&run_id());
    let headers = record_headers();
    let written = tokio::select! {
        written = store.put_bytes(&pending_name, pending.to_json(), &headers) => written,
        signal = crate::interrupt::stopping() => {
            // The record may have landed: it is withdrawn, and a prune retires it anyway.
            let _ = store.delete(std::slice::from_ref(&pending_name)).await;
            return Err(stopped_before_manifests(signal));
        }
    };
    written.map_err(|error| nothing_changed("writing this release's pending record", error))?;
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
    if locked.is_ok() {
        report.changed_unhashed = changed_unhashed;
    }
    let locked = match (locked, &settings.public_url) {
        (Ok(()), Some(public_url)) if settings.verify => {
            verify::verify_release(
                public_url,
                settings,
                manifest,
                &local,
                clock.remaining(),
                &mut report,
            )
            .await
        }
        (locked, _) => locked,
    };
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

/// Stopped by a signal before the manifests were sent.
pub(super) fn stopped_before_manifests(signal: i32) -> Error {
    Error::NotPublished {
        message: format!(
            "stopped by {} before the manifests were sent: servers keep using the previous release. This run's pending record and lock are removed, so the next publish starts without --break-lock; what went up is not sent again.",
            crate::interrupt::name(signal)
        ),
        context: Vec::new(),
    }
}

/// Stopped by a signal after the manifests went up.
fn stopped_after_manifests(signal: i32, what: &str) -> Error {
    Error::PartlyPublished {
        message: format!(
            "stopped by {} after the manifests went up: the new release is live; {what}.",
            crate::interrupt::name(signal)
        ),
        context: Vec::new(),
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
    let wait_until = options.lock_wait.map(|seconds| match seconds {
        Some(seconds) => (Instant::now() + Duration::from_secs(seconds)).min(run.clock.deadline),
        None => run.clock.deadline,
    });
    let taken = tokio::select! {
        taken = guard::lock(store, holder, options.break_lock, pending_name, wait_until) => taken,
        signal = crate::interrupt::stopping() => {
            // The lock may have been written as the request was dropped.
            let _ = guard::unlock_if_ours(store, holder).await;
            forget_pending().await;
            return Err(stopped_before_manifests(signal));
        }
    };
    let lock = match taken {
        Ok(Ok(taken)) => {
            report.warnings.extend(taken.took_over);
            taken.lock
        }
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
    let planned = tokio::select! {
        planned = tokio::time::timeout(clock.remaining(), async {
            let remote = prune::listing_without_prunes(store, pending_name, progress, clock).await?;
            let latest = release::latest(store, &remote).await?;
            Ok::<_, Error>((remote, latest))
        }) => planned,
        signal = crate::interrupt::stopping() => return Err(stopped_before_manifests(signal)),
    };
    let (remote, latest) = match planned {
        Ok(Ok(found)) => found,
        Ok(Err(Error::Store(error))) => return Err(nothing_changed("planning", error)),
        Ok(Err(error)) => return Err(error),
        Err(_) => return Err(out_of_time_planning(clock)),
    };
    let plan = plan::make_plan(
        &manifest.name,
        local,
        this,
        &remote,
        latest.as_ref(),
        options,
    );
    report.plan_text = plan.describe();
    report.skipped = plan.unchanged.len();
    report.repaired = plan.repairs();
    if let Some(signal) = crate::interrupt::received() {
        return Err(stopped_before_manifests(signal));
    }
    progress.start(Work::Bytes, plan.upload_bytes());
    // On a signal the uploads in flight are abandoned (their requests dropped) and none starts.
    let uploaded = tokio::select! {
        uploaded = send::upload(settings, store, &plan, progress, clock) => uploaded,
        signal = crate::interrupt::stopping() => Err(stopped_before_manifests(signal)),
    };
    progress.finish();
    (report.sent, report.sent_bytes) = uploaded?;
    report.added = plan
        .uploads
        .iter()
        .chain(&plan.manifests)
        .map(|(object, _)| (object.name.clone(), object.file.path.clone(), object.hashed))
        .collect();
    if let Some(signal) = crate::interrupt::received() {
        return Err(stopped_before_manifests(signal));
    }
    if clock.remaining().is_zero() {
        return Err(Error::NotPublished {
            message: format!(
                "the publish ran out of time ({} s) after its uploads, so the manifests were NOT sent: servers keep using the previous release. Rerun `stapler publish` to finish (what went up is not sent again), or raise `timeout`.",
                clock.deadline.duration_since(clock.started).as_secs()
            ),
            context: Vec::new(),
        });
    }
    let sent_manifests =
        send::send_manifests(settings, store, &plan, manifest, latest.as_ref()).await?;
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
    if let (true, Some(signal)) = (options.prune, crate::interrupt::received()) {
        return Err(stopped_after_manifests(
            signal,
            "pruning was skipped; rerun `stapler publish --prune` to prune",
        ));
    }
    if options.prune {
        report.deleted = prune::prune(store, settings, manifest, clock, report)
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
    // A signal that came while the manifests went up: the release is live and recorded, and
    // the run still says it was stopped.
    if let Some(signal) = crate::interrupt::received() {
        return Err(stopped_after_manifests(signal, "its record is written"));
    }
    Ok(())
}

pub use send::content_type;
