//! Turns the Django nodes of a compress block's body into minijinja source that renders the same
//! bytes: text is passed through raw, `{% static %}` becomes a function call, Django's filter
//! syntax (`|default:"x"`) becomes Jinja's (`|default("x", true)`), `forloop` becomes `loop`.
//! `{% include %}` of a literal name inlines the included template; the i18n tags call the
//! renderer's catalog. Anything that cannot be rendered offline is an error naming the tag and
//! its line.

use std::sync::Arc;

use super::django::{split_contents, Node, Origin, Tag, Template};
use super::expression::{filter_call, filter_expression, split_filters, string_literal};

/// How deep `{% include %}`s may nest before a template is taken to include itself.
const MAX_INCLUDE_DEPTH: usize = 16;

/// What translating needs beyond the nodes: the templates `{% include %}` names.
pub struct Includes<'a> {
    /// The template by that name, as Django's loaders find it, or why it cannot be included.
    pub load: &'a mut dyn FnMut(&str) -> Result<Arc<Template>, String>,
    depth: usize,
}

impl<'a> Includes<'a> {
    pub fn new(load: &'a mut dyn FnMut(&str) -> Result<Arc<Template>, String>) -> Self {
        Includes { load, depth: 0 }
    }
}

/// Why a body cannot be rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Untranslatable {
    pub origin: Origin,
    pub message: String,
}

/// Appends the minijinja source for `nodes` to `out`.
pub fn to_jinja(
    nodes: &[Node],
    includes: &mut Includes,
    out: &mut String,
) -> Result<(), Untranslatable> {
    for node in nodes {
        match node {
            Node::Text(text) | Node::Verbatim(text) => push_text(text, out),
            Node::Var { expr, origin } => {
                out.push_str("{{ ");
                out.push_str(&filter_expression(expr, origin)?);
                out.push_str(" }}");
            }
            Node::Leaf(tag) if tag.name == "include" => include(tag, includes, out)?,
            Node::Leaf(tag) => leaf(tag, out)?,
            Node::Branching { branches, end } => branching(branches, end, includes, out)?,
            Node::Block { body, .. } => to_jinja(body, includes, out)?,
            Node::Extends { origin, .. } => {
                return Err(Untranslatable { origin: origin.clone(), message: "{% extends %} cannot appear in a compress block".into() })
            }
            Node::Compress { origin, .. } => {
                return Err(Untranslatable {
                    origin: origin.clone(),
                    message: "a {% compress %} block cannot contain another one; close the first before opening the next".into(),
                })
            }
        }
    }
    Ok(())
}

/// Text goes through untouched: raw when it could look like template syntax to minijinja.
pub(super) fn push_text(text: &str, out: &mut String) {
    let looks_like_syntax = text.contains("{{") || text.contains("{%") || text.contains("{#");
    if !looks_like_syntax {
        out.push_str(text);
    } else if !text.contains("endraw") {
        out.push_str("{% raw %}");
        out.push_str(text);
        out.push_str("{% endraw %}");
    } else {
        out.push_str("{{ ");
        out.push_str(&string_literal(text));
        out.push_str("|safe }}");
    }
}

pub(super) fn unsupported(tag: &Tag, why: &str) -> Untranslatable {
    Untranslatable {
        origin: tag.origin.clone(),
        message: format!(
            "{{% {} %}} cannot be rendered offline inside a compress block ({why}); move it outside the block or give its value through `offline_context`",
            [tag.name.as_str(), tag.args.as_str()].join(" ").trim()
        ),
    }
}

fn leaf(tag: &Tag, out: &mut String) -> Result<(), Untranslatable> {
    let words = split_contents(&tag.args);
    match tag.name.as_str() {
        "load" | "csrf_token" => Ok(()),
        "static" => {
            let Some(path) = words.first() else {
                return Err(unsupported(
                    tag,
                    "'static' takes at least one argument, the path",
                ));
            };
            let path = filter_expression(path, &tag.origin)?;
            match words.as_slice() {
                [_] => {
                    out.push_str(&format!("{{{{ __static({path}) }}}}"));
                    Ok(())
                }
                [_, as_word, name] if as_word == "as" => {
                    out.push_str(&format!("{{% set {name} = __static({path}) %}}"));
                    Ok(())
                }
                _ => Err(unsupported(
                    tag,
                    "expected {% static 'path' %} or {% static 'path' as name %}",
                )),
            }
        }
        "trans" | "translate" => super::i18n::translate(tag, &words, out),
        "get_current_language" | "get_current_language_bidi" => {
            super::i18n::current_language(tag, &words, out)
        }
        "get_static_prefix" => {
            out.push_str("{{ __static_prefix() }}");
            Ok(())
        }
        "templatetag" => {
            let text = match words.first().map(String::as_str) {
                Some("openblock") => "{%",
                Some("closeblock") => "%}",
                Some("openvariable") => "{{",
                Some("closevariable") => "}}",
                Some("openbrace") => "{",
                Some("closebrace") => "}",
                Some("opencomment") => "{#",
                Some("closecomment") => "#}",
                _ => return Err(unsupported(tag, "unknown templatetag argument")),
            };
            push_text(text, out);
            Ok(())
        }
        "firstof" => {
            let mut expressions = Vec::new();
            for word in &words {
                expressions.push(filter_expression(word, &tag.origin)?);
            }
            out.push_str(&format!(
                "{{{{ __firstof([{}]) }}}}",
                expressions.join(", ")
            ));
            Ok(())
        }
        "endblock" | "endcompress" | "endif" | "endfor" | "endwith" | "else" | "elif" | "empty" => {
            Err(Untranslatable {
                origin: tag.origin.clone(),
                message: format!("{{% {} %}} has no matching opening tag", tag.name),
            })
        }
        _ => Err(unsupported(tag, "stapler does not know this tag")),
    }
}

fn branching(
    branches: &[(Tag, Vec<Node>)],
    end: &Tag,
    includes: &mut Includes,
    out: &mut String,
) -> Result<(), Untranslatable> {
    let Some((opener, _)) = branches.first() else {
        return Ok(());
    };
    if opener.name == "blocktrans" || opener.name == "blocktranslate" {
        return match branches {
            [(tag, body)] => super::i18n::block_translate(tag, body, out),
            _ => Err(unsupported(opener, "plural forms are left to Django")),
        };
    }
    for (tag, body) in branches {
        let words = split_contents(&tag.args);
        let open = match (opener.name.as_str(), tag.name.as_str()) {
            ("if", "if") => format!("{{% if {} %}}", condition(&words, tag)?),
            ("if", "elif") => format!("{{% elif {} %}}", condition(&words, tag)?),
            (_, "else") | ("for", "empty") => "{% else %}".to_string(),
            ("for", "for") => for_header(&words, tag)?,
            ("with", "with") => with_header(&words, tag)?,
            ("spaceless", "spaceless") => "{% filter __spaceless %}".to_string(),
            // Offline, the fragment cache is empty: the body renders, as on a cache miss.
            ("cache", "cache") if words.len() >= 2 => String::new(),
            ("autoescape", "autoescape") => match words.as_slice() {
                [on] if on == "on" => "{% autoescape true %}".to_string(),
                [off] if off == "off" => "{% autoescape false %}".to_string(),
                _ => return Err(unsupported(tag, "'autoescape' takes 'on' or 'off'")),
            },
            ("filter", "filter") => {
                let calls = split_filters(&tag.args)
                    .iter()
                    .map(|part| filter_call(part, &tag.args, &tag.origin))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("{{% filter {} %}}", calls.join("|"))
            }
            _ => return Err(unsupported(tag, "stapler does not know this tag")),
        };
        out.push_str(&open);
        to_jinja(body, includes, out)?;
    }
    let close = match opener.name.as_str() {
        "if" => "{% endif %}",
        "for" => "{% endfor %}",
        "with" => "{% endwith %}",
        "autoescape" => "{% endautoescape %}",
        "spaceless" | "filter" => "{% endfilter %}",
        "cache" => "",
        _ => return Err(unsupported(end, "unexpected end tag")),
    };
    out.push_str(close);
    Ok(())
}

/// `{% include "name" [with a=b …] %}`: the included template's nodes, rendered in the
/// including context as Django renders them. A name from a variable, `only` (an isolated
/// context) and templates that extend another are left to Django.
fn include(tag: &Tag, includes: &mut Includes, out: &mut String) -> Result<(), Untranslatable> {
    let words = split_contents(&tag.args);
    let Some((name, rest)) = words.split_first() else {
        return Err(unsupported(
            tag,
            "'include' takes at least one argument, the template's name",
        ));
    };
    let name = match name.chars().next() {
        Some(quote @ ('"' | '\'')) if name.len() >= 2 && name.ends_with(quote) => {
            &name[1..name.len() - 1]
        }
        _ => {
            return Err(unsupported(
                tag,
                "the template's name is not a literal string",
            ))
        }
    };
    let assignments = match rest {
        [] => None,
        [with, pairs @ ..] if with == "with" && !pairs.is_empty() => Some(with_header(pairs, tag)?),
        _ => {
            return Err(unsupported(
                tag,
                "only `with name=value …` is rendered offline after the name",
            ))
        }
    };
    if includes.depth >= MAX_INCLUDE_DEPTH {
        return Err(unsupported(
            tag,
            "includes nest deeper than 16 levels; a template may include itself",
        ));
    }
    let template = (includes.load)(name).map_err(|reason| unsupported(tag, &reason))?;
    if let Some(library) = super::checks::foreign_library(&template.nodes) {
        return Err(unsupported(
            tag,
            &format!("'{name}' loads the tag library `{library}`"),
        ));
    }
    if let Some(assignments) = &assignments {
        out.push_str(assignments);
    }
    includes.depth += 1;
    let inlined = to_jinja(&template.nodes, includes, out);
    includes.depth -= 1;
    inlined?;
    if assignments.is_some() {
        out.push_str("{% endwith %}");
    }
    Ok(())
}

fn for_header(words: &[String], tag: &Tag) -> Result<String, Untranslatable> {
    let (words, reversed) = match words.split_last() {
        Some((last, rest)) if last == "reversed" => (rest, true),
        _ => (words, false),
    };
    let Some(in_at) = words.iter().position(|word| word == "in") else {
        return Err(unsupported(
            tag,
            "'for' statements should use the format 'for x in y'",
        ));
    };
    if in_at == 0 || in_at + 2 != words.len() {
        return Err(unsupported(
            tag,
            "'for' statements should use the format 'for x in y'",
        ));
    }
    let joined = words[..in_at].join(" ");
    let targets: Vec<&str> = joined
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                name
            } else {
                ""
            }
        })
        .collect();
    if targets.iter().any(|name| name.is_empty()) {
        return Err(unsupported(tag, "invalid loop variable"));
    }
    let sequence = filter_expression(&words[in_at + 1], &tag.origin)?;
    let sequence = if reversed {
        format!("({sequence})|reverse")
    } else {
        sequence
    };
    Ok(format!("{{% for {} in {sequence} %}}", targets.join(", ")))
}

pub(super) fn with_header(words: &[String], tag: &Tag) -> Result<String, Untranslatable> {
    let mut assignments = Vec::new();
    if let [value, as_word, name] = words {
        if as_word == "as" {
            assignments.push(format!(
                "{name} = {}",
                filter_expression(value, &tag.origin)?
            ));
        }
    }
    if assignments.is_empty() {
        for word in words {
            let Some((name, value)) = word.split_once('=') else {
                return Err(unsupported(tag, "'with' expects name=value pairs"));
            };
            assignments.push(format!(
                "{name} = {}",
                filter_expression(value, &tag.origin)?
            ));
        }
    }
    if assignments.is_empty() {
        return Err(unsupported(
            tag,
            "'with' expected at least one variable assignment",
        ));
    }
    Ok(format!("{{% with {} %}}", assignments.join(", ")))
}

/// Translates a Django `{% if %}` condition: operators are the same words as Jinja's except
/// `is None`/`is True`/`is False`, which become Jinja tests.
fn condition(words: &[String], tag: &Tag) -> Result<String, Untranslatable> {
    if words.is_empty() {
        return Err(unsupported(tag, "'if' needs a condition"));
    }
    let mut out: Vec<String> = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let word = words[index].as_str();
        match word {
            "and" | "or" | "not" | "in" | "==" | "!=" | "<" | ">" | "<=" | ">=" => {
                out.push(word.to_string())
            }
            "is" => {
                let negate = words.get(index + 1).is_some_and(|next| next == "not");
                let operand_at = index + 1 + usize::from(negate);
                let test = match words.get(operand_at).map(String::as_str) {
                    Some("None") => "none",
                    Some("True") => "true",
                    Some("False") => "false",
                    _ => {
                        return Err(unsupported(
                            tag,
                            "only 'is None', 'is True' and 'is False' are supported",
                        ))
                    }
                };
                out.push(if negate {
                    format!("is not {test}")
                } else {
                    format!("is {test}")
                });
                index = operand_at;
            }
            "=" => return Err(unsupported(tag, "use == to compare")),
            operand => out.push(filter_expression(operand, &tag.origin)?),
        }
        index += 1;
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::django::parse;

    fn translate(source: &str) -> Result<String, Untranslatable> {
        let template = parse("t.html", source).expect("parses");
        let mut load = |name: &str| match name {
            "part.html" => parse("part.html", "<b>{{ x }}</b>")
                .map(Arc::new)
                .map_err(|error| error.message),
            "loop.html" => parse("loop.html", "{% include 'loop.html' %}")
                .map(Arc::new)
                .map_err(|error| error.message),
            "custom.html" => parse("custom.html", "{% load shop_tags %}x")
                .map(Arc::new)
                .map_err(|error| error.message),
            _ => Err(format!("no template '{name}'")),
        };
        let mut out = String::new();
        to_jinja(&template.nodes, &mut Includes::new(&mut load), &mut out)?;
        Ok(out)
    }

    #[test]
    fn filters_and_literals() {
        assert_eq!(
            translate("{{ a.b.0|default:\"x\"|upper }}{{ None }}").expect("ok"),
            "{{ __defined(a.b[0])|default(\"x\", true)|upper }}{{ none }}"
        );
        assert_eq!(
            translate("{% filter lower|upper %}x{% endfilter %}").expect("ok"),
            "{% filter lower|upper %}x{% endfilter %}"
        );
    }

    #[test]
    fn static_and_load() {
        assert_eq!(
            translate("{% load static %}{% static 'a b.css' %}{% static \"x\" as u %}")
                .expect("ok"),
            "{{ __static(\"a b.css\") }}{% set u = __static(\"x\") %}"
        );
    }

    #[test]
    fn text_that_looks_like_syntax_is_raw() {
        assert_eq!(
            translate("{% verbatim %}{{ x }}{% endverbatim %}").expect("ok"),
            "{% raw %}{{ x }}{% endraw %}"
        );
    }

    #[test]
    fn a_cache_tag_renders_its_body() {
        assert_eq!(
            translate("{% cache 500 sidebar user.id %}<b>{{ x }}</b>{% endcache %}").expect("ok"),
            "<b>{{ x }}</b>"
        );
        assert!(translate("{% cache 500 %}x{% endcache %}").is_err());
    }

    #[test]
    fn control_flow() {
        assert_eq!(
            translate(
                "{% if a and not b or c is None %}1{% elif d == 'x' %}2{% else %}3{% endif %}"
            )
            .expect("ok"),
            "{% if a and not b or c is none %}1{% elif d == \"x\" %}2{% else %}3{% endif %}"
        );
        assert_eq!(
            translate(
                "{% for x, y in items reversed %}{{ forloop.counter }}{% empty %}-{% endfor %}"
            )
            .expect("ok"),
            "{% for x, y in (items)|reverse %}{{ loop.index }}{% else %}-{% endfor %}"
        );
        assert_eq!(
            translate("{% with a=b c='d' %}{% endwith %}").expect("ok"),
            "{% with a = b, c = \"d\" %}{% endwith %}"
        );
    }

    #[test]
    fn a_literal_include_is_inlined() {
        assert_eq!(
            translate("[{% include 'part.html' %}|{% include \"part.html\" with x=y|upper %}]")
                .expect("ok"),
            "[<b>{{ x }}</b>|{% with x = __defined(y)|upper %}<b>{{ x }}</b>{% endwith %}]"
        );
        for (source, why) in [
            ("{% include name %}", "not a literal"),
            ("{% include 'part.html' only %}", "only `with"),
            ("{% include 'loop.html' %}", "deeper than 16"),
            ("{% include 'custom.html' %}", "`shop_tags`"),
            ("{% include 'gone.html' %}", "no template 'gone.html'"),
        ] {
            let error = translate(source).expect_err(source);
            assert!(error.message.contains(why), "{source}: {}", error.message);
        }
    }

    #[test]
    fn unknown_things_are_named() {
        let error = translate("x\n{% url 'home' %}").expect_err("unsupported");
        assert_eq!(error.origin.line, 2);
        assert!(
            error.message.contains("{% url 'home' %}"),
            "{}",
            error.message
        );
        let error = translate("{{ a|date:'Y' }}").expect_err("unsupported filter");
        assert!(error.message.contains("'date'"), "{}", error.message);
    }
}
