//! The offline manifest: `CACHE/manifest.json`, mapping the hash of each block's rendered body
//! to the HTML it renders to. Keys, values and formatting follow django-compressor 4.x so its
//! `{% compress %}` tag reads stapler's manifest as its own.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{Error, Location, Result};
use crate::templates::Kind;

/// The manifest key of a rendered body: `sha256(body without STATIC_URL)` in lowercase hex.
pub fn key(body: &str, static_url: &str) -> String {
    let stripped = if static_url.is_empty() {
        body.to_string()
    } else {
        body.replace(static_url, "")
    };
    let digest = Sha256::digest(stripped.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A loaded manifest, with what is needed to look blocks up the way the runtime does.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub entries: BTreeMap<String, String>,
    static_url: String,
    url: String,
    placeholder: String,
}

impl Manifest {
    /// Reads the manifest `config` points at.
    pub fn load(config: &Config) -> Result<Manifest> {
        Self::open(
            &config.manifest_path(),
            &config.static_url,
            &config.url,
            &config.url_placeholder,
        )
    }

    /// Reads a manifest file, with the settings the runtime uses to look keys up.
    pub fn open(path: &Path, static_url: &str, url: &str, placeholder: &str) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::input(
                Location::file(path),
                format!(
                    "cannot read the manifest ({error}); run `stapler compress --offline` first"
                ),
            )
        })?;
        let entries: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|error| {
            Error::input(
                Location::new(path, error.line()),
                format!(
                    "is not a manifest ({error}); rebuild it with `stapler compress --offline`"
                ),
            )
        })?;
        Ok(Manifest {
            entries,
            static_url: static_url.into(),
            url: url.into(),
            placeholder: placeholder.into(),
        })
    }

    /// Builds a manifest in memory.
    pub fn from_entries(entries: BTreeMap<String, String>, config: &Config) -> Manifest {
        Manifest {
            entries,
            static_url: config.static_url.clone(),
            url: config.url.clone(),
            placeholder: config.url_placeholder.clone(),
        }
    }

    /// The key a rendered body is stored under.
    pub fn key_for(&self, body: &str) -> String {
        key(body, &self.static_url)
    }

    /// The stored HTML for `key`, with the placeholder put back to the real URL.
    pub fn get(&self, key: &str) -> Option<String> {
        self.entries
            .get(key)
            .map(|value| value.replace(&self.placeholder, &self.url))
    }

    /// The HTML a block of `kind` whose body rendered to `body` turns into, as
    /// django-compressor's tag returns it at runtime.
    pub fn render(&self, kind: Kind, body: &str) -> Result<String, LookupError> {
        let key = self.key_for(body);
        let html = self
            .get(&key)
            .ok_or_else(|| LookupError::Missing { key: key.clone() })?;
        let fits = match kind {
            Kind::Css => html.contains("<link") || html.contains("<style"),
            Kind::Js => html.contains("<script") || html.contains("as=\"script\""),
        };
        if fits || html.is_empty() {
            Ok(html)
        } else {
            Err(LookupError::WrongKind { key, kind })
        }
    }

    /// The manifest as django-compressor writes it: `json.dumps(manifest, indent=2)`.
    pub fn to_json(&self) -> String {
        to_python_json(&self.entries)
    }

    /// Writes the manifest atomically: a temporary file beside it, then a rename.
    pub fn write(&self, path: &Path) -> Result<()> {
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&parent)
            .map_err(|error| Error::io(&parent, "creating the folder", error))?;
        let mut file = tempfile::NamedTempFile::new_in(&parent)
            .map_err(|error| Error::io(&parent, "creating a temporary file", error))?;
        file.write_all(self.to_json().as_bytes())
            .map_err(|error| Error::io(path, "writing", error))?;
        file.as_file()
            .sync_all()
            .map_err(|error| Error::io(path, "syncing", error))?;
        file.persist(path)
            .map_err(|error| Error::io(path, "renaming", error.error))?;
        Ok(())
    }
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    #[error("key \"{key}\" is missing from the offline manifest; run `stapler compress --offline` (and `stapler lookup TEMPLATE` to see the rendered body)")]
    Missing { key: String },
    #[error("key \"{key}\" holds no {kind} output; the block's kind does not match the manifest")]
    WrongKind { key: String, kind: Kind },
}

/// Python's `json.dumps(obj, indent=2)` for a string-to-string map: `ensure_ascii` escapes.
fn to_python_json(entries: &BTreeMap<String, String>) -> String {
    if entries.is_empty() {
        return "{}".to_string();
    }
    let mut out = String::from("{\n");
    for (index, (key, value)) in entries.iter().enumerate() {
        if index > 0 {
            out.push_str(",\n");
        }
        out.push_str("  ");
        push_python_string(&mut out, key);
        out.push_str(": ");
        push_python_string(&mut out, value);
    }
    out.push_str("\n}");
    out
}

fn push_python_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ch if (ch as u32) < 0x20 || (ch as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
}

/// Registers a `compress` filter on a minijinja environment, so a Rust app can write
/// `{% filter compress("css") %}<link …>{% endfilter %}` and get the manifest's HTML.
pub fn register_minijinja_filter(env: &mut minijinja::Environment<'_>, manifest: Arc<Manifest>) {
    env.add_filter(
        "compress",
        move |body: String, kind: String| -> Result<minijinja::Value, minijinja::Error> {
            let kind = match kind.as_str() {
                "css" => Kind::Css,
                "js" => Kind::Js,
                other => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("compress kind must be \"css\" or \"js\", not {other:?}"),
                    ))
                }
            };
            manifest
                .render(kind, &body)
                .map(minijinja::Value::from_safe_string)
                .map_err(|error| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, error.to_string())
                })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_strips_static_url_then_hashes() {
        let body = "\n<link rel=\"stylesheet\" href=\"/static/a.css\">\n";
        assert_eq!(
            key(body, "/static/"),
            key("\n<link rel=\"stylesheet\" href=\"a.css\">\n", "")
        );
        assert_eq!(
            key("", ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn json_matches_python_json_dumps_indent_2() {
        let mut entries = BTreeMap::new();
        entries.insert("b".to_string(), "<script>é\"\\\n</script>".to_string());
        entries.insert("a".to_string(), "😀/".to_string());
        assert_eq!(
            to_python_json(&entries),
            "{\n  \"a\": \"\\ud83d\\ude00/\",\n  \"b\": \"<script>\\u00e9\\\"\\\\\\n</script>\"\n}"
        );
        assert_eq!(to_python_json(&BTreeMap::new()), "{}");
    }

    #[test]
    fn render_puts_the_url_back_and_checks_kind() {
        let mut entries = BTreeMap::new();
        let body = "<link rel=\"stylesheet\" href=\"/static/a.css\">";
        entries.insert(
            key(body, "/static/"),
            "<link rel=\"stylesheet\" href=\"/__p__/CACHE/css/output.1.css\">".to_string(),
        );
        let manifest = Manifest {
            entries,
            static_url: "/static/".into(),
            url: "https://cdn.example/".into(),
            placeholder: "/__p__/".into(),
        };
        assert_eq!(
            manifest.render(Kind::Css, body).expect("found"),
            "<link rel=\"stylesheet\" href=\"https://cdn.example/CACHE/css/output.1.css\">"
        );
        assert!(matches!(
            manifest.render(Kind::Js, body),
            Err(LookupError::WrongKind { .. })
        ));
        assert!(matches!(
            manifest.render(Kind::Css, "other"),
            Err(LookupError::Missing { .. })
        ));
    }

    #[test]
    fn minijinja_filter_renders_from_the_manifest() {
        let body = "<script src=\"/static/a.js\"></script>";
        let mut entries = BTreeMap::new();
        entries.insert(
            key(body, "/static/"),
            "<script src=\"/__p__/CACHE/js/output.1.js\"></script>".to_string(),
        );
        let manifest = Arc::new(Manifest {
            entries,
            static_url: "/static/".into(),
            url: "/static/".into(),
            placeholder: "/__p__/".into(),
        });
        let mut env = minijinja::Environment::new();
        register_minijinja_filter(&mut env, manifest);
        let out = env
            .render_str(
                "{% filter compress(\"js\") %}<script src=\"{{ s }}a.js\"></script>{% endfilter %}",
                minijinja::context! { s => "/static/" },
            )
            .expect("renders");
        assert_eq!(
            out,
            "<script src=\"/static/CACHE/js/output.1.js\"></script>"
        );
    }
}
