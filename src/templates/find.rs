//! Finding templates in the template folders and reading them as Django reads them.

use std::path::{Path, PathBuf};

use crate::config::TemplateSettings;
use crate::error::{Error, Result};

use super::Skipped;

/// A template's name (relative, `/`-separated) and path.
pub(super) type Found = (String, PathBuf);

/// Template names and paths; a name found in two directories is
/// taken from the first, as Django's loader does. A template file that is a symbolic link to a
/// file is read like any other, wherever it points, as Django reads it; a broken link is listed
/// with the skipped templates.
pub(super) fn find_templates(config: &TemplateSettings) -> Result<(Vec<Found>, Vec<Skipped>)> {
    let mut found: Vec<Found> = Vec::new();
    let mut refused = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in &config.template_dirs {
        if !dir.is_dir() {
            return Err(Error::config(
                dir.display(),
                "is listed in `template_dirs` but is not a directory; fix the path (relative paths are relative to the config file)",
            ));
        }
        let mut names = Vec::new();
        for entry in walkdir::WalkDir::new(dir).follow_links(config.follow_links) {
            let entry = entry.map_err(|error| {
                let path = error
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.clone());
                Error::config(
                    path.display(),
                    format!("cannot walk the template directory: {error}"),
                )
            })?;
            let file_name = entry.file_name().to_string_lossy();
            // Only files and links to files: reading a FIFO named `x.html` would never end.
            let file_type = entry.file_type();
            if !(file_type.is_file() || file_type.is_symlink())
                || file_name.starts_with('.')
                || !config
                    .extensions
                    .iter()
                    .any(|ext| file_name.ends_with(ext.as_str()))
            {
                continue;
            }
            if entry.file_type().is_symlink() {
                // Django opens a template that is a link wherever the link points, as
                // django-compressor's offline walk lists it; only links to folders wait for
                // --follow-links.
                match std::fs::metadata(entry.path()) {
                    Ok(target) if target.is_file() => {}
                    Ok(_) => continue,
                    Err(error) => {
                        refused.push(Skipped {
                            template: entry.path().to_path_buf(),
                            reason: format!("a symbolic link that cannot be followed ({error}); Django cannot load it either"),
                        });
                        continue;
                    }
                }
            }
            let Ok(relative) = entry.path().strip_prefix(dir) else {
                continue;
            };
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            names.push((name, entry.path().to_path_buf()));
        }
        names.sort();
        for (name, path) in names {
            if seen.insert(name.clone()) {
                found.push((name, path));
            }
        }
    }
    Ok((found, refused))
}

/// A template's text as Django and Jinja2 read it: UTF-8, with universal newlines (`\r\n` and a
/// lone `\r` become `\n`), since Python opens templates in text mode.
pub(super) fn read_template(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("unreadable template: {error}"))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        let line = error.as_bytes()[..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("not UTF-8 (first bad byte on line {line}); save it as UTF-8")
    })?;
    Ok(universal_newlines(text))
}

fn universal_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_read_with_universal_newlines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.html");
        std::fs::write(&path, "a\r\nb\rc\n\r\n").expect("write");
        assert_eq!(read_template(&path).expect("reads"), "a\nb\nc\n\n");
    }
}
