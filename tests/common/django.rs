//! A Django project for tests: the fixture project, a small one written on the spot, the
//! Python with the peer's packages, and stapler run in a project as its team runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{copy_tree, python_venv, write_files};

pub const PEER: [&str; 4] = [
    "django==5.2.*",
    "django-compressor==4.7.*",
    "jinja2==3.1.*",
    "html5lib==1.1",
];

pub fn python() -> PathBuf {
    match std::env::var_os("COMPAT_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => python_venv("compat-venv", &PEER).join("bin/python"),
    }
}

/// A copy of the fixture project in a temporary folder.
pub fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django_project"),
        dir.path(),
    );
    dir
}

/// Runs stapler in the project, with the project's static root at `static_root`.
pub fn stapler_in(
    project: &Path,
    static_root: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args(args)
        .current_dir(project)
        .env_remove("CI")
        .env_remove("DJANGO_SETTINGS_MODULE")
        .env_remove("VIRTUAL_ENV")
        .env("FIXTURE_STATIC_ROOT", static_root)
        .envs(env.iter().copied())
        .output()
        .expect("run stapler")
}

/// The keys of the manifest in `static_root`'s `CACHE/`, sorted.
pub fn keys(static_root: &Path) -> Vec<String> {
    manifest_keys(&static_root.join("CACHE/manifest.json"))
}

/// The keys of the manifest at `path`, sorted.
pub fn manifest_keys(path: &Path) -> Vec<String> {
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("manifest")).expect("json");
    let mut keys: Vec<String> = manifest.keys().cloned().collect();
    keys.sort();
    keys
}

pub const SMALL_SETTINGS: &str = r#"from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "test"
INSTALLED_APPS = ["django.contrib.staticfiles", "compressor"]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
}]
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "root"
STATICFILES_DIRS = [BASE_DIR / "assets"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "compressor.finders.CompressorFinder",
]
COMPRESS_OFFLINE = True
"#;

/// A page with one stylesheet block, and its stylesheet.
pub const SMALL_PAGE: &[(&str, &[u8])] = &[
    ("templates/page.html", b"{% load static compress %}{% compress css %}<link rel=\"stylesheet\" href=\"{% static 'a.css' %}\">{% endcompress %}"),
    ("assets/a.css", b".a { color: red }"),
];

/// A small Django project: `manage.py`, `settings` as `small_settings.py`, and `files`.
pub fn small_project(settings: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_files(
        dir.path(),
        &[
            ("manage.py", b"import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'small_settings')\nfrom django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n".as_slice()),
            ("small_settings.py", settings.as_bytes()),
        ],
    );
    write_files(dir.path(), files);
    dir
}
