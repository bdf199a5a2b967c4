//! The HTML inside a compress block: its `<link>`, `<style>` and `<script>` elements with their
//! attributes, read as Python's `html.parser` reads them (comments hide tags, attribute values
//! have entities decoded, names are lower-cased).

/// One element of a block body.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// `link`, `style` or `script`.
    pub tag: String,
    /// Attributes in source order; a bare attribute has an empty value and `bare` set.
    pub attrs: Vec<Attr>,
    /// The text between the opening and closing tag (`style`, `script`).
    pub text: String,
    /// 0-based line of the element inside the body.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub name: String,
    pub value: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attr| attr.name == name)
            .map(|attr| attr.value.as_str())
    }
}

/// Finds the elements of interest in document order.
pub fn elements(html: &str) -> Vec<Element> {
    let bytes = html.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let start = i + offset;
        if html[start..].starts_with("<!--") {
            i = html[start + 4..]
                .find("-->")
                .map_or(html.len(), |end| start + 4 + end + 3);
            continue;
        }
        let name_start = start + 1;
        let mut name_end = name_start;
        while name_end < bytes.len()
            && (bytes[name_end].is_ascii_alphanumeric() || bytes[name_end] == b'-')
        {
            name_end += 1;
        }
        let tag = html[name_start..name_end].to_ascii_lowercase();
        if !matches!(tag.as_str(), "link" | "style" | "script") {
            i = name_start;
            continue;
        }
        let Some((attrs, open_end)) = attributes(html, name_end) else {
            break;
        };
        let line = html[..start].matches('\n').count();
        let mut text = String::new();
        i = open_end;
        if tag != "link" {
            let close = format!("</{tag}");
            let lower = html[open_end..].to_ascii_lowercase();
            let end = lower.find(&close).map_or(html.len(), |at| open_end + at);
            text = html[open_end..end].to_string();
            i = html[end..].find('>').map_or(html.len(), |at| end + at + 1);
        }
        found.push(Element {
            tag,
            attrs,
            text,
            line,
        });
    }
    found
}

/// Reads attributes from `at` up to the closing `>`; returns them and the index after `>`.
fn attributes(html: &str, mut at: usize) -> Option<(Vec<Attr>, usize)> {
    let bytes = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        if at >= bytes.len() {
            return None;
        }
        if bytes[at] == b'>' {
            return Some((attrs, at + 1));
        }
        let name_start = at;
        while at < bytes.len()
            && !bytes[at].is_ascii_whitespace()
            && !matches!(bytes[at], b'=' | b'>' | b'/')
        {
            at += 1;
        }
        let name = html[name_start..at].to_ascii_lowercase();
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let mut value = String::new();
        if bytes.get(at) == Some(&b'=') {
            at += 1;
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            match bytes.get(at) {
                Some(quote @ (b'"' | b'\'')) => {
                    let end = html[at + 1..]
                        .find(*quote as char)
                        .map(|length| at + 1 + length)?;
                    value = decode_entities(&html[at + 1..end]);
                    at = end + 1;
                }
                Some(_) => {
                    let start = at;
                    while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'>'
                    {
                        at += 1;
                    }
                    value = decode_entities(&html[start..at]);
                }
                None => return None,
            }
        }
        if !name.is_empty() {
            attrs.push(Attr { name, value });
        }
    }
}

/// Decodes character references in an attribute value as Python's `html.unescape` does, with
/// the full table of named references (`&amp;`, `&eacute;`, `&NewLine;`, …) and numeric ones.
fn decode_entities(text: &str) -> String {
    htmlize::unescape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_links_styles_and_scripts_in_order() {
        let html = "\n<LINK rel=\"stylesheet\" href=\"/static/a.css?x=1&amp;y=2\" media=screen>\n<!-- <script src=\"/hidden.js\"></script> -->\n<style>p{}</style><script async src='/static/b.js'></script><script>\nvar a = '<b>';\n</SCRIPT><link rel=icon href=x.ico />";
        let found = elements(html);
        assert_eq!(
            found.iter().map(|e| e.tag.as_str()).collect::<Vec<_>>(),
            vec!["link", "style", "script", "script", "link"]
        );
        assert_eq!(found[0].attr("href"), Some("/static/a.css?x=1&y=2"));
        assert_eq!(found[0].attr("media"), Some("screen"));
        assert_eq!(found[0].line, 1);
        assert_eq!(found[1].text, "p{}");
        assert_eq!(found[2].attr("async"), Some(""));
        assert_eq!(found[3].text, "\nvar a = '<b>';\n");
        assert_eq!(found[4].attr("rel"), Some("icon"));
    }

    #[test]
    fn attribute_values_decode_every_named_reference() {
        let found = elements(
            "<link rel=stylesheet href=\"/static/caf&eacute;.css?a=1&amp;b=2&#x2F;&#47;\" media=\"print&comma;screen\">",
        );
        assert_eq!(found[0].attr("href"), Some("/static/café.css?a=1&b=2//"));
        assert_eq!(found[0].attr("media"), Some("print,screen"));
    }
}
