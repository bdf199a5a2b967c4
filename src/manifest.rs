//! The offline manifest: `CACHE/manifest.json`, mapping the hash of each block's rendered body
//! to the HTML it renders to. Keys, values and formatting follow django-compressor 4.x so its
//! `{% compress %}` tag reads stapler's manifest as its own. This file owns the format: writing
//! it as Python's `json.dumps` does, reading it, looking keys up, and the outputs it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::block::{self, Kind};
use crate::config::{ManifestSettings, S3Settings};
use crate::error::{Error, Location, Result};
use crate::store::s3::S3Store;
use crate::store::Store;

/// A loaded manifest, with what is needed to look blocks up the way the runtime does.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub entries: BTreeMap<String, String>,
    static_url: String,
    url: String,
    placeholder: String,
}

impl Manifest {
    /// The manifest of freshly built blocks: each key with the HTML its block renders to, the
    /// URL replaced by the placeholder as django-compressor stores it.
    pub fn from_rendered(
        rendered: impl IntoIterator<Item = (String, String)>,
        settings: &ManifestSettings,
    ) -> Manifest {
        let entries = rendered
            .into_iter()
            .map(|(key, html)| (key, html.replace(&settings.url, &settings.url_placeholder)))
            .collect();
        Manifest::with_entries(entries, settings)
    }

    fn with_entries(entries: BTreeMap<String, String>, settings: &ManifestSettings) -> Manifest {
        Manifest {
            entries,
            static_url: settings.static_url.clone(),
            url: settings.url.clone(),
            placeholder: settings.url_placeholder.clone(),
        }
    }

    /// Reads the manifest the settings point at.
    pub fn load(settings: &ManifestSettings) -> Result<Manifest> {
        let path = &settings.path;
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::input(
                Location::file(path),
                format!(
                    "cannot read the manifest ({error}); run `stapler compress --offline` first"
                ),
            )
        })?;
        Manifest::parse(&text, settings)
    }

    /// Reads the manifest at `location`: a path, or `s3://bucket/key` (the published one, as
    /// `s3://assets/site/CACHE/manifest.json`), fetched with the AWS SDK's credential chain
    /// (`AWS_ACCESS_KEY_ID`, profiles, instance roles) from AWS or from `endpoint_url`. Values
    /// are read with `settings`' URLs, as [`Manifest::load`] reads them.
    pub async fn load_from(
        location: &str,
        endpoint_url: Option<&str>,
        settings: &ManifestSettings,
    ) -> Result<Manifest> {
        let Some(rest) = location.strip_prefix("s3://") else {
            let settings = ManifestSettings {
                path: location.into(),
                ..settings.clone()
            };
            return Manifest::load(&settings);
        };
        let unreadable = |message: String| Error::input(Location::file(location), message);
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
            .ok_or_else(|| {
                unreadable("names no object; write s3://bucket/path/to/manifest.json".into())
            })?;
        let location_settings = S3Settings {
            bucket: bucket.to_string(),
            prefix: String::new(),
            endpoint_url: endpoint_url.map(str::to_string),
            region: None,
            path_style: endpoint_url.is_some(),
            multipart_threshold: u64::MAX,
        };
        let fetched = async {
            let store = S3Store::connect(&location_settings).await?;
            store.get(key).await
        };
        let bytes = fetched.await.map_err(|error| {
            unreadable(format!(
                "cannot read the manifest ({error}); check that it was published there and that these credentials may read it"
            ))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| unreadable("is not UTF-8 text; publish the manifest again".into()))?;
        let settings = ManifestSettings {
            path: location.into(),
            ..settings.clone()
        };
        Manifest::parse(&text, &settings)
    }

    /// [`Manifest::load_from`] for code that is not async: runs it on a runtime of its own.
    pub fn load_from_blocking(
        location: &str,
        endpoint_url: Option<&str>,
        settings: &ManifestSettings,
    ) -> Result<Manifest> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| Error::io(Path::new(location), "starting a runtime for", error))?;
        runtime.block_on(Manifest::load_from(location, endpoint_url, settings))
    }

    /// Reads a manifest's text; mistakes name the manifest the settings point at.
    pub fn parse(text: &str, settings: &ManifestSettings) -> Result<Manifest> {
        let entries = serde_json::from_str(text).map_err(|error| {
            Error::input(
                Location::new(&settings.path, error.line()),
                format!(
                    "is not a manifest ({error}); rebuild it with `stapler compress --offline`"
                ),
            )
        })?;
        Ok(Manifest::with_entries(entries, settings))
    }

    /// The files under `output_dir` that the values point at (`CACHE/css/output.….css`), as
    /// names relative to the root.
    pub fn outputs(&self, output_dir: &str) -> BTreeSet<String> {
        self.entries
            .values()
            .flat_map(|value| self.names_in(value, output_dir))
            .collect()
    }

    /// The files under `output_dir` that one key's value points at, in order.
    pub fn outputs_of(&self, key: &str, output_dir: &str) -> Vec<String> {
        self.entries
            .get(key)
            .map(|value| self.names_in(value, output_dir))
            .unwrap_or_default()
    }

    fn names_in(&self, value: &str, output_dir: &str) -> Vec<String> {
        let prefix = format!("{}{output_dir}/", self.placeholder);
        let mut names = Vec::new();
        let mut rest = value;
        while let Some(at) = rest.find(&prefix) {
            let tail = &rest[at + self.placeholder.len()..];
            let end = tail.find(['"', '\'', ' ', '>', ')']).unwrap_or(tail.len());
            names.push(tail[..end].to_string());
            rest = &tail[end..];
        }
        names
    }

    /// The key a rendered body is stored under.
    pub fn key_for(&self, body: &str) -> String {
        block::key(body, &self.static_url)
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
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonJson::new());
        // A map of strings serializes into memory without fail, and always as UTF-8.
        let _ = serde::Serialize::serialize(&self.entries, &mut serializer);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Writes the manifest atomically, synced to disk before it replaces the previous one.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = self.to_json();
        crate::output::write_atomic(path, bytes.as_bytes(), crate::output::Durability::Synced)?;
        Ok(())
    }
}

/// serde_json's pretty printer with Python's `ensure_ascii`: every character outside printable
/// ASCII becomes `\uXXXX` (UTF-16 units, lowercase hex), as `json.dumps` writes it.
struct PythonJson<'a>(serde_json::ser::PrettyFormatter<'a>);

impl PythonJson<'_> {
    fn new() -> Self {
        PythonJson(serde_json::ser::PrettyFormatter::with_indent(b"  "))
    }
}

type Io = std::io::Result<()>;

impl serde_json::ser::Formatter for PythonJson<'_> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> Io {
        let mut start = 0;
        for (at, ch) in fragment.char_indices() {
            if (' '..='~').contains(&ch) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..at])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = at + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> Io {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> Io {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> Io {
        self.0.end_object_value(w)
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

    fn manifest(entries: BTreeMap<String, String>) -> Manifest {
        Manifest {
            entries,
            static_url: "/static/".into(),
            url: "/static/".into(),
            placeholder: "/__p__/".into(),
        }
    }

    #[test]
    fn outputs_are_the_files_values_point_at() {
        let mut entries = BTreeMap::new();
        entries.insert(
            "k1".to_string(),
            "<link rel=\"stylesheet\" href=\"/__p__/CACHE/css/a.1.css\" type=\"text/css\"><script src='/__p__/CACHE/js/b.2.js'></script>".to_string(),
        );
        entries.insert(
            "k2".to_string(),
            "<style>x{background:url(/__p__/img/x.png)}</style>".to_string(),
        );
        let outputs: Vec<String> = manifest(entries).outputs("CACHE").into_iter().collect();
        assert_eq!(outputs, vec!["CACHE/css/a.1.css", "CACHE/js/b.2.js"]);
    }

    #[test]
    fn json_matches_python_json_dumps_indent_2() {
        let mut entries = BTreeMap::new();
        entries.insert(
            "b".to_string(),
            "<script>é\"\\\n\t\u{1}</script>".to_string(),
        );
        entries.insert("a".to_string(), "😀/\u{7f}".to_string());
        // What Python prints for json.dumps({"b": "<script>é\"\\\n\t\x01</script>", "a": "😀/\x7f"}, indent=2, sort_keys=True).
        assert_eq!(
            manifest(entries).to_json(),
            "{\n  \"a\": \"\\ud83d\\ude00/\\u007f\",\n  \"b\": \"<script>\\u00e9\\\"\\\\\\n\\t\\u0001</script>\"\n}"
        );
        assert_eq!(manifest(BTreeMap::new()).to_json(), "{}");
    }

    #[test]
    fn render_puts_the_url_back_and_checks_kind() {
        let mut entries = BTreeMap::new();
        let body = "<link rel=\"stylesheet\" href=\"/static/a.css\">";
        entries.insert(
            block::key(body, "/static/"),
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
            block::key(body, "/static/"),
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
