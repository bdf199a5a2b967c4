//! Where things go: the publish target and the shared cache, parsed from `s3://bucket/prefix`
//! or `file:///dir` once, with `[publish]`'s settings checked.

use std::path::{Path, PathBuf};

use super::settings::{PublishSection, SharedCacheSection};
use super::{CloudFrontSettings, ConfigError, PublishSettings, S3Settings, Target};

/// The `[shared_cache]` settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SharedCacheSettings {
    /// Where entries live.
    pub location: S3Settings,
    /// Above this many entries, a share of them is deleted after a build.
    pub max_entries: usize,
    /// When culling, 1 / `cull_frequency` of the entries go (Django's cache semantics).
    pub cull_frequency: usize,
}

const DEFAULT_HASHED_PATTERN: &str = r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$";
pub(super) const DEFAULT_MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// S3's smallest part.
const SMALLEST_PART: u64 = 5 * 1024 * 1024;

pub(super) fn resolve_shared_cache(
    section: SharedCacheSection,
    origin: &str,
) -> Result<SharedCacheSettings, ConfigError> {
    let bad = |message: String| ConfigError {
        origin: format!("{origin} [shared_cache]"),
        message,
    };
    let to = section
        .to
        .ok_or_else(|| bad("`to` is required: s3://bucket/prefix".into()))?;
    let location = match parse_target(
        &to,
        section.endpoint_url,
        section.region,
        section.path_style,
    ) {
        Ok(Target::S3(location)) => location,
        Ok(Target::Dir(_)) | Err(_) => {
            return Err(bad(format!(
                "`to` is `{to}`; the shared cache lives on S3: s3://bucket/prefix"
            )))
        }
    };
    let cull_frequency = section.cull_frequency.unwrap_or(3);
    if cull_frequency < 2 {
        return Err(bad(
            "`cull_frequency` must be at least 2 (1 would delete every entry)".into(),
        ));
    }
    Ok(SharedCacheSettings {
        location,
        max_entries: section.max_entries.unwrap_or(10_000),
        cull_frequency,
    })
}

pub(super) fn resolve_publish(
    section: PublishSection,
    static_root: PathBuf,
    origin: &str,
) -> Result<PublishSettings, ConfigError> {
    let bad = |message: String| ConfigError {
        origin: format!("{origin} [publish]"),
        message,
    };
    let to = section.to.unwrap_or_else(|| {
        let beside = static_root
            .parent()
            .unwrap_or(Path::new("."))
            .join("published");
        format!("file://{}", beside.display())
    });
    let mut target = parse_target(
        &to,
        section.endpoint_url,
        section.region,
        section.path_style,
    )
    .map_err(bad)?;
    if let Target::S3(s3) = &mut target {
        let threshold = section
            .multipart_threshold
            .unwrap_or(DEFAULT_MULTIPART_THRESHOLD);
        if threshold < SMALLEST_PART {
            return Err(bad(
                "`multipart_threshold` must be at least 5 MiB, S3's smallest part".into(),
            ));
        }
        s3.multipart_threshold = threshold;
    }
    let jobs = section.jobs.unwrap_or(32);
    if jobs == 0 {
        return Err(bad("`jobs` must be at least 1".into()));
    }
    let keep = section.keep.unwrap_or(3);
    if keep == 0 {
        return Err(bad(
            "`keep` must be at least 1: the release being published is always kept".into(),
        ));
    }
    if section.timeout == Some(0) {
        return Err(bad("`timeout` must be at least 1 (seconds)".into()));
    }
    let headers = section.headers.unwrap_or_default();
    for name in headers.keys() {
        let lower = name.to_ascii_lowercase();
        let storable = matches!(
            lower.as_str(),
            "content-disposition" | "content-language" | "expires" | "content-encoding"
        ) || lower.starts_with("x-amz-meta-");
        if !storable {
            return Err(bad(format!(
                "header `{name}` cannot be stored on an object; S3 keeps only Content-Disposition, Content-Encoding, Content-Language, Expires and x-amz-meta-* (CORS headers are bucket configuration)"
            )));
        }
    }
    let max_paths = section.invalidation_max_paths.unwrap_or(300);
    if max_paths == 0 {
        return Err(bad(
            "`invalidation_max_paths` must be at least 1 (past it, one wildcard is sent)".into(),
        ));
    }
    let cloudfront = match section.cloudfront_distribution_id.clone() {
        Some(id) if id.trim().is_empty() => {
            return Err(bad("`cloudfront_distribution_id` is empty; give the distribution's id (E2QWRUHEXAMPLE) or remove the setting".into()))
        }
        Some(distribution_id) => Some(CloudFrontSettings {
            distribution_id,
            path_prefix: section.cloudfront_path_prefix.clone(),
            max_paths,
            endpoint_url: section.cloudfront_endpoint_url.clone(),
        }),
        None => None,
    };
    let manifest_keep = section.manifest_keep.unwrap_or(1);
    if manifest_keep == 0 {
        return Err(bad(
            "`manifest_keep` must be at least 1 (this release's own keys)".into(),
        ));
    }
    let pattern = section
        .hashed_pattern
        .unwrap_or_else(|| DEFAULT_HASHED_PATTERN.into());
    let hashed_pattern = regex::Regex::new(&pattern)
        .map_err(|error| bad(format!("`hashed_pattern` is not a regex: {error}")))?;
    Ok(PublishSettings {
        static_root,
        target,
        jobs,
        acl: section.acl,
        cache_control: section
            .cache_control
            .unwrap_or_else(|| "public, max-age=300".into()),
        cache_control_hashed: section
            .cache_control_hashed
            .unwrap_or_else(|| "public, max-age=31536000, immutable".into()),
        headers,
        // Pruning keeps every release whose keys the published manifest still holds.
        keep: keep.max(manifest_keep),
        hashed_pattern,
        timeout: section.timeout.map(std::time::Duration::from_secs),
        precompressed: section.precompressed,
        source_maps: true,
        manifest_keep,
        cloudfront,
        public_url: match section.public_url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(bad(format!(
                    "`public_url` is `{url}` but must be the http:// or https:// URL visitors fetch the static root at"
                )))
            }
            Some(url) if !url.ends_with('/') => Some(format!("{url}/")),
            other => other,
        },
        verify: section.verify.unwrap_or(false),
    })
}

/// `s3://bucket/prefix` or `file:///dir`, parsed once.
pub(super) fn parse_target(
    to: &str,
    endpoint_url: Option<String>,
    region: Option<String>,
    path_style: Option<bool>,
) -> Result<Target, String> {
    if let Some(path) = to.strip_prefix("file://") {
        return Ok(Target::Dir(PathBuf::from(path)));
    }
    let Some(rest) = to.strip_prefix("s3://") else {
        return Err(format!(
            "`to` is `{to}`; use s3://bucket/prefix or file:///directory"
        ));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("`{to}` names no bucket; write s3://bucket/prefix"));
    }
    let prefix = match prefix.trim_matches('/') {
        "" => String::new(),
        trimmed => format!("{trimmed}/"),
    };
    Ok(Target::S3(S3Settings {
        bucket: bucket.to_string(),
        prefix,
        path_style: path_style.unwrap_or(endpoint_url.is_some()),
        endpoint_url,
        region,
        multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
    }))
}
