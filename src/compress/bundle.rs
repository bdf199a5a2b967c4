//! Bundles: a block's parts concatenated run by run into outputs named by their content
//! (`CACHE/css/output.3f2a9c1b0d4e.css`), each with its map and integrity when asked for, and
//! the [`Tag`]s that load them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::block::{Block, Kind, Mode};
use crate::config::SourceMaps;

use super::cache::Cache;
use super::plan::{Group, Plan, SourceId};
use super::source::Processed;
use super::sourcemap;
use super::sri::{self, Integrity, Sri};

pub use super::tag::{BuiltBlock, Tag};

/// One output file of a block, with its text when it has to be written.
#[derive(Debug)]
pub struct Bundle {
    /// Path under `root`, `/`-separated (`CACHE/css/output.3f2a9c1b0d4e.css`).
    pub name: String,
    pub size: u64,
    /// `None` when the cache knows an identical bundle is already on disk under `name`.
    pub content: Option<String>,
    /// What the tag's `integrity` attribute says, when `sri_hashes` asks for one.
    pub integrity: Option<Integrity>,
    /// The bundle's source map (`<name>.map`), with `content`, when maps are made.
    pub map: Option<Vec<u8>>,
    pub map_size: Option<u64>,
    /// Each part's share of the bundle's bytes, in order.
    pub shares: Vec<super::Share>,
}

/// What naming bundles needs.
pub struct Naming<'a> {
    /// `url`, the prefix of every output's URL.
    pub url: &'a str,
    /// The folder under `root` bundles go to.
    pub output_dir: &'a str,
    pub cache: &'a Cache,
    /// Whether an existing output may be trusted (false with `--force`).
    pub reuse: bool,
    /// Whether a file of `name` and `size` is already under `root`.
    pub on_disk: &'a (dyn Fn(&str, u64) -> bool + Sync),
    /// Which `integrity` attributes tags get.
    pub sri: &'a Sri,
    /// Whether bundles get maps, and a comment pointing at them.
    pub maps: SourceMaps,
    /// Whether maps carry their sources' text.
    pub sources_content: bool,
}

/// What the cache knows about a bundle: the name its content was given, and its integrity.
#[derive(Serialize, Deserialize)]
struct KnownBundle {
    name: String,
    size: u64,
    #[serde(default)]
    integrity: Option<Integrity>,
    #[serde(default)]
    map_size: Option<u64>,
}

/// What building one block gave.
pub struct Built {
    pub block: BuiltBlock,
    pub bundles: Vec<Bundle>,
    /// Where stapler departed from django-compressor's output for this block, and why.
    pub warning: Option<crate::error::Warning>,
}

/// Concatenates a block's parts run by run and names each run's output.
///
/// A run is what django-compressor puts in one file: consecutive parts of the same group. A
/// script run also ends where a part's strictness differs from the run's first part: a
/// `"use strict"` directive counts only at the start of a script, so concatenating would make
/// a sloppy file strict (a SyntaxError or ReferenceError in the browser) or a strict one sloppy.
pub fn build_block(
    plan: &Plan<'_>,
    texts: &HashMap<&SourceId, Processed>,
    naming: &Naming<'_>,
) -> Built {
    let block = plan.block;
    let mut runs: Vec<(&Group, Vec<&Processed>)> = Vec::new();
    let mut strictness_splits = Vec::new();
    for part in &plan.parts {
        let Some(done) = texts.get(&part.source) else {
            continue;
        };
        let module = matches!(part.group, Group::Script(loading) if loading.is_module());
        match runs.last_mut() {
            // Each module is a scope of its own: modules are never concatenated.
            _ if module || plan.separate => runs.push((&part.group, vec![done])),
            Some((group, parts)) if **group == part.group && parts[0].strict == done.strict => {
                parts.push(done)
            }
            Some((group, parts)) if **group == part.group => {
                strictness_splits.push((
                    parts[0].label.clone(),
                    done.label.clone(),
                    parts[0].strict,
                ));
                runs.push((&part.group, vec![done]))
            }
            _ => runs.push((&part.group, vec![done])),
        }
    }
    let warning = strictness_warning(block, &strictness_splits);
    let mut tags = Vec::new();
    let mut bundles = Vec::new();
    for (group, parts) in runs {
        let concatenate = || concatenate(block.kind, &parts);
        let with_map = || {
            let text = concatenate();
            let map = (naming.maps != SourceMaps::None)
                .then(|| join_maps(&parts, naming.sources_content));
            (text, map)
        };
        let media = match group {
            Group::Media(media) => media.clone(),
            Group::Script(_) => String::new(),
        };
        let module = matches!(group, Group::Script(loading) if loading.is_module());
        let tag = match (block.mode, block.kind) {
            (Mode::Inline, Kind::Css) => Tag::Style {
                media,
                text: concatenate(),
            },
            (Mode::Inline, Kind::Js) => Tag::InlineScript {
                text: concatenate(),
                module,
            },
            (Mode::File | Mode::Preload, _) => {
                let mut bundle = name_bundle(block, &parts, naming, with_map);
                bundle.shares = shares(block.kind, &parts);
                let url = format!("{}{}", naming.url, bundle.name);
                let integrity = bundle.integrity.clone();
                bundles.push(bundle);
                match (block.mode, group) {
                    (Mode::Preload, _) => Tag::Preload {
                        url,
                        kind: block.kind,
                        module,
                        integrity,
                    },
                    (_, Group::Script(loading)) => Tag::Script {
                        url,
                        loading: *loading,
                        integrity,
                    },
                    (_, Group::Media(_)) => Tag::Stylesheet {
                        url,
                        media,
                        integrity,
                    },
                }
            }
        };
        tags.push(tag);
    }
    Built {
        block: BuiltBlock {
            key: block.key.clone(),
            kind: block.kind,
            tags,
        },
        bundles,
        warning,
    }
}

/// Says where a block was split to keep each script's mode: (first of the run, the part that
/// differs, whether the first is strict).
fn strictness_warning(
    block: &Block,
    splits: &[(std::path::PathBuf, std::path::PathBuf, bool)],
) -> Option<crate::error::Warning> {
    if splits.is_empty() {
        return None;
    }
    let mode = |strict: bool| if strict { "strict" } else { "not strict" };
    let pairs: Vec<String> = splits
        .iter()
        .map(|(first, next, strict)| {
            format!(
                "{} ({}) and {} ({})",
                first.display(),
                mode(*strict),
                next.display(),
                mode(!*strict)
            )
        })
        .collect();
    Some(crate::error::Warning::at(
        block.location.clone(),
        format!(
            "split into separate scripts so each keeps its \"use strict\" mode, where django-compressor would concatenate them and change one's mode: {}",
            pairs.join("; ")
        ),
    ))
}

/// What each part adds to a bundle [`concatenate`] joins: its minified text and the separator
/// after it.
fn shares(kind: Kind, parts: &[&Processed]) -> Vec<super::Share> {
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(index, done)| {
            let semicolon = u64::from(kind == Kind::Js);
            let newline = u64::from(index < last);
            super::Share {
                source: done.label.display().to_string(),
                bytes: done.text.len() as u64 + semicolon + newline,
            }
        })
        .collect()
}

/// CSS parts joined by newlines; each JS part ended with `;`, then joined by newlines.
fn concatenate(kind: Kind, parts: &[&Processed]) -> String {
    match kind {
        Kind::Css => parts
            .iter()
            .map(|done| done.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Kind::Js => parts
            .iter()
            .map(|done| format!("{};", done.text))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The map of parts joined as [`concatenate`] joins them: one below another, each moved down
/// by the lines of those before it (a script's `;` stays on its last line).
fn join_maps(parts: &[&Processed], sources_content: bool) -> Vec<u8> {
    let mut placed = Vec::new();
    let mut line = 0;
    for done in parts {
        if let Some(map) = &done.map {
            placed.push((line, map));
        }
        line += sourcemap::line_count(&done.text);
    }
    sourcemap::join(&placed, sources_content)
}

/// The comment that tells a browser where a bundle's map is, relative to the bundle.
fn map_comment(kind: Kind, name: &str) -> String {
    let file = name.rsplit('/').next().unwrap_or(name);
    match kind {
        Kind::Css => format!("\n/*# sourceMappingURL={file}.map */"),
        Kind::Js => format!("\n//# sourceMappingURL={file}.map"),
    }
}

/// The base of a bundle's file name: the block's name without folder and extension, or `output`.
fn base_name(block: &Block) -> String {
    block
        .name
        .as_deref()
        .map(|name| {
            let file = name.rsplit('/').next().unwrap_or(name);
            file.rsplit_once('.')
                .map_or(file, |(stem, _)| stem)
                .to_string()
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "output".to_string())
}

/// The bundle for one run of parts: named by the sha256 of its content (and of its map, so a
/// map's name changes whenever it does), which is only built when the cache does not already
/// know an identical bundle that is still on disk.
fn name_bundle(
    block: &Block,
    parts: &[&Processed],
    naming: &Naming<'_>,
    build: impl FnOnce() -> (String, Option<Vec<u8>>),
) -> Bundle {
    let base = base_name(block);
    let kind = block.kind.as_str();
    let mut key_parts: Vec<&[u8]> = vec![
        b"bundle",
        kind.as_bytes(),
        base.as_bytes(),
        naming.output_dir.as_bytes(),
    ];
    key_parts.extend(parts.iter().map(|done| done.digest.as_slice()));
    let sri_setting = naming.sri.describe();
    if naming.sri.is_on() {
        key_parts.push(sri_setting.as_bytes());
    }
    let maps_setting = format!("{:?} {}", naming.maps, naming.sources_content);
    if naming.maps != SourceMaps::None {
        key_parts.push(maps_setting.as_bytes());
    }
    let key = Cache::key(&key_parts);
    let known: Option<KnownBundle> = if naming.reuse {
        naming.cache.get(&key, None)
    } else {
        None
    };
    if let Some(known) = &known {
        let map_there = known
            .map_size
            .is_none_or(|size| (naming.on_disk)(&format!("{}.map", known.name), size));
        if map_there && (naming.on_disk)(&known.name, known.size) {
            return Bundle {
                name: known.name.clone(),
                size: known.size,
                content: None,
                integrity: known.integrity.clone(),
                map: None,
                map_size: known.map_size,
                shares: Vec::new(),
            };
        }
    }
    let (mut content, map) = build();
    let comment = |name: &str| match naming.maps {
        SourceMaps::Linked => map_comment(block.kind, name),
        SourceMaps::None | SourceMaps::Hidden => String::new(),
    };
    let map_size = map.as_ref().map(|map| map.len() as u64);
    // The parts' digests determine the content, so a verified cache entry also gives its name:
    // no need to hash the whole bundle again.
    let known = known.filter(|known| {
        known.size == (content.len() + comment(&known.name).len()) as u64
            && known.map_size == map_size
    });
    if let Some(known) = known {
        content.push_str(&comment(&known.name));
        return Bundle {
            name: known.name,
            size: content.len() as u64,
            content: Some(content),
            integrity: known.integrity,
            map,
            map_size,
            shares: Vec::new(),
        };
    }
    let mut hasher = Sha256::new();
    hasher.update(content.as_bytes());
    if let Some(map) = &map {
        hasher.update(map);
    }
    let hash = hex::encode(hasher.finalize());
    let name = format!("{}/{kind}/{base}.{}.{kind}", naming.output_dir, &hash[..12]);
    content.push_str(&comment(&name));
    let size = content.len() as u64;
    let integrity = sri::integrity(naming.sri, content.as_bytes());
    // Only meaningful beside this machine's outputs: never shared.
    naming.cache.put_local(
        &key,
        &KnownBundle {
            name: name.clone(),
            size,
            integrity: integrity.clone(),
            map_size,
        },
    );
    Bundle {
        name,
        size,
        content: Some(content),
        integrity,
        map,
        map_size,
        shares: Vec::new(),
    }
}
