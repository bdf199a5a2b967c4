//! The `url()` policy for stylesheet files: a relative url becomes absolute under `url`,
//! resolved against the stylesheet's folder; fragments, `data:`, other schemes and urls outside
//! `url` are left alone; the target is named by its content (`img/logo.3f2a9c1b0d4e.png`, a
//! copy written beside the original) or, as django-compressor does, by a query (`?3f2a9c1b0d4e`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::config::CssHashing;

use super::resolve::{Roots, Unresolved};

/// A content-hashed copy of a file a stylesheet points at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AssetCopy {
    pub from: PathBuf,
    /// The hashed name under `root` (`img/logo.3f2a9c1b0d4e.png`).
    pub relative: String,
}

/// Why a url cannot be rewritten. Every problem but an unreadable file leaves the url as
/// django-compressor writes it (`left_as`), unhashed, with a warning.
#[derive(Debug)]
pub enum UrlProblem {
    /// A relative url climbs above the static root.
    AboveRoot {
        left_as: String,
    },
    /// The url, once made absolute, leads outside the static roots (by `..` or a link).
    Outside {
        left_as: String,
    },
    /// No root has the file.
    Missing {
        relative: String,
        left_as: String,
    },
    Unreadable {
        path: PathBuf,
        error: String,
    },
}

impl UrlProblem {
    /// What the url is written as instead, when the build goes on.
    pub fn left_as(&self) -> Option<&str> {
        match self {
            UrlProblem::AboveRoot { left_as }
            | UrlProblem::Outside { left_as }
            | UrlProblem::Missing { left_as, .. } => Some(left_as),
            UrlProblem::Unreadable { .. } => None,
        }
    }

    /// The message for the stylesheet's line that holds `url`.
    pub fn describe(&self, url: &str, roots: &Roots) -> String {
        match self {
            UrlProblem::AboveRoot { left_as } => format!(
                "url({url}) climbs above the static root, so stapler does not read it; left as {left_as}, unhashed (django-compressor writes the same url, with a ?hash if that path exists); only files under {} are read",
                roots.describe()
            ),
            UrlProblem::Outside { left_as } => format!(
                "url({url}) leads outside the static roots, so stapler does not read it; left as {left_as}, unhashed (django-compressor would hash it, were the file there); only files under {} are read",
                roots.describe()
            ),
            UrlProblem::Missing { relative, left_as } => format!(
                "url({url}) refers to {relative}, which does not exist in {}; left as {left_as}, unhashed, as django-compressor leaves it",
                roots.describe()
            ),
            UrlProblem::Unreadable { path, error } => {
                format!("url({url}): cannot read {}: {error}", path.display())
            }
        }
    }
}

/// The first 12 hex digits of each file's sha256, each file read once per run: stylesheets name
/// the same images and fonts over and over.
#[derive(Debug, Default)]
pub struct FileHashes(Mutex<HashMap<PathBuf, String>>);

impl FileHashes {
    pub fn hash12(&self, path: &Path) -> Result<String, UrlProblem> {
        if let Some(hash) = self
            .0
            .lock()
            .ok()
            .and_then(|known| known.get(path).cloned())
        {
            return Ok(hash);
        }
        let bytes = std::fs::read(path).map_err(|error| UrlProblem::Unreadable {
            path: path.to_path_buf(),
            error: error.to_string(),
        })?;
        let hash = hex::encode(Sha256::digest(&bytes))[..12].to_string();
        if let Ok(mut known) = self.0.lock() {
            known.insert(path.to_path_buf(), hash.clone());
        }
        Ok(hash)
    }
}

/// Rewrites the urls of stylesheet files.
pub struct UrlPolicy<'a> {
    /// `url`: where `root` is served.
    pub url: &'a str,
    pub method: CssHashing,
    pub roots: &'a Roots,
    pub hashes: &'a FileHashes,
}

impl UrlPolicy<'_> {
    /// The new text of one `url()` in the stylesheet at `css_relative` (its path under `url`);
    /// assets to copy under a hashed name are added to `assets`.
    pub fn rewrite(
        &self,
        url: &str,
        css_relative: &str,
        assets: &mut Vec<AssetCopy>,
    ) -> Result<String, UrlProblem> {
        let trimmed = url.trim();
        let has_scheme = trimmed.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        // With `url` on another host, an absolute path under its path names the same file, as
        // django-compressor finds it.
        let url_path = url_path_of(self.url).filter(|path| trimmed.starts_with(path));
        let prefix = match (trimmed.starts_with(self.url), url_path) {
            (true, _) => Some(self.url),
            (false, Some(path)) if !has_scheme => Some(path),
            _ => None,
        };
        if trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with("//")
            || (has_scheme && prefix.is_none())
            || (trimmed.starts_with('/') && prefix.is_none())
        {
            return Ok(url.to_string());
        }
        let prefix = prefix.unwrap_or(self.url);
        let absolute = if trimmed.starts_with(prefix) {
            trimmed.to_string()
        } else {
            let directory = css_relative.rsplit_once('/').map_or("", |(dir, _)| dir);
            let joined = if directory.is_empty() {
                trimmed.to_string()
            } else {
                format!("{directory}/{trimmed}")
            };
            match normalize_path(&joined) {
                Some(normalized) => format!("{}{normalized}", self.url),
                None => {
                    return Err(UrlProblem::AboveRoot {
                        left_as: climbed_url(self.url, &joined),
                    })
                }
            }
        };
        let (without_fragment, fragment) = match absolute.split_once('#') {
            Some((head, fragment)) => (head, Some(fragment)),
            None => (absolute.as_str(), None),
        };
        let (path_part, query) = match without_fragment.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (without_fragment, None),
        };
        // As django-compressor finds the file: the path under `url`, its leading slashes
        // dropped (`/static//img/a.png` is `img/a.png`), `.` and `..` resolved.
        let under = path_part.get(prefix.len()..).unwrap_or("");
        let relative = match normalize_path(under.trim_start_matches('/')) {
            Some(relative) => relative,
            None => {
                return Err(UrlProblem::Outside {
                    left_as: absolute.clone(),
                })
            }
        };
        let relative = relative.as_str();
        let file = self.roots.find(relative).map_err(|why| match why {
            Unresolved::Outside => UrlProblem::Outside {
                left_as: absolute.clone(),
            },
            _ => UrlProblem::Missing {
                relative: relative.to_string(),
                left_as: absolute.clone(),
            },
        })?;
        // The url keeps the stylesheet's spelling of the path, whatever it was.
        let path_part = match path_part.ends_with(relative) {
            true => path_part.to_string(),
            false => format!("{prefix}{relative}"),
        };
        let (name, query) = match self.method {
            CssHashing::None => return Ok(absolute.clone()),
            CssHashing::Query => {
                let hash = self.hashes.hash12(&file)?;
                let query = match query {
                    Some(query) => format!("{query}&{hash}"),
                    None => hash,
                };
                (path_part.clone(), Some(query))
            }
            CssHashing::Filename => {
                // The url keeps the stylesheet's spelling (`caf%C3%A9.png`); the copy is named
                // as the server will decode it (`café.png`).
                let hashed = hashed_name(relative, &self.hashes.hash12(&file)?);
                let decoded =
                    super::resolve::percent_decode(&hashed).ok_or_else(|| UrlProblem::Outside {
                        left_as: absolute.clone(),
                    })?;
                assets.push(AssetCopy {
                    from: file,
                    relative: decoded,
                });
                (format!("{prefix}{hashed}"), query.map(str::to_string))
            }
        };
        Ok(with_query_and_fragment(name, query.as_deref(), fragment))
    }
}

/// The path of a `url` on another host (`https://cdn.example/static/` → `/static/`).
fn url_path_of(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let path = url[after_scheme..].find('/')? + after_scheme;
    Some(&url[path..])
}

fn with_query_and_fragment(mut url: String, query: Option<&str>, fragment: Option<&str>) -> String {
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// `img/logo.png` → `img/logo.3f2a9c1b0d4e.png`.
fn hashed_name(relative: &str, hash: &str) -> String {
    let (directory, file) = relative
        .rsplit_once('/')
        .map_or(("", relative), |(d, f)| (d, f));
    let named = match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{hash}.{ext}"),
        _ => format!("{file}.{hash}"),
    };
    if directory.is_empty() {
        named
    } else {
        format!("{directory}/{named}")
    }
}

/// What django-compressor writes for a relative url that climbs above the root: the url
/// joined to the stylesheet's folder under `url`, normalized as a path that stops at `/`.
fn climbed_url(url: &str, joined: &str) -> String {
    let (origin, path) = match url.find("://") {
        Some(scheme_end) => {
            let host_end = url[scheme_end + 3..]
                .find('/')
                .map_or(url.len(), |slash| scheme_end + 3 + slash);
            (&url[..host_end], &url[host_end..])
        }
        None => ("", url),
    };
    let full = format!("{}/{joined}", path.trim_end_matches('/'));
    let mut parts: Vec<&str> = Vec::new();
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("{origin}/{}", parts.join("/"))
}

/// `posixpath.normpath` for a relative path; `None` when it climbs above its start.
pub(super) fn normalize_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_extension() {
        assert_eq!(hashed_name("img/logo.png", "abc"), "img/logo.abc.png");
        assert_eq!(
            hashed_name("fonts/fa.webfont.eot", "abc"),
            "fonts/fa.webfont.abc.eot"
        );
        assert_eq!(hashed_name("LICENSE", "abc"), "LICENSE.abc");
    }

    #[test]
    fn normalize_refuses_to_climb_out() {
        assert_eq!(
            normalize_path("css/../img/./a.png").as_deref(),
            Some("img/a.png")
        );
        assert_eq!(normalize_path("css/../../a.png"), None);
    }

    #[test]
    fn each_method_names_the_target_its_way() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("img")).expect("mkdir");
        std::fs::write(dir.path().join("img/a.png"), b"png").expect("write");
        let roots = Roots::new("/static/", dir.path(), &[]);
        let hashes = FileHashes::default();
        let hash = hex::encode(Sha256::digest(b"png"))[..12].to_string();
        let policy = |method| UrlPolicy {
            url: "/static/",
            method,
            roots: &roots,
            hashes: &hashes,
        };
        let mut assets = Vec::new();
        let rewrite = |method, url: &str, assets: &mut Vec<AssetCopy>| {
            policy(method)
                .rewrite(url, "css/site.css", assets)
                .expect("rewrites")
        };
        assert_eq!(
            rewrite(CssHashing::Filename, "../img/a.png?v=1#x", &mut assets),
            format!("/static/img/a.{hash}.png?v=1#x")
        );
        assert_eq!(assets[0].relative, format!("img/a.{hash}.png"));
        assert_eq!(
            rewrite(CssHashing::Query, "../img/a.png?v=1#x", &mut assets),
            format!("/static/img/a.png?v=1&{hash}#x")
        );
        assert_eq!(
            rewrite(CssHashing::None, "/static/img/a.png", &mut assets),
            "/static/img/a.png"
        );
        for kept in [
            "data:image/png;base64,xx",
            "#frag",
            "https://x/a.png",
            "/other/a.png",
        ] {
            assert_eq!(rewrite(CssHashing::Filename, kept, &mut assets), kept);
        }
        assert!(matches!(
            policy(CssHashing::Filename).rewrite("../../x.png", "css/site.css", &mut assets),
            Err(UrlProblem::AboveRoot { left_as }) if left_as == "/x.png"
        ));
        // A doubled slash after the prefix, `.` and `..` find the file as django-compressor
        // finds it; the url keeps its spelling.
        assert_eq!(
            rewrite(CssHashing::Query, "/static//img/a.png", &mut assets),
            format!("/static//img/a.png?{hash}")
        );
        assert_eq!(
            rewrite(CssHashing::Filename, "/static//img/./a.png#f", &mut assets),
            format!("/static/img/a.{hash}.png#f")
        );
        assert_eq!(
            rewrite(CssHashing::Query, "/static/css/../img/a.png", &mut assets),
            format!("/static/css/../img/a.png?{hash}")
        );
        assert!(matches!(
            policy(CssHashing::Filename).rewrite("/static/../etc/passwd", "css/site.css", &mut assets),
            Err(UrlProblem::Outside { left_as }) if left_as == "/static/../etc/passwd"
        ));
        let cdn = UrlPolicy {
            url: "https://cdn.example/static/",
            method: CssHashing::Query,
            roots: &roots,
            hashes: &hashes,
        };
        assert_eq!(
            cdn.rewrite("/static/img/a.png", "css/site.css", &mut assets)
                .expect("rewrites"),
            format!("/static/img/a.png?{hash}")
        );
        assert_eq!(
            cdn.rewrite("../img/a.png", "css/site.css", &mut assets)
                .expect("rewrites"),
            format!("https://cdn.example/static/img/a.png?{hash}")
        );
        std::fs::write(dir.path().join("img/é.png"), b"png").expect("write");
        assets.clear();
        assert_eq!(
            rewrite(CssHashing::Filename, "../img/%C3%A9.png", &mut assets),
            format!("/static/img/%C3%A9.{hash}.png")
        );
        assert_eq!(assets[0].relative, format!("img/é.{hash}.png"));
        assert!(matches!(
            policy(CssHashing::Filename).rewrite("gone.png", "css/site.css", &mut assets),
            Err(UrlProblem::Missing { .. })
        ));
    }
}
