//! Bundles and tags: a block's parts concatenated run by run into outputs named by their
//! content (`CACHE/css/output.3f2a9c1b0d4e.css`), and the tags django-compressor renders for
//! them. [`Tag::render`] is the one place HTML is written.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::block::{Block, Kind, Mode};
use crate::config::SourceMaps;

use super::cache::Cache;
use super::plan::{Group, Loading, Plan, SourceId};
use super::source::Processed;
use super::sourcemap;
use super::sri::{self, Integrity, Sri};

/// One output file of a block, with its text when it has to be written.
#[derive(Debug)]
pub struct Bundle {
    /// Path under `root`, `/`-separated (`CACHE/css/output.3f2a9c1b0d4e.css`).
    pub name: String,
    pub size: u64,
    /// `None` when the cache knows an identical bundle is already on disk under `name`.
    pub content: Option<String>,
    /// What the tag's `integrity` attribute says, when `sri_hashes` asks for one.
    pub integrity: Option<Integrity>,
    /// The bundle's source map (`<name>.map`), with `content`, when maps are made.
    pub map: Option<Vec<u8>>,
    pub map_size: Option<u64>,
}

/// What a block renders to, element by element.
#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    Stylesheet {
        url: String,
        media: String,
        integrity: Option<Integrity>,
    },
    Style {
        media: String,
        text: String,
    },
    Script {
        url: String,
        loading: Loading,
        integrity: Option<Integrity>,
    },
    InlineScript {
        text: String,
        module: bool,
    },
    Preload {
        url: String,
        kind: Kind,
        module: bool,
        integrity: Option<Integrity>,
    },
}

impl Tag {
    /// The HTML django-compressor's templates produce for this output.
    pub fn render(&self) -> String {
        match self {
            Tag::Stylesheet {
                url,
                media,
                integrity,
            } => format!(
                "<link rel=\"stylesheet\" href=\"{url}\" type=\"text/css\"{}{}>",
                media_attribute(media),
                sri::attributes(integrity)
            ),
            Tag::Style { media, text } => format!(
                "<style type=\"text/css\"{}>{}</style>",
                media_attribute(media),
                // `\3c` is `<` to CSS, in strings, urls and identifiers alike.
                escape_end_tag(text, "style", "\\3c/")
            ),
            Tag::Script {
                url,
                loading,
                integrity,
            } => {
                let (module, loading) = match loading {
                    Loading::Blocking => ("", ""),
                    Loading::Async => ("", " async"),
                    Loading::Defer => ("", " defer"),
                    Loading::Module => (" type=\"module\"", ""),
                    Loading::AsyncModule => (" type=\"module\"", " async"),
                };
                let integrity = sri::attributes(integrity);
                format!("<script{module} src=\"{url}\"{loading}{integrity}></script>")
            }
            Tag::InlineScript { text, module } => format!(
                "<script{}>{}</script>",
                if *module { " type=\"module\"" } else { "" },
                // `<\/` means `</` in JavaScript strings, templates and regular expressions.
                escape_end_tag(text, "script", "<\\/")
            ),
            Tag::Preload {
                url,
                module: true,
                integrity,
                ..
            } => format!(
                "<link rel=\"modulepreload\" href=\"{url}\"{} />",
                sri::attributes(integrity)
            ),
            Tag::Preload {
                url,
                kind,
                integrity,
                ..
            } => {
                let what = match kind {
                    Kind::Css => "style",
                    Kind::Js => "script",
                };
                format!(
                    "<link rel=\"preload\" href=\"{url}\" as=\"{what}\"{} />",
                    sri::attributes(integrity)
                )
            }
        }
    }
}

/// A distinct block, built: its key and the tags it renders to.
#[derive(Debug, Clone)]
pub struct BuiltBlock {
    pub key: String,
    pub kind: Kind,
    pub tags: Vec<Tag>,
}

impl BuiltBlock {
    /// The block's HTML: CSS tags joined with nothing between them, JS tags by newlines.
    pub fn html(&self) -> String {
        let separator = match self.kind {
            Kind::Css => "",
            Kind::Js => "\n",
        };
        self.tags
            .iter()
            .map(Tag::render)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

/// What naming bundles needs.
pub struct Naming<'a> {
    /// `url`, the prefix of every output's URL.
    pub url: &'a str,
    /// The folder under `root` bundles go to.
    pub output_dir: &'a str,
    pub cache: &'a Cache,
    /// Whether an existing output may be trusted (false with `--force`).
    pub reuse: bool,
    /// Whether a file of `name` and `size` is already under `root`.
    pub on_disk: &'a (dyn Fn(&str, u64) -> bool + Sync),
    /// Which `integrity` attributes tags get.
    pub sri: &'a Sri,
    /// Whether bundles get maps, and a comment pointing at them.
    pub maps: SourceMaps,
    /// Whether maps carry their sources' text.
    pub sources_content: bool,
}

/// What the cache knows about a bundle: the name its content was given, and its integrity.
#[derive(Serialize, Deserialize)]
struct KnownBundle {
    name: String,
    size: u64,
    #[serde(default)]
    integrity: Option<Integrity>,
    #[serde(default)]
    map_size: Option<u64>,
}

/// What building one block gave.
pub struct Built {
    pub block: BuiltBlock,
    pub bundles: Vec<Bundle>,
    /// Where stapler departed from django-compressor's output for this block, and why.
    pub warning: Option<crate::error::Warning>,
}

/// Concatenates a block's parts run by run and names each run's output.
///
/// A run is what django-compressor puts in one file: consecutive parts of the same group. A
/// script run also ends where a part's strictness differs from the run's first part: a
/// `"use strict"` directive counts only at the start of a script, so concatenating would make
/// a sloppy file strict (a SyntaxError or ReferenceError in the browser) or a strict one sloppy.
pub fn build_block(
    plan: &Plan<'_>,
    texts: &HashMap<&SourceId, Processed>,
    naming: &Naming<'_>,
) -> Built {
    let block = plan.block;
    let mut runs: Vec<(&Group, Vec<&Processed>)> = Vec::new();
    let mut strictness_splits = Vec::new();
    for part in &plan.parts {
        let Some(done) = texts.get(&part.source) else {
            continue;
        };
        let module = matches!(part.group, Group::Script(loading) if loading.is_module());
        match runs.last_mut() {
            // Each module is a scope of its own: modules are never concatenated.
            _ if module => runs.push((&part.group, vec![done])),
            Some((group, parts)) if **group == part.group && parts[0].strict == done.strict => {
                parts.push(done)
            }
            Some((group, parts)) if **group == part.group => {
                strictness_splits.push((
                    parts[0].label.clone(),
                    done.label.clone(),
                    parts[0].strict,
                ));
                runs.push((&part.group, vec![done]))
            }
            _ => runs.push((&part.group, vec![done])),
        }
    }
    let warning = strictness_warning(block, &strictness_splits);
    let mut tags = Vec::new();
    let mut bundles = Vec::new();
    for (group, parts) in runs {
        let concatenate = || concatenate(block.kind, &parts);
        let with_map = || {
            let text = concatenate();
            let map = (naming.maps != SourceMaps::None)
                .then(|| join_maps(&parts, naming.sources_content));
            (text, map)
        };
        let media = match group {
            Group::Media(media) => media.clone(),
            Group::Script(_) => String::new(),
        };
        let module = matches!(group, Group::Script(loading) if loading.is_module());
        let tag = match (block.mode, block.kind) {
            (Mode::Inline, Kind::Css) => Tag::Style {
                media,
                text: concatenate(),
            },
            (Mode::Inline, Kind::Js) => Tag::InlineScript {
                text: concatenate(),
                module,
            },
            (Mode::File | Mode::Preload, _) => {
                let bundle = name_bundle(block, &parts, naming, with_map);
                let url = format!("{}{}", naming.url, bundle.name);
                let integrity = bundle.integrity.clone();
                bundles.push(bundle);
                match (block.mode, group) {
                    (Mode::Preload, _) => Tag::Preload {
                        url,
                        kind: block.kind,
                        module,
                        integrity,
                    },
                    (_, Group::Script(loading)) => Tag::Script {
                        url,
                        loading: *loading,
                        integrity,
                    },
                    (_, Group::Media(_)) => Tag::Stylesheet {
                        url,
                        media,
                        integrity,
                    },
                }
            }
        };
        tags.push(tag);
    }
    Built {
        block: BuiltBlock {
            key: block.key.clone(),
            kind: block.kind,
            tags,
        },
        bundles,
        warning,
    }
}

/// Says where a block was split to keep each script's mode: (first of the run, the part that
/// differs, whether the first is strict).
fn strictness_warning(
    block: &Block,
    splits: &[(std::path::PathBuf, std::path::PathBuf, bool)],
) -> Option<crate::error::Warning> {
    if splits.is_empty() {
        return None;
    }
    let mode = |strict: bool| if strict { "strict" } else { "not strict" };
    let pairs: Vec<String> = splits
        .iter()
        .map(|(first, next, strict)| {
            format!(
                "{} ({}) and {} ({})",
                first.display(),
                mode(*strict),
                next.display(),
                mode(!*strict)
            )
        })
        .collect();
    Some(crate::error::Warning::at(
        block.location.clone(),
        format!(
            "split into separate scripts so each keeps its \"use strict\" mode, where django-compressor would concatenate them and change one's mode: {}",
            pairs.join("; ")
        ),
    ))
}

/// CSS parts joined by newlines; each JS part ended with `;`, then joined by newlines.
fn concatenate(kind: Kind, parts: &[&Processed]) -> String {
    match kind {
        Kind::Css => parts
            .iter()
            .map(|done| done.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Kind::Js => parts
            .iter()
            .map(|done| format!("{};", done.text))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The map of parts joined as [`concatenate`] joins them: one below another, each moved down
/// by the lines of those before it (a script's `;` stays on its last line).
fn join_maps(parts: &[&Processed], sources_content: bool) -> Vec<u8> {
    let mut placed = Vec::new();
    let mut line = 0;
    for done in parts {
        if let Some(map) = &done.map {
            placed.push((line, map));
        }
        line += sourcemap::line_count(&done.text);
    }
    sourcemap::join(&placed, sources_content)
}

/// The comment that tells a browser where a bundle's map is, relative to the bundle.
fn map_comment(kind: Kind, name: &str) -> String {
    let file = name.rsplit('/').next().unwrap_or(name);
    match kind {
        Kind::Css => format!("\n/*# sourceMappingURL={file}.map */"),
        Kind::Js => format!("\n//# sourceMappingURL={file}.map"),
    }
}

/// The base of a bundle's file name: the block's name without folder and extension, or `output`.
fn base_name(block: &Block) -> String {
    block
        .name
        .as_deref()
        .map(|name| {
            let file = name.rsplit('/').next().unwrap_or(name);
            file.rsplit_once('.')
                .map_or(file, |(stem, _)| stem)
                .to_string()
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "output".to_string())
}

/// The bundle for one run of parts: named by the sha256 of its content (and of its map, so a
/// map's name changes whenever it does), which is only built when the cache does not already
/// know an identical bundle that is still on disk.
fn name_bundle(
    block: &Block,
    parts: &[&Processed],
    naming: &Naming<'_>,
    build: impl FnOnce() -> (String, Option<Vec<u8>>),
) -> Bundle {
    let base = base_name(block);
    let kind = block.kind.as_str();
    let mut key_parts: Vec<&[u8]> = vec![
        b"bundle",
        kind.as_bytes(),
        base.as_bytes(),
        naming.output_dir.as_bytes(),
    ];
    key_parts.extend(parts.iter().map(|done| done.digest.as_slice()));
    let sri_setting = naming.sri.describe();
    if naming.sri.is_on() {
        key_parts.push(sri_setting.as_bytes());
    }
    let maps_setting = format!("{:?} {}", naming.maps, naming.sources_content);
    if naming.maps != SourceMaps::None {
        key_parts.push(maps_setting.as_bytes());
    }
    let key = Cache::key(&key_parts);
    let known: Option<KnownBundle> = if naming.reuse {
        naming.cache.get(&key, None)
    } else {
        None
    };
    if let Some(known) = &known {
        let map_there = known
            .map_size
            .is_none_or(|size| (naming.on_disk)(&format!("{}.map", known.name), size));
        if map_there && (naming.on_disk)(&known.name, known.size) {
            return Bundle {
                name: known.name.clone(),
                size: known.size,
                content: None,
                integrity: known.integrity.clone(),
                map: None,
                map_size: known.map_size,
            };
        }
    }
    let (mut content, map) = build();
    let comment = |name: &str| match naming.maps {
        SourceMaps::Linked => map_comment(block.kind, name),
        SourceMaps::None | SourceMaps::Hidden => String::new(),
    };
    let map_size = map.as_ref().map(|map| map.len() as u64);
    // The parts' digests determine the content, so a verified cache entry also gives its name:
    // no need to hash the whole bundle again.
    let known = known.filter(|known| {
        known.size == (content.len() + comment(&known.name).len()) as u64
            && known.map_size == map_size
    });
    if let Some(known) = known {
        content.push_str(&comment(&known.name));
        return Bundle {
            name: known.name,
            size: content.len() as u64,
            content: Some(content),
            integrity: known.integrity,
            map,
            map_size,
        };
    }
    let mut hasher = Sha256::new();
    hasher.update(content.as_bytes());
    if let Some(map) = &map {
        hasher.update(map);
    }
    let hash = hex::encode(hasher.finalize());
    let name = format!("{}/{kind}/{base}.{}.{kind}", naming.output_dir, &hash[..12]);
    content.push_str(&comment(&name));
    let size = content.len() as u64;
    let integrity = sri::integrity(naming.sri, content.as_bytes());
    // Only meaningful beside this machine's outputs: never shared.
    naming.cache.put_local(
        &key,
        &KnownBundle {
            name: name.clone(),
            size,
            integrity: integrity.clone(),
            map_size,
        },
    );
    Bundle {
        name,
        size,
        content: Some(content),
        integrity,
        map,
        map_size,
    }
}

/// Text to put inside `<style>` or `<script>` with every `</name` (any case) spelled
/// `replacement` + `name`, so the minified text can never end its element early: a minifier
/// may turn an escape such as CSS's `\3c/style>` back into the characters it stands for.
fn escape_end_tag(text: &str, name: &str, replacement: &str) -> String {
    let closing = format!("</{name}");
    let lower = text.to_ascii_lowercase();
    if !lower.contains(&closing) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut copied = 0;
    for (at, _) in lower.match_indices(&closing) {
        out.push_str(&text[copied..at]);
        out.push_str(replacement);
        out.push_str(&text[at + 2..at + closing.len()]);
        copied = at + closing.len();
    }
    out.push_str(&text[copied..]);
    out
}

fn media_attribute(media: &str) -> String {
    if media.is_empty() {
        String::new()
    } else {
        format!(" media=\"{}\"", escape_html(media))
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_render_as_django_compressor_writes_them() {
        let cases = [
            (
                Tag::Stylesheet {
                    url: "/s/a.css".into(),
                    media: "screen and (x<1)".into(),
                    integrity: None,
                },
                "<link rel=\"stylesheet\" href=\"/s/a.css\" type=\"text/css\" media=\"screen and (x&lt;1)\">",
            ),
            (
                Tag::Style {
                    media: String::new(),
                    text: "a{}".into(),
                },
                "<style type=\"text/css\">a{}</style>",
            ),
            (
                Tag::Script {
                    url: "/s/a.js".into(),
                    loading: Loading::Defer,
                    integrity: None,
                },
                "<script src=\"/s/a.js\" defer></script>",
            ),
            (
                Tag::InlineScript {
                    text: "a();".into(),
                    module: false,
                },
                "<script>a();</script>",
            ),
            (
                Tag::Preload {
                    url: "/s/a.js".into(),
                    kind: Kind::Js,
                    module: false,
                    integrity: None,
                },
                "<link rel=\"preload\" href=\"/s/a.js\" as=\"script\" />",
            ),
            (
                Tag::Preload {
                    url: "/s/m.js".into(),
                    kind: Kind::Js,
                    module: true,
                    integrity: None,
                },
                "<link rel=\"modulepreload\" href=\"/s/m.js\" />",
            ),
            (
                Tag::Script {
                    url: "/s/m.js".into(),
                    loading: Loading::AsyncModule,
                    integrity: None,
                },
                "<script type=\"module\" src=\"/s/m.js\" async></script>",
            ),
            (
                Tag::InlineScript {
                    text: "import \"/s/m.js\"".into(),
                    module: true,
                },
                "<script type=\"module\">import \"/s/m.js\"</script>",
            ),
        ];
        for (tag, html) in cases {
            assert_eq!(tag.render(), html);
        }
    }

    #[test]
    fn integrity_follows_the_url_attribute() {
        let integrity = Some(Integrity {
            value: "sha384-abc".into(),
            crossorigin: Some("anonymous".into()),
        });
        let script = Tag::Script {
            url: "/s/a.js".into(),
            loading: Loading::Defer,
            integrity: integrity.clone(),
        };
        assert_eq!(
            script.render(),
            "<script src=\"/s/a.js\" defer integrity=\"sha384-abc\" crossorigin=\"anonymous\"></script>"
        );
        let link = Tag::Stylesheet {
            url: "/s/a.css".into(),
            media: "print".into(),
            integrity: integrity.clone(),
        };
        assert_eq!(
            link.render(),
            "<link rel=\"stylesheet\" href=\"/s/a.css\" type=\"text/css\" media=\"print\" integrity=\"sha384-abc\" crossorigin=\"anonymous\">"
        );
        let preload = Tag::Preload {
            url: "/s/a.css".into(),
            kind: Kind::Css,
            module: false,
            integrity,
        };
        assert_eq!(
            preload.render(),
            "<link rel=\"preload\" href=\"/s/a.css\" as=\"style\" integrity=\"sha384-abc\" crossorigin=\"anonymous\" />"
        );
    }

    #[test]
    fn inline_text_never_ends_its_element_early() {
        let style = Tag::Style {
            media: String::new(),
            text: "p:after{content:\"</STYLE><script>x()</script>\"}".into(),
        };
        assert_eq!(
            style.render(),
            "<style type=\"text/css\">p:after{content:\"\\3c/STYLE><script>x()</script>\"}</style>"
        );
        let script = Tag::InlineScript {
            text: "document.write(\"</script><b>\")".into(),
            module: false,
        };
        assert_eq!(
            script.render(),
            "<script>document.write(\"<\\/script><b>\")</script>"
        );
    }

    #[test]
    fn js_tags_are_joined_by_newlines_css_tags_by_nothing() {
        let script = |url: &str| Tag::Script {
            url: url.into(),
            loading: Loading::Blocking,
            integrity: None,
        };
        let block = BuiltBlock {
            key: String::new(),
            kind: Kind::Js,
            tags: vec![script("/a.js"), script("/b.js")],
        };
        assert_eq!(
            block.html(),
            "<script src=\"/a.js\"></script>\n<script src=\"/b.js\"></script>"
        );
    }
}
