//! The CSS scanner that finds and rewrites `url()`s and checks structure, then the minifier.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stapler::compress::{css, css_minify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let rewritten = css::rewrite_urls(
        text,
        |url, _line| Ok::<_, css::CssError>(format!("/static/{url}")),
        |error| error,
    );
    if let Ok(rewritten) = rewritten {
        let _ = css_minify::minify("fuzz.css", &rewritten);
    }
});
