//! JavaScript: parse each source as a classic script or a module, in JavaScript or TypeScript
//! (whose types swc strips), minify it with swc (mangle, and compress when asked, never touching
//! a classic script's top-level names, which other scripts on the page share), keep `/*! … */` licence
//! comments, and print it back out safe to sit inside an inline `<script>`.

use serde::{Deserialize, Serialize};
use swc_core::common::comments::{Comments, SingleThreadedComments};
use swc_core::common::{sync::Lrc, FileName, Globals, Mark, SourceMap, Spanned, GLOBALS};
use swc_core::ecma::ast::{
    CallExpr, Callee, EsVersion, ExportAll, Expr, ImportDecl, Lit, NamedExport, Program, Str,
};
use swc_core::ecma::codegen::text_writer::{omit_trailing_semi, JsWriter};
use swc_core::ecma::codegen::{Config as CodegenConfig, Emitter};
use swc_core::ecma::minifier::optimize;
use swc_core::ecma::minifier::option::terser::TerserCompressorOptions;
use swc_core::ecma::minifier::option::{ExtraOptions, MangleOptions, MinifyOptions};
use swc_core::ecma::parser::{EsSyntax, Parser, StringInput, Syntax, TsSyntax};
use swc_core::ecma::transforms::base::{fixer::fixer, resolver};
use swc_core::ecma::transforms::typescript::strip;
use swc_core::ecma::visit::{Visit, VisitMut, VisitMutWith, VisitWith};

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

/// What a script is written in and how the browser loads it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Dialect {
    /// TypeScript, whose types are stripped.
    pub typescript: bool,
    /// A module (`<script type="module">`): strict, with imports, its top level its own.
    pub module: bool,
}

impl Dialect {
    pub const SCRIPT: Dialect = Dialect {
        typescript: false,
        module: false,
    };
}

/// A minified script.
#[derive(Debug, Clone, PartialEq)]
pub struct Minified {
    pub code: String,
    /// Whether the script is strict: a module, or a script that starts with a `"use strict"`
    /// directive.
    pub strict: bool,
    /// Relative import specifiers left as written, for want of a URL to resolve them against.
    pub unresolved_imports: Vec<String>,
    /// From positions in `code` to positions in the source, when asked for.
    pub map: Option<swc_sourcemap::SourceMap>,
}

/// Parses `source` as a classic script; returns whether it is strict, or its first syntax error.
pub fn check(name: &str, source: &str) -> Result<bool, JsError> {
    let cm: Lrc<SourceMap> = Lrc::default();
    parse(&cm, name, source, Dialect::SCRIPT, None).map(|program| is_strict(&program))
}

/// Whether a program is strict: a module, or a script whose directive prologue holds
/// `"use strict"` (spelled exactly, as the language requires).
fn is_strict(program: &Program) -> bool {
    use swc_core::ecma::ast::Stmt;
    let Program::Script(script) = program else {
        return true;
    };
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

/// Minifies one script of `dialect`. A module's relative imports (`./util.js`) are resolved
/// against `base`, the URL of the folder the module is served from, since the bundle is served
/// from another; without one they are kept and listed.
pub fn minify(
    name: &str,
    source: &str,
    level: JsMinify,
    dialect: Dialect,
    base: Option<&str>,
    map: bool,
) -> Result<Minified, JsError> {
    let cm: Lrc<SourceMap> = Lrc::default();
    let comments = SingleThreadedComments::default();
    let mut program = parse(&cm, name, source, dialect, Some(&comments))?;
    let strict = is_strict(&program);
    let mut imports = Imports {
        base,
        unresolved: Vec::new(),
    };
    if dialect.module {
        program.visit_mut_with(&mut imports);
    }
    keep_only_licence_comments(&comments);
    // Each identifier as written, by where it starts: the map names what the minifier renamed.
    let mut names = MapNames::default();
    if map {
        program.visit_with(&mut names);
    }
    GLOBALS.set(&Globals::new(), || {
        let unresolved_mark = Mark::new();
        let top_level_mark = Mark::new();
        let mut program = program.apply(resolver(
            unresolved_mark,
            top_level_mark,
            dialect.typescript,
        ));
        if dialect.typescript {
            program = program.apply(strip(unresolved_mark, top_level_mark));
        }
        let options = MinifyOptions {
            compress: (level == JsMinify::Full).then(|| compress_options(&cm, dialect.module)),
            mangle: (level != JsMinify::Whitespace).then(|| mangle_options(dialect.module)),
            ..MinifyOptions::default()
        };
        let extra = ExtraOptions {
            unresolved_mark,
            top_level_mark,
            mangle_name_cache: None,
        };
        let program = optimize(program, cm.clone(), Some(&comments), None, &options, &extra);
        let program = program.apply(fixer(Some(&comments)));
        let mut mappings = map.then(Vec::new);
        emit(&cm, &comments, &program, mappings.as_mut()).map(|code| Minified {
            code,
            strict,
            unresolved_imports: imports.unresolved,
            map: mappings.map(|mappings| cm.build_source_map(&mappings, None, names)),
        })
    })
}

fn parse(
    cm: &Lrc<SourceMap>,
    name: &str,
    source: &str,
    dialect: Dialect,
    comments: Option<&dyn Comments>,
) -> Result<Program, JsError> {
    let file = cm.new_source_file(
        Lrc::new(FileName::Custom(name.to_string())),
        source.to_string(),
    );
    let syntax = if dialect.typescript {
        Syntax::Typescript(TsSyntax::default())
    } else {
        Syntax::Es(EsSyntax::default())
    };
    let mut parser = Parser::new(syntax, StringInput::from(&*file), comments);
    let located = |span: swc_core::common::Span, message: String| {
        let place = cm.lookup_char_pos(span.lo);
        JsError::Syntax {
            line: place.line,
            column: place.col_display + 1,
            message,
        }
    };
    let program = if dialect.module {
        parser.parse_module().map(Program::Module)
    } else {
        parser.parse_script().map(Program::Script)
    }
    .map_err(|error| located(error.span(), error.kind().msg().into_owned()))?;
    if let Some(error) = parser.take_errors().into_iter().next() {
        return Err(located(error.span(), error.kind().msg().into_owned()));
    }
    if let Some((span, message)) = super::redeclared::first_redeclaration(&program) {
        return Err(located(span, message));
    }
    Ok(program)
}

/// Rewrites a module's relative import specifiers to absolute URLs.
struct Imports<'a> {
    base: Option<&'a str>,
    unresolved: Vec<String>,
}

impl Imports<'_> {
    fn fix(&mut self, specifier: &mut Str) {
        let Some(written) = specifier.value.as_atom().map(|atom| atom.to_string()) else {
            return;
        };
        if !(written.starts_with("./") || written.starts_with("../")) {
            return;
        }
        match self.base.and_then(|base| resolve_relative(base, &written)) {
            Some(absolute) => {
                specifier.value = absolute.into();
                specifier.raw = None;
            }
            None => self.unresolved.push(written),
        }
    }
}

impl VisitMut for Imports<'_> {
    fn visit_mut_import_decl(&mut self, node: &mut ImportDecl) {
        self.fix(&mut node.src);
    }

    fn visit_mut_export_all(&mut self, node: &mut ExportAll) {
        self.fix(&mut node.src);
    }

    fn visit_mut_named_export(&mut self, node: &mut NamedExport) {
        if let Some(src) = &mut node.src {
            self.fix(src);
        }
    }

    fn visit_mut_call_expr(&mut self, node: &mut CallExpr) {
        if matches!(node.callee, Callee::Import(_)) {
            if let Some(Expr::Lit(Lit::Str(specifier))) =
                node.args.first_mut().map(|a| &mut *a.expr)
            {
                self.fix(specifier);
            }
        }
        node.visit_mut_children_with(self);
    }
}

/// `/static/js/` + `../lib/a.js` → `/static/lib/a.js`; `None` when it climbs above the host.
fn resolve_relative(base: &str, relative: &str) -> Option<String> {
    let (origin, path) = match base.find("://") {
        Some(at) => {
            let host_end = base[at + 3..].find('/').map_or(base.len(), |i| at + 3 + i);
            (&base[..host_end], &base[host_end..])
        }
        None => ("", base),
    };
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for segment in relative.split('/') {
        match segment {
            "." => {}
            ".." => {
                if parts.len() <= 1 {
                    return None;
                }
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Some(format!("{origin}{}", parts.join("/")))
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

fn compress_options(
    cm: &Lrc<SourceMap>,
    module: bool,
) -> swc_core::ecma::minifier::option::CompressOptions {
    // Terser's documented defaults (the same as `{}` in a terser config): nothing unsafe, no
    // top-level changes (but in a module, whose top level is its own), ES5 output.
    let config = if module { r#"{"module": true}"# } else { "{}" };
    let terser: TerserCompressorOptions = serde_json::from_str(config)
        .unwrap_or_else(|_| unreachable!("{config} is a valid terser config"));
    terser.into_config(cm.clone())
}

fn mangle_options(module: bool) -> MangleOptions {
    let config = if module {
        r#"{"topLevel": true}"#
    } else {
        "{}"
    };
    serde_json::from_str(config)
        .unwrap_or_else(|_| unreachable!("{config} is a valid mangle config"))
}

/// How the maps swc builds name their source (as it was given: the caller renames it, with no
/// text of its own) and the identifiers at each mapped place, so a stack trace through a
/// renamed local shows the name it was written with.
#[derive(Default)]
struct MapNames {
    names: std::collections::HashMap<swc_core::common::BytePos, swc_core::ecma::atoms::Atom>,
}

impl Visit for MapNames {
    fn visit_ident(&mut self, ident: &swc_core::ecma::ast::Ident) {
        self.names.insert(ident.span.lo, ident.sym.clone());
    }
}

impl swc_core::common::source_map::SourceMapGenConfig for MapNames {
    fn file_name_to_source(&self, file: &FileName) -> String {
        file.to_string()
    }

    fn name_for_bytepos(&self, position: swc_core::common::BytePos) -> Option<&str> {
        self.names.get(&position).map(|name| name.as_str())
    }

    fn inline_sources_content(&self, _: &FileName) -> bool {
        false
    }
}

fn emit(
    cm: &Lrc<SourceMap>,
    comments: &SingleThreadedComments,
    program: &Program,
    mappings: Option<
        &mut Vec<(
            swc_core::common::BytePos,
            swc_core::common::source_map::LineCol,
        )>,
    >,
) -> Result<String, JsError> {
    let mut buffer = Vec::new();
    {
        let writer = JsWriter::new(cm.clone(), "\n", &mut buffer, mappings);
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

    /// Minifies `source` as a classic script at `level` and compares the whole output.
    #[track_caller]
    fn assert_minifies(level: JsMinify, source: &str, expected: &str) {
        let out = minify("a.js", source, level, Dialect::SCRIPT, None, false)
            .expect("minifies")
            .code;
        assert_eq!(out, expected, "minifying {source:?}");
    }

    #[test]
    fn locals_are_mangled_but_globals_kept() {
        assert_minifies(
            JsMinify::Full,
            "function hello(longName) { var other = longName + 1; return other; }\nvar counter = 1;",
            "function hello(n){return n+1}var counter=1;",
        );
    }

    #[test]
    fn licence_comments_survive_others_do_not() {
        assert_minifies(
            JsMinify::Full,
            "/*! keep me */\n// drop me\n/* drop too */\nwindow.x = 1;\n",
            "/*! keep me */window.x=1;",
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let error = minify(
            "a.js",
            "var a = 1;\nvar = ;\n",
            JsMinify::Full,
            Dialect::SCRIPT,
            None,
            false,
        )
        .expect_err("broken");
        let JsError::Syntax { line, column, .. } = error else {
            panic!("a syntax error, not {error:?}");
        };
        assert_eq!((line, column), (2, 5));
    }

    #[test]
    fn closing_script_tags_are_escaped() {
        assert_minifies(
            JsMinify::Full,
            "document.write('</script>');",
            r#"document.write("<\/script>");"#,
        );
    }

    #[test]
    fn whitespace_level_keeps_names() {
        assert_minifies(
            JsMinify::Whitespace,
            "function f(longName) {\n  return longName;\n}\n",
            "function f(longName){return longName}",
        );
    }

    #[test]
    fn typescript_loses_its_types() {
        let ts = Dialect {
            typescript: true,
            module: false,
        };
        let source = "interface Point { x: number }\nenum Colour { Red = 1 }\nfunction norm(p: Point): number { return p.x as number; }\nwindow.out = norm({ x: Colour.Red });\n";
        let out = minify("a.ts", source, JsMinify::Full, ts, None, false)
            .expect("compiles")
            .code;
        assert!(
            !out.contains("interface") && !out.contains(": number"),
            "{out}"
        );
        assert!(check("a.js", &out).is_ok(), "plain JavaScript: {out}");
    }

    #[test]
    fn modules_keep_imports_and_resolve_relative_ones() {
        let module = Dialect {
            typescript: false,
            module: true,
        };
        let source = "import { a } from './util.js';\nimport * as b from '../lib/b.js';\nimport c from 'https://cdn/c.js';\nexport const total = a + b.x + c;\nimport('./lazy.js');\n";
        let out = minify(
            "m.js",
            source,
            JsMinify::Full,
            module,
            Some("/static/js/app/"),
            false,
        )
        .expect("compiles");
        assert!(
            out.code.contains("\"/static/js/app/util.js\""),
            "{}",
            out.code
        );
        assert!(out.code.contains("\"/static/js/lib/b.js\""), "{}", out.code);
        assert!(
            out.code.contains("\"/static/js/app/lazy.js\""),
            "{}",
            out.code
        );
        assert!(out.code.contains("https://cdn/c.js"), "{}", out.code);
        assert!(out.code.contains("export"), "{}", out.code);
        assert!(out.strict && out.unresolved_imports.is_empty());
        let inline = minify("m.js", source, JsMinify::Full, module, None, false).expect("compiles");
        assert_eq!(
            inline.unresolved_imports,
            ["./util.js", "../lib/b.js", "./lazy.js"]
        );
        assert_eq!(resolve_relative("/s/", "../../x.js"), None);
        assert_eq!(
            resolve_relative("https://cdn.example/s/js/", "../x.js").as_deref(),
            Some("https://cdn.example/s/x.js")
        );
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
        let minified = minify(
            "a.js",
            "'use strict';\nwindow.a = 1;",
            JsMinify::Full,
            Dialect::SCRIPT,
            None,
            false,
        )
        .expect("minifies");
        assert!(minified.strict);
        assert!(
            minified.code.starts_with("\"use strict\""),
            "{}",
            minified.code
        );
    }
}
