//! From the merged [`Settings`] layer to the typed, per-stage [`Config`]: defaults filled in,
//! every value checked once and parsed into the type the stages use.

use std::path::{Path, PathBuf};

use super::precompilers;
use super::settings::ContextSetting;
use super::targets::{resolve_publish, resolve_shared_cache};
use super::{
    CompressSettings, Config, ConfigError, ContextSource, CssErrors, CssHashing, Engine, JsMinify,
    ManifestSettings, OfflineContext, RenderMode, Settings, SourceMaps, Sri, SriAlgorithm,
    TemplateSettings,
};

pub(super) fn resolve(
    source: Option<PathBuf>,
    settings: Settings,
    no_cache: bool,
) -> Result<Config, ConfigError> {
    let origin = source.as_ref().map_or_else(
        || "configuration".to_string(),
        |path| path.display().to_string(),
    );
    let bad = |message: String| ConfigError {
        origin: origin.clone(),
        message,
    };
    let missing = |key: &str| {
        bad(format!(
            "`{key}` is not set; set it in stapler.toml (or [tool.stapler] in pyproject.toml) or as STAPLER_{}",
            key.to_ascii_uppercase()
        ))
    };
    let static_root = settings
        .static_root
        .or_else(|| settings.root.clone())
        .ok_or_else(|| missing("static_root"))?;
    let static_url = settings.static_url.unwrap_or_else(|| "/static/".into());
    let language_code = settings.language_code.unwrap_or_else(|| "en-us".into());
    let url = settings.url.unwrap_or_else(|| static_url.clone());
    check_trailing_slash(&[("static_url", &static_url), ("url", &url)]).map_err(bad)?;
    let template_dirs = settings.template_dirs.unwrap_or_default();
    if template_dirs.is_empty() {
        return Err(missing("template_dirs"));
    }
    let extensions =
        normalize_extensions(&settings.extensions.unwrap_or_else(|| vec![".html".into()]));
    if extensions.is_empty() {
        return Err(bad(
            "`extensions` is empty; list at least one, such as \".html\"".into(),
        ));
    }
    let (output_dir, offline_manifest) =
        output_names(settings.output_dir, settings.offline_manifest).map_err(bad)?;
    let root = settings.root.unwrap_or_else(|| static_root.clone());
    let shared_cache = match settings.shared_cache {
        Some(section) if !no_cache => Some(resolve_shared_cache(section, &origin)?),
        _ => None,
    };
    let source_maps = settings.source_maps.unwrap_or_default();
    let budget = super::budget::resolve(settings.budget, &origin)?;
    let section = settings.publish.unwrap_or_default();
    let sends_maps = section.source_maps;
    let static_manifest = static_root.join("staticfiles.json");
    let mut publish = resolve_publish(section, static_root, &origin)?;
    publish.source_maps = sends_maps.unwrap_or(source_maps != SourceMaps::Hidden);
    // By default beside the configuration file, else in the working directory.
    let cache_dir = (!no_cache).then(|| {
        settings.cache_dir.unwrap_or_else(|| {
            source
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or(Path::new(""))
                .join(".stapler-cache")
        })
    });
    Ok(Config {
        source,
        project: None,
        origins: Vec::new(),
        notes: Vec::new(),
        folder_mismatches: Vec::new(),
        templates: TemplateSettings {
            template_dirs,
            extensions,
            engine: settings.engine.unwrap_or(Engine::Django),
            follow_links: settings.follow_links.unwrap_or(false),
            offline_contexts: build_contexts(settings.offline_context, &static_url),
            static_url: static_url.clone(),
            jinja2_autoescape: settings.jinja2_autoescape.unwrap_or(true),
            render: RenderMode::Native,
            context_source: ContextSource::Settings,
            language_bidi: is_bidi(&language_code),
            static_from_django: false,
            static_storage: settings.static_storage,
            manifest_strict: settings.manifest_strict.unwrap_or(true),
            static_manifest,
            debug: false,
            jinja2_plain_syntax: true,
            tag_libraries: None,
            language_code,
        },
        manifest: ManifestSettings {
            path: root.join(&output_dir).join(&offline_manifest),
            name: format!("{output_dir}/{offline_manifest}"),
            output_dir: output_dir.clone(),
            static_url,
            url: url.clone(),
            url_placeholder: settings
                .url_placeholder
                .unwrap_or_else(|| "/__compressor_url_placeholder__/".into()),
        },
        compress: CompressSettings {
            root,
            url,
            staticfiles_dirs: settings.staticfiles_dirs.unwrap_or_default(),
            output_dir,
            css_hashing_method: settings.css_hashing_method.unwrap_or(CssHashing::Filename),
            js_minify: settings.js_minify.unwrap_or(JsMinify::Mangle),
            css_errors: settings.css_errors.unwrap_or(CssErrors::Warn),
            sri: resolve_sri(settings.sri_hashes, settings.sri_crossorigin, &origin)?,
            source_maps,
            source_maps_content: settings.source_maps_content.unwrap_or(true),
            brotli_quality: match settings.brotli_quality.unwrap_or(9) {
                quality @ 0..=11 => quality,
                other => {
                    return Err(ConfigError {
                        origin: origin.clone(),
                        message: format!("`brotli_quality` is {other} but Brotli's qualities are 0 to 11; 9 is the default, 11 the smallest and slowest"),
                    })
                }
            },
            precompress: settings.precompress.unwrap_or_default().into_iter().fold(
                Vec::new(),
                |mut encodings, encoding| {
                    if !encodings.contains(&encoding) {
                        encodings.push(encoding);
                    }
                    encodings
                },
            ),
            cache_dir,
            shared_cache,
            precompilers: precompilers::check(settings.precompilers.unwrap_or_default(), &origin)?,
            cacheable_precompilers: settings.cacheable_precompilers.unwrap_or_default(),
            enabled: settings.enabled.unwrap_or(true),
            parser: None,
        },
        publish,
        budget,
    })
}

/// `sri_hashes` and `sri_crossorigin`: the algorithms in the order given, each once.
fn resolve_sri(
    hashes: Option<Vec<SriAlgorithm>>,
    crossorigin: Option<String>,
    origin: &str,
) -> Result<Sri, ConfigError> {
    let mut algorithms: Vec<SriAlgorithm> = Vec::new();
    for algorithm in hashes.unwrap_or_default() {
        if !algorithms.contains(&algorithm) {
            algorithms.push(algorithm);
        }
    }
    let crossorigin = crossorigin.filter(|value| !value.is_empty());
    if let Some(value) = &crossorigin {
        if value != "anonymous" && value != "use-credentials" {
            return Err(ConfigError {
                origin: origin.to_string(),
                message: format!(
                    "`sri_crossorigin` is `{value}` but must be \"anonymous\" or \"use-credentials\" (the values browsers know)"
                ),
            });
        }
    }
    Ok(Sri {
        algorithms,
        crossorigin,
    })
}

/// Django requires `STATIC_URL` (and so `COMPRESS_URL`) to end with a slash.
fn check_trailing_slash(urls: &[(&str, &String)]) -> Result<(), String> {
    match urls.iter().find(|(_, value)| !value.ends_with('/')) {
        Some((key, value)) => Err(format!(
            "`{key}` is `{value}` but must end with `/`, as Django requires"
        )),
        None => Ok(()),
    }
}

/// `output_dir` and `offline_manifest`, checked to stay inside `root`.
fn output_names(
    output_dir: Option<String>,
    offline_manifest: Option<String>,
) -> Result<(String, String), String> {
    let output_dir = output_dir
        .unwrap_or_else(|| "CACHE".into())
        .trim_matches('/')
        .to_string();
    if output_dir.is_empty() || output_dir.split('/').any(|part| part == "..") {
        return Err("`output_dir` must be a folder name inside `root`, such as \"CACHE\"".into());
    }
    let offline_manifest = offline_manifest.unwrap_or_else(|| "manifest.json".into());
    if offline_manifest.is_empty()
        || offline_manifest.contains("..")
        || offline_manifest.starts_with('/')
    {
        return Err("`offline_manifest` must be a file name such as \"manifest.json\"".into());
    }
    Ok((output_dir, offline_manifest))
}

/// Accepts `html`, `.html` and `html,txt` as django-compressor's `-e` does.
/// Django's `get_language_bidi()` with its default `LANGUAGES_BIDI`.
fn is_bidi(language_code: &str) -> bool {
    const LANGUAGES_BIDI: [&str; 7] = ["he", "ar", "ar-dz", "ckb", "fa", "ug", "ur"];
    let base = language_code.split('-').next().unwrap_or_default();
    LANGUAGES_BIDI.contains(&base)
}

fn normalize_extensions(given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in given
        .iter()
        .flat_map(|item| item.split(','))
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
    out
}

fn build_contexts(setting: Option<ContextSetting>, static_url: &str) -> Vec<OfflineContext> {
    let mut tables = match setting {
        None => vec![],
        Some(ContextSetting::One(table)) => vec![table],
        Some(ContextSetting::Many(tables)) => tables,
    };
    if tables.is_empty() {
        tables.push(OfflineContext::new());
    }
    for context in &mut tables {
        for value in context.values_mut() {
            spell_toml_dates(value);
        }
        context
            .entry("STATIC_URL")
            .or_insert_with(|| serde_json::Value::String(static_url.to_string()));
    }
    tables
}

/// A TOML date read into JSON is a private one-key table; in a context it is the text
/// the file spells (`1979-05-27`).
fn spell_toml_dates(value: &mut serde_json::Value) {
    const DATE: &str = "$__toml_private_datetime";
    match value {
        serde_json::Value::Object(table) if table.len() == 1 && table.contains_key(DATE) => {
            if let Some(date) = table.remove(DATE) {
                *value = date;
            }
        }
        serde_json::Value::Object(table) => table.values_mut().for_each(spell_toml_dates),
        serde_json::Value::Array(items) => items.iter_mut().for_each(spell_toml_dates),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::targets::{parse_target, DEFAULT_MULTIPART_THRESHOLD};
    use super::super::{S3Settings, Target};
    use std::collections::BTreeMap;

    use super::super::Sources;
    use super::*;

    /// The settings of `sources` outside a Django project.
    fn load(
        sources: &Sources,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, crate::error::Error> {
        super::super::load(super::super::read(sources, env)?, None)
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write test config");
        path
    }

    fn load_file(path: PathBuf, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(
            &Sources {
                file: Some(path),
                ..Sources::default()
            },
            &env,
        )
        .map_err(config_error)
    }

    fn config_error(error: crate::error::Error) -> ConfigError {
        match error {
            crate::error::Error::Config(error) => error,
            other => panic!("not a configuration error: {other}"),
        }
    }

    const MINIMAL: &str = "static_root = \"out\"\ntemplate_dirs = [\"templates\"]\n";

    #[test]
    fn defaults_follow_django_compressor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = load_file(write(dir.path(), "stapler.toml", MINIMAL), &[]).expect("valid");
        assert_eq!(config.publish.static_root, dir.path().join("out"));
        assert_eq!(config.compress.root, dir.path().join("out"));
        assert_eq!(config.templates.static_url, "/static/");
        assert_eq!(config.compress.url, "/static/");
        assert_eq!(config.compress.output_dir, "CACHE");
        assert_eq!(
            config.manifest.path,
            dir.path().join("out/CACHE/manifest.json")
        );
        assert_eq!(config.manifest.name, "CACHE/manifest.json");
        assert_eq!(config.templates.extensions, vec![".html"]);
        assert_eq!(config.templates.engine, Engine::Django);
        assert_eq!(config.compress.css_hashing_method, CssHashing::Filename);
        assert_eq!(
            config.manifest.url_placeholder,
            "/__compressor_url_placeholder__/"
        );
        assert_eq!(config.templates.offline_contexts.len(), 1);
        assert_eq!(
            config.templates.offline_contexts[0]["STATIC_URL"],
            "/static/"
        );
        assert_eq!(
            config.publish.target,
            Target::Dir(dir.path().join("published"))
        );
        assert_eq!(
            config.compress.cache_dir,
            Some(dir.path().join(".stapler-cache"))
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            &format!("{MINIMAL}statik_url = \"/x/\"\n"),
        );
        let error = load_file(path.clone(), &[]).expect_err("unknown key");
        assert_eq!(error.origin, format!("{}:3:1", path.display()));
        assert!(
            error
                .message
                .starts_with("unknown field `statik_url`, expected one of"),
            "{}",
            error.message
        );
    }

    #[test]
    fn static_url_must_end_with_slash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            &format!("{MINIMAL}static_url = \"/static\"\n"),
        );
        let error = load_file(path, &[]).expect_err("no slash");
        assert_eq!(
            error.message,
            "`static_url` is `/static` but must end with `/`, as Django requires"
        );
    }

    #[test]
    fn environment_beats_file_and_flags_beat_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            &format!("{MINIMAL}extensions = [\"html\"]\n[publish]\njobs = 2\nkeep = 5\n"),
        );
        let env = [
            ("STAPLER_STATIC_URL", "/assets/"),
            ("STAPLER_EXTENSIONS", "txt"),
            ("STAPLER_PUBLISH_JOBS", "9"),
        ];
        let config = load_file(path.clone(), &env).expect("valid");
        assert_eq!(config.templates.static_url, "/assets/");
        assert_eq!(config.templates.extensions, vec![".txt"]);
        assert_eq!(config.publish.jobs, 9);
        assert_eq!(
            config.publish.keep, 5,
            "the file's other [publish] keys stay"
        );
        let env: BTreeMap<_, _> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sources = Sources {
            file: Some(path),
            flags: Settings {
                extensions: Some(vec!["jinja".into()]),
                ..Settings::default()
            },
            no_cache: true,
            ..Sources::default()
        };
        let config = load(&sources, &env).map_err(config_error).expect("valid");
        assert_eq!(config.templates.extensions, vec![".jinja"]);
        assert_eq!(config.compress.cache_dir, None);
    }

    #[test]
    fn pyproject_table_is_read_and_other_tools_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "pyproject.toml",
            "[project]\nname = \"site\"\n[tool.ruff]\nline-length = 99\n[tool.stapler]\nstatic_root = \"s\"\ntemplate_dirs = [\"t\"]\noffline_context = [{ THEME = \"dark\" }, { THEME = \"light\", STATIC_URL = \"/cdn/\" }]\n",
        );
        let config = load_file(path, &[]).expect("valid");
        let contexts = &config.templates.offline_contexts;
        assert_eq!(contexts.len(), 2);
        assert_eq!(contexts[0]["STATIC_URL"], "/static/");
        assert_eq!(contexts[1]["STATIC_URL"], "/cdn/");
        assert_eq!(contexts[1]["THEME"], "light");
    }

    #[test]
    fn dates_in_a_context_are_the_text_the_file_spells() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "stapler.toml",
            &format!("{MINIMAL}offline_context = {{ DAY = 1979-05-27, LIST = [1979-05-28] }}\n"),
        );
        let config = load_file(path, &[]).expect("valid");
        let context = &config.templates.offline_contexts[0];
        assert_eq!(context["DAY"], "1979-05-27");
        assert_eq!(context["LIST"][0], "1979-05-28");
    }

    #[test]
    fn missing_file_says_so() {
        let error =
            load_file(PathBuf::from("/nonexistent/stapler.toml"), &[]).expect_err("missing");
        assert_eq!(error.origin, "/nonexistent/stapler.toml");
        assert!(
            error
                .message
                .starts_with("cannot read the configuration file ("),
            "{}",
            error.message
        );
    }

    #[test]
    fn targets_are_parsed_once() {
        assert_eq!(
            parse_target("s3://bucket/a/b/", Some("http://h".into()), None, None),
            Ok(Target::S3(S3Settings {
                bucket: "bucket".into(),
                prefix: "a/b/".into(),
                endpoint_url: Some("http://h".into()),
                region: None,
                path_style: true,
                multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            }))
        );
        assert_eq!(
            parse_target("s3:///x", None, None, None),
            Err("`s3:///x` names no bucket; write s3://bucket/prefix".into())
        );
        assert_eq!(
            parse_target("ftp://x", None, None, None),
            Err("`to` is `ftp://x`; use s3://bucket/prefix or file:///directory".into())
        );
    }
}
