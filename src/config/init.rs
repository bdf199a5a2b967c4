//! `stapler init`: the resolved settings written out as a `stapler.toml`, every folder listed,
//! so that builds run without Python.

use std::path::{Path, PathBuf};

use super::settings::{ContextSetting, Settings, StaticDir};
use super::{Config, ConfigError, ContextSource, CssHashing, RenderMode, StaticStorage};

/// The text of a `stapler.toml` that gives the same build as `config` with `render = "native"`,
/// paths relative to `dir` (where the file goes) when they are inside it; and how many
/// settings it holds.
pub fn settings_file(config: &Config, dir: &Path) -> Result<(String, usize), ConfigError> {
    if config.templates.context_source == (ContextSource::Django { opaque: true }) {
        return Err(ConfigError {
            origin: "COMPRESS_OFFLINE_CONTEXT".into(),
            message: "holds values that have no TOML form (objects only Python can hold), so a build without Python cannot use it; keep building in the Django project (render = \"auto\"), or write the contexts as plain values".into(),
        });
    }
    let relative = |path: &Path| -> PathBuf {
        path.strip_prefix(dir)
            .map(|inside| {
                if inside.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    inside.to_path_buf()
                }
            })
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let templates = &config.templates;
    let compress = &config.compress;
    let contexts: Vec<_> = templates.offline_contexts.clone();
    let settings = Settings {
        static_root: Some(relative(&config.publish.static_root)),
        static_url: Some(templates.static_url.clone()),
        root: (compress.root != config.publish.static_root).then(|| relative(&compress.root)),
        url: (compress.url != templates.static_url).then(|| compress.url.clone()),
        staticfiles_dirs: Some(
            compress
                .staticfiles_dirs
                .iter()
                .map(|dir| match dir {
                    StaticDir::Path(path) => StaticDir::Path(relative(path)),
                    StaticDir::Prefixed((prefix, path)) => {
                        StaticDir::Prefixed((prefix.clone(), relative(path)))
                    }
                })
                .collect(),
        ),
        template_dirs: Some(
            templates
                .template_dirs
                .iter()
                .map(|d| relative(d))
                .collect(),
        ),
        extensions: Some(templates.extensions.clone()),
        engine: Some(templates.engine),
        output_dir: Some(compress.output_dir.clone()),
        offline_manifest: config
            .manifest
            .name
            .rsplit_once('/')
            .map(|(_, file)| file.to_string()),
        offline_context: Some(ContextSetting::Many(contexts)),
        css_hashing_method: (compress.css_hashing_method == CssHashing::None)
            .then_some(CssHashing::None),
        url_placeholder: Some(config.manifest.url_placeholder.clone()),
        language_code: Some(templates.language_code.clone()),
        render: Some(RenderMode::Native),
        static_storage: templates.static_storage,
        manifest_strict: (templates.static_storage == Some(StaticStorage::Manifest)
            && !templates.manifest_strict)
            .then_some(false),
        enabled: (!compress.enabled).then_some(false),
        precompilers: (!compress.precompilers.is_empty()).then(|| compress.precompilers.clone()),
        cacheable_precompilers: (!compress.cacheable_precompilers.is_empty())
            .then(|| compress.cacheable_precompilers.clone()),
        ..Settings::default()
    };
    let count = serde_json::to_value(&settings)
        .ok()
        .and_then(|value| {
            value
                .as_object()
                .map(|table| table.values().filter(|v| !v.is_null()).count())
        })
        .unwrap_or(0);
    let body = toml::to_string(&settings).map_err(|error| ConfigError {
        origin: "stapler init".into(),
        message: format!(
            "the settings cannot be written as TOML ({error}); an offline context may hold a None value, which TOML cannot spell"
        ),
    })?;
    let from = config.project.as_ref().map_or_else(String::new, |project| {
        format!(" from Django settings {}", project.settings)
    });
    Ok((
        format!(
            "# Written by `stapler init`{from}. With render = \"native\", stapler builds\n# without Python; run `stapler init --force` again when Django's settings change.\n{body}"
        ),
        count,
    ))
}
