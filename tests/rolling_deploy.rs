//! `manifest_keep`: the manifest a publish puts up holds the keys of the last releases, so
//! servers still running the previous release's templates find theirs, and pruning keeps the
//! bundles those keys point at. Checked with the real Django and django-compressor rendering
//! release 1's templates from the manifest release 2 published.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn python() -> PathBuf {
    match std::env::var_os("COMPAT_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => python_venv(
            "compat-venv",
            &["django==5.2.*", "django-compressor==4.7.*", "jinja2==3.1.*"],
        )
        .join("bin/python"),
    }
}

/// Renders every template of `site` offline with django-compressor, from the manifest and
/// files in `static_root`.
fn render(site: &Path, static_root: &Path) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/django_check.py");
    let run = Command::new(python())
        .arg(script)
        .arg("render")
        .arg(site)
        .arg(static_root)
        .output()
        .expect("run python");
    assert!(
        run.status.success(),
        "Django could not render {} from the published manifest:\n{}",
        site.display(),
        text(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("JSON")
}

fn manifest(path: &Path) -> BTreeMap<String, String> {
    serde_json::from_slice(&std::fs::read(path).expect("manifest")).expect("manifest JSON")
}

fn publish(site: &Path, to: &str, prune: bool) {
    let mut args = vec!["deploy", "--to", to];
    if prune {
        args.push("--prune");
    }
    let out = stapler(site, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn servers_on_the_previous_release_find_their_keys_in_the_new_manifest() {
    let site = example_site();
    append_config(site.path(), "[publish]\nmanifest_keep = 2\nkeep = 1\n");
    let published = tempfile::tempdir().expect("tempdir");
    let to = format!("file://{}", published.path().display());

    // Release 1, and a copy of its templates as a server still running it has them.
    publish(site.path(), &to, false);
    let release_1 = tempfile::tempdir().expect("tempdir");
    copy_tree(site.path(), release_1.path());
    let keys_1 = manifest(&site.path().join("build/static/CACHE/manifest.json"));

    // Release 2 changes a block (a new key) and a script (a new bundle for an old key).
    let home = site.path().join("templates/pages/home.html");
    let changed = std::fs::read_to_string(&home)
        .expect("template")
        .replace("background: #fff;", "background: #fafafa;");
    std::fs::write(&home, changed).expect("template");
    let app = site.path().join("static/js/app.js");
    let mut script = std::fs::read_to_string(&app).expect("script");
    script.push_str("\nwindow.RELEASE = 2;\n");
    std::fs::write(&app, script).expect("script");
    publish(site.path(), &to, true);
    let keys_2 = manifest(&site.path().join("build/static/CACHE/manifest.json"));

    let only_1: Vec<&String> = keys_1.keys().filter(|k| !keys_2.contains_key(*k)).collect();
    assert!(!only_1.is_empty(), "release 2 must drop a key of release 1");
    let remote = manifest(&published.path().join("CACHE/manifest.json"));
    for (key, value) in &keys_2 {
        assert_eq!(
            remote.get(key),
            Some(value),
            "release 2's own value for {key}"
        );
    }
    for key in &only_1 {
        assert_eq!(remote.get(*key), keys_1.get(*key), "release 1's key {key}");
    }
    assert_eq!(remote.len(), keys_2.len() + only_1.len());
    // The local manifest is the build's own.
    assert!(only_1.iter().all(|key| !keys_2.contains_key(*key)));

    // Django with release 1's templates (and with release 2's) renders every page from the
    // published manifest, every bundle there even after the prune.
    for (release, dir) in [(1, release_1.path()), (2, site.path())] {
        let report = render(dir, published.path());
        assert_eq!(report["rendered"], 10, "release {release}: {report}");
        let missing: Vec<String> = report["missing"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|url| url.as_str())
            .filter(|url| url.contains("/CACHE/"))
            .map(str::to_string)
            .collect();
        assert!(missing.is_empty(), "release {release}: {missing:?}");
    }

    // Publishing release 2 again keeps release 1's keys: a republish is not a new release.
    publish(site.path(), &to, true);
    let again = manifest(&published.path().join("CACHE/manifest.json"));
    assert_eq!(again, remote);

    // Release 3 moves the window: release 1's own keys go, release 2's stay.
    let about = site.path().join("templates/pages/about.html");
    let mut page = std::fs::read_to_string(&about).expect("template");
    page.push_str("\n{# release 3 #}\n");
    std::fs::write(&about, page).expect("template");
    let mut script = std::fs::read_to_string(&app).expect("script");
    script.push_str("window.RELEASE = 3;\n");
    std::fs::write(&app, script).expect("script");
    publish(site.path(), &to, true);
    let remote_3 = manifest(&published.path().join("CACHE/manifest.json"));
    for key in &only_1 {
        assert!(
            !remote_3.contains_key(*key),
            "release 1's key {key} outlived the window"
        );
    }
    for key in keys_2.keys() {
        assert!(remote_3.contains_key(key), "release 2's key {key}");
    }
}
