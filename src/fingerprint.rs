//! Knowing that nothing changed. After a build, stapler records everything the build depended
//! on: its own version and build, the settings, the bytes of every template (and the size and time of
//! every other file in the template folders), what each static path it looked up resolved to
//! with that file's size and modification time, the outputs it left and the manifest's digest.
//! A later run that finds all of that as recorded reports the recorded summary after reading
//! metadata and templates only. Any difference, and the full build runs; so does a run with
//! `--force`, and the run after a build in which Django rendered a template (its tags are
//! Python code the record cannot see) or that ran a precompiler (which may read any file). The
//! partials a Sass compilation read are recorded like sources, and the files it looked for and
//! did not find must still be missing. Settings read from Django (from their record, or from
//! the bridge) are compared like any others, through their serialized form.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compress::resolve::{Roots, Unresolved};
use crate::compress::Build;
use crate::config::{Config, RunFlags, TemplateSettings};
use crate::output::{self, Durability};
use crate::summary::Summary;
use crate::templates::Skipped;

const FORMAT: &str = "stapler-run-1";

/// A static file modified this close to the start of a build may have changed after the build
/// read it (some file systems keep times to the second or two), so no record is written then.
const SETTLE: Duration = Duration::from_secs(2);

/// What a build depended on and what it reported.
#[derive(Serialize, Deserialize)]
struct Record {
    format: String,
    version: String,
    settings: String,
    templates: String,
    lookups: Vec<Lookup>,
    /// Files read that no lookup names (Sass partials), and files looked for and not found.
    also_read: Vec<FileState>,
    looked_for: Vec<PathBuf>,
    /// Bundles and hashed assets, by name under the root, with their sizes.
    outputs: Vec<(String, u64)>,
    /// The sha256 of the manifest the build wrote.
    manifest: String,
    /// Whether the build ran with `--strict` (and so had nothing to report).
    strict_passed: bool,
    summary: Recorded,
}

/// A static path and what looking it up gave.
#[derive(Serialize, Deserialize, PartialEq)]
struct Lookup {
    path: String,
    found: Result<FileState, Unresolved>,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct FileState {
    file: PathBuf,
    size: u64,
    /// Nanoseconds since the epoch.
    modified: u128,
}

/// The parts of a [`Summary`] a repeated run reports again.
#[derive(Serialize, Deserialize)]
struct Recorded {
    templates: usize,
    skipped: Vec<Skipped>,
    contexts: usize,
    departures: Vec<String>,
    build: Build,
}

/// The state of the inputs that can be read before a build starts, so that a template edited
/// while the build runs makes the record disagree rather than agree with stale outputs.
pub struct Before {
    started: SystemTime,
    settings: String,
    templates: Option<String>,
}

/// Reads what a full build's record starts from; `None` when runs of `config` are not
/// fingerprinted.
pub fn before(config: &Config, flags: &RunFlags) -> Option<Before> {
    let path = record_path(config, flags)?;
    // A failed build must not leave the record of an earlier one to vouch for what it left.
    let _ = std::fs::remove_file(path);
    Some(Before {
        started: SystemTime::now(),
        settings: settings_digest(config)?,
        templates: templates_digest(&config.templates),
    })
}

/// The recorded summary, when the inputs, the outputs and the manifest are exactly as the last
/// build of `config` left them.
pub fn unchanged(config: &Config, flags: &RunFlags) -> Option<Summary> {
    let started = Instant::now();
    let path = record_path(config, flags)?;
    let record: Record = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if record.format != FORMAT
        || Some(record.version.as_str()) != this_binary().as_deref()
        || (flags.strict && !record.strict_passed)
        || Some(record.settings.as_str()) != settings_digest(config).as_deref()
        || Some(record.templates.as_str()) != templates_digest(&config.templates).as_deref()
    {
        return None;
    }
    let compress = &config.compress;
    let roots = Roots::new(&compress.url, &compress.root, &compress.staticfiles_dirs);
    let same_inputs = record
        .lookups
        .par_iter()
        .all(|lookup| look_up(&roots, &lookup.path) == lookup.found)
        && record
            .also_read
            .par_iter()
            .all(|state| file_state(&state.file).as_ref() == Some(state))
        && record.looked_for.par_iter().all(|path| !path.is_file());
    let same_outputs = same_inputs
        && record.outputs.par_iter().all(|(name, size)| {
            std::fs::metadata(roots.output_path(name))
                .is_ok_and(|meta| meta.is_file() && meta.len() == *size)
        });
    if !same_outputs || file_digest(&config.manifest.path)? != record.manifest {
        return None;
    }
    let Recorded {
        templates,
        skipped,
        contexts,
        departures,
        mut build,
    } = record.summary;
    build.cached = build.sources as u64;
    Some(Summary {
        templates,
        skipped,
        contexts,
        build,
        manifest_path: config.manifest.path.clone(),
        elapsed: started.elapsed(),
        by_django: Vec::new(),
        bridge: None,
        departures,
        unchanged: Some(
            record.lookups.len()
                + record.also_read.len()
                + record.looked_for.len()
                + record.outputs.len(),
        ),
    })
}

/// Records what the build that `summary` reports depended on, for the next run to compare.
pub fn record(config: &Config, flags: &RunFlags, before: Before, summary: &Summary) {
    let Some(path) = record_path(config, flags) else {
        return;
    };
    let build = &summary.build;
    let Some(templates) = before.templates else {
        return;
    };
    if build.reads_unlisted_files || !summary.by_django.is_empty() {
        return;
    }
    let lookups: Vec<Lookup> = build
        .lookups
        .par_iter()
        .map(|(path, found)| Lookup {
            path: path.clone(),
            found: found
                .clone()
                .and_then(|file| file_state(&file).ok_or(Unresolved::Missing)),
        })
        .collect();
    let Some(also_read) = build
        .also_read
        .par_iter()
        .map(|path| file_state(path))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let settled = nanos(before.started.checked_sub(SETTLE).unwrap_or(before.started));
    let fresh = |state: &FileState| state.modified >= settled;
    if lookups
        .iter()
        .any(|lookup| lookup.found.as_ref().is_ok_and(fresh))
        || also_read.iter().any(fresh)
    {
        return;
    }
    let (Some(manifest), Some(version)) = (file_digest(&config.manifest.path), this_binary())
    else {
        return;
    };
    let outputs = build
        .bundles
        .iter()
        .chain(&build.assets)
        .chain(&build.precompressed)
        .chain(&build.source_maps)
        .map(|file| (file.name.clone(), file.bytes))
        .collect();
    let record = Record {
        format: FORMAT.to_string(),
        version,
        settings: before.settings,
        templates,
        lookups,
        also_read,
        looked_for: build.looked_for.clone(),
        outputs,
        manifest,
        strict_passed: flags.strict,
        summary: Recorded {
            templates: summary.templates,
            skipped: summary.skipped.clone(),
            contexts: summary.contexts,
            departures: summary.departures.clone(),
            build: build.recorded(),
        },
    };
    // The record only saves time: failing to write it costs the next run its shortcut.
    if let Ok(bytes) = serde_json::to_vec(&record) {
        let _ = output::write_atomic(&path, &bytes, Durability::Buffered);
    }
}

/// Where the record of builds writing `config`'s manifest lives; `None` when runs of `config`
/// are not fingerprinted: no cache, or `--force`.
fn record_path(config: &Config, flags: &RunFlags) -> Option<PathBuf> {
    let dir = config.compress.cache_dir.as_ref()?;
    if flags.force {
        return None;
    }
    let manifest = std::path::absolute(&config.manifest.path).ok()?;
    let digest = hex::encode(Sha256::digest(manifest.as_os_str().as_encoded_bytes()));
    Some(dir.join("runs").join(format!("{}.json", &digest[..16])))
}

/// Every setting a build reads, and what `--strict` checks of them, through their serialized
/// form (the folders Django knows that the settings leave out are what `--strict` reports).
/// `None` when they have no serialized form (a path that is not Unicode): such runs are not
/// recorded.
fn settings_digest(config: &Config) -> Option<String> {
    #[derive(Serialize)]
    struct Read<'a> {
        templates: &'a TemplateSettings,
        compress: &'a crate::config::CompressSettings,
        manifest: &'a crate::config::ManifestSettings,
        folder_mismatches: &'a [String],
    }
    let read = Read {
        templates: &config.templates,
        compress: &config.compress,
        manifest: &config.manifest,
        folder_mismatches: &config.folder_mismatches,
    };
    let bytes = serde_json::to_vec(&read).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

/// The bytes of every template and the name, size and time of every other file in the
/// template folders (an `{% include %}` may name any of them); `None` if a folder cannot be
/// walked.
fn templates_digest(settings: &TemplateSettings) -> Option<String> {
    let mut files = Vec::new();
    for (index, dir) in settings.template_dirs.iter().enumerate() {
        let walk = walkdir::WalkDir::new(dir)
            .follow_links(settings.follow_links)
            .sort_by_file_name();
        for entry in walk {
            let entry = entry.ok()?;
            if !entry.file_type().is_dir() {
                files.push((index, entry.into_path()));
            }
        }
    }
    let digests: Vec<[u8; 32]> = files
        .par_iter()
        .map(|(index, path)| {
            let mut hasher = Sha256::new();
            hasher.update((*index as u64).to_le_bytes());
            hasher.update(path.as_os_str().as_encoded_bytes());
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let template = settings
                .extensions
                .iter()
                .any(|ext| name.ends_with(ext.as_str()));
            // Only regular files are read: a FIFO named like a template would never end.
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() && template => hasher.update(std::fs::read(path).ok()?),
                Ok(meta) if meta.is_file() => {
                    let state = file_state(path)?;
                    hasher.update(state.size.to_le_bytes());
                    hasher.update(state.modified.to_le_bytes());
                }
                // Something else (a FIFO, a socket, a dangling link): its name is enough.
                _ => hasher.update(b"not a file"),
            }
            Some(hasher.finalize().into())
        })
        .collect::<Option<_>>()?;
    let mut hasher = Sha256::new();
    for digest in digests {
        hasher.update(digest);
    }
    Some(hex::encode(hasher.finalize()))
}

/// Which stapler ran: its version and commit, and the size and time of its executable, so a
/// rebuilt binary (whose minifiers may write other bytes under the same version) never trusts
/// the record of another.
fn this_binary() -> Option<String> {
    let exe = file_state(&std::env::current_exe().ok()?)?;
    Some(format!(
        "{} {} {} {}",
        env!("CARGO_PKG_VERSION"),
        option_env!("BUILT_FROM_COMMIT").unwrap_or("unknown"),
        exe.size,
        exe.modified
    ))
}

fn look_up(roots: &Roots, path: &str) -> Result<FileState, Unresolved> {
    roots
        .find(path)
        .and_then(|file| file_state(&file).ok_or(Unresolved::Missing))
}

fn file_state(path: &Path) -> Option<FileState> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileState {
        file: path.to_path_buf(),
        size: meta.len(),
        modified: nanos(meta.modified().ok()?),
    })
}

fn nanos(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

fn file_digest(path: &Path) -> Option<String> {
    Some(hex::encode(Sha256::digest(std::fs::read(path).ok()?)))
}
