//! `--verify`: once the manifest is up, every object the release added, and the manifest, is
//! fetched through the URL visitors use (the CDN's), as a browser fetches it (`Accept-Encoding:
//! br, gzip`), and compared with what was sent: the status, the bytes once decoded, the
//! `Content-Type` and `Cache-Control` headers, the `Content-Encoding` where a body comes
//! compressed, and the `integrity` values the manifest gives bundles.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::stream::{self, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::config::{ManifestSettings, PublishSettings};
use crate::error::{Error, Result};

use super::plan::LocalObject;
use super::Report;

/// What one object should look like to visitors.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Its name under the static root (`CACHE/js/output.0123456789ab.js`).
    pub name: String,
    /// The local file it was sent from.
    pub path: PathBuf,
    pub content_type: String,
    pub cache_control: String,
    /// `sha384-…` values the manifest's tags give it.
    pub integrity: Vec<String>,
}

/// One object visitors would not get as sent.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub name: String,
    pub url: String,
    /// What was expected and what came back.
    pub problem: String,
}

/// What verification found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verified {
    pub public_url: String,
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
    pub seconds: f64,
}

/// Requests in flight at once.
const PARALLEL: usize = 16;

/// Fetches each object under `public_url` and compares it, all within `within`.
pub async fn verify(public_url: &str, expected: Vec<Expected>, within: Duration) -> Verified {
    let started = Instant::now();
    let deadline = started + within;
    let connector = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(builder) => builder.https_or_http().enable_http1().build(),
        Err(error) => {
            return Verified {
                public_url: public_url.to_string(),
                checked: 0,
                mismatches: vec![Mismatch {
                    name: String::new(),
                    url: public_url.to_string(),
                    problem: format!("no TLS root certificates could be loaded ({error})"),
                }],
                seconds: 0.0,
            }
        }
    };
    let client: hyper_util::client::legacy::Client<_, Empty<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let checked = expected.len();
    let mismatches: Vec<Mismatch> = stream::iter(expected)
        .map(|object| {
            let client = client.clone();
            let url = format!("{public_url}{}", encode_name(&object.name));
            async move {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let fetched = tokio::time::timeout(remaining, fetch(&client, &url)).await;
                let problem = match fetched {
                    Err(_) => Some("no answer before the publish's deadline".to_string()),
                    Ok(Err(problem)) => Some(problem),
                    Ok(Ok(answer)) => compare(&object, &answer),
                };
                problem.map(|problem| Mismatch {
                    name: object.name.clone(),
                    url,
                    problem,
                })
            }
        })
        .buffer_unordered(PARALLEL)
        .filter_map(|found| async move { found })
        .collect()
        .await;
    let mut mismatches = mismatches;
    mismatches.sort_by(|a, b| a.name.cmp(&b.name));
    Verified {
        public_url: public_url.to_string(),
        checked,
        mismatches,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// An answer: its status, the headers compared, and the body as it came.
struct Answer {
    status: u16,
    content_type: Option<String>,
    cache_control: Option<String>,
    content_encoding: Option<String>,
    body: Vec<u8>,
}

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

async fn fetch(client: &Client, url: &str) -> Result<Answer, String> {
    let request = hyper::Request::get(url)
        .header("accept-encoding", "br, gzip")
        .header("user-agent", concat!("stapler/", env!("CARGO_PKG_VERSION")))
        .body(Empty::<Bytes>::new())
        .map_err(|error| format!("the URL cannot be requested ({error})"))?;
    let response = client
        .request(request)
        .await
        .map_err(|error| format!("the request failed ({error})"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, cache_control, content_encoding) = (
        header("content-type"),
        header("cache-control"),
        header("content-encoding"),
    );
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| format!("the body was cut off ({error})"))?
        .to_bytes()
        .to_vec();
    Ok(Answer {
        status,
        content_type,
        cache_control,
        content_encoding,
        body,
    })
}

/// What differs between the answer and the object, in one line; `None` when nothing does.
fn compare(object: &Expected, answer: &Answer) -> Option<String> {
    if answer.status != 200 {
        return Some(format!("status {} where 200 was expected", answer.status));
    }
    let sent = match std::fs::read(&object.path) {
        Ok(bytes) => bytes,
        Err(error) => {
            return Some(format!(
                "the local file cannot be read to compare ({error})"
            ))
        }
    };
    let encoding = answer
        .content_encoding
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| !value.is_empty() && value != "identity");
    let body = match decode(encoding.as_deref(), &answer.body) {
        Ok(body) => body,
        Err(problem) => return Some(problem),
    };
    let mut problems = Vec::new();
    if Sha256::digest(&body) != Sha256::digest(&sent) {
        let compressed_without_saying = encoding.is_none()
            && (body.starts_with(&[0x1f, 0x8b]) && !sent.starts_with(&[0x1f, 0x8b]));
        problems.push(match compressed_without_saying {
            true => "the body comes gzip-compressed without a Content-Encoding header".to_string(),
            false => format!(
                "the bytes differ from those sent ({} bytes where {} were sent{})",
                body.len(),
                sent.len(),
                encoding
                    .as_deref()
                    .map(|encoding| format!(", after decoding {encoding}"))
                    .unwrap_or_default()
            ),
        });
    }
    let same = |got: &Option<String>, want: &str| {
        got.as_deref()
            .is_some_and(|got| normalized(got) == normalized(want))
    };
    if !same(&answer.content_type, &object.content_type) {
        problems.push(format!(
            "Content-Type is {} where `{}` was sent",
            shown(&answer.content_type),
            object.content_type
        ));
    }
    if !same(&answer.cache_control, &object.cache_control) {
        problems.push(format!(
            "Cache-Control is {} where `{}` was sent",
            shown(&answer.cache_control),
            object.cache_control
        ));
    }
    if !object.integrity.is_empty() && !object.integrity.iter().any(|sri| matches_sri(sri, &body)) {
        problems.push(format!(
            "the body does not match the integrity the manifest gives it ({}): browsers will refuse it",
            object.integrity.join(" ")
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn shown(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "missing".to_string(), |value| format!("`{value}`"))
}

fn normalized(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The body as sent, from what came with `encoding`.
fn decode(encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let read = match encoding {
        None => return Ok(body.to_vec()),
        Some("gzip") => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        Some("br") => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        Some(other) => {
            return Err(format!(
                "Content-Encoding is `{other}`, which browsers were not offered (br, gzip)"
            ))
        }
    };
    read.map(|_| out).map_err(|error| {
        format!(
            "the body does not decode as its Content-Encoding `{}` says ({error})",
            encoding.unwrap_or_default()
        )
    })
}

/// Whether `body` has the digest an `integrity` token names.
fn matches_sri(token: &str, body: &[u8]) -> bool {
    let Some((algorithm, expected)) = token.split_once('-') else {
        return false;
    };
    let digest = match algorithm {
        "sha256" => Sha256::digest(body).to_vec(),
        "sha384" => Sha384::digest(body).to_vec(),
        "sha512" => Sha512::digest(body).to_vec(),
        _ => return false,
    };
    base64::engine::general_purpose::STANDARD.encode(digest) == expected
}

/// A name as it goes into a URL: each part percent-encoded as a path segment.
fn encode_name(name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    name.split('/')
        .map(|part| percent_encoding::utf8_percent_encode(part, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `integrity` values a manifest's tags give each name under `url_placeholder`.
pub fn integrities(
    manifest_text: &str,
    url_placeholder: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut found = std::collections::BTreeMap::new();
    let Ok(values) =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(manifest_text)
    else {
        return found;
    };
    let pattern = regex::Regex::new(&format!(
        r#"(?:src|href)="{}([^"]+)"[^>]*?\sintegrity="([^"]+)""#,
        regex::escape(url_placeholder)
    ));
    let Ok(pattern) = pattern else {
        return found;
    };
    for html in values.values().filter_map(|value| value.as_str()) {
        for tag in pattern.captures_iter(html) {
            found.insert(
                tag[1].to_string(),
                tag[2].split_whitespace().map(str::to_string).collect(),
            );
        }
    }
    found
}

/// Fetches what the release sent through the URL visitors use, and fails (exit 6) when any of
/// it is not what was sent.
pub(super) async fn verify_release(
    public_url: &str,
    settings: &PublishSettings,
    manifest: &ManifestSettings,
    local: &[LocalObject],
    remaining: Duration,
    report: &mut Report,
) -> Result<()> {
    let manifest_text = local
        .iter()
        .find(|object| object.name == manifest.name)
        .and_then(|object| std::fs::read_to_string(&object.file.path).ok())
        .unwrap_or_default();
    let integrities = integrities(&manifest_text, &manifest.url_placeholder);
    let mut added = report.added.clone();
    if !added.iter().any(|(name, _, _)| *name == manifest.name) {
        if let Some(object) = local.iter().find(|object| object.name == manifest.name) {
            added.push((object.name.clone(), object.file.path.clone(), object.hashed));
        }
    }
    let expected = added
        .into_iter()
        .map(|(name, path, hashed)| Expected {
            content_type: super::send::content_type(&name),
            cache_control: match hashed {
                true => settings.cache_control_hashed.clone(),
                false => settings.cache_control.clone(),
            },
            integrity: integrities.get(&name).cloned().unwrap_or_default(),
            name,
            path,
        })
        .collect();
    // Bounded by what is left of the publish's time, and at least a minute.
    let within = remaining.max(Duration::from_secs(60));
    let verified = verify(public_url, expected, within).await;
    let mismatches = verified.mismatches.clone();
    let checked = verified.checked;
    report.verified = Some(verified);
    if mismatches.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = mismatches
        .iter()
        .take(20)
        .map(|mismatch| format!("  {}: {}", mismatch.url, mismatch.problem))
        .collect();
    let more = match mismatches.len() {
        count if count > 20 => format!("\n  and {} more", count - 20),
        _ => String::new(),
    };
    Err(Error::NotVerified {
        message: format!(
            "the release is live, but {} of {checked} object(s) fetched through {public_url} are not what was sent, so visitors do not get it whole; check the CDN's origin, its headers and its cache:\n{}{more}",
            mismatches.len(),
            listed.join("\n")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_values_are_found_per_name_and_checked() {
        let manifest = r#"{"k": "<script src=\"/__p__/CACHE/js/a.js\" integrity=\"sha384-x sha512-y\" crossorigin=\"anonymous\"></script><link rel=\"stylesheet\" href=\"/__p__/CACHE/css/b.css\" type=\"text/css\">"}"#;
        let found = integrities(manifest, "/__p__/");
        assert_eq!(found.len(), 1);
        assert_eq!(found["CACHE/js/a.js"], vec!["sha384-x", "sha512-y"]);
        let body = b"var a;";
        let token = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(body))
        );
        assert!(matches_sri(&token, body));
        assert!(!matches_sri(&token, b"var b;"));
    }

    #[test]
    fn bodies_decode_as_their_encoding_says() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"hello").expect("gzip");
        let gzipped = gz.finish().expect("gzip");
        assert_eq!(decode(Some("gzip"), &gzipped).as_deref(), Ok(&b"hello"[..]));
        assert!(decode(Some("br"), &gzipped).is_err());
        assert!(decode(Some("zstd"), b"x").is_err());
        assert_eq!(encode_name("img/a b.png"), "img/a%20b.png");
    }
}
