//! `STAPLER_*` variables read into [`Settings`] by serde, so the names and types are the ones the
//! file uses: `STAPLER_STATIC_URL` is `static_url`, `STAPLER_PUBLISH_JOBS` is `publish.jobs`,
//! `STAPLER_SHARED_CACHE_TO` is `shared_cache.to` (and `STAPLER_ENDPOINT_URL`, an older name, is
//! `publish.endpoint_url`). A value is text, parsed into whatever the setting asks for: a
//! boolean, a number, a list (folders separated like `PATH` for `*_dirs`, other lists by
//! commas), or JSON for tables such as `offline_context`.

use std::collections::BTreeMap;

use serde::de::value::{Error as DeError, MapDeserializer, SeqDeserializer, StringDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde::Deserialize;

use super::settings::Settings;
use super::ConfigError;

const PREFIX: &str = "STAPLER_";

/// Reads the `STAPLER_*` variables of `env` into a settings layer.
pub fn read(env: &BTreeMap<String, String>) -> Result<Settings, ConfigError> {
    let variables: Vec<(&str, &str)> = env
        .iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    match Settings::deserialize(tree(&variables)) {
        Ok(settings) => Ok(settings),
        // Find the variable to blame by reading each alone: only on this error path.
        Err(error) => Err(variables
            .iter()
            .find_map(|one| {
                Settings::deserialize(tree(std::slice::from_ref(one)))
                    .err()
                    .map(|error| blame(one.0, &error))
            })
            .unwrap_or_else(|| ConfigError {
                origin: "STAPLER_* environment variables".into(),
                message: error.to_string(),
            })),
    }
}

fn blame(variable: &str, error: &DeError) -> ConfigError {
    let text = error.to_string();
    let message = if text.starts_with("unknown field") {
        "is not a stapler setting; unset it or fix its name".to_string()
    } else {
        format!("{text}; fix its value")
    };
    ConfigError {
        origin: format!("environment variable {variable}"),
        message,
    }
}

/// The variables as nested tables: `PUBLISH_JOBS` goes into the `publish` table as `jobs`.
fn tree(variables: &[(&str, &str)]) -> Node {
    let mut top: Vec<(String, Node)> = Vec::new();
    for (name, value) in variables {
        let key = name[PREFIX.len()..].to_ascii_lowercase();
        let leaf = Node::Text {
            key: key.clone(),
            text: (*value).to_string(),
        };
        let (table, field) = match key.as_str() {
            "endpoint_url" => ("publish", "endpoint_url"),
            _ => match ["publish_", "shared_cache_", "budget_"]
                .iter()
                .find_map(|prefix| key.strip_prefix(prefix).map(|rest| (prefix, rest)))
            {
                Some((prefix, rest)) => (prefix.trim_end_matches('_'), rest),
                None => {
                    top.push((key.clone(), leaf));
                    continue;
                }
            },
        };
        let child = (field.to_string(), leaf);
        match top.iter_mut().find(|(name, _)| name == table) {
            Some((_, Node::Table(children))) => children.push(child),
            _ => top.push((table.to_string(), Node::Table(vec![child]))),
        }
    }
    Node::Table(top)
}

/// A value read from the environment: text, or a table of them.
#[derive(Debug, Clone)]
enum Node {
    Text { key: String, text: String },
    Table(Vec<(String, Node)>),
}

impl<'de> IntoDeserializer<'de, DeError> for Node {
    type Deserializer = Node;
    fn into_deserializer(self) -> Node {
        self
    }
}

impl Node {
    fn text(&self) -> Result<(&str, &str), DeError> {
        match self {
            Node::Text { key, text } => Ok((key, text)),
            Node::Table(_) => Err(de::Error::custom("expected a single value, not a table")),
        }
    }

    fn json(text: &str) -> Result<serde_json::Value, DeError> {
        serde_json::from_str(text)
            .map_err(|error| de::Error::custom(format!("is not JSON ({error})")))
    }
}

impl<'de> Deserializer<'de> for Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Table(children) => visitor.visit_map(MapDeserializer::new(children.into_iter())),
            Node::Text { text, .. } if text.trim_start().starts_with(['{', '[']) => {
                Node::json(&text)?
                    .deserialize_any(visitor)
                    .map_err(de::Error::custom)
            }
            Node::Text { text, .. } => visitor.visit_string(text),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (_, text) = self.text()?;
        match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => visitor.visit_bool(true),
            "0" | "false" | "no" | "off" | "" => visitor.visit_bool(false),
            other => Err(de::Error::custom(format!(
                "`{other}` is not a boolean; use true or false"
            ))),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (_, text) = self.text()?;
        let number = text
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("`{text}` is not a whole number")))?;
        visitor.visit_u64(number)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (_, text) = self.text()?;
        visitor.visit_string(text.to_string())
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (key, text) = self.text()?;
        if text.trim_start().starts_with('[') {
            return Node::json(text)?
                .deserialize_seq(visitor)
                .map_err(de::Error::custom);
        }
        let items: Vec<String> = if key.ends_with("_dirs") {
            std::env::split_paths(text)
                .map(|path| path.to_string_lossy().into_owned())
                .collect()
        } else {
            text.split(',')
                .map(str::trim)
                .filter(|word| !word.is_empty())
                .map(str::to_string)
                .collect()
        };
        visitor.visit_seq(SeqDeserializer::new(items.into_iter()))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Table(_) => self.deserialize_any(visitor),
            Node::Text { text, .. } => Node::json(&text)?
                .deserialize_map(visitor)
                .map_err(de::Error::custom),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (_, text) = self.text()?;
        let text: StringDeserializer<DeError> = text.to_string().into_deserializer();
        text.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u128 f32 f64 char
        bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_take_the_types_the_file_uses() {
        let settings = read(&env(&[
            ("STAPLER_STATIC_URL", "/assets/"),
            ("STAPLER_TEMPLATE_DIRS", "a:b"),
            ("STAPLER_EXTENSIONS", "html, txt"),
            ("STAPLER_FOLLOW_LINKS", "yes"),
            ("STAPLER_ENGINE", "jinja2"),
            ("STAPLER_OFFLINE_CONTEXT", "[{\"THEME\": \"dark\"}]"),
            ("STAPLER_PUBLISH_JOBS", "7"),
            ("STAPLER_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("STAPLER_SHARED_CACHE_TO", "s3://cache/ci"),
            ("STAPLER_URL_PLACEHOLDER", "[placeholder]/"),
            ("OTHER", "ignored"),
        ]))
        .expect("valid");
        assert_eq!(settings.static_url.as_deref(), Some("/assets/"));
        assert_eq!(
            settings.url_placeholder.as_deref(),
            Some("[placeholder]/"),
            "a string setting is text, whatever it starts with"
        );
        assert_eq!(settings.template_dirs, Some(vec!["a".into(), "b".into()]));
        assert_eq!(
            settings.extensions,
            Some(vec!["html".to_string(), "txt".to_string()])
        );
        assert_eq!(settings.follow_links, Some(true));
        assert_eq!(settings.engine, Some(super::super::Engine::Jinja2));
        assert!(matches!(
            settings.offline_context,
            Some(super::super::settings::ContextSetting::Many(ref list)) if list[0]["THEME"] == "dark"
        ));
        let publish = settings.publish.expect("publish table");
        assert_eq!(publish.jobs, Some(7));
        assert_eq!(
            publish.endpoint_url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            settings.shared_cache.and_then(|s| s.to).as_deref(),
            Some("s3://cache/ci")
        );
    }

    #[test]
    fn the_variable_at_fault_is_named() {
        let error = read(&env(&[
            ("STAPLER_STATIC_URL", "/s/"),
            ("STAPLER_STATC_ROOT", "x"),
        ]))
        .expect_err("typo");
        assert_eq!(error.origin, "environment variable STAPLER_STATC_ROOT");
        assert_eq!(
            error.message,
            "is not a stapler setting; unset it or fix its name"
        );
        let error = read(&env(&[("STAPLER_PUBLISH_JOBS", "many")])).expect_err("not a number");
        assert_eq!(error.origin, "environment variable STAPLER_PUBLISH_JOBS");
        assert_eq!(error.message, "`many` is not a whole number; fix its value");
        let error = read(&env(&[("STAPLER_CSS_HASHING_METHOD", "md5")])).expect_err("no such");
        assert_eq!(
            error.message,
            "unknown variant `md5`, expected one of `filename`, `query`, `none`; fix its value"
        );
    }
}
