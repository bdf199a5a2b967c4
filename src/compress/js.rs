//! JavaScript: parse each source as a classic script, minify it with swc (compress + mangle,
//! never touching top-level names, which other scripts on the page share), keep `/*! … */`
//! licence comments, and print it back out safe to sit inside an inline `<script>`.

use swc_core::common::comments::{Comments, SingleThreadedComments};
use swc_core::common::{sync::Lrc, FileName, Globals, Mark, SourceMap, Spanned, GLOBALS};
use swc_core::ecma::ast::{EsVersion, Program};
use swc_core::ecma::codegen::text_writer::{omit_trailing_semi, JsWriter};
use swc_core::ecma::codegen::{Config as CodegenConfig, Emitter};
use swc_core::ecma::minifier::optimize;
use swc_core::ecma::minifier::option::terser::TerserCompressorOptions;
use swc_core::ecma::minifier::option::{ExtraOptions, MangleOptions, MinifyOptions};
use swc_core::ecma::parser::{EsSyntax, Parser, StringInput, Syntax};
use swc_core::ecma::transforms::base::{fixer::fixer, resolver};

use crate::config::JsMinify;

/// Why a script could not be minified.
#[derive(Debug, Clone, PartialEq)]
pub enum JsError {
    /// The source does not parse: the script must be fixed.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The minified program could not be printed back; the source can be used as it is.
    Print { message: String },
}

/// A minified script.
#[derive(Debug, Clone, PartialEq)]
pub struct Minified {
    pub code: String,
    /// Whether the script starts with a `"use strict"` directive.
    pub strict: bool,
}

/// Parses `source` as a classic script; returns whether it is strict, or its first syntax error.
pub fn check(name: &str, source: &str) -> Result<bool, JsError> {
    let cm: Lrc<SourceMap> = Lrc::default();
    parse(&cm, name, source, None).map(|script| is_strict(&script))
}

/// Whether a script's directive prologue holds `"use strict"` (spelled exactly, as the
/// language requires).
fn is_strict(script: &swc_core::ecma::ast::Script) -> bool {
    use swc_core::ecma::ast::{Expr, Lit, Stmt};
    for statement in &script.body {
        let Stmt::Expr(statement) = statement else {
            return false;
        };
        let Expr::Lit(Lit::Str(string)) = &*statement.expr else {
            return false;
        };
        if matches!(
            string.raw.as_deref(),
            Some("\"use strict\"") | Some("'use strict'")
        ) {
            return true;
        }
    }
    false
}

/// Minifies one classic script.
pub fn minify(name: &str, source: &str, level: JsMinify) -> Result<Minified, JsError> {
    let cm: Lrc<SourceMap> = Lrc::default();
    let comments = SingleThreadedComments::default();
    let script = parse(&cm, name, source, Some(&comments))?;
    let strict = is_strict(&script);
    keep_only_licence_comments(&comments);
    GLOBALS.set(&Globals::new(), || {
        let unresolved_mark = Mark::new();
        let top_level_mark = Mark::new();
        let program =
            Program::Script(script).apply(resolver(unresolved_mark, top_level_mark, false));
        let options = MinifyOptions {
            compress: (level == JsMinify::Full).then(|| compress_options(&cm)),
            mangle: (level != JsMinify::Whitespace).then(mangle_options),
            ..MinifyOptions::default()
        };
        let extra = ExtraOptions {
            unresolved_mark,
            top_level_mark,
            mangle_name_cache: None,
        };
        let program = optimize(program, cm.clone(), Some(&comments), None, &options, &extra);
        let program = program.apply(fixer(Some(&comments)));
        emit(&cm, &comments, &program).map(|code| Minified { code, strict })
    })
}

fn parse(
    cm: &Lrc<SourceMap>,
    name: &str,
    source: &str,
    comments: Option<&dyn Comments>,
) -> Result<swc_core::ecma::ast::Script, JsError> {
    let file = cm.new_source_file(
        Lrc::new(FileName::Custom(name.to_string())),
        source.to_string(),
    );
    let mut parser = Parser::new(
        Syntax::Es(EsSyntax::default()),
        StringInput::from(&*file),
        comments,
    );
    let located = |span: swc_core::common::Span, message: String| {
        let place = cm.lookup_char_pos(span.lo);
        JsError::Syntax {
            line: place.line,
            column: place.col_display + 1,
            message,
        }
    };
    let script = parser
        .parse_script()
        .map_err(|error| located(error.span(), error.kind().msg().into_owned()))?;
    if let Some(error) = parser.take_errors().into_iter().next() {
        return Err(located(error.span(), error.kind().msg().into_owned()));
    }
    Ok(script)
}

/// Licence comments are the ones minifiers agree to keep: `/*! … */`, `@license`, `@preserve`.
fn is_licence(text: &str) -> bool {
    text.starts_with('!') || text.contains("@license") || text.contains("@preserve")
}

fn keep_only_licence_comments(comments: &SingleThreadedComments) {
    let (mut leading, mut trailing) = comments.borrow_all_mut();
    for map in [&mut *leading, &mut *trailing] {
        map.retain(|_, list| {
            list.retain(|comment| is_licence(&comment.text));
            !list.is_empty()
        });
    }
}

fn compress_options(cm: &Lrc<SourceMap>) -> swc_core::ecma::minifier::option::CompressOptions {
    // Terser's documented defaults (the same as `{}` in a terser config): nothing unsafe, no
    // top-level changes, ES5 output.
    let terser: TerserCompressorOptions = serde_json::from_str("{}")
        .unwrap_or_else(|_| unreachable!("an empty object is a valid terser config"));
    terser.into_config(cm.clone())
}

fn mangle_options() -> MangleOptions {
    serde_json::from_str("{}")
        .unwrap_or_else(|_| unreachable!("an empty object is a valid mangle config"))
}

fn emit(
    cm: &Lrc<SourceMap>,
    comments: &SingleThreadedComments,
    program: &Program,
) -> Result<String, JsError> {
    let mut buffer = Vec::new();
    {
        let writer = JsWriter::new(cm.clone(), "\n", &mut buffer, None);
        let mut emitter = Emitter {
            cfg: CodegenConfig::default()
                .with_minify(true)
                .with_ascii_only(true)
                .with_inline_script(true)
                .with_target(EsVersion::latest()),
            cm: cm.clone(),
            comments: Some(comments),
            wr: omit_trailing_semi(writer),
        };
        emitter
            .emit_program(program)
            .map_err(|error| JsError::Print {
                message: format!("cannot print the minified script: {error}"),
            })?;
    }
    String::from_utf8(buffer).map_err(|_| JsError::Print {
        message: "the minifier printed invalid UTF-8".into(),
    })
}

/// How deep brackets may nest in a script stapler parses: parsing and minifying recurse once
/// per level. Browsers run deeper scripts, so those are bundled as they are.
pub const MAX_NESTING: usize = 10_000;

/// The deepest nesting of `(`, `[` and `{` in a script, outside strings and comments. Regular
/// expressions are not told apart, so a bracket inside one may count; that only errs upward,
/// by a few, far from the limit.
pub fn nesting(source: &str) -> usize {
    let bytes = source.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |at| i + at);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |at| i + 2 + at + 2);
            }
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    deepest
}

/// Whether a file looks minified already: long lines, little whitespace.
pub fn looks_minified(source: &str) -> bool {
    let lines = source.lines().count().max(1);
    source.len() / lines > 500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locals_are_mangled_but_globals_kept() {
        let out = minify("a.js", "function hello(longName) { var other = longName + 1; return other; }\nvar counter = 1;", JsMinify::Full).expect("minifies").code;
        assert!(out.contains("function hello("), "{out}");
        assert!(out.contains("counter"), "{out}");
        assert!(!out.contains("longName"), "{out}");
    }

    #[test]
    fn licence_comments_survive_others_do_not() {
        let out = minify(
            "a.js",
            "/*! keep me */\n// drop me\n/* drop too */\nwindow.x = 1;\n",
            JsMinify::Full,
        )
        .expect("minifies")
        .code;
        assert!(out.contains("/*! keep me */"), "{out}");
        assert!(!out.contains("drop"), "{out}");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let error = minify("a.js", "var a = 1;\nvar = ;\n", JsMinify::Full).expect_err("broken");
        let JsError::Syntax { line, column, .. } = error else {
            panic!("a syntax error, not {error:?}");
        };
        assert_eq!((line, column), (2, 5));
    }

    #[test]
    fn closing_script_tags_are_escaped() {
        let out = minify("a.js", "document.write('</script>');", JsMinify::Full)
            .expect("minifies")
            .code;
        assert!(!out.contains("</script>"), "{out}");
    }

    #[test]
    fn whitespace_level_keeps_names() {
        let out = minify(
            "a.js",
            "function f(longName) {\n  return longName;\n}\n",
            JsMinify::Whitespace,
        )
        .expect("minifies")
        .code;
        assert!(out.contains("longName"), "{out}");
    }

    #[test]
    fn nesting_is_measured_outside_strings_and_comments() {
        assert_eq!(nesting("f((a[0]), {b: [1]})"), 3);
        assert_eq!(
            nesting("var s = '((((' + \"[[\" + `{{`; // ((((\n/* [[[ */ g()"),
            1
        );
        assert_eq!(
            nesting(&format!("x = {}1{};", "(".repeat(50), ")".repeat(50))),
            50
        );
    }

    #[test]
    fn strictness_is_read_from_the_directive_prologue() {
        let strict = |source: &str| check("a.js", source).expect("parses");
        assert!(strict("\"use strict\";\nvar a = 1;"));
        assert!(strict(
            "/*! licence */\n'a directive';\n'use strict';\nf();"
        ));
        assert!(!strict("var a = 1;\n\"use strict\";"));
        assert!(!strict("\"use\\u0020strict\";"));
        assert!(!strict("(\"use strict\");"));
        let minified =
            minify("a.js", "'use strict';\nwindow.a = 1;", JsMinify::Full).expect("minifies");
        assert!(minified.strict);
        assert!(
            minified.code.starts_with("\"use strict\""),
            "{}",
            minified.code
        );
    }
}
