//! Settings as people write them: every key optional, unknown keys refused. The same type is
//! read from `stapler.toml`, from `[tool.stapler]` in `pyproject.toml`, from `STAPLER_*`
//! variables (see [`super::env`]) and built from command-line flags; [`layer`] lays one over
//! another through serde, so no setting is copied field by field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    ConfigError, CssErrors, CssHashing, Encoding, Engine, JsMinify, RenderMode, SourceMaps,
    SriAlgorithm, StaticStorage,
};

/// One layer of settings.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub static_root: Option<PathBuf>,
    pub static_url: Option<String>,
    pub root: Option<PathBuf>,
    pub url: Option<String>,
    pub staticfiles_dirs: Option<Vec<StaticDir>>,
    pub template_dirs: Option<Vec<PathBuf>>,
    pub extensions: Option<Vec<String>>,
    pub engine: Option<Engine>,
    pub follow_links: Option<bool>,
    pub output_dir: Option<String>,
    pub offline_manifest: Option<String>,
    pub offline_context: Option<ContextSetting>,
    pub css_hashing_method: Option<CssHashing>,
    pub url_placeholder: Option<String>,
    pub jinja2_autoescape: Option<bool>,
    pub js_minify: Option<JsMinify>,
    pub css_errors: Option<CssErrors>,
    /// `COMPRESS_SRI_HASHES`: the hash functions of each bundle tag's `integrity` attribute.
    pub sri_hashes: Option<Vec<SriAlgorithm>>,
    /// `COMPRESS_SRI_CROSSORIGIN`: the `crossorigin` attribute that goes with it.
    pub sri_crossorigin: Option<String>,
    /// `none`, `linked` or `hidden`: source maps beside bundles.
    pub source_maps: Option<SourceMaps>,
    /// Whether maps carry the sources' text, so a tracker needs nothing else (default true).
    pub source_maps_content: Option<bool>,
    /// `["gzip", "br"]`: compressed copies written beside bundles and hashed text assets.
    pub precompress: Option<Vec<Encoding>>,
    /// The Brotli quality of precompressed `.br` files, 0 to 11 (default 9).
    pub brotli_quality: Option<u32>,
    pub cache_dir: Option<PathBuf>,
    pub shared_cache: Option<SharedCacheSection>,
    pub publish: Option<PublishSection>,
    pub budget: Option<super::budget::BudgetSection>,
    /// The Django settings module (`mysite.settings`).
    pub django_settings: Option<String>,
    /// The interpreter that has the project's packages.
    pub python: Option<PathBuf>,
    /// Which templates Django renders through the bridge.
    pub render: Option<RenderMode>,
    /// How `{% static %}` URLs are made without Python: `plain`, `manifest` or `other`.
    pub static_storage: Option<StaticStorage>,
    /// A manifest storage's `manifest_strict` (default true).
    pub manifest_strict: Option<bool>,
    /// `COMPRESS_ENABLED` (default true): false gives each element its own output file.
    pub enabled: Option<bool>,
    /// Django's `LANGUAGE_CODE`: the language i18n tags render in offline, as
    /// `manage.py compress` renders them.
    pub language_code: Option<String>,
    /// `[mimetype, command]` pairs, as `COMPRESS_PRECOMPILERS`: a shell command, a Python
    /// class's path (run through Django) or `builtin`. They come before Django's.
    pub precompilers: Option<Vec<(String, String)>>,
    /// `COMPRESS_CACHEABLE_PRECOMPILERS`: types whose precompiled output depends only on the
    /// input's text, and so may be cached by it.
    pub cacheable_precompilers: Option<Vec<String>>,
}

/// A `staticfiles_dirs` entry: a folder, or `[prefix, folder]` as in Django's `STATICFILES_DIRS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StaticDir {
    Path(PathBuf),
    Prefixed((String, PathBuf)),
}

impl StaticDir {
    fn path_mut(&mut self) -> &mut PathBuf {
        match self {
            StaticDir::Path(path) | StaticDir::Prefixed((_, path)) => path,
        }
    }
}

/// `[shared_cache]`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedCacheSection {
    pub to: Option<String>,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub max_entries: Option<usize>,
    pub cull_frequency: Option<usize>,
}

/// `[publish]`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSection {
    pub to: Option<String>,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub jobs: Option<usize>,
    pub acl: Option<String>,
    pub cache_control: Option<String>,
    pub cache_control_hashed: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub keep: Option<usize>,
    pub hashed_pattern: Option<String>,
    pub multipart_threshold: Option<u64>,
    /// Seconds a publish may take before it gives up with the previous release live.
    pub timeout: Option<u64>,
    /// The URL visitors fetch the static root at (the CDN's), for `verify`.
    pub public_url: Option<String>,
    /// After the manifest is up, fetch what the release added through `public_url`.
    pub verify: Option<bool>,
    /// Whether the source maps beside bundles are sent (by default when they are linked).
    pub source_maps: Option<bool>,
    /// Whether the precompressed copies are sent (by default to a folder, not to S3).
    pub precompressed: Option<bool>,
    /// The published manifest holds the keys of this many releases, this one included.
    pub manifest_keep: Option<usize>,
    /// The CloudFront distribution in front of the target: changed names that are not
    /// content-hashed are invalidated once the manifest is up.
    pub cloudfront_distribution_id: Option<String>,
    /// The URL path the distribution serves the target's prefix at (default `/` and the prefix).
    pub cloudfront_path_prefix: Option<String>,
    /// Past this many changed names, one wildcard for the prefix is invalidated instead.
    pub invalidation_max_paths: Option<usize>,
    /// A CloudFront API endpoint other than AWS's.
    pub cloudfront_endpoint_url: Option<String>,
}

/// `offline_context`: one table or a list of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextSetting {
    One(serde_json::Map<String, serde_json::Value>),
    Many(Vec<serde_json::Map<String, serde_json::Value>>),
}

impl Settings {
    /// Makes relative paths in a file's settings relative to the file's folder.
    pub fn anchor_paths(&mut self, base: &Path) {
        let join = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        self.static_root.iter_mut().for_each(join);
        self.root.iter_mut().for_each(join);
        self.staticfiles_dirs
            .iter_mut()
            .flatten()
            .map(StaticDir::path_mut)
            .for_each(join);
        self.python.iter_mut().for_each(|python| {
            // A bare name (`python3`) is looked up on the PATH; a path is the file's.
            if python.components().count() > 1 {
                join(python)
            }
        });
        self.template_dirs.iter_mut().flatten().for_each(join);
        self.cache_dir.iter_mut().for_each(join);
        let to = self.publish.as_mut().and_then(|p| p.to.as_mut());
        if let Some(to) = to {
            if let Some(path) = to.strip_prefix("file://") {
                if !path.starts_with('/') {
                    *to = format!("file://{}", base.join(path).display());
                }
            }
        }
    }
}

/// The tables whose keys a later layer sets one by one; every other value, tables such as
/// `offline_context` and `[publish] headers` included, is replaced whole by the layer that sets it.
const SECTIONS: [&str; 3] = ["publish", "shared_cache", "budget"];

/// `over` laid on `base`: every key `over` sets wins (an unset key is `null` and sets nothing);
/// `[publish]`, `[shared_cache]` and `[budget]` merge key by key.
pub fn layer(base: Settings, over: Settings) -> Result<Settings, ConfigError> {
    fn merge(base: &mut serde_json::Value, over: serde_json::Value, sections: &[&str]) {
        let (serde_json::Value::Object(base), serde_json::Value::Object(over)) = (base, over)
        else {
            return;
        };
        for (key, value) in over {
            if value.is_null() {
                continue;
            }
            match base.get_mut(&key) {
                Some(existing) if sections.contains(&key.as_str()) && existing.is_object() => {
                    merge(existing, value, &[])
                }
                _ => {
                    base.insert(key, value);
                }
            }
        }
    }
    let unrepresentable = |error: serde_json::Error| ConfigError {
        origin: "configuration".into(),
        message: format!("a setting cannot be read ({error}); paths must be UTF-8"),
    };
    let mut merged = serde_json::to_value(&base).map_err(unrepresentable)?;
    merge(
        &mut merged,
        serde_json::to_value(&over).map_err(unrepresentable)?,
        &SECTIONS,
    );
    serde_json::from_value(merged).map_err(unrepresentable)
}

/// Reads a settings file: `stapler.toml`, or the `[tool.stapler]` table of `pyproject.toml`.
pub fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        origin: path.display().to_string(),
        message: format!(
            "cannot read the configuration file ({error}); check the path given to --config"
        ),
    })?;
    parse(path, &text)
}

/// Parses the text of a settings file named `path` (a `pyproject.toml` is read for its
/// `[tool.stapler]` table).
pub fn parse(path: &Path, text: &str) -> Result<Settings, ConfigError> {
    let is_pyproject = path
        .file_name()
        .is_some_and(|name| name == "pyproject.toml");
    if !is_pyproject {
        return parse_toml(path, text);
    }
    stapler_table(path, text)?.ok_or_else(|| ConfigError {
        origin: path.display().to_string(),
        message: "has no [tool.stapler] table; add one, or write a stapler.toml".into(),
    })
}

/// The `[tool.stapler]` table of a `pyproject.toml`, `None` when it has none.
pub fn read_pyproject(path: &Path) -> Result<Option<Settings>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        origin: path.display().to_string(),
        message: format!("cannot read the file ({error}); check its permissions"),
    })?;
    stapler_table(path, &text)
}

fn stapler_table(path: &Path, text: &str) -> Result<Option<Settings>, ConfigError> {
    #[derive(Deserialize)]
    struct Pyproject {
        tool: Option<Tool>,
    }
    #[derive(Deserialize)]
    struct Tool {
        stapler: Option<Settings>,
    }
    let document: Pyproject = parse_toml(path, text)?;
    Ok(document.tool.and_then(|tool| tool.stapler))
}

/// Deserializes a TOML document, keeping the path of the key a mistake is under.
fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let document = toml::de::Deserializer::parse(text)
        .map_err(|error| describe_toml_error(path, text, &error, ""))?;
    serde_path_to_error::deserialize(document).map_err(|error| {
        let key = error.path().to_string();
        describe_toml_error(path, text, error.inner(), &key)
    })
}

/// A TOML mistake as `file:line:column: what; what to do`, then the line with a caret. `key` is
/// the dotted key the mistake is under, named unless the message already names it.
fn describe_toml_error(path: &Path, text: &str, error: &toml::de::Error, key: &str) -> ConfigError {
    let message = error.message().trim_end();
    let last = key.rsplit('.').next().unwrap_or(key);
    let message = if key.is_empty() || key == "." || message.contains(&format!("`{last}`")) {
        message.to_string()
    } else {
        format!("`{key}`: {message}")
    };
    let Some(span) = error.span() else {
        return ConfigError {
            origin: path.display().to_string(),
            message: format!("{message}; fix the key or its value"),
        };
    };
    let excerpt = crate::error::Excerpt::at(text, span);
    ConfigError {
        origin: format!("{}:{}:{}", path.display(), excerpt.line, excerpt.column),
        message: format!("{message}; fix the key or its value\n{excerpt}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_layer_wins_key_by_key_and_tables_merge() {
        let base: Settings = toml::from_str(
            "static_url = \"/s/\"\nextensions = [\".html\"]\n[publish]\nto = \"s3://a\"\njobs = 4\n",
        )
        .expect("base");
        let over: Settings =
            toml::from_str("extensions = [\".txt\"]\n[publish]\njobs = 8\n").expect("over");
        let merged = layer(base, over).expect("merges");
        assert_eq!(merged.static_url.as_deref(), Some("/s/"));
        assert_eq!(merged.extensions, Some(vec![".txt".to_string()]));
        let publish = merged.publish.expect("publish kept");
        assert_eq!(publish.to.as_deref(), Some("s3://a"));
        assert_eq!(publish.jobs, Some(8));
    }

    #[test]
    fn a_table_value_is_replaced_whole() {
        let base: Settings =
            toml::from_str("offline_context = { THEME = \"dark\", LANG = \"en\" }\n")
                .expect("base");
        let over: Settings =
            toml::from_str("offline_context = { THEME = \"light\" }\n").expect("over");
        let merged = layer(base, over).expect("merges");
        let Some(ContextSetting::One(table)) = merged.offline_context else {
            panic!("one table");
        };
        assert_eq!(table.len(), 1, "{table:?}");
        assert_eq!(table["THEME"], "light");
    }

    #[test]
    fn toml_mistakes_name_key_line_and_column_with_the_line_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stapler.toml");
        std::fs::write(&path, "static_root = \"s\"\ntemplate_dirs = \"t\"\n").expect("write");
        let error = read_file(&path).expect_err("a string where a list is needed");
        assert_eq!(error.origin, format!("{}:2:17", path.display()));
        assert!(
            error
                .message
                .starts_with("`template_dirs`: invalid type: string \"t\", expected a sequence"),
            "{}",
            error.message
        );
        assert!(
            error
                .message
                .ends_with("\n  |\n2 | template_dirs = \"t\"\n  |                 ^^^"),
            "{}",
            error.message
        );
        std::fs::write(&path, "[publish]\njobs = \"many\"\n").expect("write");
        let error = read_file(&path).expect_err("a string where a number is needed");
        assert_eq!(error.origin, format!("{}:2:8", path.display()));
        assert!(
            error
                .message
                .starts_with("`publish.jobs`: invalid type: string"),
            "{}",
            error.message
        );
    }
}
