//! The settings loader: any text as `stapler.toml` and as `pyproject.toml`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stapler::config::settings;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = settings::parse(Path::new("stapler.toml"), text);
        let _ = settings::parse(Path::new("pyproject.toml"), text);
    }
});
