//! Settings, gathered once from `stapler.toml` (or `[tool.stapler]` in `pyproject.toml`), the
//! `STAPLER_*` environment and the command line, in rising precedence, and validated into a
//! plain [`Config`] that every later stage reads. Names follow django-compressor's settings
//! without the `COMPRESS_` prefix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Which template language the templates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Django,
    Jinja2,
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "django" => Ok(Engine::Django),
            "jinja2" => Ok(Engine::Jinja2),
            other => Err(format!(
                "unknown engine `{other}`: use `django` or `jinja2`"
            )),
        }
    }
}

/// How stylesheets point at the images and fonts they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CssHashing {
    /// Copy each asset to a content-hashed name (`img/logo.3f2a9c1b0d4e.png`) and point there.
    Filename,
    /// django-compressor's form: keep the name and append `?3f2a9c1b0d4e`.
    Query,
    /// Make urls absolute but leave names alone.
    None,
}

/// One offline context: the variables a block body is rendered with.
pub type OfflineContext = serde_json::Map<String, serde_json::Value>;

/// The resolved settings. Paths are absolute or relative to the working directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file the settings came from, if any.
    pub source: Option<PathBuf>,
    /// Django's `STATIC_ROOT`: where collected static files live and outputs are written.
    pub static_root: PathBuf,
    /// Django's `STATIC_URL`: removed from bodies before hashing them into manifest keys.
    pub static_url: String,
    /// `COMPRESS_ROOT`: the directory outputs are written under (default `static_root`).
    pub root: PathBuf,
    /// `COMPRESS_URL`: the URL `root` is served at (default `static_url`).
    pub url: String,
    /// Django's `STATICFILES_DIRS`: searched after `root` for files a block references.
    pub staticfiles_dirs: Vec<PathBuf>,
    /// Directories scanned for templates, in lookup order.
    pub template_dirs: Vec<PathBuf>,
    /// File name endings that mark a template, each starting with a dot.
    pub extensions: Vec<String>,
    /// The template language.
    pub engine: Engine,
    /// Whether to follow symbolic links while walking template directories.
    pub follow_links: bool,
    /// The folder under `root` that bundles and the manifest go to (`CACHE`).
    pub output_dir: String,
    /// The manifest's file name inside `output_dir`.
    pub offline_manifest: String,
    /// Every context each block is rendered with; never empty, each has `STATIC_URL`.
    pub offline_contexts: Vec<OfflineContext>,
    /// How CSS `url()`s name their targets.
    pub css_hashing_method: CssHashing,
    /// Stands in for `url` in manifest values; the runtime puts the real URL back.
    pub url_placeholder: String,
    /// Autoescape block bodies with the `jinja2` engine (Django's Jinja2 backend does).
    pub jinja2_autoescape: bool,
    /// Rebuild everything and rewrite outputs even when they already exist.
    pub force: bool,
    /// How hard JavaScript is minified: `full` (compress + mangle), `mangle` or `whitespace`.
    pub js_minify: crate::compress::js::JsMinify,
    /// Where minified sources are cached between runs; `None` with `--no-cache`.
    pub cache_dir: Option<PathBuf>,
    /// A cache on an S3 prefix that CI runners share, behind the local one.
    pub shared_cache: Option<SharedCacheConfig>,
    /// Where and how `stapler publish` sends the static root.
    pub publish: PublishConfig,
}

/// The `[shared_cache]` settings, resolved.
#[derive(Debug, Clone)]
pub struct SharedCacheConfig {
    /// Where entries live, as an S3 target (`to` is `s3://bucket/prefix`).
    pub target: PublishConfig,
    /// Above this many entries, a share of them is deleted after a build.
    pub max_entries: usize,
    /// When culling, 1 / `cull_frequency` of the entries go (django's cache semantics).
    pub cull_frequency: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedCacheSettings {
    to: Option<String>,
    endpoint_url: Option<String>,
    region: Option<String>,
    path_style: Option<bool>,
    max_entries: Option<usize>,
    cull_frequency: Option<usize>,
}

/// The `[publish]` settings, resolved.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// `s3://bucket/prefix` or `file:///dir`; default: a `published` folder beside `static_root`.
    pub to: String,
    /// An S3-compatible endpoint (MinIO, Garage, R2, SeaweedFS) instead of AWS.
    pub endpoint_url: Option<String>,
    /// The region; default from the AWS environment, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`); default on when `endpoint_url` is set.
    pub path_style: Option<bool>,
    /// Uploads in flight at once.
    pub jobs: usize,
    /// A canned ACL such as `public-read`; none by default (the bucket's default applies).
    pub acl: Option<String>,
    /// `Cache-Control` for names that are not content-hashed.
    pub cache_control: String,
    /// `Cache-Control` for content-hashed names.
    pub cache_control_hashed: String,
    /// Extra headers stored with every object (`Content-Disposition`, `Content-Language`,
    /// `Expires`, `x-amz-meta-*`).
    pub headers: BTreeMap<String, String>,
    /// Release records whose objects `--prune` keeps.
    pub keep: usize,
    /// A regex on object names marking them content-hashed, besides what stapler wrote and
    /// what Django's `staticfiles.json` lists.
    pub hashed_pattern: String,
    /// Files larger than this go up in parts.
    pub multipart_threshold: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishSettings {
    to: Option<String>,
    endpoint_url: Option<String>,
    region: Option<String>,
    path_style: Option<bool>,
    jobs: Option<usize>,
    acl: Option<String>,
    cache_control: Option<String>,
    cache_control_hashed: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    keep: Option<usize>,
    hashed_pattern: Option<String>,
    multipart_threshold: Option<u64>,
}

impl Config {
    /// Where the manifest is written: `<root>/<output_dir>/<offline_manifest>`.
    pub fn manifest_path(&self) -> PathBuf {
        self.root
            .join(&self.output_dir)
            .join(&self.offline_manifest)
    }
}

/// Settings as written in a file or the environment: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    static_root: Option<PathBuf>,
    static_url: Option<String>,
    root: Option<PathBuf>,
    url: Option<String>,
    staticfiles_dirs: Option<Vec<PathBuf>>,
    template_dirs: Option<Vec<PathBuf>>,
    extensions: Option<Vec<String>>,
    engine: Option<Engine>,
    follow_links: Option<bool>,
    output_dir: Option<String>,
    offline_manifest: Option<String>,
    offline_context: Option<ContextSetting>,
    css_hashing_method: Option<CssHashing>,
    url_placeholder: Option<String>,
    jinja2_autoescape: Option<bool>,
    cache_dir: Option<PathBuf>,
    shared_cache: Option<SharedCacheSettings>,
    js_minify: Option<crate::compress::js::JsMinify>,
    publish: Option<PublishSettings>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ContextSetting {
    One(BTreeMap<String, toml::Value>),
    Many(Vec<BTreeMap<String, toml::Value>>),
}

/// What the command line says; `None` and empty mean "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub extensions: Vec<String>,
    pub engine: Option<Engine>,
    pub follow_links: bool,
    pub force: bool,
    /// Bypass the build cache.
    pub no_cache: bool,
    /// `stapler publish` flags.
    pub to: Option<String>,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub jobs: Option<usize>,
    pub keep: Option<usize>,
}

/// Loads the settings: the file (`--config`, else `./stapler.toml`, else `[tool.stapler]` in
/// `./pyproject.toml`), then `STAPLER_*` variables from `env`, then `overrides`.
pub fn load(overrides: &Overrides, env: &BTreeMap<String, String>) -> Result<Config> {
    let (source, mut settings) = match &overrides.config {
        Some(path) => (Some(path.clone()), read_file(path)?),
        None => find_default_file()?,
    };
    let base = source
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    settings.make_paths_relative_to(&base);
    apply_env(&mut settings, env)?;
    resolve(source, settings, overrides)
}

/// Reads the process environment's `STAPLER_*` variables for [`load`].
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("STAPLER_"))
        .collect()
}

fn find_default_file() -> Result<(Option<PathBuf>, FileSettings)> {
    let toml_path = PathBuf::from("stapler.toml");
    if toml_path.is_file() {
        return Ok((Some(toml_path.clone()), read_file(&toml_path)?));
    }
    let pyproject = PathBuf::from("pyproject.toml");
    if pyproject.is_file() {
        let settings = read_file(&pyproject)?;
        return Ok((Some(pyproject), settings));
    }
    Ok((None, FileSettings::default()))
}

fn read_file(path: &Path) -> Result<FileSettings> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::config(
            path.display(),
            format!(
                "cannot read the configuration file ({error}); check the path given to --config"
            ),
        )
    })?;
    let is_pyproject = path
        .file_name()
        .is_some_and(|name| name == "pyproject.toml");
    if is_pyproject {
        let document: toml::Table = toml::from_str(&text)
            .map_err(|error| Error::config(path.display(), describe_toml_error(&error)))?;
        let table = document
            .get("tool")
            .and_then(|tool| tool.get("stapler"))
            .cloned()
            .ok_or_else(|| {
                Error::config(
                    path.display(),
                    "has no [tool.stapler] table; add one, or write a stapler.toml",
                )
            })?;
        table.try_into().map_err(|error: toml::de::Error| {
            Error::config(path.display(), describe_toml_error(&error))
        })
    } else {
        toml::from_str(&text)
            .map_err(|error| Error::config(path.display(), describe_toml_error(&error)))
    }
}

fn describe_toml_error(error: &toml::de::Error) -> String {
    let message = error.message().trim_end().to_string();
    match error.span() {
        Some(span) => format!(
            "{message} (at byte {}); fix the key or its value",
            span.start
        ),
        None => format!("{message}; fix the key or its value"),
    }
}

impl FileSettings {
    fn make_paths_relative_to(&mut self, base: &Path) {
        let join = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        self.static_root.iter_mut().for_each(join);
        self.root.iter_mut().for_each(join);
        self.staticfiles_dirs.iter_mut().flatten().for_each(join);
        self.template_dirs.iter_mut().flatten().for_each(join);
        self.cache_dir.iter_mut().for_each(join);
        if self.cache_dir.is_none() {
            self.cache_dir = Some(base.join(".stapler-cache"));
        }
        if let Some(to) = self
            .publish
            .as_mut()
            .and_then(|publish| publish.to.as_mut())
        {
            if let Some(path) = to.strip_prefix("file://") {
                if !path.starts_with('/') {
                    *to = format!("file://{}", base.join(path).display());
                }
            }
        }
    }
}

fn apply_env(settings: &mut FileSettings, env: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in env {
        let Some(name) = key.strip_prefix("STAPLER_") else {
            continue;
        };
        let bad = |message: String| Error::config(format!("environment variable {key}"), message);
        let paths = || std::env::split_paths(value).collect::<Vec<_>>();
        let words = || {
            value
                .split(',')
                .map(str::trim)
                .filter(|word| !word.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        match name {
            "STATIC_ROOT" => settings.static_root = Some(value.into()),
            "STATIC_URL" => settings.static_url = Some(value.clone()),
            "ROOT" => settings.root = Some(value.into()),
            "URL" => settings.url = Some(value.clone()),
            "STATICFILES_DIRS" => settings.staticfiles_dirs = Some(paths()),
            "TEMPLATE_DIRS" => settings.template_dirs = Some(paths()),
            "EXTENSIONS" => settings.extensions = Some(words()),
            "ENGINE" => settings.engine = Some(value.parse().map_err(bad)?),
            "FOLLOW_LINKS" => settings.follow_links = Some(parse_bool(value).map_err(bad)?),
            "OUTPUT_DIR" => settings.output_dir = Some(value.clone()),
            "OFFLINE_MANIFEST" => settings.offline_manifest = Some(value.clone()),
            "OFFLINE_CONTEXT" => {
                let parsed: serde_json::Value = serde_json::from_str(value).map_err(|error| {
                    bad(format!(
                        "is not JSON ({error}); give an object or a list of objects"
                    ))
                })?;
                let json = serde_json::to_string(&parsed).unwrap_or_default();
                let toml_value: ContextSetting = serde_json::from_str(&json)
                    .map_err(|_| bad("must be a JSON object or a list of objects".into()))?;
                settings.offline_context = Some(toml_value);
            }
            "CSS_HASHING_METHOD" => {
                settings.css_hashing_method = Some(match value.as_str() {
                    "filename" => CssHashing::Filename,
                    "query" => CssHashing::Query,
                    "none" => CssHashing::None,
                    other => {
                        return Err(bad(format!(
                            "unknown method `{other}`; use `filename`, `query` or `none`"
                        )))
                    }
                })
            }
            "URL_PLACEHOLDER" => settings.url_placeholder = Some(value.clone()),
            "PUBLISH_TO" => {
                settings.publish.get_or_insert_with(Default::default).to = Some(value.clone())
            }
            "ENDPOINT_URL" => {
                settings
                    .publish
                    .get_or_insert_with(Default::default)
                    .endpoint_url = Some(value.clone())
            }
            "CACHE_DIR" => settings.cache_dir = Some(value.into()),
            "JS_MINIFY" => {
                settings.js_minify = Some(match value.as_str() {
                    "full" => crate::compress::js::JsMinify::Full,
                    "mangle" => crate::compress::js::JsMinify::Mangle,
                    "whitespace" => crate::compress::js::JsMinify::Whitespace,
                    other => {
                        return Err(bad(format!(
                            "unknown level `{other}`; use full, mangle or whitespace"
                        )))
                    }
                })
            }
            "JINJA2_AUTOESCAPE" => {
                settings.jinja2_autoescape = Some(parse_bool(value).map_err(bad)?)
            }
            _ => {
                return Err(bad(
                    "is not a stapler setting; unset it or fix its name".into()
                ))
            }
        }
    }
    Ok(())
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("`{other}` is not a boolean; use true or false")),
    }
}

fn resolve(
    source: Option<PathBuf>,
    settings: FileSettings,
    overrides: &Overrides,
) -> Result<Config> {
    let origin = source.as_ref().map_or_else(
        || "configuration".to_string(),
        |path| path.display().to_string(),
    );
    let missing = |key: &str| {
        Error::config(
            &origin,
            format!(
                "`{key}` is not set; set it in stapler.toml (or [tool.stapler] in pyproject.toml) or as STAPLER_{}",
                key.to_ascii_uppercase()
            ),
        )
    };
    let static_root = settings
        .static_root
        .or_else(|| settings.root.clone())
        .ok_or_else(|| missing("static_root"))?;
    let static_url = settings
        .static_url
        .unwrap_or_else(|| "/static/".to_string());
    let url = settings.url.unwrap_or_else(|| static_url.clone());
    for (key, value) in [("static_url", &static_url), ("url", &url)] {
        if !value.ends_with('/') {
            return Err(Error::config(
                &origin,
                format!("`{key}` is `{value}` but must end with `/`, as Django requires"),
            ));
        }
    }
    let template_dirs = settings.template_dirs.unwrap_or_default();
    if template_dirs.is_empty() {
        return Err(missing("template_dirs"));
    }
    let extensions = if overrides.extensions.is_empty() {
        settings
            .extensions
            .unwrap_or_else(|| vec![".html".to_string()])
    } else {
        overrides.extensions.clone()
    };
    let extensions = normalize_extensions(&extensions);
    if extensions.is_empty() {
        return Err(Error::config(
            &origin,
            "`extensions` is empty; list at least one, such as \".html\"",
        ));
    }
    let output_dir = settings
        .output_dir
        .unwrap_or_else(|| "CACHE".to_string())
        .trim_matches('/')
        .to_string();
    if output_dir.is_empty() || output_dir.split('/').any(|part| part == "..") {
        return Err(Error::config(
            &origin,
            "`output_dir` must be a folder name inside `root`, such as \"CACHE\"",
        ));
    }
    let offline_manifest = settings
        .offline_manifest
        .unwrap_or_else(|| "manifest.json".to_string());
    if offline_manifest.is_empty()
        || offline_manifest.contains("..")
        || offline_manifest.starts_with('/')
    {
        return Err(Error::config(
            &origin,
            "`offline_manifest` must be a file name such as \"manifest.json\"",
        ));
    }
    let offline_contexts = build_contexts(settings.offline_context, &static_url);
    let shared_cache = match settings.shared_cache {
        None => None,
        Some(shared) => {
            let bad = |message: String| Error::config(format!("{origin} [shared_cache]"), message);
            let to = shared
                .to
                .ok_or_else(|| bad("`to` is required: s3://bucket/prefix".into()))?;
            if !to.starts_with("s3://") {
                return Err(bad(format!(
                    "`to` is `{to}`; the shared cache lives on S3: s3://bucket/prefix"
                )));
            }
            let cull_frequency = shared.cull_frequency.unwrap_or(3);
            if cull_frequency < 2 {
                return Err(bad(
                    "`cull_frequency` must be at least 2 (1 would delete every entry)".into(),
                ));
            }
            let target = resolve_publish(
                PublishSettings {
                    to: Some(to),
                    endpoint_url: shared.endpoint_url,
                    region: shared.region,
                    path_style: shared.path_style,
                    ..PublishSettings::default()
                },
                &Overrides::default(),
                &static_root,
                &origin,
            )?;
            Some(SharedCacheConfig {
                target,
                max_entries: shared.max_entries.unwrap_or(10_000),
                cull_frequency,
            })
        }
    };
    let publish = resolve_publish(
        settings.publish.unwrap_or_default(),
        overrides,
        &static_root,
        &origin,
    )?;
    Ok(Config {
        source,
        root: settings.root.unwrap_or_else(|| static_root.clone()),
        static_root,
        static_url,
        url,
        staticfiles_dirs: settings.staticfiles_dirs.unwrap_or_default(),
        template_dirs,
        extensions,
        engine: overrides
            .engine
            .or(settings.engine)
            .unwrap_or(Engine::Django),
        follow_links: overrides.follow_links || settings.follow_links.unwrap_or(false),
        output_dir,
        offline_manifest,
        offline_contexts,
        css_hashing_method: settings.css_hashing_method.unwrap_or(CssHashing::Filename),
        url_placeholder: settings
            .url_placeholder
            .unwrap_or_else(|| "/__compressor_url_placeholder__/".to_string()),
        jinja2_autoescape: settings.jinja2_autoescape.unwrap_or(true),
        force: overrides.force,
        js_minify: settings
            .js_minify
            .unwrap_or(crate::compress::js::JsMinify::Full),
        cache_dir: if overrides.no_cache {
            None
        } else {
            settings.cache_dir
        },
        shared_cache: if overrides.no_cache {
            None
        } else {
            shared_cache
        },
        publish,
    })
}

fn resolve_publish(
    settings: PublishSettings,
    overrides: &Overrides,
    static_root: &Path,
    origin: &str,
) -> Result<PublishConfig> {
    let bad = |message: String| Error::config(format!("{origin} [publish]"), message);
    let to = overrides.to.clone().or(settings.to).unwrap_or_else(|| {
        let beside = static_root
            .parent()
            .unwrap_or(Path::new("."))
            .join("published");
        format!("file://{}", beside.display())
    });
    if !(to.starts_with("s3://") || to.starts_with("file://")) {
        return Err(bad(format!(
            "`to` is `{to}`; use s3://bucket/prefix or file:///directory"
        )));
    }
    let jobs = overrides.jobs.or(settings.jobs).unwrap_or(32);
    if jobs == 0 {
        return Err(bad("`jobs` must be at least 1".into()));
    }
    let keep = overrides.keep.or(settings.keep).unwrap_or(3);
    if keep == 0 {
        return Err(bad(
            "`keep` must be at least 1: the release being published is always kept".into(),
        ));
    }
    let headers = settings.headers.unwrap_or_default();
    for name in headers.keys() {
        let lower = name.to_ascii_lowercase();
        let storable = matches!(
            lower.as_str(),
            "content-disposition" | "content-language" | "expires" | "content-encoding"
        ) || lower.starts_with("x-amz-meta-");
        if !storable {
            return Err(bad(format!(
                "header `{name}` cannot be stored on an object; S3 keeps only Content-Disposition, Content-Encoding, Content-Language, Expires and x-amz-meta-* (CORS headers are bucket configuration)"
            )));
        }
    }
    let hashed_pattern = settings
        .hashed_pattern
        .unwrap_or_else(|| r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$".to_string());
    regex::Regex::new(&hashed_pattern)
        .map_err(|error| bad(format!("`hashed_pattern` is not a regex: {error}")))?;
    let multipart_threshold = settings.multipart_threshold.unwrap_or(64 * 1024 * 1024);
    if multipart_threshold < 5 * 1024 * 1024 {
        return Err(bad(
            "`multipart_threshold` must be at least 5 MiB, S3's smallest part".into(),
        ));
    }
    Ok(PublishConfig {
        to,
        endpoint_url: overrides.endpoint_url.clone().or(settings.endpoint_url),
        region: overrides.region.clone().or(settings.region),
        path_style: settings.path_style,
        jobs,
        acl: settings.acl,
        cache_control: settings
            .cache_control
            .unwrap_or_else(|| "public, max-age=300".to_string()),
        cache_control_hashed: settings
            .cache_control_hashed
            .unwrap_or_else(|| "public, max-age=31536000, immutable".to_string()),
        headers,
        keep,
        hashed_pattern,
        multipart_threshold,
    })
}

/// Accepts `html`, `.html` and `html,txt` as django-compressor's `-e` does.
fn normalize_extensions(given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in given {
        for part in item
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let ext = if part.starts_with('.') {
                part.to_string()
            } else {
                format!(".{part}")
            };
            if !out.contains(&ext) {
                out.push(ext);
            }
        }
    }
    out
}

fn build_contexts(setting: Option<ContextSetting>, static_url: &str) -> Vec<OfflineContext> {
    let tables = match setting {
        None => vec![BTreeMap::new()],
        Some(ContextSetting::One(table)) => vec![table],
        Some(ContextSetting::Many(tables)) if tables.is_empty() => vec![BTreeMap::new()],
        Some(ContextSetting::Many(tables)) => tables,
    };
    tables
        .into_iter()
        .map(|table| {
            let mut context = OfflineContext::new();
            for (key, value) in table {
                context.insert(key, toml_to_json(value));
            }
            context
                .entry("STATIC_URL")
                .or_insert_with(|| serde_json::Value::String(static_url.to_string()));
            context
        })
        .collect()
}

fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        toml::Value::String(text) => Json::String(text),
        toml::Value::Integer(number) => Json::from(number),
        toml::Value::Float(number) => {
            serde_json::Number::from_f64(number).map_or(Json::Null, Json::Number)
        }
        toml::Value::Boolean(flag) => Json::Bool(flag),
        toml::Value::Datetime(date) => Json::String(date.to_string()),
        toml::Value::Array(items) => Json::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write test config");
        path
    }

    fn load_file(path: PathBuf, env: &[(&str, &str)]) -> Result<Config> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            &env,
        )
    }

    #[test]
    fn defaults_follow_django_compressor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            "static_root = \"out\"\ntemplate_dirs = [\"templates\"]\n",
        );
        let config = load_file(path, &[]).expect("valid config");
        assert_eq!(config.static_root, dir.path().join("out"));
        assert_eq!(config.root, config.static_root);
        assert_eq!(config.static_url, "/static/");
        assert_eq!(config.url, "/static/");
        assert_eq!(config.output_dir, "CACHE");
        assert_eq!(
            config.manifest_path(),
            dir.path().join("out/CACHE/manifest.json")
        );
        assert_eq!(config.extensions, vec![".html"]);
        assert_eq!(config.engine, Engine::Django);
        assert_eq!(config.css_hashing_method, CssHashing::Filename);
        assert_eq!(config.url_placeholder, "/__compressor_url_placeholder__/");
        assert_eq!(config.offline_contexts.len(), 1);
        assert_eq!(config.offline_contexts[0]["STATIC_URL"], "/static/");
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            "static_root = \"s\"\ntemplate_dirs = [\"t\"]\nstatik_url = \"/x/\"\n",
        );
        let message = load_file(path, &[]).expect_err("unknown key").to_string();
        assert!(message.contains("statik_url"), "{message}");
        assert!(message.contains("stapler.toml"), "{message}");
    }

    #[test]
    fn wrong_type_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            "static_root = \"s\"\ntemplate_dirs = \"t\"\n",
        );
        let message = load_file(path, &[]).expect_err("wrong type").to_string();
        assert!(
            message.contains("template_dirs") || message.contains("sequence"),
            "{message}"
        );
    }

    #[test]
    fn static_url_must_end_with_slash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            "static_root = \"s\"\nstatic_url = \"/static\"\ntemplate_dirs = [\"t\"]\n",
        );
        let message = load_file(path, &[]).expect_err("no slash").to_string();
        assert!(message.contains("must end with `/`"), "{message}");
    }

    #[test]
    fn environment_beats_file_and_flags_beat_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            "static_root = \"s\"\ntemplate_dirs = [\"t\"]\nextensions = [\"html\"]\n",
        );
        let env = [
            ("STAPLER_STATIC_URL", "/assets/"),
            ("STAPLER_EXTENSIONS", "txt"),
        ];
        let config = load_file(path.clone(), &env).expect("valid");
        assert_eq!(config.static_url, "/assets/");
        assert_eq!(config.extensions, vec![".txt"]);
        let env: BTreeMap<_, _> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let overrides = Overrides {
            config: Some(path),
            extensions: vec!["jinja".into()],
            ..Overrides::default()
        };
        assert_eq!(
            load(&overrides, &env).expect("valid").extensions,
            vec![".jinja"]
        );
    }

    #[test]
    fn unknown_environment_variable_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            "static_root = \"s\"\ntemplate_dirs = [\"t\"]\n",
        );
        let message = load_file(path, &[("STAPLER_STATC_ROOT", "x")])
            .expect_err("typo")
            .to_string();
        assert!(message.contains("STAPLER_STATC_ROOT"), "{message}");
    }

    #[test]
    fn pyproject_table_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "pyproject.toml",
            "[project]\nname = \"site\"\n[tool.stapler]\nstatic_root = \"s\"\ntemplate_dirs = [\"t\"]\noffline_context = [{ THEME = \"dark\" }, { THEME = \"light\", STATIC_URL = \"/cdn/\" }]\n",
        );
        let config = load_file(path, &[]).expect("valid");
        assert_eq!(config.offline_contexts.len(), 2);
        assert_eq!(config.offline_contexts[0]["STATIC_URL"], "/static/");
        assert_eq!(config.offline_contexts[1]["STATIC_URL"], "/cdn/");
        assert_eq!(config.offline_contexts[1]["THEME"], "light");
    }

    #[test]
    fn missing_file_says_so() {
        let message = load_file(PathBuf::from("/nonexistent/stapler.toml"), &[])
            .expect_err("missing")
            .to_string();
        assert!(message.contains("cannot read"), "{message}");
    }
}
