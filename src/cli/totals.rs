//! The human summary of a build and of a publish: the lines under the table of largest bundles.

use indicatif::HumanBytes;

use stapler::publish::Report;
use stapler::Summary;

/// `precompressed 24 files beside them: 12 .gz (81.2 KiB) and 12 .br (70.4 KiB)`.
fn precompressed_line(files: &[stapler::compress::Output]) -> String {
    let mut parts = Vec::new();
    for suffix in [".gz", ".br"] {
        let of: Vec<u64> = files
            .iter()
            .filter(|file| file.name.ends_with(suffix))
            .map(|file| file.bytes)
            .collect();
        if !of.is_empty() {
            parts.push(format!(
                "{} {suffix} ({})",
                of.len(),
                HumanBytes(of.iter().sum())
            ));
        }
    }
    format!(
        "precompressed {} files beside them: {}",
        files.len(),
        parts.join(" and ")
    )
}

pub(super) fn print_totals(summary: &Summary) {
    let build = &summary.build;
    let (out, gzip) = summary.bytes_out();
    println!(
        "stapler: {} templates scanned ({} skipped), {} blocks in {} context(s), {} unique",
        summary.templates,
        summary.skipped.len(),
        build.blocks_seen,
        summary.contexts,
        build.unique_blocks,
    );
    println!(
        "         read {} distinct sources once ({}, {} minified from cache), wrote {} bundles ({}, gzip {}) and {} hashed assets in {:.2} s",
        build.sources,
        HumanBytes(build.bytes_in),
        build.cached,
        build.bundles.len(),
        HumanBytes(out),
        gzip.map_or_else(|| "not measured over 4 MiB".to_string(), |bytes| HumanBytes(bytes).to_string()),
        build.assets.len(),
        summary.elapsed.as_secs_f64(),
    );
    if !build.source_maps.is_empty() {
        let bytes: u64 = build.source_maps.iter().map(|map| map.bytes).sum();
        println!(
            "         wrote {} source maps beside the bundles ({})",
            build.source_maps.len(),
            HumanBytes(bytes)
        );
    }
    if !build.precompressed.is_empty() {
        println!("         {}", precompressed_line(&build.precompressed));
    }
    match &summary.bridge {
        Some(bridge) if bridge.started => {
            let beside = if bridge.overlap.is_zero() {
                String::new()
            } else {
                format!(", {:.2} s of it beside other work", bridge.overlap.as_secs_f64())
            };
            let recorded = match (&bridge.settings_asked_because, bridge.settings_recorded) {
                (_, true) => " (the settings from their record)".to_string(),
                (Some(why), false) => format!(" (the settings asked of Python: {why})"),
                (None, false) => String::new(),
            };
            println!(
                "         Django rendered {} template(s) through the bridge; the bridge took {:.2} s, Python's start-up included{beside}{recorded}",
                summary.by_django.len(),
                bridge.spent.as_secs_f64()
            );
        }
        Some(_) => println!(
            "         Django's settings came from their record (nothing they read changed), so Python did not start"
        ),
        None => {}
    }
    if let Some(files) = summary.unchanged {
        println!(
            "         nothing changed since the last build ({files} files checked), so nothing was rebuilt"
        );
    }
    println!("         manifest: {}", summary.manifest_path.display());
    let shared = &build.shared_cache;
    if shared.fetched > 0 || shared.uploaded > 0 || shared.culled > 0 {
        println!(
            "         shared cache: fetched {} entries, uploaded {}, culled {}",
            shared.fetched, shared.uploaded, shared.culled
        );
    }
}

pub(super) fn print_publish(report: &Report) {
    let requests = match (report.target.starts_with("file://"), report.retries) {
        (true, _) => String::new(),
        (false, 0) => format!(", {} requests", report.requests),
        (false, retries) => format!(", {} requests ({retries} retried)", report.requests),
    };
    let repaired = match report.repaired {
        0 => String::new(),
        count => format!(" ({count} damaged stored copies repaired)"),
    };
    println!(
        "stapler: published to {}: sent {} files ({}){repaired}, skipped {} unchanged, deleted {}{requests}, {:.2} s",
        report.target,
        report.sent,
        HumanBytes(report.sent_bytes),
        report.skipped,
        report.deleted,
        report.elapsed.as_secs_f64()
    );
    if let Some(release) = &report.release {
        println!("         release record: {release}");
    }
    if let Some(invalidated) = &report.invalidated {
        let state = if invalidated.paths.is_empty() {
            "nothing to invalidate: no name that is not content-hashed changed".to_string()
        } else {
            format!(
                "invalidated {} path(s) in {} request(s) ({}), {}",
                invalidated.paths.len(),
                invalidated.ids.len(),
                invalidated.ids.join(", "),
                if invalidated.completed {
                    "completed"
                } else {
                    "in progress (--wait waits for it)"
                }
            )
        };
        println!("         CloudFront: {state}");
    }
    if let Some((keys, releases)) = report.earlier_keys {
        println!(
            "         the manifest also holds {keys} keys only the {releases} earlier release(s) kept by `manifest_keep` use"
        );
    }
}
