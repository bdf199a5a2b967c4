//! Publish: send the static root to a store (a bucket, or a local directory laid out like one),
//! sending only what changed, the manifests last, then a release record.
//!
//! Plan first ([`plan`]: what is local, what is remote, what differs), from one listing of the
//! prefix and the latest release record ([`release`]), never a request per file; then execute
//! (uploads in parallel, manifests after every other object, the record after the manifests);
//! then report.

pub mod plan;
pub mod release;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{ManifestSettings, PublishSettings, RunFlags};
use crate::error::{Error, Result};
use crate::progress::{Progress, Work};
use crate::store::{AnyStore, Headers, Store};

use plan::{LocalObject, Plan};
use release::Release;

/// What a publish did.
#[derive(Debug, Default)]
pub struct Report {
    pub target: String,
    pub sent: usize,
    pub sent_bytes: u64,
    pub skipped: usize,
    pub deleted: usize,
    /// HTTP requests made, retries included.
    pub requests: u64,
    pub elapsed: Duration,
    /// The release record written, if any.
    pub release: Option<String>,
    pub dry_run: bool,
    /// The plan as `--dry-run` prints it.
    pub plan_text: String,
}

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
    let remote = store.list().await?;
    let latest = release::latest(store, &remote).await?;
    let mut plan = plan::make_plan(
        &manifest.name,
        &local,
        &remote,
        latest.as_ref(),
        options.force,
    );
    if options.prune {
        plan.deletes =
            release::prune_candidates(store, &remote, plan.release.as_ref(), settings.keep).await?;
    }
    let mut report = Report {
        target: store.describe(),
        dry_run: options.dry_run,
        plan_text: plan.describe(),
        skipped: plan.unchanged.len(),
        ..Report::default()
    };
    if options.dry_run {
        report.requests = store.requests();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    progress.start(Work::Bytes, plan.upload_bytes());
    let result = execute(settings, store, &plan, progress).await;
    progress.finish();
    (report.sent, report.sent_bytes) = result?;
    if let Some(release) = &plan.release {
        write_record(store, release).await?;
        report.release = Some(release.name());
    }
    if !plan.deletes.is_empty() {
        store.delete(&plan.deletes).await?;
        report.deleted = plan.deletes.len();
    }
    report.requests = store.requests();
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn write_record(store: &impl Store, release: &Release) -> Result<()> {
    let headers = Headers {
        content_type: "application/json".into(),
        cache_control: "no-cache".into(),
        ..Headers::default()
    };
    store
        .put_bytes(&release.name(), release.to_json(), &headers)
        .await?;
    Ok(())
}

/// Sends the uploads, `jobs` at a time, then the manifests, each with its headers.
async fn execute(
    settings: &PublishSettings,
    store: &impl Store,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<(usize, u64)> {
    use futures::stream::{self, StreamExt};
    let sent_bytes = AtomicU64::new(0);
    let send = |object| send_one(settings, store, object, &sent_bytes, progress);
    let results: Vec<_> = stream::iter(plan.uploads.iter().map(|(object, _)| object))
        .map(|object| async move { (object, send(object).await) })
        .buffer_unordered(settings.jobs)
        .collect()
        .await;
    let mut sent = 0usize;
    let mut failures = Vec::new();
    for (object, result) in results {
        match result {
            Ok(()) => sent += 1,
            Err(error) => failures.push((object.name.clone(), error)),
        }
    }
    if !failures.is_empty() {
        failures.sort_by(|a, b| a.0.cmp(&b.0));
        let listed: Vec<String> = failures
            .iter()
            .take(10)
            .map(|(name, error)| format!("  {name}: {error}"))
            .collect();
        let more = failures.len().saturating_sub(10);
        return Err(Error::NotPublished {
            message: format!(
                "{} of {} uploads failed after retries and {sent} succeeded; the manifest was NOT sent, so servers keep using the previous release. Rerun `stapler publish` to finish.\n{}{}",
                failures.len(),
                plan.uploads.len(),
                listed.join("\n"),
                if more > 0 { format!("\n  … and {more} more") } else { String::new() }
            ),
        });
    }
    for (object, _) in &plan.manifests {
        send(object).await.map_err(|error| Error::NotPublished {
            message: format!(
                "every object was uploaded but the manifest {} was not ({error}); rerun `stapler publish` to send it",
                object.name
            ),
        })?;
        sent += 1;
    }
    Ok((sent, sent_bytes.load(Ordering::Relaxed)))
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
