//! CSS structure: find every `url()` (and IE's `src=`) outside comments and strings, let the
//! caller rewrite it, and refuse structurally broken files (unclosed braces, strings or
//! comments, which would spill into every file concatenated after them). Minifying is
//! [`super::css_minify`]'s job.

/// A problem at a line of a stylesheet.
#[derive(Debug, Clone, PartialEq)]
pub struct CssError {
    pub line: usize,
    pub message: String,
}

/// How deep brackets may nest: the minifier recurses once per level, so deeper stylesheets are
/// refused rather than crash it. No browser-bound stylesheet comes near.
pub const MAX_NESTING: usize = 10_000;

/// Rewrites urls as django-compressor's `CssAbsoluteFilter` finds them, by pattern, with no
/// regard for comments and strings: `url(…)` (quoted alike on both sides, or not at all), then
/// `src='…'`/`src="…"`. For stylesheets too broken to read structurally, whose urls the peer
/// still rewrites.
pub fn rewrite_urls_by_pattern<E>(
    css: &str,
    mut rewrite: impl FnMut(&str, usize) -> Result<String, E>,
) -> Result<String, E> {
    static URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"url\(\s*(?:"(.*?)"|'(.*?)'|(.*?))\s*\)"#)
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    });
    static SRC: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"src=(?:"(.*?)"|'(.*?)')"#)
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    });
    let mut pass = |text: &str, pattern: &regex::Regex, prefix: &str| -> Result<String, E> {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for found in pattern.captures_iter(text) {
            let (Some(whole), Some((index, url))) = (
                found.get(0),
                (1..=3).find_map(|index| found.get(index).map(|url| (index, url))),
            ) else {
                continue;
            };
            let quote = match index {
                1 => "\"",
                2 => "'",
                _ => "",
            };
            let line = text[..whole.start()].matches('\n').count() + 1;
            let rewritten = rewrite(url.as_str(), line)?;
            out.push_str(&text[copied..whole.start()]);
            out.push_str(&format!("{prefix}{quote}{rewritten}{quote}"));
            if prefix == "url(" {
                out.push(')');
            }
            copied = whole.end();
        }
        out.push_str(&text[copied..]);
        Ok(out)
    };
    let urls = pass(css, &URL, "url(")?;
    pass(&urls, &SRC, "src=")
}

/// Calls `rewrite(url, line)` for every URL reference and returns the text with each replaced.
/// Also checks the file's structure and reports the first broken construct. One pass over the
/// bytes with one `match`: comments, strings, brackets and urls must be told apart at the same
/// position, so the cases stay side by side rather than split into functions.
pub fn rewrite_urls<E>(
    css: &str,
    mut rewrite: impl FnMut(&str, usize) -> Result<String, E>,
    broken: impl Fn(CssError) -> E,
) -> Result<String, E> {
    let bytes = css.as_bytes();
    let mut out = String::with_capacity(css.len());
    let mut copied = 0;
    let mut i = 0;
    let mut line = 1;
    let mut depth: Vec<(u8, usize)> = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start_line = line;
                match css[i + 2..].find("*/") {
                    Some(length) => {
                        line += css[i..i + 2 + length].matches('\n').count();
                        i += 2 + length + 2;
                    }
                    None => {
                        return Err(broken(CssError {
                            line: start_line,
                            message: "comment opened here is never closed with */".into(),
                        }))
                    }
                }
            }
            quote @ (b'"' | b'\'') => {
                let (end, lines) = string_end(bytes, i, quote)
                    .map_err(|message| broken(CssError { line, message }))?;
                line += lines;
                i = end;
            }
            open @ (b'{' | b'(' | b'[') => {
                if depth.len() >= MAX_NESTING {
                    return Err(broken(CssError {
                        line,
                        message: format!("brackets are nested more than {MAX_NESTING} deep here"),
                    }));
                }
                depth.push((open, line));
                i += 1;
            }
            close @ (b'}' | b')' | b']') => {
                let expected = match close {
                    b'}' => b'{',
                    b')' => b'(',
                    _ => b'[',
                };
                match depth.pop() {
                    Some((open, _)) if open == expected => {}
                    Some((open, open_line)) => {
                        return Err(broken(CssError {
                            line,
                            message: format!(
                                "`{}` closes the `{}` opened on line {open_line}; a bracket is missing or extra",
                                close as char, open as char
                            ),
                        }))
                    }
                    None => {
                        return Err(broken(CssError {
                            line,
                            message: format!("`{}` has no matching opening bracket", close as char),
                        }))
                    }
                }
                i += 1;
            }
            b'\\' => i += 2,
            b'u' | b'U' if starts_url(bytes, i) => {
                let Some(found) = read_url(css, i + 4) else {
                    return Err(broken(CssError {
                        line,
                        message: "url( is never closed with )".into(),
                    }));
                };
                let replaced = rewrite_escaped(found.value, found.quote, line, &mut rewrite)?;
                out.push_str(&css[copied..found.value_start]);
                out.push_str(&replaced);
                copied = found.value_end;
                line += css[i..found.end].matches('\n').count();
                i = found.end;
            }
            b's' | b'S' if starts_src(bytes, i) => {
                let quote = bytes[i + 4];
                let value_start = i + 5;
                match string_end(bytes, i + 4, quote) {
                    Ok((end, _)) => {
                        let value = &css[value_start..end - 1];
                        let replaced = rewrite_escaped(value, Some(quote), line, &mut rewrite)?;
                        out.push_str(&css[copied..value_start]);
                        out.push_str(&replaced);
                        copied = end - 1;
                        i = end;
                    }
                    Err(_) => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    if let Some((open, open_line)) = depth.pop() {
        return Err(broken(CssError {
            line: open_line,
            message: format!("`{}` opened here is never closed", open as char),
        }));
    }
    out.push_str(&css[copied..]);
    Ok(out)
}

/// Hands `rewrite` the URL a raw `url()` value means (CSS escapes decoded: `a\(1\).png` is
/// `a(1).png`), and writes what it returns back with the escapes its place needs. A URL the
/// callback leaves as it was keeps its original spelling.
fn rewrite_escaped<E>(
    raw: &str,
    quote: Option<u8>,
    line: usize,
    rewrite: &mut impl FnMut(&str, usize) -> Result<String, E>,
) -> Result<String, E> {
    if !raw.contains('\\') {
        let replaced = rewrite(raw, line)?;
        return Ok(if replaced == raw {
            replaced
        } else {
            escape_url(&replaced, quote)
        });
    }
    let meant = unescape(raw);
    let replaced = rewrite(&meant, line)?;
    Ok(if replaced == meant {
        raw.to_string()
    } else {
        escape_url(&replaced, quote)
    })
}

/// The length of the escape that starts with the backslash at `at`: the backslash and one
/// character, or up to six hex digits and one white space after them.
fn escape_len(bytes: &[u8], at: usize) -> usize {
    let hex = bytes[at + 1..]
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if hex == 0 {
        return 2;
    }
    let space = bytes
        .get(at + 1 + hex)
        .is_some_and(|b| b.is_ascii_whitespace());
    1 + hex + usize::from(space)
}

/// Decodes CSS escapes: `\` and up to six hex digits (and one following space) is that code
/// point, an escaped newline is nothing, `\` before any other character is that character.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
            hex.extend(chars.next());
        }
        if hex.is_empty() {
            match chars.next() {
                Some('\n') | None => {}
                Some(other) => out.push(other),
            }
            continue;
        }
        if chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
        out.push(
            char::from_u32(code)
                .filter(|c| *c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    out
}

/// Escapes what would end or break a url in its place: inside quotes, the quote, backslashes and
/// newlines; unquoted, also parentheses, quotes and white space.
fn escape_url(url: &str, quote: Option<u8>) -> String {
    let mut out = String::with_capacity(url.len());
    for ch in url.chars() {
        let special = match quote {
            Some(quote) => ch == quote as char || ch == '\\',
            None => matches!(ch, '(' | ')' | '\'' | '"' | '\\') || ch == ' ' || ch == '\t',
        };
        if ch == '\n' {
            out.push_str("\\a ");
        } else {
            if special {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out
}

pub(super) fn string_end(bytes: &[u8], start: usize, quote: u8) -> Result<(usize, usize), String> {
    let mut i = start + 1;
    let mut lines = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    lines += 1;
                }
                i += 2;
            }
            b'\n' => return Err("string is not closed before the end of the line".into()),
            byte if byte == quote => return Ok((i + 1, lines)),
            _ => i += 1,
        }
    }
    Err("string is never closed".into())
}

fn starts_url(bytes: &[u8], i: usize) -> bool {
    bytes.len() > i + 4
        && bytes[i..i + 4].eq_ignore_ascii_case(b"url(")
        && (i == 0 || !is_name_byte(bytes[i - 1]))
}

fn starts_src(bytes: &[u8], i: usize) -> bool {
    bytes.len() > i + 5
        && bytes[i..i + 4].eq_ignore_ascii_case(b"src=")
        && matches!(bytes[i + 4], b'"' | b'\'')
        && (i == 0 || !is_name_byte(bytes[i - 1]))
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

struct FoundUrl<'c> {
    /// The raw text between the parentheses (or quotes), escapes and all.
    value: &'c str,
    value_start: usize,
    value_end: usize,
    /// The quote around the value, if any.
    quote: Option<u8>,
    end: usize,
}

/// Reads the inside of `url(` starting just after the parenthesis, honouring escapes.
fn read_url(css: &str, start: usize) -> Option<FoundUrl<'_>> {
    let bytes = css.as_bytes();
    let mut i = start;
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    let (value_start, value_end, quote, mut after) = match bytes.get(i)? {
        quote @ (b'"' | b'\'') => {
            let (end, _) = string_end(bytes, i, *quote).ok()?;
            (i + 1, end - 1, Some(*quote), end)
        }
        _ => {
            let value_start = i;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += escape_len(bytes, i),
                    b')' => break,
                    byte if byte.is_ascii_whitespace() => break,
                    b'(' | b'"' | b'\'' => return None,
                    _ => i += 1,
                }
            }
            let value_end = i.min(bytes.len());
            (value_start, value_end, None, value_end)
        }
    };
    while after < bytes.len() && bytes[after].is_ascii_whitespace() {
        after += 1;
    }
    if bytes.get(after) != Some(&b')') {
        return None;
    }
    Some(FoundUrl {
        value: &css[value_start..value_end],
        value_start,
        value_end,
        quote,
        end: after + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_all(css: &str) -> Result<String, CssError> {
        rewrite_urls(
            css,
            |url, line| Ok(format!("<{url}@{line}>")),
            |error| error,
        )
    }

    #[test]
    fn urls_outside_comments_and_strings_are_rewritten() {
        let css = "a{background:url( 'x.png' )}\n/* url(no.png) */b{content:\"url(no)\";background:URL(y.png)}\n.f{filter:progid:DXImageTransform.Microsoft.AlphaImageLoader(src='z.png')}";
        assert_eq!(
            rewrite_all(css).expect("sound"),
            "a{background:url( '<x.png@1>' )}\n/* url(no.png) */b{content:\"url(no)\";background:URL(<y.png@2>)}\n.f{filter:progid:DXImageTransform.Microsoft.AlphaImageLoader(src='<z.png@3>')}"
        );
    }

    #[test]
    fn escaped_urls_are_legal_and_keep_their_escapes() {
        let seen = std::cell::RefCell::new(Vec::new());
        let out = rewrite_urls(
            "a{b:url(a\\(1\\).png);c:url(with\\ space.png);d:url(\"quo\\\"te.png\");e:url(\\41 .png)}",
            |url, _| {
                seen.borrow_mut().push(url.to_string());
                Ok::<_, CssError>(format!("/s/{url}"))
            },
            |error| error,
        )
        .expect("legal CSS");
        assert_eq!(
            *seen.borrow(),
            vec!["a(1).png", "with space.png", "quo\"te.png", "A.png"]
        );
        assert_eq!(
            out,
            "a{b:url(/s/a\\(1\\).png);c:url(/s/with\\ space.png);d:url(\"/s/quo\\\"te.png\");e:url(/s/A.png)}"
        );
        let kept = rewrite_urls(
            "a{b:url(x\\(.png)}",
            |url, _| Ok::<_, CssError>(url.to_string()),
            |e| e,
        )
        .expect("legal");
        assert_eq!(
            kept, "a{b:url(x\\(.png)}",
            "unchanged urls keep their spelling"
        );
    }

    #[test]
    fn broken_structure_is_reported_with_its_line() {
        assert_eq!(
            rewrite_all("a{}\nb{color:red\n")
                .expect_err("unclosed")
                .line,
            2
        );
        assert_eq!(rewrite_all("a{}\n}\n").expect_err("extra").line, 2);
        assert_eq!(rewrite_all("a{}\n/* open").expect_err("comment").line, 2);
        assert_eq!(rewrite_all("a{content:'x\n}").expect_err("string").line, 1);
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let deep = |n: usize| format!("a{{}}\nb{}{}", "{".repeat(n), "}".repeat(n));
        assert!(rewrite_all(&deep(MAX_NESTING)).is_ok());
        let error = rewrite_all(&deep(MAX_NESTING + 1)).expect_err("too deep");
        assert_eq!(error.line, 2);
        assert!(
            error.message.contains("more than 10000 deep"),
            "{}",
            error.message
        );
    }

    #[test]
    fn broken_stylesheets_have_their_urls_found_by_pattern() {
        let mut seen = Vec::new();
        let out = rewrite_urls_by_pattern::<()>(
            "a { b: url( 'x.png' ) }\nc { d: url(y.png); e: url(\"z.png\")\nf { filter: x(src='i.png') ",
            |url, line| {
                seen.push((url.to_string(), line));
                Ok(format!("/s/{url}"))
            },
        )
        .expect("rewrites");
        assert_eq!(
            out,
            "a { b: url('/s/x.png') }\nc { d: url(/s/y.png); e: url(\"/s/z.png\")\nf { filter: x(src='/s/i.png') "
        );
        assert_eq!(seen[0], ("x.png".to_string(), 1));
        assert_eq!(seen[3], ("i.png".to_string(), 3));
    }
}
