//! The library's error type: every failure a user can cause, with the file, the line and what
//! to do about it. The failure kinds of the rooms with failures of their own (a setting, the
//! store, the Django bridge) are defined here too and re-exported by their rooms, so this module
//! sits below all of them and imports none; `main.rs` turns errors into messages and exit codes;
//! nothing here prints.

use std::fmt;
use std::path::{Path, PathBuf};

mod bridge;
mod store;

pub use crate::diagnostic::{Excerpt, Location, Warning};
pub use bridge::BridgeError;
pub use store::StoreError;

/// A configuration mistake: where it is (a file, a file:line:column, a variable) and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    pub origin: String,
    pub message: String,
}

/// What went wrong, typed by whose job it is to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is missing, malformed or inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The Django bridge could not start, or stopped.
    #[error(transparent)]
    Django(#[from] BridgeError),

    /// A template inside or around a compress block cannot be used.
    #[error("{location}: {message}")]
    Template { location: Location, message: String },

    /// A file a block refers to (CSS, JS, an asset) is missing, unreadable, unsafe or broken.
    #[error("{location}: {message}{}", shown(.excerpt))]
    Input {
        location: Location,
        message: String,
        /// The line as stapler read it, when that differs from the file's (CSS after its urls
        /// were rewritten): shown under the message instead of the file's line.
        excerpt: Option<Excerpt>,
    },

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

/// An excerpt on the lines after a message, when there is one.
fn shown(excerpt: &Option<Excerpt>) -> String {
    excerpt
        .as_ref()
        .map(|excerpt| format!("\n{excerpt}"))
        .unwrap_or_default()
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
            excerpt: None,
        }
    }

    /// As [`Error::input`], with the line as stapler read it.
    pub fn input_read_as(location: Location, message: impl Into<String>, excerpt: Excerpt) -> Self {
        Error::Input {
            location,
            message: message.into(),
            excerpt: Some(excerpt),
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
}
