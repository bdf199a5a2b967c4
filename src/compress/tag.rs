//! Tags: what a built block renders to, element by element, as django-compressor's templates
//! write them. [`Tag::render`] is the one place HTML is written.

use crate::block::Kind;

use super::plan::Loading;
use super::sri::{self, Integrity};

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
                // django-compressor 4.7's order: integrity and crossorigin before async/defer.
                format!("<script{module} src=\"{url}\"{integrity}{loading}></script>")
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
            "<script src=\"/s/a.js\" integrity=\"sha384-abc\" crossorigin=\"anonymous\" defer></script>"
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
