//! The rooms of `src/` and the doors between them: data flows config → templates → compress →
//! manifest → publish, a stage never imports a later one, only `store` talks to the network,
//! and only the binary (`main.rs`, `cli.rs`) knows the command line. The words of messages
//! (`diagnostic`) sit below every room; a store is told where to write and never reads the
//! settings; no room reaches back into the crate's root (`lib.rs`), which composes them. This
//! test reads every source file and fails, naming file and line, on any import that breaks
//! those rules, whether written as `crate::module`, inside a group (`use crate::{a, b::{c, d}}`,
//! over many lines) or as a `super::` chain that climbs out of the file's module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level module a file belongs to: `src/compress/cache.rs` → `compress`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The module path of a file: `compress/cache.rs` → `["compress", "cache"]`, `compress/mod.rs`
/// → `["compress"]`, `lib.rs` → `[]`.
fn path_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// The text of a group that opens at `text[0]` (`{`), without its braces.
fn group(text: &str) -> &str {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[1..at];
                }
            }
            _ => {}
        }
    }
    &text[1.min(text.len())..]
}

/// The first segment of each path a group lists at its top level, with its offset in the group:
/// `a::b, c, d::{e, f}` → `a`, `c`, `d`.
fn group_heads(group: &str) -> Vec<(usize, String)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (at, c) in group
        .char_indices()
        .chain(std::iter::once((group.len(), ',')))
    {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let item = &group[start..at];
                let skipped = item.len() - item.trim_start().len();
                let head: String = item
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() && head != "self" {
                    heads.push((start + skipped, head));
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The byte ranges of the inline modules in `code` (`mod tests { … }`), which a `super::` climbs
/// out of before it leaves the file.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("mod ") {
        let start = at + offset;
        at = start + 4;
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = code[at..].trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = code.len() - after.len();
        let inner = group(&code[open..]);
        spans.push((open, open + inner.len() + 2));
    }
    spans
}

/// The top-level modules a file reaches, each with the line it is named on: through
/// `crate::module`, `crate::{a, b::c}` (on one line or many), and `super::` chains that climb
/// out of the file's own module (after the inline modules they start in). A name that is no
/// module is an item of the crate's root (`lib.rs`), and counts as `lib`. Comments are left out.
fn reached(relative: &Path, text: &str, modules: &BTreeSet<String>) -> Vec<(usize, String)> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let line_at = |at: usize| code[..at].matches('\n').count() + 1;
    let own = path_of(relative);
    let inline = inline_modules(&code);
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find(['c', 's']) {
        let start = at + offset;
        at = start + 1;
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == ':') {
            continue;
        }
        let rest = &code[start..];
        // Where the path lands above the file, and the text after that root.
        let (root, tail): (Vec<String>, &str) = if let Some(tail) = rest.strip_prefix("crate::") {
            (Vec::new(), tail)
        } else if rest.starts_with("super::") {
            let mut tail = rest;
            let mut climbed: usize = 0;
            while let Some(next) = tail.strip_prefix("super::") {
                tail = next;
                climbed += 1;
            }
            let depth = inline
                .iter()
                .filter(|(open, close)| (*open..*close).contains(&start))
                .count();
            let beyond = climbed.saturating_sub(depth);
            if beyond == 0 {
                continue;
            }
            let kept = own.len().saturating_sub(beyond);
            (own[..kept].to_vec(), tail)
        } else {
            continue;
        };
        let tail_at = code.len() - tail.len();
        let heads = if tail.starts_with('{') {
            group_heads(group(tail))
                .into_iter()
                .map(|(offset, head)| (tail_at + 1 + offset, head))
                .collect()
        } else {
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            vec![(tail_at, name)]
        };
        for (head_at, head) in heads.into_iter().filter(|(_, head)| !head.is_empty()) {
            // Only a path from the crate's root names a top-level module.
            let module = root.first().cloned().unwrap_or(head);
            let module = if modules.contains(&module) {
                module
            } else {
                "lib".to_string()
            };
            found.push((line_at(head_at), module));
        }
    }
    found
}

/// The crate's top-level modules, also when a check is given only some of their files.
const KNOWN: &[&str] = &[
    "anatomy",
    "block",
    "check",
    "cli",
    "compress",
    "config",
    "diagnostic",
    "django",
    "error",
    "fingerprint",
    "interrupt",
    "last_build",
    "main",
    "manifest",
    "output",
    "progress",
    "publish",
    "run",
    "store",
    "summary",
    "templates",
];

/// What a module may not import.
fn forbidden(module: &str) -> &'static [&'static str] {
    match module {
        "django" => &[
            "lib",
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
            "store",
        ],
        // The words of every message: below everything.
        "diagnostic" => &[
            "lib",
            "block",
            "error",
            "progress",
            "output",
            "django",
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
            "store",
        ],
        "block" => &[
            "lib",
            "error",
            "django",
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
            "store",
        ],
        // The settings are data: what runs (the bridge's process, the workers) is the run's.
        "config" => &["lib", "run", "templates", "compress", "manifest", "publish"],
        // What runs sits below the stages that use it.
        "run" => &[
            "lib",
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
            "summary",
        ],
        // Every failure kind, below the rooms that fail: it knows only the words of messages.
        "error" => &[
            "lib",
            "block",
            "progress",
            "django",
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
            "store",
        ],
        "progress" | "output" => &["lib", "templates", "compress", "manifest", "publish"],
        "templates" => &["lib", "compress", "manifest", "publish", "store"],
        "compress" => &["lib", "manifest", "publish"],
        "manifest" => &["lib", "publish"],
        // What a store is told comes from below it: it never reads the settings.
        "store" => &[
            "lib",
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
        ],
        // The binary composes everything; `lib.rs` is the root every other room is below.
        "main" | "cli" | "lib" => &[],
        _ => &["lib"],
    }
}

fn source_files() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(PathBuf, String)> = walk(&src)
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read source");
            (
                path.strip_prefix(&src).expect("under src").to_path_buf(),
                text,
            )
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    out
}

/// Every rule broken in `files`, as `file:line: message`, and the edges seen between modules.
fn check(files: &[(PathBuf, String)]) -> (Vec<String>, BTreeMap<(String, String), usize>) {
    let mut problems = Vec::new();
    let mut edges = BTreeMap::new();
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(relative, _)| module_of(relative))
        .chain(KNOWN.iter().map(|name| name.to_string()))
        .collect();
    for (relative, text) in files {
        let module = module_of(relative);
        let is_binary = matches!(module.as_str(), "main" | "cli");
        for (index, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !is_binary && (code.contains("clap::") || code.contains("use clap")) {
                let place = format!("src/{}:{}", relative.display(), index + 1);
                problems.push(format!("{place}: only main.rs and cli.rs may know clap"));
            }
        }
        for (line, target) in reached(relative, text, &modules) {
            if target == module {
                continue;
            }
            let place = format!("src/{}:{line}", relative.display());
            *edges.entry((module.clone(), target.clone())).or_insert(0) += 1;
            if forbidden(&module).contains(&target.as_str()) {
                problems.push(if target == "lib" {
                    format!("{place}: `{module}` imports from the crate's root (lib.rs), which composes the rooms and sits above them")
                } else {
                    format!("{place}: `{module}` imports `{target}`, a stage it must not reach")
                });
            }
            if target == "main" || target == "cli" {
                problems.push(format!("{place}: the library imports the command line"));
            }
        }
    }
    (problems, edges)
}

#[test]
fn stages_import_only_what_comes_before_them() {
    let files = source_files();
    let (problems, edges) = check(&files);
    println!("checked {} files under src/", files.len());
    for ((from, to), count) in &edges {
        println!("  {from} -> {to}: {count}");
    }
    assert!(
        files.len() > 20 && !edges.is_empty(),
        "the walk found too little to check"
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_what_it_must() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
    let (problems, _) = check(&[
        file("compress/cache.rs", "use crate::publish::s3::S3Target;\n"),
        file("config/mod.rs", "pub js: crate::compress::js::JsMinify,\n"),
        file("templates/mod.rs", "use clap::Parser;\n"),
        file("manifest.rs", "fn f() { crate::cli::x() }\n"),
        file(
            "templates/scan.rs",
            "use crate::{\n    block::Block,\n    compress::{Build, Output},\n};\n",
        ),
        file(
            "compress/css/urls.rs",
            "use super::super::super::publish::Plan;\n",
        ),
        file(
            "config/mod.rs",
            "use crate::{error::Error, templates::{self, Scan}};\n",
        ),
        file("fingerprint.rs", "use crate::Summary;\n"),
        file("block.rs", "use crate::error::Location;\n"),
        file("error/mod.rs", "pub use crate::config::ConfigError;\n"),
        file("store/mod.rs", "use crate::{output, config::Target};\n"),
        file(
            "templates/scan.rs",
            "#[cfg(test)]\nmod tests {\n    use super::super::super::compress::Build;\n}\n",
        ),
    ]);
    assert_eq!(
        problems,
        vec![
            "src/compress/cache.rs:1: `compress` imports `publish`, a stage it must not reach",
            "src/config/mod.rs:1: `config` imports `compress`, a stage it must not reach",
            "src/templates/mod.rs:1: only main.rs and cli.rs may know clap",
            "src/manifest.rs:1: the library imports the command line",
            "src/templates/scan.rs:3: `templates` imports `compress`, a stage it must not reach",
            "src/compress/css/urls.rs:1: `compress` imports `publish`, a stage it must not reach",
            "src/config/mod.rs:1: `config` imports `templates`, a stage it must not reach",
            "src/fingerprint.rs:1: `fingerprint` imports from the crate's root (lib.rs), which composes the rooms and sits above them",
            "src/block.rs:1: `block` imports `error`, a stage it must not reach",
            "src/error/mod.rs:1: `error` imports `config`, a stage it must not reach",
            "src/store/mod.rs:1: `store` imports `config`, a stage it must not reach",
            "src/templates/scan.rs:3: `templates` imports `compress`, a stage it must not reach",
        ]
    );
    let (problems, _) = check(&[
        file(
            "publish/mod.rs",
            "use crate::manifest::Manifest; use crate::store::Store;\n",
        ),
        file(
            "compress/mod.rs",
            "// crate::publish is mentioned in a comment only\nuse crate::block::Block;\n",
        ),
        file("main.rs", "use clap::Parser;\n"),
        file(
            "compress/cache.rs",
            "use super::{plan::Plan, Kind};\nuse super::super::block::Block;\n",
        ),
        file(
            "config/env.rs",
            "use super::settings::Settings; // super::super::publish\n",
        ),
        // Two supers from a file's inline tests module land in the file's parent, not above it.
        file(
            "config/resolve.rs",
            "mod tests {\n    use super::super::{S3Settings, Target};\n}\n",
        ),
        file("diagnostic.rs", "use std::fmt;\n"),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
}
