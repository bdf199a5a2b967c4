//! Planning: each distinct block reduced to the sources its output is made of, in order, each
//! with the group that decides which output file it lands in. Nothing is read here but the
//! block's HTML; files are only located.

use std::path::PathBuf;

use serde::Serialize;
use sha2::Digest;

use crate::block::{Block, Kind};
use crate::error::{Error, Location, Result, Warning};

use super::html::{self, Element};
use super::js::Dialect;
use super::precompile::{Builtin, Compiler, Precompilers};
use super::resolve::{Roots, Unresolved};

/// What a source's text is, and so what is done to it before it is minified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Treatment {
    /// CSS, or a classic script.
    Plain,
    /// Of a type nothing compiles: bundled as it is, neither checked nor minified (as
    /// django-compressor, with no precompiler configured, bundles it).
    AsIs,
    /// TypeScript or a module, which swc reads itself.
    Script(Dialect),
    /// SCSS (or the indented Sass syntax), compiled by the built-in compiler.
    Sass { indented: bool },
    /// Compiled by the precompiler the project configured for its `type`, into CSS or a
    /// classic script. `attrs` are the element's, which a Python precompiler is given.
    Precompiled {
        mimetype: String,
        attrs: Vec<(String, String)>,
    },
}

/// Where an input comes from: a file, or the text of an inline element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    File {
        path: PathBuf,
        /// The path under `url` (`css/site.css`): what relative `url()`s are resolved against.
        relative: String,
        kind: Kind,
        treatment: Treatment,
    },
    Inline {
        text: String,
        kind: Kind,
        treatment: Treatment,
    },
}

impl SourceId {
    /// About how many bytes the source's text has, before reading it: what the build
    /// schedules by.
    pub fn size_hint(&self) -> usize {
        match self {
            SourceId::File { path, .. } => {
                std::fs::metadata(path).map_or(0, |meta| meta.len() as usize)
            }
            SourceId::Inline { text, .. } => text.len(),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            SourceId::File { kind, .. } | SourceId::Inline { kind, .. } => *kind,
        }
    }

    pub fn treatment(&self) -> &Treatment {
        match self {
            SourceId::File { treatment, .. } | SourceId::Inline { treatment, .. } => treatment,
        }
    }
}

/// How a script is loaded; consecutive classic scripts that agree share an output file, and
/// each module has one of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loading {
    Blocking,
    Async,
    Defer,
    Module,
    AsyncModule,
}

impl Loading {
    pub fn is_module(self) -> bool {
        matches!(self, Loading::Module | Loading::AsyncModule)
    }
}

/// What decides which output file a part goes to: consecutive parts in the same group share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Group {
    /// A stylesheet's `media` (empty when absent).
    Media(String),
    Script(Loading),
}

/// One element of a block, resolved.
#[derive(Debug, Clone)]
pub struct Part {
    pub source: SourceId,
    pub group: Group,
    /// Where the element starts in its template.
    pub location: Location,
    /// The element's attributes as django-compressor's parser reads them (`None`: no value).
    pub attrs: Vec<(String, Option<String>)>,
}

/// What one distinct block was made of, for reports that compare it with django-compressor's
/// own reading of the block.
#[derive(Debug, Clone, Serialize)]
pub struct BlockParts {
    pub key: String,
    pub kind: Kind,
    pub template: String,
    pub line: usize,
    pub body: String,
    pub parts: Vec<PartSummary>,
}

/// One part: a file (its path) or an inline text (its sha256), with the element's attributes.
#[derive(Debug, Clone, Serialize)]
pub struct PartSummary {
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

impl BlockParts {
    pub fn of(plan: &Plan<'_>) -> BlockParts {
        let block = plan.block;
        BlockParts {
            key: block.key.clone(),
            kind: block.kind,
            template: block.location.file.display().to_string(),
            line: block.location.line,
            body: block.body.clone(),
            parts: plan
                .parts
                .iter()
                .map(|part| {
                    let attrs = part
                        .attrs
                        .iter()
                        .map(|(name, value)| (name.clone(), serde_json::json!(value)))
                        .collect();
                    match &part.source {
                        SourceId::File { path, .. } => PartSummary {
                            source: "file",
                            path: Some(std::path::absolute(path).unwrap_or_else(|_| path.clone())),
                            sha256: None,
                            attrs,
                        },
                        SourceId::Inline { text, .. } => PartSummary {
                            source: "inline",
                            path: None,
                            sha256: Some(hex::encode(sha2::Sha256::digest(text.as_bytes()))),
                            attrs,
                        },
                    }
                })
                .collect(),
        }
    }
}

/// A distinct block and the parts its output is made of.
pub struct Plan<'b> {
    pub block: &'b Block,
    pub parts: Vec<Part>,
    /// Each part gets an output of its own, as django-compressor writes them with
    /// `COMPRESS_ENABLED = False`.
    pub separate: bool,
}

/// Each block's elements (by key) as django-compressor's configured `COMPRESS_PARSER` read
/// them, when that is not the default parser that [`html`] reads as.
pub type Parsed = std::collections::HashMap<String, std::result::Result<Vec<Element>, String>>;

/// Plans every distinct block (by key); reports every block that cannot be planned. Elements
/// left out of a block are returned as warnings.
pub fn plan_blocks<'b>(
    blocks: &'b [Block],
    roots: &Roots,
    precompilers: &Precompilers,
    separate: bool,
    parsed: Option<&Parsed>,
) -> Result<(Vec<Plan<'b>>, Vec<Warning>)> {
    let mut seen = std::collections::HashSet::new();
    let mut plans = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for block in blocks {
        if !seen.insert(block.key.as_str()) {
            continue;
        }
        let elements = match parsed.and_then(|parsed| parsed.get(&block.key)) {
            Some(Ok(elements)) => Ok(elements.clone()),
            Some(Err(message)) => Err(Error::input(
                block.location.clone(),
                format!("django-compressor's COMPRESS_PARSER cannot read this block ({message}); fix its HTML"),
            )),
            None => html::elements(&block.body).map_err(|unreadable| {
                Error::input(
                    Location::new(&block.location.file, block.location.line + unreadable.line),
                    format!("{}; fix the HTML of this {{% compress %}} block", unreadable.message),
                )
            }),
        };
        let planned = elements
            .and_then(|elements| plan_block(block, elements, roots, precompilers, &mut warnings));
        match planned {
            Ok(parts) => plans.push(Plan {
                block,
                parts,
                separate,
            }),
            Err(error) => errors.push(error),
        }
    }
    match Error::from_many(errors) {
        Some(error) => Err(error),
        None => Ok((plans, warnings)),
    }
}

/// How a `<link>` in a CSS block is taken, by its `rel`: django-compressor takes exactly
/// `rel="stylesheet"` (any case, nothing else in it) and leaves every other link out.
fn link_role(rel: Option<&str>) -> LinkRole {
    let rel = rel.unwrap_or("");
    if rel.to_lowercase() == "stylesheet" {
        return LinkRole::Stylesheet;
    }
    let words: Vec<String> = rel
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |word: &str| words.iter().any(|w| w == word);
    match has("stylesheet") && !has("alternate") {
        true => LinkRole::StylesheetToBrowsers,
        false => LinkRole::Dropped,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum LinkRole {
    /// `rel="stylesheet"`: what django-compressor takes.
    Stylesheet,
    /// `rel="preload stylesheet"`, `rel=" stylesheet"` and the like: a stylesheet to browsers,
    /// left out by django-compressor, so the page loses it.
    StylesheetToBrowsers,
    /// Anything else (`icon`, `alternate stylesheet`): left out, as django-compressor does.
    Dropped,
}

fn element_location(block: &Block, element: &Element) -> Location {
    Location::new(&block.location.file, block.location.line + element.line)
}

/// Reads a block's elements and resolves each to a source.
fn plan_block(
    block: &Block,
    elements: Vec<Element>,
    roots: &Roots,
    precompilers: &Precompilers,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for element in elements {
        let location = element_location(block, &element);
        let attrs: Vec<(String, Option<String>)> = element
            .attrs
            .iter()
            .map(|attr| (attr.name.clone(), attr.value.clone()))
            .collect();
        let media = || Group::Media(element.attr("media").unwrap_or("").to_string());
        let part = match (block.kind, element.tag.as_str()) {
            (Kind::Css, "link") => {
                let rel = element.attr("rel");
                match link_role(rel) {
                    LinkRole::Stylesheet => {}
                    LinkRole::StylesheetToBrowsers => {
                        warnings.push(Warning::at(location.clone(), format!(
                            "<link rel=\"{}\"> is left out of the block's output, as django-compressor leaves out every link whose rel is not exactly \"stylesheet\": the page will not load it; write rel=\"stylesheet\" to bundle it",
                            rel.unwrap_or_default()
                        )));
                        continue;
                    }
                    LinkRole::Dropped => {
                        warnings.push(Warning::at(location.clone(), format!(
                            "<link rel=\"{}\"> is not a stylesheet, so it is left out of the block's output, as django-compressor leaves it out; move it outside the {{% compress %}} block to keep it",
                            rel.unwrap_or_default()
                        )));
                        continue;
                    }
                }
                let href = element.attr("href").ok_or_else(|| {
                    Error::input(location.clone(), "<link rel=\"stylesheet\"> has no href")
                })?;
                let treatment = treatment(
                    &element,
                    Kind::Css,
                    Some(href),
                    precompilers,
                    &location,
                    warnings,
                );
                Part {
                    source: file_source(href, Kind::Css, treatment, roots, &location)?,
                    group: media(),
                    location,
                    attrs,
                }
            }
            (Kind::Css, "style") => {
                let treatment =
                    treatment(&element, Kind::Css, None, precompilers, &location, warnings);
                Part {
                    source: SourceId::Inline {
                        text: element.text.clone(),
                        kind: Kind::Css,
                        treatment,
                    },
                    group: media(),
                    location,
                    attrs,
                }
            }
            (Kind::Js, "script") => {
                let src = element.attr("src");
                let treatment =
                    treatment(&element, Kind::Js, src, precompilers, &location, warnings);
                let module = matches!(treatment, Treatment::Script(Dialect { module: true, .. }));
                let loading = match (module, element.has("async")) {
                    (true, true) => Loading::AsyncModule,
                    (true, false) => Loading::Module,
                    (false, true) => Loading::Async,
                    (false, false) if element.has("defer") => Loading::Defer,
                    (false, false) => Loading::Blocking,
                };
                let source = match src {
                    Some(src) => file_source(src, Kind::Js, treatment, roots, &location)?,
                    None => SourceId::Inline {
                        text: element.text.clone(),
                        kind: Kind::Js,
                        treatment,
                    },
                };
                Part {
                    source,
                    group: Group::Script(loading),
                    location,
                    attrs,
                }
            }
            (kind, tag) => {
                // django-compressor reads only its kind's elements; the rest leave the output.
                warnings.push(Warning::at(location.clone(), format!(
                    "<{tag}> in a {{% compress {kind} %}} block is left out of its output, as django-compressor leaves it out; move it to a {} block or outside",
                    match kind {
                        Kind::Css => "js",
                        Kind::Js => "css",
                    }
                )));
                continue;
            }
        };
        parts.push(part);
    }
    Ok(parts)
}

/// What is done to an element's text, by its `type` (and a script's `.ts` name): plain CSS and
/// JavaScript are minified; a type the project configured a precompiler for is compiled by it;
/// SCSS, Sass, TypeScript and modules are compiled by stapler's own compilers; any other type
/// is bundled as it is, with a warning, as django-compressor bundles it with no precompiler
/// configured.
fn treatment(
    element: &Element,
    kind: Kind,
    url: Option<&str>,
    precompilers: &Precompilers,
    location: &Location,
    warnings: &mut Vec<Warning>,
) -> Treatment {
    let minified: &[&str] = match kind {
        Kind::Css => &["text/css"],
        Kind::Js => &[
            "text/javascript",
            "application/javascript",
            "application/x-javascript",
        ],
    };
    let typescript_name = kind == Kind::Js
        && url.is_some_and(|url| {
            let path = url.split(['?', '#']).next().unwrap_or(url);
            path.ends_with(".ts") || path.ends_with(".mts")
        });
    let plain = match typescript_name {
        true => Treatment::Script(Dialect {
            typescript: true,
            module: false,
        }),
        false => Treatment::Plain,
    };
    let given = element
        .attr("type")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(given) = given else {
        return plain;
    };
    if minified
        .iter()
        .any(|known| known.eq_ignore_ascii_case(given))
    {
        return plain;
    }
    if kind == Kind::Js && given.eq_ignore_ascii_case("module") {
        return Treatment::Script(Dialect {
            typescript: typescript_name,
            module: true,
        });
    }
    match precompilers.compiler(given, kind) {
        Some(Compiler::Builtin(Builtin::Scss)) => Treatment::Sass { indented: false },
        Some(Compiler::Builtin(Builtin::Sass)) => Treatment::Sass { indented: true },
        Some(Compiler::Builtin(Builtin::TypeScript)) => Treatment::Script(Dialect {
            typescript: true,
            module: false,
        }),
        Some(Compiler::Configured(_)) => Treatment::Precompiled {
            mimetype: given.to_string(),
            attrs: element
                .attrs
                .iter()
                .map(|attr| (attr.name.clone(), attr.value.clone().unwrap_or_default()))
                .collect(),
        },
        None => {
            warnings.push(Warning::at(location.clone(), format!(
                "<{} type=\"{given}\"> has no precompiler, so it is bundled without being parsed (as django-compressor bundles it); add one to COMPRESS_PRECOMPILERS or `precompilers` to get it compiled and minified",
                element.tag
            )));
            Treatment::AsIs
        }
    }
}

fn file_source(
    url: &str,
    kind: Kind,
    treatment: Treatment,
    roots: &Roots,
    location: &Location,
) -> Result<SourceId> {
    let relative = roots.relative(url).map_err(|_| {
        Error::input(
            location.clone(),
            format!("`{url}` is not under `url` ({}), so it cannot be compressed; use {{% static %}} or a URL starting with {}", roots.url(), roots.url()),
        )
    })?;
    // `./` and `..` resolve as Django's storage resolves them, but never above the root.
    let normalized = match relative.starts_with('/') {
        true => None,
        false => super::css_urls::normalize_path(relative),
    };
    let relative = normalized.as_deref().unwrap_or(relative);
    let found = match normalized {
        Some(_) => roots.find(relative),
        None => Err(Unresolved::Outside),
    };
    let path = found.map_err(|why| {
        let message = match why {
            Unresolved::NotUnderUrl => format!("`{url}` is not under `url` ({})", roots.url()),
            Unresolved::Outside => format!("`{url}` points outside the static roots; only files under {} can be used", roots.describe()),
            Unresolved::Missing => format!(
                "`{url}` does not exist in {}; check the path, add the file, or add its folder to `staticfiles_dirs`",
                roots.describe()
            ),
        };
        Error::input(location.clone(), message)
    })?;
    Ok(SourceId::File {
        path,
        relative: relative.to_string(),
        kind,
        treatment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_rel_is_a_list_of_words() {
        assert_eq!(link_role(Some("stylesheet")), LinkRole::Stylesheet);
        assert_eq!(link_role(Some("StyleSheet")), LinkRole::Stylesheet);
        assert_eq!(
            link_role(Some("preload  stylesheet")),
            LinkRole::StylesheetToBrowsers
        );
        assert_eq!(
            link_role(Some(" stylesheet")),
            LinkRole::StylesheetToBrowsers
        );
        assert_eq!(link_role(Some("alternate stylesheet")), LinkRole::Dropped);
        assert_eq!(link_role(Some("icon")), LinkRole::Dropped);
        assert_eq!(link_role(None), LinkRole::Dropped);
    }
}
