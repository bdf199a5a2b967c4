//! Settings, gathered once from `stapler.toml` (or `[tool.stapler]` in `pyproject.toml`), the
//! `STAPLER_*` environment and the command line, in rising precedence ([`settings`], [`env`]),
//! then resolved into a [`Config`] of typed, per-stage settings ([`resolve`]): each stage is
//! handed its own slice and never sees the rest. Names follow django-compressor's settings
//! without the `COMPRESS_` prefix.

pub mod budget;
mod django;
pub mod env;
mod init;
mod load;
mod native;
mod origins;
pub mod precompilers;
mod resolve;
pub mod settings;
mod targets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::django::Project;

use serde::{Deserialize, Serialize};

pub use crate::error::ConfigError;
pub use crate::store::{S3Settings, Target};
pub use init::settings_file;
pub use load::{load, read, Layers};
pub use origins::SettingOrigin;
pub use precompilers::{BuiltinCompiler, BUILTIN};
pub use settings::{Settings, StaticDir};
pub use targets::SharedCacheSettings;

/// Which template language the templates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Django,
    Jinja2,
}

/// Which templates Django itself renders, through the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderMode {
    /// Natively when every tag and library a template's compress blocks and inheritance chain
    /// use is one the native renderer knows; through Django otherwise.
    Auto,
    /// Never through Django; no Python runs.
    Native,
    /// Every template through Django.
    Django,
}

/// How Django's static files storage makes `{% static %}` URLs, as the native renderer repeats
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaticStorage {
    /// `STATIC_URL` and the quoted path (`StaticFilesStorage`).
    Plain,
    /// The hashed name `collectstatic` wrote into `staticfiles.json` under `static_root`
    /// (`ManifestStaticFilesStorage`, whitenoise's `CompressedManifestStaticFilesStorage`).
    Manifest,
    /// URLs only Django can make (another host, a remote storage): the native renderer refuses
    /// `{% static %}`.
    Other,
}

/// Where the offline contexts came from, which decides what the bridge renders with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ContextSource {
    /// stapler's settings: the bridge is handed the same contexts the native renderer uses.
    Settings,
    /// `COMPRESS_OFFLINE_CONTEXT`, evaluated by Python: the bridge renders with Django's own
    /// values. `opaque` when some have no JSON form, so only Django can render with them.
    Django { opaque: bool },
}

/// How stylesheets point at the images and fonts they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CssHashing {
    /// Copy each asset to a content-hashed name (`img/logo.3f2a9c1b0d4e.png`) and point there.
    Filename,
    /// django-compressor's form: keep the name and append `?3f2a9c1b0d4e`.
    Query,
    /// Make urls absolute but leave names alone.
    None,
}

/// How hard JavaScript is minified. `Mangle` is the default: on a site of a thousand pages,
/// compressing as well made JavaScript about 2 % smaller once gzipped and a build with an empty
/// cache about 1.7 times as long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsMinify {
    /// Compress and mangle local names.
    Full,
    /// Only rename local names and drop whitespace and comments.
    Mangle,
    /// Only drop whitespace and comments.
    Whitespace,
}

/// A hash function browsers accept in `integrity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SriAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl SriAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SriAlgorithm::Sha256 => "sha256",
            SriAlgorithm::Sha384 => "sha384",
            SriAlgorithm::Sha512 => "sha512",
        }
    }
}

/// What `sri_hashes` and `sri_crossorigin` ask for; no algorithms means no attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sri {
    pub algorithms: Vec<SriAlgorithm>,
    /// `anonymous` or `use-credentials`.
    pub crossorigin: Option<String>,
}

impl Sri {
    pub fn is_on(&self) -> bool {
        !self.algorithms.is_empty()
    }

    /// What distinguishes one setting from another in cache keys.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.as_str()).collect();
        format!(
            "{}|{}",
            names.join(","),
            self.crossorigin.as_deref().unwrap_or("")
        )
    }
}

/// A `Content-Encoding` files are precompressed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Gzip,
    Br,
}

/// Whether bundles get source maps, and whether browsers are told where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMaps {
    /// No maps: bundles exactly as django-compressor's.
    #[default]
    None,
    /// `<bundle>.map` beside each bundle, which ends with a `sourceMappingURL` comment.
    Linked,
    /// The map without the comment, for error trackers that are sent the maps.
    Hidden,
}

/// What happens to CSS a browser would throw away (a rule or declaration that does not parse,
/// merge-conflict markers). Hacks old Internet Explorer read (`*zoom`) are kept either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CssErrors {
    /// Stop the build, naming file, line and column.
    Error,
    /// Bundle the stylesheet as it is, minified conservatively, with a warning.
    Warn,
}

/// One offline context: the variables a block body is rendered with.
pub type OfflineContext = serde_json::Map<String, serde_json::Value>;

/// The resolved settings, one part per stage.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file the settings came from, if any.
    pub source: Option<PathBuf>,
    /// The Django project the run is in, when stapler found one and `render` is not `native`.
    pub project: Option<Project>,
    /// Each setting given, with its value and the source it came from, for `stapler config`.
    pub origins: Vec<SettingOrigin>,
    /// What stapler noticed in Django's settings and does not follow, to show the user.
    pub notes: Vec<String>,
    /// Template and static folders Django knows that the settings stapler reads do not list:
    /// templates and files the build would not see.
    pub folder_mismatches: Vec<String>,
    pub templates: TemplateSettings,
    pub compress: CompressSettings,
    pub manifest: ManifestSettings,
    pub publish: PublishSettings,
    pub budget: budget::Budget,
}

/// What the template scan needs.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateSettings {
    /// Directories scanned for templates, in lookup order.
    pub template_dirs: Vec<PathBuf>,
    /// File name endings that mark a template, each starting with a dot.
    pub extensions: Vec<String>,
    /// The template language.
    pub engine: Engine,
    /// Whether to follow symbolic links while walking template directories.
    pub follow_links: bool,
    /// Every context each block is rendered with; never empty, each has `STATIC_URL`.
    pub offline_contexts: Vec<OfflineContext>,
    /// Django's `STATIC_URL`: what `{% static %}` prepends, and what keys are computed without.
    pub static_url: String,
    /// Autoescape block bodies with the `jinja2` engine (Django's Jinja2 backend does).
    pub jinja2_autoescape: bool,
    /// Which templates go through Django.
    pub render: RenderMode,
    /// Where `offline_contexts` came from.
    pub context_source: ContextSource,
    /// Django's `LANGUAGE_CODE`, which i18n tags render in.
    pub language_code: String,
    /// Whether `language_code` is written right to left.
    pub language_bidi: bool,
    /// Django's static files storage makes its own URLs (hashed names, another host): the
    /// renderer asks Django for each `{% static %}` URL.
    pub static_from_django: bool,
    /// How the native renderer makes `{% static %}` URLs; `None` when nothing said, which is
    /// `plain` unless `static_root` holds a `staticfiles.json`.
    pub static_storage: Option<StaticStorage>,
    /// A manifest storage's `manifest_strict`: a name missing from the manifest is an error.
    pub manifest_strict: bool,
    /// `static_root/staticfiles.json`, which a manifest storage's URLs come from.
    pub static_manifest: PathBuf,
    /// Django's `DEBUG`, when Django said: a manifest storage then makes plain URLs.
    pub debug: bool,
    /// Jinja2 templates use Jinja2's own delimiters and whitespace rules (so a block body with
    /// no tags renders as its text without Django).
    pub jinja2_plain_syntax: bool,
    /// What the Django engine's tag libraries define, when Django said: a template that loads
    /// a library stapler does not know is rendered natively unless its compress blocks use a
    /// name that library defines.
    pub tag_libraries: Option<Arc<crate::django::TagLibraries>>,
}

/// What building bundles needs.
#[derive(Debug, Clone, Serialize)]
pub struct CompressSettings {
    /// `COMPRESS_ROOT`: the directory outputs are written under (default `static_root`).
    pub root: PathBuf,
    /// `COMPRESS_URL`: the URL `root` is served at (default `static_url`).
    pub url: String,
    /// Django's staticfiles finders' folders (`STATICFILES_DIRS`, with their URL prefixes, and
    /// each app's `static/`): searched after `root` for files a block references.
    pub staticfiles_dirs: Vec<StaticDir>,
    /// The folder under `root` that bundles and the manifest go to (`CACHE`).
    pub output_dir: String,
    /// How CSS `url()`s name their targets.
    pub css_hashing_method: CssHashing,
    /// How hard JavaScript is minified.
    pub js_minify: JsMinify,
    /// What CSS a browser would throw away does to the build.
    pub css_errors: CssErrors,
    /// The `integrity` and `crossorigin` attributes bundle tags get.
    pub sri: Sri,
    /// Source maps beside bundles.
    pub source_maps: SourceMaps,
    /// Whether maps carry the sources' text (`sourcesContent`).
    pub source_maps_content: bool,
    /// The encodings bundles and text assets are precompressed in, beside them.
    pub precompress: Vec<Encoding>,
    /// The Brotli quality of `.br` files, 0 to 11.
    pub brotli_quality: u32,
    /// Where minified sources are cached between runs; `None` with `--no-cache`.
    pub cache_dir: Option<PathBuf>,
    /// A cache on an S3 prefix that CI runners share, behind the local one.
    pub shared_cache: Option<SharedCacheSettings>,
    /// `[mimetype, command]`: the file's, the environment's and the flags' first, then
    /// Django's `COMPRESS_PRECOMPILERS`; the first entry for a type wins.
    pub precompilers: Vec<(String, String)>,
    /// Types whose precompiled output may be cached by the input's text.
    pub cacheable_precompilers: Vec<String>,
    /// `COMPRESS_ENABLED`: when false, each element of a block gets an output file of its own,
    /// as `manage.py compress` (forced) writes them.
    pub enabled: bool,
    /// Django's `COMPRESS_PARSER` when it is not the default (`html.parser`) one: blocks are
    /// then read by it, through the bridge.
    pub parser: Option<String>,
}

/// Where the manifest lives and how its values spell the URL.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestSettings {
    /// `<root>/<output_dir>/<offline_manifest>`.
    pub path: PathBuf,
    /// The manifest's name under `root` (`CACHE/manifest.json`), as it is published.
    pub name: String,
    /// The folder under `root` that bundles go to (`CACHE`).
    pub output_dir: String,
    /// Django's `STATIC_URL`, removed from bodies before hashing them into keys.
    pub static_url: String,
    /// `COMPRESS_URL`, replaced by the placeholder in stored values.
    pub url: String,
    /// Stands in for `url` in manifest values; the runtime puts the real URL back.
    pub url_placeholder: String,
}

/// Where and how `stapler publish` sends the static root.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// Django's `STATIC_ROOT`: the folder that is published.
    pub static_root: PathBuf,
    /// Where it goes.
    pub target: Target,
    /// Uploads in flight at once.
    pub jobs: usize,
    /// A canned ACL such as `public-read`; none by default (the bucket's default applies).
    pub acl: Option<String>,
    /// `Cache-Control` for names that are not content-hashed.
    pub cache_control: String,
    /// `Cache-Control` for content-hashed names.
    pub cache_control_hashed: String,
    /// Extra headers stored with every object.
    pub headers: BTreeMap<String, String>,
    /// Release records whose objects `--prune` keeps.
    pub keep: usize,
    /// Object names that are content-hashed, besides what stapler wrote and what Django's
    /// `staticfiles.json` lists.
    pub hashed_pattern: regex::Regex,
    /// How long a publish may take before it gives up; by default two minutes and a second
    /// per MiB of the static root.
    pub timeout: Option<std::time::Duration>,
    /// Whether the `.gz` and `.br` files beside bundles and assets are sent; by default to a
    /// folder (a web server picks one per request) and not to S3 (which cannot).
    pub precompressed: Option<bool>,
    /// Whether source maps beside bundles are sent.
    pub source_maps: bool,
    /// How many releases' keys the published manifest holds (1: this one's only).
    pub manifest_keep: usize,
    /// The CloudFront distribution to invalidate after a publish, if any.
    pub cloudfront: Option<CloudFrontSettings>,
    /// The URL visitors fetch the static root at, ending with `/`.
    pub public_url: Option<String>,
    /// Fetch what a release added through `public_url` once its manifest is up.
    pub verify: bool,
}

/// `[publish] cloudfront_*`: which distribution serves the target, and how its paths map.
#[derive(Debug, Clone)]
pub struct CloudFrontSettings {
    pub distribution_id: String,
    /// The URL path the target's prefix is served at; `None`: `/` and the prefix.
    pub path_prefix: Option<String>,
    pub max_paths: usize,
    pub endpoint_url: Option<String>,
}

impl PublishSettings {
    /// Whether precompressed files go to the target.
    pub fn sends_precompressed(&self) -> bool {
        self.precompressed
            .unwrap_or(matches!(self.target, Target::Dir(_)))
    }
}

/// What one run is asked to do beyond the settings: the command line's verbs, not settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// Rebuild and rewrite every output; send every object, changed or not.
    pub force: bool,
    /// Plan a publish and print it; send nothing.
    pub dry_run: bool,
    /// Delete objects that no recent release uses.
    pub prune: bool,
    /// Fail, before the manifest is written, on any skipped template or warning.
    pub strict: bool,
    /// Take the publish lock even though another run holds it.
    pub break_lock: bool,
    /// Wait until the CDN's invalidations have completed.
    pub wait: bool,
    /// Queue behind a live holder of the publish lock: `Some(None)` until the publish's
    /// deadline, `Some(Some(seconds))` for at most that long; `None` fails at once.
    pub lock_wait: Option<Option<u64>>,
}

/// Where the settings come from, besides the environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// The configuration file (`--config`); default `./stapler.toml`, else `./pyproject.toml`.
    pub file: Option<PathBuf>,
    /// Settings given as command-line flags: the top layer.
    pub flags: Settings,
    /// Bypass the build caches (`--no-cache`).
    pub no_cache: bool,
    /// With `render = "native"` in a Django project, ask Django once whether the settings still
    /// match its own (what `stapler check` does).
    pub compare_with_django: bool,
}

/// The process environment's `STAPLER_*` variables, `DJANGO_SETTINGS_MODULE` and `VIRTUAL_ENV`,
/// for [`load`].
pub fn process_env() -> BTreeMap<String, String> {
    // `vars()` would panic on any variable that is not Unicode, stapler's or not.
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(key, _)| {
            key.starts_with("STAPLER_") || key == "DJANGO_SETTINGS_MODULE" || key == "VIRTUAL_ENV"
        })
        .collect()
}
