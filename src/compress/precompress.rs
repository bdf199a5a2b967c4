//! Precompressed files: `name.gz` and `name.br` beside each bundle and hashed text asset, the
//! names whitenoise and nginx's `gzip_static` / `brotli_static` serve to browsers that accept
//! them. gzip at level 9; Brotli at `brotli_quality` (9 by default: on a site of 125 MiB of
//! bundles quality 11 made files 8 % smaller but took 98 s on two cores instead of 8.5 s). Kept
//! only when smaller than the file; in parallel, largest first. Every input's name is
//! content-hashed, so what a file compressed to is cached by its name, size and the quality.

use std::io::Write;

use base64::Engine as _;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::output::{self, Durability};

use super::cache::Cache;
use super::resolve::Roots;
use super::Output;

pub use crate::config::Encoding;

/// What the encodings write.
trait Compress {
    fn suffix(self) -> &'static str;
    fn compress(self, bytes: &[u8], brotli_quality: u32) -> Option<Vec<u8>>;
}

impl Compress for Encoding {
    /// The suffix of the compressed file's name.
    fn suffix(self) -> &'static str {
        match self {
            Encoding::Gzip => ".gz",
            Encoding::Br => ".br",
        }
    }

    fn compress(self, bytes: &[u8], brotli_quality: u32) -> Option<Vec<u8>> {
        match self {
            Encoding::Gzip => {
                // No name and a zero time in the header, so the same input gives the same bytes.
                let mut encoder = flate2::GzBuilder::new()
                    .mtime(0)
                    .write(Vec::new(), flate2::Compression::best());
                encoder.write_all(bytes).ok()?;
                encoder.finish().ok()
            }
            Encoding::Br => {
                let window = (usize::BITS - bytes.len().max(1).leading_zeros()).clamp(16, 24);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: brotli_quality.min(11) as i32,
                    lgwin: window as i32,
                    size_hint: bytes.len(),
                    ..brotli::enc::BrotliEncoderParams::default()
                };
                let mut out = Vec::new();
                brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).ok()?;
                Some(out)
            }
        }
    }
}

/// Whether a file of this name is text a compressor shrinks (images other than SVG, and WOFF
/// fonts, are compressed already).
pub fn is_compressible(name: &str) -> bool {
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase());
    matches!(
        extension.as_deref(),
        Some(
            "css"
                | "js"
                | "mjs"
                | "map"
                | "json"
                | "svg"
                | "txt"
                | "xml"
                | "html"
                | "htm"
                | "ttf"
                | "otf"
                | "eot"
                | "ico"
                | "wasm"
        )
    )
}

/// What compressing one file gave, as the cache keeps it: the compressed bytes (base64), or
/// `None` when they were not smaller. A build whose outputs are gone but whose cache is kept (a
/// CI runner with a restored cache) writes them again without compressing.
#[derive(Serialize, Deserialize)]
struct Compressed {
    data: Option<String>,
}

/// Writes the compressed companions of `files` (names under the output root) and returns them.
/// `force` compresses again whatever the cache says.
pub fn precompress(
    files: &[&Output],
    encodings: &[Encoding],
    brotli_quality: u32,
    roots: &Roots,
    cache: &Cache,
    force: bool,
) -> Result<Vec<Output>> {
    let mut work: Vec<(&Output, Encoding)> = files
        .iter()
        .filter(|file| is_compressible(&file.name))
        .flat_map(|file| encodings.iter().map(move |encoding| (*file, *encoding)))
        .collect();
    work.sort_by(|a, b| {
        b.0.bytes
            .cmp(&a.0.bytes)
            .then_with(|| a.0.name.cmp(&b.0.name))
    });
    let done: Vec<Option<Output>> = work
        .into_par_iter()
        .with_max_len(1)
        .map(|(file, encoding)| companion(file, encoding, brotli_quality, roots, cache, force))
        .collect::<Result<_>>()?;
    let mut written: Vec<Output> = done.into_iter().flatten().collect();
    written.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(written)
}

/// One file's compressed companion, written unless the cache knows it is there (or that it
/// would not be smaller).
fn companion(
    file: &Output,
    encoding: Encoding,
    brotli_quality: u32,
    roots: &Roots,
    cache: &Cache,
    force: bool,
) -> Result<Option<Output>> {
    let name = format!("{}{}", file.name, encoding.suffix());
    let path = roots.output_path(&name);
    let key = Cache::key(&[
        b"precompress",
        encoding.suffix().as_bytes(),
        &brotli_quality.to_le_bytes(),
        file.name.as_bytes(),
        &file.bytes.to_le_bytes(),
    ]);
    let output = |bytes: u64| Output {
        name: name.clone(),
        bytes,
        gzip_bytes: None,
        brotli_bytes: None,
    };
    if !force {
        if let Some(known) = cache.get::<Compressed>(&key, None) {
            let Some(data) = known.data else {
                return Ok(None);
            };
            let decoded = base64::engine::general_purpose::STANDARD.decode(data).ok();
            if let Some(compressed) = decoded {
                let bytes = compressed.len() as u64;
                if !std::fs::metadata(&path).is_ok_and(|meta| meta.len() == bytes) {
                    output::write_atomic(&path, &compressed, Durability::Buffered)?;
                }
                return Ok(Some(output(bytes)));
            }
        }
    }
    let source = roots.output_path(&file.name);
    let original = std::fs::read(&source).map_err(|error| Error::io(&source, "reading", error))?;
    let compressed = encoding
        .compress(&original, brotli_quality)
        .filter(|compressed| compressed.len() < original.len());
    let bytes = compressed
        .as_ref()
        .map(|compressed| compressed.len() as u64);
    match &compressed {
        Some(compressed) => output::write_atomic(&path, compressed, Durability::Buffered)?,
        // A companion left from an earlier build would be served for a file it no longer fits.
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    let data =
        compressed.map(|compressed| base64::engine::general_purpose::STANDARD.encode(compressed));
    cache.put_local(&key, &Compressed { data });
    Ok(bytes.map(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn both_encodings_decompress_to_the_original() {
        let text = "body{color:red}\n".repeat(200);
        let gz = Encoding::Gzip.compress(text.as_bytes(), 9).expect("gzip");
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .expect("gunzip");
        assert_eq!(back, text);
        let br = Encoding::Br.compress(text.as_bytes(), 11).expect("brotli");
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).expect("unbrotli");
        assert_eq!(back, text.as_bytes());
        assert!(br.len() < gz.len() && gz.len() < text.len());
        // The same input gives the same bytes: no time or name in the gzip header.
        assert_eq!(Encoding::Gzip.compress(text.as_bytes(), 9), Some(gz));
    }

    #[test]
    fn only_text_is_compressed() {
        assert!(is_compressible("CACHE/js/output.0123456789ab.js"));
        assert!(is_compressible("img/bg.0123456789ab.SVG"));
        assert!(!is_compressible("img/logo.0123456789ab.png"));
        assert!(!is_compressible("fonts/icons.0123456789ab.woff2"));
        assert!(!is_compressible("README"));
    }
}
