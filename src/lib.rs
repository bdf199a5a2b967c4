//! stapler: offline compression of django-compressor `{% compress %}` blocks and publishing of
//! the result, as a library.
//!
//! The pipeline runs one way, and this file is the only place it is composed: [`start`] reads
//! the settings ([`config::read`], Django's answer, [`config::load`]) and makes the [`Run`]
//! that owns what runs (the Django bridge, the workers, the async runtime); then
//! [`templates::scan`] → [`compress::build`] → [`Manifest`] → [`publish::publish`] on a
//! [`store::Store`], each stage given its settings and the run. [`compress`], [`publish`] and
//! [`deploy`] run it;
//! [`lookup`] explains one template's blocks against the manifest; [`check`] scans and reports
//! every cause of a missing key it can see, writing nothing. Each returns data; nothing
//! here prints.

pub mod anatomy;
pub mod block;
pub mod check;
pub mod compress;
pub mod config;
pub mod diagnostic;
pub mod django;
pub mod error;
pub mod fingerprint;
pub mod interrupt;
pub mod last_build;
pub mod manifest;
pub mod output;
pub mod progress;
pub mod publish;
pub mod run;
pub mod store;
mod summary;
pub mod templates;

use std::collections::BTreeMap;
use std::time::Instant;

pub use block::{Block, Kind, Mode};
pub use config::{Config, RunFlags};
pub use error::{Error, Result};
pub use manifest::{register_minijinja_filter, Manifest};
pub use progress::{Progress, Quiet};
pub use run::Run;
pub use summary::{BridgeUse, Summary};

/// The settings of one command and the run that carries it out: the file, the environment and
/// the flags are read; in a Django project, Django's settings come from their record or from
/// the bridge, which the run then owns; they are merged under the others and resolved.
pub fn start(sources: &config::Sources, env: &BTreeMap<String, String>) -> Result<(Config, Run)> {
    let layers = config::read(sources, env)?;
    let (bridge, django_settings) = match layers.project() {
        Some(project) => {
            let record_dir = layers.record_dir();
            let (bridge, settings) = django::record::settings(project, record_dir.as_deref())?;
            (Some(bridge), Some(settings))
        }
        None => (None, None),
    };
    let config = config::load(layers, django_settings.as_ref())?;
    Ok((config, Run::new(bridge)))
}

/// Scans templates, builds every block and writes the manifest. On any error nothing is
/// written to the manifest, so the previous one stays as it was.
pub fn compress(
    config: &Config,
    run: &Run,
    flags: &RunFlags,
    progress: &dyn Progress,
) -> Result<Summary> {
    run.install(|| compress_here(config, run, flags, progress))
}

fn compress_here(
    config: &Config,
    run: &Run,
    flags: &RunFlags,
    progress: &dyn Progress,
) -> Result<Summary> {
    if let Some(mut summary) = fingerprint::unchanged(config, flags) {
        summary.bridge = run.bridge_use();
        return Ok(summary);
    }
    if let Some(bridge) = run.bridge() {
        bridge.warm_up();
    }
    let started = Instant::now();
    let before = fingerprint::before(config, flags);
    let scan = templates::scan(&config.templates, run)?;
    let mut build = compress::build(&config.compress, run, flags.force, &scan.blocks, progress)?;
    if config.budget.is_set() {
        let mut anatomy = anatomy::Anatomy::of(&build, &scan.by_django);
        anatomy.measure(&config.compress.root, config.compress.cache_dir.as_deref());
        build.warnings.extend(anatomy.over_budget(&config.budget));
    }
    if flags.strict {
        let findings: Vec<String> = scan
            .skipped
            .iter()
            .map(|skipped| {
                format!(
                    "  skipped {}: {}",
                    skipped.template.display(),
                    skipped.reason
                )
            })
            .chain(scan.warnings.iter().map(|warning| format!("  {warning}")))
            .chain(
                check::findings(config, &scan)
                    .iter()
                    .filter(|finding| {
                        // Said already: by the scan, and by the build's own budget check.
                        !matches!(
                            finding.kind,
                            diagnostic::FindingKind::SkippedTemplate
                                | diagnostic::FindingKind::Departure
                                | diagnostic::FindingKind::OverBudget
                        )
                    })
                    .map(|finding| format!("  {}", finding.describe())),
            )
            .chain(build.warnings.iter().map(|warning| format!("  {warning}")))
            .collect();
        if !findings.is_empty() {
            return Err(Error::Strict(findings));
        }
    }
    let manifest = Manifest::from_rendered(
        build
            .blocks
            .iter()
            .map(|block| (block.key.clone(), block.html())),
        &config.manifest,
    );
    manifest.write(&config.manifest.path)?;
    let summary = Summary {
        templates: scan.templates,
        skipped: scan.skipped,
        contexts: config.templates.offline_contexts.len(),
        build,
        manifest_path: config.manifest.path.clone(),
        elapsed: started.elapsed(),
        by_django: scan.by_django,
        departures: scan.warnings,
        bridge: run.bridge_use(),
        unchanged: None,
    };
    if let Some(before) = before {
        fingerprint::record(config, flags, before, &summary);
    }
    if let Some(bridge) = run.bridge() {
        django::record::remember_use(bridge);
    }
    last_build::write(config, &summary);
    Ok(summary)
}

/// Writes a `stapler.toml` at `path` from the resolved settings (Django's, in a Django project),
/// so later builds run without Python; refuses to replace a file unless `force`. Returns how
/// many settings it holds.
pub fn init(config: &Config, path: &std::path::Path, force: bool) -> Result<usize> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::env::current_dir().map_err(Error::Runtime)?,
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    let (text, count) = config::settings_file(config, &dir)?;
    if force {
        output::write_atomic(path, text.as_bytes(), output::Durability::Synced)?;
    } else if !output::write_new(path, text.as_bytes())? {
        return Err(Error::config(
            path.display(),
            "exists already; pass --force to replace it, or --output to write elsewhere",
        ));
    }
    Ok(count)
}

/// Publishes the static root to the configured target.
pub fn publish(
    config: &Config,
    run: &Run,
    flags: &RunFlags,
    progress: &dyn Progress,
) -> Result<publish::Report> {
    run.runtime()?.block_on(publish::publish(
        &config.publish,
        &config.manifest,
        *flags,
        progress,
    ))
}

/// What `deploy` did: the build, and the publish that followed it.
#[derive(Debug)]
pub struct Deployed {
    pub summary: Summary,
    /// The publish's outcome: a failed publish still leaves a finished build to report.
    pub published: Result<publish::Report>,
}

/// `compress`, then `publish`: the whole job. Nothing is published when the build fails.
pub fn deploy(
    config: &Config,
    run: &Run,
    flags: &RunFlags,
    progress: &dyn Progress,
) -> Result<Deployed> {
    let summary = compress(config, run, flags, progress)?;
    let published = publish(config, run, flags, progress);
    Ok(Deployed { summary, published })
}

/// What `check` found, and what it looked at.
#[derive(Debug, serde::Serialize)]
pub struct CheckReport {
    pub templates: usize,
    pub blocks: usize,
    pub findings: Vec<check::Finding>,
}

/// Scans every template, writing nothing, and reports every cause of a missing key a build can
/// see: see [`check::findings`].
pub fn check(config: &Config, run: &Run) -> Result<CheckReport> {
    let scan = run.install(|| templates::scan(&config.templates, run))?;
    Ok(CheckReport {
        templates: scan.templates,
        blocks: scan.blocks.len(),
        findings: check::findings(config, &scan),
    })
}

/// One compress block of a template, explained against the manifest.
#[derive(Debug, Clone)]
pub struct LookupEntry {
    pub block: Block,
    /// The HTML the manifest gives, with the real URL; `None` when the key is missing.
    pub html: Option<String>,
}

/// A template's blocks against the manifest, and why the manifest could not be read, if so.
#[derive(Debug)]
pub struct Lookup {
    pub entries: Vec<LookupEntry>,
    pub manifest_problem: Option<Error>,
}

/// Renders every compress block of `template` (after inheritance) and looks each up.
pub fn lookup(config: &Config, run: &Run, template: &str) -> Result<Lookup> {
    let blocks = run.install(|| templates::scan_one(&config.templates, run, template))?;
    let (manifest, manifest_problem) = match Manifest::load(&config.manifest) {
        Ok(manifest) => (Some(manifest), None),
        Err(error) => (None, Some(error)),
    };
    let entries = blocks
        .into_iter()
        .map(|block| {
            let html = manifest.as_ref().and_then(|m| m.get(&block.key));
            LookupEntry { block, html }
        })
        .collect();
    Ok(Lookup {
        entries,
        manifest_problem,
    })
}
