//! Compatibility with the real django-compressor 4.6 on Django 5.2: the same manifest keys, and
//! Django rendering every page from stapler's manifest. The peer comes from PyPI into
//! `target/compat-venv` (or `COMPAT_PYTHON` names a Python that has it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The peer's pinned versions, installed from PyPI.
const PEER: [&str; 3] = ["django==5.2.*", "django-compressor==4.6", "jinja2==3.1.*"];

/// A Python with the peer installed: `COMPAT_PYTHON` if set, else a virtualenv made once under
/// `target/compat-venv` with the pinned versions from PyPI.
fn python() -> PathBuf {
    match std::env::var_os("COMPAT_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => python_venv("compat-venv", &PEER).join("bin/python"),
    }
}

fn check_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/django_check.py")
}

fn run_python(python: &Path, command: &str, site: &Path, static_root: &Path) -> serde_json::Value {
    let run = Command::new(python)
        .arg(check_script())
        .args([command])
        .arg(site)
        .arg(static_root)
        .output()
        .expect("run python");
    let stdout = text(&run.stdout);
    assert!(
        run.status.success(),
        "django_check.py {command} failed:\n{stdout}\n{}",
        text(&run.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

#[test]
fn django_compressor_agrees_on_keys_and_renders_from_staplers_manifest() {
    let python = python();
    let site = example_site();
    let run = stapler(site.path(), &["compress", "--offline", "-q"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stapler_root = site.path().join("build/static");
    let manifest: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(stapler_root.join("CACHE/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let mut ours: Vec<String> = manifest.keys().cloned().collect();
    ours.sort();

    let django_root = site.path().join("django-root");
    let theirs: Vec<String> =
        serde_json::from_value(run_python(&python, "compress", site.path(), &django_root))
            .expect("key list");
    assert_eq!(
        ours, theirs,
        "stapler and django-compressor disagree on the manifest's keys"
    );
    eprintln!("django-compressor and stapler agree on {} keys", ours.len());

    let report = run_python(&python, "render", site.path(), &stapler_root);
    let rendered = report["rendered"].as_u64().expect("count");
    assert_eq!(
        rendered,
        5 * 2,
        "every template in every offline context: {report}"
    );
    assert!(report["urls"].as_u64().expect("count") > 20, "{report}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
    eprintln!(
        "Django rendered {rendered} pages from stapler's manifest; {} URLs resolve",
        report["urls"]
    );
}

/// Runs stapler and django-compressor on `site` and returns both sorted key lists.
fn keys_of_both(site: &Path) -> (Vec<String>, Vec<String>) {
    let run = stapler(site, &["compress", "--offline", "-q"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let manifest: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(site.join("build/CACHE/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let mut ours: Vec<String> = manifest.keys().cloned().collect();
    ours.sort();
    let theirs: Vec<String> = serde_json::from_value(run_python(
        &python(),
        "compress",
        site,
        &site.join("django-root"),
    ))
    .expect("key list");
    (ours, theirs)
}

const CSS: &str = "<link rel=\"stylesheet\" href=\"{% static 'a.css' %}\">";

/// Templates as real repositories hold them: each must get the key the server computes.
#[test]
fn templates_as_repositories_hold_them_get_the_servers_keys() {
    let crlf = format!(
        "{{% load static compress %}}\r\n{{% compress css %}}\r\n{CSS}\r\n<style>\r\np {{ color: red }}\r\n</style>\r\n{{% endcompress %}}\r\n"
    );
    let lone_cr =
        format!("{{% load static compress %}}\r{{% compress css %}}\r{CSS}\r{{% endcompress %}}\r");
    let dotted = "{% load static compress %}{% compress css %}<link rel=\"stylesheet\" href=\"{% static './a.css' %}\"><link rel=\"stylesheet\" href=\"{% static 'sub/../b.css' %}\">{% endcompress %}";
    let commented = "{% load static compress %}{% comment %}{% if old %}<p>{% endcomment %}\n{% compress css %}{% comment %}{% for x in y %}{% endcomment %}<link rel=\"stylesheet\" href=\"{% static 'b.css' %}\">{% endcompress %}";
    let filters = "{% load compress %}{% compress js inline %}<script>var a = \"{{ missing|length }}|{{ missing|default_if_none:'x' }}|{{ missing|yesno:'a,b,c' }}|{{ missing|default:'d' }}|{% filter lower %}ABC{% endfilter %}|{% filter upper|lower %}AbC{% endfilter %}\";</script>{% endcompress %}";
    let links = "{% load static compress %}{% compress css file \"site\" %}<link rel=\"preload stylesheet\" href=\"{% static 'a.css' %}\"><link rel=\"icon\" href=\"{% static 'b.css' %}\">{% endcompress %}";
    let coffee = "{% load static compress %}{% compress js %}<script type=\"text/coffeescript\" src=\"{% static 'c.coffee' %}\"></script>{% endcompress %}";
    let site = small_site(
        &[
            ("crlf.html", &crlf),
            ("lone_cr.html", &lone_cr),
            ("dotted.html", dotted),
            ("comment.html", commented),
            ("filters.html", filters),
            ("links.html", links),
            ("coffee.html", coffee),
        ],
        &[
            ("a.css", b"a { color: blue }\n"),
            ("b.css", b"b { color: green }\n"),
            ("c.coffee", b"x = -> 1\n"),
        ],
    );
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours.len(), 7, "{ours:?}");
    assert_eq!(ours, theirs);
}

/// Templates Django cannot compile are skipped, as django-compressor skips them, and the rest
/// is built: the same keys on both sides, and stapler names each skipped template.
#[test]
fn templates_django_cannot_compile_are_skipped_as_the_peer_skips_them() {
    let good = format!("{{% load static compress %}}{{% compress css %}}{CSS}{{% endcompress %}}");
    let unterminated = "{% load compress %}\n{% compress js %}<script>var a = 1;</script>\n";
    let bad_mode = format!("{{% load static compress %}}{{% compress js %}}<script>var b = 1;</script>{{% endcompress %}}\n{{% compress css sideways %}}{CSS}{{% endcompress %}}");
    let unknown_tag = "{% load static compress %}\n{% frobnicate %}\n{% compress js %}<script>var c = 1;</script>{% endcompress %}";
    let site = small_site(
        &[
            ("good.html", &good),
            ("unterminated.html", unterminated),
            ("bad_mode.html", &bad_mode),
            ("unknown_tag.html", unknown_tag),
        ],
        &[("a.css", b"a { color: blue }\n")],
    );
    let warned = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&warned.stderr);
    assert!(warned.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: templates/unterminated.html: template skipped: invalid template (line 2, inside a compress block)")
            && stderr.contains("warning: templates/bad_mode.html: template skipped: invalid template (line 2): unknown compress mode `sideways`")
            && stderr.contains("warning: templates/unknown_tag.html: template skipped: invalid template (line 2): Invalid block tag on line 2: 'frobnicate'"),
        "{stderr}"
    );
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours, theirs);
}

/// A `url()` to a file that is not there is left absolute and unhashed, as django-compressor
/// leaves it, and stapler says which file, line and target.
#[test]
fn urls_to_missing_files_are_left_as_the_peer_leaves_them() {
    let block = "{% load static compress %}{% compress css %}<link rel=\"stylesheet\" href=\"{% static 'css/a.css' %}\">{% endcompress %}";
    let site = small_site(
        &[("t.html", block)],
        &[(
            "css/a.css",
            b"a { color: red }\nb { background: url(../img/gone.png?v=1#frag) }\n",
        )],
    );
    let warned = stapler(site.path(), &["compress", "--offline", "-v"]);
    let stderr = text(&warned.stderr);
    assert!(warned.status.success(), "{stderr}");
    assert!(
        stderr.contains("static/css/a.css:2: url(../img/gone.png?v=1#frag) refers to img/gone.png, which does not exist in")
            && stderr.contains("left as /static/img/gone.png?v=1#frag, unhashed"),
        "{stderr}"
    );
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours, theirs);
    let css_in = |root: &Path| {
        let folder = root.join("CACHE/css");
        let file = std::fs::read_dir(&folder)
            .expect("css")
            .next()
            .expect("one")
            .expect("entry");
        std::fs::read_to_string(file.path()).expect("css")
    };
    let wanted = "url(/static/img/gone.png?v=1#frag)";
    assert!(css_in(&site.path().join("django-root")).contains(wanted));
    assert!(
        css_in(&site.path().join("build")).contains(wanted),
        "{}",
        css_in(&site.path().join("build"))
    );
}
