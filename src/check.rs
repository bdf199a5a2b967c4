//! `stapler check` (and `compress --strict`): every cause of a missing key that a build can see,
//! found without writing anything. A key is missing at request time when the server renders a
//! block differently from the build: a variable the offline contexts do not define, a value
//! that comes from the request, a block that renders the same in file and inline mode, a
//! template the build skipped, a folder the build does not read.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::block::{Block, Mode};
use crate::config::{Config, ContextSource};
use crate::diagnostic::{FindingKind, Location};
use crate::templates::{variables, Scan};

/// Variables that hold the request's values: never in an offline context.
const FROM_THE_REQUEST: &[&str] = &["request", "user", "csrf_token", "perms"];

/// Names every render defines.
const ALWAYS_DEFINED: &[&str] = &["STATIC_URL", "block", "forloop", "loop"];

/// One cause of a missing key, at its place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub file: String,
    /// 1-based; 0 when the whole file or the settings are meant.
    pub line: usize,
    /// A stable name for the kind of finding.
    pub kind: FindingKind,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    fn at(location: &Location, kind: FindingKind, message: String) -> Finding {
        Finding {
            file: location.file.display().to_string(),
            line: location.line,
            kind,
            message,
        }
    }

    /// `file:line: message`, as the other messages say it.
    pub fn describe(&self) -> String {
        match self.line {
            _ if self.file.is_empty() => self.message.clone(),
            0 => format!("{}: {}", self.file, self.message),
            line => format!("{}:{line}: {}", self.file, self.message),
        }
    }
}

/// Everything `check` finds in a scan, sorted by place.
pub fn findings(config: &Config, scan: &Scan) -> Vec<Finding> {
    let mut found: BTreeSet<Finding> = BTreeSet::new();
    for skipped in &scan.skipped {
        found.insert(Finding::at(
            &Location::file(&skipped.template),
            FindingKind::SkippedTemplate,
            format!("skipped, so its blocks have no keys: {}", skipped.reason),
        ));
    }
    for warning in &scan.warnings {
        found.insert(Finding {
            file: String::new(),
            line: 0,
            kind: FindingKind::Departure,
            message: warning.clone(),
        });
    }
    found.extend(mode_conflicts(&scan.blocks));
    found.extend(variable_findings(config, &scan.blocks));
    for mismatch in &config.folder_mismatches {
        found.insert(Finding {
            file: config
                .source
                .as_ref()
                .map_or_else(|| "settings".into(), |path| path.display().to_string()),
            line: 0,
            kind: FindingKind::SettingsMismatch,
            message: mismatch.clone(),
        });
    }
    found.extend(budget_findings(config, &scan.blocks));
    found.into_iter().collect()
}

/// Bundles and pages over `[budget]`, judged by the bundles the manifest on disk names for the
/// blocks this scan renders: what the last build wrote, as visitors would download it. Nothing
/// when no budget is set or no build wrote a manifest yet.
fn budget_findings(config: &Config, blocks: &[Block]) -> Vec<Finding> {
    if !config.budget.is_set() {
        return Vec::new();
    }
    let Ok(manifest) = crate::manifest::Manifest::load(&config.manifest) else {
        return Vec::new();
    };
    let output_dir = &config.manifest.output_dir;
    let mut build = crate::compress::Build::default();
    let mut named = BTreeSet::new();
    for block in blocks {
        let bundles = manifest.outputs_of(&block.key, output_dir);
        for name in &bundles {
            if named.insert(name.clone()) {
                let path = config.compress.root.join(name);
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                build.bundles.push(crate::compress::Output {
                    name: name.clone(),
                    bytes: meta.len(),
                    gzip_bytes: None,
                    brotli_bytes: None,
                });
                build.compositions.push(crate::compress::Composition {
                    bundle: name.clone(),
                    sources: Vec::new(),
                });
            }
        }
        build
            .origins
            .push(crate::compress::Origin::of(block, Some(&bundles)));
    }
    let mut anatomy = crate::anatomy::Anatomy::of(&build, &[]);
    anatomy.measure(&config.compress.root, config.compress.cache_dir.as_deref());
    anatomy
        .over_budget(&config.budget)
        .into_iter()
        .map(|warning| Finding {
            file: warning
                .location
                .as_ref()
                .map_or_else(String::new, |at| at.file.display().to_string()),
            line: warning.location.as_ref().map_or(0, |at| at.line),
            kind: FindingKind::OverBudget,
            message: warning.message,
        })
        .collect()
}

/// Blocks whose body is the same in file and inline mode: one key, two renderings, and the
/// manifest holds only the last.
fn mode_conflicts(blocks: &[Block]) -> Vec<Finding> {
    let mut by_key: BTreeMap<&str, Vec<&Block>> = BTreeMap::new();
    for block in blocks {
        by_key.entry(&block.key).or_default().push(block);
    }
    let mut found = Vec::new();
    for same in by_key.values() {
        let modes: BTreeSet<&str> = same.iter().map(|b| mode_name(b.mode)).collect();
        if modes.len() < 2 {
            continue;
        }
        let places: BTreeSet<String> = same.iter().map(|b| b.location.to_string()).collect();
        for block in same {
            found.push(Finding::at(
                &block.location,
                FindingKind::ModeConflict,
                format!(
                    "this block's body is the same in {} modes ({}), so both have one key and the manifest holds one rendering; make the bodies differ (a comment will do)",
                    modes.iter().copied().collect::<Vec<_>>().join(" and "),
                    places.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    found
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::File => "file",
        Mode::Inline => "inline",
        Mode::Preload => "preload",
    }
}

/// Variables read in blocks (and in a variable `{% extends %}`) that no offline context
/// defines, and values that come from the request.
fn variable_findings(config: &Config, blocks: &[Block]) -> Vec<Finding> {
    if config.templates.context_source == (ContextSource::Django { opaque: true }) {
        // Only Python holds these contexts' names.
        return Vec::new();
    }
    let defined: BTreeSet<&str> = config
        .templates
        .offline_contexts
        .iter()
        .flat_map(|context| context.keys().map(String::as_str))
        .chain(ALWAYS_DEFINED.iter().copied())
        .collect();
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for block in blocks {
        if !seen.insert(block.location.clone()) {
            continue;
        }
        let Ok(template) = std::fs::read_to_string(&block.location.file) else {
            continue;
        };
        if let Some((name, line)) = variables::extends_variable(&template) {
            if !defined.contains(name.as_str())
                && seen.insert(Location::new(&block.location.file, 0))
            {
                found.push(Finding::at(
                    &Location::new(&block.location.file, line),
                    FindingKind::UndefinedVariable,
                    format!("{{% extends {name} %}} names its parent by a variable no offline context defines, so offline it extends nothing and at request time its parent; define `{name}` in every offline context (COMPRESS_OFFLINE_CONTEXT or `offline_context`), or extend a quoted name"),
                ));
            }
        }
        let Some(source) = variables::block_source(&template, block.location.line) else {
            continue;
        };
        let mut named = BTreeSet::new();
        for read in variables::reads(source) {
            if defined.contains(read.name.as_str()) || !named.insert(read.name.clone()) {
                continue;
            }
            let at = Location::new(&block.location.file, block.location.line + read.line);
            let name = &read.name;
            let finding = if FROM_THE_REQUEST.contains(&name.as_str()) {
                Finding::at(
                    &at,
                    FindingKind::RequestVariable,
                    format!("`{name}` comes from the request: offline it is empty, at request time it differs per visitor, so the key is missing; move it outside the {{% compress %}} block"),
                )
            } else {
                Finding::at(
                    &at,
                    FindingKind::UndefinedVariable,
                    format!("`{name}` is used in a {{% compress %}} block but no offline context defines it, so offline it renders as nothing and at request time as its value; define it in every offline context (COMPRESS_OFFLINE_CONTEXT or `offline_context`), or move it outside the block"),
                )
            };
            found.push(finding);
        }
    }
    found
}
