//! Django's expression syntax (`var.attr|filter:"arg"`, literals, `_("…")`) as minijinja
//! expressions: the part of a block body's translation that reads values.

use super::django::Origin;
use super::translate::Untranslatable;

/// `text` as a minijinja string literal.
pub(super) fn string_literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// Translates `var.attr|filter:"arg"|other` into minijinja syntax.
pub fn filter_expression(expr: &str, origin: &Origin) -> Result<String, Untranslatable> {
    let parts = split_filters(expr);
    let mut parts = parts.into_iter();
    let head = parts.next().unwrap_or_default();
    let mut out = operand(head.trim(), origin)?;
    let mut filtered = false;
    for part in parts {
        if !filtered {
            // Django renders a missing variable as '' (string_if_invalid) before any filter
            // sees it: `{{ missing|length }}` is 0, `{{ missing|default_if_none:"x" }}` is ''.
            out = format!("__defined({out})");
            filtered = true;
        }
        out = format!("{out}|{}", filter_call(&part, expr, origin)?);
    }
    Ok(out)
}

/// One Django filter (`name` or `name:arg`) as a minijinja filter call; `expr` is the whole
/// expression, for messages.
pub(super) fn filter_call(
    part: &str,
    expr: &str,
    origin: &Origin,
) -> Result<String, Untranslatable> {
    let (name, arg) = match split_outside_quotes(part, ':') {
        Some((name, arg)) => (name.trim().to_string(), Some(arg.trim().to_string())),
        None => (part.trim().to_string(), None),
    };
    let arg = arg.map(|arg| operand(&arg, origin)).transpose()?;
    let call = match (name.as_str(), arg) {
            ("default", Some(arg)) => format!("default({arg}, true)"),
            ("default_if_none", Some(arg)) => format!("__default_if_none({arg})"),
            ("escape" | "force_escape", None) => "__escape".to_string(),
            ("safe" | "upper" | "lower" | "length" | "first" | "last" | "trim", None) => name,
            ("join", Some(arg)) => format!("join({arg})"),
            ("cut", Some(arg)) => format!("replace({arg}, \"\")"),
            ("add", Some(arg)) => format!("__add({arg})"),
            ("urlencode", None) => "__urlencode".to_string(),
            ("capfirst", None) => "__capfirst".to_string(),
            ("yesno", arg) => format!("__yesno({})", arg.unwrap_or_else(|| "\"yes,no,maybe\"".to_string())),
            ("stringformat", Some(arg)) => format!("__stringformat({arg})"),
            (name, _) => {
                return Err(Untranslatable {
                    origin: origin.clone(),
                    message: format!(
                        "the filter '{name}' in {{{{ {expr} }}}} cannot be rendered offline by stapler; compute the value in `offline_context` or move it out of the compress block"
                    ),
                })
            }
    };
    Ok(call)
}

pub(super) fn split_filters(expr: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for ch in expr.chars() {
        match quote {
            Some(q) if ch == q => {
                quote = None;
                current.push(ch);
            }
            Some(_) => current.push(ch),
            None if ch == '"' || ch == '\'' => {
                quote = Some(ch);
                current.push(ch);
            }
            None if ch == '|' => parts.push(std::mem::take(&mut current)),
            None => current.push(ch),
        }
    }
    parts.push(current);
    parts
}

fn split_outside_quotes(text: &str, separator: char) -> Option<(String, String)> {
    let mut quote = None;
    for (at, ch) in text.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == separator => {
                return Some((text[..at].to_string(), text[at + 1..].to_string()))
            }
            None => {}
        }
    }
    None
}

/// A quoted Django literal's text: the quotes gone, `\"` and `\\` unescaped as Django's
/// `unescape_string_literal` does.
pub(super) fn unescape_literal(quoted: &str) -> String {
    let Some(quote) = quoted.chars().next() else {
        return String::new();
    };
    let inner = quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default();
    inner
        .replace(&format!("\\{quote}"), &quote.to_string())
        .replace("\\\\", "\\")
}

/// A literal or a dotted variable, as Django reads it.
fn operand(text: &str, origin: &Origin) -> Result<String, Untranslatable> {
    let bad = |why: &str| Untranslatable {
        origin: origin.clone(),
        message: format!("cannot read `{text}`: {why}"),
    };
    if text.is_empty() {
        return Err(bad("empty expression"));
    }
    let translated = text
        .strip_prefix("_(")
        .and_then(|rest| rest.strip_suffix(')'));
    let inner = translated.unwrap_or(text);
    if let Some(quote) = inner.chars().next().filter(|c| *c == '"' || *c == '\'') {
        if inner.len() < 2 || !inner.ends_with(quote) {
            return Err(bad("unterminated string"));
        }
        let literal = string_literal(&unescape_literal(inner));
        // `_("…")` is the message's translation in the default language, as Django's
        // `Variable` looks it up (a `%` doubled first, as `makemessages` extracts it).
        return Ok(match translated {
            Some(_) => format!("__gettext({literal})"),
            None => literal,
        });
    }
    if translated.is_some() {
        return Err(bad("only a literal string is translated offline in `_()`"));
    }
    match inner {
        "None" => return Ok("none".into()),
        "True" => return Ok("true".into()),
        "False" => return Ok("false".into()),
        _ => {}
    }
    if inner.parse::<f64>().is_ok() {
        return Ok(inner.to_string());
    }
    let mut out = String::new();
    for (index, segment) in inner.split('.').enumerate() {
        if segment.is_empty() || segment.starts_with('_') {
            return Err(bad(
                "variables and attributes may not be empty or begin with underscores",
            ));
        }
        if !segment.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(bad("unexpected character"));
        }
        if index == 0 {
            out.push_str(if segment == "forloop" {
                "loop"
            } else {
                segment
            });
        } else if segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else if out == "loop" {
            out.push('.');
            out.push_str(match segment {
                "counter" => "index",
                "counter0" => "index0",
                "revcounter" => "revindex",
                "revcounter0" => "revindex0",
                "first" => "first",
                "last" => "last",
                _ => return Err(bad("only forloop.counter, counter0, revcounter, revcounter0, first and last are supported")),
            });
        } else {
            out.push('.');
            out.push_str(segment);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_unescaped_as_django_does() {
        assert_eq!(unescape_literal(r#""a\"b\\c""#), r#"a"b\c"#);
        assert_eq!(unescape_literal("'it\\'s'"), "it's");
    }
}
