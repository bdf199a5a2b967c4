//! Errors and warnings as people read them: each with its place, the offending line of the file
//! and a caret under the column, in colour on a terminal (none when piped or with `NO_COLOR`);
//! or, with `--format github`, as workflow commands that put them on the pull request's lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use stapler::error::{Excerpt, Location, Warning};
use stapler::Error;

/// Files larger than this are not read again to show a line.
const EXCERPT_FILE_LIMIT: u64 = 16 * 1024 * 1024;

/// Warnings shown one by one before the rest are only counted (all of them with `-v`).
const WARNINGS_SHOWN: usize = 10;

/// Places listed for one warning that recurs, before the rest are counted.
const PLACES_SHOWN: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Severity::Error => "\x1b[1;31m",
            Severity::Warning => "\x1b[1;33m",
        }
    }
}

const GUTTER: &str = "\x1b[1;34m";
const RESET: &str = "\x1b[0m";

/// Whether stderr gets colour: a terminal, `NO_COLOR` unset or empty, `TERM` not `dumb`.
pub fn colour_on_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    std::io::stderr().is_terminal() && !no_color && !dumb
}

/// One diagnostic: what the user reads, its place, and the line it points at.
struct Diagnostic {
    severity: Severity,
    location: Option<Location>,
    message: String,
    /// The line as stapler read it; `None` shows the file's own line at `location`.
    excerpt: Option<Excerpt>,
}

impl Diagnostic {
    /// The text: `error: file:line:col: message`, the excerpt below it.
    fn render(&self, extra: &str, colour: bool) -> String {
        let mut text = match &self.location {
            Some(location) => format!("{location}: {}", self.message),
            None => self.message.clone(),
        };
        text.push_str(extra);
        // The line as stapler read it (CSS after its urls were rewritten), else the file's.
        let shown = self
            .excerpt
            .clone()
            .or_else(|| self.location.as_ref().and_then(excerpt));
        if let Some(excerpt) = shown {
            text.push('\n');
            text.push_str(&excerpt.to_string());
        }
        paint(self.severity, &text, colour)
    }
}

/// The line `location` names in its file, with a caret under its column (the whole line when
/// no column is known); `None` when the file cannot be read now or has no such line.
fn excerpt(location: &Location) -> Option<Excerpt> {
    if location.line == 0 {
        return None;
    }
    let file = Path::new(&location.file);
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() || meta.len() > EXCERPT_FILE_LIMIT {
        return None;
    }
    let bytes = std::fs::read(file).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let start = line_start(text, location.line)?;
    let end = text[start..].find('\n').map_or(text.len(), |at| start + at);
    let line = text[start..end].trim_end_matches('\r');
    let span = if location.column > 0 {
        let at = line
            .char_indices()
            .nth(location.column - 1)
            .map_or(line.len(), |(at, _)| at);
        start + at..start + at + 1
    } else {
        let indent = line.len() - line.trim_start().len();
        if line.trim().is_empty() {
            return None;
        }
        start + indent..start + line.len()
    };
    Some(Excerpt::at(text, span))
}

fn line_start(text: &str, line: usize) -> Option<usize> {
    if line == 1 {
        return Some(0);
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map(|(at, _)| at + 1)
        .filter(|at| *at <= text.len())
}

/// Colours a rendered diagnostic by the shape of its lines: the first word, the gutter of an
/// excerpt, and its carets.
fn paint(severity: Severity, text: &str, colour: bool) -> String {
    let word = severity.word();
    if !colour {
        return format!("{word}: {text}");
    }
    let mut out = format!("{}{word}{RESET}: ", severity.colour());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        match line.split_once(" |") {
            Some((gutter, rest)) if gutter.trim().chars().all(|c| c.is_ascii_digit()) => {
                let carets =
                    !rest.trim().is_empty() && rest.trim().chars().all(|c| c == '^' || c == '…');
                let _ = write!(out, "{GUTTER}{gutter} |{RESET}");
                if carets {
                    let _ = write!(out, "{}{rest}{RESET}", severity.colour());
                } else {
                    out.push_str(rest);
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Every failure in `error` as its own diagnostic.
fn diagnostics(error: &Error) -> Vec<Diagnostic> {
    match error {
        Error::Many(errors) => errors.iter().flat_map(diagnostics).collect(),
        Error::Template { location, message } => vec![Diagnostic {
            severity: Severity::Error,
            location: Some(location.clone()),
            message: message.clone(),
            excerpt: None,
        }],
        Error::Input {
            location,
            message,
            excerpt,
        } => vec![Diagnostic {
            severity: Severity::Error,
            location: Some(location.clone()),
            message: message.clone(),
            excerpt: excerpt.clone(),
        }],
        other => vec![Diagnostic {
            severity: Severity::Error,
            location: None,
            message: other.to_string(),
            excerpt: None,
        }],
    }
}

/// The places and messages of every failure in `error`, for the JSON report.
pub fn error_items(error: &Error) -> Vec<(Option<Location>, String)> {
    diagnostics(error)
        .into_iter()
        .map(|diagnostic| {
            let message = match diagnostic.excerpt {
                Some(excerpt) => format!("{}\n{excerpt}", diagnostic.message),
                None => diagnostic.message,
            };
            (diagnostic.location, message)
        })
        .collect()
}

/// Prints an error (each failure of several on its own) to stderr.
pub fn print_error(error: &Error, colour: bool) {
    let all = diagnostics(error);
    for diagnostic in &all {
        eprintln!("{}", diagnostic.render("", colour));
    }
    if all.len() > 1 {
        eprintln!(
            "{}",
            paint(
                Severity::Error,
                &format!("{} errors, each above", all.len()),
                colour
            )
        );
    }
}

/// Warnings that say the same thing at several places, said once with the places.
pub(crate) struct Group<'a> {
    pub message: &'a str,
    pub places: Vec<&'a Location>,
    first: &'a Warning,
}

pub(crate) fn group(warnings: &[Warning]) -> Vec<Group<'_>> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_message: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    for warning in warnings {
        let entry = by_message
            .entry(warning.message.as_str())
            .or_insert_with(|| {
                order.push(warning.message.as_str());
                Group {
                    message: &warning.message,
                    places: Vec::new(),
                    first: warning,
                }
            });
        if let Some(location) = &warning.location {
            if !entry.places.contains(&location) {
                entry.places.push(location);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|message| by_message.remove(message))
        .collect()
}

/// Prints warnings to stderr, each message once with the places it recurs at; past
/// [`WARNINGS_SHOWN`] messages only a count, unless `all`.
pub fn print_warnings(warnings: &[Warning], all: bool, colour: bool) {
    let groups = group(warnings);
    let shown = if all {
        groups.len()
    } else {
        groups.len().min(WARNINGS_SHOWN)
    };
    for group in &groups[..shown] {
        let diagnostic = Diagnostic {
            severity: Severity::Warning,
            location: group.first.location.clone(),
            message: group.message.to_string(),
            excerpt: None,
        };
        let others = &group.places[group.places.len().min(1)..];
        let mut extra = String::new();
        if !others.is_empty() {
            let listed = if all {
                others.len()
            } else {
                others.len().min(PLACES_SHOWN)
            };
            let names: Vec<String> = others[..listed].iter().map(ToString::to_string).collect();
            let _ = write!(extra, " (also at {}", names.join(", "));
            if listed < others.len() {
                let _ = write!(extra, " and {} more places", others.len() - listed);
            }
            extra.push(')');
        }
        eprintln!("{}", diagnostic.render(&extra, colour));
    }
    if shown < groups.len() {
        let hidden: usize = groups[shown..]
            .iter()
            .map(|group| group.places.len().max(1))
            .sum();
        eprintln!(
            "note: {hidden} more warning(s) of {} other kind(s); -v shows every one, --format json gives each with its place",
            groups.len() - shown
        );
    }
}

/// A GitHub Actions workflow command: `::warning file=a.css,line=3,col=4::message`.
pub fn workflow_command(severity: Severity, location: Option<&Location>, message: &str) -> String {
    let mut properties = Vec::new();
    if let Some(location) = location {
        properties.push(format!(
            "file={}",
            escape_property(&location.file.to_string_lossy())
        ));
        if location.line > 0 {
            properties.push(format!("line={}", location.line));
        }
        if location.column > 0 {
            properties.push(format!("col={}", location.column));
        }
    }
    properties.push("title=stapler".to_string());
    format!(
        "::{} {}::{}",
        severity.word(),
        properties.join(","),
        escape_data(message)
    )
}

/// Workflow commands for every failure in `error`.
pub fn error_commands(error: &Error) -> Vec<String> {
    diagnostics(error)
        .iter()
        .map(|diagnostic| {
            workflow_command(
                Severity::Error,
                diagnostic.location.as_ref(),
                &diagnostic.message,
            )
        })
        .collect()
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_read_from_the_file_with_the_caret_under_the_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.js");
        std::fs::write(&file, "var a = 1;\n  var = ;\n").expect("write");
        let at = Location::new(&file, 2).with_column(7);
        assert_eq!(
            excerpt(&at).map(|e| e.to_string()).as_deref(),
            Some("  |\n2 |   var = ;\n  |       ^")
        );
        let whole_line = Location::new(&file, 2);
        assert_eq!(
            excerpt(&whole_line).map(|e| e.to_string()).as_deref(),
            Some("  |\n2 |   var = ;\n  |   ^^^^^^^")
        );
        assert!(excerpt(&Location::new(&file, 9)).is_none(), "no such line");
        assert!(excerpt(&Location::new(dir.path().join("gone.js"), 1)).is_none());
    }

    #[test]
    fn colour_marks_the_word_the_gutter_and_the_carets_only() {
        let text = "a.js:2:7: bad\n  |\n2 | var = ;\n  |     ^";
        assert_eq!(
            paint(Severity::Error, text, false),
            format!("error: {text}")
        );
        let painted = paint(Severity::Error, text, true);
        assert!(painted.starts_with("\x1b[1;31merror\x1b[0m: a.js:2:7: bad\n"));
        assert!(painted.contains("\x1b[1;34m2 |\x1b[0m var = ;"));
        assert!(painted.ends_with("\x1b[1;31m     ^\x1b[0m"));
    }

    #[test]
    fn recurring_warnings_are_said_once_with_their_places() {
        let warning =
            |file: &str, line, message: &str| Warning::at(Location::new(file, line), message);
        let warnings = vec![
            warning("a.css", 1, "url(x.png) is missing"),
            warning("b.css", 2, "rel=preload left out"),
            warning("c.css", 3, "url(x.png) is missing"),
            warning("a.css", 1, "url(x.png) is missing"),
        ];
        let groups = group(&warnings);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].message, "url(x.png) is missing");
        assert_eq!(
            groups[0]
                .places
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["a.css:1", "c.css:3"]
        );
    }

    #[test]
    fn workflow_commands_escape_what_github_reads_as_syntax() {
        let at = Location::new("static/a,b.css", 3).with_column(4);
        assert_eq!(
            workflow_command(Severity::Warning, Some(&at), "100% broken\nsee: here"),
            "::warning file=static/a%2Cb.css,line=3,col=4,title=stapler::100%25 broken%0Asee: here"
        );
        assert_eq!(
            workflow_command(Severity::Error, None, "no blocks"),
            "::error title=stapler::no blocks"
        );
    }
}
