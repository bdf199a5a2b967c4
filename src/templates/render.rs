//! The minijinja environment that renders block bodies byte for byte as the original engine
//! would: Django's (or Jinja2's) escaping instead of minijinja's, Python's spelling of `True`
//! and `None`, undefined variables as empty strings, and `{% static %}` as Django resolves it.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

use std::sync::Arc;

use crate::config::{Engine, OfflineContext, TemplateSettings};
use crate::django::Bridge;

use super::lookups::{self, Lookups};

/// Renders body sources with one configuration.
pub struct Renderer {
    env: Environment<'static>,
    lookups: Arc<Lookups>,
}

/// Which characters are escaped, and how.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Escaping {
    /// `django.utils.html.escape`: `& < > " '` become `&amp; &lt; &gt; &quot; &#x27;`.
    Django,
    /// markupsafe: `& < > ' "` become `&amp; &lt; &gt; &#39; &#34;`.
    MarkupSafe,
}

impl Renderer {
    /// A renderer for `config`'s templates; `bridge` answers what only Django knows (static
    /// URLs a storage makes, translations), unless `render` is `native`.
    pub fn new(config: &TemplateSettings, bridge: Option<Arc<Bridge>>) -> Self {
        let mut env = Environment::new();
        let mut syntax = minijinja::syntax::SyntaxConfig::builder();
        syntax.keep_trailing_newline(true);
        if let Ok(syntax) = syntax.build() {
            env.set_syntax(syntax);
        }
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        let (escaping, autoescape) = match config.engine {
            Engine::Django => (Escaping::Django, true),
            Engine::Jinja2 => (Escaping::MarkupSafe, config.jinja2_autoescape),
        };
        env.set_auto_escape_callback(move |_| {
            if autoescape {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(move |out, state, value| format_value(out, state, value, escaping));
        let lookups = Arc::new(Lookups::new(config, bridge));
        add_static_functions(&mut env, &lookups, &config.static_url);
        add_django_filters(&mut env, escaping);
        lookups::add_functions(&mut env, lookups.clone(), escaping);
        Renderer { env, lookups }
    }

    /// Whether an i18n tag rendered its message untranslated, for want of Django's catalogs.
    pub fn rendered_messages_as_written(&self) -> bool {
        self.lookups.rendered_as_written()
    }

    /// Renders a body's minijinja source with one offline context.
    pub fn render(&self, source: &str, context: &OfflineContext) -> Result<String, Error> {
        self.env
            .render_str(source, Value::from(minijinja::value::Serde(context)))
    }
}

/// `{% static %}` (translated to `__static`), Jinja2's `static()` and `url_for('static', …)`.
fn add_static_functions(env: &mut Environment<'static>, lookups: &Arc<Lookups>, static_url: &str) {
    let static_url = static_url.to_string();
    let urls = lookups.clone();
    env.add_function("__static", move |path: String| urls.static_url(&path));
    let urls = lookups.clone();
    env.add_function("static", move |path: String| urls.static_url(&path));
    let urls = lookups.clone();
    // django-compressor's `url_for('static', filename=…)`, Flask's spelling.
    env.add_function(
        "url_for",
        move |kind: String, path: Option<String>, kwargs: Kwargs| {
            let path = match path {
                Some(path) => path,
                None => kwargs.get::<String>("filename")?,
            };
            kwargs.assert_all_used()?;
            if kind == "static" {
                urls.static_url(&path)
            } else {
                Ok(String::new())
            }
        },
    );
    env.add_function("__static_prefix", move || static_url.clone());
    env.add_function("__firstof", |values: Vec<Value>| {
        values
            .into_iter()
            .find(Value::is_true)
            .unwrap_or_else(|| Value::from(""))
    });
}

/// Django's escaping and the filters the translation names `__*`, spelled as Django does.
fn add_django_filters(env: &mut Environment<'static>, escaping: Escaping) {
    env.add_function("__defined", |value: Value| {
        if value.is_undefined() {
            Value::from("")
        } else {
            value
        }
    });
    env.add_filter("__escape", move |value: Value| {
        Value::from_safe_string(escape(&python_str(&value), escaping))
    });
    env.add_filter("escape", move |value: Value| {
        if value.is_safe() {
            value
        } else {
            Value::from_safe_string(escape(&python_str(&value), escaping))
        }
    });
    env.add_filter("e", move |value: Value| {
        if value.is_safe() {
            value
        } else {
            Value::from_safe_string(escape(&python_str(&value), escaping))
        }
    });
    env.add_filter("__spaceless", |value: Value| {
        Value::from_safe_string(spaceless(&value.to_string()))
    });
    env.add_filter("__default_if_none", |value: Value, default: Value| {
        if value.is_none() || value.is_undefined() {
            default
        } else {
            value
        }
    });
    env.add_filter("__add", add);
    env.add_filter("__urlencode", |value: Value| {
        quote(&python_str(&value), b"/")
    });
    env.add_filter("__capfirst", |value: Value| {
        let text = python_str(&value);
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    });
    env.add_filter("__yesno", |value: Value, choices: String| {
        let choices: Vec<&str> = choices.split(',').collect();
        let pick = |i: usize| choices.get(i).copied().unwrap_or("").to_string();
        if choices.len() < 2 {
            python_str(&value)
        } else if value.is_none() || value.is_undefined() {
            if choices.len() > 2 {
                pick(2)
            } else {
                pick(1)
            }
        } else if value.is_true() {
            pick(0)
        } else {
            pick(1)
        }
    });
    env.add_filter("__stringformat", |value: Value, spec: String| {
        match spec.as_str() {
            "s" => Ok(python_str(&value)),
            "d" | "i" => Ok(i64::try_from(value.clone())
                .map(|n| n.to_string())
                .unwrap_or_default()),
            _ => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("stringformat:'{spec}' is not supported offline"),
            )),
        }
    });
}

fn format_value(
    out: &mut Output,
    state: &mut State,
    value: &Value,
    escaping: Escaping,
) -> Result<(), Error> {
    if value.is_undefined() {
        return Ok(());
    }
    let text = python_str(value);
    let escape_it = !value.is_safe() && !matches!(state.auto_escape(), AutoEscape::None);
    let written = if escape_it {
        escape(&text, escaping)
    } else {
        text
    };
    out.write_str(&written).map_err(Error::from)
}

/// `str(value)` as Python prints it.
pub(super) fn python_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::None => "None".to_string(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.to_string(),
        _ => value.to_string(),
    }
}

pub(super) fn escape(text: &str, escaping: Escaping) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match (ch, escaping) {
            ('&', _) => out.push_str("&amp;"),
            ('<', _) => out.push_str("&lt;"),
            ('>', _) => out.push_str("&gt;"),
            ('"', Escaping::Django) => out.push_str("&quot;"),
            ('\'', Escaping::Django) => out.push_str("&#x27;"),
            ('"', Escaping::MarkupSafe) => out.push_str("&#34;"),
            ('\'', Escaping::MarkupSafe) => out.push_str("&#39;"),
            (other, _) => out.push(other),
        }
    }
    out
}

/// Django's `add` filter: numbers add, sequences and strings concatenate, else empty.
fn add(value: Value, other: Value) -> Value {
    if let (Ok(a), Ok(b)) = (i64::try_from(value.clone()), i64::try_from(other.clone())) {
        return Value::from(a + b);
    }
    match (value.kind(), other.kind()) {
        (ValueKind::String, ValueKind::String) => Value::from(format!("{value}{other}")),
        _ => Value::from(""),
    }
}

/// `django.utils.html.strip_spaces_between_tags(value.strip())`.
fn spaceless(text: &str) -> String {
    let text = text.trim();
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'>' {
            out.push('>');
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j] as char).is_ascii_whitespace() {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'<' && j > i + 1 {
                i = j;
                continue;
            }
            i += 1;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// What `{% static path %}` renders to with Django's default storage: `STATIC_URL` joined with
/// the path, percent-quoted as `filepath_to_uri` does.
pub fn static_url_for(static_url: &str, path: &str) -> String {
    let quoted = quote(&path.replace('\\', "/"), b"/~!*()'");
    urljoin(static_url, quoted.trim_start_matches('/'))
}

/// Python's `urllib.parse.urljoin(base, relative)` for a relative-path reference (no scheme,
/// no leading slash), as Django's storage joins `STATIC_URL` and a quoted path: dot segments
/// are resolved, empty inner segments dropped, and `..` past the root drops the root too.
fn urljoin(base: &str, relative: &str) -> String {
    if relative.is_empty() {
        return base.to_string();
    }
    let path_start = match base.find("://") {
        Some(at) => base[at + 3..]
            .find('/')
            .map_or(base.len(), |slash| at + 3 + slash),
        None if base.starts_with("//") => base[2..].find('/').map_or(base.len(), |slash| 2 + slash),
        None => 0,
    };
    let (origin, base_path) = base.split_at(path_start);
    let mut base_parts: Vec<&str> = base_path.split('/').collect();
    if base_parts.last().is_some_and(|last| !last.is_empty()) {
        base_parts.pop();
    }
    let mut segments: Vec<&str> = base_parts;
    segments.extend(relative.split('/'));
    let last = segments.len().saturating_sub(1);
    let segments: Vec<&str> = segments
        .iter()
        .enumerate()
        .filter(|(index, segment)| *index == 0 || *index == last || !segment.is_empty())
        .map(|(_, segment)| *segment)
        .collect();
    let mut resolved: Vec<&str> = Vec::new();
    for segment in &segments {
        match *segment {
            ".." => {
                resolved.pop();
            }
            "." => {}
            other => resolved.push(other),
        }
    }
    if segments
        .last()
        .is_some_and(|last| *last == "." || *last == "..")
    {
        resolved.push("");
    }
    let path = resolved.join("/");
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    format!("{origin}{path}")
}

/// Python's `urllib.parse.quote` with the given extra safe characters.
fn quote(text: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~".contains(&byte) || safe.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
pub(in crate::templates) mod tests {
    use super::*;
    use crate::config::Engine;

    pub(in crate::templates) fn config(engine: Engine) -> TemplateSettings {
        TemplateSettings {
            template_dirs: vec!["t".into()],
            extensions: vec![".html".into()],
            engine,
            follow_links: false,
            offline_contexts: vec![],
            static_url: "/static/".into(),
            jinja2_autoescape: true,
            render: crate::config::RenderMode::Native,
            context_source: crate::config::ContextSource::Settings,
            language_code: "en-us".into(),
            language_bidi: false,
            static_from_django: false,
            static_storage: None,
            manifest_strict: true,
            static_manifest: "t/no-staticfiles.json".into(),
            debug: false,
            jinja2_plain_syntax: true,
            tag_libraries: None,
        }
    }

    fn render(engine: Engine, source: &str, pairs: &[(&str, serde_json::Value)]) -> String {
        let context: OfflineContext = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Renderer::new(&config(engine), None)
            .render(source, &context)
            .expect("renders")
    }

    #[test]
    fn django_escaping_differs_from_minijinja() {
        let value = serde_json::json!("a&b<c>\"d'e/f");
        assert_eq!(
            render(Engine::Django, "{{ v }}", &[("v", value.clone())]),
            "a&amp;b&lt;c&gt;&quot;d&#x27;e/f"
        );
        assert_eq!(
            render(Engine::Jinja2, "{{ v }}", &[("v", value)]),
            "a&amp;b&lt;c&gt;&#34;d&#39;e/f"
        );
    }

    #[test]
    fn python_spelling_and_undefined() {
        let out = render(
            Engine::Django,
            "{{ t }} {{ n }} [{{ missing }}] [{{ missing.attr }}]\n",
            &[
                ("t", serde_json::json!(true)),
                ("n", serde_json::Value::Null),
            ],
        );
        assert_eq!(out, "True None [] []\n");
    }

    #[test]
    fn static_joins_like_pythons_urljoin() {
        let cases = [
            ("/static/", "./css/x.css", "/static/css/x.css"),
            ("/static/", "css/sub/../x.css", "/static/css/x.css"),
            ("/static/", "../x", "/x"),
            ("/static/", "../../x", "x"),
            ("/static/", "css//x.css", "/static/css/x.css"),
            (
                "https://cdn.example/static/",
                "../a/./b.css",
                "https://cdn.example/a/b.css",
            ),
            ("/static/", ".", "/static/"),
            ("/static/", "a/..", "/static/"),
            ("static/", "./a.css", "static/a.css"),
            ("/static/", "a.css", "/static/a.css"),
        ];
        for (base, relative, joined) in cases {
            assert_eq!(urljoin(base, relative), joined, "{base} + {relative}");
        }
    }

    #[test]
    fn static_is_quoted_like_django() {
        assert_eq!(
            static_url_for("/static/", "css/a b.css"),
            "/static/css/a%20b.css"
        );
        assert_eq!(
            static_url_for("https://cdn.example/s/", "/x(1).js"),
            "https://cdn.example/s/x(1).js"
        );
    }

    #[test]
    fn spaceless_strips_between_tags_only() {
        assert_eq!(spaceless("  <a>  <b> x </b>\n</a> "), "<a><b> x </b></a>");
    }

    #[test]
    fn safe_values_are_not_escaped() {
        assert_eq!(
            render(
                Engine::Django,
                "{{ v|safe }}",
                &[("v", serde_json::json!("<b>"))]
            ),
            "<b>"
        );
    }
}
