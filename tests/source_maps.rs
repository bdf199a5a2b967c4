//! `source_maps`: every bundle's map, decoded, leads from known identifiers and selectors in
//! the minified bundle back to the file, line and column they were written at; node, running a
//! bundle that throws, reports the original line.

mod common;

use std::path::{Path, PathBuf};

use common::{append_config, example_site, node, small_site, stapler, text};
use swc_sourcemap::SourceMap;

fn bundles(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(root.join("CACHE"))
        .into_iter()
        .filter_map(Result::ok)
        .map(|entry| entry.path().to_path_buf())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("js" | "css")
            )
        })
        .collect();
    found.sort();
    found
}

/// The 0-based line and UTF-16 column of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> Option<(u32, u32)> {
    let at = text.find(needle)?;
    let line = text[..at].matches('\n').count() as u32;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    Some((line, text[line_start..at].encode_utf16().count() as u32))
}

/// Where the map of the bundle that contains `needle` sends it: source, line and column.
fn original_of(root: &Path, needle: &str) -> (String, u32, u32) {
    for bundle in bundles(root) {
        let code = std::fs::read_to_string(&bundle).expect("bundle");
        let Some((line, column)) = position(&code, needle) else {
            continue;
        };
        let map_path = PathBuf::from(format!("{}.map", bundle.display()));
        let map = SourceMap::from_slice(&std::fs::read(&map_path).expect("a map beside it"))
            .expect("a valid map");
        let token = map.lookup_token(line, column).expect("a mapping");
        return (
            token
                .get_source()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            token.get_src_line(),
            token.get_src_col(),
        );
    }
    panic!("no bundle contains {needle}");
}

#[test]
fn the_example_sites_maps_lead_back_to_the_files_lines_and_columns() {
    let site = example_site();
    append_config(site.path(), "source_maps = \"linked\"\n");
    let out = stapler(site.path(), &["compress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = site.path().join("build/static");
    let static_dir = site.path().join("static");

    for bundle in bundles(&root) {
        let code = std::fs::read_to_string(&bundle).expect("bundle");
        let file = bundle
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let last = code.lines().last().expect("a line");
        assert!(
            last == format!("//# sourceMappingURL={file}.map")
                || last == format!("/*# sourceMappingURL={file}.map */"),
            "{file} ends with {last}"
        );
        let map = SourceMap::from_slice(
            &std::fs::read(format!("{}.map", bundle.display())).expect("map"),
        )
        .expect("a valid map");
        assert!(map.get_token_count() > 0, "{file}");
        // Every source named is served from the static URL (or is an inline element) and its
        // text travels with the map.
        for (index, source) in map.sources().enumerate() {
            assert!(
                source.starts_with("/static/") || source.starts_with("inline <"),
                "{source}"
            );
            assert!(map.get_source_contents(index as u32).is_some(), "{source}");
        }
    }

    // Identifiers the minifier keeps, and selectors, each where it was written.
    // (in the bundle, the file, as written there)
    let cases = [
        ("formatCount:", "js/util.js", "formatCount:"),
        ("\"1 item\"", "js/util.js", "\"1 item\""),
        ("setTimeout(", "js/util.js", "setTimeout("),
        (".sidebar{", "css/layout.css", ".sidebar {"),
        (".container{", "css/layout.css", ".container {"),
    ];
    for (needle, file, written_as) in cases {
        let (source, line, column) = original_of(&root, needle);
        assert_eq!(source, format!("/static/{file}"), "{needle}");
        let written = std::fs::read_to_string(static_dir.join(file)).expect("source");
        let (want_line, want_column) = position(&written, written_as).expect("in the source");
        assert_eq!(
            (line, column),
            (want_line, want_column),
            "{needle} in {file}"
        );
    }

    // Maps off (the default) is today's output: no map, no comment.
    let plain = example_site();
    let out = stapler(plain.path(), &["compress", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for bundle in bundles(&plain.path().join("build/static")) {
        let code = std::fs::read_to_string(&bundle).expect("bundle");
        assert!(!code.contains("sourceMappingURL"), "{}", bundle.display());
        assert!(!PathBuf::from(format!("{}.map", bundle.display())).exists());
    }
}

#[test]
fn node_reports_the_original_line_of_an_error_thrown_in_a_minified_bundle() {
    let template = "{% load compress %}{% compress js %}\n<script src=\"/static/js/first.js\"></script>\n<script src=\"/static/js/shapes.ts\"></script>\n<script src=\"/static/js/second.js\"></script>\n{% endcompress %}";
    let first = "// The first file, so the second starts lower in the bundle.\nvar greeting = \"hello\";\n\nfunction greet(name) {\n  return greeting + \", \" + name;\n}\n";
    let shapes = "interface Sized { size: number }\nfunction area(shape: Sized): number {\n  return shape.size * shape.size;\n}\n";
    let second = "function explode(reason) {\n  var message = \"exploded: \" + reason;\n  if (reason.length > 2) {\n    throw new Error(message);\n  }\n  return message;\n}\nexplode(greet(\"world\"));\n";
    let site = small_site(
        &[("page.html", template)],
        &[
            ("js/first.js", first.as_bytes()),
            ("js/shapes.ts", shapes.as_bytes()),
            ("js/second.js", second.as_bytes()),
        ],
    );
    append_config(
        site.path(),
        "source_maps = \"linked\"\nsource_maps_content = false\n",
    );
    let out = stapler(site.path(), &["compress", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = site.path().join("build");
    let bundle = bundles(&root).into_iter().next().expect("one bundle");
    let code = std::fs::read_to_string(&bundle).expect("bundle");
    assert!(code.lines().count() >= 3, "{code}");

    // Without the map node can only point into the minified line.
    let unmapped = site.path().join("unmapped.js");
    let without_comment: Vec<&str> = code
        .lines()
        .filter(|line| !line.starts_with("//# sourceMappingURL="))
        .collect();
    std::fs::write(&unmapped, without_comment.join("\n")).expect("write");
    let out = node().arg(&unmapped).output().expect("node");
    assert!(!out.status.success());
    assert!(
        !text(&out.stderr).contains("second.js"),
        "{}",
        text(&out.stderr)
    );
    let out = node()
        .arg("--enable-source-maps")
        .arg(&bundle)
        .output()
        .expect("node");
    let trace = text(&out.stderr);
    assert!(trace.contains("exploded: hello, world"), "{trace}");
    // `throw new Error(message)` is line 4 of second.js (V8 points at `new`, column 11); the
    // call that led there is line 8.
    assert!(trace.contains("static/js/second.js:4:11"), "{trace}");
    assert!(trace.contains("static/js/second.js:8:1"), "{trace}");

    // The TypeScript maps to the .ts lines, and without sourcesContent the map names the
    // files only.
    let map =
        SourceMap::from_slice(&std::fs::read(format!("{}.map", bundle.display())).expect("map"))
            .expect("map");
    let (line, column) = position(&code, "size*").expect("the minified area()");
    let token = map.lookup_token(line, column).expect("mapped");
    assert_eq!(
        token.get_source().map(|s| s.to_string()).as_deref(),
        Some("/static/js/shapes.ts")
    );
    assert_eq!(token.get_src_line(), 2);
    assert_eq!(map.get_source_contents(0), None);
    // Renamed locals keep the names they were written with, for trackers that show them.
    let names: Vec<String> = map.names().map(|name| name.to_string()).collect();
    for local in ["reason", "message", "shape"] {
        assert!(
            names.iter().any(|name| name == local),
            "{local} in {names:?}"
        );
        assert!(!code.contains(local), "{local} was renamed in the bundle");
    }
}

#[test]
fn hidden_maps_are_written_without_the_comment_and_stay_home_when_published() {
    let site = example_site();
    append_config(site.path(), "source_maps = \"hidden\"\n");
    let out = stapler(site.path(), &["compress", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = site.path().join("build/static");
    let mut maps = 0;
    for bundle in bundles(&root) {
        let code = std::fs::read_to_string(&bundle).expect("bundle");
        assert!(!code.contains("sourceMappingURL"), "{}", bundle.display());
        assert!(PathBuf::from(format!("{}.map", bundle.display())).is_file());
        maps += 1;
    }
    assert!(maps >= 5);
    let published = tempfile::tempdir().expect("tempdir");
    let to = format!("file://{}", published.path().display());
    let out = stapler(site.path(), &["publish", "--to", &to]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sent: Vec<PathBuf> = walkdir::WalkDir::new(published.path())
        .into_iter()
        .filter_map(Result::ok)
        .map(|entry| entry.path().to_path_buf())
        .collect();
    assert!(sent
        .iter()
        .any(|path| path.extension().is_some_and(|e| e == "js")));
    assert!(!sent
        .iter()
        .any(|path| path.extension().is_some_and(|e| e == "map")));

    // Asked for, they go with the bundles.
    append_config(site.path(), "[publish]\nsource_maps = true\n");
    let out = stapler(site.path(), &["publish", "--to", &to]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let maps_sent = walkdir::WalkDir::new(published.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "map"))
        .count();
    assert_eq!(maps_sent, maps);
}
