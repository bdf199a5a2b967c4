//! Compress: from rendered blocks to bundles on disk and the HTML each block renders to.
//!
//! The unit of work is the distinct source file, not the bundle: every file any block refers to
//! is read, checked, url-rewritten and minified once (in parallel), then each unique block's
//! bundles are the concatenation of their parts' minified texts.

pub mod cache;
pub mod css;
pub mod html;
pub mod js;
pub mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::{Config, CssHashing};
use crate::error::{Error, Location, Result};
use crate::manifest;
use crate::templates::{Block, Kind, Mode};

use html::Element;
use js::JsMinify;
use resolve::{Roots, Unresolved};

/// A file written under `root`.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// Path relative to `root`, `/`-separated (`CACHE/css/output.3f2a9c1b0d4e.css`).
    pub name: String,
    pub bytes: u64,
    /// Gzip -9 size, for the summary; `None` when not measured.
    pub gzip_bytes: Option<u64>,
}

/// What `build` produced.
#[derive(Debug, Default)]
pub struct Build {
    /// Manifest key → the block's HTML with `url` replaced by the placeholder.
    pub entries: BTreeMap<String, String>,
    /// Bundles written (or found already written), one per distinct output.
    pub bundles: Vec<Written>,
    /// Content-hashed copies of images and fonts that stylesheets point at.
    pub assets: Vec<Written>,
    /// Blocks seen, and how many were distinct.
    pub blocks: usize,
    pub unique_blocks: usize,
    /// Distinct source files and inline hunks read, and their bytes.
    pub sources: usize,
    /// Sources whose minified text came from the cache.
    pub cached: u64,
    /// What the shared cache on S3 did, if one is configured.
    pub shared_cache: cache::SharedReport,
    pub bytes_in: u64,
    /// Things worth knowing that did not stop the build.
    pub warnings: Vec<String>,
}

/// Where an input comes from: a file, or the text of an inline element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SourceId {
    File {
        path: PathBuf,
        relative: String,
        kind: Kind,
    },
    Inline {
        text: String,
        kind: Kind,
    },
}

/// One element of a block, resolved.
#[derive(Debug, Clone)]
struct Part {
    source: SourceId,
    /// `media` for CSS, ` async` / ` defer` / `` for JS: consecutive parts that agree share a file.
    group: String,
}

/// A block reduced to what its output depends on.
struct Plan<'b> {
    block: &'b Block,
    key: String,
    parts: Vec<Part>,
}

/// A source after reading, checking and minifying.
struct Processed {
    text: String,
    /// sha256 of `text`: what a bundle's cache key is made of.
    digest: [u8; 32],
    bytes_in: u64,
    assets: Vec<AssetCopy>,
    warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct AssetCopy {
    from: PathBuf,
    relative: String,
}

/// Builds every block: writes bundles and hashed assets under `root` and returns the manifest
/// entries. Nothing is written when any input is broken.
pub fn build(config: &Config, blocks: &[Block], progress: &dyn crate::Progress) -> Result<Build> {
    let roots = Roots::new(&config.url, &config.root, &config.staticfiles_dirs);
    let mut seen = HashMap::new();
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for block in blocks {
        let key = manifest::key(&block.body, &config.static_url);
        if seen.insert(key.clone(), ()).is_some() {
            continue;
        }
        match plan_block(block, &roots) {
            Ok(parts) => plans.push(Plan { block, key, parts }),
            Err(error) => errors.push(error),
        }
    }
    if let Some(error) = Error::from_many(errors) {
        return Err(error);
    }

    let mut sources: Vec<SourceId> = plans
        .iter()
        .flat_map(|plan| plan.parts.iter().map(|part| part.source.clone()))
        .collect();
    sources.sort();
    sources.dedup();
    let cache = cache::Cache::open(config.cache_dir.as_deref(), config.shared_cache.as_ref());
    progress.start(sources.len() as u64);
    let processed: Vec<Result<Processed>> = sources
        .par_iter()
        .map(|source| {
            let result = process(source, config, &roots, &cache).map(|mut done| {
                done.digest = Sha256::digest(done.text.as_bytes()).into();
                done
            });
            progress.advance(1);
            result
        })
        .collect();
    let mut texts: HashMap<&SourceId, Processed> = HashMap::new();
    let mut errors = Vec::new();
    for (source, result) in sources.iter().zip(processed) {
        match result {
            Ok(done) => {
                texts.insert(source, done);
            }
            Err(error) => errors.push(error),
        }
    }
    if let Some(error) = Error::from_many(errors) {
        return Err(error);
    }

    let mut build = Build {
        blocks: blocks.len(),
        unique_blocks: plans.len(),
        sources: sources.len(),
        ..Build::default()
    };
    build.cached = cache.stats().0;
    let mut copies: Vec<AssetCopy> = Vec::new();
    for source in &sources {
        let done = &texts[source];
        build.bytes_in += done.bytes_in;
        copies.extend(done.assets.iter().cloned());
        build.warnings.extend(done.warnings.iter().cloned());
    }
    copies.sort();
    copies.dedup();
    build.assets = copies
        .par_iter()
        .map(|copy| write_asset(copy, &roots, config.force))
        .collect::<Result<Vec<_>>>()?;

    // Each block's bundles are written as soon as they are built, so memory holds only the
    // bundles in flight, not every bundle of the site.
    let claimed: std::sync::Mutex<std::collections::HashSet<String>> = Default::default();
    let rendered: Vec<Result<(String, Vec<Written>)>> = plans
        .par_iter()
        .map(|plan| {
            let (html, pending) = render_block(plan, &texts, config, &cache, &roots);
            let mut written = Vec::new();
            for file in pending {
                let first = claimed
                    .lock()
                    .map(|mut names| names.insert(file.name.clone()))
                    .unwrap_or(true);
                if !first {
                    continue;
                }
                match &file.content {
                    Some(content) => written.push(write_bundle(
                        &roots.output_path(&file.name),
                        &file.name,
                        content,
                        config.force,
                    )?),
                    None => written.push(Written {
                        name: file.name,
                        bytes: file.size,
                        gzip_bytes: None,
                    }),
                }
            }
            Ok((html, written))
        })
        .collect();
    for (plan, result) in plans.iter().zip(rendered) {
        let (html, written) = result?;
        build.bundles.extend(written);
        build.entries.insert(
            plan.key.clone(),
            html.replace(&config.url, &config.url_placeholder),
        );
    }
    build.bundles.sort_by(|a, b| a.name.cmp(&b.name));
    measure_gzip(&mut build.bundles, &roots);
    build.shared_cache = cache.finish();
    build.warnings.extend(cache.warnings());
    Ok(build)
}

fn element_location(block: &Block, element: &Element) -> Location {
    Location::new(&block.location.file, block.location.line + element.line)
}

/// Reads a block's elements and resolves each to a source.
fn plan_block(block: &Block, roots: &Roots) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for element in html::elements(&block.body) {
        let location = element_location(block, &element);
        let part = match (block.kind, element.tag.as_str()) {
            (Kind::Css, "link") => {
                let is_stylesheet = element
                    .attr("rel")
                    .is_some_and(|rel| rel.eq_ignore_ascii_case("stylesheet"));
                if !is_stylesheet {
                    continue;
                }
                check_type(&element, &["text/css"], &location)?;
                let href = element.attr("href").ok_or_else(|| {
                    Error::input(location.clone(), "<link rel=\"stylesheet\"> has no href")
                })?;
                Part {
                    source: file_source(href, Kind::Css, roots, &location)?,
                    group: element.attr("media").unwrap_or("").to_string(),
                }
            }
            (Kind::Css, "style") => {
                check_type(&element, &["text/css"], &location)?;
                Part {
                    source: SourceId::Inline {
                        text: element.text.clone(),
                        kind: Kind::Css,
                    },
                    group: element.attr("media").unwrap_or("").to_string(),
                }
            }
            (Kind::Js, "script") => {
                check_type(
                    &element,
                    &[
                        "text/javascript",
                        "application/javascript",
                        "application/x-javascript",
                    ],
                    &location,
                )?;
                let group = if element.attr("async").is_some() {
                    " async"
                } else if element.attr("defer").is_some() {
                    " defer"
                } else {
                    ""
                };
                let source = match element.attr("src") {
                    Some(src) => file_source(src, Kind::Js, roots, &location)?,
                    None => SourceId::Inline {
                        text: element.text.clone(),
                        kind: Kind::Js,
                    },
                };
                Part {
                    source,
                    group: group.to_string(),
                }
            }
            _ => continue,
        };
        parts.push(part);
    }
    Ok(parts)
}

fn check_type(element: &Element, allowed: &[&str], location: &Location) -> Result<()> {
    match element.attr("type") {
        None => Ok(()),
        Some(kind) if allowed.iter().any(|a| a.eq_ignore_ascii_case(kind)) => Ok(()),
        Some(kind) => Err(Error::input(
            location.clone(),
            format!(
                "<{} type=\"{kind}\"> needs a precompiler, which stapler does not run; compile it to plain {} first and reference the result",
                element.tag,
                if allowed[0] == "text/css" { "CSS" } else { "JavaScript" }
            ),
        )),
    }
}

fn file_source(url: &str, kind: Kind, roots: &Roots, location: &Location) -> Result<SourceId> {
    let relative = roots.relative(url).map_err(|_| {
        Error::input(
            location.clone(),
            format!("`{url}` is not under `url` ({}), so it cannot be compressed; use {{% static %}} or a URL starting with {}", roots.url(), roots.url()),
        )
    })?;
    let path = roots
        .find(relative)
        .map_err(|why| unresolved_error(why, url, roots, location))?;
    Ok(SourceId::File {
        path,
        relative: relative.to_string(),
        kind,
    })
}

fn unresolved_error(why: Unresolved, url: &str, roots: &Roots, location: &Location) -> Error {
    let message = match why {
        Unresolved::NotUnderUrl => format!("`{url}` is not under `url` ({})", roots.url()),
        Unresolved::Outside => format!("`{url}` points outside the static roots; only files under {} can be used", roots.describe()),
        Unresolved::Missing => format!(
            "`{url}` does not exist in {}; check the path, add the file, or add its folder to `staticfiles_dirs`",
            roots.describe()
        ),
    };
    Error::input(location.clone(), message)
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Decodes UTF-8, dropping a BOM; a bad byte is reported with its line.
fn decode(bytes: &[u8], path: &Path) -> Result<String> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        Error::input(
            Location::new(path, line),
            "is not valid UTF-8; save the file as UTF-8",
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string())
}

fn process(
    source: &SourceId,
    config: &Config,
    roots: &Roots,
    cache: &cache::Cache,
) -> Result<Processed> {
    match source {
        SourceId::File {
            path,
            relative,
            kind,
        } => {
            let bytes = std::fs::read(path).map_err(|error| {
                Error::input(
                    Location::file(path),
                    format!("cannot be read ({error}); check its permissions"),
                )
            })?;
            let text = decode(&bytes, path)?;
            let mut processed = match kind {
                Kind::Css => process_css(&text, Some((path, relative)), config, roots, cache)?,
                Kind::Js => process_js(&text, path, config.js_minify, cache)?,
            };
            processed.bytes_in = bytes.len() as u64;
            Ok(processed)
        }
        SourceId::Inline { text, kind } => {
            let label = PathBuf::from(format!("<inline {kind}>"));
            let mut processed = match kind {
                Kind::Css => process_css(text, None, config, roots, cache)?,
                Kind::Js => process_js(text, &label, config.js_minify, cache)?,
            };
            processed.bytes_in = text.len() as u64;
            Ok(processed)
        }
    }
}

fn is_minified_name(path: &Path, ext: &str) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with(&format!(".min.{ext}")))
}

/// Removes `sourceMappingURL` comments: the map's relative URL is wrong once the file is bundled.
fn strip_source_map_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let is_map = (trimmed.starts_with("//# sourceMappingURL=")
            || trimmed.starts_with("//@ sourceMappingURL="))
            || (trimmed.starts_with("/*# sourceMappingURL=") && trimmed.ends_with("*/"));
        if !is_map {
            out.push_str(line);
        }
    }
    out
}

/// The result of `compute` for the inputs `parts`, from the cache when an intact entry exists.
/// A result is a warning (if any) and the minified text.
fn cached(
    cache: &cache::Cache,
    parts: &[&[u8]],
    compute: impl FnOnce() -> Result<(Option<String>, String)>,
) -> Result<(Option<String>, String)> {
    let key = cache::Cache::key(parts);
    if let Some(entry) = cache.get(&key) {
        if let Some((warning, text)) = entry.split_once('\n') {
            return Ok((
                (!warning.is_empty()).then(|| warning.to_string()),
                text.to_string(),
            ));
        }
    }
    let (warning, text) = compute()?;
    let warning_line = warning.as_deref().unwrap_or("").replace('\n', " ");
    cache.put(&key, &format!("{warning_line}\n{text}"));
    Ok((warning, text))
}

fn process_js(text: &str, path: &Path, level: JsMinify, cache: &cache::Cache) -> Result<Processed> {
    let name = path.display().to_string();
    let syntax_error = |error: js::JsError| {
        Error::input(
            Location::new(path, error.line),
            format!("JavaScript syntax error at column {}: {}; fix the script (it is parsed as a classic script, not a module)", error.column, error.message),
        )
    };
    let passthrough = is_minified_name(path, "js") || js::looks_minified(text);
    let (warning, text) = cached(
        cache,
        &[
            b"js",
            &[u8::from(passthrough), level as u8],
            text.as_bytes(),
        ],
        || {
            if passthrough {
                js::check(&name, text).map_err(syntax_error)?;
                let mut kept = strip_source_map_comments(text);
                // A trailing line comment would swallow the `;` that concatenation appends.
                if kept.lines().last().is_some_and(|last| last.contains("//"))
                    && !kept.ends_with('\n')
                {
                    kept.push('\n');
                }
                return Ok((None, kept));
            }
            match js::minify(&name, text, level) {
                Ok(code) => Ok((None, code)),
                Err(error) if error.line == 0 => Ok((
                    Some(format!("{name}: kept unminified: {}", error.message)),
                    text.to_string(),
                )),
                Err(error) => Err(syntax_error(error)),
            }
        },
    )?;
    Ok(Processed {
        text,
        digest: [0; 32],
        bytes_in: 0,
        assets: Vec::new(),
        warnings: warning.into_iter().collect(),
    })
}

fn process_css(
    text: &str,
    file: Option<(&PathBuf, &String)>,
    config: &Config,
    roots: &Roots,
    cache: &cache::Cache,
) -> Result<Processed> {
    let label = file.map_or_else(|| PathBuf::from("<inline css>"), |(path, _)| path.clone());
    let broken = |error: css::CssError| {
        Error::input(
            Location::new(&label, error.line),
            format!("malformed CSS: {}; fix the stylesheet", error.message),
        )
    };
    let mut assets = Vec::new();
    let rewritten = match file {
        Some((path, relative)) => css::rewrite_urls(
            text,
            |url, line| {
                rewrite_css_url(url, relative, config, roots, cache, &mut assets)
                    .map_err(|message| Error::input(Location::new(path, line), message))
            },
            broken,
        )?,
        None => css::rewrite_urls(text, |url, _| Ok(url.to_string()), broken)?,
    };
    let passthrough = file.is_some_and(|(path, _)| is_minified_name(path, "css"));
    let (warning, minified) = cached(
        cache,
        &[b"css", &[u8::from(passthrough)], rewritten.as_bytes()],
        || {
            if passthrough {
                return Ok((
                    None,
                    strip_source_map_comments(&rewritten).trim_end().to_string(),
                ));
            }
            let out = css::minify(&label.display().to_string(), &rewritten);
            let warning = out.fallback_reason.map(|reason| {
            format!("{}: lightningcss could not keep everything ({reason}); minified conservatively instead", label.display())
        });
            Ok((warning, out.code))
        },
    )?;
    Ok(Processed {
        text: minified,
        digest: [0; 32],
        bytes_in: 0,
        assets,
        warnings: warning.into_iter().collect(),
    })
}

/// Makes a `url()` absolute under `url`, and names its target by content.
fn rewrite_css_url(
    url: &str,
    css_relative: &str,
    config: &Config,
    roots: &Roots,
    cache: &cache::Cache,
    assets: &mut Vec<AssetCopy>,
) -> Result<String, String> {
    let trimmed = url.trim();
    let has_scheme = trimmed.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if trimmed.is_empty()
        || trimmed.starts_with('#')
        || trimmed.starts_with("//")
        || (has_scheme && !trimmed.starts_with(&config.url))
    {
        return Ok(url.to_string());
    }
    let absolute = if trimmed.starts_with('/') || trimmed.starts_with(&config.url) {
        if !trimmed.starts_with(&config.url) {
            return Ok(url.to_string());
        }
        trimmed.to_string()
    } else {
        let directory = css_relative.rsplit_once('/').map_or("", |(dir, _)| dir);
        let joined = if directory.is_empty() {
            trimmed.to_string()
        } else {
            format!("{directory}/{trimmed}")
        };
        let normalized = normalize_path(&joined).ok_or_else(|| {
            format!(
                "url({url}) points above the static root; only files under {} can be used",
                roots.describe()
            )
        })?;
        format!("{}{normalized}", config.url)
    };
    let (without_fragment, fragment) = match absolute.split_once('#') {
        Some((head, fragment)) => (head.to_string(), Some(fragment.to_string())),
        None => (absolute.clone(), None),
    };
    let (path_part, query) = match without_fragment.split_once('?') {
        Some((head, query)) => (head.to_string(), Some(query.to_string())),
        None => (without_fragment, None),
    };
    let relative = roots
        .relative(&path_part)
        .map_err(|_| format!("url({url}) is not under `url`"))?;
    let file = roots.find(relative).map_err(|why| match why {
        Unresolved::Outside => format!("url({url}) points outside the static roots; only files under {} can be used", roots.describe()),
        _ => format!("url({url}) refers to {relative}, which does not exist in {}; add the file or fix the url", roots.describe()),
    })?;
    let rebuilt = match config.css_hashing_method {
        CssHashing::None => absolute,
        CssHashing::Query => {
            let hash = cache.file_hash(&file)?;
            let mut out = path_part.clone();
            match query {
                Some(query) => out.push_str(&format!("?{query}&{hash}")),
                None => out.push_str(&format!("?{hash}")),
            }
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(&fragment);
            }
            out
        }
        CssHashing::Filename => {
            let hash = cache.file_hash(&file)?;
            let hashed = hashed_name(relative, &hash);
            assets.push(AssetCopy {
                from: file,
                relative: hashed.clone(),
            });
            let mut out = format!("{}{hashed}", config.url);
            if let Some(query) = query {
                out.push('?');
                out.push_str(&query);
            }
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(&fragment);
            }
            out
        }
    };
    Ok(rebuilt)
}

/// `img/logo.png` → `img/logo.3f2a9c1b0d4e.png`.
fn hashed_name(relative: &str, hash: &str) -> String {
    let (directory, file) = relative
        .rsplit_once('/')
        .map_or(("", relative), |(d, f)| (d, f));
    let named = match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{hash}.{ext}"),
        _ => format!("{file}.{hash}"),
    };
    if directory.is_empty() {
        named
    } else {
        format!("{directory}/{named}")
    }
}

/// `posixpath.normpath` for a relative path; `None` when it climbs above its start.
fn normalize_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn write_asset(copy: &AssetCopy, roots: &Roots, force: bool) -> Result<Written> {
    let destination = roots.output_path(&copy.relative);
    let bytes = std::fs::metadata(&copy.from)
        .map_err(|error| Error::io(&copy.from, "reading", error))?
        .len();
    let same = std::fs::metadata(&destination).is_ok_and(|meta| meta.len() == bytes);
    if force || !same {
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| Error::io(parent, "creating the folder", error))?;
        }
        let temporary = destination.with_extension("stapler-tmp");
        std::fs::copy(&copy.from, &temporary)
            .map_err(|error| Error::io(&destination, "copying", error))?;
        std::fs::rename(&temporary, &destination)
            .map_err(|error| Error::io(&destination, "renaming", error))?;
    }
    Ok(Written {
        name: copy.relative.clone(),
        bytes,
        gzip_bytes: None,
    })
}

fn write_bundle(path: &Path, name: &str, content: &str, force: bool) -> Result<Written> {
    let same = std::fs::metadata(path).is_ok_and(|meta| meta.len() == content.len() as u64);
    if force || !same {
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|error| Error::io(parent, "creating the folder", error))?;
        let mut file = tempfile::NamedTempFile::new_in(parent)
            .map_err(|error| Error::io(parent, "creating a temporary file", error))?;
        file.write_all(content.as_bytes())
            .map_err(|error| Error::io(path, "writing", error))?;
        file.persist(path)
            .map_err(|error| Error::io(path, "renaming", error.error))?;
    }
    Ok(Written {
        name: name.to_string(),
        bytes: content.len() as u64,
        gzip_bytes: None,
    })
}

/// Above this many bytes of bundles the summary leaves gzip sizes out: compressing tens of
/// megabytes at level 9 would cost more than the build.
const GZIP_MEASURE_LIMIT: u64 = 4 * 1024 * 1024;

fn measure_gzip(bundles: &mut [Written], roots: &Roots) {
    let total: u64 = bundles.iter().map(|file| file.bytes).sum();
    if total > GZIP_MEASURE_LIMIT {
        return;
    }
    bundles.par_iter_mut().for_each(|file| {
        file.gzip_bytes = std::fs::read(roots.output_path(&file.name))
            .ok()
            .map(|bytes| gzip_size(&bytes));
    });
}

fn gzip_size(bytes: &[u8]) -> u64 {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = encoder.write_all(bytes);
    encoder.finish().map_or(0, |out| out.len() as u64)
}

/// A bundle to write: its name under `root` and its text.
struct PendingFile {
    name: String,
    /// `None` when an identical bundle is already on disk under `name`.
    content: Option<String>,
    size: u64,
}

/// Concatenates a block's parts run by run and renders the tags django-compressor would.
fn render_block(
    plan: &Plan<'_>,
    texts: &HashMap<&SourceId, Processed>,
    config: &Config,
    cache: &cache::Cache,
    roots: &Roots,
) -> (String, Vec<PendingFile>) {
    let block = plan.block;
    let mut runs: Vec<(&str, Vec<&Processed>)> = Vec::new();
    for part in &plan.parts {
        let Some(done) = texts.get(&part.source) else {
            continue;
        };
        match runs.last_mut() {
            Some((group, parts)) if *group == part.group => parts.push(done),
            _ => runs.push((part.group.as_str(), vec![done])),
        }
    }
    let mut tags = Vec::new();
    let mut files = Vec::new();
    for (group, parts) in runs {
        let concatenate = || match block.kind {
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
        };
        let tag = match block.mode {
            Mode::Inline => match block.kind {
                Kind::Css => format!(
                    "<style type=\"text/css\"{}>{}</style>",
                    media_attribute(group),
                    concatenate()
                ),
                Kind::Js => format!("<script>{}</script>", concatenate()),
            },
            Mode::File | Mode::Preload => {
                let base = block
                    .name
                    .as_deref()
                    .map(|name| {
                        let file = name.rsplit('/').next().unwrap_or(name);
                        file.rsplit_once('.')
                            .map_or(file, |(stem, _)| stem)
                            .to_string()
                    })
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| "output".to_string());
                let kind = block.kind.as_str();
                let file = bundle_file(&base, kind, &parts, config, cache, roots, concatenate);
                let url = format!("{}{}", config.url, file.name);
                files.push(file);
                match (block.mode, block.kind) {
                    (Mode::Preload, Kind::Css) => {
                        format!("<link rel=\"preload\" href=\"{url}\" as=\"style\" />")
                    }
                    (Mode::Preload, Kind::Js) => {
                        format!("<link rel=\"preload\" href=\"{url}\" as=\"script\" />")
                    }
                    (_, Kind::Css) => format!(
                        "<link rel=\"stylesheet\" href=\"{url}\" type=\"text/css\"{}>",
                        media_attribute(group)
                    ),
                    (_, Kind::Js) => {
                        format!("<script src=\"{url}\"{}></script>", escape_html(group))
                    }
                }
            }
        };
        tags.push(tag);
    }
    let separator = match block.kind {
        Kind::Css => "",
        Kind::Js => "\n",
    };
    (tags.join(separator), files)
}

/// The bundle for one run of parts: named by the sha256 of its content, which is only built when
/// the cache does not already know an identical bundle that is still on disk.
fn bundle_file(
    base: &str,
    kind: &str,
    parts: &[&Processed],
    config: &Config,
    cache: &cache::Cache,
    roots: &Roots,
    concatenate: impl FnOnce() -> String,
) -> PendingFile {
    let mut key_parts: Vec<&[u8]> = vec![
        b"bundle",
        kind.as_bytes(),
        base.as_bytes(),
        config.output_dir.as_bytes(),
    ];
    key_parts.extend(parts.iter().map(|done| done.digest.as_slice()));
    let key = cache::Cache::key(&key_parts);
    let known = if config.force { None } else { cache.get(&key) };
    let known = known
        .as_deref()
        .and_then(|entry| entry.split_once(' '))
        .map(|(name, size)| (name.to_string(), size.parse::<u64>().unwrap_or(u64::MAX)));
    if let Some((name, size)) = &known {
        let on_disk =
            std::fs::metadata(roots.output_path(name)).is_ok_and(|meta| meta.len() == *size);
        if on_disk {
            return PendingFile {
                name: name.clone(),
                content: None,
                size: *size,
            };
        }
    }
    let content = concatenate();
    // The parts' digests determine the content, so a verified cache entry also gives its name:
    // no need to hash the whole bundle again.
    if let Some((name, size)) = known {
        if size == content.len() as u64 {
            return PendingFile {
                name,
                size,
                content: Some(content),
            };
        }
    }
    let name = format!(
        "{}/{kind}/{base}.{}.{kind}",
        config.output_dir,
        &sha256_hex(content.as_bytes())[..12]
    );
    cache.put(&key, &format!("{name} {}", content.len()));
    PendingFile {
        name,
        size: content.len() as u64,
        content: Some(content),
    }
}

fn media_attribute(media: &str) -> String {
    if media.is_empty() {
        String::new()
    } else {
        format!(" media=\"{}\"", escape_html(media))
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_extension() {
        assert_eq!(hashed_name("img/logo.png", "abc"), "img/logo.abc.png");
        assert_eq!(
            hashed_name("fonts/fa.webfont.eot", "abc"),
            "fonts/fa.webfont.abc.eot"
        );
        assert_eq!(hashed_name("LICENSE", "abc"), "LICENSE.abc");
    }

    #[test]
    fn normalize_refuses_to_climb_out() {
        assert_eq!(
            normalize_path("css/../img/./a.png").as_deref(),
            Some("img/a.png")
        );
        assert_eq!(normalize_path("css/../../a.png"), None);
    }

    #[test]
    fn source_map_comments_are_dropped() {
        assert_eq!(
            strip_source_map_comments("a();\n//# sourceMappingURL=a.map\n"),
            "a();\n"
        );
        assert_eq!(
            strip_source_map_comments("a{}\n/*# sourceMappingURL=a.css.map */"),
            "a{}\n"
        );
    }
}
