//! `--report PATH.html`: one self-contained page (no request leaves it: its policy forbids
//! any) with a treemap of the bundles that opens into their sources, the sources many bundles
//! repeat, where each bundle comes from, what changed, the warnings and a table of it all.
//!
//! The page's script and styles are in `report.html`; the build's data goes into it as JSON,
//! with every path written once and referred to by index, which keeps a site of thousands of
//! bundles to a few megabytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stapler::anatomy::Anatomy;
use stapler::error::{Location, Warning};
use stapler::Error;

use super::diagnostics;
use super::report::Comparison;

const PAGE: &str = include_str!("report.html");
const SLOT: &str = "/*DATA*/";

/// What writing the page gave, for the summary.
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Paths written once, each referred to by its index.
#[derive(Default)]
struct Paths {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Paths {
    fn id(&mut self, path: &str) -> usize {
        if let Some(id) = self.index.get(path) {
            return *id;
        }
        self.list.push(path.to_string());
        self.index.insert(path.to_string(), self.list.len() - 1);
        self.list.len() - 1
    }
}

/// Writes the report of `anatomy` (measured) to `path`.
pub fn write(
    path: &Path,
    anatomy: &Anatomy,
    warnings: &[Warning],
    comparison: Option<&Comparison>,
    manifest: &Path,
) -> Result<Written, Error> {
    let started = Instant::now();
    let data = page_data(anatomy, warnings, comparison, manifest);
    // `</` cannot end the data's element early: JSON allows `<\/` for it.
    let json = serde_json::to_string(&data)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    let html = PAGE.replacen(SLOT, &json, 1);
    stapler::output::write_atomic(path, html.as_bytes(), stapler::output::Durability::Buffered)?;
    Ok(Written {
        path: path.to_path_buf(),
        bytes: html.len() as u64,
        elapsed: started.elapsed(),
    })
}

fn page_data(
    anatomy: &Anatomy,
    warnings: &[Warning],
    comparison: Option<&Comparison>,
    manifest: &Path,
) -> Value {
    let mut paths = Paths::default();
    let block_index: HashMap<&str, usize> = anatomy
        .blocks
        .iter()
        .enumerate()
        .map(|(index, block)| (block.key.as_str(), index))
        .collect();
    let bundles: Vec<Value> = anatomy
        .bundles
        .iter()
        .map(|bundle| {
            let parts: Vec<Value> = bundle
                .sources
                .iter()
                .map(|share| json!([paths.id(&share.source), share.bytes]))
                .collect();
            let blocks: Vec<usize> = bundle
                .blocks
                .iter()
                .filter_map(|key| block_index.get(key.as_str()).copied())
                .collect();
            json!([
                bundle.name,
                bundle.kind,
                bundle.bytes,
                bundle.gzip_bytes,
                bundle.brotli_bytes,
                parts,
                blocks
            ])
        })
        .collect();
    let blocks: Vec<Value> = anatomy
        .blocks
        .iter()
        .map(|block| {
            let places: Vec<Value> = block
                .places
                .iter()
                .map(|place| {
                    json!([
                        paths.id(&place.template),
                        paths.id(&place.file.display().to_string()),
                        place.line,
                        place.context,
                        u8::from(place.rendered_by == "django")
                    ])
                })
                .collect();
            json!([block.key, block.kind, places])
        })
        .collect();
    let pages: Vec<Value> = anatomy
        .pages
        .iter()
        .map(|page| {
            json!([
                page.template,
                page.context,
                page.bundles.len(),
                page.bytes,
                page.gzip_bytes
            ])
        })
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "manifest": manifest.display().to_string(),
        "built": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .ok(),
        "bundles": bundles,
        "blocks": blocks,
        "pages": pages,
        "paths": paths.list.iter().map(|path| shorten(path)).collect::<Vec<_>>(),
        "totals": anatomy.totals,
        "warnings": warning_groups(anatomy, warnings),
        "comparison": comparison,
    })
}

/// A path as the page shows it: relative to the working directory when it is under it.
fn shorten(path: &str) -> String {
    let Ok(base) = std::env::current_dir() else {
        return path.to_string();
    };
    let base = format!("{}/", base.display());
    path.strip_prefix(&base).unwrap_or(path).to_string()
}

/// Warnings grouped as the terminal groups them, each with the bundles it concerns: those of
/// the blocks written at its places, and those holding the file it names.
fn warning_groups(anatomy: &Anatomy, warnings: &[Warning]) -> Vec<Value> {
    let mut at_place: HashMap<(PathBuf, usize), Vec<&str>> = HashMap::new();
    for block in &anatomy.blocks {
        for place in &block.places {
            at_place
                .entry((place.file.clone(), place.line))
                .or_default()
                .extend(block.bundles.iter().map(String::as_str));
        }
    }
    let mut holding: HashMap<&str, Vec<&str>> = HashMap::new();
    for bundle in &anatomy.bundles {
        for share in &bundle.sources {
            holding
                .entry(share.source.as_str())
                .or_default()
                .push(&bundle.name);
        }
    }
    let concerns = |location: &Location| -> Vec<&str> {
        let mut found: Vec<&str> = at_place
            .get(&(location.file.clone(), location.line))
            .cloned()
            .unwrap_or_default();
        let file = location.file.display().to_string();
        found.extend(holding.get(file.as_str()).into_iter().flatten().copied());
        found
    };
    diagnostics::group(warnings)
        .into_iter()
        .map(|group| {
            let mut bundles: Vec<&str> = group
                .places
                .iter()
                .flat_map(|location| concerns(location))
                .collect();
            bundles.sort_unstable();
            bundles.dedup();
            json!({
                "message": group.message,
                "places": group.places.iter().map(|at| shorten(&at.to_string())).collect::<Vec<_>>(),
                "bundles": bundles,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_once() {
        let mut paths = Paths::default();
        assert_eq!(paths.id("a.css"), 0);
        assert_eq!(paths.id("b.css"), 1);
        assert_eq!(paths.id("a.css"), 0);
        assert_eq!(paths.list, ["a.css", "b.css"]);
    }

    #[test]
    fn the_page_has_one_slot_for_its_data() {
        assert_eq!(PAGE.matches(SLOT).count(), 1);
        assert!(PAGE.contains("Content-Security-Policy"));
    }
}
