//! Planning: each distinct block reduced to the sources its output is made of, in order, each
//! with the group that decides which output file it lands in. Nothing is read here but the
//! block's HTML; files are only located.

use std::path::PathBuf;

use crate::block::{Block, Kind};
use crate::error::{Error, Location, Result};

use super::html::{self, Element};
use super::resolve::{Roots, Unresolved};

/// Where an input comes from: a file, or the text of an inline element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    File {
        path: PathBuf,
        /// The path under `url` (`css/site.css`): what relative `url()`s are resolved against.
        relative: String,
        kind: Kind,
        as_is: bool,
    },
    Inline {
        text: String,
        kind: Kind,
        as_is: bool,
    },
}

impl SourceId {
    pub fn kind(&self) -> Kind {
        match self {
            SourceId::File { kind, .. } | SourceId::Inline { kind, .. } => *kind,
        }
    }

    /// Whether the source is of a `type` stapler neither checks nor minifies (as
    /// django-compressor, with no precompiler configured, bundles it as it is).
    pub fn as_is(&self) -> bool {
        match self {
            SourceId::File { as_is, .. } | SourceId::Inline { as_is, .. } => *as_is,
        }
    }
}

/// How a script is loaded; consecutive scripts that agree share an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loading {
    Blocking,
    Async,
    Defer,
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
}

/// A distinct block and the parts its output is made of.
pub struct Plan<'b> {
    pub block: &'b Block,
    pub parts: Vec<Part>,
}

/// Plans every distinct block (by key); reports every block that cannot be planned. Elements
/// left out of a block are returned as warnings.
pub fn plan_blocks<'b>(blocks: &'b [Block], roots: &Roots) -> Result<(Vec<Plan<'b>>, Vec<String>)> {
    let mut seen = std::collections::HashSet::new();
    let mut plans = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for block in blocks {
        if !seen.insert(block.key.as_str()) {
            continue;
        }
        match plan_block(block, roots, &mut warnings) {
            Ok(parts) => plans.push(Plan { block, parts }),
            Err(error) => errors.push(error),
        }
    }
    match Error::from_many(errors) {
        Some(error) => Err(error),
        None => Ok((plans, warnings)),
    }
}

/// How a `<link>` in a CSS block is taken, by its `rel` (a list of words, any case).
fn link_role(rel: Option<&str>) -> LinkRole {
    let words: Vec<String> = rel
        .unwrap_or("")
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |word: &str| words.iter().any(|w| w == word);
    match words.as_slice() {
        [only] if only == "stylesheet" => LinkRole::Stylesheet,
        _ if has("stylesheet") && !has("alternate") => LinkRole::StylesheetAmong,
        _ => LinkRole::Dropped,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum LinkRole {
    /// `rel="stylesheet"`: what django-compressor takes.
    Stylesheet,
    /// `rel="preload stylesheet"` and the like: a stylesheet to browsers, dropped by
    /// django-compressor.
    StylesheetAmong,
    /// Anything else (`icon`, `alternate stylesheet`): left out, as django-compressor does.
    Dropped,
}

fn element_location(block: &Block, element: &Element) -> Location {
    Location::new(&block.location.file, block.location.line + element.line)
}

/// Reads a block's elements and resolves each to a source.
fn plan_block(block: &Block, roots: &Roots, warnings: &mut Vec<String>) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for element in html::elements(&block.body) {
        let location = element_location(block, &element);
        let media = || Group::Media(element.attr("media").unwrap_or("").to_string());
        let part = match (block.kind, element.tag.as_str()) {
            (Kind::Css, "link") => {
                let rel = element.attr("rel");
                match link_role(rel) {
                    LinkRole::Stylesheet => {}
                    LinkRole::StylesheetAmong => warnings.push(format!(
                        "{location}: <link rel=\"{}\"> is bundled as the stylesheet it is; django-compressor would leave it out, taking only rel=\"stylesheet\"",
                        rel.unwrap_or_default()
                    )),
                    LinkRole::Dropped => {
                        warnings.push(format!(
                            "{location}: <link rel=\"{}\"> is not a stylesheet, so it is left out of the block's output, as django-compressor leaves it out; move it outside the {{% compress %}} block to keep it",
                            rel.unwrap_or_default()
                        ));
                        continue;
                    }
                }
                let as_is = check_type(&element, Kind::Css, &location, warnings)?;
                let href = element.attr("href").ok_or_else(|| {
                    Error::input(location.clone(), "<link rel=\"stylesheet\"> has no href")
                })?;
                Part {
                    source: file_source(href, Kind::Css, as_is, roots, &location)?,
                    group: media(),
                    location,
                }
            }
            (Kind::Css, "style") => {
                let as_is = check_type(&element, Kind::Css, &location, warnings)?;
                Part {
                    source: SourceId::Inline {
                        text: element.text.clone(),
                        kind: Kind::Css,
                        as_is,
                    },
                    group: media(),
                    location,
                }
            }
            (Kind::Js, "script") => {
                let as_is = check_type(&element, Kind::Js, &location, warnings)?;
                let loading = if element.attr("async").is_some() {
                    Loading::Async
                } else if element.attr("defer").is_some() {
                    Loading::Defer
                } else {
                    Loading::Blocking
                };
                let source = match element.attr("src") {
                    Some(src) => file_source(src, Kind::Js, as_is, roots, &location)?,
                    None => SourceId::Inline {
                        text: element.text.clone(),
                        kind: Kind::Js,
                        as_is,
                    },
                };
                Part {
                    source,
                    group: Group::Script(loading),
                    location,
                }
            }
            (kind, tag) => {
                // django-compressor reads only its kind's elements; the rest leave the output.
                warnings.push(format!(
                    "{location}: <{tag}> in a {{% compress {kind} %}} block is left out of its output, as django-compressor leaves it out; move it to a {} block or outside",
                    match kind {
                        Kind::Css => "js",
                        Kind::Js => "css",
                    }
                ));
                continue;
            }
        };
        parts.push(part);
    }
    Ok(parts)
}

/// Whether an element's `type` is one stapler minifies (`false`), or one it bundles as it is
/// (`true`, with a warning): with no precompiler configured, django-compressor bundles every
/// type unchanged. Modules are refused: in a classic script they would not run.
fn check_type(
    element: &Element,
    kind: Kind,
    location: &Location,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let minified: &[&str] = match kind {
        Kind::Css => &["text/css"],
        Kind::Js => &[
            "text/javascript",
            "application/javascript",
            "application/x-javascript",
        ],
    };
    let Some(given) = element.attr("type").filter(|t| !t.trim().is_empty()) else {
        return Ok(false);
    };
    if minified
        .iter()
        .any(|known| known.eq_ignore_ascii_case(given.trim()))
    {
        return Ok(false);
    }
    if kind == Kind::Js && given.trim().eq_ignore_ascii_case("module") {
        return Err(Error::input(
            location.clone(),
            "<script type=\"module\"> cannot be bundled into a classic script, where its imports would not run; keep it outside the {% compress %} block",
        ));
    }
    warnings.push(format!(
        "{location}: <{} type=\"{given}\"> has no precompiler, so it is bundled without being parsed (as django-compressor bundles it); compile it first to get it checked and minified",
        element.tag
    ));
    Ok(true)
}

fn file_source(
    url: &str,
    kind: Kind,
    as_is: bool,
    roots: &Roots,
    location: &Location,
) -> Result<SourceId> {
    let relative = roots.relative(url).map_err(|_| {
        Error::input(
            location.clone(),
            format!("`{url}` is not under `url` ({}), so it cannot be compressed; use {{% static %}} or a URL starting with {}", roots.url(), roots.url()),
        )
    })?;
    let path = roots.find(relative).map_err(|why| {
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
        as_is,
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
            LinkRole::StylesheetAmong
        );
        assert_eq!(
            link_role(Some("stylesheet preload")),
            LinkRole::StylesheetAmong
        );
        assert_eq!(link_role(Some("alternate stylesheet")), LinkRole::Dropped);
        assert_eq!(link_role(Some("icon")), LinkRole::Dropped);
        assert_eq!(link_role(None), LinkRole::Dropped);
    }
}
