//! The Django template lexer and parser, `{% extends %}` resolution and the translation of
//! block bodies: any text, split at the first NUL into a child and the parent it may extend.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stapler::templates::{django, inherit, translate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (child, parent) = text.split_once('\0').unwrap_or((text, ""));
    let mut loader = inherit::Loader::new(&[]);
    if let Ok(parent) = django::parse("base.html", parent) {
        loader.insert("base.html", Ok(Arc::new(parent)));
    }
    let Ok(child) = django::parse("child.html", child) else { return };
    let Ok(nodes) = inherit::flatten(&child, &mut loader, &Default::default()) else { return };
    let mut out = String::new();
    let _ = translate::to_jinja(&nodes, &mut out);
});
