//! Finding the Django project a run is in: its folder, its settings module, its interpreter.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// A Django project the bridge can run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The folder `manage.py` is in (put first on Python's path, as `manage.py` puts it).
    pub dir: PathBuf,
    /// The settings module, such as `mysite.settings`.
    pub settings: String,
    /// The interpreter that has the project's packages.
    pub python: PathBuf,
    /// Where the settings module's name came from, for `stapler config`.
    pub settings_from: String,
}

/// What a run knows that can point at a Django project.
#[derive(Debug, Default, Clone)]
pub struct Clues {
    /// `--settings` or `django_settings`.
    pub settings: Option<String>,
    /// `--python` or `python`.
    pub python: Option<PathBuf>,
    /// The folder of the configuration file, if there is one.
    pub config_dir: Option<PathBuf>,
    /// The working directory.
    pub cwd: PathBuf,
    /// `DJANGO_SETTINGS_MODULE`.
    pub settings_env: Option<String>,
    /// `VIRTUAL_ENV`.
    pub virtual_env: Option<PathBuf>,
}

static SETDEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"DJANGO_SETTINGS_MODULE["']\s*,\s*["']([A-Za-z_][A-Za-z0-9_.]*)["']"#)
        .expect("static regex")
});

/// The project the clues point at: a `manage.py` beside the configuration file or in the
/// working directory, or a settings module named outright. `Ok(None)` when nothing points at
/// one; an error when a `manage.py` names no settings module stapler can read.
pub fn find_project(clues: &Clues) -> Result<Option<Project>, String> {
    let manage = [clues.config_dir.as_deref(), Some(clues.cwd.as_path())]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("manage.py"))
        .find(|path| path.is_file());
    let (settings, settings_from) = match (&clues.settings, &clues.settings_env, &manage) {
        (Some(settings), _, _) => (settings.clone(), "--settings / django_settings".to_string()),
        (None, Some(settings), _) => (settings.clone(), "DJANGO_SETTINGS_MODULE".to_string()),
        (None, None, Some(manage)) => match settings_in_manage_py(manage) {
            Some(settings) => (settings, manage.display().to_string()),
            None => {
                return Err(format!(
                    "{} names no settings module stapler can read; set django_settings = \"mysite.settings\" in stapler.toml, or pass --settings",
                    manage.display()
                ))
            }
        },
        (None, None, None) => return Ok(None),
    };
    let dir = manage
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(|| clues.config_dir.clone())
        .unwrap_or_else(|| clues.cwd.clone());
    let dir = if dir.as_os_str().is_empty() {
        clues.cwd.clone()
    } else {
        dir
    };
    Ok(Some(Project {
        dir,
        settings,
        python: interpreter(clues),
        settings_from,
    }))
}

/// `--python`, else the active virtualenv's, else `python3` from the PATH.
fn interpreter(clues: &Clues) -> PathBuf {
    if let Some(python) = &clues.python {
        return python.clone();
    }
    if let Some(venv) = &clues.virtual_env {
        let python = venv.join("bin").join("python");
        if python.is_file() {
            return python;
        }
    }
    PathBuf::from("python3")
}

fn settings_in_manage_py(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    SETDEFAULT
        .captures(&text)
        .map(|captures| captures[1].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manage_py_names_the_settings_and_flags_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("manage.py"),
            "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings.dev')\n",
        )
        .expect("write");
        let clues = Clues {
            cwd: dir.path().to_path_buf(),
            ..Clues::default()
        };
        let project = find_project(&clues).expect("reads").expect("found");
        assert_eq!(project.settings, "shop.settings.dev");
        assert_eq!(project.dir, dir.path());
        assert_eq!(project.python, PathBuf::from("python3"));
        let clues = Clues {
            settings: Some("shop.settings.ci".into()),
            settings_env: Some("shop.settings.prod".into()),
            python: Some("/opt/py/bin/python".into()),
            ..clues
        };
        let project = find_project(&clues).expect("reads").expect("found");
        assert_eq!(project.settings, "shop.settings.ci");
        assert_eq!(project.python, PathBuf::from("/opt/py/bin/python"));
    }

    #[test]
    fn no_clue_is_no_project_and_an_unreadable_manage_py_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clues = Clues {
            cwd: dir.path().to_path_buf(),
            ..Clues::default()
        };
        assert_eq!(find_project(&clues), Ok(None));
        std::fs::write(dir.path().join("manage.py"), "print('hi')\n").expect("write");
        let error = find_project(&clues).expect_err("no settings");
        assert!(error.contains("pass --settings"), "{error}");
    }
}
