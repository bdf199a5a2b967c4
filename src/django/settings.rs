//! What the bridge reads from Django's settings, as Django and django-compressor resolve them.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The settings a build needs, read by the bridge.
#[derive(Debug, Clone, Deserialize)]
#[allow(non_snake_case)]
pub struct DjangoSettings {
    pub STATIC_ROOT: Option<String>,
    pub STATIC_URL: Option<String>,
    pub COMPRESS_ROOT: Option<String>,
    pub COMPRESS_URL: String,
    pub COMPRESS_OUTPUT_DIR: String,
    pub COMPRESS_OFFLINE_MANIFEST: String,
    pub COMPRESS_CSS_HASHING_METHOD: Option<String>,
    pub COMPRESS_URL_PLACEHOLDER: String,
    /// `(mimetype, command)` pairs.
    pub COMPRESS_PRECOMPILERS: Vec<(String, String)>,
    #[serde(default)]
    pub COMPRESS_CACHEABLE_PRECOMPILERS: Vec<String>,
    /// `css` and `js` filter lists, by dotted path.
    pub COMPRESS_FILTERS: std::collections::BTreeMap<String, Vec<String>>,
    pub COMPRESS_OFFLINE: bool,
    /// Hash function names for `integrity` attributes (django-compressor after 4.6).
    #[serde(default)]
    pub COMPRESS_SRI_HASHES: Vec<String>,
    #[serde(default)]
    pub COMPRESS_SRI_CROSSORIGIN: Option<String>,
    pub LANGUAGE_CODE: String,
    /// The dotted class of `staticfiles_storage`.
    pub STATICFILES_STORAGE: String,
    /// How that storage makes URLs, as far as a build without Python can repeat it.
    #[serde(default)]
    pub static_storage: StaticStorageFound,
    #[serde(default = "yes")]
    pub COMPRESS_ENABLED: bool,
    #[serde(default)]
    pub COMPRESS_PARSER: String,
    /// Where the offline manifest storage keeps the manifest, when it has local paths.
    #[serde(default)]
    pub offline_manifest_path: Option<String>,
    /// The storage django-compressor writes outputs with.
    #[serde(default)]
    pub compress_storage: CompressStorageFound,
    /// Whether `LANGUAGE_CODE` is written right to left (Django's `LANGUAGES_BIDI`).
    pub LANGUAGE_BIDI: bool,
    /// `COMPRESS_OFFLINE_CONTEXT` evaluated, when every value has a JSON form.
    pub offline_context: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    pub offline_context_count: Option<usize>,
    /// Why evaluating `COMPRESS_OFFLINE_CONTEXT` failed.
    pub offline_context_error: Option<String>,
    /// The contexts hold values with no JSON form (model instances, lazy objects): only Django
    /// can render with them.
    pub offline_context_opaque: bool,
    /// The setting as written, for messages.
    pub offline_context_setting: String,
    /// Every staticfiles finder's locations, in Django's search order.
    pub static_locations: Vec<StaticLocation>,
    /// Finders stapler cannot search.
    pub unsupported_finders: Vec<String>,
    pub engines: Vec<Engine>,
    pub installed_apps: Vec<String>,
}

/// A folder a staticfiles finder searches, with the URL prefix it serves the folder under.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StaticLocation {
    pub prefix: Option<String>,
    pub path: String,
}

/// A template engine of `TEMPLATES`.
#[derive(Debug, Clone, Deserialize)]
pub struct Engine {
    /// `django`, `jinja2`, or the backend's class name.
    pub backend: String,
    pub alias: String,
    /// Template folders in loader order (`DIRS`, then each app's).
    pub dirs: Vec<String>,
    /// Jinja2 extensions.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Django: tag libraries loaded into every template.
    #[serde(default)]
    pub builtins: Vec<String>,
    /// Django: what each tag library defines.
    #[serde(default)]
    pub tag_libraries: Option<TagLibraries>,
    /// Jinja2: Jinja2's own delimiters and whitespace rules, so a body without tags renders
    /// as its text.
    #[serde(default)]
    pub plain_syntax: bool,
    /// Jinja2: the environment escapes variables.
    #[serde(default = "yes")]
    pub autoescape: bool,
}

fn yes() -> bool {
    true
}

/// The tags and filters of a Django engine's tag libraries.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct TagLibraries {
    /// By the name `{% load %}` takes.
    pub loadable: BTreeMap<String, LibraryNames>,
    /// Libraries the project adds to every template (`OPTIONS["builtins"]`), by module.
    pub builtins: BTreeMap<String, LibraryNames>,
}

/// What one tag library defines.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct LibraryNames {
    pub tags: Vec<String>,
    pub filters: Vec<String>,
}

/// The static files storage as the bridge describes it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct StaticStorageFound {
    /// `plain`, `manifest` or `other`.
    #[serde(default)]
    pub kind: String,
    /// The manifest file (`STATIC_ROOT/staticfiles.json`), for a manifest storage.
    #[serde(default)]
    pub manifest: Option<String>,
    #[serde(default)]
    pub manifest_strict: bool,
    /// `DEBUG`: a manifest storage then makes plain URLs.
    #[serde(default)]
    pub debug: bool,
}

/// django-compressor's output storage as the bridge describes it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CompressStorageFound {
    #[serde(default)]
    pub class: String,
    /// Its URLs are `COMPRESS_URL` and the file's name, as stapler writes them.
    #[serde(default)]
    pub plain_urls: bool,
}
