//! Precompilers through the binary: the built-in SCSS compiler against dart-sass's output,
//! TypeScript and modules run under node, and configured commands run as django-compressor
//! runs them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

fn manifest(root: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root.join("CACHE/manifest.json")).expect("manifest written");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// The files a block's HTML points at, read.
fn bundles(root: &Path, html: &str) -> Vec<String> {
    html.split("/__compressor_url_placeholder__/")
        .skip(1)
        .map(|rest| {
            let name = &rest[..rest.find('"').expect("quoted url")];
            std::fs::read_to_string(root.join(name)).expect("bundle exists")
        })
        .collect()
}

fn scss_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scss");
    copy_tree(&fixture, dir.path());
    dir
}

fn only_bundle(site: &Path) -> String {
    let root = site.join("build");
    let html = manifest(&root).into_values().next().expect("one block");
    bundles(&root, &html).join("")
}

/// SCSS with `@use` and a namespace, `@import`, variables, mixins, nesting and `sass:math`
/// compiles to what dart-sass gives for the same input (committed), minified as any
/// stylesheet. The url in the partial is made absolute against the partial's own folder,
/// where dart-sass leaves it to be resolved against the entry stylesheet's.
#[test]
fn scss_compiles_as_dart_sass_does() {
    let site = scss_site();
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let ours = only_bundle(site.path());

    // The same stylesheet, as dart-sass wrote it, given to stapler as plain CSS beside the
    // entry; the partial's url spelled as it must resolve.
    let expected = std::fs::read_to_string(site.path().join("main.dart-sass.css"))
        .expect("dart-sass output")
        .replace("url(../../img/icon.png)", "url(/static/img/icon.png)");
    let plain = scss_site();
    write_files(
        plain.path(),
        &[
            ("static/scss/main.css", expected.as_bytes()),
            (
                "templates/page.html",
                b"{% load compress %}\n{% compress css %}\n<link rel=\"stylesheet\" href=\"/static/scss/main.css\">\n<style>.inline { border-width: 4px; }</style>\n{% endcompress %}\n",
            ),
        ],
    );
    let run = stapler(plain.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(ours, only_bundle(plain.path()));
    assert!(ours.contains("url(/static/img/icon."), "{ours}");
    assert!(ours.contains("url(/static/img/bg."), "{ours}");
}

/// A change in a partial compiles the stylesheet again, though the entry is unchanged; an
/// unchanged site is served from the cache.
#[test]
fn a_changed_partial_rebuilds_what_uses_it() {
    let site = scss_site();
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(only_bundle(site.path()).contains("#369"));
    let colours = site.path().join("static/scss/theme/_colours.scss");
    let changed = std::fs::read_to_string(&colours)
        .expect("partial")
        .replace("#336699", "#112233");
    std::fs::write(&colours, changed).expect("edit partial");
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let css = only_bundle(site.path());
    assert!(css.contains("#123") && !css.contains("#369"), "{css}");
}

/// A build that compiled Sass is skipped when nothing changed: its partials are watched like
/// its sources, and a file it looked for and did not find must still be missing.
#[test]
fn an_unchanged_sass_build_is_skipped_and_a_partial_or_a_new_candidate_is_noticed() {
    let site = scss_site();
    age(site.path());
    let skipped = || {
        let run = stapler(site.path(), &["compress", "--offline"]);
        text(&run.stdout).contains("nothing changed since the last build")
    };
    assert!(!skipped());
    assert!(skipped(), "nothing changed");

    let colours = site.path().join("static/scss/theme/_colours.scss");
    let changed = std::fs::read_to_string(&colours)
        .expect("partial")
        .replace("#336699", "#112233");
    std::fs::write(&colours, changed).expect("edit partial");
    age(&site.path().join("static"));
    assert!(!skipped(), "an edited partial rebuilds");
    assert!(only_bundle(site.path()).contains("#123"));
    assert!(skipped());

    // Each run's record lists what the compiler looked for and did not find.
    let runs = site.path().join(".stapler-cache/runs");
    let record = std::fs::read_dir(&runs)
        .expect("a record")
        .filter_map(Result::ok)
        .next()
        .expect("one record")
        .path();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).expect("read")).expect("json");
    let looked_for = record["looked_for"].as_array().expect("a list");
    let candidate = looked_for
        .first()
        .and_then(|path| path.as_str())
        .expect("the compiler probed a name that does not exist");
    // Relative to the folder stapler ran in.
    let candidate = site.path().join(candidate);
    std::fs::create_dir_all(candidate.parent().expect("a folder")).expect("mkdir");
    std::fs::write(&candidate, "$unused: 1;\n").expect("create the candidate");
    age(&site.path().join("static"));
    assert!(!skipped(), "a file that may now win an import rebuilds");
}

/// A Sass error names the partial it is in, with its line.
#[test]
fn a_sass_error_names_the_partial_and_line() {
    let site = scss_site();
    write_files(
        site.path(),
        &[(
            "static/scss/components/_button.scss",
            b".button {\n  color: $undefined-colour;\n}\n",
        )],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("static/scss/components/_button.scss:2:10: Sass error: Undefined variable"),
        "{stderr}"
    );
    assert!(!site.path().join("build/CACHE/manifest.json").exists());
}

/// An import that leaves the static folders is refused.
#[test]
fn sass_imports_stay_inside_the_static_folders() {
    let site = scss_site();
    write_files(
        site.path(),
        &[
            ("outside/_secret.scss", b"$s: 1;".as_slice()),
            (
                "static/scss/components/_button.scss",
                b"@import \"../../../outside/secret\";\n",
            ),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("_button.scss:1:9: Sass error") && stderr.contains("Can't find stylesheet"),
        "{stderr}"
    );
}

/// TypeScript (by type or by `.ts` name) and modules are compiled by swc; the minified output
/// runs under node and gives what the source gives. Modules keep `type="module"`, each in a
/// file of its own, their relative imports resolved against their own URL.
#[test]
fn typescript_and_modules_run_as_their_sources_do() {
    let template = "{% load compress %}{% compress js %}\n<script type=\"text/typescript\" src=\"/static/js/shape.ts\"></script>\n<script src=\"/static/js/use.ts\"></script>\n<script type=\"module\" src=\"/static/js/app/main.js\"></script>\n{% endcompress %}";
    let shape = "interface Shape { area(): number }\nclass Square implements Shape {\n  constructor(private side: number) {}\n  area(): number { return this.side * this.side; }\n}\nenum Unit { Cm = 10 }\nvar squareArea = (n: number): number => new Square(n).area() * Unit.Cm;\n";
    let use_ts = "var result: number = squareArea(3);\n";
    let main = "import { double } from './util.js';\nimport { base } from '../lib/base.js';\nexport const answer = double(base);\nglobalThis.answer = answer;\n";
    let site = small_site(
        &[("t.html", template)],
        &[
            ("js/shape.ts", shape.as_bytes()),
            ("js/use.ts", use_ts.as_bytes()),
            (
                "js/app/util.js",
                b"export function double(x) { return x * 2; }\n".as_slice(),
            ),
            ("js/lib/base.js", b"export const base = 21;\n".as_slice()),
            ("js/app/main.js", main.as_bytes()),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let root = site.path().join("build");
    let html = manifest(&root).into_values().next().expect("one block");
    let tags: Vec<&str> = html.lines().collect();
    assert_eq!(tags.len(), 2, "{html}");
    assert!(tags[0].starts_with("<script src="), "{html}");
    assert!(
        tags[1].starts_with("<script type=\"module\" src="),
        "{html}"
    );
    let files = bundles(&root, &html);

    let classic = &files[0];
    assert!(
        !classic.contains("interface") && !classic.contains(": number"),
        "{classic}"
    );
    let out = node()
        .args(["-e", &format!("{classic}\nconsole.log(result)")])
        .output()
        .expect("node");
    assert_eq!(text(&out.stdout).trim(), "90", "{}", text(&out.stderr));

    // The module, served from the output folder, imports the originals by absolute URL: map
    // /static/ to the static folder and run it.
    let module = &files[1];
    assert!(
        module.contains("\"/static/js/app/util.js\"")
            && module.contains("\"/static/js/lib/base.js\""),
        "{module}"
    );
    let static_dir = site.path().join("static");
    let runnable = module.replace("\"/static/", &format!("\"{}/", static_dir.display()));
    let file = site.path().join("run.mjs");
    std::fs::write(&file, format!("{runnable}\nconsole.log(globalThis.answer)")).expect("write");
    let out = node().arg(&file).output().expect("node");
    assert_eq!(text(&out.stdout).trim(), "42", "{}", text(&out.stderr));
}

/// A TypeScript error names the file and line, and says it was read as TypeScript.
#[test]
fn a_typescript_error_names_the_file_and_line() {
    let template = "{% load compress %}{% compress js %}<script src=\"/static/a.ts\"></script>{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[("a.ts", b"let a: number = 1;\nlet b: = 2;\n".as_slice())],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("static/a.ts:2:8: TypeScript syntax error"),
        "{stderr}"
    );
}

/// Configured commands run as django-compressor runs them: `{infile}`/`{outfile}`, or stdin and
/// stdout; a command for a type wins over the built-in compiler; a failing command's message
/// is shown; outputs are cached only for the types said to be cacheable.
#[test]
fn configured_commands_run_as_django_compressor_runs_them() {
    let template = "{% load compress %}{% compress css %}\n<link rel=\"stylesheet\" type=\"text/less\" href=\"/static/a.less\">\n<style type=\"text/x-scss\">.b { color: @c; }</style>\n{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[("a.less", b".a { color: @c; }\n".as_slice())],
    );
    let config = "static_root = \"build\"\nstaticfiles_dirs = [\"static\"]\ntemplate_dirs = [\"templates\"]\nprecompilers = [[\"text/less\", \"sed s/@c/red/g {infile} > {outfile}\"], [\"text/x-scss\", \"echo ran >> runs.log; sed s/@c/blue/g\"]]\n";
    write_files(site.path(), &[("stapler.toml", config.as_bytes())]);
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let css = only_bundle(site.path());
    assert_eq!(css, ".a{color:red}\n.b{color:#00f}");
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let runs = || std::fs::read_to_string(site.path().join("runs.log")).expect("log");
    assert_eq!(runs().lines().count(), 2, "not cacheable: run each time");

    let cacheable = format!("{config}cacheable_precompilers = [\"text/x-scss\"]\n");
    write_files(site.path(), &[("stapler.toml", cacheable.as_bytes())]);
    for _ in 0..2 {
        let run = stapler(site.path(), &["compress", "--offline"]);
        assert!(run.status.success(), "{}", text(&run.stderr));
    }
    assert_eq!(
        runs().lines().count(),
        3,
        "cacheable: run once more, then cached"
    );

    let failing = config.replace(
        "sed s/@c/red/g {infile} > {outfile}",
        "echo 'a.less:1 bad @c' >&2; exit 3",
    );
    write_files(site.path(), &[("stapler.toml", failing.as_bytes())]);
    let run = stapler(site.path(), &["compress", "--offline"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("static/a.less: the precompiler `echo 'a.less:1 bad @c' >&2; exit 3` for `text/less` exited with 3: a.less:1 bad @c; fix the source, or the command"),
        "{stderr}"
    );
}

/// A module at the top of the static folder resolves its imports as the browser would from
/// its own URL: `./lib.js` under the static URL, `../escape.js` above it.
#[test]
fn a_top_level_module_resolves_imports_as_the_browser_would() {
    let template = "{% load compress %}{% compress js %}<script type=\"module\" src=\"/static/root.js\"></script>{% endcompress %}";
    let site = small_site(
        &[("t.html", template)],
        &[
            (
                "root.js",
                b"import { a } from './lib.js';\nimport { b } from '../escape.js';\nglobalThis.x = a + b;\n".as_slice(),
            ),
            ("lib.js", b"export const a = 1;\n".as_slice()),
        ],
    );
    let run = stapler(site.path(), &["compress", "--offline"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let module = only_bundle(site.path());
    assert!(module.contains("from\"/static/lib.js\""), "{module}");
    assert!(module.contains("from\"/escape.js\""), "{module}");
}
