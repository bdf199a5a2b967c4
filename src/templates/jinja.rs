//! Jinja2 templates: finds `{% compress 'css' %}…{% endcompress %}` as compressor's Jinja2
//! extension spells it. As django-compressor's Jinja2 parser does, every compress block in every
//! template is taken on its own (inheritance is not resolved) and its body is rendered alone.

use super::django::SyntaxError;

/// A compress block found in a Jinja2 template.
#[derive(Debug, Clone, PartialEq)]
pub struct JinjaBlock {
    /// The tag's arguments with quotes and commas removed: kind, then mode and name if given.
    pub args: Vec<String>,
    pub line: usize,
    /// The body's source, with whitespace control of the surrounding tags applied.
    pub body: String,
}

struct TagSpan<'s> {
    start: usize,
    end: usize,
    line: usize,
    content: &'s str,
    strip_before: bool,
    strip_after: bool,
}

/// Finds every compress block, in source order, at any depth.
pub fn find_compress_blocks(source: &str) -> Result<Vec<JinjaBlock>, SyntaxError> {
    let tags = statement_tags(source)?;
    let mut blocks = Vec::new();
    let mut open: Vec<&TagSpan> = Vec::new();
    for tag in &tags {
        let name = tag.content.split_whitespace().next().unwrap_or("");
        match name {
            "compress" => open.push(tag),
            "endcompress" => {
                let Some(opener) = open.pop() else {
                    return Err(SyntaxError {
                        line: tag.line,
                        message: "{% endcompress %} without {% compress %}".into(),
                        in_compress: true,
                    });
                };
                if open.is_empty() {
                    let mut body = &source[opener.end..tag.start];
                    if opener.strip_after {
                        body = body.trim_start();
                    }
                    if tag.strip_before {
                        body = body.trim_end();
                    }
                    let args = opener.content["compress".len()..]
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .filter(|word| !word.is_empty())
                        .map(|word| word.trim_matches(|c| c == '"' || c == '\'').to_string())
                        .collect();
                    blocks.push(JinjaBlock {
                        args,
                        line: opener.line,
                        body: body.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(opener) = open.first() {
        return Err(SyntaxError {
            line: opener.line,
            message: format!(
                "{{% {} %}} opened on line {} is never closed: add {{% endcompress %}}",
                opener.content, opener.line
            ),
            in_compress: true,
        });
    }
    Ok(blocks)
}

/// Every `{% … %}` outside comments and `{% raw %}` sections.
fn statement_tags(source: &str) -> Result<Vec<TagSpan<'_>>, SyntaxError> {
    let bytes = source.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    let mut in_raw = false;
    // Tags are met in source order, so lines are counted on from the last tag, not from the
    // start each time (which made large templates quadratic).
    let mut counted = (0usize, 1usize);
    let mut line_at = |at: usize| {
        let (from, line) = counted;
        let line = line + source[from..at].matches('\n').count();
        counted = (at, line);
        line
    };
    while i + 1 < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let close = match bytes[i + 1] {
            b'#' if !in_raw => "#}",
            b'{' if !in_raw => "}}",
            b'%' => "%}",
            _ => {
                i += 1;
                continue;
            }
        };
        let Some(length) = source[i + 2..].find(close) else {
            return Err(SyntaxError {
                line: line_at(i),
                message: format!("unclosed `{}`", &source[i..i + 2]),
                in_compress: false,
            });
        };
        let end = i + 2 + length + 2;
        if close == "%}" {
            let inner = &source[i + 2..end - 2];
            let strip_before = inner.starts_with('-');
            let strip_after = inner.ends_with('-');
            let content = inner.trim_matches(|c| c == '-' || c == '+').trim();
            if in_raw {
                if content == "endraw" {
                    in_raw = false;
                }
            } else if content == "raw" {
                in_raw = true;
            } else {
                tags.push(TagSpan {
                    start: i,
                    end,
                    line: line_at(i),
                    content,
                    strip_before,
                    strip_after,
                });
            }
        }
        i = end;
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_with_arguments_and_lines() {
        let source = "{% extends 'base.html' %}\n{% block head %}{% compress 'css', 'inline' %}\n<style>a{}</style>\n{% endcompress %}{% endblock %}";
        let blocks = find_compress_blocks(source).expect("parses");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].args, vec!["css", "inline"]);
        assert_eq!(blocks[0].line, 2);
        assert_eq!(blocks[0].body, "\n<style>a{}</style>\n");
    }

    #[test]
    fn whitespace_control_and_raw() {
        let source = "{% raw %}{% compress 'js' %}{% endraw %}{% compress 'js' -%}\n <script>x()</script> \n{%- endcompress %}";
        let blocks = find_compress_blocks(source).expect("parses");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].body, "<script>x()</script>");
    }

    #[test]
    fn lines_are_counted_on_from_tag_to_tag() {
        let source = "{% if a %}\n\n{% endif %}{% compress 'js' %}x{% endcompress %}\n{% for b in c %}\n\n\n{% compress 'css' %}y{% endcompress %}{% endfor %}";
        let lines: Vec<usize> = find_compress_blocks(source)
            .expect("parses")
            .iter()
            .map(|block| block.line)
            .collect();
        assert_eq!(lines, vec![3, 7]);
    }

    #[test]
    fn unclosed_is_fatal() {
        let error =
            find_compress_blocks("\n{% compress 'css' %}<style></style>").expect_err("unclosed");
        assert!(error.in_compress);
        assert_eq!(error.line, 2);
    }
}
