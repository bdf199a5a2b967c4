//! The wheel's Django app on the servers, without django-compressor: stapler_assets's `compress`
//! tags (Django and Jinja2) render pages from stapler's manifest exactly as django-compressor's
//! tag does, a missing key is an error naming the template and the command that explains it,
//! both apps installed behave as documented, and compress blocks that carry CSP nonces work in
//! a real browser under an enforcing policy (Django 6.1, Python 3.12 from pyenv). Each case is a
//! Python script under `tests/runtime/`, run with a virtualenv made here from PyPI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The reference peer (django-compressor 4.7 on Django 5.2): `COMPAT_PYTHON`, else a virtualenv.
fn peer() -> PathBuf {
    match std::env::var_os("COMPAT_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => python_venv(
            "compat-venv",
            &[
                "django==5.2.*",
                "django-compressor==4.7.*",
                "jinja2==3.1.*",
                "html5lib==1.1",
            ],
        )
        .join("bin/python"),
    }
}

/// Django and Jinja2 without django-compressor: a server that has only stapler_assets.
fn without_compressor() -> PathBuf {
    python_venv("runtime-venv", &["django==5.2.*", "jinja2==3.1.*"]).join("bin/python")
}

/// Python 3.12, which Django 6.1 needs: `PYTHON312` (`.ci/run` sets it), else pyenv's.
fn python312() -> PathBuf {
    if let Some(path) = std::env::var_os("PYTHON312") {
        return PathBuf::from(path);
    }
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")))
        .expect("PYENV_ROOT or HOME");
    let asked = Command::new("pyenv")
        .args(["prefix", "3.12"])
        .output()
        .ok()
        .filter(|prefix| prefix.status.success())
        .map(|prefix| PathBuf::from(text(&prefix.stdout).trim()));
    let prefix = asked.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
            .ok()?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("3.12"))
            })
            .collect();
        found.sort();
        found.pop()
    });
    prefix
        .expect("Python 3.12 through pyenv (or PYTHON312) is needed for the Django 6 tests")
        .join("bin/python")
}

/// Runs one script of `tests/runtime/` with `python`; returns what it printed.
fn script(python: &Path, name: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/runtime")
        .join(name);
    let run = Command::new(python)
        .arg(&path)
        .args(args)
        .env(
            "PYTHONPATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("python"),
        )
        .output()
        .expect("run the script");
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    eprintln!("{name}: {}", stdout.lines().last().unwrap_or_default());
    stdout
}

const STAPLER: &str = env!("CARGO_BIN_EXE_stapler");

#[test]
fn pages_render_from_staplers_manifest_as_django_compressors_tag_renders_them() {
    let peer = peer();
    script(
        &without_compressor(),
        "fixture_pages.py",
        &[
            "--stapler",
            STAPLER,
            "--peer-python",
            peer.to_str().expect("utf-8"),
            "--build-without-compressor",
        ],
    );
}

#[test]
fn the_tags_keep_django_compressors_modes_keys_and_urls() {
    script(&without_compressor(), "tags.py", &[]);
}

#[test]
fn a_missing_key_names_the_template_the_line_and_the_lookup_command() {
    let printed = script(&without_compressor(), "missing_key.py", &[]);
    insta::assert_snapshot!(printed);
}

#[test]
fn with_both_apps_installed_the_one_listed_last_renders_and_the_check_says_so() {
    script(&peer(), "both_apps.py", &[]);
}

#[test]
fn csp_nonces_inside_compress_blocks_work_in_a_browser_under_an_enforcing_policy() {
    let python = python312();
    let site = python_venv_with("runtime-django6-venv", &python, &["django==6.1.*"]);
    let peer = python_venv_with(
        "runtime-django6-compressor-venv",
        &python,
        &["django==6.1.*", "django-compressor==4.7.*"],
    );
    script(
        &site.join("bin/python"),
        "csp_browser.py",
        &[
            "--stapler",
            STAPLER,
            "--peer-python",
            peer.join("bin/python").to_str().expect("utf-8"),
        ],
    );
}
