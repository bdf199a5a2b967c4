//! Minifying a structurally sound stylesheet with lightningcss. What lightningcss cannot parse
//! is reported as a [`Problem`], told apart from the old Internet Explorer hacks browsers skip
//! on purpose; either way the stylesheet is then minified conservatively, so nothing a browser
//! would read is lost.

use std::sync::{Arc, RwLock};

use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};

use super::css::string_end;

/// Something in a stylesheet that lightningcss could not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line and column in the text given to [`minify`].
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// A hack old Internet Explorer read and other browsers skip on purpose (`*zoom: 1`,
    /// `_height: 1px`): legal for browsers, kept as written.
    pub hack: bool,
}

/// The result of minifying one stylesheet.
#[derive(Debug)]
pub struct MinifiedCss {
    pub code: String,
    /// What lightningcss could not parse; when not empty, the stylesheet was minified
    /// conservatively instead, so nothing is lost.
    pub problems: Vec<Problem>,
    /// Why lightningcss was not used for a stylesheet it could parse, if it was not.
    pub note: Option<String>,
    /// From positions in `code` to positions in `css`, when asked for and lightningcss
    /// minified it (a conservative minification keeps no positions).
    pub map: Option<swc_sourcemap::SourceMap>,
}

/// Blocks nested deeper than this are not given to lightningcss, whose printer counts
/// indentation in a byte and overflows past about 127 levels.
const LIGHTNINGCSS_MAX_BLOCK_DEPTH: usize = 100;

/// Minifies a structurally sound stylesheet.
pub fn minify(name: &str, css: &str, map: bool) -> MinifiedCss {
    let conservatively = |problems, note| MinifiedCss {
        code: minify_conservatively(css),
        problems,
        note,
        map: None,
    };
    if block_depth(css) > LIGHTNINGCSS_MAX_BLOCK_DEPTH {
        return conservatively(
            Vec::new(),
            Some(format!(
                "blocks nest more than {LIGHTNINGCSS_MAX_BLOCK_DEPTH} deep, deeper than lightningcss prints"
            )),
        );
    }
    let shielded = shield_vendor_placeholders(css);
    let input = shielded.as_deref().unwrap_or(css);
    // A panic inside the minifier is a bug of its own; the stylesheet is still bundled.
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        minify_with_lightningcss(name, input, map)
    }));
    match attempt {
        Ok(Ok((code, map))) => MinifiedCss {
            code: match shielded {
                Some(_) => unshield_vendor_placeholders(&code),
                None => code,
            },
            problems: Vec::new(),
            note: None,
            map,
        },
        Ok(Err(problems)) => conservatively(problems, None),
        Err(_) => conservatively(Vec::new(), Some("lightningcss failed on it".into())),
    }
}

/// What the shielded vendor pseudo-classes and pseudo-elements are spelled as while lightningcss
/// reads them: a vendor name it does not know, which it keeps as written.
const SHIELD: &str = "-stapler-shield";

/// Old browsers' placeholder selectors that lightningcss rewrites into others
/// (`:-ms-input-placeholder` into `:-ms-placeholder-shown`, `::-ms-input-placeholder` into
/// `::-moz-placeholder`, `:-moz-placeholder` into `:-moz-placeholder-shown`), so that the rules
/// no longer apply where they did: shielded from it, and kept as written, as django-compressor
/// keeps them. `None` when the text has none.
fn shield_vendor_placeholders(css: &str) -> Option<String> {
    if css.contains(SHIELD)
        || !(css.contains(":-ms-input-placeholder") || css.contains(":-moz-placeholder"))
    {
        return None;
    }
    let mut out = String::with_capacity(css.len() + 64);
    let mut rest = css;
    while let Some(at) = rest.find(":-") {
        out.push_str(&rest[..at + 1]);
        let after = &rest[at + 1..];
        let shielded = ["-ms-input-placeholder", "-moz-placeholder"]
            .into_iter()
            .find(|name| after.starts_with(name) && !after[name.len()..].starts_with('-'));
        match shielded {
            Some(name) => {
                out.push_str(SHIELD);
                out.push_str(name);
                rest = &after[name.len()..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    Some(out)
}

fn unshield_vendor_placeholders(css: &str) -> String {
    css.replace(SHIELD, "")
}

/// The deepest nesting of `{` blocks, outside strings and comments.
fn block_depth(css: &str) -> usize {
    let bytes = css.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = css[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |at| i + 2 + at + 2);
            }
            quote @ (b'"' | b'\'') => {
                i = string_end(bytes, i, quote).map_or(bytes.len(), |(end, _)| end);
            }
            b'\\' => i += 2,
            b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    deepest
}

type WithMap = (String, Option<swc_sourcemap::SourceMap>);

fn minify_with_lightningcss(name: &str, css: &str, map: bool) -> Result<WithMap, Vec<Problem>> {
    let warnings = Arc::new(RwLock::new(Vec::new()));
    let mut source_map = map.then(|| parcel_sourcemap::SourceMap::new("/"));
    let source_index = source_map.as_mut().map_or(0, |map| map.add_source(name));
    let options = ParserOptions {
        filename: name.to_string(),
        source_index,
        error_recovery: true,
        warnings: Some(warnings.clone()),
        ..ParserOptions::default()
    };
    let whole = |message: String| {
        vec![Problem {
            line: 1,
            column: 1,
            message,
            hack: false,
        }]
    };
    let mut sheet = StyleSheet::parse(css, options).map_err(|error| whole(error.to_string()))?;
    let problems: Vec<Problem> = warnings
        .read()
        .map(|list| list.iter().map(|warning| problem(css, warning)).collect())
        .unwrap_or_default();
    if !problems.is_empty() {
        return Err(problems);
    }
    sheet
        .minify(MinifyOptions::default())
        .map_err(|error| whole(error.to_string()))?;
    let printed = sheet
        .to_css(PrinterOptions {
            minify: true,
            source_map: source_map.as_mut(),
            ..PrinterOptions::default()
        })
        .map_err(|error| whole(error.to_string()))?;
    // A map that cannot be written or read back leaves the text without one, never broken.
    let map = source_map
        .and_then(|mut map| map.to_json(None).ok())
        .and_then(|json| swc_sourcemap::SourceMap::from_slice(json.as_bytes()).ok());
    Ok((printed.code, map))
}

/// A lightningcss warning as a problem at a 1-based place (lightningcss counts lines from 0),
/// told apart from the hacks browsers skip on purpose by the declaration it points into.
fn problem(
    css: &str,
    warning: &lightningcss::error::Error<lightningcss::error::ParserError<'_>>,
) -> Problem {
    let (line, column) = warning.loc.as_ref().map_or((1, 1), |loc| {
        (loc.line as usize + 1, loc.column.max(1) as usize)
    });
    let offset = offset_of(css, line, column);
    let declaration_start = css[..offset].rfind(['{', ';', '}']).map_or(0, |at| at + 1);
    let declaration = css[declaration_start..offset].trim_start();
    Problem {
        line,
        column,
        message: warning.kind.to_string(),
        hack: declaration.starts_with(['*', '_']),
    }
}

/// The byte offset of a 1-based line and column (in characters).
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        .min(text.len());
    text[line_start..]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(text.len(), |(at, _)| line_start + at)
}

/// Drops comments (but `/*! … */`) and collapses whitespace; strings are never touched.
pub fn minify_conservatively(css: &str) -> String {
    let bytes = css.as_bytes();
    let mut out = String::with_capacity(css.len());
    let mut i = 0;
    let mut pending_space = false;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let end = css[i + 2..]
                .find("*/")
                .map_or(css.len(), |length| i + 2 + length + 2);
            if bytes.get(i + 2) == Some(&b'!') {
                out.push_str(&css[i..end]);
            } else {
                pending_space = true;
            }
            i = end;
            continue;
        }
        if byte.is_ascii_whitespace() {
            pending_space = true;
            i += 1;
            continue;
        }
        // Whitespace next to these never matters; before `(` it does (`and (min-width…)`).
        let tight_before = |b: u8| matches!(b, b'{' | b'}' | b';' | b',' | b')');
        let tight_after = |b: u8| matches!(b, b'{' | b'}' | b';' | b',' | b':' | b'(');
        if pending_space
            && !out.is_empty()
            && !tight_before(byte)
            && !out.ends_with(|c: char| c.is_ascii() && tight_after(c as u8))
        {
            out.push(' ');
        }
        pending_space = false;
        if byte == b'"' || byte == b'\'' {
            let end = string_end(bytes, i, byte).map_or(css.len(), |(end, _)| end);
            out.push_str(&css[i..end]);
            i = end;
            continue;
        }
        if byte == b'}' && out.ends_with(';') {
            out.pop();
        }
        let ch = css[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_placed_and_hacks_told_apart() {
        let out = minify(
            "a.css",
            "a { color: red }\n.b { *zoom: 1; color: red }\n<<<<<<< HEAD\nc { color: blue }\n",
            false,
        );
        let found: Vec<(usize, usize, bool)> = out
            .problems
            .iter()
            .map(|p| (p.line, p.column, p.hack))
            .collect();
        assert_eq!(found[0], (2, 14, true), "{:?}", out.problems);
        assert_eq!(found[1], (3, 1, false), "{:?}", out.problems);
        assert!(out.code.contains("*zoom:1"), "{}", out.code);
        assert_eq!(offset_of("ab\ncé\nd", 2, 2), 4);
    }

    #[test]
    fn deep_blocks_bypass_lightningcss() {
        let deep = format!(
            "{}a{{color:red}}{}",
            "@media screen{".repeat(200),
            "}".repeat(200)
        );
        let out = minify("a.css", &deep, false);
        assert!(out.problems.is_empty());
        assert!(out.note.is_some());
        assert_eq!(out.code, deep);
        assert_eq!(block_depth("a{b:'{{{'}/* {{ */c{d{}}"), 2);
    }

    #[test]
    fn lightningcss_minifies_clean_css() {
        let out = minify(
            "a.css",
            "a {\n  color: #ff0000;\n  margin: 0px 0px;\n}\n",
            false,
        );
        assert!(out.problems.is_empty());
        assert_eq!(out.code, "a{color:red;margin:0}");
    }

    #[test]
    fn ie_hacks_are_kept() {
        let css = ".clearfix { *zoom: 1; filter: progid:DXImageTransform.Microsoft.gradient(startColorstr='#80000000', endColorstr='#80000000'); }";
        let out = minify("a.css", css, false);
        assert!(
            out.code.contains("*zoom:1") || out.code.contains("*zoom: 1"),
            "{}",
            out.code
        );
        assert!(out.code.contains("progid:DXImageTransform"), "{}", out.code);
    }

    #[test]
    fn conservative_minifier_keeps_strings_and_licences() {
        assert_eq!(
            minify_conservatively("/*! MIT */\n/* note */ a  >  b {\n  content: \"  x  \" ;\n}\n"),
            "/*! MIT */ a > b{content:\"  x  \"}"
        );
    }

    #[test]
    fn old_placeholder_selectors_are_kept_as_written() {
        let css = ".a:-ms-input-placeholder{color:red}.b::-ms-input-placeholder{color:red}.c::-moz-placeholder{color:red}.d:-moz-placeholder{color:red}.e:-moz-placeholder-shown{color:red}.f::placeholder{color:red}";
        let out = minify("a.css", css, false);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(out.code, css);
    }
}
