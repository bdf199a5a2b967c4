//! What bundles weigh once compressed, as the summary and the report show it: gzip (level 9)
//! and Brotli (quality 5) sizes, kept in the build cache by bundle name.

use std::io::Write;

use rayon::prelude::*;

use super::cache::Cache;
use super::resolve::Roots;
use super::Output;

/// Above this many bytes of bundles the summary leaves gzip sizes out: compressing tens of
/// megabytes at level 9 would cost more than the build.
const GZIP_MEASURE_LIMIT: u64 = 4 * 1024 * 1024;

pub(super) fn measure_gzip(bundles: &mut [Output], roots: &Roots) {
    let total: u64 = bundles.iter().map(|file| file.bytes).sum();
    if total > GZIP_MEASURE_LIMIT {
        return;
    }
    bundles.par_iter_mut().for_each(|file| {
        file.gzip_bytes = std::fs::read(roots.output_path(&file.name))
            .ok()
            .map(|bytes| gzip_size(&bytes));
    });
}

/// How many bundles the build report lists, largest first.
pub const LARGEST_REPORTED: usize = 10;

/// Gzip and Brotli sizes of the largest bundles, whatever the total: what a browser downloads
/// for the heaviest pages.
pub(super) fn measure_largest(bundles: &mut [Output], roots: &Roots, cache: &Cache) {
    let mut largest: Vec<&mut Output> = bundles.iter_mut().collect();
    largest.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    largest.truncate(LARGEST_REPORTED);
    largest.into_par_iter().for_each(|file| {
        let path = roots.output_path(&file.name);
        if let Some((gzip, brotli)) = compressed_sizes(cache, &path, &file.name, file.bytes) {
            file.gzip_bytes = Some(gzip);
            file.brotli_bytes = brotli;
        }
    });
}

/// The gzip (level 9) and Brotli (quality 5) sizes of the bundle `name` of `size` bytes at
/// `path`. A bundle's name carries its content's hash, so its sizes are kept in the build
/// cache and measured once; `None` when the file cannot be read.
pub fn compressed_sizes(
    cache: &Cache,
    path: &std::path::Path,
    name: &str,
    size: u64,
) -> Option<(u64, Option<u64>)> {
    let key = Cache::key(&[b"compressed sizes", name.as_bytes(), &size.to_le_bytes()]);
    if let Some(sizes) = cache.get::<(u64, Option<u64>)>(&key, None) {
        return Some(sizes);
    }
    let bytes = std::fs::read(path).ok()?;
    let sizes = (gzip_size(&bytes), brotli_size(&bytes));
    if bytes.len() as u64 == size {
        cache.put_local(&key, &sizes);
    }
    Some(sizes)
}

/// Brotli at quality 5, the level CDNs compress at on the fly: quality 11 (what a precompressed
/// file gets, about a tenth smaller) on the ten largest bundles of a large site took 2.4 s of a
/// 2 s build, and quality 9 80 MB of memory. The window is no larger than the file.
pub fn brotli_size(bytes: &[u8]) -> Option<u64> {
    let window = (usize::BITS - bytes.len().max(1).leading_zeros()).clamp(16, 22);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: window as i32,
        size_hint: bytes.len(),
        ..brotli::enc::BrotliEncoderParams::default()
    };
    let mut out = Vec::new();
    // A failure leaves the size unmeasured rather than reported as 0.
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)
        .ok()
        .map(|_| out.len() as u64)
}

pub fn gzip_size(bytes: &[u8]) -> u64 {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = encoder.write_all(bytes);
    encoder.finish().map_or(0, |out| out.len() as u64)
}
