//! What the build records of each bundle and block for reports: the parts a bundle is made of
//! with their shares of its bytes, and every place a block was found with the bundles it loads.

use std::path::PathBuf;

use crate::block::{Block, Kind};

/// One part's share of a bundle: its minified text and the separator after it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Share {
    /// The file, or `inline <script> at t.html:3`.
    pub source: String,
    pub bytes: u64,
}

/// What one bundle is made of, part by part in order. The bytes after the last part (a source
/// map comment) belong to no part.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Composition {
    pub bundle: String,
    pub sources: Vec<Share>,
}

/// A block as one template and offline context render it, and the bundles its tags load (none
/// for an inline block).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub key: String,
    pub kind: Kind,
    /// The template scanned (the tag may be written in one it extends: `file`).
    pub template: String,
    pub file: PathBuf,
    pub line: usize,
    /// Index of the offline context that rendered it.
    pub context: usize,
    pub bundles: Vec<String>,
}

impl Origin {
    pub fn of(block: &Block, bundles: Option<&Vec<String>>) -> Origin {
        Origin {
            key: block.key.clone(),
            kind: block.kind,
            template: block.template.clone(),
            file: block.location.file.clone(),
            line: block.location.line,
            context: block.context,
            bundles: bundles.cloned().unwrap_or_default(),
        }
    }
}
