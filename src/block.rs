//! The vocabulary every stage shares: what a compress block bundles ([`Kind`]), how its output
//! goes into the page ([`Mode`]), one rendered block ([`Block`]) and its manifest key.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::diagnostic::Location;

/// What a compress block bundles.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Css,
    Js,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Css => "css",
            Kind::Js => "js",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a block's output is put into the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A `<link>` or `<script src>` pointing at the written file.
    File,
    /// The minified text inside `<style>` or `<script>`.
    Inline,
    /// A `<link rel="preload">` pointing at the written file.
    Preload,
}

/// One compress block, rendered with one offline context.
#[derive(Debug, Clone)]
pub struct Block {
    pub kind: Kind,
    pub mode: Mode,
    /// The output's base name (`{% compress css file vendor %}`), `None` for `output`.
    pub name: Option<String>,
    /// The template that was scanned (after inheritance the tag may live in an ancestor).
    pub template: String,
    /// Where the `{% compress %}` tag is written.
    pub location: Location,
    /// The body as the engine renders it: the text whose hash is the manifest key.
    pub body: String,
    /// Which offline context rendered it (index into the configured contexts).
    pub context: usize,
    /// The manifest key of `body`; see [`key`].
    pub key: String,
}

/// The manifest key of a rendered body, as django-compressor computes it at runtime:
/// `sha256(body with every occurrence of STATIC_URL removed)` in lowercase hex.
pub fn key(body: &str, static_url: &str) -> String {
    let digest = if static_url.is_empty() {
        Sha256::digest(body.as_bytes())
    } else {
        Sha256::digest(body.replace(static_url, "").as_bytes())
    };
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_strips_static_url_then_hashes() {
        let body = "\n<link rel=\"stylesheet\" href=\"/static/a.css\">\n";
        assert_eq!(
            key(body, "/static/"),
            key("\n<link rel=\"stylesheet\" href=\"a.css\">\n", "")
        );
        assert_eq!(
            key("", ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
