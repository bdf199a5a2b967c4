//! From a URL in a block to a file on disk: the URL must sit under `url`, and the file must be
//! inside `root` or a `staticfiles_dirs` entry (searched in that order, as django-compressor
//! does; an entry with a prefix answers only paths under it, as Django's finder does), never
//! outside them, whether by `..`, an absolute path or a symbolic link.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::config::StaticDir;

/// Why a URL has no file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Unresolved {
    /// The URL is not under `url`, so nothing stapler serves can answer it.
    NotUnderUrl,
    /// The URL would lead outside the static roots.
    Outside,
    /// No root has the file.
    Missing,
}

/// The directories files are looked up in, with the URL they are served at.
///
/// Lookups are remembered for the life of the value (one build): a site refers to the same
/// few hundred files from thousands of places, and each distinct path costs its `stat` and its
/// folder's canonicalisation once, not once per reference.
#[derive(Debug, Clone)]
pub struct Roots {
    url: String,
    dirs: Vec<Root>,
    found: Memo<String, Result<PathBuf, Unresolved>>,
    /// The real path of each folder a candidate file sat in.
    folders: Memo<PathBuf, Option<PathBuf>>,
}

type Memo<K, V> = Arc<RwLock<HashMap<K, V>>>;

/// The value remembered for `key`, computing (outside any lock) and remembering it if absent.
fn remembered<K, V>(memo: &Memo<K, V>, key: &K, compute: impl FnOnce() -> V) -> V
where
    K: std::hash::Hash + Eq + Clone,
    V: Clone,
{
    if let Some(value) = memo.read().ok().and_then(|map| map.get(key).cloned()) {
        return value;
    }
    let value = compute();
    if let Ok(mut map) = memo.write() {
        map.insert(key.clone(), value.clone());
    }
    value
}

/// A folder searched, the URL prefix it answers (if any), and its real path.
#[derive(Debug, Clone)]
struct Root {
    path: PathBuf,
    prefix: Option<String>,
    canonical: Option<PathBuf>,
}

impl Roots {
    pub fn new(url: &str, root: &Path, staticfiles_dirs: &[StaticDir]) -> Self {
        let dirs = std::iter::once((None, root))
            .chain(staticfiles_dirs.iter().map(|dir| match dir {
                StaticDir::Path(path) => (None, path.as_path()),
                StaticDir::Prefixed((prefix, path)) => {
                    (Some(prefix.trim_matches('/').to_string()), path.as_path())
                }
            }))
            .map(|(prefix, dir)| Root {
                path: dir.to_path_buf(),
                prefix,
                canonical: dir.canonicalize().ok(),
            })
            .collect();
        Roots {
            url: url.to_string(),
            dirs,
            found: Memo::default(),
            folders: Memo::default(),
        }
    }

    /// The URL files are served at (`url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path under `url` with query and fragment removed, or why there is none.
    pub fn relative<'u>(&self, url: &'u str) -> Result<&'u str, Unresolved> {
        let path = url
            .strip_prefix(self.url.as_str())
            .ok_or(Unresolved::NotUnderUrl)?;
        let end = path.find(['?', '#']).unwrap_or(path.len());
        Ok(&path[..end])
    }

    /// Finds the file a URL-relative path (`css/site.css`) names.
    pub fn find(&self, relative: &str) -> Result<PathBuf, Unresolved> {
        remembered(&self.found, &relative.to_string(), || {
            self.look_up(relative)
        })
    }

    fn look_up(&self, relative: &str) -> Result<PathBuf, Unresolved> {
        let decoded = percent_decode(relative).ok_or(Unresolved::Outside)?;
        if decoded.starts_with('/')
            || decoded.contains('\\')
            || decoded.contains('\0')
            || decoded.split('/').any(|part| part == "..")
            || Path::new(&decoded).is_absolute()
        {
            return Err(Unresolved::Outside);
        }
        for root in &self.dirs {
            let below = match &root.prefix {
                Some(prefix) => match decoded
                    .strip_prefix(prefix.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                {
                    Some(rest) => rest,
                    None => continue,
                },
                None => decoded.as_str(),
            };
            let candidate = root.path.join(below);
            let Ok(meta) = std::fs::symlink_metadata(&candidate) else {
                continue;
            };
            let real = if meta.file_type().is_symlink() {
                if !candidate.is_file() {
                    continue;
                }
                candidate.canonicalize().ok()
            } else if meta.is_file() {
                self.real_path_of(&candidate)
            } else {
                continue;
            };
            let real = real.ok_or(Unresolved::Missing)?;
            return match &root.canonical {
                Some(base) if real.starts_with(base) => Ok(candidate),
                _ => Err(Unresolved::Outside),
            };
        }
        Err(Unresolved::Missing)
    }

    /// The real path of a file that is not itself a link: its folder's real path (worked out
    /// once per folder) joined with its name.
    fn real_path_of(&self, file: &Path) -> Option<PathBuf> {
        let (parent, name) = (file.parent()?, file.file_name()?);
        let folder = remembered(&self.folders, &parent.to_path_buf(), || {
            parent.canonicalize().ok()
        })?;
        Some(folder.join(name))
    }

    /// Every path looked up so far, with what the lookup gave, sorted by path.
    pub fn lookups(&self) -> Vec<(String, Result<PathBuf, Unresolved>)> {
        let mut all: Vec<_> = self
            .found
            .read()
            .map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The folders searched, `staticfiles_dirs` first and `root` last: where stylesheets import
    /// from, as django-libsass looks in the staticfiles finders' folders.
    pub fn folders(&self) -> Vec<PathBuf> {
        let mut folders: Vec<PathBuf> = self.dirs[1..]
            .iter()
            .map(|root| root.path.clone())
            .collect();
        folders.extend(self.dirs.first().map(|root| root.path.clone()));
        folders
    }

    /// Whether `path` is, once links are followed, inside one of the folders.
    pub fn contains(&self, path: &Path) -> bool {
        self.root_of(path).is_some()
    }

    /// The URL-relative path (`css/parts/_a.scss`) of a file inside one of the folders.
    pub fn relative_path_of(&self, path: &Path) -> Option<String> {
        let (root, below) = self.root_of(path)?;
        let below = below
            .components()
            .map(|part| part.as_os_str().to_str())
            .collect::<Option<Vec<_>>>()?
            .join("/");
        Some(match &root.prefix {
            Some(prefix) => format!("{prefix}/{below}"),
            None => below,
        })
    }

    fn root_of(&self, path: &Path) -> Option<(&Root, PathBuf)> {
        let canonical = path.canonicalize().ok().or_else(|| {
            // A file that does not exist yet: its folder decides.
            let parent = path.parent()?.canonicalize().ok()?;
            Some(parent.join(path.file_name()?))
        })?;
        self.dirs.iter().find_map(|root| {
            let base = root.canonical.as_ref()?;
            let below = canonical.strip_prefix(base).ok()?;
            Some((root, below.to_path_buf()))
        })
    }

    /// Where a file at a URL-relative path is written: always under `root`.
    pub fn output_path(&self, relative: &str) -> PathBuf {
        self.dirs[0].path.join(relative)
    }

    /// The directories searched, for messages.
    pub fn describe(&self) -> String {
        self.dirs
            .iter()
            .map(|root| match &root.prefix {
                Some(prefix) => format!("{} (as {prefix}/)", root.path.display()),
                None => root.path.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `%C3%A9` → `é`: the file name a URL path names; `None` when the decoded bytes are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_in_root_then_staticfiles_dirs_and_refuses_escapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let extra = dir.path().join("extra");
        std::fs::create_dir_all(root.join("css")).expect("mkdir");
        std::fs::create_dir_all(&extra).expect("mkdir");
        std::fs::write(root.join("css/a b.css"), "a{}").expect("write");
        std::fs::write(extra.join("b.js"), "b()").expect("write");
        std::fs::write(dir.path().join("secret"), "x").expect("write");
        let vendor = dir.path().join("node_modules");
        std::fs::create_dir_all(&vendor).expect("mkdir");
        std::fs::write(vendor.join("v.js"), "v()").expect("write");
        let roots = Roots::new(
            "/static/",
            &root,
            &[
                StaticDir::Path(extra.clone()),
                StaticDir::Prefixed(("vendor".into(), vendor.clone())),
            ],
        );
        assert_eq!(roots.find("vendor/v.js"), Ok(vendor.join("v.js")));
        assert_eq!(roots.find("v.js"), Err(Unresolved::Missing));
        assert_eq!(roots.relative("/static/css/a.css?v=1#x"), Ok("css/a.css"));
        assert_eq!(roots.relative("/other/a.css"), Err(Unresolved::NotUnderUrl));
        assert_eq!(roots.find("css/a%20b.css"), Ok(root.join("css/a b.css")));
        assert_eq!(roots.find("b.js"), Ok(extra.join("b.js")));
        assert_eq!(roots.find("missing.js"), Err(Unresolved::Missing));
        assert_eq!(roots.find("../secret"), Err(Unresolved::Outside));
        assert_eq!(roots.find("%2e%2e/secret"), Err(Unresolved::Outside));
        assert_eq!(roots.find("/etc/passwd"), Err(Unresolved::Outside));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link"))
                .expect("symlink");
            assert_eq!(roots.find("link"), Err(Unresolved::Outside));
            // A folder that is a link out of the root: its files are outside too.
            std::os::unix::fs::symlink(&vendor, root.join("elsewhere")).expect("symlink");
            assert_eq!(roots.find("elsewhere/v.js"), Err(Unresolved::Outside));
        }
        // Each lookup is remembered, with what it found.
        assert!(roots
            .lookups()
            .contains(&("b.js".to_string(), Ok(extra.join("b.js")))));
    }
}
