//! The library's error type: every failure a user can cause, with the file, the line and what
//! to do about it. Leaf errors of each room are folded in with `#[from]`; `main.rs` turns them
//! into messages and exit codes; nothing here prints.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use crate::config::ConfigError;
pub use crate::store::StoreError;

/// A place in a user's file, for messages: `templates/base.html:12`, `static/app.js:3:10`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Location {
    /// The file, as the user would name it (relative to where it was found when possible).
    pub file: PathBuf,
    /// 1-based line number; 0 when the whole file is meant.
    pub line: usize,
    /// 1-based column, in characters; 0 when the whole line is meant.
    #[serde(default)]
    pub column: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Location {
            file: file.into(),
            line,
            column: 0,
        }
    }

    pub fn file(file: impl Into<PathBuf>) -> Self {
        Self::new(file, 0)
    }

    /// The same place, narrowed to a column.
    pub fn with_column(self, column: usize) -> Self {
        Location { column, ..self }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file.display()),
            (line, 0) => write!(f, "{}:{line}", self.file.display()),
            (line, column) => write!(f, "{}:{line}:{column}", self.file.display()),
        }
    }
}

/// Something worth knowing that did not stop a build: where (when it is about one place) and
/// what, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    pub location: Option<Location>,
    pub message: String,
}

impl Warning {
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Warning {
            location: Some(location),
            message: message.into(),
        }
    }

    pub fn general(message: impl Into<String>) -> Self {
        Warning {
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The line of a text that a byte range starts on, shown with a caret under the range:
///
/// ```text
///   |
/// 2 | template_dirs = "t"
///   |                 ^^^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// 1-based line of the range's start.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    text: String,
    width: usize,
}

impl Excerpt {
    pub fn at(source: &str, span: Range<usize>) -> Excerpt {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |at| at + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |at| start + at);
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let text = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        Excerpt {
            line: source[..start].matches('\n').count() + 1,
            column: source[line_start..start].chars().count() + 1,
            width: source[start..end].chars().count().max(1),
            text,
        }
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// How much of a long line an excerpt shows: minified files are one line of megabytes.
const EXCERPT_WIDTH: usize = 100;

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = " ".repeat(self.line.to_string().len());
        let length = self.text.chars().count();
        let (mut start, mut caret) = (0, self.column - 1);
        if length > EXCERPT_WIDTH {
            start = caret.saturating_sub(EXCERPT_WIDTH / 2);
            caret -= start;
        }
        let shown: String = self.text.chars().skip(start).take(EXCERPT_WIDTH).collect();
        let before = if start > 0 { "…" } else { "" };
        let after = if start + EXCERPT_WIDTH < length {
            "…"
        } else {
            ""
        };
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{} | {before}{shown}{after}", self.line)?;
        write!(
            f,
            "{gutter} | {}{}{}",
            " ".repeat(before.chars().count()),
            " ".repeat(caret),
            "^".repeat(self.width.min(EXCERPT_WIDTH - caret.min(EXCERPT_WIDTH - 1)))
        )
    }
}

/// What went wrong, typed by whose job it is to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is missing, malformed or inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The Django bridge could not start, or stopped.
    #[error(transparent)]
    Django(#[from] crate::django::BridgeError),

    /// A template inside or around a compress block cannot be used.
    #[error("{location}: {message}")]
    Template { location: Location, message: String },

    /// A file a block refers to (CSS, JS, an asset) is missing, unreadable, unsafe or broken.
    #[error("{location}: {message}")]
    Input { location: Location, message: String },

    /// No compress block was found anywhere: nothing would be written. The templates that
    /// were skipped, with why, are listed: they are the usual reason.
    #[error("no {{% compress %}} blocks found in {searched}; check `template_dirs` and `extensions` (and `--follow-links` if templates are symlinked){}", list_skipped(.skipped))]
    NothingToCompress {
        searched: String,
        /// Each skipped template and the reason.
        skipped: Vec<(PathBuf, String)>,
    },

    /// Reading or writing stapler's own outputs failed.
    #[error("{}: {action} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },

    /// A store (the publish target) refused, failed or could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A publish failed before any manifest changed: the previous release is still live. What
    /// was and was not sent is said.
    #[error("{message}")]
    NotPublished {
        message: String,
        /// The store client's own account of each failure, shown only with `-v`.
        context: Vec<String>,
    },

    /// A publish failed after its manifest went live (or may have): the message says which
    /// release is live and what a rerun finishes.
    #[error("{message}")]
    PartlyPublished {
        message: String,
        /// The store client's own account of the failure, shown only with `-v`.
        context: Vec<String>,
    },

    /// The release is live, but fetched through the URL visitors use (`--verify`) it is not what
    /// was sent.
    #[error("{message}")]
    NotVerified { message: String },

    /// The machine would not start the threads the work runs on.
    #[error("cannot start stapler's worker threads: {0}")]
    Runtime(std::io::Error),

    /// `--strict`: the build would have succeeded with these warnings and skipped templates.
    #[error("--strict: {} finding(s), and the manifest was not written:\n{}", .0.len(), .0.join("\n"))]
    Strict(Vec<String>),

    /// `check` found causes of missing keys, or bundles over budget (listed before this error).
    #[error(
        "check: {0} finding(s), each a key servers would miss or a bundle over budget; fix them, then run check again"
    )]
    Findings(usize),

    /// Several independent inputs failed; each is reported.
    #[error("{}", join_errors(.0))]
    Many(Vec<Error>),
}

fn list_skipped(skipped: &[(PathBuf, String)]) -> String {
    let mut out = String::new();
    if !skipped.is_empty() {
        out.push_str(&format!("; {} template(s) were skipped:", skipped.len()));
    }
    for (template, reason) in skipped {
        out.push_str(&format!("\n  {}: {reason}", template.display()));
    }
    out
}

fn join_errors(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// The store client's own account of what failed, for `-v`.
    pub fn context(&self) -> Vec<String> {
        match self {
            Error::Store(error) => error.context().map(str::to_string).into_iter().collect(),
            Error::NotPublished { context, .. } | Error::PartlyPublished { context, .. } => {
                context.clone()
            }
            Error::Many(errors) => errors.iter().flat_map(Error::context).collect(),
            _ => Vec::new(),
        }
    }

    pub fn config(origin: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Config(ConfigError {
            origin: origin.to_string(),
            message: message.into(),
        })
    }

    pub fn template(location: Location, message: impl Into<String>) -> Self {
        Error::Template {
            location,
            message: message.into(),
        }
    }

    pub fn input(location: Location, message: impl Into<String>) -> Self {
        Error::Input {
            location,
            message: message.into(),
        }
    }

    pub fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    /// Folds a list of failures into one error, or none when the list is empty.
    pub fn from_many(errors: Vec<Error>) -> Option<Error> {
        // A shared parent's mistake reaches every template that extends it: say it once.
        let mut seen = std::collections::HashSet::new();
        let mut errors: Vec<Error> = errors
            .into_iter()
            .filter(|error| seen.insert(error.to_string()))
            .collect();
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Many(errors)),
        }
    }
}

impl From<crate::output::WriteError> for Error {
    fn from(error: crate::output::WriteError) -> Self {
        Error::Io {
            path: error.path,
            action: error.action,
            source: error.source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_reports_every_error_in_order() {
        let error = Error::from_many(vec![
            Error::config("stapler.toml", "bad"),
            Error::input(Location::file("a.css"), "bad"),
        ])
        .expect("two errors fold into one");
        assert_eq!(error.to_string(), "stapler.toml: bad\na.css: bad");
        assert!(Error::from_many(Vec::new()).is_none());
        let same = || Error::config("base.html", "broken");
        assert_eq!(
            Error::from_many(vec![same(), same()]).map(|error| error.to_string()),
            Some(same().to_string())
        );
    }

    #[test]
    fn location_shows_line_only_when_known() {
        assert_eq!(Location::new("a/b.html", 3).to_string(), "a/b.html:3");
        assert_eq!(Location::file("a/b.html").to_string(), "a/b.html");
        let column = Location::new("a.js", 3).with_column(10);
        assert_eq!(column.to_string(), "a.js:3:10");
    }

    #[test]
    fn excerpt_points_at_the_span() {
        let source = "a = 1\nname = \"é\" # x\n";
        let excerpt = Excerpt::at(source, 14..18);
        assert_eq!((excerpt.line, excerpt.column), (2, 9));
        assert_eq!(
            excerpt.to_string(),
            "  |\n2 | name = \"é\" # x\n  |         ^^^"
        );
        let at_end = Excerpt::at("x", 5..9);
        assert_eq!((at_end.line, at_end.column), (1, 2));
        let long = format!("{}X{}", "a".repeat(500), "b".repeat(500));
        let excerpt = Excerpt::at(&long, 500..501).to_string();
        let lines: Vec<&str> = excerpt.lines().collect();
        assert_eq!(
            lines[1],
            format!("1 | …{}X{}…", "a".repeat(50), "b".repeat(49))
        );
        assert_eq!(lines[2], format!("  |  {}^", " ".repeat(50)));
    }
}
