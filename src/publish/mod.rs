//! Publish: send the static root to a bucket (or a local directory laid out like one), sending
//! only what changed, the manifests last, then a release record.
//!
//! Plan first (what is local, what is remote, what differs), from one listing of the prefix and
//! the latest release record, never a request per file; then execute (uploads in parallel,
//! manifests after every other object, the record after the manifests); then report.

pub mod local;
pub mod s3;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Location, Result};

/// Where release records live, under the prefix.
pub const RELEASES: &str = ".stapler/releases/";

/// What the command line asks for beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print the plan; send nothing.
    pub dry_run: bool,
    /// Send every object, changed or not.
    pub force: bool,
    /// Delete objects no recent release references.
    pub prune: bool,
}

/// A file of the static root.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalObject {
    /// The object's name under the prefix, `/`-separated.
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub md5: [u8; 16],
    /// Content-hashed names never change content, so they are cached for a year.
    pub hashed: bool,
}

impl LocalObject {
    pub fn md5_hex(&self) -> String {
        hex(&self.md5)
    }

    /// Refuses bytes read for upload that are not what the plan hashed: the file changed (or
    /// was replaced) while publishing, and sending it would break the release record.
    pub fn check_unchanged(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 == self.size && Md5::digest(bytes).as_slice() == self.md5 {
            return Ok(());
        }
        Err(Error::input(
            Location::file(&self.path),
            "changed while publishing; rerun `stapler publish`",
        ))
    }
}

/// What the remote side holds for a name.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteObject {
    pub size: u64,
    /// The object's MD5 when its ETag is one (single-part uploads); `None` for multipart.
    pub md5: Option<String>,
}

/// A release record: every object a publish left in place, with its MD5 and size.
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

/// Why an object is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    New,
    Changed,
    Forced,
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
    pub release: Option<(String, Release)>,
}

impl Plan {
    pub fn upload_bytes(&self) -> u64 {
        self.uploads
            .iter()
            .chain(&self.manifests)
            .map(|(object, _)| object.size)
            .sum()
    }

    pub fn unchanged_bytes(&self) -> u64 {
        self.unchanged.iter().map(|object| object.size).sum()
    }

    /// The plan as `--dry-run` prints it.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (object, reason) in self.uploads.iter().chain(&self.manifests) {
            let word = match reason {
                Reason::New => "new",
                Reason::Changed => "changed",
                Reason::Forced => "forced",
            };
            out.push_str(&format!(
                "{word:>12}  {}  ({} bytes)\n",
                object.name, object.size
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
            "plan: {} new, {} changed, {} forced ({} bytes to send); {} unchanged ({} bytes); {} would-delete\n",
            count(Reason::New),
            count(Reason::Changed),
            count(Reason::Forced),
            self.upload_bytes(),
            self.unchanged.len(),
            self.unchanged_bytes(),
            self.deletes.len()
        ));
        out
    }
}

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
    pub release: Option<String>,
    pub dry_run: bool,
    pub plan_text: String,
}

/// Hooks for showing progress; the library never prints.
pub trait Progress: Sync + Send {
    fn start(&self, _files: u64, _bytes: u64) {}
    fn sent(&self, _bytes: u64) {}
    fn finish(&self) {}
}

/// Progress that shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Where objects go.
pub enum Target {
    Local(local::LocalTarget),
    S3(s3::S3Target),
}

/// The headers an object is stored with.
#[derive(Debug, Clone, PartialEq)]
pub struct Headers {
    pub content_type: String,
    pub cache_control: String,
    pub extra: BTreeMap<String, String>,
    pub acl: Option<String>,
}

impl Target {
    pub async fn open(config: &Config) -> Result<Target> {
        let to = &config.publish.to;
        if let Some(path) = to.strip_prefix("file://") {
            return Ok(Target::Local(local::LocalTarget::new(Path::new(path))));
        }
        Ok(Target::S3(s3::S3Target::connect(&config.publish).await?))
    }

    fn describe(&self) -> String {
        match self {
            Target::Local(target) => target.describe(),
            Target::S3(target) => target.describe(),
        }
    }

    async fn list(&self) -> Result<BTreeMap<String, RemoteObject>> {
        match self {
            Target::Local(target) => target.list(),
            Target::S3(target) => target.list().await,
        }
    }

    async fn get(&self, name: &str) -> Result<Vec<u8>> {
        match self {
            Target::Local(target) => target.get(name),
            Target::S3(target) => target.get(name).await,
        }
    }

    async fn put_file(
        &self,
        object: &LocalObject,
        headers: &Headers,
        multipart_threshold: u64,
    ) -> Result<()> {
        match self {
            Target::Local(target) => target.put_file(object),
            Target::S3(target) => target.put_file(object, headers, multipart_threshold).await,
        }
    }

    async fn put_bytes(&self, name: &str, bytes: Vec<u8>, headers: &Headers) -> Result<()> {
        match self {
            Target::Local(target) => target.put_bytes(name, &bytes),
            Target::S3(target) => target.put_bytes(name, bytes, headers).await,
        }
    }

    async fn delete(&self, names: &[String]) -> Result<()> {
        match self {
            Target::Local(target) => target.delete(names),
            Target::S3(target) => target.delete(names).await,
        }
    }

    fn requests(&self) -> u64 {
        match self {
            Target::Local(_) => 0,
            Target::S3(target) => target.requests(),
        }
    }
}

/// Publishes `config.static_root` to `config.publish.to`.
pub fn publish(config: &Config, options: &Options, progress: &dyn Progress) -> Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(4)
        .build()
        .map_err(|error| Error::io(Path::new("tokio runtime"), "starting", error))?;
    runtime.block_on(publish_async(config, options, progress))
}

async fn publish_async(
    config: &Config,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    let local = scan_static_root(config)?;
    let target = Target::open(config).await?;
    let remote = target.list().await?;
    let releases: Vec<&String> = remote
        .keys()
        .filter(|name| name.starts_with(RELEASES))
        .collect();
    let latest = match releases.last() {
        Some(name) => Some(parse_release(name, &target.get(name).await?)?),
        None => None,
    };
    let mut plan = make_plan(config, &local, &remote, latest.as_ref(), options.force);
    if options.prune {
        plan.deletes = prune_candidates(&target, &remote, &plan, config.publish.keep).await?;
    }
    let mut report = Report {
        target: target.describe(),
        dry_run: options.dry_run,
        plan_text: plan.describe(),
        ..Report::default()
    };
    report.skipped = plan.unchanged.len();
    if options.dry_run {
        report.requests = target.requests();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    progress.start(
        (plan.uploads.len() + plan.manifests.len()) as u64,
        plan.upload_bytes(),
    );
    let result = execute(config, &target, &plan, progress).await;
    progress.finish();
    let (sent, sent_bytes) = result?;
    report.sent = sent;
    report.sent_bytes = sent_bytes;
    if let Some((name, release)) = &plan.release {
        let bytes = serde_json::to_vec_pretty(release).unwrap_or_default();
        let headers = Headers {
            content_type: "application/json".into(),
            cache_control: "no-cache".into(),
            extra: BTreeMap::new(),
            acl: None,
        };
        target.put_bytes(name, bytes, &headers).await?;
        report.release = Some(name.clone());
    }
    if !plan.deletes.is_empty() {
        target.delete(&plan.deletes).await?;
        report.deleted = plan.deletes.len();
    }
    report.requests = target.requests();
    report.elapsed = started.elapsed();
    Ok(report)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks the static root, hashing every file while reading it once, in parallel.
fn scan_static_root(config: &Config) -> Result<Vec<LocalObject>> {
    let root = &config.static_root;
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
        if entry.file_type().is_file() {
            let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            // Temporary files a crashed build left behind (ours, and tempfile's `.tmpXXXX`).
            let file_name = name.rsplit('/').next().unwrap_or(&name);
            if file_name.ends_with(".stapler-tmp") || file_name.starts_with(".tmp") {
                continue;
            }
            paths.push((name, entry.path().to_path_buf()));
        }
    }
    // Bundles left by earlier builds that the current manifest no longer uses are not part of
    // this release: they are neither sent nor recorded, so pruning can retire them.
    if let Some(used) = outputs_in_use(config) {
        let output_prefix = format!("{}/", config.output_dir);
        let manifest = manifest_name(config);
        paths.retain(|(name, _)| {
            !name.starts_with(&output_prefix) || *name == manifest || used.contains(name)
        });
    }
    let staticfiles = django_manifest_values(root);
    let pattern = regex::Regex::new(&config.publish.hashed_pattern)
        .map_err(|error| Error::config("[publish] hashed_pattern", error.to_string()))?;
    let output_prefix = format!("{}/", config.output_dir);
    paths
        .par_iter()
        .map(|(name, path)| {
            let (size, md5) = md5_file(path)?;
            let hashed = (name.starts_with(&output_prefix) && name != &manifest_name(config))
                || staticfiles.contains(name)
                || pattern.is_match(name);
            Ok(LocalObject {
                name: name.clone(),
                path: path.clone(),
                size,
                md5,
                hashed,
            })
        })
        .collect()
}

/// The output files the current offline manifest refers to, or `None` without a manifest.
fn outputs_in_use(config: &Config) -> Option<HashSet<String>> {
    let text = std::fs::read_to_string(config.manifest_path()).ok()?;
    let entries: BTreeMap<String, String> = serde_json::from_str(&text).ok()?;
    let prefix = format!("{}{}/", config.url_placeholder, config.output_dir);
    let mut used = HashSet::new();
    for value in entries.values() {
        let mut rest = value.as_str();
        while let Some(at) = rest.find(&prefix) {
            let tail = &rest[at + config.url_placeholder.len()..];
            let end = tail.find(['"', '\'', ' ', '>', ')']).unwrap_or(tail.len());
            used.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    Some(used)
}

fn manifest_name(config: &Config) -> String {
    format!("{}/{}", config.output_dir, config.offline_manifest)
}

/// The hashed names Django's `ManifestStaticFilesStorage` wrote into `staticfiles.json`.
fn django_manifest_values(root: &Path) -> HashSet<String> {
    #[derive(Deserialize)]
    struct StaticFiles {
        paths: BTreeMap<String, String>,
    }
    std::fs::read(root.join("staticfiles.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<StaticFiles>(&bytes).ok())
        .map(|manifest| manifest.paths.into_values().collect())
        .unwrap_or_default()
}

/// Size and MD5 of a file, read once in 1 MiB pieces.
pub fn md5_file(path: &Path) -> Result<(u64, [u8; 16])> {
    let mut file = std::fs::File::open(path).map_err(|error| {
        Error::input(
            Location::file(path),
            format!("cannot be read ({error}); it may have vanished while publishing"),
        )
    })?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| Error::io(path, "reading", error))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((size, hasher.finalize().into()))
}

fn parse_release(name: &str, bytes: &[u8]) -> Result<Release> {
    serde_json::from_slice(bytes).map_err(|error| {
        Error::input(
            Location::file(name),
            format!("is not a stapler release record ({error}); delete it from the bucket"),
        )
    })
}

/// Decides what to send. A content-hashed name present remotely is never re-sent.
pub fn make_plan(
    config: &Config,
    local: &[LocalObject],
    remote: &BTreeMap<String, RemoteObject>,
    latest: Option<&Release>,
    force: bool,
) -> Plan {
    let manifests = [manifest_name(config), "staticfiles.json".to_string()];
    let mut plan = Plan::default();
    for object in local {
        let reason = if force {
            Some(Reason::Forced)
        } else {
            match remote.get(&object.name) {
                None => Some(Reason::New),
                Some(_) if object.hashed => None,
                Some(there) if there.size != object.size => Some(Reason::Changed),
                Some(there) => {
                    let known_md5 = there.md5.clone().or_else(|| {
                        latest
                            .and_then(|release| release.objects.get(&object.name))
                            .map(|recorded| recorded.md5.clone())
                    });
                    if known_md5.as_deref() == Some(object.md5_hex().as_str()) {
                        None
                    } else {
                        Some(Reason::Changed)
                    }
                }
            }
        };
        match reason {
            None => plan.unchanged.push(object.clone()),
            Some(reason) if manifests.contains(&object.name) => {
                plan.manifests.push((object.clone(), reason))
            }
            Some(reason) => plan.uploads.push((object.clone(), reason)),
        }
    }
    let objects: BTreeMap<String, RecordedObject> = local
        .iter()
        .map(|object| {
            (
                object.name.clone(),
                RecordedObject {
                    md5: object.md5_hex(),
                    size: object.size,
                },
            )
        })
        .collect();
    let manifest_sha256 = local
        .iter()
        .find(|object| object.name == manifests[0])
        .and_then(|object| std::fs::read(&object.path).ok())
        .map(|bytes| {
            use sha2::Digest as _;
            hex(&sha2::Sha256::digest(&bytes))
        })
        .unwrap_or_default();
    let unchanged_release = latest.is_some_and(|release| {
        release.objects == objects && release.manifest_sha256 == manifest_sha256
    });
    if !unchanged_release || force {
        let created = utc_timestamp(SystemTime::now());
        let name = format!(
            "{RELEASES}{created}-{}.json",
            &manifest_sha256.get(..12).unwrap_or("none")
        );
        plan.release = Some((
            name,
            Release {
                created,
                manifest_sha256,
                objects,
            },
        ));
    }
    plan
}

/// What `--prune` deletes: objects that an older release record lists and none of the `keep`
/// newest releases (this one included) uses, and those older records themselves. Objects no
/// stapler release ever listed (uploaded by something else) are never touched.
async fn prune_candidates(
    target: &Target,
    remote: &BTreeMap<String, RemoteObject>,
    plan: &Plan,
    keep: usize,
) -> Result<Vec<String>> {
    let mut records: Vec<&String> = remote
        .keys()
        .filter(|name| name.starts_with(RELEASES))
        .collect();
    records.sort();
    records.reverse();
    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut keep_from_remote = keep;
    if let Some((_, release)) = &plan.release {
        kept.extend(release.objects.keys().cloned());
        keep_from_remote -= 1;
    }
    let mut retired: BTreeSet<String> = BTreeSet::new();
    for (index, name) in records.iter().enumerate() {
        let release = parse_release(name, &target.get(name).await?)?;
        if index < keep_from_remote {
            kept.extend(release.objects.into_keys());
        } else {
            retired.extend(release.objects.into_keys());
            retired.insert((*name).clone());
        }
    }
    Ok(retired
        .into_iter()
        .filter(|name| !kept.contains(name) && remote.contains_key(name))
        .collect())
}

/// Sends the uploads, `jobs` at a time, then the manifests, each with its headers.
async fn execute(
    config: &Config,
    target: &Target,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<(usize, u64)> {
    use futures::stream::{self, StreamExt};
    let sent_bytes = AtomicU64::new(0);
    let results: Vec<(&LocalObject, Result<()>)> =
        stream::iter(plan.uploads.iter().map(|(object, _)| object))
            .map(|object| {
                let sent_bytes = &sent_bytes;
                async move {
                    let headers = headers_for(config, object);
                    let result = target
                        .put_file(object, &headers, config.publish.multipart_threshold)
                        .await;
                    if result.is_ok() {
                        sent_bytes.fetch_add(object.size, Ordering::Relaxed);
                        progress.sent(object.size);
                    }
                    (object, result)
                }
            })
            .buffer_unordered(config.publish.jobs)
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
        return Err(Error::Remote {
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
        let headers = headers_for(config, object);
        target.put_file(object, &headers, config.publish.multipart_threshold).await.map_err(|error| Error::Remote {
            message: format!(
                "every object was uploaded but the manifest {} was not ({error}); rerun `stapler publish` to send it",
                object.name
            ),
        })?;
        sent += 1;
        sent_bytes.fetch_add(object.size, Ordering::Relaxed);
        progress.sent(object.size);
    }
    Ok((sent, sent_bytes.load(Ordering::Relaxed)))
}

/// `Content-Type` from the extension (with `charset=utf-8` for text), and `Cache-Control` by
/// whether the name is content-hashed.
pub fn headers_for(config: &Config, object: &LocalObject) -> Headers {
    Headers {
        content_type: content_type(&object.name),
        cache_control: if object.hashed {
            config.publish.cache_control_hashed.clone()
        } else {
            config.publish.cache_control.clone()
        },
        extra: config.publish.headers.clone(),
        acl: config.publish.acl.clone(),
    }
}

pub fn content_type(name: &str) -> String {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let (mime, text) = match ext.as_str() {
        "css" => ("text/css", true),
        "js" | "mjs" => ("text/javascript", true),
        "json" | "map" => ("application/json", true),
        "html" | "htm" => ("text/html", true),
        "txt" => ("text/plain", true),
        "xml" => ("application/xml", true),
        "svg" => ("image/svg+xml", true),
        "csv" => ("text/csv", true),
        "md" => ("text/markdown", true),
        "webmanifest" => ("application/manifest+json", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "ico" => ("image/vnd.microsoft.icon", false),
        "woff" => ("font/woff", false),
        "woff2" => ("font/woff2", false),
        "ttf" => ("font/ttf", false),
        "otf" => ("font/otf", false),
        "eot" => ("application/vnd.ms-fontobject", false),
        "pdf" => ("application/pdf", false),
        "wasm" => ("application/wasm", false),
        "mp4" => ("video/mp4", false),
        "webm" => ("video/webm", false),
        "mp3" => ("audio/mpeg", false),
        "gz" => ("application/gzip", false),
        "br" => ("application/x-brotli", false),
        "zip" => ("application/zip", false),
        _ => ("application/octet-stream", false),
    };
    if text {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

/// `20261122T041530Z` for a time, without a date library.
fn utc_timestamp(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let millis = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_and_sortable() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_320_930_123);
        assert_eq!(utc_timestamp(time), "20261122T041530.123Z");
        assert_eq!(utc_timestamp(UNIX_EPOCH), "19700101T000000.000Z");
    }

    #[test]
    fn bytes_that_changed_since_the_plan_are_refused() {
        let object = LocalObject {
            name: "a.css".into(),
            path: "static/a.css".into(),
            size: 3,
            md5: Md5::digest(b"abc").into(),
            hashed: false,
        };
        assert!(object.check_unchanged(b"abc").is_ok());
        let error = object
            .check_unchanged(b"abd")
            .expect_err("same size, other bytes");
        assert!(
            error.to_string().contains("changed while publishing"),
            "{error}"
        );
        assert!(object.check_unchanged(b"abcd").is_err());
    }

    #[test]
    fn text_types_carry_a_charset() {
        assert_eq!(
            content_type("CACHE/css/output.1.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("img/logo.PNG"), "image/png");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
