//! What a real browser does with stapler's outputs: headless Chromium loads pages made of the
//! manifest's tags, served over HTTP.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{append_config, browser, example_site, stapler};

const PLACEHOLDER: &str = "/__compressor_url_placeholder__/";

/// Records every script or stylesheet the browser refused to load, then, once the page has
/// loaded, what the bundles did: globals the scripts define and the colour a stylesheet gives.
const PROBE_HEAD: &str = r#"<script>window.refused=[];addEventListener("error",function(e){var t=e.target;if(t&&(t.src||t.href)){refused.push((t.src||t.href).split("/").pop())}},true);</script>"#;
const PROBE_BODY: &str = r#"<p class="banner" id="banner">banner</p><pre id="result"></pre><script>addEventListener("load",function(){document.getElementById("result").textContent=JSON.stringify({refused:refused.sort(),util:typeof Util,tiny:typeof window.tiny,theme:window.STAPLER_THEME||null,banner:getComputedStyle(document.getElementById("banner")).color})});</script>"#;

/// A page with every stylesheet tag of the manifest in its head and every script tag in its
/// body, as the templates put them.
fn page(manifest: &BTreeMap<String, String>, strip_integrity: bool) -> String {
    let mut head = String::new();
    let mut body = String::new();
    let integrity = regex::Regex::new(r#" integrity="[^"]*" crossorigin="[^"]*""#).expect("regex");
    for value in manifest.values() {
        let mut html = value.replace(PLACEHOLDER, "/static/");
        if strip_integrity {
            html = integrity.replace_all(&html, "").into_owned();
        }
        if html.starts_with("<script") {
            body.push_str(&html);
        } else {
            head.push_str(&html);
        }
    }
    format!("<!DOCTYPE html><html><head>{PROBE_HEAD}{head}</head><body>{body}{PROBE_BODY}</body></html>")
}

/// What the probe wrote.
fn result(dom: &str) -> serde_json::Value {
    let start = dom
        .find("<pre id=\"result\">")
        .expect("the probe's element")
        + 17;
    let end = start + dom[start..].find("</pre>").expect("closed");
    let text = htmlize::unescape(&dom[start..end]).into_owned();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("the probe did not run: {dom}"))
}

fn load(server: &browser::Server, page: &str) -> serde_json::Value {
    result(&browser::dump_dom(&format!("{}/{page}", server.url)))
}

/// Changes one byte of each bundle under `dir` whose text contains `needle`, in a way that
/// leaves it working; returns their file names.
fn tamper(dir: &Path, needle: &str, change: impl Fn(&str) -> String) -> Vec<String> {
    let mut changed = Vec::new();
    for entry in std::fs::read_dir(dir).expect("bundles") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("bundle");
        if text.contains(needle) {
            let tampered = change(&text);
            if tampered == text {
                continue;
            }
            let differing = text.bytes().zip(tampered.bytes()).filter(|(a, b)| a != b);
            assert_eq!((differing.count(), tampered.len()), (1, text.len()));
            std::fs::write(&path, tampered).expect("write");
            changed.push(
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    assert!(
        !changed.is_empty(),
        "no bundle in {} has {needle}",
        dir.display()
    );
    changed
}

#[test]
fn a_browser_runs_bundles_whose_integrity_matches_and_refuses_one_changed_byte() {
    let site = example_site();
    append_config(
        site.path(),
        "sri_hashes = [\"sha384\", \"sha512\"]\nsri_crossorigin = \"anonymous\"\n",
    );
    let out = stapler(site.path(), &["compress", "-q"]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));

    let static_root = site.path().join("build/static");
    let manifest: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(static_root.join("CACHE/manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    // Every tag that loads a bundle carries both hashes and the crossorigin attribute; inline
    // ones have nothing to check.
    let tag =
        regex::Regex::new(r#"<(script src|link rel="[a-z]+" href)="[^"]+"[^>]*>"#).expect("regex");
    let mut tags = 0;
    let attributes = regex::Regex::new(
        r#" integrity="sha384-[A-Za-z0-9+/]{64} sha512-[A-Za-z0-9+/]{86}==" crossorigin="anonymous""#,
    )
    .expect("regex");
    for value in manifest.values() {
        for found in tag.find_iter(value) {
            tags += 1;
            assert!(attributes.is_match(found.as_str()), "{}", found.as_str());
        }
    }
    assert!(tags >= 10, "{tags} tags");

    let build = site.path().join("build");
    std::fs::write(build.join("sri.html"), page(&manifest, false)).expect("page");
    std::fs::write(build.join("plain.html"), page(&manifest, true)).expect("page");
    let server = browser::serve(&build);

    let loaded = load(&server, "sri.html");
    assert_eq!(loaded["refused"], serde_json::json!([]), "{loaded}");
    assert_eq!(loaded["util"], "object", "{loaded}");
    assert_eq!(loaded["tiny"], "object", "{loaded}");
    assert!(loaded["theme"].is_string(), "{loaded}");
    assert_eq!(loaded["banner"], "rgb(255, 0, 0)", "{loaded}");

    // One byte of each script bundle that defines Util and of the stylesheet that colours the
    // banner, changed harmlessly (property names are case-insensitive): without integrity the
    // browser runs them as before.
    let scripts = tamper(&static_root.join("CACHE/js"), "formatCount", |text| {
        let end = text.rfind(';').expect("a statement");
        format!("{} {}", &text[..end], &text[end + 1..])
    });
    let sheets = tamper(&static_root.join("CACHE/css"), ".banner{", |text| {
        text.replacen(".banner{color:", ".banner{coloR:", 1)
    });
    let plain = load(&server, "plain.html");
    assert_eq!(plain["refused"], serde_json::json!([]), "{plain}");
    assert_eq!(plain["util"], "object", "{plain}");
    assert_eq!(plain["banner"], "rgb(255, 0, 0)", "{plain}");

    let refused = load(&server, "sri.html");
    let names: Vec<&str> = refused["refused"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|name| name.as_str())
        .collect();
    for name in scripts.iter().chain(&sheets) {
        assert!(names.contains(&name.as_str()), "{name}: {refused}");
    }
    assert_eq!(refused["util"], "undefined", "{refused}");
    assert_ne!(refused["banner"], "rgb(255, 0, 0)", "{refused}");
}
