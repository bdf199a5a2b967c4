//! Bad input: each case must fail with a message naming the file and line, a non-zero exit, and
//! the previous manifest left exactly as it was.

mod common;

use common::*;

const PREVIOUS: &str = "{\n  \"previous\": \"<script src=\\\"/__compressor_url_placeholder__/CACHE/js/old.js\\\"></script>\"\n}";

/// Runs compress on a site that already has a manifest and returns (exit code, stderr).
fn fails(templates: &[(&str, &str)], statics: &[(&str, &[u8])]) -> (i32, String) {
    let site = small_site(templates, statics);
    let manifest = site.path().join("build/CACHE/manifest.json");
    std::fs::create_dir_all(manifest.parent().expect("parent")).expect("mkdir");
    std::fs::write(&manifest, PREVIOUS).expect("previous manifest");
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert!(
        !run.status.success(),
        "expected a failure, got success: {}",
        text(&run.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(&manifest).expect("manifest"),
        PREVIOUS,
        "the previous manifest must be untouched"
    );
    assert!(
        !site.path().join("build/CACHE/css").exists()
            && !site.path().join("build/CACHE/js").exists(),
        "nothing is written on failure"
    );
    (run.status.code().unwrap_or(-1), stderr)
}

fn css_block(href: &str) -> String {
    format!("{{% load compress %}}\n{{% compress css %}}\n<link rel=\"stylesheet\" href=\"{href}\">\n{{% endcompress %}}\n")
}

fn js_block(src: &str) -> String {
    format!("{{% load compress %}}\n{{% compress js %}}\n<script src=\"{src}\"></script>\n{{% endcompress %}}\n")
}

#[test]
fn malformed_css() {
    let (code, stderr) = fails(
        &[("t.html", &css_block("/static/broken.css"))],
        &[("broken.css", b"a { color: red; }\nb { color: blue;\n")],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken.css:2") && stderr.contains("never closed"),
        "{stderr}"
    );
}

#[test]
fn javascript_syntax_error() {
    let (code, stderr) = fails(
        &[("t.html", &js_block("/static/bad.js"))],
        &[("bad.js", b"var a = 1;\n\nfunction ( {\n")],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("bad.js:3") && stderr.contains("syntax error"),
        "{stderr}"
    );
}

#[test]
fn referenced_file_missing() {
    let (_, stderr) = fails(&[("t.html", &js_block("/static/nope.js"))], &[]);
    assert!(
        stderr.contains("t.html:3")
            && stderr.contains("/static/nope.js")
            && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn href_escaping_the_roots() {
    let (_, stderr) = fails(
        &[("t.html", &js_block("/static/../../../../etc/passwd"))],
        &[],
    );
    assert!(stderr.contains("outside the static roots"), "{stderr}");
}

#[test]
fn css_url_escaping_the_roots() {
    let (_, stderr) = fails(
        &[("t.html", &css_block("/static/a.css"))],
        &[("a.css", b"a{background:url(../../../../etc/passwd)}")],
    );
    assert!(
        stderr.contains("a.css:1") && stderr.contains("above the static root"),
        "{stderr}"
    );
}

#[test]
fn absolute_url_outside_url_prefix() {
    let (_, stderr) = fails(&[("t.html", &js_block("/etc/passwd"))], &[]);
    assert!(stderr.contains("is not under `url`"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_roots() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.js"), "var secret = 1;").expect("write");
    let site = small_site(&[("t.html", &js_block("/static/link.js"))], &[]);
    std::fs::create_dir_all(site.path().join("static")).expect("mkdir");
    std::os::unix::fs::symlink(
        outside.path().join("secret.js"),
        site.path().join("static/link.js"),
    )
    .expect("symlink");
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("outside the static roots"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn non_utf8_file() {
    let (_, stderr) = fails(
        &[("t.html", &css_block("/static/latin1.css"))],
        &[("latin1.css", b"a{}\n/* caf\xe9 */\n")],
    );
    assert!(
        stderr.contains("latin1.css:2") && stderr.contains("UTF-8"),
        "{stderr}"
    );
}

#[test]
fn unterminated_compress() {
    // Django cannot compile it, so django-compressor skips it; with nothing else to build, the
    // message says why.
    let (code, stderr) = fails(
        &[(
            "t.html",
            "{% load compress %}\n\n{% compress js %}\n<script>a()</script>\n",
        )],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("templates/t.html: invalid template (line 3, inside a compress block): {% compress js %} opened on line 3 is never closed: add {% endcompress %}"),
        "{stderr}"
    );
}

#[test]
fn unknown_kind_and_mode() {
    let (_, stderr) = fails(
        &[(
            "t.html",
            "{% load compress %}\n{% compress scss %}{% endcompress %}",
        )],
        &[],
    );
    assert!(
        stderr.contains("t.html:2") && stderr.contains("unknown compress kind `scss`"),
        "{stderr}"
    );
    // A mode is checked when Django compiles the template: it is skipped, not fatal.
    let (_, stderr) = fails(
        &[(
            "t.html",
            "{% load compress %}\n{% compress css sideways %}{% endcompress %}",
        )],
        &[],
    );
    assert!(
        stderr.contains("templates/t.html: invalid template (templates/t.html:2): unknown compress mode `sideways`"),
        "{stderr}"
    );
}

#[test]
fn tag_that_cannot_render_offline() {
    let (_, stderr) = fails(&[("t.html", "{% load compress %}{% compress js %}\n<script>var u = \"{% url 'home' %}\";</script>{% endcompress %}")], &[]);
    assert!(
        stderr.contains("t.html:2") && stderr.contains("{% url 'home' %}"),
        "{stderr}"
    );
}

#[test]
fn no_compress_blocks_at_all() {
    let (_, stderr) = fails(&[("t.html", "<p>nothing to compress</p>")], &[]);
    assert!(
        stderr.contains("no {% compress %} blocks found"),
        "{stderr}"
    );
}

#[test]
fn empty_template_directory() {
    let (_, stderr) = fails(&[], &[]);
    assert!(
        stderr.contains("no {% compress %} blocks found"),
        "{stderr}"
    );
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = stapler(
        dir.path(),
        &["compress", "--offline", "--config", "nope.toml"],
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("nope.toml") && text(&run.stderr).contains("cannot read"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn unknown_config_key() {
    let site = small_site(
        &[("t.html", &js_block("/static/a.js"))],
        &[("a.js", b"a()")],
    );
    std::fs::write(site.path().join("stapler.toml"), "static_root = \"build\"\ntemplate_dirs = [\"templates\"]\nstaticfile_dirs = [\"static\"]\n").expect("config");
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("staticfile_dirs") && stderr.contains("stapler.toml"),
        "{stderr}"
    );
}

#[test]
fn inline_script_syntax_error_names_the_template_line() {
    let (code, stderr) = fails(
        &[(
            "t.html",
            "{% load compress %}\n{% compress js %}\n<script>\nvar a = 1;\nvar = ;\n</script>\n{% endcompress %}\n",
        )],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("templates/t.html:5: JavaScript syntax error at column 5"),
        "{stderr}"
    );
}

#[test]
fn inline_style_error_names_the_template_line() {
    let (_, stderr) = fails(
        &[(
            "t.html",
            "{% load compress %}\n{% compress css %}\n<style>p { color: red }\nb { color: blue;\n</style>\n{% endcompress %}\n",
        )],
        &[],
    );
    assert!(
        stderr.contains("templates/t.html:4: malformed CSS: `{` opened here is never closed"),
        "{stderr}"
    );
}

#[test]
fn every_template_skipped_says_why() {
    let (code, stderr) = fails(
        &[(
            "t.html",
            "{% load compress %}\n{% for x in y %}\n{% compress js %}<script>a()</script>{% endcompress %}\n",
        )],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no {% compress %} blocks found in 1 template(s)")
            && stderr.contains("1 template(s) were skipped:\n  templates/t.html: invalid template (line 2): unclosed tag on line 2: 'for'"),
        "{stderr}"
    );
}

#[test]
fn css_a_browser_would_drop_is_an_error_with_the_line_shown() {
    let (code, stderr) = fails(
        &[("t.html", &css_block("/static/a.css"))],
        &[(
            "a.css",
            b"a { color: red }\n.b { *zoom: 1 }\n<<<<<<< HEAD\nc { color: blue }\n=======\nc { color: green }\n>>>>>>> branch\n",
        )],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("static/a.css:3: column 1: CSS that browsers would drop (Invalid empty selector); fix the stylesheet, or set `css_errors = \"warn\"` to bundle it as it is\n  |\n3 | <<<<<<< HEAD\n  | ^"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("a.css:2"),
        "the IE hack on line 2 is not an error: {stderr}"
    );
}
