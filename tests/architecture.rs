//! The rooms of `src/` and the doors between them: data flows config → templates → compress →
//! manifest → publish, a stage never imports a later one, only `store` talks to the network,
//! and only the binary (`main.rs`, `cli.rs`) knows the command line. This test reads every
//! source file and fails, naming file and line, on any import that breaks those rules.

use std::collections::BTreeMap;
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

/// The modules `line` reaches through `crate::<module>` paths.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        let tail = &rest[at + "crate::".len()..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `stapler_crate::x` or `$crate::` are not paths into this crate.
        let standalone =
            before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'));
        if standalone && !name.is_empty() {
            found.push(name);
        }
        rest = tail;
    }
    found
}

/// What a module may not import.
fn forbidden(module: &str) -> &'static [&'static str] {
    match module {
        "django" => &[
            "config",
            "templates",
            "compress",
            "manifest",
            "publish",
            "store",
        ],
        "config" => &["templates", "compress", "manifest", "publish", "store"],
        "block" | "error" | "progress" | "output" => {
            &["templates", "compress", "manifest", "publish"]
        }
        "templates" => &["compress", "manifest", "publish", "store"],
        "compress" => &["manifest", "publish"],
        "manifest" => &["publish"],
        "store" => &["templates", "compress", "manifest", "publish"],
        _ => &[],
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
    for (relative, text) in files {
        let module = module_of(relative);
        let is_binary = matches!(module.as_str(), "main" | "cli");
        for (index, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let place = format!("src/{}:{}", relative.display(), index + 1);
            if !is_binary && (code.contains("clap::") || code.contains("use clap")) {
                problems.push(format!("{place}: only main.rs and cli.rs may know clap"));
            }
            for target in crate_paths(code) {
                if target == module {
                    continue;
                }
                *edges.entry((module.clone(), target.clone())).or_insert(0) += 1;
                if forbidden(&module).contains(&target.as_str()) {
                    problems.push(format!(
                        "{place}: `{module}` imports `{target}`, a stage it must not reach"
                    ));
                }
                if target == "main" || target == "cli" {
                    problems.push(format!("{place}: the library imports the command line"));
                }
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
    ]);
    assert_eq!(
        problems,
        vec![
            "src/compress/cache.rs:1: `compress` imports `publish`, a stage it must not reach",
            "src/config/mod.rs:1: `config` imports `compress`, a stage it must not reach",
            "src/templates/mod.rs:1: only main.rs and cli.rs may know clap",
            "src/manifest.rs:1: the library imports the command line",
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
    ]);
    assert!(problems.is_empty(), "{problems:?}");
}
