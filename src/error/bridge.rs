//! Why the Django bridge could not answer: its own failures, apart from the build's.

/// Why the bridge could not answer.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("cannot run the Django bridge with `{python}` ({error}); activate the project's virtualenv, or name its interpreter with --python or `python` in stapler.toml")]
    NoPython { python: String, error: String },
    #[error("`{python}` cannot import Django ({message}); activate the project's virtualenv, or name its interpreter with --python")]
    NoDjango { python: String, message: String },
    #[error("Django's settings `{settings}` fail to load with `{python}`: {message}; fix the settings module, or name another with --settings or `django_settings`{tail}")]
    Settings {
        python: String,
        settings: String,
        message: String,
        tail: String,
    },
    #[error("`{python}` has Django but neither django-compressor nor stapler-assets ({message}); install one in the project's virtualenv (`pip install stapler-assets`, whose app `stapler_assets` also serves the manifest on the servers)")]
    NoCompressor { python: String, message: String },
    #[error("the Django bridge (`{python}`) stopped {doing}{tail}; the project's code or a template tag ended Python: load the template in `python manage.py shell` to see why, or set render = \"native\" to build without Python")]
    Died {
        python: String,
        doing: String,
        tail: String,
    },
    #[error("the Django bridge failed while {doing}: {message}")]
    Failed { doing: String, message: String },
}

impl BridgeError {
    /// True for a bridge that could not start: a setup problem, not a broken build.
    pub fn is_setup(&self) -> bool {
        !matches!(self, BridgeError::Died { .. } | BridgeError::Failed { .. })
    }
}
