//! Input stapler objects to but django-compressor builds, one folder per case under
//! `tests/warnings/` (laid out as `tests/errors/` cases are). By default the build succeeds,
//! bundles what the peer bundles and warns at the place: the snapshot
//! (`tests/snapshots/warnings__<case>.snap`) is what users see. With `--strict` the same input
//! fails, with the message in `warnings__<case>_strict.snap`, and the previous manifest stays.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const PREVIOUS: &str =
    "{\n  \"previous\": \"<script src=\\\"/__compressor_url_placeholder__/CACHE/js/old.js\\\"></script>\"\n}";

fn case_folder(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/warnings")
        .join(name)
}

/// A fresh copy of the case's site with a previous manifest, and the work folder holding it.
fn site_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    let site = work.path().join("site");
    copy_tree(&case_folder(name), &site);
    std::fs::create_dir_all(site.join("../outside")).expect("outside");
    std::fs::write(site.join("../outside/secret.png"), "secret").expect("secret");
    let manifest = site.join("build/CACHE/manifest.json");
    std::fs::create_dir_all(manifest.parent().expect("parent")).expect("mkdir");
    std::fs::write(&manifest, PREVIOUS).expect("previous manifest");
    (work, site)
}

fn compress(site: &Path, strict: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stapler"));
    command.args(["compress", "--offline"]);
    if strict {
        command.arg("--strict");
    }
    command
        .current_dir(site)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stapler")
}

fn seen(run: &Output, work: &Path) -> String {
    let stderr = text(&run.stderr).replace(&work.display().to_string(), "[tmp]");
    format!("exit code: {}\n{stderr}", run.status.code().unwrap_or(-1))
}

/// Runs a case both ways and checks what each must leave behind.
fn check_case(name: &str) {
    let (work, site) = site_of(name);
    let run = compress(&site, false);
    let report = seen(&run, work.path());
    assert!(run.status.success(), "{name}: builds by default\n{report}");
    assert!(report.contains("warning: "), "{name}: warns\n{report}");
    let manifest =
        std::fs::read_to_string(site.join("build/CACHE/manifest.json")).expect("manifest");
    assert_ne!(manifest, PREVIOUS, "{name}: the manifest is written");
    insta::assert_snapshot!(name, report);

    let (work, site) = site_of(name);
    let run = compress(&site, true);
    let report = seen(&run, work.path());
    assert!(!run.status.success(), "{name}: --strict fails\n{report}");
    assert_eq!(
        std::fs::read_to_string(site.join("build/CACHE/manifest.json")).expect("manifest"),
        PREVIOUS,
        "{name}: --strict leaves the previous manifest"
    );
    insta::assert_snapshot!(format!("{name}_strict"), report);
}

fixture_tests!(
    "tests/warnings",
    check_case,
    [
        bundle_over_budget,
        const_redeclares_a_parameter,
        css_a_browser_would_drop,
        css_rule_a_browser_ignores,
        css_url_escaping_the_roots,
        inline_script_syntax_error,
        inline_style_error,
        javascript_syntax_error,
        malformed_css,
        page_and_total_over_budget,
        several_broken_files_all_reported,
        stylesheet_link_with_another_rel,
        url_leading_outside_the_roots,
    ]
);
