//! The library's error type: every failure a user can cause, with the file, the line and what
//! to do about it. `main.rs` turns these into messages and exit codes; nothing here prints.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a user's file, for messages: `templates/base.html:12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file, as the user would name it (relative to where it was found when possible).
    pub file: PathBuf,
    /// 1-based line number; 0 when the whole file is meant.
    pub line: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Location {
            file: file.into(),
            line,
        }
    }

    pub fn file(file: impl Into<PathBuf>) -> Self {
        Self::new(file, 0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// What went wrong, typed by whose job it is to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is missing, malformed or inconsistent.
    #[error("{path}: {message}")]
    Config { path: String, message: String },

    /// A template inside or around a compress block cannot be used.
    #[error("{location}: {message}")]
    Template { location: Location, message: String },

    /// A file a block refers to (CSS, JS, an asset) is missing, unreadable, unsafe or broken.
    #[error("{location}: {message}")]
    Input { location: Location, message: String },

    /// No compress block was found anywhere: nothing would be written.
    #[error("no {{% compress %}} blocks found in {searched}; check `template_dirs` and `extensions` (and `--follow-links` if templates are symlinked)")]
    NothingToCompress { searched: String },

    /// Reading or writing stapler's own outputs failed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },

    /// The publish target refused, failed or could not be reached.
    #[error("{message}")]
    Remote { message: String },

    /// Several independent inputs failed; each is reported.
    #[error("{}", join_errors(.0))]
    Many(Vec<Error>),
}

fn join_errors(errors: &[Error]) -> String {
    let mut text = String::new();
    for (i, error) in errors.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&error.to_string());
    }
    text
}

impl Error {
    pub fn config(path: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.to_string(),
            message: message.into(),
        }
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
    pub fn from_many(mut errors: Vec<Error>) -> Option<Error> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Many(errors)),
        }
    }

    /// The process exit code this failure maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config { .. } => ExitCode::Config,
            Error::Io { .. } => ExitCode::Io,
            Error::Remote { .. } => ExitCode::Remote,
            Error::Many(errors) => errors
                .first()
                .map_or(ExitCode::Input, |error| error.exit_code()),
            Error::Template { .. } | Error::Input { .. } | Error::NothingToCompress { .. } => {
                ExitCode::Input
            }
        }
    }
}

/// How the `stapler` process ends. Scripts can tell a broken input from a broken setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    /// A template, stylesheet, script or referenced file is wrong; fix the input.
    Input = 1,
    /// The command line or configuration is wrong.
    Config = 2,
    /// The machine refused: a directory cannot be written, a disk is full.
    Io = 3,
    /// The publish target refused or failed; the previous release is still the live one.
    Remote = 4,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_stable() {
        assert_eq!(ExitCode::Success as i32, 0);
        assert_eq!(ExitCode::Input as i32, 1);
        assert_eq!(ExitCode::Config as i32, 2);
        assert_eq!(ExitCode::Io as i32, 3);
        assert_eq!(ExitCode::Remote as i32, 4);
    }

    #[test]
    fn many_takes_the_code_of_its_first_error() {
        let error = Error::from_many(vec![
            Error::config("stapler.toml", "bad"),
            Error::input(Location::file("a.css"), "bad"),
        ])
        .expect("two errors fold into one");
        assert_eq!(error.exit_code(), ExitCode::Config);
        assert_eq!(error.to_string(), "stapler.toml: bad\na.css: bad");
    }

    #[test]
    fn location_shows_line_only_when_known() {
        assert_eq!(Location::new("a/b.html", 3).to_string(), "a/b.html:3");
        assert_eq!(Location::file("a/b.html").to_string(), "a/b.html");
    }
}
