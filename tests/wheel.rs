//! The Python package (`pyproject.toml`, `python/stapler_assets`): a wheel built with maturin,
//! installed into a fresh virtualenv with Django, puts `stapler` on the virtualenv's PATH, and
//! `python manage.py stapler ...` and `python -m stapler_assets` run it inside the project's
//! settings. The wheel is the one named by `WHEEL_UNDER_TEST` (`.ci/run` builds it), else one
//! this test builds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const MATURIN: &str = "maturin==1.16.0";
const DJANGO: [&str; 3] = ["django==5.2.*", "django-compressor==4.7.*", "jinja2==3.1.*"];

/// The wheel to test: `WHEEL_UNDER_TEST`, else one built now (with the `dev` profile, in a
/// target folder of its own so it never waits on the build running the tests).
fn wheel(out: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("WHEEL_UNDER_TEST") {
        return PathBuf::from(path);
    }
    let maturin = python_venv("maturin-venv", &[MATURIN]).join("bin/maturin");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new(maturin)
        .args(["build", "--profile", "dev", "--quiet", "--out"])
        .arg(out)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target/wheel-build"))
        .output()
        .expect("run maturin");
    assert!(
        built.status.success(),
        "maturin build failed:\n{}",
        text(&built.stderr)
    );
    let wheel = std::fs::read_dir(out)
        .expect("wheel folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .expect("maturin wrote a wheel");
    wheel
}

/// Runs a program of the virtualenv without activating it: no `VIRTUAL_ENV`, and a PATH
/// without the virtualenv's `bin`, as a cron job or a Procfile would.
fn run(venv: &Path, program: &str, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(venv.join("bin").join(program))
        .args(args)
        .current_dir(dir)
        .env_remove("VIRTUAL_ENV")
        .env_remove("CI")
        .env_remove("DJANGO_SETTINGS_MODULE")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(env.iter().copied())
        .output()
        .expect("run a program of the virtualenv")
}

fn keys(manifest: &Path) -> Vec<String> {
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(manifest).expect("manifest")).expect("json");
    let mut keys: Vec<String> = manifest.keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_wheel_installs_the_binary_and_the_management_command_builds_and_publishes_a_project() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let wheel = wheel(&scratch.path().join("wheels"));

    let venv = scratch.path().join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 is needed by the tests");
    assert!(made.success());
    let installed = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(&wheel)
        .args(DJANGO)
        .output()
        .expect("run pip");
    assert!(
        installed.status.success(),
        "pip install {}:\n{}",
        wheel.display(),
        text(&installed.stderr)
    );

    let here = scratch.path();
    let version = run(&venv, "stapler", &["--version"], here, &[]);
    assert!(version.status.success(), "{}", text(&version.stderr));
    let version = text(&version.stdout);
    assert!(
        version.starts_with(concat!("stapler ", env!("CARGO_PKG_VERSION"), " (commit ")),
        "{version}"
    );
    let by_module = run(
        &venv,
        "python",
        &["-m", "stapler_assets", "--version"],
        here,
        &[],
    );
    assert_eq!(
        text(&by_module.stdout),
        version,
        "{}",
        text(&by_module.stderr)
    );

    // The fixture project, with the app installed.
    let project = scratch.path().join("project");
    std::fs::create_dir(&project).expect("mkdir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django_project"),
        &project,
    );
    write_files(
        &project,
        &[(
            "mysite/settings_wheel.py",
            b"from .settings import *  # noqa\n\n# Before compressor, whose compress tag then stays the one templates load.\nINSTALLED_APPS = [\"stapler_assets\", *INSTALLED_APPS]\n",
        )],
    );
    let root = scratch.path().join("static-root");
    let root_text = root.to_str().expect("utf-8 path");
    let env = [
        ("DJANGO_SETTINGS_MODULE", "mysite.settings_wheel"),
        ("FIXTURE_STATIC_ROOT", root_text),
    ];

    let help = run(&venv, "python", &["manage.py", "help"], &project, &env);
    assert!(
        text(&help.stdout).contains("[stapler_assets]"),
        "{}{}",
        text(&help.stdout),
        text(&help.stderr)
    );

    let published = scratch.path().join("published");
    let target = format!("file://{}", published.display());
    let deploy = run(
        &venv,
        "python",
        &["manage.py", "stapler", "deploy", "--to", &target],
        &project,
        &env,
    );
    assert!(
        deploy.status.success(),
        "{}\n{}",
        text(&deploy.stdout),
        text(&deploy.stderr)
    );
    let summary = text(&deploy.stdout);
    assert!(summary.contains("Django rendered"), "{summary}");
    assert!(summary.contains("published to file://"), "{summary}");
    let ours = keys(&root.join("CACHE/manifest.json"));
    assert_eq!(
        keys(&published.join("CACHE/manifest.json")),
        ours,
        "the published manifest"
    );

    // The keys are the ones django-compressor computes in the same virtualenv.
    let peer_root = scratch.path().join("peer-root");
    let peer_env = [
        ("DJANGO_SETTINGS_MODULE", "mysite.settings_wheel"),
        (
            "FIXTURE_STATIC_ROOT",
            peer_root.to_str().expect("utf-8 path"),
        ),
    ];
    let peer = run(
        &venv,
        "python",
        &["manage.py", "compress", "--force"],
        &project,
        &peer_env,
    );
    assert!(peer.status.success(), "{}", text(&peer.stderr));
    let theirs = keys(&peer_root.join("CACHE/manifest.json"));
    assert_eq!(theirs.len(), 13);
    assert_eq!(ours, theirs);

    // Every other command, and stapler's exit codes, pass through.
    let check = run(
        &venv,
        "python",
        &["manage.py", "stapler", "check"],
        &project,
        &env,
    );
    assert!(check.status.success(), "{}", text(&check.stderr));
    let bad = run(
        &venv,
        "python",
        &["manage.py", "stapler", "compress", "--no-such-flag"],
        &project,
        &env,
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let module = run(
        &venv,
        "python",
        &["-m", "stapler_assets", "lookup", "pages/plain.html"],
        &project,
        &env,
    );
    assert!(module.status.success(), "{}", text(&module.stderr));
    assert!(
        text(&module.stdout).contains("in manifest: yes"),
        "{}",
        text(&module.stdout)
    );
}
