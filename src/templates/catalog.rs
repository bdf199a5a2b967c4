//! Translations for the i18n tags a compress block holds, and the renderer's functions that
//! use them. With the Django bridge, each message is looked up once in Django's own catalogs;
//! without it (`render = "native"`) messages render as written, and the run says so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};

use crate::django::Bridge;

use super::render::{escape, python_str, Escaping};

/// Where a message's translation comes from.
pub struct Catalog {
    bridge: Option<Arc<Bridge>>,
    language: String,
    bidi: bool,
    known: Mutex<HashMap<(Option<String>, String), String>>,
    as_written: AtomicBool,
}

impl Catalog {
    pub fn new(bridge: Option<Arc<Bridge>>, language: &str, bidi: bool) -> Self {
        Catalog {
            bridge,
            language: language.to_string(),
            bidi,
            known: Mutex::new(HashMap::new()),
            as_written: AtomicBool::new(false),
        }
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
    catalog: Arc<Catalog>,
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
