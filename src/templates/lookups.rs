//! What the native renderer asks Django, once per distinct value: the translations of the
//! messages i18n tags hold (from Django's own catalogs), and `{% static %}` URLs when the
//! project's static files storage makes its own (hashed names from a manifest, another host).
//! Without the bridge (`render = "native"`) messages render as written, and URLs are made as
//! the configured `static_storage` makes them (or refused), and the run says where that departs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};

use crate::config::{RenderMode, TemplateSettings};
use crate::django::Bridge;

use super::render::{escape, python_str, Escaping};
use super::static_urls::NativeStatic;

/// Where translations and static URLs come from.
pub struct Lookups {
    bridge: Option<Arc<Bridge>>,
    language: String,
    bidi: bool,
    /// Whether Django's storage computes URLs rather than prefixing `STATIC_URL`.
    static_from_django: bool,
    /// How `{% static %}` renders without Django.
    native_static: NativeStatic,
    known: Mutex<HashMap<(Option<String>, String), String>>,
    urls: Mutex<HashMap<String, Result<String, String>>>,
    as_written: AtomicBool,
}

impl Lookups {
    pub fn new(config: &TemplateSettings, bridge: Option<Arc<Bridge>>) -> Self {
        // Django's answers only through the bridge: a native run never starts Python.
        let bridge = bridge.filter(|_| config.render != RenderMode::Native);
        Lookups {
            static_from_django: bridge.is_some() && config.static_from_django,
            bridge,
            language: config.language_code.clone(),
            bidi: config.language_bidi,
            native_static: NativeStatic::new(config),
            known: Mutex::new(HashMap::new()),
            urls: Mutex::new(HashMap::new()),
            as_written: AtomicBool::new(false),
        }
    }

    /// What `{% static path %}` renders: `STATIC_URL` and the quoted path, or Django's
    /// storage's URL when it makes its own.
    pub fn static_url(&self, path: &str) -> Result<String, Error> {
        let Some(bridge) = self.bridge.as_ref().filter(|_| self.static_from_django) else {
            return self
                .native_static
                .url(path)
                .map_err(|reason| Error::new(ErrorKind::InvalidOperation, reason));
        };
        let known = self
            .urls
            .lock()
            .ok()
            .and_then(|urls| urls.get(path).cloned());
        let answer = match known {
            Some(answer) => answer,
            None => {
                let answer = match bridge.static_urls(&[path.to_string()]) {
                    Ok(mut answers) => answers.pop().unwrap_or_else(|| Err("no answer".into())),
                    Err(error) => Err(error.to_string()),
                };
                if let Ok(mut urls) = self.urls.lock() {
                    urls.insert(path.to_string(), answer.clone());
                }
                answer
            }
        };
        answer.map_err(|reason| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("Django's static files storage has no URL for '{path}': {reason}"),
            )
        })
    }

    /// Whether a message was rendered untranslated for want of Django's catalogs.
    pub fn rendered_as_written(&self) -> bool {
        self.as_written.load(Ordering::Relaxed)
    }

    /// `gettext(message)`, or `pgettext(context, message)`.
    fn gettext(&self, context: Option<&str>, message: &str) -> Result<String, Error> {
        let Some(bridge) = &self.bridge else {
            self.as_written.store(true, Ordering::Relaxed);
            return Ok(message.to_string());
        };
        let key = (context.map(str::to_string), message.to_string());
        if let Some(known) = self
            .known
            .lock()
            .ok()
            .and_then(|known| known.get(&key).cloned())
        {
            return Ok(known);
        }
        let translated = bridge
            .translate(std::slice::from_ref(&key))
            .map_err(|error| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("Django could not translate {message:?}: {error}"),
                )
            })?
            .pop()
            .unwrap_or_else(|| message.to_string());
        if let Ok(mut known) = self.known.lock() {
            known.insert(key, translated.clone());
        }
        Ok(translated)
    }
}

/// The functions the i18n translation calls: `__gettext` (`_("…")`), `__trans`,
/// `__blocktrans`, `__language`, `__language_bidi`, and the `__render` filter.
pub(super) fn add_functions(
    env: &mut Environment<'static>,
    catalog: Arc<Lookups>,
    escaping: Escaping,
) {
    let language = catalog.language.clone();
    env.add_function("__language", move || language.clone());
    let bidi = catalog.bidi;
    env.add_function("__language_bidi", move || bidi);
    let gettext = catalog.clone();
    env.add_function("__gettext", move |message: String| {
        // Django's `Variable` doubles `%` before the lookup and keeps the result as it is.
        gettext
            .gettext(None, &message.replace('%', "%%"))
            .map(Value::from_safe_string)
    });
    let trans = catalog.clone();
    env.add_function(
        "__trans",
        move |state: &State, message: Value, context: Option<String>, noop: bool| {
            // A missing variable is Django's `string_if_invalid`, never translated.
            if message.is_undefined() {
                return Ok(Value::from_safe_string(String::new()));
            }
            if message.kind() != ValueKind::String {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "{% trans %} of a value that is not a string is left to Django",
                ));
            }
            let text = python_str(&message);
            let translated = if noop {
                text
            } else {
                trans.gettext(context.as_deref(), &text.replace('%', "%%"))?
            };
            let escape_it = !message.is_safe() && !matches!(state.auto_escape(), AutoEscape::None);
            let rendered = if escape_it {
                escape(&translated, escaping)
            } else {
                translated
            };
            Ok(Value::from_safe_string(rendered.replace("%%", "%")))
        },
    );
    let block = catalog;
    env.add_function(
        "__blocktrans",
        move |message: String, context: Option<String>, values: Value| {
            let translated = block.gettext(context.as_deref(), &message)?;
            // Django falls back to the untranslated message when the translation's
            // placeholders do not match.
            python_format(&translated, &values)
                .or_else(|| python_format(&message, &values))
                .map(Value::from_safe_string)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("the message {message:?} has a placeholder stapler cannot fill"),
                    )
                })
        },
    );
    env.add_filter("__render", move |state: &State, value: Value| {
        if value.is_undefined() {
            return String::new();
        }
        let text = python_str(&value);
        if value.is_safe() || matches!(state.auto_escape(), AutoEscape::None) {
            text
        } else {
            escape(&text, escaping)
        }
    });
}

/// `message % values` for a message of `%%` and `%(name)s` only; `None` on anything else or a
/// name without a value.
fn python_format(message: &str, values: &Value) -> Option<String> {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let named = rest.strip_prefix('(')?;
        let (name, after) = named.split_once(")s")?;
        let value = values
            .get_attr(name)
            .ok()
            .filter(|value| !value.is_undefined())?;
        out.push_str(&python_str(&value));
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_format_fills_named_placeholders_only() {
        let values = Value::from(minijinja::value::Serde(
            serde_json::json!({"name": "Ann", "n": "3"}),
        ));
        assert_eq!(
            python_format("Hi %(name)s, 50%% of %(n)s", &values).as_deref(),
            Some("Hi Ann, 50% of 3")
        );
        assert_eq!(python_format("%(missing)s", &values), None);
        assert_eq!(python_format("%d", &values), None);
    }
}
