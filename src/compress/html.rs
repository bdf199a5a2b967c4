//! The HTML inside a compress block: its `<link>`, `<style>` and `<script>` elements with their
//! attributes, found exactly as django-compressor's default parser finds them. That parser is
//! Python's `html.parser` (CPython 3.10–3.13 as released up to 2025) with handlers that collect
//! those three tags; so this reader follows `html.parser`'s rules, not a browser's:
//!
//! - `<script src="…" />` is a whole element (a browser would read the rest as its body);
//! - `<script>` and `<style>` hold raw text up to `</script\s*>` (any case); one left open
//!   keeps everything after it and gets no text;
//! - comments (`<!-- … -->`, conditional ones included) hide what they hold, up to `--\s*>`; an
//!   unclosed one is text only up to the next `>`;
//! - attribute names are lower-cased, values have character references decoded, a name given
//!   twice takes its last value, and an attribute without `=` has no value at all;
//! - a start tag whose end does not read as `>` or `/>` is text, not an element;
//! - a second `&#` that is no character reference, with a `;` somewhere after it, ends the
//!   parse: the rest is text.

/// One element of a block body.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// `link`, `style` or `script`.
    pub tag: String,
    /// Attributes in source order, names lower-cased.
    pub attrs: Vec<Attr>,
    /// The raw text between the opening and closing tag (`style`, `script`).
    pub text: String,
    /// 0-based line of the element inside the body.
    pub line: usize,
    /// 1-based column of the element's `<` on its line, in characters.
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub name: String,
    /// `None` for an attribute written without `=` (`async`).
    pub value: Option<String>,
}

impl Element {
    /// The attribute's value as Python's `dict(attrs)` has it: the last one of that name; an
    /// attribute without a value reads as empty.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .rev()
            .find(|attr| attr.name == name)
            .map(|attr| attr.value.as_deref().unwrap_or(""))
    }

    /// Whether the attribute is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.attrs.iter().any(|attr| attr.name == name)
    }
}

/// Why django-compressor's parser would stop on a block (and so the peer fails on it too).
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// 0-based line inside the body.
    pub line: usize,
    pub message: String,
}

/// Finds the elements of interest in document order.
pub fn elements(html: &str) -> Result<Vec<Element>, Unreadable> {
    let mut parser = Parser {
        html,
        found: Vec::new(),
        cdata: None,
        current: None,
    };
    // `feed` then `close`: the first pass stops where input might continue; the second
    // finishes with what there is.
    let stopped = parser.go_ahead(0, false)?;
    if stopped < html.len() {
        parser.go_ahead(stopped, true)?;
    }
    Ok(parser.found)
}

struct Parser<'h> {
    html: &'h str,
    found: Vec<Element>,
    /// The raw-text element (`script` or `style`) being read, if any.
    cdata: Option<&'static str>,
    /// The element whose text the next data is (django-compressor's `_current_tag`).
    current: Option<&'static str>,
}

impl Parser<'_> {
    /// Python's `goahead`: reads from `at` and returns where it stopped.
    fn go_ahead(&mut self, mut at: usize, end: bool) -> Result<usize, Unreadable> {
        let html = self.html;
        let n = html.len();
        while at < n {
            let next = match self.cdata {
                Some(tag) => match find_close_tag(html, at, tag) {
                    Some(found) => found,
                    None => return Ok(at),
                },
                None => html[at..].find(['<', '&']).map_or(n, |found| at + found),
            };
            if at < next {
                self.data(&html[at..next]);
            }
            at = next;
            if at == n {
                break;
            }
            let rest = &html[at..];
            if let Some(after_lt) = rest.strip_prefix('<') {
                let parsed = if after_lt.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    self.start_tag(at)
                } else if rest.starts_with("</") {
                    self.end_tag(at)
                } else if rest.starts_with("<!--") {
                    comment_end(html, at)
                } else if rest.starts_with("<?") {
                    html[at + 2..].find('>').map(|gt| at + 2 + gt + 1)
                } else if rest.starts_with("<!") {
                    self.declaration(at)?
                } else if at + 1 < n {
                    Some(at + 1)
                } else {
                    return Ok(at);
                };
                at = match parsed {
                    Some(after) => after,
                    None if !end => return Ok(at),
                    None => match html[at + 1..].find('>') {
                        Some(gt) => at + 1 + gt + 1,
                        None => html[at + 1..].find('<').map_or(at + 1, |lt| at + 1 + lt),
                    },
                };
            } else if rest.starts_with("&#") {
                match char_reference_end(html, at) {
                    Some(after) => at = after,
                    None => {
                        if html[at..].contains(';') {
                            at += 2;
                        }
                        return Ok(at);
                    }
                }
            } else {
                // `&`: a named reference, or a lone ampersand; neither holds a tag.
                at += 1;
            }
        }
        Ok(at)
    }

    fn data(&mut self, text: &str) {
        if let Some(current) = self.current {
            if let Some(element) = self.found.iter_mut().rev().find(|e| e.tag == current) {
                element.text = text.to_string();
            }
        }
    }

    /// Python's `parse_starttag`; `None` when the tag is not finished.
    fn start_tag(&mut self, at: usize) -> Option<usize> {
        let html = self.html;
        let end = whole_start_tag_end(html, at)?;
        let name_end = tag_name_end(html, at + 1);
        let tag = html[at + 1..name_end].to_ascii_lowercase();
        let mut k = skip_attr_gap(html, name_end);
        let mut attrs = Vec::new();
        while k < end {
            let Some(attr) = attribute(html, k) else {
                break;
            };
            attrs.push(Attr {
                name: attr.name.to_lowercase(),
                value: attr.value.map(|value| {
                    let unquoted = unquote(value);
                    match unquoted.is_empty() {
                        true => String::new(),
                        false => htmlize::unescape(unquoted).into_owned(),
                    }
                }),
            });
            k = attr.end;
        }
        let closing = html.get(k..end).map(py_strip).unwrap_or("");
        if closing != ">" && closing != "/>" {
            return Some(end);
        }
        let self_closing = closing.ends_with("/>");
        let known: Option<&'static str> = match tag.as_str() {
            "script" => Some("script"),
            "style" => Some("style"),
            "link" => Some("link"),
            _ => None,
        };
        if let Some(known) = known {
            let (line, column) = position(html, at);
            self.found.push(Element {
                tag: known.to_string(),
                attrs,
                text: String::new(),
                line,
                column,
            });
            if known != "link" {
                self.current = Some(known);
            }
        }
        if self_closing {
            self.end_of(&tag);
        } else if let Some(raw @ ("script" | "style")) = known {
            self.cdata = Some(raw);
        }
        Some(end)
    }

    fn end_of(&mut self, tag: &str) {
        if self.current.is_some_and(|current| current == tag) {
            self.current = None;
        }
    }

    /// Python's `parse_endtag`.
    fn end_tag(&mut self, at: usize) -> Option<usize> {
        let html = self.html;
        let gt = at + 1 + html[at + 1..].find('>')? + 1;
        match end_tag_name(html, at) {
            Some(name) => {
                let name = name.to_ascii_lowercase();
                if let Some(cdata) = self.cdata {
                    if name != cdata {
                        return Some(gt);
                    }
                }
                self.end_of(&name);
                self.cdata = None;
                Some(gt)
            }
            None if self.cdata.is_some() => Some(gt),
            None => {
                let after = at + 2;
                if !html[after..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                    if html[at..].starts_with("</>") {
                        return Some(at + 3);
                    }
                    return html[after..].find('>').map(|gt| after + gt + 1);
                }
                let name_end = tag_name_end(html, after);
                let name = html[after..name_end].to_lowercase();
                let resume = skip_attr_gap(html, name_end);
                self.end_of(&name);
                Some(html[resume..].find('>').map_or(0, |gt| resume + gt + 1))
            }
        }
    }

    /// `<!…`: a doctype, a marked section, or a bogus comment.
    fn declaration(&mut self, at: usize) -> Result<Option<usize>, Unreadable> {
        let html = self.html;
        if html[at..].starts_with("<![") {
            let name_start = at + 3;
            let name_end = html[name_start..]
                .char_indices()
                .find(|&(index, c)| {
                    if index == 0 {
                        !c.is_ascii_alphabetic()
                    } else {
                        !(c.is_ascii_alphanumeric() || "-_.".contains(c))
                    }
                })
                .map_or(html.len(), |(index, _)| name_start + index);
            if name_end == name_start {
                if name_start == html.len() {
                    return Ok(None);
                }
                return Err(self.unreadable(at, "a `<![` not followed by a name"));
            }
            let after_name = skip_py_space(html, name_end);
            if after_name == html.len() {
                return Ok(None);
            }
            let name = html[name_start..name_end].to_ascii_lowercase();
            let close = match name.as_str() {
                "temp" | "cdata" | "ignore" | "include" | "rcdata" => {
                    find_marked_close(html, name_start, 2)
                }
                "if" | "else" | "endif" => find_marked_close(html, name_start, 1),
                _ => {
                    return Err(self.unreadable(
                        at,
                        &format!("`<![{name}` is no marked section Python's html.parser knows"),
                    ))
                }
            };
            return Ok(close);
        }
        if html[at..]
            .get(..9)
            .is_some_and(|head| head.eq_ignore_ascii_case("<!doctype"))
        {
            return Ok(html[at + 9..].find('>').map(|gt| at + 9 + gt + 1));
        }
        Ok(html[at + 2..].find('>').map(|gt| at + 2 + gt + 1))
    }

    fn unreadable(&self, at: usize, what: &str) -> Unreadable {
        Unreadable {
            line: position(self.html, at).0,
            message: format!("{what}: django-compressor's HTML parser stops on it"),
        }
    }
}

/// Python's `str.isspace`, which is what `\s` matches in its regular expressions.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(text: &str) -> &str {
    text.trim_matches(is_py_space)
}

fn skip_py_space(html: &str, mut at: usize) -> usize {
    while let Some(c) = html[at..].chars().next().filter(|c| is_py_space(*c)) {
        at += c.len_utf8();
    }
    at
}

/// 0-based line and 1-based column (in characters) of a byte offset.
fn position(html: &str, at: usize) -> (usize, usize) {
    let before = &html[..at];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The end of a tag name that starts at `at` (a letter): `[^\t\n\r\f />\x00]*`.
fn tag_name_end(html: &str, at: usize) -> usize {
    html[at..]
        .find(['\t', '\n', '\r', '\x0c', ' ', '/', '>', '\0'])
        .map_or(html.len(), |end| at + end)
}

/// `(?:\s|/(?!>))*` from `at`.
fn skip_attr_gap(html: &str, mut at: usize) -> usize {
    loop {
        let rest = &html[at..];
        match rest.chars().next() {
            Some(c) if is_py_space(c) => at += c.len_utf8(),
            Some('/') if !rest[1..].starts_with('>') => at += 1,
            _ => return at,
        }
    }
}

struct Attribute<'h> {
    name: &'h str,
    /// The value as written, quotes included; `None` without `=`.
    value: Option<&'h str>,
    end: usize,
}

/// One attribute at `at` as `attrfind_tolerant` reads it, with the gap after it.
fn attribute(html: &str, at: usize) -> Option<Attribute<'_>> {
    let previous = html[..at].chars().next_back()?;
    if !(previous == '\'' || previous == '"' || previous == '/' || is_py_space(previous)) {
        return None;
    }
    let first = html[at..].chars().next()?;
    if is_py_space(first) || first == '/' || first == '>' {
        return None;
    }
    let mut name_end = at + first.len_utf8();
    while let Some(c) = html[name_end..].chars().next() {
        if is_py_space(c) || "/=>".contains(c) {
            break;
        }
        name_end += c.len_utf8();
    }
    let (value, after) = match attribute_value(html, name_end) {
        Some((value, after)) => (Some(value), after),
        None => (None, name_end),
    };
    Some(Attribute {
        name: &html[at..name_end],
        value,
        end: skip_attr_gap(html, after),
    })
}

/// `\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*)` at `at`: the value and where it ends. A quote
/// that is never closed makes Python's regular expression backtrack: into the spaces before
/// it (an empty value), else into the `=`s (a value that starts with the last `=`).
fn attribute_value(html: &str, at: usize) -> Option<(&str, usize)> {
    let k = skip_py_space(html, at);
    if !html[k..].starts_with('=') {
        return None;
    }
    let equals_start = k;
    let mut k = k;
    while html[k..].starts_with('=') {
        k += 1;
    }
    let equals_end = k;
    k = skip_py_space(html, k);
    let bare = |from: usize| {
        let rest = &html[from..];
        let length = rest
            .char_indices()
            .find(|&(_, c)| c == '>' || is_py_space(c))
            .map_or(rest.len(), |(index, _)| index);
        (&rest[..length], from + length)
    };
    let rest = &html[k..];
    match rest.chars().next() {
        Some(quote @ ('\'' | '"')) => match rest[1..].find(quote) {
            Some(close) => Some((&rest[..close + 2], k + close + 2)),
            None if k > equals_end => Some((&html[k..k], k)),
            None if equals_end - equals_start >= 2 => Some(bare(equals_end - 1)),
            None => None,
        },
        _ => Some(bare(k)),
    }
}

fn unquote(value: &str) -> &str {
    for quote in ['\'', '"'] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// Python's `check_for_whole_start_tag`: where the start tag at `at` ends, `None` when it is
/// not finished.
fn whole_start_tag_end(html: &str, at: usize) -> Option<usize> {
    // locatestarttagend_tolerant: the name, then attributes with the gaps between them.
    let mut j = tag_name_end(html, at + 1);
    while let Some(c) = html[j..].chars().next() {
        if is_py_space(c) || c == '/' {
            j += c.len_utf8();
        } else {
            break;
        }
    }
    while let Some(attr) = attribute(html, j) {
        j = attr.end;
    }
    j = skip_py_space(html, j);
    let next = html[j..].chars().next();
    match next {
        Some('>') => Some(j + 1),
        Some('/') => html[j..].starts_with("/>").then_some(j + 2),
        None => None,
        Some(c) if c.is_ascii_alphabetic() || c == '=' => None,
        Some(_) if j > at => Some(j),
        Some(_) => Some(at + 1),
    }
}

/// `--\s*>` after `<!--`: where the comment ends.
fn comment_end(html: &str, at: usize) -> Option<usize> {
    let mut from = at + 4;
    while let Some(dashes) = html[from..].find("--") {
        let after = skip_py_space(html, from + dashes + 2);
        if html[after..].starts_with('>') {
            return Some(after + 1);
        }
        from += dashes + 1;
    }
    None
}

/// `]\s*]\s*>` (`brackets` = 2) or `]\s*>` (1) after `from`: where a marked section ends.
fn find_marked_close(html: &str, from: usize, brackets: usize) -> Option<usize> {
    let mut start = from;
    while let Some(open) = html[start..].find(']') {
        let mut k = start + open + 1;
        let mut needed = brackets - 1;
        loop {
            k = skip_py_space(html, k);
            if needed == 0 {
                break;
            }
            if !html[k..].starts_with(']') {
                break;
            }
            k += 1;
            needed -= 1;
        }
        if needed == 0 && html[k..].starts_with('>') {
            return Some(k + 1);
        }
        start += open + 1;
    }
    None
}

/// `</\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>` at `at`: the name when the whole end tag reads so.
fn end_tag_name(html: &str, at: usize) -> Option<&str> {
    let start = skip_py_space(html, at + 2);
    if !html[start..].starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let end = html[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-.:_".contains(c)))
        .map_or(html.len(), |length| start + length);
    let after = skip_py_space(html, end);
    html[after..].starts_with('>').then(|| &html[start..end])
}

/// The first `</tag\s*>` (any case) at or after `from`, as raw text ends.
fn find_close_tag(html: &str, from: usize, tag: &str) -> Option<usize> {
    let mut start = from;
    while let Some(found) = html[start..].find("</") {
        let open = start + found;
        let name = skip_py_space(html, open + 2);
        if html
            .get(name..name + tag.len())
            .is_some_and(|word| word.eq_ignore_ascii_case(tag))
        {
            let after = skip_py_space(html, name + tag.len());
            if html[after..].starts_with('>') {
                return Some(open);
            }
        }
        start = open + 2;
    }
    None
}

/// `&#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]` at `at`: where the reference ends (after its
/// `;`, or before the character that ended it).
fn char_reference_end(html: &str, at: usize) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut k = at + 2;
    let hex = matches!(bytes.get(k), Some(b'x' | b'X'));
    if hex {
        k += 1;
    }
    let digits_start = k;
    while bytes.get(k).is_some_and(|b| match hex {
        true => b.is_ascii_hexdigit(),
        false => b.is_ascii_digit(),
    }) {
        k += 1;
    }
    if k == digits_start {
        return None;
    }
    // The terminator must be one more character that is not a hex digit.
    let terminator = *bytes.get(k)?;
    if terminator.is_ascii_hexdigit() {
        return None;
    }
    Some(if terminator == b';' { k + 1 } else { k })
}

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
