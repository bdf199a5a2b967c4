//! The last build's record, kept in `cache_dir` beside the run records, so a report can be
//! written from it without building again (`stapler report`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compress::Build;
use crate::config::Config;
use crate::error::{Error, Location, Result};
use crate::output::{self, Durability};
use crate::summary::Summary;
use crate::templates::Skipped;

const FORMAT: &str = "stapler-last-build-1";

#[derive(Serialize, Deserialize)]
struct Record {
    format: String,
    version: String,
    templates: usize,
    skipped: Vec<Skipped>,
    contexts: usize,
    by_django: Vec<(PathBuf, String)>,
    departures: Vec<String>,
    elapsed: Duration,
    build: Build,
}

/// Where the record of the builds that write `config`'s manifest is kept; `None` without a
/// cache.
fn path(config: &Config) -> Option<PathBuf> {
    let dir = config.compress.cache_dir.as_ref()?;
    let manifest = std::path::absolute(&config.manifest.path).ok()?;
    let digest = hex::encode(Sha256::digest(manifest.as_os_str().as_encoded_bytes()));
    Some(dir.join("builds").join(format!("{}.json", &digest[..16])))
}

/// Records `summary`'s build. A record that cannot be written only leaves `stapler report`
/// without one, which it says.
pub fn write(config: &Config, summary: &Summary) {
    let Some(path) = path(config) else {
        return;
    };
    let record = Record {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        templates: summary.templates,
        skipped: summary.skipped.clone(),
        contexts: summary.contexts,
        by_django: summary.by_django.clone(),
        departures: summary.departures.clone(),
        elapsed: summary.elapsed,
        build: summary.build.described(),
    };
    if let Ok(bytes) = serde_json::to_vec(&record) {
        let _ = output::write_atomic(&path, &bytes, Durability::Buffered);
    }
}

/// The summary of the last build that wrote `config`'s manifest, as it was recorded.
pub fn read(config: &Config) -> Result<Summary> {
    let Some(path) = path(config) else {
        return Err(Error::input(
            Location::file(&config.manifest.path),
            "no build is recorded without a cache (`cache_dir`, or --no-cache was given); run `stapler compress --report PATH` instead",
        ));
    };
    let text = std::fs::read(&path).map_err(|_| {
        Error::input(
            Location::file(&config.manifest.path),
            format!(
                "no build of this manifest is recorded in {}; run `stapler compress` first",
                path.parent().unwrap_or(&path).display()
            ),
        )
    })?;
    let record: Record = serde_json::from_slice(&text)
        .ok()
        .filter(|record: &Record| record.format == FORMAT)
        .ok_or_else(|| {
            Error::input(
                Location::file(&path),
                "is not a build record this version of stapler reads; run `stapler compress` again",
            )
        })?;
    Ok(Summary {
        templates: record.templates,
        skipped: record.skipped,
        contexts: record.contexts,
        build: record.build,
        manifest_path: config.manifest.path.clone(),
        elapsed: record.elapsed,
        by_django: record.by_django,
        bridge: None,
        departures: record.departures,
        unchanged: None,
    })
}
