//! One source, from bytes to minified text, in two steps so that the cache can be consulted in
//! between: [`prepare`] reads and checks it (and rewrites a stylesheet's urls), which fixes the
//! cache key of its result; [`minify`] does the expensive part, only for cache misses.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::block::Kind;
use crate::config::{CssErrors, JsMinify};
use crate::error::{Error, Location, Result, Warning};

use super::cache::Cache;
use super::css;

use super::css_urls::{AssetCopy, UrlPolicy};
use super::js::{self, Dialect};
use super::plan::{SourceId, Treatment};
use super::precompile::{self, Precompilers};
use super::sass::{self, Sass};
use super::sourcemap::PartMap;

pub use super::origin::Origin;
pub use minify::minify;

mod minify;

/// How sources are minified.
#[derive(Debug, Clone, Copy)]
pub struct Minifying {
    pub js: JsMinify,
    pub css_errors: CssErrors,
    /// Whether each source's map is made with its minified text.
    pub maps: bool,
}

/// What reading a source needs besides the source.
pub struct Reading<'a> {
    pub urls: &'a UrlPolicy<'a>,
    pub minifying: Minifying,
    pub precompilers: &'a Precompilers,
    pub cache: &'a Cache,
}

/// A source read and checked, its text ready to minify.
pub struct Prepared {
    /// The file, or the template place of an inline element, for messages.
    origin: Origin,
    /// How messages name it.
    label: PathBuf,
    kind: Kind,
    /// The text to minify: a stylesheet's with its urls rewritten.
    text: String,
    /// Already minified (`*.min.js`, or lines too long to be hand-written): checked, not minified.
    passthrough: bool,
    /// Of a type stapler does not know: neither checked nor minified.
    as_is: bool,
    /// The output of a precompiler, not a file as written.
    compiled: bool,
    /// What a script is written in.
    dialect: Dialect,
    /// The URL of the folder a module file is served from, for its relative imports.
    base: Option<String>,
    /// How a source map names it: its URL, or its place in a template.
    map_name: String,
    /// The text as written, when maps are made and it differs from `text` (a stylesheet whose
    /// urls were rewritten): what a map shows as the source.
    original: Option<String>,
    /// The cache key of the minified result.
    pub key: String,
    /// Bytes read.
    pub bytes_in: u64,
    /// Hashed copies the stylesheet's urls point at.
    pub assets: Vec<AssetCopy>,
    /// Things worth knowing found while reading it (a url to a missing file).
    pub notes: Vec<Warning>,
    /// What a Sass compilation read and looked for.
    pub depends: sass::Depends,
}

impl Prepared {
    /// The amount of work minifying it is, for scheduling the largest first.
    pub fn size(&self) -> usize {
        self.text.len()
    }
}

/// The minified text of a source, as the cache keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Minified {
    pub text: String,
    /// Something worth knowing that did not stop the build, without its place: an identical
    /// text elsewhere (or on another runner, through the shared cache) has the same note.
    pub warning: Option<Note>,
    /// A script that starts with a `"use strict"` directive.
    pub strict: bool,
    /// From positions in `text` to the source's, when maps are made.
    #[serde(default)]
    pub map: Option<PartMap>,
}

/// A note about a source's text: the line it is about (0 for the whole text), the column (0
/// when it names none) and what it says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub line: usize,
    #[serde(default)]
    pub column: usize,
    pub text: String,
}

impl Note {
    fn whole(text: String) -> Option<Note> {
        Some(Note {
            line: 0,
            column: 0,
            text,
        })
    }

    /// Where the note is, in the source `origin` names.
    fn place(&self, origin: &Origin) -> Location {
        match self.column {
            0 => origin.at(self.line),
            column => origin.at_column(self.line, column),
        }
    }
}

/// A source ready to be bundled.
pub struct Processed {
    /// The file, or `<inline js>`, for messages.
    pub label: PathBuf,
    pub text: String,
    /// A script that starts with a `"use strict"` directive.
    pub strict: bool,
    /// From positions in `text` to the source's, when maps are made.
    pub map: Option<PartMap>,
    /// sha256 of `text` (and of the map): what a bundle's cache key is made of.
    pub digest: [u8; 32],
    pub bytes_in: u64,
    pub assets: Vec<AssetCopy>,
    /// Things worth knowing that did not stop the build.
    pub warnings: Vec<Warning>,
    /// What a Sass compilation read and looked for.
    pub depends: sass::Depends,
}

impl Processed {
    pub fn new(prepared: Prepared, minified: Minified) -> Processed {
        let mut digest = Sha256::new();
        digest.update(minified.text.as_bytes());
        if let Some(map) = &minified.map {
            digest.update(serde_json::to_vec(map).unwrap_or_default());
        }
        Processed {
            digest: digest.finalize().into(),
            label: prepared.label,
            strict: minified.strict,
            map: minified.map,
            text: minified.text,
            bytes_in: prepared.bytes_in,
            assets: prepared.assets,
            depends: prepared.depends,
            warnings: prepared
                .notes
                .into_iter()
                .chain(
                    minified
                        .warning
                        .map(|note| Warning::at(note.place(&prepared.origin), note.text)),
                )
                .collect(),
        }
    }
}

/// Reads a source and prepares its text. `inline_at` is where an inline source's element
/// starts in its template.
pub fn prepare(
    source: &SourceId,
    inline_at: Option<&Location>,
    reading: &Reading<'_>,
) -> Result<Prepared> {
    let (urls, minifying) = (reading.urls, reading.minifying);
    let (origin, text, bytes_in, relative) = match source {
        SourceId::File { path, relative, .. } => {
            let bytes = std::fs::read(path).map_err(|error| {
                Error::input(
                    Location::file(path),
                    format!("cannot be read ({error}); check its permissions"),
                )
            })?;
            let text = decode(&bytes, path)?;
            (
                Origin::File(path.clone()),
                text,
                bytes.len() as u64,
                Some(relative),
            )
        }
        SourceId::Inline { text, kind, .. } => {
            let origin = match inline_at {
                Some(at) => Origin::Inline(at.clone()),
                None => Origin::File(PathBuf::from(format!("<inline {kind}>"))),
            };
            (origin, text.clone(), text.len() as u64, None)
        }
    };
    let kind = source.kind();
    let treatment = source.treatment();
    let mut as_is = *treatment == Treatment::AsIs;
    let compiled = matches!(
        treatment,
        Treatment::Sass { .. } | Treatment::Precompiled { .. }
    );
    let label = origin.label(kind);
    let file = match source {
        SourceId::File { path, .. } => Some(path.as_path()),
        SourceId::Inline { .. } => None,
    };
    let written = minifying.maps.then(|| text.clone());
    let (text, depends) = precompiled(treatment, kind, text, file, &origin, reading)?;
    let map_name = match relative {
        // What a compiler made from the file has no URL of its own.
        Some(relative) if compiled => format!("{}{relative}.{}", urls.url, kind.as_str()),
        Some(relative) => format!("{}{relative}", urls.url),
        None => label.display().to_string(),
    };
    let dialect = match treatment {
        Treatment::Script(dialect) => *dialect,
        _ => Dialect::SCRIPT,
    };
    let base = match (dialect.module, relative) {
        (true, Some(relative)) => Some(match relative.rsplit_once('/') {
            Some((folder, _)) => format!("{}{folder}/", urls.url),
            None => urls.url.to_string(),
        }),
        _ => None,
    };
    let is_min_file =
        relative.is_some() && dialect == Dialect::SCRIPT && is_minified_name(&label, kind.as_str());
    let mut assets = Vec::new();
    let mut notes = Vec::new();
    let (text, passthrough, key) = match kind {
        Kind::Css => {
            let (rewritten, malformed) = rewrite_css(
                &text,
                &origin,
                relative.map(String::as_str),
                urls,
                &mut assets,
                &mut notes,
            )?;
            as_is |= malformed;
            let mode = [
                u8::from(is_min_file),
                minifying.css_errors as u8,
                u8::from(as_is),
                u8::from(compiled),
            ];
            let key = Cache::key(&[
                b"css",
                &mode,
                &[u8::from(minifying.maps)],
                if minifying.maps {
                    map_name.as_bytes()
                } else {
                    b""
                },
                rewritten.as_bytes(),
            ]);
            (rewritten, is_min_file, key)
        }
        Kind::Js => {
            let passthrough =
                dialect == Dialect::SCRIPT && (is_min_file || js::looks_minified(&text));
            let key = Cache::key(&[
                b"js",
                &[
                    u8::from(passthrough),
                    minifying.js as u8,
                    u8::from(as_is),
                    u8::from(dialect.typescript),
                    u8::from(dialect.module),
                    u8::from(minifying.maps),
                ],
                if minifying.maps {
                    map_name.as_bytes()
                } else {
                    b""
                },
                base.as_deref().unwrap_or("").as_bytes(),
                text.as_bytes(),
            ]);
            (text, passthrough, key)
        }
    };
    let original = written.filter(|written| !compiled && *written != text);
    Ok(Prepared {
        original,
        origin,
        label,
        kind,
        text,
        passthrough,
        as_is,
        compiled,
        dialect,
        base,
        map_name,
        key,
        bytes_in,
        assets,
        notes,
        depends,
    })
}

/// The source's text as CSS or JavaScript: compiled first when its type asks for it, with the
/// files a Sass compilation read and looked for.
fn precompiled(
    treatment: &Treatment,
    kind: Kind,
    text: String,
    file: Option<&Path>,
    origin: &Origin,
    reading: &Reading<'_>,
) -> Result<(String, sass::Depends)> {
    match treatment {
        Treatment::Sass { indented } => {
            let sass = Sass {
                roots: reading.urls.roots,
                cache: reading.cache,
            };
            let input = match (file, origin) {
                (Some(path), _) => sass::Input::File(path),
                (None, Origin::Inline(at)) => sass::Input::Inline { text: &text, at },
                (None, Origin::File(path)) => sass::Input::Inline {
                    text: &text,
                    at: &Location::file(path),
                },
            };
            sass.compile(&input, *indented)
        }
        Treatment::Precompiled { mimetype, attrs } => reading
            .precompilers
            .run(
                &precompile::Input {
                    mimetype,
                    kind,
                    text: &text,
                    file,
                    attrs,
                    at: origin.at(0),
                },
                reading.cache,
            )
            .map(|text| (text, sass::Depends::default())),
        Treatment::Plain | Treatment::AsIs | Treatment::Script(_) => {
            Ok((text, sass::Depends::default()))
        }
    }
}

/// A stylesheet's text with its urls rewritten, and whether its structure is broken (then its
/// urls were found as django-compressor finds them, by pattern, and it is bundled as written).
fn rewrite_css(
    text: &str,
    origin: &Origin,
    relative: Option<&str>,
    urls: &UrlPolicy<'_>,
    assets: &mut Vec<AssetCopy>,
    notes: &mut Vec<Warning>,
) -> Result<(String, bool)> {
    enum Stop {
        Broken(css::CssError),
        Url(Error),
    }
    let rewrite_one = |url: &str,
                       line: usize,
                       assets: &mut Vec<AssetCopy>,
                       notes: &mut Vec<Warning>|
     -> Result<String> {
        let Some(relative) = relative else {
            // Inline `<style>` is left alone, as django-compressor leaves it.
            return Ok(url.to_string());
        };
        match urls.rewrite(url, relative, assets) {
            Ok(rewritten) => Ok(rewritten),
            // Real stylesheets point at files that are not shipped (vendor themes, stale
            // rules) or that stapler will not read: the url is left as django-compressor
            // writes it, unhashed, with a warning.
            Err(problem) => match problem.left_as() {
                Some(left_as) => {
                    let left_as = left_as.to_string();
                    notes.push(Warning::at(
                        origin.at(line),
                        problem.describe(url, urls.roots),
                    ));
                    Ok(left_as)
                }
                None => Err(Error::input(
                    origin.at(line),
                    problem.describe(url, urls.roots),
                )),
            },
        }
    };
    let mut found = Vec::new();
    let checked = css::rewrite_urls(
        text,
        |url, line| rewrite_one(url, line, assets, &mut found).map_err(Stop::Url),
        Stop::Broken,
    );
    match checked {
        Ok(rewritten) => {
            notes.extend(found);
            Ok((rewritten, false))
        }
        Err(Stop::Url(error)) => Err(error),
        Err(Stop::Broken(error)) => {
            notes.push(Warning::at(
                origin.at(error.line),
                format!(
                    "malformed CSS: {}; bundled as written, with its urls rewritten as django-compressor rewrites them, and not minified; fix the stylesheet",
                    error.message
                ),
            ));
            assets.clear();
            let rewritten = css::rewrite_urls_by_pattern(text, |url, line| {
                rewrite_one(url, line, assets, notes)
            })?;
            Ok((rewritten, true))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
