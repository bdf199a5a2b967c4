//! The built-in SCSS and Sass compiler (grass, which follows dart-sass), so no node or ruby is
//! needed. `@import`, `@use` and `@forward` are looked up beside the importing file, then in the
//! static folders, and never outside them. A relative `url()` in a partial is made absolute
//! against the partial's own folder before the partial is compiled in, where a browser would
//! otherwise resolve it against the entry stylesheet's. The compiled CSS is cached together with
//! every file the compilation read and every file it looked for and did not find, so a changed
//! partial (or a new one that now wins a lookup) compiles the stylesheet again.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use grass_compiler::sass_value::{ArgumentResult, QuoteKind, Value};
use grass_compiler::{Builtin, Fs, InputSyntax, Options, OutputStyle, Visitor};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Location, Result};

use super::cache::Cache;
use super::css_urls::normalize_path;
use super::resolve::Roots;

/// The name grass gives a stylesheet compiled from a string.
const STRING_INPUT: &str = "stdin";

/// What one compilation needs.
pub struct Sass<'a> {
    pub roots: &'a Roots,
    pub cache: &'a Cache,
}

/// A stylesheet to compile: a file, or the text of an inline `<style>`.
pub enum Input<'a> {
    File(&'a Path),
    Inline { text: &'a str, at: &'a Location },
}

/// The files a compilation read (the stylesheet and every partial) and the files it looked for
/// and did not find: what decides whether its result still holds.
#[derive(Debug, Default, Clone)]
pub struct Depends {
    pub read: Vec<PathBuf>,
    pub absent: Vec<PathBuf>,
}

/// The cached result of a compilation, with what it depended on.
#[derive(Serialize, Deserialize)]
struct Compiled {
    css: String,
    /// Each file read, with the sha256 of its bytes.
    read: BTreeMap<PathBuf, String>,
    /// Each file looked for that did not exist.
    absent: Vec<PathBuf>,
}

impl Sass<'_> {
    /// Compiles `input` (`indented` for the `.sass` syntax) to CSS, and says what the CSS
    /// depends on.
    pub fn compile(&self, input: &Input<'_>, indented: bool) -> Result<(String, Depends)> {
        let key = self.key(input, indented);
        let compiled = match self.cache.get::<Compiled>(&key, None) {
            Some(found) if still_valid(&found) => found,
            _ => {
                let compiled = self.compile_uncached(input, indented)?;
                self.cache.put_local(&key, &compiled);
                compiled
            }
        };
        let depends = Depends {
            read: compiled.read.into_keys().collect(),
            absent: compiled.absent,
        };
        Ok((compiled.css, depends))
    }

    fn key(&self, input: &Input<'_>, indented: bool) -> String {
        let (what, text): (&[u8], &[u8]) = match input {
            Input::File(path) => (b"file", path.as_os_str().as_encoded_bytes()),
            Input::Inline { text, .. } => (b"inline", text.as_bytes()),
        };
        let folders = self.roots.folders();
        let folders: Vec<&[u8]> = folders
            .iter()
            .map(|path| path.as_os_str().as_encoded_bytes())
            .collect();
        let indented = [u8::from(indented)];
        let mut parts: Vec<&[u8]> =
            vec![b"sass", what, text, &indented, self.roots.url().as_bytes()];
        parts.extend(folders);
        Cache::key(&parts)
    }

    fn compile_uncached(&self, input: &Input<'_>, indented: bool) -> Result<Compiled> {
        let entry = match input {
            Input::File(path) => Some(path.to_path_buf()),
            Input::Inline { .. } => None,
        };
        let fs = Watched {
            roots: self.roots,
            entry: entry.clone(),
            seen: Mutex::default(),
        };
        let load_paths = self.roots.folders();
        let syntax = if indented {
            InputSyntax::Sass
        } else {
            InputSyntax::Scss
        };
        let options = Options::default()
            .fs(&fs)
            .style(OutputStyle::Expanded)
            .quiet(true)
            .input_syntax(syntax)
            .load_paths(&load_paths)
            .add_custom_fn("static", Builtin::new(static_url));
        let result = STATIC_URL.with(|url| {
            *url.borrow_mut() = self.roots.url().to_string();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match input {
                Input::File(path) => grass_compiler::from_path(path, &options),
                Input::Inline { text, .. } => grass_compiler::from_string(*text, &options),
            }))
        });
        let css = match result {
            Ok(Ok(css)) => css,
            Ok(Err(error)) => return Err(self.error(input, *error)),
            Err(_) => {
                return Err(Error::input(
                    self.place(input, 0),
                    "the Sass compiler failed on this stylesheet (an internal error of grass); compile it with another precompiler (COMPRESS_PRECOMPILERS or `precompilers`)",
                ))
            }
        };
        let seen = fs.seen.into_inner().unwrap_or_default();
        Ok(Compiled {
            css,
            read: seen.read,
            absent: seen.absent,
        })
    }

    /// Where a message about `input` points: its file, or its element's place in a template.
    fn place(&self, input: &Input<'_>, line: usize) -> Location {
        match input {
            Input::File(path) => Location::new(*path, line),
            Input::Inline { at, .. } => Location::new(&at.file, at.line + line.max(1) - 1),
        }
    }

    fn error(&self, input: &Input<'_>, error: grass_compiler::Error) -> Error {
        match error.kind() {
            grass_compiler::ErrorKind::ParseError { message, loc, .. } => {
                let line = loc.begin.line + 1;
                let column = loc.begin.column + 1;
                let location = match input {
                    Input::Inline { .. } if loc.file.name() == STRING_INPUT && line == 1 => {
                        self.place(input, line)
                    }
                    _ if loc.file.name() == STRING_INPUT => {
                        self.place(input, line).with_column(column)
                    }
                    _ => Location::new(loc.file.name(), line).with_column(column),
                };
                Error::input(
                    location,
                    format!(
                        "Sass error: {}; fix the stylesheet",
                        message.trim_end_matches('.')
                    ),
                )
            }
            grass_compiler::ErrorKind::IoError(error) => Error::input(
                self.place(input, 0),
                format!("cannot be read by the Sass compiler ({error})"),
            ),
            grass_compiler::ErrorKind::FromUtf8Error(message) => Error::input(
                self.place(input, 0),
                format!("a stylesheet it imports is not valid UTF-8 ({message}); save it as UTF-8"),
            ),
            _ => Error::input(self.place(input, 0), "the Sass compiler failed"),
        }
    }
}

/// Whether every file a cached compilation read is unchanged and every file it missed is
/// still missing.
fn still_valid(compiled: &Compiled) -> bool {
    compiled.read.iter().all(|(path, digest)| {
        std::fs::read(path).is_ok_and(|bytes| hex::encode(Sha256::digest(&bytes)) == *digest)
    }) && compiled.absent.iter().all(|path| !path.is_file())
}

thread_local! {
    /// `url` of the compilation running on this thread, for the `static()` function.
    static STATIC_URL: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `static("img/a.png")` → `"/static/img/a.png"`, as django-libsass provides it to stylesheets.
fn static_url(mut args: ArgumentResult, _: &mut Visitor) -> grass_compiler::Result<Value> {
    args.max_args(1)?;
    let Some(arg) = args.get(0, "path") else {
        return args.get_err(0, "path");
    };
    let path = match arg.node {
        Value::String(text, _) => text,
        _ => return Err(("static() takes a string", arg.span).into()),
    };
    let url = STATIC_URL.with(|url| url.borrow().clone());
    Ok(Value::String(format!("{url}{path}"), QuoteKind::Quoted))
}

/// The files a compilation touched.
#[derive(Default)]
struct Seen {
    read: BTreeMap<PathBuf, String>,
    absent: Vec<PathBuf>,
}

/// The file system as the Sass compiler sees it: only inside the static folders, every lookup
/// recorded, and partials' relative urls made absolute.
#[derive(Debug)]
struct Watched<'a> {
    roots: &'a Roots,
    entry: Option<PathBuf>,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("read", &self.read.len())
            .field("absent", &self.absent.len())
            .finish()
    }
}

impl Watched<'_> {
    fn allowed(&self, path: &Path) -> bool {
        self.entry.as_deref() == Some(path) || self.roots.contains(path)
    }
}

impl Fs for Watched<'_> {
    fn is_dir(&self, path: &Path) -> bool {
        self.allowed(path) && path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        let found = self.allowed(path) && path.is_file();
        if !found {
            if let Ok(mut seen) = self.seen.lock() {
                seen.absent.push(path.to_path_buf());
            }
        }
        found
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if !self.allowed(path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is outside the static folders, where stylesheets may import from",
                    path.display()
                ),
            ));
        }
        let bytes = std::fs::read(path)?;
        if let Ok(mut seen) = self.seen.lock() {
            seen.read
                .insert(path.to_path_buf(), hex::encode(Sha256::digest(&bytes)));
        }
        if self.entry.as_deref() == Some(path) {
            return Ok(bytes);
        }
        let Some(relative) = self.roots.relative_path_of(path) else {
            return Ok(bytes);
        };
        match String::from_utf8(bytes) {
            Ok(text) => Ok(absolute_urls(&text, &relative, self.roots.url()).into_bytes()),
            Err(error) => Ok(error.into_bytes()),
        }
    }
}

/// A partial's literal relative `url()`s, made absolute against its folder: `url(../img/a.png)`
/// in `css/parts/_a.scss` becomes `url(/static/css/img/a.png)`. Urls built from variables or
/// interpolation are left as written.
fn absolute_urls(text: &str, relative: &str, url: &str) -> String {
    static URL: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r#"(?i)url\(\s*(["']?)([^"'()\s]+)(["']?)\s*\)"#)
            .unwrap_or_else(|_| unreachable!("the url pattern is valid"))
    });
    let folder = relative.rsplit_once('/').map_or("", |(dir, _)| dir);
    URL.replace_all(text, |found: &regex::Captures<'_>| {
        let whole = found[0].to_string();
        let (open, target, close) = (&found[1], &found[2], &found[3]);
        let has_scheme = target.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if open != close
            || target.starts_with('/')
            || target.starts_with('#')
            || target.contains("#{")
            || target.contains('$')
            || has_scheme
        {
            return whole;
        }
        let joined = if folder.is_empty() {
            target.to_string()
        } else {
            format!("{folder}/{target}")
        };
        match normalize_path(&joined) {
            Some(path) => format!("url({open}{url}{path}{close})"),
            None => whole,
        }
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_urls_become_absolute_against_the_partial() {
        let text = "a { b: url(../img/a.png); c: url('x.svg#i'); d: url(\"/abs.png\"); e: url(data:x); f: url(#{$v}/y.png); g: url($x) }";
        assert_eq!(
            absolute_urls(text, "css/parts/_a.scss", "/static/"),
            "a { b: url(/static/css/img/a.png); c: url('/static/css/parts/x.svg#i'); d: url(\"/abs.png\"); e: url(data:x); f: url(#{$v}/y.png); g: url($x) }"
        );
        assert_eq!(
            absolute_urls("a{b:url(../../../x.png)}", "css/_a.scss", "/s/"),
            "a{b:url(../../../x.png)}"
        );
    }
}
