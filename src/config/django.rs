//! Django's settings as a settings layer: what the bridge read, in stapler's terms. The layer
//! lies under the file, the environment and the flags, so any of them can override it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::django::{self, DjangoSettings, Project};

use super::settings::{ContextSetting, Settings, StaticDir};
use super::{Config, ConfigError, CssHashing, Encoding, Engine, StaticStorage};

/// The CSS and JS filters whose work stapler does its own way (and so may be listed).
const FILTERS_STAPLER_DOES: &[&str] = &[
    "compressor.filters.css_default.CssAbsoluteFilter",
    "compressor.filters.css_default.CssRelativeFilter",
    "compressor.filters.cssmin.CSSMinFilter",
    "compressor.filters.cssmin.rCSSMinFilter",
    "compressor.filters.cssmin.CSSCompressorFilter",
    "compressor.filters.jsmin.JSMinFilter",
    "compressor.filters.jsmin.rJSMinFilter",
    "compressor.filters.jsmin.SlimItFilter",
    "compressor.filters.jsmin.CalmjsFilter",
    "compressor.filters.yuglify.YUglifyCSSFilter",
    "compressor.filters.yuglify.YUglifyJSFilter",
    "compressor.filters.closure.ClosureCompilerFilter",
    "compressor.filters.yui.YUICSSFilter",
    "compressor.filters.yui.YUIJSFilter",
];

/// What Django's settings say, as a layer, and what stapler noticed on the way.
pub struct FromDjango {
    pub layer: Settings,
    pub notes: Vec<String>,
    /// The offline contexts have values only Python can hold: every template is rendered by
    /// Django, with the contexts Django evaluated; this is their number.
    pub opaque_contexts: Option<usize>,
    /// The Jinja2 environment uses Jinja2's own delimiters and whitespace rules.
    pub jinja2_plain_syntax: bool,
}

pub fn layer(
    found: &DjangoSettings,
    project: &Project,
    wanted: Option<Engine>,
) -> Result<FromDjango, ConfigError> {
    let origin = format!("Django settings {}", project.settings);
    let mut notes = Vec::new();
    let path = |text: &String| django::absolute(project, text);
    let (engine, dirs, jinja) = template_engine(found, wanted, &mut notes);
    let mut template_dirs = Vec::new();
    for dir in dirs {
        let dir = path(&dir);
        if dir.is_dir() {
            template_dirs.push(dir);
        } else {
            notes.push(format!(
                "template folder {} is listed in {origin} but does not exist; Django ignores it, and so does stapler",
                dir.display()
            ));
        }
    }
    let staticfiles_dirs = found
        .static_locations
        .iter()
        .map(|location| match &location.prefix {
            Some(prefix) => StaticDir::Prefixed((prefix.clone(), path(&location.path))),
            None => StaticDir::Path(path(&location.path)),
        })
        .collect();
    for finder in &found.unsupported_finders {
        notes.push(format!(
            "staticfiles finder {finder} is not one stapler can search; files only it finds are reported as missing (list their folder in `staticfiles_dirs`)"
        ));
    }
    if let Some(error) = &found.offline_context_error {
        return Err(ConfigError {
            origin: format!("{origin}: COMPRESS_OFFLINE_CONTEXT"),
            message: format!(
                "`{}` cannot be evaluated ({error}); fix it, or give the contexts as `offline_context` in stapler.toml",
                found.offline_context_setting
            ),
        });
    }
    let offline_context = found.offline_context.clone().map(ContextSetting::Many);
    let opaque_contexts = found
        .offline_context_opaque
        .then_some(found.offline_context_count.unwrap_or(1));
    for (kind, filters) in &found.COMPRESS_FILTERS {
        for filter in filters {
            if !FILTERS_STAPLER_DOES.contains(&filter.as_str()) {
                notes.push(format!(
                    "COMPRESS_FILTERS[{kind:?}] has {filter}, which stapler does not run: its {kind} is minified by stapler's own minifier instead"
                ));
            }
        }
    }
    let mut sri_hashes = Vec::new();
    for name in &found.COMPRESS_SRI_HASHES {
        match serde_json::from_value(serde_json::Value::String(name.to_ascii_lowercase())) {
            Ok(algorithm) => sri_hashes.push(algorithm),
            Err(_) => {
                return Err(ConfigError {
                    origin: format!("{origin}: COMPRESS_SRI_HASHES"),
                    message: format!(
                        "`{name}` is not a hash function browsers check; use \"sha256\", \"sha384\" or \"sha512\""
                    ),
                })
            }
        }
    }
    if !default_parser(&found.COMPRESS_PARSER) {
        notes.push(format!(
            "COMPRESS_PARSER is {} in {origin}: blocks are read by it, through Django, as django-compressor reads them (with render = \"native\", by stapler's reader, which follows the default html.parser)",
            found.COMPRESS_PARSER
        ));
    }
    let storage = &found.compress_storage;
    let precompress = match storage.class.as_str() {
        "" | "compressor.storage.CompressorFileStorage" => None,
        "compressor.storage.GzipCompressorFileStorage" => Some(vec![Encoding::Gzip]),
        "compressor.storage.BrotliCompressorFileStorage" => Some(vec![Encoding::Br]),
        other => {
            notes.push(format!(
                "COMPRESS_STORAGE is {other} in {origin}: stapler writes outputs as files under `root` (COMPRESS_ROOT) instead, and `stapler publish` sends them where they are served"
            ));
            None
        }
    };
    if !storage.class.is_empty() && !storage.plain_urls {
        notes.push(format!(
            "COMPRESS_STORAGE {} of {origin} makes URLs other than COMPRESS_URL and the file's name; the manifest stapler writes names outputs under COMPRESS_URL, as django-compressor's default storage does",
            storage.class
        ));
    }
    if !found.COMPRESS_OFFLINE {
        notes.push(format!(
            "COMPRESS_OFFLINE is not True in {origin}: servers with these settings compress on each request and never read the manifest stapler writes"
        ));
    }
    if !found.installed_apps.iter().any(|app| {
        app == "compressor" || app.starts_with("compressor.") || app.starts_with("stapler_assets")
    }) {
        notes.push(format!(
            "neither `compressor` nor `stapler_assets` is in INSTALLED_APPS of {origin}: Django cannot load {{% load compress %}}, so templates that use it are skipped"
        ));
    }
    if !plain_static_storage(&found.STATICFILES_STORAGE) {
        notes.push(format!(
            "the static files storage {} of {origin} makes its own URLs: the renderer asks Django for each {{% static %}} URL (run collectstatic first, as for manage.py compress); {}",
            found.STATICFILES_STORAGE,
            match found.static_storage.kind.as_str() {
                "manifest" => "with render = \"native\" (stapler init records static_storage = \"manifest\") they are read from its staticfiles.json",
                "plain" => "its URLs are STATIC_URL and the path, which render = \"native\" makes too",
                _ => "with render = \"native\" a build refuses {% static %}, which only Django can answer",
            }
        ));
    }
    let layer = Settings {
        static_root: found.STATIC_ROOT.as_ref().map(path),
        static_url: found.STATIC_URL.clone(),
        root: found.COMPRESS_ROOT.as_ref().map(path),
        url: Some(found.COMPRESS_URL.clone()),
        staticfiles_dirs: Some(staticfiles_dirs),
        template_dirs: Some(template_dirs),
        engine: Some(engine),
        output_dir: Some(found.COMPRESS_OUTPUT_DIR.clone()),
        offline_manifest: Some(found.COMPRESS_OFFLINE_MANIFEST.clone()),
        offline_context,
        css_hashing_method: found
            .COMPRESS_CSS_HASHING_METHOD
            .is_none()
            .then_some(CssHashing::None),
        url_placeholder: Some(found.COMPRESS_URL_PLACEHOLDER.clone()),
        sri_hashes: (!sri_hashes.is_empty()).then_some(sri_hashes),
        sri_crossorigin: found.COMPRESS_SRI_CROSSORIGIN.clone(),
        language_code: Some(found.LANGUAGE_CODE.clone()),
        jinja2_autoescape: jinja.map(|engine| engine.autoescape),
        cache_dir: Some(project.dir.join(".stapler-cache")),
        enabled: Some(found.COMPRESS_ENABLED),
        // Gzip and Brotli storages write a compressed copy beside each output, as this does.
        precompress,
        static_storage: match found.static_storage.kind.as_str() {
            "plain" => Some(StaticStorage::Plain),
            "manifest" => Some(StaticStorage::Manifest),
            _ => Some(StaticStorage::Other),
        },
        manifest_strict: (found.static_storage.kind == "manifest")
            .then_some(found.static_storage.manifest_strict),
        ..Settings::default()
    };
    Ok(FromDjango {
        layer,
        notes,
        opaque_contexts,
        jinja2_plain_syntax: jinja.is_none_or(|engine| engine.plain_syntax),
    })
}

/// What Django said beyond the settings layer, put where the stages read it: Django's
/// precompilers, tag libraries, parser, static files and manifest storages.
pub(super) fn settle(
    config: &mut Config,
    django_settings: &DjangoSettings,
    plain_syntax: bool,
    own_manifest: bool,
) {
    config
        .compress
        .precompilers
        .extend(django_settings.COMPRESS_PRECOMPILERS.iter().cloned());
    if config.compress.cacheable_precompilers.is_empty() {
        config.compress.cacheable_precompilers =
            django_settings.COMPRESS_CACHEABLE_PRECOMPILERS.clone();
    }
    if config.templates.language_code == django_settings.LANGUAGE_CODE {
        // Django's own answer, which honours a project's `LANGUAGES_BIDI`.
        config.templates.language_bidi = django_settings.LANGUAGE_BIDI;
    }
    config.templates.jinja2_plain_syntax = plain_syntax;
    config.templates.tag_libraries = django_settings
        .engines
        .iter()
        .find(|engine| engine.backend == "django")
        .and_then(|engine| engine.tag_libraries.clone())
        .map(Arc::new);
    config.templates.static_from_django =
        !plain_static_storage(&django_settings.STATICFILES_STORAGE);
    config.compress.parser =
        Some(django_settings.COMPRESS_PARSER.clone()).filter(|parser| !default_parser(parser));
    // A project may keep the manifest elsewhere than under COMPRESS_ROOT/COMPRESS_OUTPUT_DIR
    // (COMPRESS_OFFLINE_MANIFEST_STORAGE_ALIAS naming its static files storage): the servers
    // read it there, so it is written there.
    if let Some(path) = django_settings
        .offline_manifest_path
        .as_ref()
        .map(PathBuf::from)
        .filter(|path| *path != config.manifest.path && !own_manifest)
    {
        match path
            .strip_prefix(&config.publish.static_root)
            .ok()
            .and_then(|below| below.to_str())
        {
            Some(below) => {
                config.manifest.name = below.replace('\\', "/");
                config.manifest.path = path;
            }
            None => config.notes.push(format!(
                "django-compressor's offline manifest storage keeps the manifest at {}, outside the static root; stapler writes it at {}: copy it there, or point COMPRESS_OFFLINE_MANIFEST_STORAGE_ALIAS at a storage under STATIC_ROOT",
                path.display(),
                config.manifest.path.display()
            )),
        }
    }
    let storage = &django_settings.static_storage;
    config.templates.debug = storage.debug;
    if let Some(manifest) = storage
        .manifest
        .as_ref()
        .filter(|_| storage.kind == "manifest")
    {
        config.templates.static_manifest = PathBuf::from(manifest);
    }
}

/// Whether `COMPRESS_PARSER` names django-compressor's default parser (Python's `html.parser`),
/// which stapler's own reader follows.
pub(super) fn default_parser(parser: &str) -> bool {
    matches!(
        parser,
        "" | "compressor.parser.AutoSelectParser"
            | "compressor.parser.HtmlParser"
            | "compressor.parser.DefaultHtmlParser"
            | "compressor.parser.default_htmlparser.DefaultHtmlParser"
    )
}

/// The engine django-compressor's offline command reads (`django`, the first such backend),
/// else the first Jinja2 backend; with its template folders in loader order.
/// Whether Django's static files storage makes URLs as `STATIC_URL` and the quoted path, as
/// the native renderer does.
pub(super) fn plain_static_storage(class: &str) -> bool {
    matches!(
        class,
        "django.contrib.staticfiles.storage.StaticFilesStorage"
            | "django.core.files.storage.FileSystemStorage"
            | "django.core.files.storage.filesystem.FileSystemStorage"
    )
}

/// The engine whose templates are built (the Django engine unless `wanted` is Jinja2 or there
/// is no other), its folders, and the Jinja2 engine's description when it is that one.
fn template_engine<'a>(
    found: &'a DjangoSettings,
    wanted: Option<Engine>,
    notes: &mut Vec<String>,
) -> (Engine, Vec<String>, Option<&'a django::Engine>) {
    let django = found
        .engines
        .iter()
        .find(|engine| engine.backend == "django");
    // django-compressor's default COMPRESS_JINJA2_GET_ENVIRONMENT takes the alias `jinja2`.
    let jinja = found
        .engines
        .iter()
        .filter(|engine| engine.backend == "jinja2")
        .min_by_key(|engine| engine.alias != "jinja2");
    let others: Vec<&str> = found
        .engines
        .iter()
        .filter(|engine| engine.backend != "django" && engine.backend != "jinja2")
        .map(|engine| engine.alias.as_str())
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "template engine(s) {} are neither Django's nor Jinja2's; their templates are not scanned",
            others.join(", ")
        ));
    }
    match (django, jinja, wanted) {
        (_, Some(engine), Some(Engine::Jinja2)) | (None, Some(engine), None) => {
            (Engine::Jinja2, engine.dirs.clone(), Some(engine))
        }
        (Some(engine), other, _) => {
            if let Some(jinja) = other {
                notes.push(format!(
                    "the Jinja2 engine `{}` is not scanned: django-compressor's offline command reads the Django engine unless told otherwise (engine = \"jinja2\", or STAPLER_ENGINE=jinja2, builds its templates as `compress --engine jinja2` does)",
                    jinja.alias
                ));
            }
            (Engine::Django, engine.dirs.clone(), None)
        }
        (None, _, _) => (Engine::Django, Vec::<String>::new(), None),
    }
}
