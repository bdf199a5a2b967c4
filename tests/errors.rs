//! Bad input, one folder per case under `tests/errors/`: the case's site (its `stapler.toml`,
//! `templates/`, `static/`), optional `args` (more command-line words, one a line) and `links`
//! (`path -> target` symbolic links to make, since git keeps them poorly). Each must fail with
//! the message in its snapshot (`tests/snapshots/errors__<case>.snap`, exit code and stderr as
//! users see them), leave the previous manifest byte-identical and write no bundle.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const PREVIOUS: &str =
    "{\n  \"previous\": \"<script src=\\\"/__compressor_url_placeholder__/CACHE/js/old.js\\\"></script>\"\n}";

/// Copies a case's site into `site`, leaving out the case's own instructions.
fn copy_site(case: &Path, site: &Path) {
    for entry in walkdir::WalkDir::new(case) {
        let entry = entry.expect("walk");
        let relative = entry.path().strip_prefix(case).expect("inside");
        if relative == Path::new("args") || relative == Path::new("links") {
            continue;
        }
        let target = site.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[cfg(unix)]
fn make_links(case: &Path, site: &Path) {
    let Ok(links) = std::fs::read_to_string(case.join("links")) else {
        return;
    };
    for line in links.lines().filter(|line| !line.trim().is_empty()) {
        let (link, target) = line.split_once(" -> ").expect("`path -> target`");
        let link = site.join(link.trim());
        std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(target.trim(), &link).expect("symlink");
    }
}

/// Runs one case and returns what the user sees: the exit code and stderr.
fn run_case(case: &Path) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    let site = work.path().join("site");
    copy_site(case, &site);
    std::fs::create_dir_all(site.join("templates")).expect("templates");
    // A file outside the site, for cases that try to reach out of it.
    std::fs::create_dir_all(site.join("../outside")).expect("outside");
    std::fs::write(site.join("../outside/secret.js"), "var secret = 1;").expect("secret");
    #[cfg(unix)]
    make_links(case, &site);
    let manifest = site.join("build/CACHE/manifest.json");
    std::fs::create_dir_all(manifest.parent().expect("parent")).expect("mkdir");
    std::fs::write(&manifest, PREVIOUS).expect("previous manifest");

    let args: Vec<String> = std::fs::read_to_string(case.join("args"))
        .map(|text| {
            text.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let run = Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args(["compress", "--offline"])
        .args(&args)
        .current_dir(&site)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stapler");
    let name = case
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(!run.status.success(), "{name}: expected a failure");
    assert_eq!(
        std::fs::read_to_string(&manifest).expect("manifest"),
        PREVIOUS,
        "{name}: the previous manifest must be untouched"
    );
    for kind in ["css", "js"] {
        assert!(
            !site.join("build/CACHE").join(kind).exists(),
            "{name}: nothing is written on failure"
        );
    }
    let stderr = text(&run.stderr).replace(&work.path().display().to_string(), "[tmp]");
    format!("exit code: {}\n{stderr}", run.status.code().unwrap_or(-1))
}

fn case_folder(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/errors")
        .join(name)
}

/// Runs the case and compares what users see with its snapshot.
fn check_case(name: &str) {
    let report = run_case(&case_folder(name));
    insta::assert_snapshot!(name, report);
}

fixture_tests!(
    "tests/errors",
    check_case,
    [
        absolute_url_outside_url_prefix,
        config_value_of_the_wrong_type,
        django_python_missing,
        empty_template_directory,
        every_template_skipped,
        href_escaping_the_roots,
        missing_config_file,
        no_compress_blocks_at_all,
        non_utf8_file,
        referenced_file_missing,
        sass_error_in_a_partial,
        sri_crossorigin_browsers_do_not_know,
        sri_hash_browsers_do_not_check,
        symlink_out_of_the_roots,
        tag_that_cannot_render_offline,
        typescript_syntax_error,
        unknown_compress_kind,
        unknown_compress_mode,
        unknown_config_key,
        unterminated_compress,
    ]
);
