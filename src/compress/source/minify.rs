//! The expensive step, for cache misses only: a prepared source minified by swc or
//! lightningcss (or kept as written where that is right), with its map when maps are made.

use crate::block::Kind;
use crate::config::CssErrors;
use crate::error::{Error, Excerpt, Result};

use super::super::css_minify;
use super::super::js::{self, Dialect};
use super::super::sourcemap::{self, PartMap};
use super::{strip_source_map_comments, Minified, Minifying, Note, Origin, Prepared};

/// Minifies a prepared source, with its map when maps are made.
pub fn minify(prepared: &Prepared, minifying: Minifying) -> Result<Minified> {
    let mut minified = minify_text(prepared, minifying)?;
    if !minifying.maps {
        return Ok(minified);
    }
    let content = Some(prepared.original.as_deref().unwrap_or(&prepared.text));
    let name = prepared.map_name.as_str();
    let map = minified.map.take().unwrap_or_else(|| match prepared.kind {
        // Text kept as written keeps its lines.
        Kind::Js => PartMap::lines(&minified.text, name, content),
        Kind::Css => PartMap::whole(name, content),
    });
    // A compiler that embedded its map gets it followed, into the files it compiled from.
    minified.map = Some(match sourcemap::embedded(&prepared.text) {
        Some(earlier) if prepared.compiled => map.through(&earlier),
        _ => map,
    });
    Ok(minified)
}

fn minify_text(prepared: &Prepared, minifying: Minifying) -> Result<Minified> {
    let level = minifying.js;
    let name = prepared.label.display().to_string();
    let text = &prepared.text;
    let too_deep =
        prepared.kind == Kind::Js && !prepared.as_is && js::nesting(text) > js::MAX_NESTING;
    match prepared.kind {
        Kind::Css if prepared.as_is => Ok(Minified {
            text: css_minify::minify_conservatively(text),
            warning: None,
            strict: false,
            map: None,
        }),
        Kind::Js if prepared.as_is => Ok(Minified {
            text: keep_as_is(text),
            warning: None,
            strict: false,
            map: None,
        }),
        Kind::Css if prepared.passthrough => Ok(Minified {
            text: strip_source_map_comments(text).trim_end().to_string(),
            warning: None,
            strict: false,
            map: None,
        }),
        Kind::Css => minify_css(prepared, &name, minifying),
        Kind::Js if too_deep && prepared.dialect != Dialect::SCRIPT => Err(Error::input(
            prepared.origin.at(0),
            format!(
                "brackets nest more than {} deep, too deep to compile; split the script",
                js::MAX_NESTING
            ),
        )),
        Kind::Js if too_deep => Ok(Minified {
            text: text.clone(),
            warning: Note::whole(format!(
                "kept as it is, neither checked nor minified: brackets nest more than {} deep",
                js::MAX_NESTING
            )),
            strict: false,
            map: None,
        }),
        Kind::Js if prepared.passthrough => match js::check(&name, text) {
            Ok(strict) => Ok(Minified {
                text: keep_as_is(text),
                warning: None,
                strict,
                map: None,
            }),
            Err(error) => Ok(broken_script(text, Dialect::SCRIPT, error)),
        },
        Kind::Js => match js::minify(
            &name,
            text,
            level,
            prepared.dialect,
            prepared.base.as_deref(),
            minifying.maps,
        ) {
            Ok(script) => Ok(Minified {
                warning: unresolved_imports_note(&script.unresolved_imports),
                text: script.code,
                strict: script.strict,
                map: script.map.as_ref().map(|map| {
                    let content = prepared.original.as_deref().unwrap_or(&prepared.text);
                    PartMap::from_map(map, &prepared.map_name, Some(content))
                }),
            }),
            Err(js::JsError::Print { message }) if prepared.dialect == Dialect::SCRIPT => {
                Ok(Minified {
                    text: text.clone(),
                    warning: Note::whole(format!("kept unminified: {message}")),
                    strict: js::check(&name, text).unwrap_or(false),
                    map: None,
                })
            }
            // What django-compressor bundles as text, stapler bundles too: a script it cannot
            // parse, kept as written, with a warning. TypeScript is compiled, which it cannot be.
            Err(error @ js::JsError::Syntax { .. }) if !prepared.dialect.typescript => {
                Ok(broken_script(text, prepared.dialect, error))
            }
            Err(error) => Err(js_error(&prepared.origin, prepared.dialect, error)),
        },
    }
}

/// A script that does not parse, kept as written, with a warning at the error's place.
fn broken_script(text: &str, dialect: Dialect, error: js::JsError) -> Minified {
    let (line, column, message) = match error {
        js::JsError::Syntax {
            line,
            column,
            message,
        } => (line, column, message),
        js::JsError::Print { message } => (0, 0, message),
    };
    let parsed_as = match dialect.module {
        true => "a module",
        false => "a classic script",
    };
    Minified {
        text: keep_as_is(text),
        warning: Some(Note {
            line,
            column,
            text: format!(
                "JavaScript syntax error: {message} (parsed as {parsed_as}); bundled as written, unminified, as django-compressor bundles it, but browsers will refuse to run the whole bundle file it is in; fix the script"
            ),
        }),
        strict: false,
        map: None,
    }
}

fn unresolved_imports_note(specifiers: &[String]) -> Option<Note> {
    if specifiers.is_empty() {
        return None;
    }
    Note::whole(format!(
        "the module's relative imports ({}) are left as written, so the browser resolves them against the bundle's URL, not the page's; write them as absolute URLs",
        specifiers.join(", ")
    ))
}

/// Minifies a stylesheet with lightningcss. CSS a browser would drop (and old IE hacks) makes it
/// minify the stylesheet conservatively instead, keeping every byte django-compressor keeps,
/// with a warning; `css_errors = "error"` makes dropped CSS in a file as written an error.
fn minify_css(prepared: &Prepared, name: &str, minifying: Minifying) -> Result<Minified> {
    let css_errors = minifying.css_errors;
    let out = css_minify::minify(name, &prepared.text, minifying.maps);
    let dropped: Vec<&css_minify::Problem> = out.problems.iter().filter(|p| !p.hack).collect();
    // What a precompiler wrote is not a file anyone edits, and its line numbers are not the
    // source's: it is bundled as it is either way.
    if !dropped.is_empty() && css_errors == CssErrors::Error && !prepared.compiled {
        let errors = dropped
            .iter()
            .map(|problem| css_problem_error(prepared, problem))
            .collect();
        return Err(
            Error::from_many(errors).unwrap_or_else(|| css_problem_error(prepared, dropped[0]))
        );
    }
    let warning = match (dropped.first(), out.problems.first()) {
        (Some(first), _) if prepared.compiled => Some(Note {
            line: 0,
            column: 0,
            text: format!("the CSS compiled from it has CSS that browsers would drop at line {} of the compiled CSS ({}), bundled as it is, as django-compressor bundles it; minified conservatively", first.line, first.message),
        }),
        (Some(first), _) => Some(Note {
            line: first.line,
            column: first.column,
            text: format!(
                "CSS that browsers would drop ({}){}; bundled as written, as django-compressor bundles it, and minified conservatively",
                first.message,
                match dropped.len() {
                    1 => String::new(),
                    more => format!(", and {} more place(s) in this file", more - 1),
                }
            ),
        }),
        (None, Some(first)) => Some(Note {
            line: if prepared.compiled { 0 } else { first.line },
            column: 0,
            text: format!("kept old Internet Explorer hacks (lightningcss would drop them: {}); minified conservatively instead", first.message),
        }),
        (None, None) => None,
    };
    let warning = warning.or_else(|| {
        out.note
            .and_then(|note| Note::whole(format!("{note}; minified conservatively instead")))
    });
    let content = prepared.original.as_deref().unwrap_or(&prepared.text);
    Ok(Minified {
        text: out.code,
        warning,
        strict: false,
        map: out
            .map
            .as_ref()
            .map(|map| PartMap::from_map(map, &prepared.map_name, Some(content))),
    })
}

/// CSS a browser would drop, as an error at its place with the line shown.
fn css_problem_error(prepared: &Prepared, problem: &css_minify::Problem) -> Error {
    // The column is the minified text's (urls rewritten, BOM dropped): the line shown is too,
    // so the caret stands under what it points at.
    let written = &prepared.text;
    let offset = css_minify::offset_of(written, problem.line, problem.column);
    Error::input_read_as(
        prepared.origin.at_column(problem.line, problem.column),
        format!(
            "CSS that browsers would drop ({}); fix the stylesheet, or leave `css_errors` unset to bundle it as it is, as django-compressor does",
            problem.message
        ),
        Excerpt::at(written, offset..offset + 1),
    )
}

fn js_error(origin: &Origin, dialect: Dialect, error: js::JsError) -> Error {
    let (language, parsed_as) = match dialect {
        Dialect {
            typescript: true,
            module: true,
        } => ("TypeScript", "a module"),
        Dialect {
            typescript: true,
            module: false,
        } => ("TypeScript", "a classic script"),
        Dialect {
            typescript: false,
            module: true,
        } => ("JavaScript", "a module"),
        Dialect {
            typescript: false,
            module: false,
        } => ("JavaScript", "a classic script, not a module"),
    };
    match error {
        js::JsError::Syntax {
            line,
            column,
            message,
        } => Error::input(
            origin.at_column(line, column),
            format!(
                "{language} syntax error: {message}; fix the script (it is parsed as {parsed_as})"
            ),
        ),
        js::JsError::Print { message } => Error::input(origin.at(0), message),
    }
}

/// A script kept as written, but for its source map comment (wrong once bundled).
fn keep_as_is(text: &str) -> String {
    let mut kept = strip_source_map_comments(text);
    // A trailing line comment would swallow the `;` that concatenation appends.
    if kept.lines().last().is_some_and(|last| last.contains("//")) && !kept.ends_with('\n') {
        kept.push('\n');
    }
    kept
}
