//! What a build is made of, for the people who pay for its bytes: every bundle with its sizes,
//! the sources that make it and the blocks that load it; the pages (a template in one offline
//! context) and what each loads; the sources many bundles repeat and what the repetition
//! costs; and what goes over the `[budget]`.
//!
//! It is made from a build's record ([`Build`]'s compositions and origins), so a report can be
//! written long after the build, and it measures compressed sizes only when asked.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::block::Kind;
use crate::compress::cache::Cache;
use crate::compress::{Build, Share};
use crate::config::budget::Budget;
use crate::error::{Location, Warning};

/// The visitor the duplication cost is counted for loads this many pages.
pub const PAGES_VISITED: u64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Anatomy {
    pub bundles: Vec<BundleView>,
    /// Every source (file or inline hunk) some bundle holds, most repeated bytes first.
    pub sources: Vec<SourceView>,
    /// Every distinct block, in the order the build found them.
    pub blocks: Vec<BlockView>,
    /// Every template and offline context, with the bundles its blocks load.
    pub pages: Vec<PageView>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleView {
    pub name: String,
    /// `css` or `js`.
    pub kind: String,
    pub bytes: u64,
    pub gzip_bytes: Option<u64>,
    pub brotli_bytes: Option<u64>,
    /// Its parts in order, each with its share of `bytes`.
    pub sources: Vec<Share>,
    /// Keys of the blocks that load it.
    pub blocks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceView {
    pub source: String,
    /// Its minified bytes in one bundle.
    pub bytes: u64,
    /// How many bundles hold it.
    pub bundles: u64,
    /// Bytes of its copies past the first, across the build: what bundling it once would save
    /// on disk and on a CDN.
    pub repeated_bytes: u64,
    /// What the repetition costs a visitor who loads [`PAGES_VISITED`] pages whose bundles all
    /// hold it: copies past the first, downloaded again.
    pub visitor_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockView {
    pub key: String,
    pub kind: Kind,
    pub places: Vec<Place>,
    pub bundles: Vec<String>,
}

/// A template and context a block renders in, and where its tag is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub template: String,
    pub file: PathBuf,
    pub line: usize,
    pub context: usize,
    /// `django` when Django rendered the template through the bridge, else `native`.
    pub rendered_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageView {
    pub template: String,
    pub context: usize,
    /// The first block's place, where a page over budget is reported.
    pub file: PathBuf,
    pub line: usize,
    pub bundles: Vec<String>,
    pub bytes: u64,
    pub gzip_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub bundles: u64,
    pub bytes: u64,
    /// `None` until every bundle is measured.
    pub gzip_bytes: Option<u64>,
    pub brotli_bytes: Option<u64>,
    pub sources: u64,
    /// Sources in more than one bundle.
    pub repeated_sources: u64,
    pub repeated_bytes: u64,
}

impl Anatomy {
    /// The anatomy of a build; `by_django` names the templates Django rendered.
    pub fn of(build: &Build, by_django: &[(PathBuf, String)]) -> Anatomy {
        let sizes: HashMap<&str, &crate::compress::Output> = build
            .bundles
            .iter()
            .map(|file| (file.name.as_str(), file))
            .collect();
        let mut loaded_by: HashMap<&str, Vec<String>> = HashMap::new();
        let mut blocks: Vec<BlockView> = Vec::new();
        let mut block_index: HashMap<&str, usize> = HashMap::new();
        let mut pages: BTreeMap<(&str, usize), PageView> = BTreeMap::new();
        for origin in &build.origins {
            let rendered_by = if by_django
                .iter()
                .any(|(path, _)| path.ends_with(&origin.template))
            {
                "django"
            } else {
                "native"
            };
            let place = Place {
                template: origin.template.clone(),
                file: origin.file.clone(),
                line: origin.line,
                context: origin.context,
                rendered_by: rendered_by.to_string(),
            };
            let index = *block_index.entry(&origin.key).or_insert_with(|| {
                blocks.push(BlockView {
                    key: origin.key.clone(),
                    kind: origin.kind,
                    places: Vec::new(),
                    bundles: origin.bundles.clone(),
                });
                for name in &origin.bundles {
                    let keys = loaded_by.entry(name).or_default();
                    if !keys.contains(&origin.key) {
                        keys.push(origin.key.clone());
                    }
                }
                blocks.len() - 1
            });
            if !blocks[index].places.contains(&place) {
                blocks[index].places.push(place);
            }
            let page = pages
                .entry((&origin.template, origin.context))
                .or_insert_with(|| PageView {
                    template: origin.template.clone(),
                    context: origin.context,
                    file: origin.file.clone(),
                    line: origin.line,
                    bundles: Vec::new(),
                    bytes: 0,
                    gzip_bytes: None,
                });
            for name in &origin.bundles {
                if !page.bundles.contains(name) {
                    page.bundles.push(name.clone());
                }
            }
        }
        let mut bundles: Vec<BundleView> = build
            .compositions
            .iter()
            .map(|composition| {
                let file = sizes.get(composition.bundle.as_str());
                BundleView {
                    kind: kind_of(&composition.bundle),
                    name: composition.bundle.clone(),
                    bytes: file.map_or(0, |file| file.bytes),
                    gzip_bytes: file.and_then(|file| file.gzip_bytes),
                    brotli_bytes: file.and_then(|file| file.brotli_bytes),
                    sources: composition.sources.clone(),
                    blocks: loaded_by
                        .remove(composition.bundle.as_str())
                        .unwrap_or_default(),
                }
            })
            .collect();
        bundles.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        let sources = sources_of(&bundles);
        let mut anatomy = Anatomy {
            bundles,
            sources,
            blocks,
            pages: pages.into_values().collect(),
            totals: Totals::default(),
        };
        anatomy.total();
        anatomy
    }

    /// Reads the gzip (level 9) and Brotli (quality 5) size of every bundle not yet measured
    /// from the files under `root`. A bundle's name carries its content's hash, so its sizes
    /// are kept in the build cache (`cache_dir`) and measured once.
    pub fn measure(&mut self, root: &Path, cache_dir: Option<&Path>) {
        let cache = Cache::new(cache_dir);
        self.bundles.par_iter_mut().for_each(|bundle| {
            if bundle.gzip_bytes.is_some() && bundle.brotli_bytes.is_some() {
                return;
            }
            let path = root.join(&bundle.name);
            if let Some((gzip, brotli)) =
                crate::compress::compressed_sizes(&cache, &path, &bundle.name, bundle.bytes)
            {
                bundle.gzip_bytes = Some(gzip);
                bundle.brotli_bytes = brotli;
            }
        });
        self.total();
    }

    /// Sums the totals and each page's bytes from the bundles.
    fn total(&mut self) {
        let by_name: HashMap<&str, &BundleView> = self
            .bundles
            .iter()
            .map(|bundle| (bundle.name.as_str(), bundle))
            .collect();
        for page in &mut self.pages {
            let loaded: Vec<&&BundleView> = page
                .bundles
                .iter()
                .filter_map(|name| by_name.get(name.as_str()))
                .collect();
            page.bytes = loaded.iter().map(|bundle| bundle.bytes).sum();
            page.gzip_bytes = loaded.iter().map(|bundle| bundle.gzip_bytes).sum();
        }
        let repeated: Vec<&SourceView> = self
            .sources
            .iter()
            .filter(|source| source.bundles > 1)
            .collect();
        self.totals = Totals {
            bundles: self.bundles.len() as u64,
            bytes: self.bundles.iter().map(|bundle| bundle.bytes).sum(),
            gzip_bytes: self.bundles.iter().map(|bundle| bundle.gzip_bytes).sum(),
            brotli_bytes: self.bundles.iter().map(|bundle| bundle.brotli_bytes).sum(),
            sources: self.sources.len() as u64,
            repeated_sources: repeated.len() as u64,
            repeated_bytes: repeated.iter().map(|source| source.repeated_bytes).sum(),
        };
    }

    /// What goes over `budget`, each bundle and page at the place of the block that loads it.
    /// Bundles not measured are not judged.
    pub fn over_budget(&self, budget: &Budget) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let places: HashMap<&str, &Place> = self
            .blocks
            .iter()
            .filter_map(|block| {
                block
                    .places
                    .first()
                    .map(|place| (block.key.as_str(), place))
            })
            .collect();
        if let Some(limit) = budget.bundle {
            for bundle in &self.bundles {
                let Some(gzip) = bundle.gzip_bytes.filter(|gzip| *gzip > limit) else {
                    continue;
                };
                let place = bundle
                    .blocks
                    .first()
                    .and_then(|key| places.get(key.as_str()));
                let message = format!(
                    "bundle {} is {} gzip, over the {} per-bundle budget ([budget] bundle)",
                    bundle.name,
                    size(gzip),
                    size(limit)
                );
                warnings.push(match place {
                    Some(place) => Warning::at(Location::new(&place.file, place.line), message),
                    None => Warning::general(message),
                });
            }
        }
        if let Some(limit) = budget.page {
            for page in &self.pages {
                let Some(gzip) = page.gzip_bytes.filter(|gzip| *gzip > limit) else {
                    continue;
                };
                warnings.push(Warning::at(
                    Location::new(&page.file, page.line),
                    format!(
                        "page {} (offline context {}) loads {} in {} bundle(s), over the {} per-page budget ([budget] page)",
                        page.template,
                        page.context,
                        size(gzip),
                        page.bundles.len(),
                        size(limit)
                    ),
                ));
            }
        }
        if let (Some(limit), Some(gzip)) = (budget.total, self.totals.gzip_bytes) {
            if gzip > limit {
                warnings.push(Warning::general(format!(
                    "the build's {} bundles are {} gzip together, over the {} total budget ([budget] total)",
                    self.totals.bundles,
                    size(gzip),
                    size(limit)
                )));
            }
        }
        warnings
    }
}

/// `css` or `js`, from a bundle's name.
fn kind_of(name: &str) -> String {
    Path::new(name)
        .extension()
        .map_or_else(String::new, |ext| ext.to_string_lossy().into_owned())
}

/// Every source, with how many bundles hold it and what that costs; most costly first.
fn sources_of(bundles: &[BundleView]) -> Vec<SourceView> {
    let mut by_source: HashMap<&str, (u64, u64)> = HashMap::new();
    for bundle in bundles {
        for share in &bundle.sources {
            let entry = by_source.entry(&share.source).or_insert((0, 0));
            entry.0 = entry.0.max(share.bytes);
            entry.1 += 1;
        }
    }
    let mut sources: Vec<SourceView> = by_source
        .into_iter()
        .map(|(source, (bytes, count))| SourceView {
            source: source.to_string(),
            bytes,
            bundles: count,
            repeated_bytes: bytes * (count - 1),
            visitor_bytes: bytes * (count.min(PAGES_VISITED) - 1),
        })
        .collect();
    sources.sort_by(|a, b| {
        b.repeated_bytes
            .cmp(&a.repeated_bytes)
            .then_with(|| b.bytes.cmp(&a.bytes))
            .then_with(|| a.source.cmp(&b.source))
    });
    sources
}

/// Bytes as people read them: `950 B`, `12.3 KiB`, `1.50 MiB`.
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.2} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::{Composition, Origin, Output};

    fn share(source: &str, bytes: u64) -> Share {
        Share {
            source: source.into(),
            bytes,
        }
    }

    fn origin(key: &str, template: &str, line: usize, bundles: &[&str]) -> Origin {
        Origin {
            key: key.into(),
            kind: Kind::Js,
            template: template.into(),
            file: PathBuf::from(format!("templates/{template}")),
            line,
            context: 0,
            bundles: bundles.iter().map(|name| name.to_string()).collect(),
        }
    }

    /// Two pages, each with a page bundle that repeats the vendor file.
    fn build() -> Build {
        let output = |name: &str, bytes: u64, gzip: u64| Output {
            name: name.into(),
            bytes,
            gzip_bytes: Some(gzip),
            brotli_bytes: None,
        };
        Build {
            bundles: vec![output("a.js", 1100, 400), output("b.js", 1200, 500)],
            compositions: vec![
                Composition {
                    bundle: "a.js".into(),
                    sources: vec![share("vendor.js", 1000), share("a-page.js", 100)],
                },
                Composition {
                    bundle: "b.js".into(),
                    sources: vec![share("vendor.js", 1000), share("b-page.js", 200)],
                },
            ],
            origins: vec![
                origin("ka", "a.html", 3, &["a.js"]),
                origin("kb", "b.html", 5, &["b.js"]),
                origin("kb", "c.html", 5, &["b.js"]),
            ],
            ..Build::default()
        }
    }

    #[test]
    fn a_source_in_two_bundles_costs_its_second_copy() {
        let anatomy = Anatomy::of(
            &build(),
            &[(PathBuf::from("/site/templates/c.html"), "x".into())],
        );
        let vendor = &anatomy.sources[0];
        assert_eq!(
            (
                vendor.source.as_str(),
                vendor.bundles,
                vendor.repeated_bytes,
                vendor.visitor_bytes
            ),
            ("vendor.js", 2, 1000, 1000)
        );
        assert_eq!(anatomy.totals.repeated_sources, 1);
        assert_eq!(anatomy.totals.gzip_bytes, Some(900));
        assert_eq!(anatomy.bundles[0].name, "b.js");
        assert_eq!(anatomy.bundles[0].blocks, vec!["kb".to_string()]);
        let kb = &anatomy.blocks[1];
        assert_eq!(kb.places.len(), 2);
        assert_eq!(kb.places[1].rendered_by, "django");
        assert_eq!(anatomy.pages.len(), 3);
    }

    #[test]
    fn budgets_name_the_block_that_goes_over() {
        let anatomy = Anatomy::of(&build(), &[]);
        let budget = Budget {
            bundle: Some(450),
            page: Some(450),
            total: Some(800),
        };
        let warnings: Vec<String> = anatomy
            .over_budget(&budget)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            warnings,
            [
                "templates/b.html:5: bundle b.js is 500 B gzip, over the 450 B per-bundle budget ([budget] bundle)",
                "templates/b.html:5: page b.html (offline context 0) loads 500 B in 1 bundle(s), over the 450 B per-page budget ([budget] page)",
                "templates/c.html:5: page c.html (offline context 0) loads 500 B in 1 bundle(s), over the 450 B per-page budget ([budget] page)",
                "the build's 2 bundles are 900 B gzip together, over the 800 B total budget ([budget] total)",
            ]
        );
        assert!(anatomy.over_budget(&Budget::default()).is_empty());
    }
}
