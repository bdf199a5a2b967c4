//! The library's `Manifest` read at runtime from the bucket a publish put it in, as a Rust app
//! serving the site (with the minijinja filter) reads it: from a real S3-compatible server.

mod common;

use std::sync::Arc;

use common::seaweed::{self, ACCESS_KEY, SECRET_KEY};
use common::*;
use stapler::config::ManifestSettings;
use stapler::manifest::Manifest;

fn settings(path: &std::path::Path) -> ManifestSettings {
    ManifestSettings {
        path: path.to_path_buf(),
        name: "CACHE/manifest.json".into(),
        output_dir: "CACHE".into(),
        static_url: "/static/".into(),
        url: "/static/".into(),
        url_placeholder: "/__compressor_url_placeholder__/".into(),
    }
}

#[test]
fn the_published_manifest_is_read_from_the_bucket_and_renders_blocks() {
    let server = seaweed::server();
    let bucket = seaweed::bucket("manifest-at-runtime");
    let site = example_site();
    let to = format!("s3://{bucket}/site");
    let out = seaweed::stapler_command(site.path())
        .args(["deploy", "--to", &to, "--endpoint-url", &server.endpoint])
        .output()
        .expect("run stapler");
    assert!(out.status.success(), "{}", text(&out.stderr));

    // This test binary holds this one test: setting the SDK's variables touches no other.
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::remove_var("AWS_PROFILE");

    let local_path = site.path().join("build/static/CACHE/manifest.json");
    let local = Manifest::load(&settings(&local_path)).expect("the local manifest");
    let location = format!("s3://{bucket}/site/CACHE/manifest.json");
    let remote =
        Manifest::load_from_blocking(&location, Some(&server.endpoint), &settings(&local_path))
            .expect("the published manifest");
    assert_eq!(remote.entries, local.entries);
    assert!(remote.entries.len() >= 10);

    // A path reads the file, as `load` does.
    let from_path = Manifest::load_from_blocking(
        &local_path.display().to_string(),
        None,
        &settings(&local_path),
    )
    .expect("the local manifest by path");
    assert_eq!(from_path.entries, local.entries);

    // The minijinja filter renders a block from what was read from the bucket.
    let mut env = minijinja::Environment::new();
    stapler::manifest::register_minijinja_filter(&mut env, Arc::new(remote));
    // The block's body as base.html renders it, whitespace and all.
    let body = "\n  <script async src=\"/static/js/analytics.js\"></script>\n  ";
    let template = format!("{{% filter compress(\"js\") %}}{body}{{% endfilter %}}");
    env.add_template("page", &template).expect("template");
    let html = env
        .get_template("page")
        .and_then(|t| t.render(()))
        .expect("render");
    assert!(
        html.starts_with("<script src=\"/static/CACHE/js/tracking."),
        "{html}"
    );

    // A missing object is an error that names it.
    let missing = format!("s3://{bucket}/elsewhere/manifest.json");
    let error =
        Manifest::load_from_blocking(&missing, Some(&server.endpoint), &settings(&local_path))
            .expect_err("no such object");
    let message = error.to_string();
    assert!(
        message.contains(&missing) && message.contains("cannot read the manifest"),
        "{message}"
    );
}
