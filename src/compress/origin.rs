//! Where a source's text is written: its file, or a `<style>`/`<script>` element's place in a
//! template, and the places inside it that messages name.

use std::path::PathBuf;

use crate::block::Kind;
use crate::error::Location;

/// Where a source's text is written, for messages.
#[derive(Debug, Clone)]
pub enum Origin {
    File(PathBuf),
    /// The text of a `<style>` or `<script>` element that starts at this place in a template.
    Inline(Location),
}

impl Origin {
    /// The place of `line` (1-based) of the source's text.
    pub(super) fn at(&self, line: usize) -> Location {
        match self {
            Origin::File(path) => Location::new(path, line),
            Origin::Inline(start) => Location::new(&start.file, start.line + line.max(1) - 1),
        }
    }

    /// The place of `line` and `column` (1-based) of the source's text. An inline text's first
    /// line starts after its tag, where columns are not the template's: that one is left out.
    pub(super) fn at_column(&self, line: usize, column: usize) -> Location {
        let location = self.at(line);
        match self {
            Origin::Inline(_) if line <= 1 => location,
            _ => location.with_column(column),
        }
    }

    /// How messages name the source: its path, or `inline <style>/<script> at t.html:3`.
    pub fn label(&self, kind: Kind) -> PathBuf {
        match self {
            Origin::File(path) => path.clone(),
            Origin::Inline(start) => {
                let element = match kind {
                    Kind::Css => "<style>",
                    Kind::Js => "<script>",
                };
                PathBuf::from(format!("inline {element} at {start}"))
            }
        }
    }
}
