//! Real front-end libraries, fetched from the npm registry (or found in `REAL_LIBS_DIR`), go
//! through stapler: every output re-parses, IE hacks and font query strings survive, and the
//! result is much smaller than the input.

mod common;

use std::path::PathBuf;

use common::*;

/// The libraries, by npm name and version.
const PACKAGES: [&str; 5] = [
    "bootstrap@3.4.1",
    "bootstrap@5.3.3",
    "jquery@3.7.1",
    "jquery-ui@1.13.3",
    "font-awesome@4.7.0",
];

fn libraries() -> PathBuf {
    npm::packages(&PACKAGES)
}

const TEMPLATE: &str = r#"{% load static compress %}
{% compress css file vendor %}
<link rel="stylesheet" href="{% static 'bootstrap-3.4.1/dist/css/bootstrap.css' %}">
<link rel="stylesheet" href="{% static 'bootstrap-3.4.1/dist/css/bootstrap-theme.css' %}">
<link rel="stylesheet" href="{% static 'font-awesome-4.7.0/css/font-awesome.css' %}">
<link rel="stylesheet" href="{% static 'jquery-ui-1.13.3/dist/themes/base/jquery-ui.css' %}">
<link rel="stylesheet" href="{% static 'bootstrap-5.3.3/dist/css/bootstrap.css' %}">
<link rel="stylesheet" href="{% static 'font-awesome-4.7.0/css/font-awesome.min.css' %}">
{% endcompress %}
{% compress js file vendor %}
<script src="{% static 'jquery-3.7.1/dist/jquery.js' %}"></script>
<script src="{% static 'jquery-ui-1.13.3/dist/jquery-ui.js' %}"></script>
<script src="{% static 'bootstrap-3.4.1/dist/js/bootstrap.js' %}"></script>
<script src="{% static 'bootstrap-5.3.3/dist/js/bootstrap.bundle.js' %}"></script>
<script src="{% static 'jquery-3.7.1/dist/jquery.min.js' %}"></script>
{% endcompress %}
"#;

#[test]
fn real_libraries_survive_bundling() {
    let libs = libraries();
    let site = small_site(&[("vendor.html", TEMPLATE)], &[]);
    std::fs::write(
        site.path().join("stapler.toml"),
        format!(
            "static_root = \"build\"\nstaticfiles_dirs = [{:?}]\ntemplate_dirs = [\"templates\"]\n",
            libs.display().to_string()
        ),
    )
    .expect("config");
    let run = stapler(site.path(), &["compress", "--offline", "-v"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    eprintln!(
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
            .lines()
            .filter(|l| !l.starts_with("wrote"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let cache = site.path().join("build/CACHE");
    let css_file = std::fs::read_dir(cache.join("css"))
        .expect("css")
        .next()
        .expect("one css")
        .expect("entry")
        .path();
    let css = std::fs::read_to_string(&css_file).expect("css");
    assert_css_parses(&css, "the vendor bundle");
    assert!(
        css.contains("progid:DXImageTransform.Microsoft.gradient"),
        "IE gradient filters survive"
    );
    let iefix = regex::Regex::new(r"fontawesome-webfont\.[0-9a-f]{12}\.eot\?#iefix&v=4\.7\.0")
        .expect("regex");
    assert!(
        iefix.is_match(&css),
        "the IE font hack keeps its query on the hashed name"
    );
    assert!(
        css.contains("glyphicons-halflings-regular."),
        "bootstrap 3 fonts are referenced"
    );
    for hashed in regex::Regex::new(r"/static/([^)'\x22?#]+)")
        .expect("regex")
        .captures_iter(&css)
    {
        assert!(
            site.path().join("build").join(&hashed[1]).is_file(),
            "{} is not written",
            &hashed[1]
        );
    }

    let js_file = std::fs::read_dir(cache.join("js"))
        .expect("js")
        .next()
        .expect("one js")
        .expect("entry")
        .path();
    let js = std::fs::read_to_string(&js_file).expect("js");
    stapler::compress::js::check("vendor.js", &js).expect("the bundle re-parses");
    let check = node().arg("--check").arg(&js_file).output().expect("node");
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(
        js.contains("/*! jQuery v3.7.1") || js.contains("jQuery JavaScript Library v3.7.1"),
        "licence comments survive"
    );
    let inputs: u64 = [
        "jquery-3.7.1/dist/jquery.js",
        "jquery-ui-1.13.3/dist/jquery-ui.js",
        "bootstrap-3.4.1/dist/js/bootstrap.js",
        "bootstrap-5.3.3/dist/js/bootstrap.bundle.js",
    ]
    .iter()
    .map(|path| std::fs::metadata(libs.join(path)).expect("lib").len())
    .sum();
    let passed_through = std::fs::metadata(libs.join("jquery-3.7.1/dist/jquery.min.js"))
        .expect("lib")
        .len();
    let minified = js.len() as u64 - passed_through;
    // The libraries' own minified builds are 42 % of these sources (jquery-ui keeps many licence
    // comments); stapler must do at least about as well.
    assert!(
        minified * 100 < inputs * 46,
        "minified JS {minified} bytes vs {inputs} in"
    );
}
