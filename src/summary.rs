//! What a compress run did, as the summary, the run record and the build report read it.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::django::BridgeUse;
use crate::{compress, templates};

/// What a compress run did, for the summary.
#[derive(Debug)]
pub struct Summary {
    pub templates: usize,
    pub skipped: Vec<templates::Skipped>,
    pub contexts: usize,
    pub build: compress::Build,
    pub manifest_path: PathBuf,
    pub elapsed: Duration,
    /// Templates Django rendered through the bridge, each with why the native renderer did not.
    pub by_django: Vec<(PathBuf, String)>,
    /// What the Django bridge cost, in a Django project.
    pub bridge: Option<BridgeUse>,
    /// Where the rendered blocks may depart from django-compressor's.
    pub departures: Vec<String>,
    /// Set when nothing changed since the last build, so nothing was rebuilt: how many files'
    /// metadata showed it (see [`crate::fingerprint`]).
    pub unchanged: Option<usize>,
}

impl Summary {
    /// Bytes of every distinct bundle written, raw and (when measured) gzipped.
    pub fn bytes_out(&self) -> (u64, Option<u64>) {
        let raw = self.build.bundles.iter().map(|file| file.bytes).sum();
        let gzip = self.build.bundles.iter().map(|file| file.gzip_bytes).sum();
        (raw, gzip)
    }
}
