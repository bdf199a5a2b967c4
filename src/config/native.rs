//! Whether settings written for builds without Python (`render = "native"`, as `stapler init`
//! writes them) still match Django's: the static files storage, the folders, the offline
//! contexts and `COMPRESS_ENABLED`. Each difference is a reason a native build would write keys
//! or outputs the servers do not compute; `stapler check` reports them.

use std::path::PathBuf;

use crate::django::project::Clues;
use crate::django::{find_project, Bridge};

use super::settings::{ContextSetting, Settings, StaticDir};

/// What differs between the native settings `user` and the Django project's, one line each;
/// nothing when there is no Django project to ask.
pub(super) fn mismatches(clues: &Clues, user: &Settings) -> Vec<String> {
    let project = match find_project(clues) {
        Ok(Some(project)) => project,
        Ok(None) => return Vec::new(),
        Err(message) => {
            return vec![format!(
                "the Django project could not be found to compare these native settings with ({message})"
            )]
        }
    };
    let asked = Bridge::start(&project).and_then(|bridge| bridge.settings());
    let found = match asked {
        Ok(found) => found,
        Err(error) => {
            return vec![format!(
                "Django's settings {} could not be read to compare these native settings with ({error}); fix the project, or check in it with render = \"auto\"",
                project.settings
            )]
        }
    };
    let django = match super::django::layer(&found, &project, user.engine) {
        Ok(django) => django.layer,
        Err(error) => return vec![format!("{}: {}", error.origin, error.message)],
    };
    let again = "; run `stapler init --force` in the Django project";
    let mut differences = Vec::new();
    let name = |value: &Option<super::StaticStorage>| {
        serde_json::to_value(value)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_else(|| "unset".into())
    };
    if user.static_storage != django.static_storage
        && !(user.static_storage.is_none()
            && django.static_storage == Some(super::StaticStorage::Plain))
    {
        differences.push(format!(
            "static_storage is {} but Django's static files storage ({}) is {}: {{% static %}} would render other URLs than the servers'{again}",
            name(&user.static_storage),
            found.STATICFILES_STORAGE,
            name(&django.static_storage),
        ));
    }
    if django.static_storage == Some(super::StaticStorage::Manifest)
        && user.manifest_strict.unwrap_or(true) != django.manifest_strict.unwrap_or(true)
    {
        differences.push(format!(
            "manifest_strict differs from the manifest storage's ({}){again}",
            django.manifest_strict.unwrap_or(true)
        ));
    }
    if user.enabled.unwrap_or(true) != found.COMPRESS_ENABLED {
        differences.push(format!(
            "enabled is {} but COMPRESS_ENABLED is {}: outputs would be split differently{again}",
            user.enabled.unwrap_or(true),
            found.COMPRESS_ENABLED
        ));
    }
    let static_url = user
        .static_url
        .clone()
        .or(django.static_url.clone())
        .unwrap_or_else(|| "/static/".into());
    if let (Some(theirs), ours) = (&found.offline_context, &user.offline_context) {
        if contexts(ours.clone(), &static_url)
            != contexts(Some(ContextSetting::Many(theirs.clone())), &static_url)
        {
            differences.push(format!(
                "offline_context differs from COMPRESS_OFFLINE_CONTEXT ({}): blocks would be rendered with other values than the servers'{again}",
                found.offline_context_setting
            ));
        }
    }
    differences.extend(missing_folders(
        Some(&user.template_dirs.clone().unwrap_or_default()),
        &django.template_dirs.clone().unwrap_or_default(),
        Some(&user.staticfiles_dirs.clone().unwrap_or_default()),
        &django.staticfiles_dirs.clone().unwrap_or_default(),
        "run `stapler init --force` in the Django project",
    ));
    differences
}

/// Django's template and static folders that settings of their own (`Some`) leave out: files
/// a build would not read, one line each, ending with `advice`.
pub(super) fn missing_folders(
    our_templates: Option<&[PathBuf]>,
    django_templates: &[PathBuf],
    our_statics: Option<&[StaticDir]>,
    django_statics: &[StaticDir],
    advice: &str,
) -> Vec<String> {
    let real = |path: &PathBuf| path.canonicalize().unwrap_or_else(|_| path.clone());
    let path_of = |dir: &StaticDir| match dir {
        StaticDir::Path(path) | StaticDir::Prefixed((_, path)) => path.clone(),
    };
    let mut missing = Vec::new();
    if let Some(ours) = our_templates {
        let listed: Vec<PathBuf> = ours.iter().map(real).collect();
        for dir in django_templates
            .iter()
            .filter(|dir| !listed.contains(&real(dir)))
        {
            missing.push(format!("Django's template folder {} is not in `template_dirs`, so its templates are not compressed; {advice}", dir.display()));
        }
    }
    if let Some(ours) = our_statics {
        let listed: Vec<PathBuf> = ours.iter().map(|dir| real(&path_of(dir))).collect();
        for dir in django_statics
            .iter()
            .map(path_of)
            .filter(|dir| !listed.contains(&real(dir)))
        {
            missing.push(format!("Django's static folder {} is not in `staticfiles_dirs`, so files in it are not found; {advice}", dir.display()));
        }
    }
    missing
}

/// Offline contexts as a build uses them: a list, each with `STATIC_URL`.
fn contexts(setting: Option<ContextSetting>, static_url: &str) -> Vec<serde_json::Value> {
    let tables = match setting {
        None => vec![serde_json::Map::new()],
        Some(ContextSetting::One(table)) => vec![table],
        Some(ContextSetting::Many(tables)) if tables.is_empty() => vec![serde_json::Map::new()],
        Some(ContextSetting::Many(tables)) => tables,
    };
    tables
        .into_iter()
        .map(|mut table| {
            table
                .entry("STATIC_URL")
                .or_insert_with(|| serde_json::Value::String(static_url.to_string()));
            serde_json::Value::Object(table)
        })
        .collect()
}
