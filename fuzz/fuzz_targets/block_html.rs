//! The reader of a compress block's HTML (`<link>`, `<style>`, `<script>` and attributes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(html) = std::str::from_utf8(data) {
        for element in stapler::compress::html::elements(html) {
            let _ = element.attr("href");
        }
    }
});
