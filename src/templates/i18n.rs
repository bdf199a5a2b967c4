//! Django's i18n tags inside compress blocks, rendered as `manage.py compress` renders them: in
//! `LANGUAGE_CODE`, with no language activated. The renderer's catalog gives each message's
//! translation (Django's own catalogs through the bridge); `{% language %}`, plurals and the
//! language-info tags are left to Django.

use std::sync::LazyLock;

use regex::Regex;

use super::django::{split_contents, Node, Tag};
use super::expression::{filter_expression, string_literal, unescape_literal};
use super::translate::{unsupported, Untranslatable};

/// `{% trans message [context c] [noop] [as name] %}` (and `{% translate %}`).
pub(super) fn translate(
    tag: &Tag,
    words: &[String],
    out: &mut String,
) -> Result<(), Untranslatable> {
    let Some((message, options)) = words.split_first() else {
        return Err(unsupported(tag, "'trans' takes at least one argument"));
    };
    let message = match message.chars().next() {
        Some('"' | '\'') => format!("{}|safe", string_literal(&unescape_literal(message))),
        _ if message.contains('|') || message.starts_with("_(") => {
            return Err(unsupported(tag, "a message with filters is left to Django"))
        }
        _ => filter_expression(message, &tag.origin)?,
    };
    let mut noop = false;
    let mut context = "none".to_string();
    let mut target = None;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "noop" => noop = true,
            "context" => {
                let Some(value) = options.next() else {
                    return Err(unsupported(tag, "'context' needs a value"));
                };
                context = filter_expression(value, &tag.origin)?;
            }
            "as" => {
                let Some(name) = options.next().filter(|name| is_identifier(name)) else {
                    return Err(unsupported(tag, "'as' needs a variable name"));
                };
                target = Some(name.clone());
            }
            other => return Err(unsupported(tag, &format!("unknown argument '{other}'"))),
        }
    }
    let call = format!("__trans({message}, {context}, {noop})");
    match target {
        Some(name) => out.push_str(&format!("{{% set {name} = {call} %}}")),
        None => out.push_str(&format!("{{{{ {call} }}}}")),
    }
    Ok(())
}

/// `{% get_current_language as name %}` and `{% get_current_language_bidi as name %}`.
pub(super) fn current_language(
    tag: &Tag,
    words: &[String],
    out: &mut String,
) -> Result<(), Untranslatable> {
    let [as_word, name] = words else {
        return Err(unsupported(tag, "expected 'as name'"));
    };
    if as_word != "as" || !is_identifier(name) {
        return Err(unsupported(tag, "expected 'as name'"));
    }
    let function = if tag.name == "get_current_language" {
        "__language"
    } else {
        "__language_bidi"
    };
    out.push_str(&format!("{{% set {name} = {function}() %}}"));
    Ok(())
}

/// `{% blocktrans [with a=b …] [context c] [trimmed] [asvar name] %}…{% endblocktrans %}`
/// without a plural: the message Django looks up is the body's text with `%` doubled and each
/// `{{ name }}` as `%(name)s`; the values are rendered (escaped) before they are put in.
pub(super) fn block_translate(
    tag: &Tag,
    body: &[Node],
    out: &mut String,
) -> Result<(), Untranslatable> {
    let words = split_contents(&tag.args);
    let mut with: Vec<(String, String)> = Vec::new();
    let mut context = "none".to_string();
    let mut trimmed = false;
    let mut target = None;
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        match word.as_str() {
            "with" => {
                while let Some((name, value)) = words.peek().and_then(|word| word.split_once('=')) {
                    if !is_identifier(name) {
                        return Err(unsupported(tag, "'with' expects name=value pairs"));
                    }
                    with.push((name.to_string(), filter_expression(value, &tag.origin)?));
                    words.next();
                }
                if with.is_empty() {
                    return Err(unsupported(tag, "'with' expects name=value pairs"));
                }
            }
            "context" => {
                let Some(value) = words.next() else {
                    return Err(unsupported(tag, "'context' needs a value"));
                };
                context = filter_expression(value, &tag.origin)?;
            }
            "trimmed" => trimmed = true,
            "asvar" => {
                let Some(name) = words.next().filter(|name| is_identifier(name)) else {
                    return Err(unsupported(tag, "'asvar' needs a variable name"));
                };
                target = Some(name.clone());
            }
            "count" => return Err(unsupported(tag, "plural forms are left to Django")),
            other => return Err(unsupported(tag, &format!("unknown argument '{other}'"))),
        }
    }
    let mut message = String::new();
    let mut names: Vec<&str> = Vec::new();
    for node in body {
        match node {
            Node::Text(text) => message.push_str(&text.replace('%', "%%")),
            Node::Var { expr, .. } if is_identifier(expr.trim()) => {
                let name = expr.trim();
                message.push_str(&format!("%({name})s"));
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            _ => {
                return Err(unsupported(
                    tag,
                    "only text and {{ name }} variables are rendered offline in its body",
                ))
            }
        }
    }
    if trimmed {
        message = trim_whitespace(&message);
    }
    let values: Vec<String> = names
        .iter()
        .map(|name| {
            let value = with
                .iter()
                .find(|(with_name, _)| with_name == name)
                .map_or_else(|| name.to_string(), |(_, value)| format!("({value})"));
            format!("{}: {value}|__render", string_literal(name))
        })
        .collect();
    let call = format!(
        "__blocktrans({}, {context}, {{{}}})",
        string_literal(&message),
        values.join(", ")
    );
    match target {
        Some(name) => out.push_str(&format!("{{% set {name} = {call} %}}")),
        None => out.push_str(&format!("{{{{ {call} }}}}")),
    }
    Ok(())
}

/// Django's `trim_whitespace`: the ends stripped, each line break and the blanks around it one
/// space.
fn trim_whitespace(text: &str) -> String {
    static BREAK: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\s*\n\s*").ok());
    let text = text.trim();
    match BREAK.as_ref() {
        Some(pattern) => pattern.replace_all(text, " ").into_owned(),
        None => text.to_string(),
    }
}

fn is_identifier(text: &str) -> bool {
    text.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Engine;
    use crate::templates::django::parse;
    use crate::templates::render::{tests::config, Renderer};
    use crate::templates::translate::{to_jinja, Includes};

    /// Renders Django source natively, with no catalog (every message as written).
    fn render(source: &str, language: &str) -> String {
        let template = parse("t.html", source).expect("parses");
        let mut load = |name: &str| Err(format!("no template '{name}'"));
        let mut jinja = String::new();
        to_jinja(&template.nodes, &mut Includes::new(&mut load), &mut jinja).expect("translates");
        let mut settings = config(Engine::Django);
        settings.language_code = language.into();
        settings.language_bidi = language.starts_with("he");
        let renderer = Renderer::new(&settings, None);
        let context = [("x".to_string(), serde_json::json!("<b>&"))]
            .into_iter()
            .collect();
        let rendered = renderer.render(&jinja, &context).expect("renders");
        assert!(renderer.rendered_messages_as_written());
        rendered
    }

    // Each expectation is what Django 5.2 renders with USE_I18N and no catalog for the message.
    #[test]
    fn trans_renders_as_django_does() {
        assert_eq!(
            render(
                r#"{% trans "a & b <i>" %}|{% translate "50%" %}|{% trans "50%%" %}|{% trans x %}|{% trans "q" as v %}[{{ v }}]|{% trans "ctx" context "menu" %}|{% trans "n" noop %}|{% trans "a"b" %}|{% trans missing %}"#,
                "en-us"
            ),
            r#"a & b <i>|50%|50%%|&lt;b&gt;&amp;|[q]|ctx|n|a"b|"#
        );
        assert_eq!(
            render(
                r#"{{ _("50%") }}|{{ x|default:_("a&b") }}|{% trans "x" as v %}{{ v|upper }}|{% trans x as w %}{{ w }}"#,
                "en-us"
            ),
            "50%%|&lt;b&gt;&amp;|X|&lt;b&gt;&amp;"
        );
    }

    #[test]
    fn blocktrans_renders_as_django_does() {
        assert_eq!(
            render(
                "{% blocktrans %}Hi {{ x }} & 50%{% endblocktrans %}|{% blocktranslate trimmed with y=x %}
  Hi
  {{ y }}
{% endblocktranslate %}|{% blocktrans asvar t %}T {{ x }}{% endblocktrans %}[{{ t }}]|{% blocktrans with a=x|upper %}{{ a }} 5%{% endblocktrans %}|{% blocktrans %}{{ y }}{% endblocktrans %}",
                "en-us"
            ),
            "Hi &lt;b&gt;&amp; & 50%|Hi &lt;b&gt;&amp;|[T &lt;b&gt;&amp;]|&lt;B&gt;&amp; 5%|"
        );
    }

    #[test]
    fn the_current_language_is_language_code() {
        assert_eq!(
            render("{% get_current_language as L %}{{ L }}|{% get_current_language_bidi as B %}{{ B }}{% trans 'x' %}", "he"),
            "he|Truex"
        );
    }

    #[test]
    fn what_is_left_to_django_is_named() {
        for (source, why) in [
            (
                "{% blocktrans count n=3 %}a{% plural %}b{% endblocktrans %}",
                "plural",
            ),
            ("{% blocktrans %}{{ x.y }}{% endblocktrans %}", "only text"),
            ("{% trans x|upper %}", "filters"),
            ("{% get_current_language %}", "'as name'"),
        ] {
            let template = parse("t.html", source).expect("parses");
            let mut load = |name: &str| Err(format!("no template '{name}'"));
            let error = to_jinja(
                &template.nodes,
                &mut Includes::new(&mut load),
                &mut String::new(),
            )
            .expect_err(source);
            assert!(error.message.contains(why), "{source}: {}", error.message);
        }
    }

    #[test]
    fn trimmed_messages_are_one_line() {
        assert_eq!(
            trim_whitespace("\n  Hello\n   %(name)s \n\n ok  \n"),
            "Hello %(name)s ok"
        );
    }
}
