//! Compatibility with the real django-compressor: the same manifest keys, the same parts in
//! every block, and Django rendering every page from stapler's manifest. The reference peer
//! (django-compressor 4.7 on Django 5.2) comes from PyPI into `target/compat-venv`;
//! `COMPAT_PYTHON` names another Python that has a peer (`.ci/run` also runs these tests with
//! django-compressor 4.6 on Django 4.2, and 4.7 on Django 6).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The peer's pinned versions, installed from PyPI.
const PEER: [&str; 4] = [
    "django==5.2.*",
    "django-compressor==4.7.*",
    "jinja2==3.1.*",
    "html5lib==1.1",
];

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

fn split_parts_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/split_parts.py")
}

/// The parts django-compressor's own parser (`split_contents`) makes of each block stapler
/// built, as stapler's JSON report lists them: (source, file or text hash, attributes), with
/// the block's template and line for messages.
fn peer_parts(site: &Path, report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let blocks: Vec<serde_json::Value> = report["build"]["parts"]
        .as_array()
        .expect("build.parts")
        .iter()
        .map(|block| {
            serde_json::json!({"key": block["key"], "kind": block["kind"], "body": block["body"]})
        })
        .collect();
    let request = serde_json::json!({
        "static_root": site.join("build"),
        "static_url": "/static/",
        "staticfiles_dirs": [site.join("static")],
        "blocks": blocks,
    });
    let mut child = Command::new(python())
        .arg(split_parts_script())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run split_parts.py");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("request");
    }
    let done = child.wait_with_output().expect("split_parts.py");
    assert!(done.status.success(), "{}", text(&done.stderr));
    let answers: Vec<serde_json::Value> =
        serde_json::from_slice(&done.stdout).expect("split_parts.py answers JSON");
    answers
        .into_iter()
        .map(|answer| (answer["key"].as_str().unwrap_or("").to_string(), answer))
        .collect()
}

/// A part as both sides describe it: the real path of a file or the hash of a text, and the
/// attributes as Python's `dict(attrs)` has them.
fn comparable(part: &serde_json::Value) -> String {
    let what = match part["source"].as_str() {
        Some("file") => std::fs::canonicalize(part["path"].as_str().unwrap_or(""))
            .map(|path| path.display().to_string())
            .unwrap_or_else(|_| format!("missing {}", part["path"])),
        _ => format!("inline {}", part["sha256"]),
    };
    let attrs: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_value(part["attrs"].clone()).unwrap_or_default();
    format!(
        "{what} {}",
        serde_json::to_string(&attrs).unwrap_or_default()
    )
}

/// Block bodies as real projects write them, and as browsers read them differently from
/// Python's `html.parser`: stapler bundles exactly the parts django-compressor's parser finds.
#[test]
fn every_block_bundles_the_parts_django_compressors_parser_finds() {
    let js =
        |body: &str| format!("{{% load compress %}}{{% compress js %}}{body}{{% endcompress %}}");
    let css =
        |body: &str| format!("{{% load compress %}}{{% compress css %}}{body}{{% endcompress %}}");
    let bodies = [
        js("<script src=\"/static/js/a.js\" />\n<script type=\"text/javascript\" src=\"/static/js/b.js\"/>\n<script src=\"/static/js/c.js\"></script>\n"),
        js("<SCRIPT SRC=\"/static/js/a.js\"></SCRIPT><Script Type=\"text/javascript\" src=/static/js/b.js></Script>"),
        js("<script src=/static/js/a.js defer></script><script async src=/static/js/b.js></script><script async=\"async\" src='/static/js/c.js'></script>"),
        js("<!--[if lt IE 9]><script src=\"/static/js/ie.js\"></script><![endif]--><script src=\"/static/js/a.js\"></script><!-- <script src=\"/static/js/b.js\"></script> -->"),
        js("<noscript><p>no</p></noscript><template><script src=\"/static/js/a.js\"></script></template>"),
        js("<![CDATA[ <script src=\"/static/js/ie.js\"></script> ]]><script src=\"/static/js/b.js\"></script>"),
        js("<script src=\"/static/js/a.js?v=1&amp;x=2\"></script><script src=\"/static/js/../js/b.js\"></script><script src=\"/static/./js/c.js\"></script>"),
        js("<script>var s = \"</div>\"; var t = '<script>';</script ><script src=\"/static/js/ie.js\" src=\"/static/js/a.js\"></script>"),
        js("<script src=\"/static/js/a.js\"></script>\n<script>var open = 1;\n"),
        css("<link rel=\"stylesheet\" href=\"/static/css/a.css\" /><link rel=stylesheet href=/static/css/b.css media=print><style>p{color:red}</style>"),
        css("<link rel=\"preload stylesheet\" href=\"/static/css/a.css\"><link rel=\"StyleSheet\" href=\"/static/css/b.css\"><link rel=\"icon\" href=\"/static/css/a.css\">"),
        css("<!-- <link rel=\"stylesheet\" href=\"/static/css/b.css\"> --><noscript><LINK REL=\"stylesheet\" HREF=\"/static/css/a.css\" MEDIA=\"screen\"></noscript>"),
    ];
    let templates: Vec<(String, String)> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| (format!("case{index:02}.html"), body.clone()))
        .collect();
    let template_refs: Vec<(&str, &str)> = templates
        .iter()
        .map(|(name, body)| (name.as_str(), body.as_str()))
        .collect();
    let site = small_site(
        &template_refs,
        &[
            ("js/a.js", b"var a = 1;\n"),
            ("js/b.js", b"var b = 2;\n"),
            ("js/c.js", b"var c = 3;\n"),
            ("js/ie.js", b"var ie = 4;\n"),
            ("css/a.css", b"a { color: blue }\n"),
            ("css/b.css", b"b { color: green }\n"),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline", "--format", "json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json report");
    let theirs: std::collections::HashMap<String, serde_json::Value> =
        peer_parts(site.path(), &report).into_iter().collect();
    let blocks = report["build"]["parts"].as_array().expect("parts");
    assert_eq!(blocks.len(), bodies.len(), "one distinct block per case");
    let mut differences = Vec::new();
    for block in blocks {
        let key = block["key"].as_str().expect("key");
        let place = format!("{}:{}", block["template"], block["line"]);
        let answer = &theirs[key];
        let Some(peer) = answer["parts"].as_array() else {
            differences.push(format!(
                "{place}: django-compressor failed: {}",
                answer["error"]
            ));
            continue;
        };
        let ours: Vec<String> = block["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .map(comparable)
            .collect();
        let peer: Vec<String> = peer.iter().map(comparable).collect();
        if ours != peer {
            differences.push(format!(
                "{place}:\n  stapler:           {ours:?}\n  django-compressor: {peer:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "parts differ:\n{}",
        differences.join("\n")
    );
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours, theirs);
}

/// Input django-compressor builds and stapler objects to (CSS a browser ignores, a url with a
/// doubled slash, a script that redeclares a parameter) builds with warnings and the peer's
/// keys; the url is found as the peer finds it.
#[test]
fn input_the_peer_builds_is_built_with_warnings() {
    let block = "{% load static compress %}{% compress css %}<link rel=\"stylesheet\" href=\"{% static 'css/theme.css' %}\">{% endcompress %}{% compress js %}<script src=\"{% static 'js/cart.js' %}\"></script>{% endcompress %}";
    let site = small_site(
        &[("t.html", block)],
        &[
            (
                "css/theme.css",
                b"a { color: red; @apply: underline; }\n@font-face { src: url(/static//fonts/icons.woff) }\n",
            ),
            ("fonts/icons.woff", b"wOFF"),
            ("js/cart.js", b"function total(items) {\n  const items = [];\n  return items.length;\n}\n"),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("css/theme.css:1:")
            && stderr.contains("CSS that browsers would drop")
            && stderr.contains("js/cart.js:2:")
            && stderr.contains("Identifier 'items' has already been declared"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("fonts/icons"),
        "the doubled slash finds the file: {stderr}"
    );
    let css = outputs(&site.path().join("build"), "css");
    let css = std::fs::read_to_string(&css[0]).expect("css");
    assert!(
        css.contains("/static/fonts/icons.") && css.contains("@apply"),
        "{css}"
    );
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours, theirs);
}

/// With `COMPRESS_ENABLED = False`, `manage.py compress` writes each element to a file of its
/// own; so does stapler, and the keys agree.
#[test]
fn compression_disabled_gives_each_element_its_own_file() {
    let block = "{% load static compress %}{% compress js %}<script src=\"{% static 'a.js' %}\"></script><script src=\"{% static 'b.js' %}\"></script><script>var c = 3;</script>{% endcompress %}";
    let site = small_site(
        &[("t.html", block)],
        &[("a.js", b"var a = 1;\n"), ("b.js", b"var b = 2;\n")],
    );
    append_config(site.path(), "enabled = false\n");
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours, theirs);
    let count = |root: &Path| {
        std::fs::read_dir(root.join("CACHE/js"))
            .expect("js")
            .count()
    };
    assert_eq!(
        count(&site.path().join("django-root")),
        3,
        "the peer's files"
    );
    assert_eq!(count(&site.path().join("build")), 3, "stapler's files");
}

/// The selectors of every CSS output under a static root, spaces removed.
fn css_selectors(root: &Path) -> std::collections::BTreeSet<String> {
    let rule = regex::Regex::new(r"([^{}]+)\{").expect("regex");
    outputs(root, "css")
        .iter()
        .flat_map(|file| {
            let css = std::fs::read_to_string(file).expect("css");
            rule.captures_iter(&css)
                .flat_map(|found| {
                    found[1]
                        .split(',')
                        .map(|selector| selector.split_whitespace().collect::<String>())
                        .collect::<Vec<_>>()
                })
                .filter(|selector| !selector.starts_with('@'))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Old browsers' placeholder selectors, which lightningcss would rewrite into others, keep the
/// selectors django-compressor's output keeps (found on Bootstrap 4 sites).
#[test]
fn vendor_placeholder_selectors_are_the_ones_django_compressor_keeps() {
    let block = "{% load static compress %}{% compress css %}<link rel=\"stylesheet\" href=\"{% static 'forms.css' %}\">{% endcompress %}";
    let css = b".form-control::-webkit-input-placeholder { color: #6c757d }\n.form-control::-moz-placeholder { color: #6c757d }\n.form-control:-ms-input-placeholder { color: #6c757d }\n.form-control::-ms-input-placeholder { color: #6c757d }\n.wrapper:-moz-placeholder { opacity: 1 }\n.form-control::placeholder { color: #6c757d }\n";
    let site = small_site(&[("t.html", block)], &[("forms.css", css.as_slice())]);
    let (ours, theirs) = keys_of_both(site.path());
    assert_eq!(ours, theirs);
    assert_eq!(
        css_selectors(&site.path().join("build")),
        css_selectors(&site.path().join("django-root"))
    );
}
