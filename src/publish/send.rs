//! Sending: the uploads in parallel within the deadline and behind a breaker, then the
//! manifests one by one, with the store asked which release is live when one fails.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};

use crate::config::{ManifestSettings, PublishSettings};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::{Headers, Store, StoreError};

use super::plan::{LocalObject, Plan};
use super::release::Release;
use super::Clock;

/// Uploads that fail one after another, with nothing succeeding in between, before the rest
/// are given up: the endpoint has plainly gone.
const BREAKER: usize = 8;

/// Sends the uploads, `jobs` at a time, within the deadline, giving up early when the store
/// has plainly gone.
pub(super) async fn upload(
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
pub(super) async fn send_manifests(
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
