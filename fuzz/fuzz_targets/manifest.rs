//! The manifest reader, the outputs it lists, and lookups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stapler::config::ManifestSettings;
use stapler::{Kind, Manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let settings = ManifestSettings {
        path: "CACHE/manifest.json".into(),
        name: "CACHE/manifest.json".into(),
        output_dir: "CACHE".into(),
        static_url: "/static/".into(),
        url: "/static/".into(),
        url_placeholder: "/__compressor_url_placeholder__/".into(),
    };
    if let Ok(manifest) = Manifest::parse(text, &settings) {
        let _ = manifest.outputs("CACHE");
        let _ = manifest.to_json();
        let _ = manifest.render(Kind::Css, text);
    }
});
