//! Source maps: from positions in a minified bundle back to the files it was made from.
//!
//! Each source's map comes from its minifier (swc for scripts, lightningcss for stylesheets)
//! and is cached with its minified text. A bundle is its parts joined by newlines, so its map
//! is the parts' maps with each one's lines moved down by the lines before it. A source that
//! was compiled by a command which embedded its own map (`sass --embed-source-map`) is mapped
//! through that map on into the files the command read.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use swc_sourcemap::{SourceMap, SourceMapBuilder};

/// No source, or no name, in a [`Token`].
const NONE: u32 = u32::MAX;

/// One mapping, all 0-based: `[line, column, source, source line, source column, name]` with
/// the position in the generated text first. Columns count UTF-16 code units, as browsers do.
pub type Token = [u32; 6];

/// The map of one piece of generated text, as the cache keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartMap {
    pub sources: Vec<String>,
    /// Each source's text, when known.
    pub contents: Vec<Option<String>>,
    pub names: Vec<String>,
    pub tokens: Vec<Token>,
}

impl PartMap {
    /// The map swc or lightningcss produced, its sources renamed to `source` (each part has
    /// one) and given `content`.
    pub fn from_map(map: &SourceMap, source: &str, content: Option<&str>) -> PartMap {
        let names: Vec<String> = map.names().map(|name| name.to_string()).collect();
        let tokens = map
            .tokens()
            .filter(|token| token.has_source())
            .map(|token| {
                let (line, column) = token.get_dst();
                let (source_line, source_column) = token.get_src();
                let name = if token.has_name() {
                    token.get_name_id()
                } else {
                    NONE
                };
                [line, column, 0, source_line, source_column, name]
            })
            .collect();
        PartMap {
            sources: vec![source.to_string()],
            contents: vec![content.map(str::to_string)],
            names,
            tokens,
        }
    }

    /// A map of text that is the source itself, line for line (a file kept as it was written):
    /// the start of each line maps to the start of the same line.
    pub fn lines(text: &str, source: &str, content: Option<&str>) -> PartMap {
        let lines = text.split('\n').count() as u32;
        PartMap {
            sources: vec![source.to_string()],
            contents: vec![content.map(str::to_string)],
            names: Vec::new(),
            tokens: (0..lines).map(|line| [line, 0, 0, line, 0, NONE]).collect(),
        }
    }

    /// A map that knows only which source the text came from: everything maps to its start.
    pub fn whole(source: &str, content: Option<&str>) -> PartMap {
        PartMap {
            sources: vec![source.to_string()],
            contents: vec![content.map(str::to_string)],
            names: Vec::new(),
            tokens: vec![[0, 0, 0, 0, 0, NONE]],
        }
    }

    /// Maps this map's positions on through `earlier`, the map of the text this one's source
    /// was (a precompiler's output, to the files it read). Positions `earlier` does not cover
    /// are dropped rather than guessed.
    pub fn through(self, earlier: &SourceMap) -> PartMap {
        let mut out = PartMap::default();
        let sources: Vec<String> = earlier.sources().map(|s| s.to_string()).collect();
        out.contents = (0..sources.len() as u32)
            .map(|index| earlier.get_source_contents(index).map(|c| c.to_string()))
            .collect();
        out.sources = sources;
        out.names = earlier.names().map(|name| name.to_string()).collect();
        for [line, column, _, source_line, source_column, _] in self.tokens {
            let Some(found) = earlier.lookup_token(source_line, source_column) else {
                continue;
            };
            if !found.has_source() || found.get_dst_line() != source_line {
                continue;
            }
            let name = if found.has_name() {
                found.get_name_id()
            } else {
                NONE
            };
            let (original_line, original_column) = found.get_src();
            out.tokens.push([
                line,
                column,
                found.get_src_id(),
                original_line,
                original_column,
                name,
            ]);
        }
        out
    }
}

/// The map a compiler embedded at the end of its output
/// (`/*# sourceMappingURL=data:application/json;base64,… */`), if any.
pub fn embedded(text: &str) -> Option<SourceMap> {
    let comment = text.trim_end().lines().last()?.trim();
    let url = comment
        .strip_prefix("/*# sourceMappingURL=")
        .and_then(|rest| rest.strip_suffix("*/"))
        .or_else(|| comment.strip_prefix("//# sourceMappingURL="))?
        .trim();
    let (header, data) = url.strip_prefix("data:")?.split_once(',')?;
    if !header.starts_with("application/json") {
        return None;
    }
    let json = if header.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?
    } else {
        percent_encoding::percent_decode_str(data).collect()
    };
    SourceMap::from_slice(&json).ok()
}

/// The lines `text` spans once joined to what follows by a newline.
pub fn line_count(text: &str) -> u32 {
    text.bytes().filter(|byte| *byte == b'\n').count() as u32 + 1
}

/// The map of a bundle made of parts placed one below another: each part with the line it
/// starts at. `sources_content` keeps the sources' text in the map.
pub fn join(parts: &[(u32, &PartMap)], sources_content: bool) -> Vec<u8> {
    let mut builder = SourceMapBuilder::new(None);
    for (first_line, part) in parts {
        let sources: Vec<u32> = part
            .sources
            .iter()
            .zip(&part.contents)
            .map(|(source, content)| {
                let id = builder.add_source(source.clone().into());
                if sources_content && !builder.has_source_contents(id) {
                    builder.set_source_contents(id, content.clone().map(Into::into));
                }
                id
            })
            .collect();
        let names: Vec<u32> = part
            .names
            .iter()
            .map(|name| builder.add_name(name.clone().into()))
            .collect();
        for [line, column, source, source_line, source_column, name] in &part.tokens {
            let Some(source) = sources.get(*source as usize) else {
                continue;
            };
            builder.add_raw(
                first_line + line,
                *column,
                *source_line,
                *source_column,
                Some(*source),
                names.get(*name as usize).copied(),
                false,
            );
        }
    }
    let mut json = Vec::new();
    // Writing to memory does not fail.
    let _ = builder.into_sourcemap().to_writer(&mut json);
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &[u8]) -> SourceMap {
        SourceMap::from_slice(json).expect("a valid map")
    }

    #[test]
    fn parts_are_moved_down_by_the_lines_before_them() {
        let a = PartMap::lines("a();\nb();", "/static/a.js", Some("a();\nb();"));
        let b = PartMap::whole("/static/b.js", None);
        let json = join(&[(0, &a), (line_count("a();\nb();"), &b)], true);
        let map = decode(&json);
        let token = map.lookup_token(1, 2).expect("b()");
        assert_eq!(token.get_source().map(|s| s.as_str()), Some("/static/a.js"));
        assert_eq!(token.get_src_line(), 1);
        let token = map.lookup_token(2, 5).expect("the second part");
        assert_eq!(token.get_source().map(|s| s.as_str()), Some("/static/b.js"));
        assert_eq!(
            map.get_source_contents(0).map(|s| s.as_str()),
            Some("a();\nb();")
        );
        let without = decode(&join(&[(0, &a)], false));
        assert_eq!(without.get_source_contents(0), None);
    }

    #[test]
    fn an_embedded_map_is_followed_to_the_files_it_names() {
        // app.scss line 3 became line 0 of the compiled CSS.
        let mut builder = SourceMapBuilder::new(None);
        builder.add(0, 0, 2, 4, Some("app.scss".into()), None, false);
        let mut json = Vec::new();
        builder
            .into_sourcemap()
            .to_writer(&mut json)
            .expect("write");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&json);
        let compiled =
            format!("a {{\n  color: red;\n}}\n\n/*# sourceMappingURL=data:application/json;base64,{encoded} */\n");
        let earlier = embedded(&compiled).expect("an embedded map");
        let minified = PartMap {
            sources: vec!["/static/app.scss".into()],
            contents: vec![None],
            names: Vec::new(),
            tokens: vec![[0, 0, 0, 0, 0, NONE]],
        };
        let through = minified.through(&earlier);
        assert_eq!(through.sources, vec!["app.scss".to_string()]);
        assert_eq!(through.tokens, vec![[0, 0, 0, 2, 4, NONE]]);
        assert!(embedded("a{}\n/*# sourceMappingURL=app.css.map */").is_none());
    }
}
