//! A Django project as real ones are (`tests/fixtures/django_project`): its own tag libraries
//! inside compress blocks, a third-party-style library, `{% cache %}`, i18n tags, `{% include %}`,
//! app templates and app static files, an admin template overriding the one it extends, and
//! offline contexts from a generator. With no stapler.toml, stapler reads Django's settings and
//! has Django render what only Django can; its keys must be the ones django-compressor 4.7
//! computes, and Django must render every page from its manifest.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::django::*;
use common::*;

fn manage(project: &Path, static_root: &Path, args: &[&str]) -> Output {
    manage_with(project, static_root, args, &[])
}

fn manage_with(project: &Path, static_root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let run = Command::new(python())
        .arg("manage.py")
        .args(args)
        .current_dir(project)
        .env("FIXTURE_STATIC_ROOT", static_root)
        .envs(env.iter().copied())
        .output()
        .expect("run manage.py");
    assert!(
        run.status.success(),
        "manage.py {args:?} failed:\n{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    run
}

/// The keys of a build with every template rendered by Django (`--render django`).
fn django_mode_keys(dir: &Path, root: &Path, python: &str, env: &[(&str, &str)]) -> Vec<String> {
    let args = [
        "compress",
        "--offline",
        "--python",
        python,
        "--render",
        "django",
    ];
    let run = stapler_in(dir, root, &args, env);
    assert!(run.status.success(), "{}", text(&run.stderr));
    keys(root)
}

#[test]
fn with_no_settings_file_the_keys_are_django_compressors_in_auto_and_django_modes() {
    let project = project();
    let dir = project.path();
    let python = python();
    let python = python.to_str().expect("utf-8 path");

    let peer_root = dir.join("peer-root");
    manage(dir, &peer_root, &["compress", "--force"]);
    let theirs = keys(&peer_root);
    assert_eq!(theirs.len(), 13, "the fixture's blocks: {theirs:?}");

    let auto_root = dir.join("auto-root");
    let run = stapler_in(
        dir,
        &auto_root,
        &["compress", "--offline", "--python", python, "-v"],
        &[],
    );
    let stdout = text(&run.stdout);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert_eq!(keys(&auto_root), theirs, "auto mode");
    // Only the two pages whose blocks use the project's own tags go through Django. The admin's
    // pages load the admin's tag libraries and extend the override, but their blocks use none
    // of those libraries' names, so they are rendered natively with plain.html, the {% cache %},
    // i18n and {% include %} pages, the app's product page and the override itself; the i18n
    // page's messages are translated by Django's catalogs (German, from the admin's: the keys
    // would differ if they were rendered as written).
    assert!(
        stdout.contains("Django rendered 2 template(s) through the bridge"),
        "{stdout}"
    );
    for native in [
        "pages/plain.html",
        "pages/cached.html",
        "pages/i18n.html",
        "pages/include.html",
        "pages/precompiled.html",
        "shop/product.html",
        "templates/admin/base_site.html",
    ] {
        assert!(
            !stderr
                .lines()
                .any(|line| line.starts_with("django: ") && line.contains(native)),
            "{native} went through Django:\n{stderr}"
        );
    }
    for (page, why) in [
        ("pages/custom.html", "shop_tags"),
        ("pages/widgets.html", "widgets"),
    ] {
        let line = stderr
            .lines()
            .find(|line| line.starts_with("django: ") && line.contains(page))
            .unwrap_or_else(|| panic!("{page} not rendered by Django:\n{stderr}"));
        assert!(line.contains(why), "{line}");
    }
    assert!(
        stderr.contains(
            "no-such-folder is listed in Django settings mysite.settings but does not exist"
        ),
        "{stderr}"
    );

    // The project's Python precompiler ran through Django, on the file and the inline text,
    // before stapler minified its output.
    // The precompiler runs as the peer's worker threads run it, where the theme the context
    // generator set in a thread-local is not seen.
    let loud_in = |root: &Path| {
        std::fs::read_dir(root.join("CACHE/css"))
            .expect("css outputs")
            .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("css"))
            .find(|css| css.contains("loud.css"))
            .expect("the precompiled bundle")
    };
    assert!(loud_in(&peer_root).contains("/*! loud.css, no theme */"));
    let loud = loud_in(&auto_root);
    assert!(
        loud.contains("/*! loud.css, no theme */")
            && loud.contains(".NOTICE{color:red}")
            && loud.contains("/*! inline, no theme */\n.QUIET{CONTENT:\"WHISPER\"}"),
        "{loud}"
    );

    let django_root = dir.join("django-root");
    assert_eq!(
        django_mode_keys(dir, &django_root, python, &[]),
        theirs,
        "django mode"
    );

    let report = manage(dir, &auto_root, &["render_pages"]);
    let report: serde_json::Value =
        serde_json::from_str(text(&report.stdout).trim()).expect("report");
    assert_eq!(report["rendered"], 16, "{report}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
    eprintln!(
        "{} keys agree with django-compressor; Django rendered {} pages from stapler's manifest, {} URLs resolve",
        theirs.len(),
        report["rendered"],
        report["urls"]
    );
}

#[test]
fn jinja2_templates_get_django_compressors_keys_in_auto_and_django_modes() {
    let project = project();
    let dir = project.path();
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    let peer_root = dir.join("peer-root");
    manage(
        dir,
        &peer_root,
        &["compress", "--force", "--engine", "jinja2"],
    );
    let theirs = keys(&peer_root);
    assert_eq!(theirs.len(), 4, "the Jinja2 pages' blocks: {theirs:?}");

    let jinja2 = [("STAPLER_ENGINE", "jinja2")];
    let auto_root = dir.join("auto-root");
    let run = stapler_in(
        dir,
        &auto_root,
        &["compress", "--offline", "--python", python, "-v"],
        &jinja2,
    );
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(keys(&auto_root), theirs, "auto mode");
    // The page whose blocks call the environment's globals, its filter and `do` goes through
    // the project's environment; the page of plain text is rendered natively.
    let through_django = |page: &str| {
        stderr
            .lines()
            .any(|line| line.starts_with("django: ") && line.contains(page))
    };
    assert!(through_django("jinja/landing.html"), "{stderr}");
    assert!(!through_django("jinja/plain.html"), "{stderr}");

    let django_root = dir.join("django-root");
    assert_eq!(
        django_mode_keys(dir, &django_root, python, &jinja2),
        theirs,
        "django mode"
    );

    let report = manage(dir, &auto_root, &["render_pages", "--jinja2"]);
    let report: serde_json::Value =
        serde_json::from_str(text(&report.stdout).trim()).expect("report");
    assert_eq!(report["rendered"], 4, "{report}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
}

#[test]
fn with_a_manifest_storage_static_urls_are_djangos_hashed_names() {
    let project = project();
    let dir = project.path();
    let python = python();
    let manifest_storage = [("FIXTURE_MANIFEST_STORAGE", "1")];
    let peer_root = dir.join("peer-root");
    manage_with(
        dir,
        &peer_root,
        &["collectstatic", "--noinput"],
        &manifest_storage,
    );
    manage_with(dir, &peer_root, &["compress", "--force"], &manifest_storage);
    let theirs = keys(&peer_root);

    // Before collectstatic there is no manifest to name files from: a clear error, where
    // django-compressor reports "0 blocks" and exits with 0.
    let root = dir.join("root");
    let args = [
        "compress",
        "--offline",
        "--python",
        python.to_str().expect("utf-8"),
    ];
    let early = stapler_in(dir, &root, &args, &manifest_storage);
    let stderr = text(&early.stderr);
    assert_eq!(early.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("base.html:4") && stderr.contains("run `manage.py collectstatic` first"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("css/site.css").count(),
        1,
        "said once: {stderr}"
    );
    manage_with(
        dir,
        &root,
        &["collectstatic", "--noinput"],
        &manifest_storage,
    );
    let run = stapler_in(
        dir,
        &root,
        &[
            "compress",
            "--offline",
            "--python",
            python.to_str().expect("utf-8"),
        ],
        &manifest_storage,
    );
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("storage mysite.storage.HashedNames of Django settings mysite.settings makes its own URLs"), "{stderr}");
    assert_eq!(keys(&root), theirs);
    // STATIC_URL and the path would have given other keys.
    let plain_root = dir.join("plain-root");
    let plain = stapler_in(
        dir,
        &plain_root,
        &[
            "compress",
            "--offline",
            "--python",
            python.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let plain_keys = keys(&plain_root);
    assert!(theirs.iter().any(|key| !plain_keys.contains(key)));
}

#[test]
fn init_writes_a_file_for_builds_without_python_and_native_mode_names_every_tag_it_cannot_render() {
    let project = project();
    let dir = project.path();
    let python = python();
    let root = dir.join("root");
    let run = stapler_in(
        dir,
        &root,
        &["init", "--python", python.to_str().expect("utf-8")],
        &[],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let written = std::fs::read_to_string(dir.join("stapler.toml")).expect("stapler.toml");
    assert!(written.contains("render = \"native\""), "{written}");
    assert!(
        written.contains("[\"vendor\", \"vendor_files\"]"),
        "{written}"
    );
    assert!(written.contains("\"shop/static\""), "{written}");
    assert!(written.contains("theme = \"dark\""), "{written}");
    let again = stapler_in(dir, &root, &["init"], &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("--force"));

    // No Python from here on: a python that does not exist would fail any bridge.
    let run = stapler_in(
        dir,
        &root,
        &["compress", "--offline", "--python", "/nonexistent/python3"],
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    for (page, tag) in [
        (
            "templates/pages/custom.html:5",
            "{% vendor_scripts \"alpha\" \"beta\" %}",
        ),
        (
            "templates/pages/widgets.html:4",
            "{% widget_css \"calendar\" %}",
        ),
    ] {
        assert!(
            stderr
                .lines()
                .any(|line| line.contains(page) && line.contains(tag)),
            "{page} {tag} not named:\n{stderr}"
        );
    }
    assert!(stderr.contains("render = \"auto\""), "{stderr}");
    for rendered in ["i18n.html", "include.html"] {
        assert!(
            !stderr.contains(rendered),
            "{rendered} is rendered natively:\n{stderr}"
        );
    }
    assert!(!root.join("CACHE/manifest.json").exists());
}

#[test]
fn config_says_where_each_setting_came_from() {
    let project = project();
    let dir = project.path();
    std::fs::write(dir.join("stapler.toml"), "static_url = \"/assets/\"\n").expect("write");
    let python = python();
    let run = stapler_in(
        dir,
        &dir.join("root"),
        &["config", "--python", python.to_str().expect("utf-8")],
        &[("STAPLER_OUTPUT_DIR", "BUNDLES")],
    );
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", text(&run.stderr));
    let from = |key: &str| -> String {
        stdout
            .lines()
            .find(|line| line.starts_with(&format!("{key} = ")))
            .and_then(|line| line.rsplit_once("# "))
            .map(|(_, from)| from.to_string())
            .unwrap_or_else(|| panic!("no {key}:\n{stdout}"))
    };
    assert_eq!(from("static_url"), "stapler.toml");
    assert_eq!(from("output_dir"), "environment");
    assert_eq!(from("python"), "command line");
    assert_eq!(from("template_dirs"), "Django (mysite.settings)");
    assert_eq!(from("static_root"), "Django (mysite.settings)");
    assert!(stdout.contains("# render = \"auto\""), "{stdout}");
    assert!(stdout.contains("with Django 5.2"), "{stdout}");
}

/// What a failed run must leave: a clear message naming what to do, the previous manifest.
fn assert_fails_cleanly(run: &Output, code: i32, phrases: &[&str], manifest: &Path, before: &[u8]) {
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(code), "{stderr}");
    for phrase in phrases {
        assert!(stderr.contains(phrase), "`{phrase}` not in:\n{stderr}");
    }
    assert_eq!(
        std::fs::read(manifest).expect("manifest"),
        before,
        "the previous manifest changed"
    );
}

#[test]
fn a_missing_python_a_broken_settings_module_no_compressor_and_a_dying_bridge_are_clear_errors() {
    let project = project();
    let dir = project.path();
    let python = python();
    let python = python.to_str().expect("utf-8");
    let root = dir.join("root");
    let run = stapler_in(
        dir,
        &root,
        &["compress", "--offline", "--python", python],
        &[],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let manifest = root.join("CACHE/manifest.json");
    let before = std::fs::read(&manifest).expect("manifest");

    let run = stapler_in(
        dir,
        &root,
        &["compress", "--offline", "--python", "/nonexistent/python3"],
        &[],
    );
    assert_fails_cleanly(
        &run,
        2,
        &[
            "cannot run the Django bridge with `/nonexistent/python3`",
            "--python",
        ],
        &manifest,
        &before,
    );

    let run = stapler_in(
        dir,
        &root,
        &[
            "compress",
            "--offline",
            "--python",
            python,
            "--settings",
            "mysite.broken",
        ],
        &[],
    );
    assert_fails_cleanly(
        &run,
        2,
        &[
            "Django's settings `mysite.broken` fail to load",
            "no_such_app",
            "--settings",
        ],
        &manifest,
        &before,
    );

    let django_only = python_venv("django-only-venv", &["django==5.2.*"]).join("bin/python");
    let run = stapler_in(
        dir,
        &root,
        &[
            "compress",
            "--offline",
            "--python",
            django_only.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_fails_cleanly(
        &run,
        2,
        &[
            "has Django but neither django-compressor nor stapler-assets",
            "pip install stapler-assets",
        ],
        &manifest,
        &before,
    );

    // A tag in the fixture kills its own process: the bridge dies while rendering.
    let run = stapler_in(
        dir,
        &root,
        &["compress", "--offline", "--python", python],
        &[("FIXTURE_KILL_BRIDGE", "1")],
    );
    assert_fails_cleanly(
        &run,
        3,
        &[
            "the Django bridge",
            "stopped while rendering",
            "killed by signal 9",
        ],
        &manifest,
        &before,
    );
}

/// A stapler.toml in a Django project that lists fewer folders than Django knows: `check`
/// names each folder the build would not read.
#[test]
fn check_names_the_folders_django_knows_that_the_settings_file_leaves_out() {
    let project = project();
    let dir = project.path();
    std::fs::write(
        dir.join("stapler.toml"),
        "template_dirs = [\"templates\"]\nstaticfiles_dirs = [\"assets\"]\n",
    )
    .expect("write");
    let python = python();
    let run = stapler_in(
        dir,
        &dir.join("root"),
        &["check", "--python", python.to_str().expect("utf-8")],
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Django's template folder ")
            && stderr.contains("shop/templates is not in `template_dirs`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("vendor_files is not in `staticfiles_dirs`"),
        "{stderr}"
    );
    // The folders the file does list, named relative to it, are not reported.
    let listed = |line: &str| {
        let project_folder = !line.contains("shop/") && !line.contains("site-packages");
        project_folder
            && (line.contains("/templates is not in `template_dirs`")
                || line.contains("/assets is not in `staticfiles_dirs`"))
    };
    assert!(!stderr.lines().any(listed), "{stderr}");
    std::fs::remove_file(dir.join("stapler.toml")).expect("remove");
    let clean = stapler_in(
        dir,
        &dir.join("root"),
        &["check", "--python", python.to_str().expect("utf-8")],
        &[],
    );
    // With Django's own folders, the fixture (translations with `with`, contexts from
    // COMPRESS_OFFLINE_CONTEXT) has nothing to find.
    assert!(clean.status.success(), "{}", text(&clean.stderr));
}

#[test]
fn a_pyproject_toml_for_other_tools_does_not_stand_in_the_way_of_djangos_settings() {
    let project = project();
    let dir = project.path();
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    // Most projects have one, for ruff, black or their packaging, and no [tool.stapler].
    write_files(
        dir,
        &[(
            "pyproject.toml",
            b"[project]\nname = \"mysite\"\n[tool.ruff]\nline-length = 99\n",
        )],
    );
    let root = dir.join("root");
    let run = stapler_in(dir, &root, &["config", "--python", python], &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("# Django project"),
        "{}",
        text(&run.stdout)
    );

    // Named outright, a file without the table is still a mistake.
    let run = stapler_in(dir, &root, &["config", "--config", "pyproject.toml"], &[]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("has no [tool.stapler] table"),
        "{}",
        text(&run.stderr)
    );
}

/// A copy of the manifest-storage fixture project, its static files collected into `root`.
fn manifest_project(root: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifest_project"),
        dir.path(),
    );
    manage(dir.path(), root, &["collectstatic", "--noinput"]);
    dir
}

/// With a manifest storage, `init` records it and a build without Python names the hashed
/// files the servers name: django-compressor's keys. Unsaid, or said wrongly, it is refused by
/// the build or reported by `check`, never written with wrong keys.
#[test]
fn native_builds_under_a_manifest_storage_get_the_servers_keys_or_refuse() {
    let python = python();
    let python = python.to_str().expect("utf-8");
    let peer_root = tempfile::tempdir().expect("tempdir");
    let peer = manifest_project(peer_root.path());
    manage(peer.path(), peer_root.path(), &["compress", "--force"]);
    let theirs = keys(peer_root.path());
    assert_eq!(theirs.len(), 3);

    let root = tempfile::tempdir().expect("tempdir");
    let project = manifest_project(root.path());
    let dir = project.path();
    let run = stapler_in(dir, root.path(), &["init", "--python", python], &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let written = std::fs::read_to_string(dir.join("stapler.toml")).expect("stapler.toml");
    assert!(
        written.contains("static_storage = \"manifest\""),
        "{written}"
    );
    let no_python = ["compress", "--offline", "--python", "/nonexistent/python3"];
    let run = stapler_in(dir, root.path(), &no_python, &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(keys(root.path()), theirs, "native keys are the servers'");
    let check = stapler_in(dir, root.path(), &["check", "--python", python], &[]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    // Said wrongly: `check` asks Django and fails, naming the setting.
    let plain = written.replace(
        "static_storage = \"manifest\"",
        "static_storage = \"plain\"",
    );
    std::fs::write(dir.join("stapler.toml"), &plain).expect("write");
    let check = stapler_in(dir, root.path(), &["check", "--python", python], &[]);
    let stderr = text(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("static_storage is plain but Django's static files storage")
            && stderr.contains("stapler init --force"),
        "{stderr}"
    );

    // Unsaid, with a staticfiles.json in the static root: refused, not guessed.
    let unsaid = written.replace("static_storage = \"manifest\"\n", "");
    std::fs::write(dir.join("stapler.toml"), &unsaid).expect("write");
    let manifest = std::fs::read(root.path().join("CACHE/manifest.json")).expect("manifest");
    let run = stapler_in(
        dir,
        root.path(),
        &[&no_python[..], &["--force"]].concat(),
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("staticfiles.json exists") && stderr.contains("static_storage"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(root.path().join("CACHE/manifest.json")).expect("manifest"),
        manifest,
        "the previous manifest stays"
    );

    // Said, but collectstatic has not run: refused with what to do.
    std::fs::write(dir.join("stapler.toml"), &written).expect("write");
    std::fs::remove_file(root.path().join("staticfiles.json")).expect("remove");
    let run = stapler_in(
        dir,
        root.path(),
        &[&no_python[..], &["--force"]].concat(),
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run collectstatic first"), "{stderr}");
}

/// Which sources each JS output holds, by the names of the variables they declare.
fn js_outputs_hold(root: &Path) -> Vec<(bool, bool)> {
    let mut held: Vec<(bool, bool)> = outputs(root, "js")
        .iter()
        .map(|file| {
            let js = std::fs::read_to_string(file).expect("js");
            (js.contains("site"), js.contains("more"))
        })
        .collect();
    held.sort();
    held
}

/// With `COMPRESS_PARSER` naming another parser (html5lib reads `<script src="…" />` as a
/// browser does, swallowing what follows), blocks are read by it through Django: the same
/// sources in each output as django-compressor's.
#[test]
fn blocks_are_read_by_the_projects_own_compress_parser() {
    let python = python();
    let parser = [("FIXTURE_PARSER", "compressor.parser.Html5LibParser")];
    let peer_root = tempfile::tempdir().expect("tempdir");
    let peer = manifest_project(peer_root.path());
    manage_with(
        peer.path(),
        peer_root.path(),
        &["compress", "--force"],
        &parser,
    );
    let root = tempfile::tempdir().expect("tempdir");
    let project = manifest_project(root.path());
    let args = [
        "compress",
        "--offline",
        "--python",
        python.to_str().expect("utf-8"),
    ];
    let run = stapler_in(project.path(), root.path(), &args, &parser);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("COMPRESS_PARSER is compressor.parser.Html5LibParser"),
        "{stderr}"
    );
    assert_eq!(keys(root.path()), keys(peer_root.path()));
    let ours = js_outputs_hold(root.path());
    assert_eq!(ours, js_outputs_hold(peer_root.path()));
    assert!(
        ours.contains(&(true, false)),
        "html5lib's reading: {ours:?}"
    );
}

/// A block Django cannot render offline (a `{% url %}` to no view): django-compressor's offline
/// command leaves it and the template's later blocks out and completes, so stapler does the
/// same, with a warning naming the place; `--strict` fails on it.
#[test]
fn a_block_django_cannot_render_is_left_out_as_the_peer_leaves_it_with_a_warning() {
    let python = python();
    let broken = "{% load static compress %}\n{% compress js %}<script src=\"{% url 'no-such-view' %}\"></script>{% endcompress %}\n{% compress js %}<script src=\"{% static 'js/more.js' %}\"></script>{% endcompress %}\n";
    let peer_root = tempfile::tempdir().expect("tempdir");
    let peer = manifest_project(peer_root.path());
    std::fs::write(peer.path().join("templates/broken.html"), broken).expect("write");
    manage(peer.path(), peer_root.path(), &["compress", "--force"]);
    let root = tempfile::tempdir().expect("tempdir");
    let project = manifest_project(root.path());
    std::fs::write(project.path().join("templates/broken.html"), broken).expect("write");
    let args = [
        "compress",
        "--offline",
        "--python",
        python.to_str().expect("utf-8"),
    ];
    let run = stapler_in(project.path(), root.path(), &args, &[]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("broken.html:2: Django cannot render this compress block")
            && stderr.contains("get no key, as django-compressor leaves them out"),
        "{stderr}"
    );
    assert_eq!(keys(root.path()), keys(peer_root.path()));
    let strict = stapler_in(
        project.path(),
        root.path(),
        &[&args[..], &["--strict"]].concat(),
        &[],
    );
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
}

/// A project whose offline manifest storage is its static files storage (ephios does this) has
/// its manifest read from `STATIC_ROOT/manifest.json` on the servers: stapler writes it there.
#[test]
fn the_manifest_goes_where_the_projects_offline_manifest_storage_keeps_it() {
    let python = python();
    let at_root = [("FIXTURE_MANIFEST_IN_STATIC_ROOT", "1")];
    let peer_root = tempfile::tempdir().expect("tempdir");
    let peer = manifest_project(peer_root.path());
    manage_with(
        peer.path(),
        peer_root.path(),
        &["compress", "--force"],
        &at_root,
    );
    assert!(
        peer_root.path().join("manifest.json").is_file(),
        "the peer's manifest"
    );
    let root = tempfile::tempdir().expect("tempdir");
    let project = manifest_project(root.path());
    let args = [
        "compress",
        "--offline",
        "--python",
        python.to_str().expect("utf-8"),
    ];
    let run = stapler_in(project.path(), root.path(), &args, &at_root);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(
        manifest_keys(&root.path().join("manifest.json")),
        manifest_keys(&peer_root.path().join("manifest.json"))
    );
    assert!(!root.path().join("CACHE/manifest.json").exists());
}
