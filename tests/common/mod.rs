//! Helpers shared by the integration tests: temporary sites and running the binary.

#![allow(dead_code)]

pub mod browser;
pub mod cdn;
pub mod django;
pub mod npm;
pub mod proxy;
pub mod seaweed;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One `#[test]` per case folder under `tests/<folder>/`, named after it, each calling
/// `$check(name)`; and a test that fails when a folder there has none.
#[macro_export]
macro_rules! fixture_tests {
    ($folder:literal, $check:path, [$($name:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                $check(stringify!($name));
            }
        )*

        #[test]
        fn every_case_folder_is_tested() {
            let listed = [$(stringify!($name)),*];
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($folder);
            for entry in std::fs::read_dir(&folder).expect($folder) {
                let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
                assert!(
                    listed.contains(&name.as_str()),
                    "add `{name}` to the list in the test file of {}",
                    $folder
                );
            }
        }
    };
}

/// The repository's example site.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Copies a directory tree (without `build/`).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk testdata");
        let relative = entry.path().strip_prefix(from).expect("inside");
        if relative.starts_with("build") || relative.starts_with(".stapler-cache") {
            continue;
        }
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A fresh copy of the example site in a temporary directory.
pub fn example_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&testdata(), dir.path());
    dir
}

/// Sets the modification time of every file under `dir` an hour back, as files checked out
/// well before a build have.
pub fn age(dir: &Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            std::fs::File::options()
                .write(true)
                .open(entry.path())
                .and_then(|file| file.set_modified(past))
                .expect("set the modification time");
        }
    }
}

/// Writes `files` (path, content) under `root`, creating folders.
pub fn write_files(root: &Path, files: &[(&str, &[u8])]) {
    for (path, content) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

/// Appends `extra` to the site's stapler.toml.
pub fn append_config(site: &Path, extra: &str) {
    let config = site.join("stapler.toml");
    let mut settings = std::fs::read_to_string(&config).expect("config");
    settings.push_str(extra);
    std::fs::write(&config, settings).expect("config");
}

/// A minimal site: a config, one template per entry of `templates`, and the given static files.
pub fn small_site(templates: &[(&str, &str)], statics: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_files(
        dir.path(),
        &[(
            "stapler.toml",
            b"static_root = \"build\"\nstaticfiles_dirs = [\"static\"]\ntemplate_dirs = [\"templates\"]\n".as_slice(),
        )],
    );
    std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
    for (name, source) in templates {
        write_files(&dir.path().join("templates"), &[(name, source.as_bytes())]);
    }
    write_files(&dir.path().join("static"), statics);
    dir
}

pub fn stapler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("DJANGO_SETTINGS_MODULE")
        .output()
        .expect("run stapler")
}

/// A virtualenv under `target/NAME` with `packages` installed from PyPI, made once and marked
/// ready only when pip succeeded. Returns the virtualenv's folder.
pub fn python_venv(name: &str, packages: &[&str]) -> PathBuf {
    python_venv_with(name, Path::new("python3"), packages)
}

/// [`python_venv`] made with a given interpreter (a pyenv Python of another version).
pub fn python_venv_with(name: &str, interpreter: &Path, packages: &[&str]) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name);
    let ready = venv.join(".installed");
    // Made for other packages (or not finished): install these over it.
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(packages.join("\n").as_str()) {
        let made = Command::new(interpreter)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed by the tests");
        assert!(made.success(), "python3 -m venv {} failed", venv.display());
        let installed = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages)
            .status()
            .expect("run pip");
        assert!(
            installed.success(),
            "pip could not install {packages:?} from PyPI"
        );
        std::fs::write(&ready, packages.join("\n")).expect("mark the virtualenv ready");
    }
    venv
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that `css` parses as CSS browsers read: every spot lightningcss cannot parse must be
/// an old Internet Explorer hack (`*zoom`, `_height`), which stapler keeps on purpose; anything
/// else (garbage, a broken rule) fails with its place.
pub fn assert_css_parses(css: &str, label: &str) {
    use std::sync::{Arc, RwLock};
    let warnings = Arc::new(RwLock::new(Vec::new()));
    let options = lightningcss::stylesheet::ParserOptions {
        error_recovery: true,
        warnings: Some(warnings.clone()),
        ..Default::default()
    };
    if let Err(error) = lightningcss::stylesheet::StyleSheet::parse(css, options) {
        panic!("{label} does not parse: {error}");
    }
    let lines: Vec<&str> = css.split('\n').collect();
    for warning in warnings.read().expect("warnings").iter() {
        let loc = warning.loc.as_ref().expect("a located warning");
        let line = lines.get(loc.line as usize).copied().unwrap_or("");
        let at: usize = line
            .char_indices()
            .nth((loc.column as usize).saturating_sub(1))
            .map_or(line.len(), |(at, _)| at);
        let start = line[..at].rfind(['{', ';', '}']).map_or(0, |s| s + 1);
        let declaration = line[start..at].trim_start();
        assert!(
            declaration.starts_with(['*', '_']),
            "{label}:{}:{}: {} at `{}`",
            loc.line + 1,
            loc.column,
            warning.kind,
            &line[start..(at + 40).min(line.len())]
        );
    }
}

/// node, which the tests run scripts in; its absence fails the test that needs it.
pub fn node() -> Command {
    let found = Command::new("node").arg("--version").output();
    assert!(
        found.is_ok_and(|out| out.status.success()),
        "node is needed by the tests: install it (Debian: apt-get install nodejs)"
    );
    Command::new("node")
}

/// The output files of one kind (`css`, `js`) under a static root's `CACHE/`, sorted.
pub fn outputs(root: &Path, kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("CACHE").join(kind))
        .expect("output folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
}
