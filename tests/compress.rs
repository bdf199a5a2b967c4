//! `stapler compress --offline` on the example site and on focused sites, through the binary.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

fn manifest(root: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root.join("CACHE/manifest.json")).expect("manifest written");
    serde_json::from_str(&text).expect("manifest is JSON")
}

#[test]
fn example_site_compresses_into_a_manifest_whose_files_exist() {
    let site = example_site();
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("5 templates scanned (0 skipped)"),
        "{stdout}"
    );
    assert!(stdout.contains("2 context(s)"), "{stdout}");

    let root = site.path().join("build/static");
    let entries = manifest(&root);
    assert!(entries.len() >= 10, "{entries:?}");
    let url_re = regex::Regex::new(r#"(?:href|src)="(/__compressor_url_placeholder__/[^"]+)""#)
        .expect("regex");
    for (key, value) in &entries {
        assert_eq!(key.len(), 64);
        assert!(key
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        for found in url_re.captures_iter(value) {
            let relative = found[1].trim_start_matches("/__compressor_url_placeholder__/");
            assert!(
                root.join(relative).is_file(),
                "{relative} referenced by the manifest is missing"
            );
        }
        assert!(
            !value.contains("/static/CACHE"),
            "the url must be replaced by the placeholder: {value}"
        );
    }
    // Every output name is <name>.<first 12 hex of sha256(content)>.<kind>.
    for kind in ["css", "js"] {
        for file in outputs(&root, kind) {
            let content = std::fs::read(&file).expect("read output");
            let digest: String = sha2_hex(&content)[..12].to_string();
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_string();
            assert!(
                name.ends_with(&format!(".{digest}.{kind}")),
                "{name} vs {digest}"
            );
        }
    }
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_output_reparses_and_every_css_url_resolves() {
    let site = example_site();
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));
    let root = site.path().join("build/static");
    let url_re = regex::Regex::new(r#"url\(\s*['"]?([^'")]+)"#).expect("regex");
    for file in outputs(&root, "css") {
        let css = std::fs::read_to_string(&file).expect("read");
        assert_css_parses(&css, &file.display().to_string());
        for found in url_re.captures_iter(&css) {
            let url = &found[1];
            if url.starts_with("data:") || url.starts_with("https:") {
                continue;
            }
            let path = url
                .trim_start_matches("/static/")
                .split(['?', '#'])
                .next()
                .expect("path");
            assert!(
                root.join(path).is_file(),
                "{url} in {} does not resolve",
                file.display()
            );
        }
    }
    for file in outputs(&root, "js") {
        let js = std::fs::read_to_string(&file).expect("read");
        stapler::compress::js::check("out.js", &js)
            .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        let check = node().arg("--check").arg(&file).output().expect("node");
        assert!(
            check.status.success(),
            "{}: {}",
            file.display(),
            text(&check.stderr)
        );
    }
}

#[test]
fn output_is_the_same_whatever_the_thread_count() {
    let mut results = Vec::new();
    for threads in ["1", "2", "4"] {
        let site = example_site();
        let run = Command::new(env!("CARGO_BIN_EXE_stapler"))
            .args(["compress", "--offline", "-q"])
            .current_dir(site.path())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .expect("run");
        assert!(run.status.success(), "{}", text(&run.stderr));
        let mut files = BTreeMap::new();
        for entry in walkdir::WalkDir::new(site.path().join("build")) {
            let entry = entry.expect("walk");
            if entry.file_type().is_file() {
                let relative = entry
                    .path()
                    .strip_prefix(site.path())
                    .expect("inside")
                    .to_path_buf();
                files.insert(relative, std::fs::read(entry.path()).expect("read"));
            }
        }
        results.push(files);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[1], results[2]);
}

#[test]
fn manifest_snapshot() {
    let site = example_site();
    let run = stapler(site.path(), &["compress", "--offline", "-q"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let manifest = std::fs::read_to_string(site.path().join("build/static/CACHE/manifest.json"))
        .expect("manifest");
    insta::assert_snapshot!("example_manifest", manifest);
}

#[test]
fn lookup_explains_a_template() {
    let site = example_site();
    assert!(stapler(site.path(), &["compress", "--offline", "-q"])
        .status
        .success());
    let run = stapler(site.path(), &["lookup", "pages/blog/post.html"]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
    assert!(stdout.contains("in manifest: yes"), "{stdout}");
    assert!(
        stdout.contains("css/blog.css"),
        "the body after inheritance shows the child's link: {stdout}"
    );
    assert!(stdout.contains("rel=\"preload\""), "{stdout}");
    assert!(!stdout.contains("in manifest: NO"), "{stdout}");
}

#[test]
fn lookup_reports_a_missing_manifest() {
    let site = example_site();
    let run = stapler(site.path(), &["lookup", "pages/home.html"]);
    assert!(!run.status.success());
    assert!(text(&run.stdout).contains("in manifest: NO"));
}

#[test]
fn jinja2_templates_are_compressed() {
    let site = small_site(
        &[(
            "page.jinja",
            "{% extends 'base.jinja' %}{% block head %}\n{% compress 'css', 'file', 'styles' %}\n<link rel=\"stylesheet\" href=\"{{ static('a.css') }}\">\n<style>p { color: {{ color }}; }</style>\n{% endcompress %}{% endblock %}",
        )],
        &[("a.css", b"a { color: #000000; }")],
    );
    std::fs::write(site.path().join("stapler.toml"), "static_root = \"build\"\nstaticfiles_dirs = [\"static\"]\ntemplate_dirs = [\"templates\"]\nengine = \"jinja2\"\nextensions = [\".jinja\"]\noffline_context = { color = \"red\" }\n").expect("config");
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let entries = manifest(&site.path().join("build"));
    let body =
        "\n<link rel=\"stylesheet\" href=\"/static/a.css\">\n<style>p { color: red; }</style>\n";
    let key = stapler::block::key(body, "/static/");
    let value = entries.get(&key).unwrap_or_else(|| panic!("{entries:?}"));
    assert!(value.contains("CACHE/css/styles."), "{value}");
}

#[test]
fn without_django_i18n_tags_render_as_written_and_the_run_says_so() {
    let site = small_site(
        &[(
            "page.html",
            "{% load compress i18n %}{% compress js inline %}<script>var t = \"{% trans 'Home' %}\", l = \"{% get_current_language as L %}{{ L }}\";</script>{% endcompress %}",
        )],
        &[],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("warning: i18n tags in compress blocks were rendered as written in `en-us`"),
        "{stderr}"
    );
    let key = stapler::block::key(
        "<script>var t = \"Home\", l = \"en-us\";</script>",
        "/static/",
    );
    assert!(manifest(&site.path().join("build")).contains_key(&key));
}

#[test]
fn a_template_that_does_not_parse_is_skipped_with_a_warning() {
    let site = small_site(
        &[
            (
                "good.html",
                "{% load compress %}{% compress js %}<script>var a = 1;</script>{% endcompress %}",
            ),
            ("bad.html", "{% if broken %}never closed"),
        ],
        &[],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("bad.html") && stderr.contains("endif"),
        "{stderr}"
    );
    assert!(text(&run.stdout).contains("(1 skipped)"));
}

#[test]
fn css_urls_can_keep_django_compressors_query_form() {
    let site = small_site(
        &[("t.html", "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/css/a.css\">{% endcompress %}")],
        &[("css/a.css", b"a{background:url(../img/x.png#frag)}"), ("img/x.png", b"png")],
    );
    std::fs::write(site.path().join("stapler.toml"), "static_root = \"build\"\nstaticfiles_dirs = [\"static\"]\ntemplate_dirs = [\"templates\"]\ncss_hashing_method = \"query\"\n").expect("config");
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let css = std::fs::read_to_string(&outputs(&site.path().join("build"), "css")[0]).expect("css");
    let hash = &sha2_hex(b"png")[..12];
    assert!(
        css.contains(&format!("/static/img/x.png?{hash}#frag")),
        "{css}"
    );
}

fn build_files(site: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(site.join("build"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(site).expect("inside").to_path_buf(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

#[test]
fn warm_runs_use_the_cache_and_write_the_same_bytes() {
    let site = example_site();
    let cold = text(&stapler(site.path(), &["compress", "--offline"]).stdout);
    assert!(cold.contains("0 minified from cache"), "{cold}");
    let cold_files = build_files(site.path());
    std::fs::remove_dir_all(site.path().join("build")).expect("clean outputs");
    let warm = text(&stapler(site.path(), &["compress", "--offline"]).stdout);
    assert!(warm.contains("19 minified from cache"), "{warm}");
    assert_eq!(build_files(site.path()), cold_files);

    // A damaged entry is detected and rebuilt, never used.
    let cache = site.path().join(".stapler-cache");
    for entry in walkdir::WalkDir::new(&cache)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let bytes = std::fs::read(entry.path()).expect("entry");
        std::fs::write(entry.path(), &bytes[..bytes.len() / 2]).expect("truncate");
    }
    std::fs::remove_dir_all(site.path().join("build")).expect("clean outputs");
    let damaged = text(&stapler(site.path(), &["compress", "--offline"]).stdout);
    assert!(damaged.contains("0 minified from cache"), "{damaged}");
    assert_eq!(build_files(site.path()), cold_files);

    let bypass = text(&stapler(site.path(), &["compress", "--offline", "--no-cache"]).stdout);
    assert!(bypass.contains("0 minified from cache"), "{bypass}");
}

#[test]
fn js_minify_level_is_configurable_and_mangles_without_compressing_by_default() {
    let source: &[u8] = b"function add(firstNumber, secondNumber) {\n  if (true) { return firstNumber + secondNumber; }\n}\n";
    let template = "{% load compress %}{% compress js %}<script src=\"/static/a.js\"></script>{% endcompress %}";
    let mut minified = Vec::new();
    for level in [None, Some("full"), Some("whitespace")] {
        let site = small_site(&[("t.html", template)], &[("a.js", source)]);
        let setting = level.map_or(String::new(), |level| format!("js_minify = \"{level}\"\n"));
        std::fs::write(
            site.path().join("stapler.toml"),
            format!("static_root = \"build\"\nstaticfiles_dirs = [\"static\"]\ntemplate_dirs = [\"templates\"]\n{setting}"),
        )
        .expect("config");
        let run = stapler(site.path(), &["compress", "--offline"]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        minified.push(
            std::fs::read_to_string(&outputs(&site.path().join("build"), "js")[0]).expect("js"),
        );
    }
    let [default, full, whitespace] = &minified[..] else {
        unreachable!("three levels were built")
    };
    assert!(
        !default.contains("firstNumber") && default.contains("if(true){return"),
        "the default mangles locals and leaves the code's shape: {default}"
    );
    assert!(
        !full.contains("firstNumber") && !full.contains("if("),
        "full mangles locals and compresses: {full}"
    );
    assert!(
        whitespace.contains("firstNumber"),
        "whitespace keeps names: {whitespace}"
    );
}

/// Every file a build or a `file://` publish writes is readable by the web server's user, as any
/// file made under the umask is, not 0600.
#[cfg(unix)]
#[test]
fn outputs_and_published_files_get_the_umask_mode() {
    use std::os::unix::fs::PermissionsExt;
    let site = example_site();
    let run = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && exec '{}' deploy",
            env!("CARGO_BIN_EXE_stapler")
        ))
        .current_dir(site.path())
        .env_remove("CI")
        .output()
        .expect("run stapler");
    assert!(run.status.success(), "{}", text(&run.stderr));
    let mut checked = 0;
    for folder in ["build/static/CACHE", "build/static/img", "build/published"] {
        for entry in walkdir::WalkDir::new(site.path().join(folder))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
        {
            let mode = entry.metadata().expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{}", entry.path().display());
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} files checked");
}

/// A template file that is a symbolic link is read wherever it points, as Django loads it and
/// django-compressor's offline walk lists it; a broken link is skipped and said.
#[cfg(unix)]
#[test]
fn symlinked_template_files_are_read_wherever_they_point() {
    let block = |name: &str| {
        format!("{{% load compress %}}{{% compress js %}}<script>var {name} = 1;</script>{{% endcompress %}}")
    };
    let site = small_site(&[("_sources/page.txt", &block("inside"))], &[]);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::fs::write(elsewhere.path().join("shared.html"), block("elsewhere")).expect("write");
    let templates = site.path().join("templates");
    std::os::unix::fs::symlink(
        templates.join("_sources/page.txt"),
        templates.join("page.html"),
    )
    .expect("link inside");
    std::os::unix::fs::symlink(
        elsewhere.path().join("shared.html"),
        templates.join("shared.html"),
    )
    .expect("link elsewhere");
    std::os::unix::fs::symlink(templates.join("gone.html"), templates.join("broken.html"))
        .expect("broken link");
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        text(&run.stdout).contains("2 templates scanned (1 skipped)"),
        "{}",
        text(&run.stdout)
    );
    assert!(
        stderr.contains("broken.html: template skipped: a symbolic link that cannot be followed"),
        "{stderr}"
    );
    let mut scripts: Vec<String> = outputs(&site.path().join("build"), "js")
        .iter()
        .map(|bundle| std::fs::read_to_string(bundle).expect("bundle"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 2, "{scripts:?}");
    assert!(
        scripts[0].contains("elsewhere") && scripts[1].contains("inside"),
        "{scripts:?}"
    );
}

/// Legal CSS escapes in `url()` name real files: they are found, hashed and written back escaped.
#[test]
fn escaped_css_urls_name_real_files() {
    let css = b"a { background: url(img/a\\(1\\).png) }\nb { background: url(img/with\\ space.png) }\nc { background: url(\"img/quo\\\"te.png\") }\n";
    let site = small_site(
        &[(
            "t.html",
            "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/s.css\">{% endcompress %}",
        )],
        &[
            ("s.css", css.as_slice()),
            ("img/a(1).png", b"one"),
            ("img/with space.png", b"two"),
            ("img/quo\"te.png", b"three"),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let root = site.path().join("build");
    let out = std::fs::read_to_string(&outputs(&root, "css")[0]).expect("css");
    for (name, bytes) in [
        ("a(1)", b"one".as_slice()),
        ("with space", b"two"),
        ("quo\"te", b"three"),
    ] {
        let hashed = format!("img/{name}.{}.png", &sha2_hex(bytes)[..12]);
        assert!(root.join(&hashed).is_file(), "{hashed} written");
        // The minifier spells each url its own valid way (quoted, or escaped); with the escapes
        // taken out, every hashed name is there.
        assert!(
            out.replace('\\', "").contains(&format!("/static/{hashed}")),
            "{hashed} in {out}"
        );
    }
}

/// A CSS escape for `<` in an inline block comes out of the minifier as `<`; the rendered
/// `<style>` must still end only where it ends.
#[test]
fn an_escaped_end_tag_in_inline_css_stays_escaped() {
    let template = "{% load compress %}{% compress css inline %}<style>p::after { content: \"\\3c/style><script>alert(1)</script>\" }</style>{% endcompress %}";
    let site = small_site(&[("t.html", template)], &[]);
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let values: Vec<String> = manifest(&site.path().join("build")).into_values().collect();
    assert_eq!(values.len(), 1);
    let html = values[0].to_ascii_lowercase();
    assert_eq!(html.matches("</style").count(), 1, "{}", values[0]);
    assert!(html.ends_with("</style>"), "{}", values[0]);
}

/// A strict file followed by a sloppy one: concatenated, the sloppy file would run in strict
/// mode and throw. Each keeps its mode in a script of its own, and the departure is said.
#[test]
fn strict_and_sloppy_scripts_keep_their_modes() {
    let template = "{% load compress %}{% compress js %}<script src=\"/static/strict.js\"></script><script src=\"/static/sloppy.js\"></script><script src=\"/static/sloppy2.js\"></script>{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[
            ("strict.js", b"'use strict';\nwindow.fromStrict = (function () { return this; })() === undefined;\n"),
            ("sloppy.js", b"implicitGlobal = 1;\nwindow.fromSloppy = implicitGlobal + 1;\n"),
            ("sloppy2.js", b"window.both = window.fromStrict && window.fromSloppy === 2;\n"),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline", "-v"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "t.html:1: split into separate scripts so each keeps its \"use strict\" mode"
        ) && stderr.contains("strict.js (strict) and ")
            && stderr.contains("sloppy.js (not strict)"),
        "{stderr}"
    );
    let root = site.path().join("build");
    let html = manifest(&root).into_values().next().expect("one block");
    let sources: Vec<String> = html
        .split("src=\"/__compressor_url_placeholder__/")
        .skip(1)
        .map(|rest| rest.split('"').next().expect("url").to_string())
        .collect();
    assert_eq!(sources.len(), 2, "{html}");
    // Each output runs as its own script, as the browser runs each <script> element.
    let mut program = String::from("const vm = require('vm'); global.window = global;\n");
    for source in &sources {
        let code = std::fs::read_to_string(root.join(source)).expect("bundle");
        program.push_str(&format!("vm.runInThisContext({code:?});\n"));
    }
    program.push_str("if (window.both !== true) { throw new Error('modes changed'); }\n");
    let node = node().arg("-e").arg(&program).output().expect("node");
    assert!(node.status.success(), "{}", text(&node.stderr));
}

/// Inputs nested thousands deep build, or are refused with a message naming the file and line;
/// none crashes stapler.
#[test]
fn deeply_nested_inputs_never_crash() {
    let js_block = "{% load compress %}{% compress js %}<script src=\"/static/a.js\"></script>{% endcompress %}";
    let css_block = "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/a.css\">{% endcompress %}";
    let nest = |open: &str, inner: &str, close: &str, n: usize| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    let chain = vec!["\"a\""; 10_000].join(" + ");
    let cases: Vec<(&str, String, &str, String, Option<&str>)> = vec![
        ("js chain", js_block.into(), "a.js", format!("var s = {chain};"), None),
        ("js parens", js_block.into(), "a.js", format!("var p = {};", nest("(", "1", ")", 5_000)), None),
        ("js arrays", js_block.into(), "a.js", format!("var q = {};", nest("[", "", "]", 5_000)), None),
        (
            "js past the limit",
            js_block.into(),
            "a.js",
            format!("var p = {};", nest("(", "1", ")", 100_000)),
            None,
        ),
        (
            "css nested",
            css_block.into(),
            "a.css",
            nest("@media screen { ", "a { color: red }", "}", 3_000),
            None,
        ),
        (
            // Bundled as written, as django-compressor bundles it, with a warning.
            "css past the limit",
            css_block.into(),
            "a.css",
            format!("a{{}}\nb {}", nest("{ b ", "", "}", 20_000)),
            None,
        ),
        (
            "template past the limit",
            format!(
                "{}\n{{% load compress %}}{{% compress js %}}<script>var a = 1;</script>{{% endcompress %}}",
                nest("{% if x %}", "", "{% endif %}", 10_000)
            ),
            "a.js",
            String::new(),
            Some("block tags are nested more than 10000 deep"),
        ),
    ];
    for (name, template, file, source, refusal) in cases {
        let site = small_site(&[("t.html", &template)], &[(file, source.as_bytes())]);
        let run = stapler(site.path(), &["compress", "--offline", "-v"]);
        let stderr = text(&run.stderr);
        match refusal {
            None => assert!(run.status.success(), "{name}: {stderr}"),
            Some(message) => {
                assert_eq!(run.status.code(), Some(1), "{name}: {stderr}");
                assert!(stderr.contains(message), "{name}: {stderr}");
            }
        }
    }
}

/// Percent-encoded names in hrefs and urls are decoded to find the file, and the hashed copy is
/// written under the name the web server will decode the url to.
#[test]
fn percent_encoded_names_are_decoded() {
    let template = "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/caf%C3%A9.css\">{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[
            (
                "café.css",
                b"a { background: url(img/%C3%A9t%C3%A9.png) }".as_slice(),
            ),
            ("img/été.png", b"png"),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let hash = &sha2_hex(b"png")[..12];
    let root = site.path().join("build");
    assert!(root.join(format!("img/été.{hash}.png")).is_file());
    let names: Vec<String> = std::fs::read_dir(root.join("img"))
        .expect("img")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("été.{hash}.png")]);
    let css = std::fs::read_to_string(&outputs(&root, "css")[0]).expect("css");
    assert!(
        css.contains(&format!("/static/img/%C3%A9t%C3%A9.{hash}.png")),
        "{css}"
    );
}

/// CSS a browser would drop is bundled as written, as django-compressor bundles it, and said
/// with its place; `css_errors = "error"` stops the build on it instead.
#[test]
fn css_a_browser_drops_is_bundled_unless_css_errors_is_error() {
    let template = "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/a.css\">{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[(
            "a.css",
            b"a { color: red }\nb { colr red }\nc { color: blue }\n".as_slice(),
        )],
    );
    let run = stapler(site.path(), &["compress", "--offline", "-v"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("static/a.css:2:9: CSS that browsers would drop (Unexpected token Ident(\"red\")); bundled as written"),
        "{stderr}"
    );
    let css = std::fs::read_to_string(&outputs(&site.path().join("build"), "css")[0]).expect("css");
    assert!(
        css.contains("colr red") && css.contains("color:blue"),
        "{css}"
    );
    append_config(site.path(), "css_errors = \"error\"\n");
    let refused = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("static/a.css:2:9: CSS that browsers would drop"),
        "{stderr}"
    );
}

/// Every URL the manifest names is a file whose name carries the hash of its content.
fn assert_manifest_files_intact(root: &Path) {
    let url_re = regex::Regex::new(r#"/__compressor_url_placeholder__/([^"]+)""#).expect("regex");
    let hashed_re = regex::Regex::new(r"\.([0-9a-f]{12})\.[a-z0-9]+$").expect("regex");
    for value in manifest(root).values() {
        for found in url_re.captures_iter(value) {
            let path = root.join(&found[1]);
            let bytes =
                std::fs::read(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
            let hash = &hashed_re.captures(&found[1]).expect("hashed name")[1];
            assert_eq!(
                &sha2_hex(&bytes)[..12],
                hash,
                "{} is damaged",
                path.display()
            );
        }
    }
}

/// A site whose stylesheet points at large images, so writing the hashed copies takes time.
fn site_with_large_assets() -> tempfile::TempDir {
    let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let css = (0..6)
        .map(|i| format!(".i{i} {{ background: url(img/big{i}.png) }}\n"))
        .collect::<String>();
    let mut statics: Vec<(String, Vec<u8>)> = vec![("site.css".into(), css.into_bytes())];
    for i in 0..6u8 {
        let mut bytes = big.clone();
        bytes[0] = i;
        statics.push((format!("img/big{i}.png"), bytes));
    }
    let statics: Vec<(&str, &[u8])> = statics
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    small_site(
        &[(
            "t.html",
            "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/site.css\">{% endcompress %}",
        )],
        &statics,
    )
}

/// Two builds of the same site at once both succeed and leave intact outputs.
#[test]
fn two_builds_at_once_both_succeed() {
    let site = site_with_large_assets();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_stapler"))
            .args(["compress", "--offline", "--no-cache"])
            .current_dir(site.path())
            .env_remove("CI")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start stapler")
    };
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(site.path().join("build"));
        let (first, second) = (start(), start());
        for run in [first, second] {
            let output = run.wait_with_output().expect("wait");
            assert!(output.status.success(), "{}", text(&output.stderr));
        }
        assert_manifest_files_intact(&site.path().join("build"));
        let leftovers: Vec<_> = walkdir::WalkDir::new(site.path().join("build"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".stapler-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}

/// Killed at any moment, a build leaves either the previous manifest or the complete new one,
/// never a partial one; the next run completes.
#[test]
fn a_killed_build_leaves_the_previous_or_the_complete_manifest() {
    let reference = site_with_large_assets();
    let run = stapler(reference.path(), &["compress", "--offline", "--no-cache"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let complete =
        std::fs::read(reference.path().join("build/CACHE/manifest.json")).expect("manifest");

    let site = site_with_large_assets();
    let manifest_path = site.path().join("build/CACHE/manifest.json");
    let previous = b"{\n  \"previous\": \"<script src=\\\"/old.js\\\"></script>\"\n}".to_vec();
    let mut outcomes = std::collections::BTreeMap::new();
    for step in 0..16u64 {
        let _ = std::fs::remove_dir_all(site.path().join("build"));
        std::fs::create_dir_all(manifest_path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&manifest_path, &previous).expect("previous manifest");
        let mut child = Command::new(env!("CARGO_BIN_EXE_stapler"))
            .args(["compress", "--offline", "--no-cache", "-q"])
            .current_dir(site.path())
            .env_remove("CI")
            .spawn()
            .expect("start stapler");
        std::thread::sleep(std::time::Duration::from_millis(step * 15));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(&manifest_path).expect("a manifest is always there");
        let outcome = if now == previous {
            "previous"
        } else if now == complete {
            "complete"
        } else {
            panic!(
                "after a kill at {} ms the manifest is neither: {}",
                step * 15,
                text(&now)
            );
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    eprintln!("kills left the manifest: {outcomes:?}");
    let rerun = stapler(site.path(), &["compress", "--offline", "--no-cache"]);
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    assert_eq!(std::fs::read(&manifest_path).expect("manifest"), complete);
    assert_manifest_files_intact(&site.path().join("build"));
}

/// Only `rel="stylesheet"` is bundled, as django-compressor bundles it: `preload stylesheet`
/// and `icon` are left out and said; a quoted block name loses its quotes.
#[test]
fn link_rels_and_quoted_names() {
    let template = "{% load compress %}{% compress css file \"site\" %}<link rel=\"preload stylesheet\" href=\"/static/a.css\"><link rel=\"icon\" href=\"/static/favicon.ico\"><script src=\"/static/x.js\"></script><link rel=\"stylesheet\" href=\"/static/b.css\">{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[
            ("a.css", b"a { color: red }".as_slice()),
            ("b.css", b"b { color: blue }"),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline", "-v"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("t.html:1: <link rel=\"preload stylesheet\"> is left out of the block's output, as django-compressor leaves out every link whose rel is not exactly \"stylesheet\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("t.html:1: <link rel=\"icon\"> is not a stylesheet, so it is left out"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("t.html:1: <script> in a {% compress css %} block is left out of its output"),
        "{stderr}"
    );
    let root = site.path().join("build");
    let files = outputs(&root, "css");
    assert_eq!(files.len(), 1);
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("site.") && name.ends_with(".css"),
        "{name}"
    );
    let css = std::fs::read_to_string(&files[0]).expect("css");
    assert!(
        !css.contains("color:red") && css.contains("color:#00f"),
        "{css}"
    );
    let html = manifest(&root).into_values().next().expect("one block");
    assert!(html.contains(&format!("CACHE/css/{name}\"")), "{html}");
}

/// A `type` with no precompiler is bundled as it is, as django-compressor bundles it, and said.
#[test]
fn unknown_script_types_are_bundled_as_they_are() {
    let template = "{% load compress %}{% compress js %}<script type=\"text/coffeescript\" src=\"/static/a.coffee\"></script><script>var b = 1;</script>{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[("a.coffee", b"x = -> 1\n".as_slice())],
    );
    let run = stapler(site.path(), &["compress", "--offline", "-v"]);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("t.html:1: <script type=\"text/coffeescript\"> has no precompiler, so it is bundled without being parsed"),
        "{stderr}"
    );
    let js = std::fs::read_to_string(&outputs(&site.path().join("build"), "js")[0]).expect("js");
    assert_eq!(js, "x = -> 1\n;\nvar b=1;;");
}

/// `--strict` turns every skipped template and warning into a failure that lists them all, and
/// leaves the previous manifest in place; without it the same site builds.
#[test]
fn strict_fails_on_every_warning_and_skipped_template() {
    let good = "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/a.css\">{% endcompress %}";
    let broken = "{% load compress %}\n{% for x in y %}";
    let site = small_site(
        &[("good.html", good), ("broken.html", broken)],
        &[("a.css", b"a { background: url(gone.png) }".as_slice())],
    );
    let manifest = site.path().join("build/CACHE/manifest.json");
    std::fs::create_dir_all(manifest.parent().expect("parent")).expect("mkdir");
    std::fs::write(&manifest, "{}").expect("previous manifest");
    let run = stapler(site.path(), &["compress", "--offline", "--strict"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--strict: 2 finding(s), and the manifest was not written:")
            && stderr.contains("  skipped templates/broken.html: invalid template (line 2)")
            && stderr.contains("  static/a.css:1: url(gone.png) refers to gone.png"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&manifest).expect("manifest"), "{}");
    let lenient = stapler(site.path(), &["compress", "--offline"]);
    assert!(lenient.status.success(), "{}", text(&lenient.stderr));
}

/// A FIFO named like a template is not read (reading it would never end).
#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_template_does_not_hang_the_scan() {
    let template =
        "{% load compress %}{% compress js %}<script>var a = 1;</script>{% endcompress %}";
    let site = small_site(&[("t.html", template)], &[]);
    let made = Command::new("mkfifo")
        .arg(site.path().join("templates/pipe.html"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args(["compress", "--offline", "-q"])
        .current_dir(site.path())
        .env_remove("CI")
        .spawn()
        .expect("start stapler");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("stapler is stuck reading a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success());
}

/// A warning about a cached text names the file at hand, not the first file that had the text.
#[test]
fn cached_warnings_name_the_file_at_hand() {
    let template = "{% load compress %}{% compress css %}<link rel=\"stylesheet\" href=\"/static/a.css\"><link rel=\"stylesheet\" href=\"/static/b.css\">{% endcompress %}";
    let hack: &[u8] = b".x { *zoom: 1 }\n";
    let site = small_site(&[("t.html", template)], &[("a.css", hack), ("b.css", hack)]);
    for _ in 0..2 {
        let run = stapler(site.path(), &["compress", "--offline", "-v"]);
        let stderr = text(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        // Said once, with both places.
        for file in [
            "static/a.css:1: kept old Internet Explorer hacks",
            "(also at static/b.css:1)",
        ] {
            assert!(stderr.contains(file), "{file} in {stderr}");
        }
    }
}

#[test]
fn an_unchanged_site_is_not_rebuilt_and_any_change_is_noticed() {
    let site = example_site();
    let (statics, templates) = (site.path().join("static"), site.path().join("templates"));
    age(site.path());
    let run = |args: &[&str]| {
        let out = stapler(site.path(), args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let first = stdout.lines().next().unwrap_or_default().to_string();
        (
            stdout.contains("nothing changed since the last build"),
            first,
        )
    };
    let compress = ["compress", "--offline"];
    let (skipped, full_summary) = run(&compress);
    assert!(!skipped, "the first build runs");
    let built = build_files(site.path());
    let (skipped, summary) = run(&compress);
    assert!(skipped, "nothing changed");
    assert_eq!(summary, full_summary, "the same summary");
    assert_eq!(build_files(site.path()), built);

    // Another build of stapler (here a copy: a newer executable) trusts no record but its own.
    let other = site.path().join("stapler-rebuilt");
    std::fs::copy(env!("CARGO_BIN_EXE_stapler"), &other).expect("copy the binary");
    let copy = std::process::Command::new(&other)
        .args(compress)
        .current_dir(site.path())
        .env_remove("CI")
        .env_remove("DJANGO_SETTINGS_MODULE")
        .output()
        .expect("run the copy");
    assert!(copy.status.success(), "{}", text(&copy.stderr));
    assert!(
        !text(&copy.stdout).contains("nothing changed"),
        "another build rebuilds"
    );
    std::fs::remove_file(&other).expect("remove the copy");
    assert!(!run(&compress).0, "and so does this one after it");
    assert!(run(&compress).0);

    // A source edited (even with an old modification time) is rebuilt.
    let css = statics.join("css/home.css");
    let mut text_of = std::fs::read_to_string(&css).expect("css");
    text_of.push_str("\n.added { color: red }\n");
    std::fs::write(&css, &text_of).expect("edit");
    age(&statics);
    assert!(!run(&compress).0, "an edited source rebuilds");
    assert_ne!(build_files(site.path()), built);
    assert!(run(&compress).0);

    // A source just written is never vouched for: the build after it runs in full too.
    std::fs::write(&css, format!("{text_of}\n.again {{ color: blue }}\n")).expect("edit");
    assert!(!run(&compress).0);
    assert!(
        !run(&compress).0,
        "a fresh file may still change within its timestamp"
    );
    age(&statics);
    assert!(!run(&compress).0);
    assert!(run(&compress).0);

    // A file that would now win a lookup, a template edit, a missing output, --force.
    let shadow = site.path().join("shadow");
    std::fs::create_dir_all(shadow.join("css")).expect("mkdir");
    std::fs::write(shadow.join("css/home.css"), ".shadow{}").expect("shadow");
    age(&shadow);
    std::fs::write(
        site.path().join("stapler.toml"),
        std::fs::read_to_string(site.path().join("stapler.toml"))
            .expect("config")
            .replace(
                "staticfiles_dirs = [\"static\"]",
                "staticfiles_dirs = [\"shadow\", \"static\"]",
            ),
    )
    .expect("config");
    assert!(!run(&compress).0, "a changed setting rebuilds");
    assert!(run(&compress).0);
    std::fs::remove_file(shadow.join("css/home.css")).expect("unshadow");
    assert!(
        !run(&compress).0,
        "a lookup that now finds another file rebuilds"
    );

    let page = templates.join("pages/home.html");
    let mut page_text = std::fs::read_to_string(&page).expect("template");
    page_text.push_str("\n<p>edited</p>\n");
    std::fs::write(&page, &page_text).expect("edit");
    age(&templates);
    assert!(!run(&compress).0, "an edited template rebuilds");
    assert!(run(&compress).0);

    let bundles = outputs(&site.path().join("build/static"), "css");
    std::fs::remove_file(&bundles[0]).expect("remove an output");
    assert!(!run(&compress).0, "a missing output rebuilds");
    assert!(bundles[0].is_file(), "and is written again");
    assert!(run(&compress).0);
    assert!(
        !run(&["compress", "--offline", "--force"]).0,
        "--force rebuilds"
    );
}

/// SIGTERM stops a build at once: exit 128 + 15, the previous manifest as it was, and no
/// temporary file left behind.
#[cfg(unix)]
#[test]
fn a_signal_stops_a_build_leaving_the_previous_manifest_and_no_temporary_file() {
    let template = "{% load compress %}{% compress js %}<script type=\"text/x-slow\" src=\"/static/a.js\"></script><script src=\"/static/b.js\"></script>{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[
            ("a.js", b"var a = 1;\n".as_slice()),
            ("b.js", b"var b = 2;\n"),
        ],
    );
    append_config(
        site.path(),
        "precompilers = [[\"text/x-slow\", \"sleep 20; cat {infile}\"]]\n",
    );
    let manifest = site.path().join("build/CACHE/manifest.json");
    std::fs::create_dir_all(manifest.parent().expect("parent")).expect("mkdir");
    std::fs::write(&manifest, "{\"previous\": \"kept\"}").expect("previous");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args(["compress", "--offline", "--no-cache"])
        .current_dir(site.path())
        .env_remove("CI")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stopped_at = std::time::Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let output = child.wait_with_output().expect("wait");
    assert!(stopped_at.elapsed().as_secs() < 3, "stopped at once");
    assert_eq!(
        output.status.code(),
        Some(128 + 15),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stderr).contains("stopped by SIGTERM"));
    assert_eq!(
        std::fs::read_to_string(&manifest).expect("manifest"),
        "{\"previous\": \"kept\"}"
    );
    let temporary: Vec<_> = walkdir::WalkDir::new(site.path())
        .min_depth(1)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| stapler::output::is_temporary(&entry.file_name().to_string_lossy()))
        .map(|entry| entry.path().display().to_string())
        .collect();
    assert!(temporary.is_empty(), "{temporary:?}");
}
