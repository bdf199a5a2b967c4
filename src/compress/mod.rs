//! Compress: from rendered blocks to bundles on disk and the tags each block renders to.
//!
//! The unit of work is the distinct source file, not the bundle: every file any block refers to
//! is read, checked, url-rewritten and minified once (in parallel), then each distinct block's
//! bundles are the concatenation of their parts' minified texts.

pub mod bundle;
pub mod cache;
mod composition;
pub mod css;
pub mod css_minify;
pub mod css_urls;
pub mod html;
pub mod js;
mod origin;
pub mod pack;
pub mod plan;
pub mod precompile;
pub mod precompress;
mod redeclared;
pub mod resolve;
pub mod sass;
mod sizes;
pub mod source;
pub mod sourcemap;
pub mod sri;
pub mod tag;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::block::Block;
use crate::config::CompressSettings;
use crate::error::{Error, Location, Result};
use crate::output::{self, Durability};
use crate::progress::{Progress, Work};
use crate::run::Run;

pub use composition::{Composition, Origin, Share};
pub use sizes::{brotli_size, compressed_sizes, gzip_size, LARGEST_REPORTED};

use bundle::{Built, BuiltBlock, Naming};
use cache::{Cache, Counter, SharedReport};
use css_urls::{AssetCopy, FileHashes, UrlPolicy};
use plan::SourceId;
use precompile::Precompilers;
use resolve::Roots;
use source::{Minifying, Prepared, Processed, Reading};

/// A file written under `root`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Output {
    /// Path relative to `root`, `/`-separated (`CACHE/css/output.3f2a9c1b0d4e.css`).
    pub name: String,
    pub bytes: u64,
    /// Gzip -9 size, for the summary; `None` when not measured.
    pub gzip_bytes: Option<u64>,
    /// Brotli (quality 5) size, measured for the largest bundles only (the build report's).
    #[serde(default)]
    pub brotli_bytes: Option<u64>,
}

/// What `build` produced.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Build {
    /// Each distinct block with the tags it renders to, in the order blocks were found.
    #[serde(skip)]
    pub blocks: Vec<BuiltBlock>,
    /// How many distinct blocks there are (`blocks.len()` after a build).
    pub unique_blocks: usize,
    /// Blocks seen, counting each context and template separately.
    pub blocks_seen: usize,
    /// What each distinct block was made of.
    #[serde(skip)]
    pub parts: Vec<plan::BlockParts>,
    /// Bundles written (or found already written), one per distinct output, by name.
    pub bundles: Vec<Output>,
    /// Content-hashed copies of images and fonts that stylesheets point at.
    pub assets: Vec<Output>,
    /// `.gz` and `.br` files beside bundles and text assets (`precompress`).
    #[serde(default)]
    pub precompressed: Vec<Output>,
    /// Each bundle's source map (`source_maps`), `<bundle>.map`.
    #[serde(default)]
    pub source_maps: Vec<Output>,
    /// What each bundle is made of, by name.
    #[serde(default)]
    pub compositions: Vec<Composition>,
    /// Every block seen (each template and context), where it is written and what it loads.
    #[serde(default)]
    pub origins: Vec<Origin>,
    /// Distinct source files and inline hunks read, and their bytes.
    pub sources: usize,
    pub bytes_in: u64,
    /// Sources whose minified text came from the cache.
    pub cached: u64,
    /// What the shared cache on S3 did, if one is configured.
    pub shared_cache: SharedReport,
    /// Things worth knowing that did not stop the build.
    pub warnings: Vec<crate::error::Warning>,
    /// Every static path the build looked up, with what it found: what a later run checks to
    /// know that nothing it would read has changed.
    #[serde(skip)]
    pub lookups: Vec<(String, Result<PathBuf, resolve::Unresolved>)>,
    /// Files a Sass compilation read besides the sources `lookups` names (its partials), and
    /// files it looked for that did not exist.
    #[serde(skip)]
    pub also_read: Vec<PathBuf>,
    #[serde(skip)]
    pub looked_for: Vec<PathBuf>,
    /// Whether the build ran a precompiler, which may have read any file: a later run cannot
    /// know from metadata that nothing changed.
    #[serde(skip)]
    pub reads_unlisted_files: bool,
}

impl Build {
    /// What a record of the build keeps: its outputs and warnings, without what only this run
    /// needs (blocks, parts, lookups) or what bundles are made of ([`Build::described`]).
    pub fn recorded(&self) -> Build {
        Build {
            unique_blocks: self.unique_blocks,
            blocks_seen: self.blocks_seen,
            bundles: self.bundles.clone(),
            assets: self.assets.clone(),
            precompressed: self.precompressed.clone(),
            source_maps: self.source_maps.clone(),
            sources: self.sources,
            bytes_in: self.bytes_in,
            cached: self.cached,
            warnings: self.warnings.clone(),
            ..Build::default()
        }
    }

    /// [`Build::recorded`] with what each bundle is made of and where each block was found,
    /// for a report written later.
    pub fn described(&self) -> Build {
        Build {
            compositions: self.compositions.clone(),
            origins: self.origins.clone(),
            ..self.recorded()
        }
    }
}

/// Every distinct block's elements as the project's own `COMPRESS_PARSER` reads them, asked of
/// Django in one request.
fn parse_with_django(blocks: &[Block], bridge: &crate::django::Bridge) -> Result<plan::Parsed> {
    let mut seen = HashSet::new();
    let distinct: Vec<&Block> = blocks
        .iter()
        .filter(|block| seen.insert(block.key.as_str()))
        .collect();
    let asked: Vec<(&str, &str)> = distinct
        .iter()
        .map(|block| (block.kind.as_str(), block.body.as_str()))
        .collect();
    let answers = bridge.elements(&asked)?;
    Ok(distinct
        .iter()
        .zip(answers)
        .map(|(block, answer)| {
            let elements = answer.map(|found| {
                found
                    .into_iter()
                    .map(|element| html::Element {
                        tag: element.tag,
                        attrs: element
                            .attrs
                            .into_iter()
                            .map(|(name, value)| html::Attr { name, value })
                            .collect(),
                        text: element.text,
                        line: 0,
                        column: 1,
                    })
                    .collect()
            });
            (block.key.clone(), elements)
        })
        .collect())
}

/// Builds every block: writes bundles and hashed assets under `root` and returns each distinct
/// block's tags. Nothing is written when any input is broken. `force` rewrites every output and
/// trusts no cached bundle name. Its phases (plan, process sources, copy assets, build blocks)
/// read in order here, each a call, which is why it is long rather than split further.
pub fn build(
    settings: &CompressSettings,
    run: &Run,
    force: bool,
    blocks: &[Block],
    progress: &dyn Progress,
) -> Result<Build> {
    let roots = Roots::new(&settings.url, &settings.root, &settings.staticfiles_dirs);
    let precompilers = Precompilers {
        configured: settings.precompilers.clone(),
        cacheable: settings.cacheable_precompilers.clone(),
        bridge: run.bridge().cloned(),
    };
    let parsed = match (&settings.parser, run.bridge()) {
        (Some(_), Some(bridge)) => Some(parse_with_django(blocks, bridge)?),
        _ => None,
    };
    let (plans, plan_warnings) = plan::plan_blocks(
        blocks,
        &roots,
        &precompilers,
        !settings.enabled,
        parsed.as_ref(),
    )?;
    let mut sources: Vec<&SourceId> = plans
        .iter()
        .flat_map(|plan| plan.parts.iter().map(|part| &part.source))
        .collect();
    sources.sort();
    sources.dedup();

    let cache = Cache::open(
        settings.cache_dir.as_deref(),
        settings.shared_cache.as_ref(),
        run,
    );
    let hashes = FileHashes::default();
    let urls = UrlPolicy {
        url: &settings.url,
        method: settings.css_hashing_method,
        roots: &roots,
        hashes: &hashes,
    };
    // Where each inline hunk first appears, for messages about it.
    let mut inline_at: HashMap<&SourceId, &Location> = HashMap::new();
    for part in plans.iter().flat_map(|plan| &plan.parts) {
        if matches!(part.source, SourceId::Inline { .. }) {
            inline_at.entry(&part.source).or_insert(&part.location);
        }
    }
    progress.start(Work::Sources, sources.len() as u64);
    let reading = Reading {
        urls: &urls,
        minifying: Minifying {
            js: settings.js_minify,
            css_errors: settings.css_errors,
            maps: settings.source_maps != crate::config::SourceMaps::None,
        },
        precompilers: &precompilers,
        cache: &cache,
    };
    let processed = process_sources(&sources, &inline_at, &reading, progress);
    progress.finish();
    let Sources {
        texts,
        hits,
        fetched,
    } = processed?;

    let mut build = Build {
        blocks_seen: blocks.len(),
        parts: plans.iter().map(plan::BlockParts::of).collect(),
        sources: sources.len(),
        cached: hits,
        warnings: plan_warnings,
        ..Build::default()
    };
    let mut copies: Vec<&AssetCopy> = Vec::new();
    for source in &sources {
        let done = &texts[source];
        build.also_read.extend(done.depends.read.iter().cloned());
        build.looked_for.extend(done.depends.absent.iter().cloned());
        build.bytes_in += done.bytes_in;
        copies.extend(&done.assets);
        build.warnings.extend(done.warnings.iter().cloned());
    }
    copies.sort();
    copies.dedup();
    build.assets = copies
        .par_iter()
        .map(|copy| write_asset(copy, &roots, force))
        .collect::<Result<Vec<_>>>()?;

    let naming = Naming {
        url: &settings.url,
        output_dir: &settings.output_dir,
        cache: &cache,
        reuse: !force,
        on_disk: &|name, size| on_disk(&roots, name, size),
        sri: &settings.sri,
        maps: settings.source_maps,
        sources_content: settings.source_maps_content,
    };
    let mut bundles_of: HashMap<String, Vec<String>> = HashMap::new();
    for result in build_blocks(&plans, &texts, &naming, &roots, force) {
        let done = result?;
        bundles_of.insert(done.built.block.key.clone(), done.names);
        build.blocks.push(done.built.block);
        build.bundles.extend(done.written);
        build.source_maps.extend(done.maps);
        build.compositions.extend(done.compositions);
        build.warnings.extend(done.built.warning);
    }
    build.origins = blocks
        .iter()
        .map(|block| Origin::of(block, bundles_of.get(&block.key)))
        .collect();
    build.bundles.sort_by(|a, b| a.name.cmp(&b.name));
    build.compositions.sort_by(|a, b| a.bundle.cmp(&b.bundle));
    build.source_maps.sort_by(|a, b| a.name.cmp(&b.name));
    build.unique_blocks = build.blocks.len();
    build.lookups = roots.lookups();
    for paths in [&mut build.also_read, &mut build.looked_for] {
        paths.sort();
        paths.dedup();
    }
    build.reads_unlisted_files = sources
        .iter()
        .any(|source| matches!(source.treatment(), plan::Treatment::Precompiled { .. }));
    if !settings.precompress.is_empty() {
        let files: Vec<&Output> = build
            .bundles
            .iter()
            .chain(&build.assets)
            .chain(&build.source_maps)
            .collect();
        build.precompressed = precompress::precompress(
            &files,
            &settings.precompress,
            settings.brotli_quality,
            &roots,
            &cache,
            force,
        )?;
    }
    sizes::measure_gzip(&mut build.bundles, &roots);
    sizes::measure_largest(&mut build.bundles, &roots, &cache);
    build.shared_cache = cache.finish(fetched);
    Ok(build)
}

/// Whether a file of `name` and `size` is already under `root`.
fn on_disk(roots: &Roots, name: &str, size: u64) -> bool {
    std::fs::metadata(roots.output_path(name)).is_ok_and(|meta| meta.len() == size)
}

/// A built block with the bundles and maps it wrote (a bundle another block wrote first is
/// only named), and what each bundle it wrote is made of.
struct BlockOutputs {
    built: Built,
    written: Vec<Output>,
    maps: Vec<Output>,
    compositions: Vec<Composition>,
    names: Vec<String>,
}

/// Builds every distinct block in parallel, writing each bundle as soon as it is built, so
/// memory holds only the bundles in flight, not every bundle of the site. A bundle two blocks
/// share is written once.
fn build_blocks(
    plans: &[plan::Plan<'_>],
    texts: &HashMap<&SourceId, Processed>,
    naming: &Naming<'_>,
    roots: &Roots,
    force: bool,
) -> Vec<Result<BlockOutputs>> {
    let claimed: Mutex<HashSet<String>> = Mutex::default();
    let output = |name: String, bytes: u64| Output {
        name,
        bytes,
        gzip_bytes: None,
        brotli_bytes: None,
    };
    plans
        .par_iter()
        .map(|plan| {
            let mut built = bundle::build_block(plan, texts, naming);
            let mut written = Vec::new();
            let mut maps = Vec::new();
            let mut compositions = Vec::new();
            let names = built.bundles.iter().map(|b| b.name.clone()).collect();
            for bundle in std::mem::take(&mut built.bundles) {
                let first = claimed
                    .lock()
                    .map(|mut names| names.insert(bundle.name.clone()))
                    .unwrap_or(true);
                if !first {
                    continue;
                }
                let map_name = format!("{}.map", bundle.name);
                if let Some(content) = &bundle.content {
                    // The map first: a bundle on disk whose map is missing is rebuilt, while
                    // a map without its bundle is never pointed at.
                    if let Some(map) = &bundle.map {
                        if force || !on_disk(roots, &map_name, map.len() as u64) {
                            let path = roots.output_path(&map_name);
                            output::write_atomic(&path, map, Durability::Buffered)?;
                        }
                    }
                    if force || !on_disk(roots, &bundle.name, bundle.size) {
                        let path = roots.output_path(&bundle.name);
                        output::write_atomic(&path, content.as_bytes(), Durability::Buffered)?;
                    }
                }
                if let Some(size) = bundle.map_size {
                    maps.push(output(map_name, size));
                }
                compositions.push(Composition {
                    bundle: bundle.name.clone(),
                    sources: bundle.shares,
                });
                written.push(output(bundle.name, bundle.size));
            }
            Ok(BlockOutputs {
                built,
                written,
                maps,
                compositions,
                names,
            })
        })
        .collect()
}

/// A source waiting to be minified: its index, its size, and its prepared text when that was
/// read ahead.
type Pending = (usize, usize, Option<Result<Prepared>>);

/// What processing the sources gave: each one's result, and what the caches contributed.
struct Sources<'s> {
    texts: HashMap<&'s SourceId, Processed>,
    /// Sources whose minified text came from the cache.
    hits: u64,
    /// Entries the shared cache supplied.
    fetched: u64,
}

/// Reads every source, then minifies what the caches (local, then shared) do not hold, largest
/// first so no core idles at the end. Every broken source is reported, in source order.
fn process_sources<'s>(
    sources: &[&'s SourceId],
    inline_at: &HashMap<&SourceId, &Location>,
    reading: &Reading<'_>,
    progress: &dyn Progress,
) -> Result<Sources<'s>> {
    let (minifying, cache) = (reading.minifying, reading.cache);
    let prepare = |index: usize| {
        let source = sources[index];
        source::prepare(source, inline_at.get(source).copied(), reading)
    };
    // With a shared cache every source is read first, so the misses are fetched in one batch.
    // Without one, each source is read just before it is minified, so memory holds the texts
    // in flight rather than every input of the site.
    let (fetched, mut work): (u64, Vec<Pending>) = if cache.is_shared() {
        let prepared: Vec<Result<Prepared>> = (0..sources.len())
            .into_par_iter()
            .with_max_len(1)
            .map(prepare)
            .collect();
        let keys: Vec<String> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.key.clone()))
            .collect();
        let work = prepared
            .into_iter()
            .enumerate()
            .map(|(index, p)| (index, p.as_ref().map_or(0, Prepared::size), Some(p)))
            .collect();
        (cache.prefetch(&keys), work)
    } else {
        let work = sources
            .par_iter()
            .enumerate()
            .map(|(index, source)| (index, source.size_hint(), None))
            .collect();
        (0, work)
    };
    // Largest first, so no core is left minifying a big file alone at the end.
    work.sort_by_key(|(index, size, _)| (std::cmp::Reverse(*size), *index));

    let counter = Counter::default();
    let done: Vec<(usize, Result<Processed>)> = work
        .into_par_iter()
        .with_max_len(1)
        .map(|(index, _, prepared)| {
            let result = prepared
                .unwrap_or_else(|| prepare(index))
                .and_then(|source| {
                    let minified = match cache.get(&source.key, Some(&counter)) {
                        Some(found) => Ok(found),
                        None => source::minify(&source, minifying)
                            .inspect(|minified| cache.put(&source.key, minified)),
                    };
                    // The source's text is freed here, as soon as it is done.
                    minified.map(|minified| Processed::new(source, minified))
                });
            progress.advance(1);
            (index, result)
        })
        .collect();

    let mut errors: Vec<(usize, Error)> = Vec::new();
    let mut texts = HashMap::new();
    for (index, result) in done {
        match result {
            Ok(processed) => {
                texts.insert(sources[index], processed);
            }
            Err(error) => errors.push((index, error)),
        }
    }
    errors.sort_by_key(|(index, _)| *index);
    let errors: Vec<Error> = errors.into_iter().map(|(_, error)| error).collect();
    match Error::from_many(errors) {
        Some(error) => Err(error),
        None => Ok(Sources {
            texts,
            hits: counter.hits(),
            fetched,
        }),
    }
}

fn write_asset(copy: &AssetCopy, roots: &Roots, force: bool) -> Result<Output> {
    let destination = roots.output_path(&copy.relative);
    let bytes = std::fs::metadata(&copy.from)
        .map_err(|error| Error::io(&copy.from, "reading", error))?
        .len();
    let same = std::fs::metadata(&destination).is_ok_and(|meta| meta.len() == bytes);
    if force || !same {
        output::copy_atomic(&copy.from, &destination)?;
    }
    Ok(Output {
        name: copy.relative.clone(),
        bytes,
        gzip_bytes: None,
        brotli_bytes: None,
    })
}
