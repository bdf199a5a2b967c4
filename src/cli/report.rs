//! The build report: the largest bundles with their raw, gzip and Brotli sizes, and with
//! `--compare PREVIOUS_MANIFEST` what grew or shrank since that build.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indicatif::HumanBytes;
use stapler::compress::{Output, LARGEST_REPORTED};
use stapler::config::ManifestSettings;
use stapler::error::Location;
use stapler::manifest::Manifest;
use stapler::{Config, Error, Summary};

/// The bundles the report lists: the largest, largest first.
pub fn largest(summary: &Summary) -> Vec<&Output> {
    let mut bundles: Vec<&Output> = summary.build.bundles.iter().collect();
    bundles.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    bundles.truncate(LARGEST_REPORTED);
    bundles
}

/// The largest bundles as a table, on stdout.
pub fn print_largest(summary: &Summary) {
    let bundles = largest(summary);
    if bundles.is_empty() {
        return;
    }
    let size =
        |bytes: Option<u64>| bytes.map_or_else(|| "-".to_string(), |b| HumanBytes(b).to_string());
    let width = bundles
        .iter()
        .map(|file| file.name.len())
        .max()
        .unwrap_or(0);
    println!(
        "{:<width$}  {:>10}  {:>10}  {:>10}",
        if bundles.len() < summary.build.bundles.len() {
            format!(
                "largest {} of {} bundles",
                bundles.len(),
                summary.build.bundles.len()
            )
        } else {
            "bundles".to_string()
        },
        "raw",
        "gzip",
        "brotli"
    );
    for file in bundles {
        println!(
            "{:<width$}  {:>10}  {:>10}  {:>10}",
            file.name,
            HumanBytes(file.bytes).to_string(),
            size(file.gzip_bytes),
            size(file.brotli_bytes)
        );
    }
}

/// A previous build's manifest, read before the build so a wrong path fails first.
pub struct Previous {
    path: PathBuf,
    manifest: Manifest,
}

/// Reads the manifest `--compare` names.
pub fn read_previous(path: &Path, settings: &ManifestSettings) -> Result<Previous, Error> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::input(
            Location::file(path),
            format!("cannot read the manifest to compare with ({error}); give the path of a manifest.json a build wrote"),
        )
    })?;
    let manifest = Manifest::parse(&text, settings).map_err(|_| {
        Error::input(
            Location::file(path),
            "is not a manifest (a JSON object of keys to HTML); give the path of a manifest.json a build wrote",
        )
    })?;
    Ok(Previous {
        path: path.to_path_buf(),
        manifest,
    })
}

/// Bytes of one kind of bundle (by extension) in both builds.
#[derive(Debug, serde::Serialize)]
pub struct Total {
    pub kind: String,
    pub before: u64,
    pub after: u64,
}

/// A block whose bundles changed size.
#[derive(Debug, serde::Serialize)]
pub struct Change {
    pub key: String,
    pub before: u64,
    pub after: u64,
    pub bundles: Vec<String>,
    pub previous_bundles: Vec<String>,
}

/// What grew or shrank since the previous build, block by block (keys in both manifests).
#[derive(Debug, serde::Serialize)]
pub struct Comparison {
    pub previous: PathBuf,
    pub in_both: usize,
    pub added: usize,
    pub removed: usize,
    pub changes: Vec<Change>,
    pub totals: Vec<Total>,
    /// Bundles of the previous build not found on disk (beside its manifest or in this static
    /// root), counted as 0 bytes.
    pub missing_previous: Vec<String>,
}

/// The static root a manifest under `name` (`CACHE/manifest.json`) sits in.
fn root_of(manifest: &Path, name: &str) -> PathBuf {
    let depth = Path::new(name).components().count();
    manifest
        .ancestors()
        .nth(depth)
        .map_or_else(PathBuf::new, Path::to_path_buf)
}

/// Compares the manifest this build wrote with the previous one. A bundle of the previous
/// build is looked for beside its manifest, then in this static root: names carry their
/// content's hash, so a file of that name has those bytes wherever it is.
pub fn compare(previous: &Previous, config: &Config) -> Result<Comparison, Error> {
    let settings = &config.manifest;
    let current = Manifest::load(settings)?;
    let output_dir = &settings.output_dir;
    let root = root_of(&settings.path, &settings.name);
    let previous_root = root_of(&previous.path, &settings.name);
    let mut missing = BTreeSet::new();
    let mut size_before = |name: &String| -> u64 {
        for base in [&previous_root, &root] {
            if let Ok(meta) = std::fs::metadata(base.join(name)) {
                return meta.len();
            }
        }
        missing.insert(name.clone());
        0
    };
    let size_after = |name: &String| std::fs::metadata(root.join(name)).map_or(0, |m| m.len());

    let mut changes = Vec::new();
    let mut in_both = 0;
    for key in current.entries.keys() {
        if !previous.manifest.entries.contains_key(key) {
            continue;
        }
        in_both += 1;
        let bundles = current.outputs_of(key, output_dir);
        let previous_bundles = previous.manifest.outputs_of(key, output_dir);
        let after: u64 = bundles.iter().map(size_after).sum();
        let before: u64 = previous_bundles.iter().map(&mut size_before).sum();
        if before != after {
            changes.push(Change {
                key: key.clone(),
                before,
                after,
                bundles,
                previous_bundles,
            });
        }
    }
    changes.sort_by_key(|change| std::cmp::Reverse(change.after.abs_diff(change.before)));

    let kind = |name: &str| {
        Path::new(name)
            .extension()
            .map_or_else(String::new, |ext| ext.to_string_lossy().into_owned())
    };
    let mut totals: Vec<Total> = Vec::new();
    let mut add = |name: &str, before: u64, after: u64| {
        let kind = kind(name);
        match totals.iter_mut().find(|total| total.kind == kind) {
            Some(total) => {
                total.before += before;
                total.after += after;
            }
            None => totals.push(Total {
                kind,
                before,
                after,
            }),
        }
    };
    for name in &current.outputs(output_dir) {
        add(name, 0, size_after(name));
    }
    for name in &previous.manifest.outputs(output_dir) {
        let before = size_before(name);
        add(name, before, 0);
    }
    totals.sort_by(|a, b| a.kind.cmp(&b.kind));
    let added = current
        .entries
        .keys()
        .filter(|key| !previous.manifest.entries.contains_key(*key))
        .count();
    let removed = previous
        .manifest
        .entries
        .keys()
        .filter(|key| !current.entries.contains_key(*key))
        .count();
    Ok(Comparison {
        previous: previous.path.clone(),
        in_both,
        added,
        removed,
        changes,
        totals,
        missing_previous: missing.into_iter().collect(),
    })
}

fn signed(before: u64, after: u64) -> String {
    let delta = HumanBytes(after.abs_diff(before));
    let percent = if before > 0 {
        format!(
            " ({:+.1} %)",
            (after as f64 - before as f64) * 100.0 / before as f64
        )
    } else {
        String::new()
    };
    match after.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{delta}{percent}"),
        std::cmp::Ordering::Less => format!("-{delta}{percent}"),
        std::cmp::Ordering::Equal => "unchanged".to_string(),
    }
}

/// The comparison, on stdout: one line of totals, then each block that changed size.
pub fn print_comparison(comparison: &Comparison) {
    let grew = comparison
        .changes
        .iter()
        .filter(|change| change.after > change.before)
        .count();
    let totals: Vec<String> = comparison
        .totals
        .iter()
        .map(|total| {
            format!(
                "{} {} ({})",
                total.kind.to_uppercase(),
                HumanBytes(total.after),
                signed(total.before, total.after)
            )
        })
        .collect();
    println!(
        "compared with {}: {} blocks in both ({grew} grew, {} shrank), {} new, {} gone; {}",
        comparison.previous.display(),
        comparison.in_both,
        comparison.changes.len() - grew,
        comparison.added,
        comparison.removed,
        if totals.is_empty() {
            "no bundles".to_string()
        } else {
            totals.join(", ")
        }
    );
    for change in comparison.changes.iter().take(LARGEST_REPORTED) {
        println!(
            "  {:<22} {} (was {})",
            signed(change.before, change.after),
            change.bundles.join(" "),
            HumanBytes(change.before)
        );
    }
    if comparison.changes.len() > LARGEST_REPORTED {
        println!(
            "  and {} more blocks changed size (--format json lists them all)",
            comparison.changes.len() - LARGEST_REPORTED
        );
    }
    if !comparison.missing_previous.is_empty() {
        eprintln!(
            "note: {} bundle(s) of the previous build were found neither beside {} nor in the static root, and count as 0 bytes",
            comparison.missing_previous.len(),
            comparison.previous.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_signed_with_their_share() {
        assert_eq!(signed(1000, 1100), "+100 B (+10.0 %)");
        assert_eq!(signed(2048, 1024), "-1.00 KiB (-50.0 %)");
        assert_eq!(signed(0, 10), "+10 B");
        assert_eq!(signed(5, 5), "unchanged");
    }

    #[test]
    fn the_root_is_above_the_manifests_name() {
        assert_eq!(
            root_of(
                Path::new("/srv/static/CACHE/manifest.json"),
                "CACHE/manifest.json"
            ),
            PathBuf::from("/srv/static")
        );
    }
}
