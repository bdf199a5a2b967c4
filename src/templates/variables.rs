//! The variables a compress block reads, found in its source: what `stapler check` compares with
//! the offline contexts. A variable no context defines renders as nothing offline and as its
//! value at request time, so the two bodies (and keys) differ.

use regex::Regex;

/// A variable a block reads, by the first part of its path (`user` of `user.name`), and the
/// 0-based line inside the block's source where it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub name: String,
    pub line: usize,
}

fn pattern(text: &str) -> Regex {
    Regex::new(text).unwrap_or_else(|_| unreachable!("{text} is a valid pattern"))
}

/// The block's source: from the `{% compress %}` tag on `line` (1-based) of `template` to its
/// `{% endcompress %}`.
pub fn block_source(template: &str, line: usize) -> Option<&str> {
    let start_of_line = template
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let rest = template.get(start_of_line..)?;
    let open = pattern(r"\{%-?\s*compress\b").find(rest)?;
    let body = &rest[open.start()..];
    let end = pattern(r"\{%-?\s*endcompress\s*-?%\}").find(body)?;
    Some(&body[..end.end()])
}

/// Every variable the source reads that it does not bind itself (a `{% for %}` loop variable,
/// `{% with %}`, `{% set %}`, `… as name`).
pub fn reads(source: &str) -> Vec<Read> {
    let source = without_comments(source);
    let tag = pattern(r"(?s)\{\{-?(.*?)-?\}\}|\{%-?(.*?)-?%\}");
    let mut bound: Vec<String> = Vec::new();
    let mut found: Vec<Read> = Vec::new();
    for capture in tag.captures_iter(&source) {
        let line = source[..capture.get(0).map_or(0, |m| m.start())]
            .matches('\n')
            .count();
        if let Some(expression) = capture.get(1) {
            found.extend(expression_head(expression.as_str()).map(|name| Read { name, line }));
            continue;
        }
        let inside = capture.get(2).map_or("", |m| m.as_str()).trim();
        let mut words = inside.split_whitespace();
        let Some(name) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        if let Some(at) = rest.iter().position(|word| *word == "as") {
            bound.extend(rest.get(at + 1).map(|name| name.to_string()));
        }
        match name {
            "if" | "elif" => {
                for word in &rest {
                    found.extend(expression_head(word).map(|name| Read { name, line }));
                }
            }
            "for" => {
                let Some(at) = rest.iter().position(|word| *word == "in") else {
                    continue;
                };
                for variable in rest[..at].join(" ").split(',') {
                    bound.push(variable.trim().to_string());
                }
                if let Some(word) = rest.get(at + 1) {
                    found.extend(expression_head(word).map(|name| Read { name, line }));
                }
            }
            "with" => {
                for word in &rest {
                    match word.split_once('=') {
                        Some((name, value)) => {
                            bound.push(name.to_string());
                            found.extend(expression_head(value).map(|name| Read { name, line }));
                        }
                        None if rest.contains(&"as") && Some(word) == rest.first() => {
                            found.extend(expression_head(word).map(|name| Read { name, line }));
                        }
                        None => {}
                    }
                }
            }
            "set" => {
                if let Some((names, value)) = rest.join(" ").split_once('=') {
                    bound.extend(names.split(',').map(|name| name.trim().to_string()));
                    found.extend(expression_head(value).map(|name| Read { name, line }));
                }
            }
            "static" | "include" | "extends" => {
                if let Some(word) = rest.first() {
                    found.extend(expression_head(word).map(|name| Read { name, line }));
                }
            }
            _ => {}
        }
        // `{% blocktrans with name=value %}`, `{% include … with a=b %}`: bound inside.
        if !matches!(name, "with" | "set") {
            for (bound_name, value) in rest.iter().filter_map(|word| word.split_once('=')) {
                if !bound_name.is_empty() && !value.is_empty() {
                    bound.push(bound_name.to_string());
                    found.extend(expression_head(value).map(|name| Read { name, line }));
                }
            }
        }
    }
    found.retain(|read| !bound.contains(&read.name));
    found
}

/// The variable `{% extends %}` names, when it names one rather than a quoted template.
pub fn extends_variable(template: &str) -> Option<(String, usize)> {
    let source = without_comments(template);
    let found = pattern(r"\{%-?\s*extends\s+([A-Za-z_][A-Za-z0-9_.]*)").captures(&source)?;
    let whole = found.get(0)?;
    let line = source[..whole.start()].matches('\n').count() + 1;
    let name = found.get(1)?.as_str();
    let head = name.split('.').next().unwrap_or(name).to_string();
    Some((head, line))
}

/// Django's template comments, replaced by as many newlines as they held.
fn without_comments(source: &str) -> String {
    let comments = pattern(r"(?s)\{#.*?#\}|\{%-?\s*comment\b.*?%\}.*?\{%-?\s*endcomment\s*-?%\}");
    comments
        .replace_all(source, |found: &regex::Captures<'_>| {
            "\n".repeat(found[0].matches('\n').count())
        })
        .into_owned()
}

/// The variable an expression starts with: `user.name|upper` → `user`; nothing for literals,
/// operators, translations and numbers.
fn expression_head(expression: &str) -> Option<String> {
    let expression = expression.trim().trim_start_matches('(');
    let head = expression
        .split(['|', '.', ' ', ')', ':', ',', '[', '('])
        .next()
        .unwrap_or("");
    let operator = [
        "and", "or", "not", "in", "is", "True", "False", "None", "true", "false", "none",
    ];
    let identifier = head
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (identifier && !operator.contains(&head) && head != "_").then(|| head.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<String> {
        reads(source).into_iter().map(|read| read.name).collect()
    }

    #[test]
    fn variables_read_and_bound() {
        let source = "{% compress css %}\n<link href=\"{{ theme.url|default:'x' }}\">\n{% if user.is_staff and not debug %}{{ 'literal' }}{% endif %}\n{% for item in items %}{{ item.url }}{% endfor %}\n{% with colour=palette.main %}{{ colour }}{% endwith %}\n{% static 'a.css' as url %}{{ url }}{# {{ hidden }} #}{{ _('x') }}{{ 12 }}\n{% blocktrans with who=author.name %}by {{ who }}{% endblocktrans %}\n{% endcompress %}";
        assert_eq!(
            names(source),
            ["theme", "user", "debug", "items", "palette", "author"]
        );
        assert_eq!(reads(source)[1].line, 2);
    }

    #[test]
    fn the_block_is_cut_from_its_line() {
        let template = "a\n{% compress js %}{{ x }}{% endcompress %}\n{% compress css %}{{ y }}{% endcompress %}";
        assert_eq!(
            block_source(template, 3),
            Some("{% compress css %}{{ y }}{% endcompress %}")
        );
        assert_eq!(
            extends_variable("{% extends layout %}"),
            Some(("layout".to_string(), 1))
        );
        assert_eq!(extends_variable("{% extends \"base.html\" %}"), None);
    }
}
