//! Precompilers: what turns a `<link>`/`<style>`/`<script>` of another `type` into CSS or
//! JavaScript before it is minified. A project's own (`COMPRESS_PRECOMPILERS`, or `precompilers`
//! in stapler.toml) run as django-compressor runs them: a shell command with `{infile}` and
//! `{outfile}` (stdin and stdout when absent), or a Python class, which Django runs through the
//! bridge. SCSS, Sass and TypeScript have compilers built in; a configured precompiler for their
//! type wins over them, unless it says `builtin`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use regex::Regex;

use crate::block::Kind;
use crate::django::Bridge;
use crate::error::{Error, Location, Result};

use super::cache::Cache;

pub use crate::config::{BuiltinCompiler as Builtin, BUILTIN};

/// What compiles a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiler<'a> {
    Builtin(Builtin),
    /// A shell command or a Python class's dotted path, as configured.
    Configured(&'a str),
}

/// The precompilers of a build.
#[derive(Default)]
pub struct Precompilers {
    /// `[mimetype, command or class]`, as configured; the first entry for a type wins.
    pub configured: Vec<(String, String)>,
    /// Types whose precompiled output may be cached by their input's text and the command
    /// (`COMPRESS_CACHEABLE_PRECOMPILERS`): only the project knows that a compiler reads
    /// nothing but its input.
    pub cacheable: Vec<String>,
    /// Django, for precompilers that are Python classes.
    pub bridge: Option<Arc<Bridge>>,
}

/// A source to precompile.
pub struct Input<'a> {
    pub mimetype: &'a str,
    pub kind: Kind,
    pub text: &'a str,
    /// The file, when the source is one: commands read it themselves, as they do under
    /// django-compressor.
    pub file: Option<&'a Path>,
    /// The element's attributes, which Python precompilers are given.
    pub attrs: &'a [(String, String)],
    /// Where messages point.
    pub at: Location,
}

impl Precompilers {
    /// What compiles `mimetype`: a configured precompiler first, then a built-in one.
    pub fn compiler(&self, mimetype: &str, kind: Kind) -> Option<Compiler<'_>> {
        let configured = self
            .configured
            .iter()
            .find(|(configured, _)| configured == mimetype)
            .map(|(_, command)| command.as_str());
        match configured {
            Some(command) if command.trim() != BUILTIN => Some(Compiler::Configured(command)),
            _ => Builtin::for_type(mimetype, kind).map(Compiler::Builtin),
        }
    }

    /// Runs the configured precompiler for `input`'s type; its output is CSS or JavaScript.
    pub fn run(&self, input: &Input<'_>, cache: &Cache) -> Result<String> {
        let Some(Compiler::Configured(command)) = self.compiler(input.mimetype, input.kind) else {
            return Err(Error::input(
                input.at.clone(),
                format!("no precompiler is configured for type `{}`", input.mimetype),
            ));
        };
        let cacheable = self.cacheable.iter().any(|t| t == input.mimetype);
        let key = Cache::key(&[
            b"precompiled",
            command.as_bytes(),
            input.mimetype.as_bytes(),
            input.text.as_bytes(),
        ]);
        if cacheable {
            if let Some(text) = cache.get::<String>(&key, None) {
                return Ok(text);
            }
        }
        let text = if is_python_path(command) {
            self.run_python(command, input)?
        } else {
            run_command(command, input)?
        };
        if cacheable {
            cache.put(&key, &text);
        }
        Ok(text)
    }

    fn run_python(&self, class: &str, input: &Input<'_>) -> Result<String> {
        let Some(bridge) = &self.bridge else {
            return Err(Error::input(
                input.at.clone(),
                format!("the precompiler for `{}` is the Python class {class}, which only Django can run; build inside the Django project (so stapler runs it through Django), or configure a command or `builtin` for this type in `precompilers`", input.mimetype),
            ));
        };
        let kind = match input.kind {
            Kind::Css => "css",
            Kind::Js => "js",
        };
        bridge
            .precompile(kind, &element_html(input))
            .map_err(|error| Error::input(input.at.clone(), error.to_string()))?
            .map_err(|message| {
                Error::input(
                    input.at.clone(),
                    format!("the precompiler {class} failed: {message}"),
                )
            })
    }
}

/// Whether a configured precompiler is a Python class (`django_libsass.SassCompiler`) rather
/// than a command: django-compressor imports the module part and runs the value as a command
/// when that fails, which only names of dotted identifiers can survive.
fn is_python_path(value: &str) -> bool {
    static PYTHON: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    });
    PYTHON.is_match(value.trim())
}

/// The element again, for django-compressor to read as it reads a block.
fn element_html(input: &Input<'_>) -> String {
    let attrs: String = input
        .attrs
        .iter()
        .map(|(name, value)| format!(" {name}=\"{}\"", htmlize::escape_attribute(value)))
        .collect();
    match (input.kind, input.file.is_some()) {
        (Kind::Css, true) => format!("<link{attrs}>"),
        (Kind::Css, false) => format!("<style{attrs}>{}</style>", input.text),
        (Kind::Js, _) if input.file.is_some() => format!("<script{attrs}></script>"),
        (Kind::Js, _) => format!("<script{attrs}>{}</script>", input.text),
    }
}

/// Runs a command as django-compressor's `CompilerFilter` runs it: through the shell, with
/// `{infile}` the source file (or a temporary file holding an inline text), `{outfile}` a
/// temporary file read back afterwards, and stdin and stdout used for whichever is absent.
fn run_command(template: &str, input: &Input<'_>) -> Result<String> {
    let failed = |message: String| {
        Error::input(
            input.at.clone(),
            format!(
                "the precompiler `{template}` for `{}` {message}",
                input.mimetype
            ),
        )
    };
    let suffix = match input.kind {
        Kind::Css => ".css",
        Kind::Js => ".js",
    };
    let mut temporary_in = None;
    let infile = if template.contains("{infile}") {
        Some(match input.file {
            Some(path) => path.display().to_string(),
            None => {
                let mut file = tempfile::NamedTempFile::new()
                    .map_err(|error| failed(format!("cannot be given its input ({error})")))?;
                file.write_all(input.text.as_bytes())
                    .map_err(|error| failed(format!("cannot be given its input ({error})")))?;
                let name = file.path().display().to_string();
                temporary_in = Some(file);
                name
            }
        })
    } else {
        None
    };
    let outfile = if template.contains("{outfile}") {
        Some(
            tempfile::Builder::new()
                .suffix(suffix)
                .tempfile()
                .map_err(|error| failed(format!("cannot be given an output file ({error})")))?,
        )
    } else {
        None
    };
    let filename = input
        .file
        .map_or_else(|| "None".to_string(), |path| path.display().to_string());
    let values = [
        ("infile", infile.as_deref().map(shell_quote)),
        (
            "outfile",
            outfile
                .as_ref()
                .map(|file| shell_quote(&file.path().display().to_string())),
        ),
        ("filename", Some(filename)),
        ("charset", Some("utf-8".to_string())),
        (
            "filter_type",
            Some(
                match input.kind {
                    Kind::Css => "css",
                    Kind::Js => "js",
                }
                .to_string(),
            ),
        ),
    ];
    let command = format_command(template, &values).map_err(failed)?;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| failed(format!("cannot be started ({error})")))?;
    let stdin = child.stdin.take();
    let text = input.text.as_bytes().to_vec();
    let feeding = infile.is_none();
    let writer = std::thread::spawn(move || {
        if let (Some(mut stdin), true) = (stdin, feeding) {
            // A compiler that exits without reading all of it closes the pipe; its exit
            // status says what went wrong.
            let _ = stdin.write_all(&text);
        }
    });
    let output = child
        .wait_with_output()
        .map_err(|error| failed(format!("cannot be waited for ({error})")))?;
    let _ = writer.join();
    drop(temporary_in);
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !output.status.success() {
        let status = output.status.code().map_or_else(
            || "was killed".to_string(),
            |code| format!("exited with {code}"),
        );
        let said = if stderr.is_empty() {
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        } else {
            stderr
        };
        return Err(failed(format!(
            "{status}: {}; fix the source, or the command",
            first_lines(&said, 12)
        )));
    }
    let bytes = match &outfile {
        Some(file) => std::fs::read(file.path())
            .map_err(|error| failed(format!("wrote no output file ({error})")))?,
        None => output.stdout,
    };
    String::from_utf8(bytes).map_err(|_| failed("printed output that is not UTF-8".to_string()))
}

fn first_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= count {
        return text.to_string();
    }
    format!(
        "{}\n… ({} more lines)",
        lines[..count].join("\n"),
        lines.len() - count
    )
}

/// Python's `str.format` for the names django-compressor gives a command: `{name}` is replaced,
/// `{{` and `}}` are braces; anything else is an error, as it is in Python.
fn format_command(
    template: &str,
    values: &[(&str, Option<String>)],
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let rest = &template[at + 1..];
                let Some(end) = rest.find('}') else {
                    return Err("has a `{` that is not closed; write `{{` for a brace".into());
                };
                let name = &rest[..end];
                let value = values
                    .iter()
                    .find(|(known, _)| *known == name)
                    .and_then(|(_, value)| value.clone())
                    .ok_or_else(|| format!("names `{{{name}}}`, which django-compressor does not provide; use {{infile}} and {{outfile}}"))?;
                out.push_str(&value);
                for _ in 0..=end {
                    chars.next();
                }
            }
            '}' => return Err("has a `}` that is not opened; write `}}` for a brace".into()),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Python's `shlex.quote`.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\"'\"'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_formatted_as_python_formats_them() {
        let values = [("infile", Some("in.less".to_string())), ("outfile", None)];
        assert_eq!(
            format_command("lessc {infile} -", &values).as_deref(),
            Ok("lessc in.less -")
        );
        assert_eq!(
            format_command("awk '{{print}}' {infile}", &values).as_deref(),
            Ok("awk '{print}' in.less")
        );
        assert!(format_command("x {outfile}", &values).is_err());
        assert!(format_command("x {nope}", &values).is_err());
        assert!(format_command("x {", &values).is_err());
    }

    #[test]
    fn quoting_matches_shlex() {
        assert_eq!(shell_quote("/a/b.scss"), "/a/b.scss");
        assert_eq!(shell_quote("/a b/c's"), "'/a b/c'\"'\"'s'");
    }

    #[test]
    fn python_classes_are_told_from_commands() {
        assert!(is_python_path("django_libsass.SassCompiler"));
        assert!(is_python_path("compressor.filters.less.LessFilter"));
        assert!(!is_python_path("lessc {infile} {outfile}"));
        assert!(!is_python_path("sass"));
        assert!(!is_python_path("node_modules/.bin/tsc"));
    }

    #[test]
    fn a_configured_precompiler_wins_unless_it_says_builtin() {
        let precompilers = Precompilers {
            configured: vec![
                ("text/x-scss".into(), "sassc {infile} {outfile}".into()),
                ("text/typescript".into(), "builtin".into()),
            ],
            ..Precompilers::default()
        };
        assert_eq!(
            precompilers.compiler("text/x-scss", Kind::Css),
            Some(Compiler::Configured("sassc {infile} {outfile}"))
        );
        assert_eq!(
            precompilers.compiler("text/typescript", Kind::Js),
            Some(Compiler::Builtin(Builtin::TypeScript))
        );
        assert_eq!(
            precompilers.compiler("text/x-sass", Kind::Css),
            Some(Compiler::Builtin(Builtin::Sass))
        );
        assert_eq!(precompilers.compiler("text/coffeescript", Kind::Js), None);
    }
}
