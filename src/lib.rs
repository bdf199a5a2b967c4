//! stapler: offline compression of django-compressor `{% compress %}` blocks, as a library.
//!
//! The pipeline runs one way: [`config::load`] → [`templates::scan`] → [`compress::build`] →
//! [`manifest::Manifest::write`]. [`compress_offline`] runs it all; [`lookup`] explains one
//! template's blocks against the manifest.

pub mod compress;
pub mod config;
pub mod error;
pub mod manifest;
pub mod publish;
pub mod templates;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use config::Config;
pub use error::{Error, ExitCode, Result};
pub use manifest::{register_minijinja_filter, Manifest};

/// What a compress run did, for the summary.
#[derive(Debug)]
pub struct Summary {
    pub templates: usize,
    pub skipped: Vec<templates::Skipped>,
    pub contexts: usize,
    pub build: compress::Build,
    pub manifest_path: PathBuf,
    pub elapsed: Duration,
}

impl Summary {
    /// Bytes of every distinct bundle written, raw and (when measured) gzipped.
    pub fn bytes_out(&self) -> (u64, Option<u64>) {
        let raw = self.build.bundles.iter().map(|file| file.bytes).sum();
        let gzip = self.build.bundles.iter().map(|file| file.gzip_bytes).sum();
        (raw, gzip)
    }
}

/// Hooks for showing progress; the library never prints.
pub trait Progress: Sync {
    /// The number of distinct source files about to be processed.
    fn start(&self, _total: u64) {}
    /// `done` more source files were processed.
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}

/// Progress that shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Scans templates, builds every block and writes the manifest. On any error nothing is
/// written to the manifest, so the previous one stays as it was.
pub fn compress_offline(config: &Config, progress: &dyn Progress) -> Result<Summary> {
    let started = Instant::now();
    let scan = templates::scan(config)?;
    let build = compress::build(config, &scan.blocks, progress);
    progress.finish();
    let build = build?;
    let manifest = Manifest::from_entries(build.entries.clone(), config);
    let manifest_path = config.manifest_path();
    manifest.write(&manifest_path)?;
    Ok(Summary {
        templates: scan.templates,
        skipped: scan.skipped,
        contexts: config.offline_contexts.len(),
        build,
        manifest_path,
        elapsed: started.elapsed(),
    })
}

/// One compress block of a template, explained against the manifest.
#[derive(Debug, Clone)]
pub struct LookupEntry {
    pub block: templates::Block,
    pub key: String,
    /// The HTML the manifest gives, with the real URL; `None` when the key is missing.
    pub html: Option<String>,
}

/// Renders every compress block of `template` (after inheritance) and looks each up.
pub fn lookup(config: &Config, template: &str) -> Result<(Vec<LookupEntry>, Option<Error>)> {
    let blocks = templates::scan_one(config, template)?;
    let manifest = Manifest::load(config);
    let (manifest, problem) = match manifest {
        Ok(manifest) => (Some(manifest), None),
        Err(error) => (None, Some(error)),
    };
    let entries = blocks
        .into_iter()
        .map(|block| {
            let key = manifest::key(&block.body, &config.static_url);
            let html = manifest.as_ref().and_then(|m| m.get(&key));
            LookupEntry { block, key, html }
        })
        .collect();
    Ok((entries, problem))
}
