//! `{% static %}` without Python: the URL Django's static files storage makes, for the storages
//! a build can repeat exactly. A plain storage joins `STATIC_URL` and the quoted path; a
//! manifest storage (`ManifestStaticFilesStorage`, whitenoise's) first looks the name up in the
//! `staticfiles.json` that `collectstatic` wrote. What only Django could answer is refused, so a
//! native build never writes a key the servers would not compute.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use md5::{Digest, Md5};

use crate::config::{StaticStorage, TemplateSettings};

use super::render::static_url_for;

/// The storage's rules and, once read, its manifest.
pub struct NativeStatic {
    static_url: String,
    /// `None`: not said, which is plain unless a `staticfiles.json` says otherwise.
    storage: Option<StaticStorage>,
    strict: bool,
    debug: bool,
    manifest_path: PathBuf,
    manifest: OnceLock<Result<HashMap<String, String>, String>>,
}

impl NativeStatic {
    pub fn new(config: &TemplateSettings) -> Self {
        NativeStatic {
            static_url: config.static_url.clone(),
            storage: config.static_storage,
            strict: config.manifest_strict,
            debug: config.debug,
            manifest_path: config.static_manifest.clone(),
            manifest: OnceLock::new(),
        }
    }

    /// The URL `{% static path %}` renders, or why a build without Python cannot know it.
    pub fn url(&self, path: &str) -> Result<String, String> {
        match self.storage {
            Some(StaticStorage::Plain) => Ok(static_url_for(&self.static_url, path)),
            Some(StaticStorage::Other) => Err(format!(
                "the static files storage makes its own URLs (static_storage = \"other\"), which only Django can compute for '{path}'; build in the Django project (render = \"auto\")"
            )),
            None if self.manifest_path.is_file() => Err(format!(
                "{} exists, so Django's storage may render '{path}' with a hashed name, and `static_storage` does not say; set static_storage = \"manifest\" (ManifestStaticFilesStorage, whitenoise) or \"plain\", or run `stapler init` again in the Django project",
                self.manifest_path.display()
            )),
            None => Ok(static_url_for(&self.static_url, path)),
            // In DEBUG, Django's manifest storage makes plain URLs.
            Some(StaticStorage::Manifest) if self.debug => {
                Ok(static_url_for(&self.static_url, path))
            }
            Some(StaticStorage::Manifest) => self.manifest_url(path),
        }
    }

    /// `ManifestStaticFilesStorage.url(name)`.
    fn manifest_url(&self, name: &str) -> Result<String, String> {
        let (clean, fragment) = match name.split_once('#') {
            Some((clean, fragment)) => (clean, fragment),
            None => (name, ""),
        };
        let stored = if clean.split('?').next().unwrap_or("").ends_with('/') {
            name.to_string()
        } else {
            self.stored_name(clean)?
        };
        let mut url = static_url_for(&self.static_url, &stored);
        if name.contains("?#") && !url.contains('?') {
            url.push('?');
        }
        if !fragment.is_empty() {
            url.push('#');
            url.push_str(fragment);
        }
        Ok(url)
    }

    /// `stored_name`: the hashed name the manifest gives, keeping the query.
    fn stored_name(&self, name: &str) -> Result<String, String> {
        let unquoted = percent_encoding::percent_decode_str(name)
            .decode_utf8_lossy()
            .into_owned();
        let (path, query) = match unquoted.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (unquoted.as_str(), None),
        };
        let path = path.trim_matches(|c: char| c.is_whitespace());
        let hashed = match self.manifest()?.get(path) {
            Some(hashed) => hashed.clone(),
            None if self.strict => {
                return Err(format!(
                    "Missing staticfiles manifest entry for '{path}' in {}, as Django's manifest storage says; run collectstatic first (as for manage.py compress), or fix the name",
                    self.manifest_path.display()
                ))
            }
            None => self.hashed_from_file(path)?,
        };
        Ok(match query.filter(|query| !query.is_empty()) {
            Some(query) => format!("{hashed}?{query}"),
            None => hashed,
        })
    }

    /// A name missing from a lenient manifest: hashed from the collected file, as Django does.
    fn hashed_from_file(&self, name: &str) -> Result<String, String> {
        let root = self.manifest_path.parent().unwrap_or(Path::new("."));
        let file = root.join(name);
        let bytes = std::fs::read(&file).map_err(|error| {
            format!(
                "'{name}' is neither in {} nor readable as {} ({error}); run collectstatic first",
                self.manifest_path.display(),
                file.display()
            )
        })?;
        let hash = hex::encode(Md5::digest(&bytes));
        Ok(hashed_name(name, &hash[..12]))
    }

    fn manifest(&self) -> Result<&HashMap<String, String>, String> {
        self.manifest
            .get_or_init(|| read_manifest(&self.manifest_path))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The `paths` of a `staticfiles.json` (version 1.0 or 1.1).
fn read_manifest(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        format!(
            "the manifest storage's {} cannot be read ({error}); run collectstatic first, as for manage.py compress",
            path.display()
        )
    })?;
    #[derive(serde::Deserialize)]
    struct Manifest {
        version: String,
        #[serde(default)]
        paths: HashMap<String, String>,
    }
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not a staticfiles manifest ({error})", path.display()))?;
    match manifest.version.as_str() {
        "1.0" | "1.1" => Ok(manifest.paths),
        other => Err(format!(
            "{} is a staticfiles manifest of version {other}, which Django does not read either",
            path.display()
        )),
    }
}

/// `css/site.css` and `0123456789ab` → `css/site.0123456789ab.css`, as `os.path.splitext`
/// splits a name (a leading dot is not an extension).
fn hashed_name(name: &str, hash: &str) -> String {
    let (folder, file) = match name.rsplit_once('/') {
        Some((folder, file)) => (Some(folder), file),
        None => (None, name),
    };
    let stem_length = file.trim_start_matches('.').len();
    let leading = file.len() - stem_length;
    let named = match file[leading..].rfind('.') {
        Some(dot) => {
            let dot = leading + dot;
            format!("{}.{hash}{}", &file[..dot], &file[dot..])
        }
        None => format!("{file}.{hash}"),
    };
    match folder {
        Some(folder) => format!("{folder}/{named}"),
        None => named,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(dir: &Path, strict: bool) -> NativeStatic {
        NativeStatic {
            static_url: "/static/".into(),
            storage: Some(StaticStorage::Manifest),
            strict,
            debug: false,
            manifest_path: dir.join("staticfiles.json"),
            manifest: OnceLock::new(),
        }
    }

    #[test]
    fn manifest_names_are_hashed_as_django_hashes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("staticfiles.json"),
            r#"{"version": "1.1", "paths": {"css/a b.css": "css/a b.0123456789ab.css", "f.eot": "f.aaaaaaaaaaaa.eot"}}"#,
        )
        .expect("write");
        let strict = storage(dir.path(), true);
        assert_eq!(
            strict.url("css/a b.css").as_deref(),
            Ok("/static/css/a%20b.0123456789ab.css")
        );
        assert_eq!(
            strict.url("css/a%20b.css").as_deref(),
            Ok("/static/css/a%20b.0123456789ab.css")
        );
        assert_eq!(
            strict.url("f.eot?#iefix").as_deref(),
            Ok("/static/f.aaaaaaaaaaaa.eot?#iefix")
        );
        assert_eq!(strict.url("img/").as_deref(), Ok("/static/img/"));
        let missing = strict.url("js/gone.js").expect_err("strict");
        assert!(missing.contains("Missing staticfiles manifest entry for 'js/gone.js'"));

        std::fs::create_dir_all(dir.path().join("js")).expect("mkdir");
        std::fs::write(dir.path().join("js/app.js"), "x").expect("write");
        let lenient = storage(dir.path(), false);
        let hash = &hex::encode(Md5::digest(b"x"))[..12];
        assert_eq!(
            lenient.url("js/app.js"),
            Ok(format!("/static/js/app.{hash}.js"))
        );
    }

    #[test]
    fn unsaid_storage_with_a_manifest_present_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut unsaid = storage(dir.path(), true);
        unsaid.storage = None;
        assert_eq!(unsaid.url("a.css").as_deref(), Ok("/static/a.css"));
        std::fs::write(dir.path().join("staticfiles.json"), "{}").expect("write");
        assert!(unsaid.url("a.css").is_err());
    }

    #[test]
    fn hashed_names_split_as_splitext_does() {
        assert_eq!(hashed_name("css/a.b.css", "h"), "css/a.b.h.css");
        assert_eq!(hashed_name(".env", "h"), ".env.h");
        assert_eq!(hashed_name("LICENSE", "h"), "LICENSE.h");
    }
}
