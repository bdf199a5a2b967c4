//! The HTML report (`--report PATH.html`, `stapler report`) in a real headless Chromium: it
//! opens without an error or a request, draws one rectangle per bundle, shows a bundle's
//! sources on a click and names the sources bundles share. The same data in `--format json`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Runs in the page before its own script: records errors, policy violations and requests,
/// then, once the page has loaded, clicks the first (largest) bundle and writes what it saw
/// into `<pre id="probe">`.
const PROBE: &str = r##"<script>
window.__errors = [];
window.addEventListener("error", function (e) { __errors.push("error: " + e.message); });
window.addEventListener("securitypolicyviolation", function (e) { __errors.push("blocked: " + e.blockedURI); });
(function () {
  var original = console.error;
  console.error = function () { __errors.push("console: " + Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); };
})();
window.addEventListener("load", function () {
  var seen = { loaded_ms: performance.now() };
  var rects = document.querySelectorAll("#treemap .tm[data-bundle]");
  seen.rects = rects.length;
  seen.names = Array.prototype.map.call(rects, function (r) { return r.getAttribute("data-bundle"); });
  if (rects.length) {
    seen.clicked = rects[0].getAttribute("data-bundle");
    rects[0].click();
  }
  seen.parts = Array.prototype.map.call(document.querySelectorAll("#treemap .tm.part"), function (r) { return r.getAttribute("data-source"); });
  seen.detail = Array.prototype.map.call(document.querySelectorAll("#detail-sources td.path"), function (td) { return td.textContent; });
  seen.origins = document.querySelectorAll("#detail-blocks tr").length - 1;
  seen.duplicated = Array.prototype.map.call(document.querySelectorAll("#dup-table td.path"), function (td) { return td.textContent; });
  seen.table_rows = document.querySelectorAll("#bundle-table a.bundle").length;
  seen.requests = performance.getEntriesByType("resource").map(function (entry) { return entry.name; });
  seen.errors = __errors;
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>"##;

/// The report at `path`, opened over HTTP in Chromium with the probe: what the probe saw.
fn open(path: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(path).expect("the report");
    let probed = html.replacen("<head>", &format!("<head>\n{PROBE}"), 1);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("report.html"), probed).expect("write");
    let server = browser::serve(dir.path());
    let dom = browser::dump_dom(&format!("{}/report.html", server.url));
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").expect("closed");
    let text = htmlize::unescape(&dom[start..end]).into_owned();
    serde_json::from_str(&text).expect("the probe's JSON")
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let run = stapler(dir, &all);
    assert!(run.status.success(), "{args:?}: {}", text(&run.stderr));
    serde_json::from_slice(&run.stdout).expect("one JSON document")
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item.as_str().expect("a string").to_string())
        .collect()
}

/// The checks every report must pass, against the build's own JSON anatomy.
fn assert_report(seen: &serde_json::Value, anatomy: &serde_json::Value) {
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(
        seen["requests"],
        serde_json::json!([]),
        "no request leaves the page"
    );
    let bundles = anatomy["bundles"].as_array().expect("bundles");
    assert_eq!(seen["rects"].as_u64(), Some(bundles.len() as u64));
    let mut drawn = strings(&seen["names"]);
    drawn.sort();
    let mut built: Vec<String> = bundles
        .iter()
        .map(|bundle| bundle["name"].as_str().expect("name").to_string())
        .collect();
    built.sort();
    assert_eq!(drawn, built, "one rectangle per bundle");

    let clicked = seen["clicked"].as_str().expect("a bundle was clicked");
    let bundle = bundles
        .iter()
        .find(|bundle| bundle["name"] == clicked)
        .expect("the clicked bundle");
    let sources: Vec<String> = bundle["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|share| share["source"].as_str().expect("source").to_string())
        .collect();
    let shown = strings(&seen["detail"]);
    assert_eq!(shown.len(), sources.len(), "{shown:?} {sources:?}");
    for (shown, source) in shown.iter().zip(&sources) {
        assert!(source.ends_with(shown.as_str()), "{shown} is {source}");
    }
    assert_eq!(seen["parts"].as_array().map(Vec::len), Some(sources.len()));
    assert!(
        seen["origins"].as_u64().is_some_and(|rows| rows > 0),
        "{seen}"
    );
}

#[test]
fn the_fixture_sites_report_opens_and_names_the_shared_vendor_files() {
    let site = example_site();
    let dir = site.path();
    age(dir);
    let built = json(dir, &["compress", "--report", "report.html"]);
    let anatomy = &built["build"]["anatomy"];
    let written = &built["build"]["report"];
    assert!(written["bytes"].as_u64().is_some_and(|bytes| bytes > 0));
    assert!(anatomy["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .all(|bundle| bundle["gzip_bytes"].is_u64() && bundle["brotli_bytes"].is_u64()));

    // Without source maps, a bundle is its parts and their separators, nothing else.
    for bundle in anatomy["bundles"].as_array().expect("bundles") {
        let parts: u64 = bundle["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .map(|share| share["bytes"].as_u64().expect("bytes"))
            .sum();
        assert_eq!(Some(parts), bundle["bytes"].as_u64(), "{bundle}");
    }

    let seen = open(&dir.join("report.html"));
    assert_report(&seen, anatomy);
    let duplicated = strings(&seen["duplicated"]);
    for vendor in [
        "static/js/vendor/tiny.min.js",
        "static/css/vendor/reset.css",
    ] {
        assert!(
            duplicated.iter().any(|source| source == vendor),
            "{vendor} in {duplicated:?}"
        );
    }
    let tiny = anatomy["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|source| {
            source["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("tiny.min.js"))
        })
        .expect("tiny.min.js");
    let copies = tiny["bundles"].as_u64().expect("bundles");
    assert!(copies > 1, "{tiny}");
    assert_eq!(
        tiny["repeated_bytes"].as_u64(),
        tiny["bytes"].as_u64().map(|bytes| bytes * (copies - 1))
    );

    // A run that finds nothing changed reports the same bundles, from the last build's record.
    let unchanged = json(dir, &["compress", "--report", "unchanged.html"]);
    assert!(unchanged["build"]["unchanged"].is_object(), "{unchanged}");
    assert_eq!(
        unchanged["build"]["anatomy"]["bundles"], anatomy["bundles"],
        "the same anatomy"
    );

    // `stapler report` writes the same page from the record, without building.
    std::fs::remove_dir_all(dir.join("build/static/CACHE/css")).expect("remove some outputs");
    let again = json(dir, &["report", "again.html"]);
    assert_eq!(again["command"], "report");
    assert!(
        !dir.join("build/static/CACHE/css").exists(),
        "nothing was built"
    );
    assert_eq!(
        again["anatomy"]["bundles"].as_array().map(Vec::len),
        anatomy["bundles"].as_array().map(Vec::len)
    );
    assert!(dir.join("again.html").is_file());
}

#[test]
fn a_report_without_a_recorded_build_says_what_to_run() {
    let site = example_site();
    let run = stapler(site.path(), &["report", "r.html"]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("no build of this manifest is recorded")
            && stderr.contains("stapler compress"),
        "{stderr}"
    );
}

/// The bench's realistic site at 1000 templates (about 2,200 bundles from 4,300 sources): the
/// page stays small, and opens whole in Chromium.
#[test]
fn the_report_of_a_thousand_template_site_opens_with_every_bundle() {
    let libraries = npm::packages(&[
        "normalize.css@8.0.1",
        "bootstrap@3.4.1",
        "jquery@3.7.1",
        "font-awesome@4.7.0",
        "select2@4.0.13",
        "jquery-ui@1.13.3",
        "chart.js@4.4.3",
        "htmx.org@1.9.12",
    ]);
    let work = tempfile::tempdir().expect("tempdir");
    let site = work.path().join("site");
    let generated = Command::new("python3")
        .arg("-c")
        .arg("import sys; sys.path.insert(0, sys.argv[1]); import realistic; realistic.generate(sys.argv[2], sys.argv[3], 1000)")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench"))
        .arg(&site)
        .arg(&libraries)
        .status()
        .expect("python3");
    assert!(generated.success());
    let built = json(&site, &["compress", "--report", "report.html"]);
    let anatomy = &built["build"]["anatomy"];
    let bytes = built["build"]["report"]["bytes"].as_u64().expect("bytes");
    assert!(bytes < 3 * 1024 * 1024, "{bytes} bytes");
    let seen = open(&site.join("report.html"));
    assert_report(&seen, anatomy);
    let duplicated = strings(&seen["duplicated"]);
    assert!(
        duplicated.iter().any(|source| source.contains("jquery")),
        "{duplicated:?}"
    );
    eprintln!(
        "report of {} bundles: {bytes} bytes, written in {:.2} s, loaded in {:.0} ms",
        seen["rects"],
        built["build"]["report"]["seconds"]
            .as_f64()
            .unwrap_or_default(),
        seen["loaded_ms"].as_f64().unwrap_or_default()
    );
}
