//! `stapler check`: each planted cause of a missing key is found with its template and line;
//! the example site has none; `compress --strict` fails on the same findings.

mod common;

use std::path::PathBuf;

use common::*;

fn planted() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    copy_tree(&fixture, dir.path());
    dir
}

#[test]
fn check_finds_each_planted_cause_with_its_place() {
    let site = planted();
    let run = stapler(site.path(), &["check", "--format", "json"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON on stdout");
    let found: Vec<(String, u64, String)> = report["check"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            (
                finding["file"].as_str().expect("file").to_string(),
                finding["line"].as_u64().expect("line"),
                finding["kind"].as_str().expect("kind").to_string(),
            )
        })
        .collect();
    let expected = [
        ("templates/broken.html", 0, "skipped-template"),
        ("templates/extends_var.html", 0, "skipped-template"),
        ("templates/modes.html", 1, "mode-conflict"),
        ("templates/modes.html", 2, "mode-conflict"),
        ("templates/request.html", 2, "request-variable"),
        ("templates/undefined.html", 3, "undefined-variable"),
    ];
    let expected: Vec<(String, u64, String)> = expected
        .iter()
        .map(|(file, line, kind)| (file.to_string(), *line, kind.to_string()))
        .collect();
    assert_eq!(found, expected);
    let messages = report.to_string();
    assert!(
        messages.contains(
            "`colour` is used in a {% compress %} block but no offline context defines it"
        ),
        "{messages}"
    );
    assert!(
        !messages.contains("`theme`"),
        "theme is defined: {messages}"
    );
    assert!(
        messages.contains("`user` comes from the request"),
        "{messages}"
    );

    let human = stapler(site.path(), &["check"]);
    assert_eq!(human.status.code(), Some(1));
    let stderr = text(&human.stderr);
    assert!(
        stderr.contains("undefined-variable: templates/undefined.html:3: `colour`")
            && stderr.contains("error: check: 6 finding(s)"),
        "{stderr}"
    );
    assert!(!site.path().join("build").exists(), "check writes nothing");
}

#[test]
fn the_example_site_has_nothing_to_find() {
    let site = example_site();
    let run = stapler(site.path(), &["check"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("nothing would make a key go missing"),
        "{}",
        text(&run.stdout)
    );
}

#[test]
fn compress_strict_fails_on_the_same_findings() {
    let site = planted();
    for broken in [
        "broken.html",
        "extends_var.html",
        "modes.html",
        "request.html",
    ] {
        std::fs::remove_file(site.path().join("templates").join(broken)).expect("remove");
    }
    let lenient = stapler(site.path(), &["compress", "--offline"]);
    assert!(lenient.status.success(), "{}", text(&lenient.stderr));
    let strict = stapler(site.path(), &["compress", "--offline", "--strict"]);
    let stderr = text(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--strict: 1 finding(s)")
            && stderr.contains("templates/undefined.html:3: `colour` is used"),
        "{stderr}"
    );
}
