//! Loading the settings in two steps, so that they stay data. [`read`] reads the file, the
//! environment and the flags, and finds the Django project they point at. The caller asks Django
//! (through the bridge, which it owns, or from the settings record) and hands the answer to
//! [`load`], which merges it as the bottom layer, under the file, the environment and the flags,
//! and resolves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::django::{find_project, DjangoSettings, Project};
use crate::error::Error;

use super::{
    django, env, native, origins, resolve, settings, Config, ConfigError, ContextSource,
    OfflineContext, RenderMode, Settings, Sources,
};

/// What the file, the environment and the flags say, and the Django project they point at.
pub struct Layers {
    file: Option<PathBuf>,
    from_file: Settings,
    from_env: Settings,
    flags: Settings,
    /// The three merged.
    user: Settings,
    base: PathBuf,
    clues: crate::django::project::Clues,
    project: Option<Project>,
    render: RenderMode,
    no_cache: bool,
    compare_with_django: bool,
}

impl Layers {
    /// The Django project whose settings are the bottom layer; `None` with `render = "native"`
    /// or outside a project.
    pub fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }

    /// Where Django's settings record is kept: beside the build cache (`cache_dir`); `None` with
    /// `--no-cache`.
    pub fn record_dir(&self) -> Option<PathBuf> {
        (!self.no_cache).then(|| {
            self.user
                .cache_dir
                .clone()
                .unwrap_or_else(|| self.base.join(".stapler-cache"))
        })
    }
}

/// Reads the file, `STAPLER_*` variables from `env` and the flags, and finds the Django project.
pub fn read(sources: &Sources, env: &BTreeMap<String, String>) -> Result<Layers, Error> {
    let (file, mut from_file) = match &sources.file {
        Some(path) => (Some(path.clone()), settings::read_file(path)?),
        None => find_default_file()?,
    };
    let base = file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    from_file.anchor_paths(&base);
    let from_env = env::read(env)?;
    let user = settings::layer(
        settings::layer(from_file.clone(), from_env.clone())?,
        sources.flags.clone(),
    )?;
    let clues = crate::django::project::Clues {
        settings: user.django_settings.clone(),
        python: user.python.clone(),
        config_dir: file.as_deref().and_then(Path::parent).map(|dir| {
            if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            }
        }),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        settings_env: env.get("DJANGO_SETTINGS_MODULE").cloned(),
        virtual_env: env.get("VIRTUAL_ENV").map(PathBuf::from),
    };
    let project = match user.render {
        Some(RenderMode::Native) => None,
        _ => find_project(&clues).map_err(|message| ConfigError {
            origin: "Django project".into(),
            message,
        })?,
    };
    let render = user.render.unwrap_or(if project.is_some() {
        RenderMode::Auto
    } else {
        RenderMode::Native
    });
    if project.is_none() && render != RenderMode::Native {
        return Err(ConfigError {
            origin: "render".into(),
            message: format!("render = \"{}\" needs a Django project, and none was found (no manage.py beside the configuration file or in the working directory, no django_settings, --settings or DJANGO_SETTINGS_MODULE); name the settings module, or set render = \"native\"", serde_json::to_value(render).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
        }
        .into());
    }
    Ok(Layers {
        file,
        from_file,
        from_env,
        flags: sources.flags.clone(),
        user,
        base,
        clues,
        project,
        render,
        no_cache: sources.no_cache,
        compare_with_django: sources.compare_with_django,
    })
}

/// The settings: `django`'s answer (in a Django project), then the file, then the environment,
/// then the flags.
pub fn load(layers: Layers, django: Option<&DjangoSettings>) -> Result<Config, Error> {
    let Layers {
        file,
        from_file,
        from_env,
        flags,
        user,
        clues,
        project,
        render,
        no_cache,
        compare_with_django,
        ..
    } = layers;
    let (Some(project), Some(django_settings)) = (project, django) else {
        let origins = origins::collect(&[
            (source_name(file.as_deref()), &from_file),
            ("environment".into(), &from_env),
            ("command line".into(), &flags),
        ]);
        let mismatches = match compare_with_django {
            true => native::mismatches(&clues, &user),
            false => Vec::new(),
        };
        let mut config = resolve::resolve(file, user, no_cache)?;
        config.origins = origins;
        config.folder_mismatches = mismatches;
        return Ok(config);
    };
    let found = django::layer(django_settings, &project, user.engine)?;
    let origins = origins::collect(&[
        (format!("Django ({})", project.settings), &found.layer),
        (source_name(file.as_deref()), &from_file),
        ("environment".into(), &from_env),
        ("command line".into(), &flags),
    ]);
    let contexts_from_django = user.offline_context.is_none();
    let found_plain_syntax = found.jinja2_plain_syntax;
    let django_templates = found.layer.template_dirs.clone().unwrap_or_default();
    let django_statics = found.layer.staticfiles_dirs.clone().unwrap_or_default();
    let own_templates = user.template_dirs.is_some();
    let own_statics = user.staticfiles_dirs.is_some();
    let own_manifest = user.offline_manifest.is_some() || user.output_dir.is_some();
    let merged = settings::layer(found.layer, user)?;
    let mut config = resolve::resolve(file, merged, no_cache)?;
    config.templates.render = render;
    config.folder_mismatches = native::missing_folders(
        own_templates.then_some(config.templates.template_dirs.as_slice()),
        &django_templates,
        own_statics.then_some(config.compress.staticfiles_dirs.as_slice()),
        &django_statics,
        "add it, or run `stapler init` again",
    );
    django::settle(
        &mut config,
        django_settings,
        found_plain_syntax,
        own_manifest,
    );
    if contexts_from_django {
        config.templates.context_source = ContextSource::Django {
            opaque: found.opaque_contexts.is_some(),
        };
        if let Some(count) = found.opaque_contexts {
            // Only Django can hold these values: the native renderer never sees them.
            config.templates.offline_contexts = (0..count).map(|_| OfflineContext::new()).collect();
        }
    }
    config.origins = origins;
    config.notes.splice(0..0, found.notes);
    config.project = Some(project);
    Ok(config)
}

fn source_name(file: Option<&Path>) -> String {
    file.map_or_else(|| "file".into(), |path| path.display().to_string())
}

/// `./stapler.toml`, else `./pyproject.toml` when it has a `[tool.stapler]` table: most projects
/// keep a `pyproject.toml` for other tools, and one without the table is no configuration (a
/// file named with `--config` must have it).
fn find_default_file() -> Result<(Option<PathBuf>, Settings), ConfigError> {
    let path = PathBuf::from("stapler.toml");
    if path.is_file() {
        let settings = settings::read_file(&path)?;
        return Ok((Some(path), settings));
    }
    let path = PathBuf::from("pyproject.toml");
    if path.is_file() {
        if let Some(settings) = settings::read_pyproject(&path)? {
            return Ok((Some(path), settings));
        }
    }
    Ok((None, Settings::default()))
}
