//! What the commands print: `--format json` documents valid against the committed schema
//! (`schema/report.schema.json`, checked with Python's `jsonschema` from PyPI) for every
//! command, in success and failure; `--format github` workflow commands; warnings said once
//! with their places; the build report's largest bundles and `--compare`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const JSONSCHEMA: &str = "jsonschema==4.26.0";

/// Validates every document against the schema; fails naming each one that does not fit.
fn assert_valid(documents: &[(String, serde_json::Value)]) {
    let python = python_venv("schema-venv", &[JSONSCHEMA]).join("bin/python");
    let work = tempfile::tempdir().expect("tempdir");
    let mut names = Vec::new();
    for (index, (label, document)) in documents.iter().enumerate() {
        let path = work.path().join(format!("{index}.json"));
        std::fs::write(&path, document.to_string()).expect("write");
        names.push((label.clone(), path));
    }
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
failed = 0
for label, path in zip(sys.argv[2::2], sys.argv[3::2]):
    for error in validator.iter_errors(json.load(open(path))):
        failed += 1
        print(f"{label}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
sys.exit(1 if failed else 0)
"#;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let mut command = Command::new(python);
    command.args(["-c", script]).arg(schema);
    for (label, path) in &names {
        command.arg(label).arg(path);
    }
    let run = command.output().expect("run python");
    assert!(
        run.status.success(),
        "documents that do not fit the schema:\n{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
}

/// Runs stapler with `--format json` and returns the document it printed.
fn document(dir: &Path, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let run = stapler(dir, &all);
    assert_eq!(
        run.status.code(),
        Some(code),
        "{args:?}:\n{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(
        run.stderr.is_empty(),
        "json keeps stderr empty: {}",
        text(&run.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|error| {
        panic!(
            "{args:?}: not one JSON document ({error}):\n{}",
            text(&run.stdout)
        )
    });
    assert_eq!(value["exit_code"], code, "{value}");
    value
}

#[test]
fn every_commands_json_fits_the_committed_schema_in_success_and_failure() {
    let site = example_site();
    let dir = site.path();
    let published = dir.join("published");
    let to = format!("file://{}", published.display());
    let mut documents = Vec::new();
    let mut add =
        |label: &str, value: serde_json::Value| documents.push((label.to_string(), value));

    let built = document(dir, &["compress", "--offline"], 0);
    assert_eq!(built["ok"], true);
    let build = &built["build"];
    assert_eq!(build["blocks"]["unique"], 13, "{build}");
    assert!(build["warnings"][0]["file"].is_string(), "{build}");
    let largest = build["largest"].as_array().expect("largest");
    assert_eq!(largest.len(), 10);
    assert!(largest
        .iter()
        .all(|file| file["brotli_bytes"].as_u64().is_some_and(|b| b > 0)));
    add("compress", built);

    std::fs::copy(
        dir.join("build/static/CACHE/manifest.json"),
        dir.join("previous.json"),
    )
    .expect("keep the manifest");
    let again = document(dir, &["compress", "--compare", "previous.json"], 0);
    assert_eq!(again["build"]["comparison"]["in_both"], 13, "{again}");
    add("compress --compare", again);
    let reported = document(dir, &["compress", "--report", "report.html"], 0);
    assert!(reported["build"]["report"]["bytes"]
        .as_u64()
        .is_some_and(|b| b > 0));
    add("compress --report", reported);
    add("report", document(dir, &["report", "again.html"], 0));
    add("lookup", document(dir, &["lookup", "base.html"], 0));
    add("check", document(dir, &["check"], 0));
    add(
        "publish --dry-run",
        document(dir, &["publish", "--to", &to, "--dry-run"], 0),
    );
    let sent = document(dir, &["publish", "--to", &to], 0);
    assert!(
        sent["publish"]["sent"].as_u64().is_some_and(|n| n > 0),
        "{sent}"
    );
    add("publish", sent);
    add("deploy", document(dir, &["deploy", "--to", &to], 0));

    // Failures: a script that is not UTF-8 (django-compressor cannot read it either), a bad
    // setting, a missing key, findings.
    write_files(
        dir,
        &[("static/js/app.js", b"var ok = 1;\nvar a = '\xff';\n")],
    );
    let broken = document(dir, &["compress"], 1);
    assert_eq!(broken["ok"], false);
    let error = &broken["errors"][0];
    assert_eq!(
        (
            error["file"].as_str(),
            error["line"].as_u64(),
            error["column"].as_u64()
        ),
        (Some("static/js/app.js"), Some(2), None),
        "{broken}"
    );
    add("compress, unreadable script", broken);
    add(
        "deploy, unreadable script",
        document(dir, &["deploy", "--to", &to], 1),
    );
    add(
        "lookup, unknown template",
        document(dir, &["lookup", "nowhere.html"], 2),
    );
    let bad_config = document(dir, &["publish", "--to", "ftp://nowhere"], 2);
    add("publish, bad target", bad_config);

    let check_site = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check"),
        check_site.path(),
    );
    let findings = document(check_site.path(), &["check"], 1);
    assert_eq!(
        findings["check"]["findings"].as_array().map(Vec::len),
        Some(6)
    );
    add("check, findings", findings);

    assert_valid(&documents);
}

/// A site with a warning at a place and a script that is not UTF-8.
fn github_site() -> tempfile::TempDir {
    small_site(
        &[(
            "page.html",
            "{% load compress %}\n{% compress css %}<link rel=\"stylesheet\" href=\"/static/a.css\">{% endcompress %}\n{% compress js %}<script src=\"/static/b.js\"></script>{% endcompress %}\n",
        )],
        &[
            ("a.css", b".a { background: url(gone.png) }\n"),
            ("b.js", b"var ok = 1;\nvar a = '\xff';\n"),
        ],
    )
}

#[test]
fn github_format_puts_warnings_and_errors_on_their_lines() {
    let site = github_site();
    let run = stapler(site.path(), &["compress", "--format", "github"]);
    assert_eq!(run.status.code(), Some(1));
    insta::assert_snapshot!("github_error", text(&run.stdout));

    write_files(site.path(), &[("static/b.js", b"var ok = 1;\n")]);
    let run = stapler(site.path(), &["compress", "--format", "github"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let commands: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("::"))
        .collect();
    insta::assert_snapshot!("github_warning", commands.join("\n"));
    assert!(stdout.contains("stapler: 1 templates scanned"), "{stdout}");
}

#[test]
fn recurring_warnings_are_said_once_and_many_are_counted() {
    // The same missing image in twelve stylesheets, and twelve other missing images.
    let mut templates = Vec::new();
    let mut statics: Vec<(String, Vec<u8>)> = Vec::new();
    for index in 0..12 {
        templates.push((
            format!("p{index}.html"),
            format!("{{% load compress %}}{{% compress css %}}<link rel=\"stylesheet\" href=\"/static/s{index}.css\">{{% endcompress %}}"),
        ));
        statics.push((
            format!("s{index}.css"),
            format!(".a{index} {{ background: url(shared.png) }}\n.b{index} {{ background: url(only{index}.png) }}\n").into_bytes(),
        ));
    }
    let templates: Vec<(&str, &str)> = templates
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let statics: Vec<(&str, &[u8])> = statics
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_slice()))
        .collect();
    let site = small_site(&templates, &statics);
    let run = stapler(site.path(), &["compress"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    let shared: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("warning: ") && line.contains("url(shared.png)"))
        .collect();
    assert_eq!(shared.len(), 1, "said once:\n{stderr}");
    assert!(
        shared[0].contains(
            "(also at static/s1.css:1, static/s10.css:1, static/s11.css:1 and 8 more places)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("warning: ").count(), 10, "{stderr}");
    assert!(
        stderr.contains("note: 3 more warning(s) of 3 other kind(s); -v shows every one"),
        "{stderr}"
    );
    // The line the first one is about, with a caret under the url.
    assert!(
        stderr.contains("1 | .a0 { background: url(shared.png) }"),
        "{stderr}"
    );

    let verbose = stapler(site.path(), &["compress", "-v"]);
    let stderr = text(&verbose.stderr);
    assert_eq!(stderr.matches("warning: ").count(), 13, "{stderr}");
    assert!(!stderr.contains("more places"), "{stderr}");
}

#[test]
fn the_report_lists_the_largest_bundles_and_what_changed_since_a_previous_build() {
    let site = example_site();
    let dir = site.path();
    let run = stapler(dir, &["compress"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let header = stdout.lines().next().expect("a first line");
    assert!(header.starts_with("largest 10 of 12 bundles"), "{stdout}");
    assert!(header.ends_with("raw        gzip      brotli"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("CACHE/"))
            .count(),
        10,
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|line| line.contains("manifest:")),
        "summary last: {stdout}"
    );

    std::fs::copy(
        dir.join("build/static/CACHE/manifest.json"),
        dir.join("previous.json"),
    )
    .expect("keep the manifest");
    let app = dir.join("static/js/app.js");
    let mut script = std::fs::read_to_string(&app).expect("app.js");
    script.push_str("\nwindow.addedLater = function (items) { return items.map(function (item) { return item * 2; }); };\n");
    std::fs::write(&app, script).expect("grow app.js");
    let run = stapler(dir, &["compress", "--compare", "previous.json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with("compared with previous.json"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("13 blocks in both ("), "{line}");
    assert!(
        line.contains(" grew, 0 shrank), 0 new, 0 gone; CSS "),
        "{line}"
    );
    assert!(line.contains("JS ") && line.contains("(+"), "{line}");
    assert!(stdout.contains("  +"), "each block that grew: {stdout}");

    let missing = stapler(dir, &["compress", "--compare", "no-such.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no-such.json: cannot read the manifest to compare with"),
        "{}",
        text(&missing.stderr)
    );
}
