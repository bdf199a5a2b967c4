//! What the bridge answers, as the binary reads it.

use serde::Deserialize;

/// What the bridge says once Django is set up.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Ready {
    pub python: String,
    pub django: String,
    pub compressor: String,
    /// django-compressor's version, `None` when only stapler_assets is installed.
    #[serde(default)]
    pub compressor_version: Option<String>,
    /// The app whose `compress` tag library `{% load compress %}` loads.
    #[serde(default)]
    pub compress_library: Option<String>,
    /// Whether `compressor` or `stapler_assets` is in `INSTALLED_APPS` (`{% load compress %}`
    /// fails otherwise).
    pub compressor_installed: bool,
    /// Python's start-up and `django.setup()`.
    pub seconds: f64,
}

/// One compress block as Django rendered it.
#[derive(Debug, Clone, Deserialize)]
pub struct RenderedBlock {
    pub kind: String,
    pub mode: String,
    pub name: Option<String>,
    /// The file the `{% compress %}` tag is in (after inheritance, the ancestor's).
    pub origin: String,
    pub line: usize,
    /// The offline context's index.
    pub context: usize,
    pub body: String,
}

/// A render that failed inside a block.
#[derive(Debug, Clone, Deserialize)]
pub struct RenderError {
    pub origin: String,
    pub line: usize,
    pub message: String,
    /// A manifest storage refused a name its manifest lacks: `collectstatic` has not run.
    #[serde(default)]
    pub missing_manifest_entry: bool,
}

/// One template's blocks, or why Django skipped it.
#[derive(Debug, Clone, Deserialize)]
pub struct RenderedTemplate {
    pub name: String,
    pub blocks: Vec<RenderedBlock>,
    pub skipped: Option<String>,
    #[serde(default)]
    pub error: Option<RenderError>,
}

/// One element as django-compressor's configured parser reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct ParsedElement {
    pub tag: String,
    pub attrs: Vec<(String, Option<String>)>,
    pub text: String,
}
