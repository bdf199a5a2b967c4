//! The words every room uses to tell a user something: a place in their files ([`Location`]),
//! a warning that did not stop a build ([`Warning`]), the line a place is on, with a caret
//! under it ([`Excerpt`]), and the kinds of causes of a missing key `stapler check` reports
//! ([`FindingKind`]). They sit below every other module and import none.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// What kind of cause of a missing key `stapler check` found; its name is stable, for scripts
/// that read `--format json`. In the order of the names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A block the native renderer may render otherwise than Django.
    Departure,
    /// A block whose mode the peer would read otherwise.
    ModeConflict,
    /// A bundle, page or the total over its `[budget]`.
    OverBudget,
    /// A block using a variable only a request has.
    RequestVariable,
    /// `stapler.toml` and Django's settings disagree.
    SettingsMismatch,
    /// A template neither renderer could read.
    SkippedTemplate,
    /// A block using a variable no offline context defines.
    UndefinedVariable,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Departure => "departure",
            FindingKind::ModeConflict => "mode-conflict",
            FindingKind::OverBudget => "over-budget",
            FindingKind::RequestVariable => "request-variable",
            FindingKind::SettingsMismatch => "settings-mismatch",
            FindingKind::SkippedTemplate => "skipped-template",
            FindingKind::UndefinedVariable => "undefined-variable",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
