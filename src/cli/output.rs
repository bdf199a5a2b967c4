//! What a command prints, in the format asked for: `human` (a summary on stdout, warnings and
//! errors on stderr with the offending line), `json` (one document on stdout, described by
//! `schema/report.schema.json`) or `github` (human, but warnings and errors as workflow
//! commands on stdout, which put them on the pull request's lines).

use indicatif::HumanBytes;
use serde_json::{json, Map, Value};

use stapler::error::{Location, Warning};
use stapler::publish::Report;
use stapler::{CheckReport, Config, Error, Lookup, Summary};

use super::diagnostics::{self, Severity};
use super::html_report::Written;
use super::report::{self, Comparison};
use super::totals::{print_publish, print_totals};
use super::Format;

/// The version of the JSON document's shape; it changes only when a field changes meaning or
/// goes away (new fields may appear).
const JSON_VERSION: u64 = 1;

pub struct Printer {
    pub format: Format,
    /// `-v`: every warning, every file written, the store client's detail of a failure.
    pub verbose: bool,
    /// `-q`: nothing but errors.
    pub quiet: bool,
    colour: bool,
    document: Map<String, Value>,
}

fn place(location: Option<&Location>) -> Value {
    match location {
        Some(location) => json!({
            "file": location.file.display().to_string(),
            "line": (location.line > 0).then_some(location.line),
            "column": (location.column > 0).then_some(location.column),
        }),
        None => json!({"file": null, "line": null, "column": null}),
    }
}

fn with_place(location: Option<&Location>, message: &str) -> Value {
    let mut value = place(location);
    value["message"] = json!(message);
    value
}

fn warning_value(warning: &Warning) -> Value {
    with_place(warning.location.as_ref(), &warning.message)
}

impl Printer {
    pub fn new(command: &str, format: Format, verbose: bool, quiet: bool) -> Printer {
        let mut document = Map::new();
        document.insert("version".into(), json!(JSON_VERSION));
        document.insert(
            "stapler".into(),
            json!(concat!(
                env!("CARGO_PKG_VERSION"),
                " (commit ",
                env!("BUILT_FROM_COMMIT"),
                ")"
            )),
        );
        document.insert("command".into(), json!(command));
        document.insert("notes".into(), json!([]));
        Printer {
            format,
            verbose,
            quiet: quiet || format == Format::Json,
            colour: diagnostics::colour_on_stderr(),
            document,
        }
    }

    /// Whether a progress bar may draw.
    pub fn shows_progress(&self) -> bool {
        !self.quiet
    }

    /// What stapler noticed in Django's settings and does its own way.
    pub fn notes(&mut self, config: &Config) {
        match self.format {
            Format::Json => {
                self.document
                    .insert("notes".into(), json!(config.notes.clone()));
            }
            Format::Human | Format::Github if !self.quiet => {
                for note in &config.notes {
                    eprintln!("note: {note}");
                }
            }
            _ => {}
        }
    }

    fn warnings(&self, warnings: &[Warning]) {
        match self.format {
            Format::Json => {}
            Format::Github => {
                for warning in warnings {
                    println!(
                        "{}",
                        diagnostics::workflow_command(
                            Severity::Warning,
                            warning.location.as_ref(),
                            &warning.message
                        )
                    );
                }
            }
            Format::Human if !self.quiet || self.verbose => {
                diagnostics::print_warnings(warnings, self.verbose, self.colour);
            }
            Format::Human => {}
        }
    }

    /// A build's summary: warnings, the largest bundles, the comparison, then the totals.
    pub fn summary(&mut self, summary: &Summary, reported: &Reported) {
        let build = &summary.build;
        let comparison = reported.comparison.as_ref();
        let warnings = summary_warnings(summary);
        if self.format == Format::Json {
            let mut value = build_value(summary, &warnings, comparison);
            value["anatomy"] = serde_json::to_value(&reported.anatomy).unwrap_or_default();
            value["report"] = report_value(reported.written.as_ref());
            self.document.insert("build".into(), value);
            return;
        }
        self.warnings(&warnings);
        if self.quiet {
            return;
        }
        if self.verbose {
            for (template, reason) in &summary.by_django {
                eprintln!("django: {} ({reason})", template.display());
            }
            for file in build
                .bundles
                .iter()
                .chain(&build.assets)
                .chain(&build.precompressed)
            {
                eprintln!("wrote {} ({})", file.name, HumanBytes(file.bytes));
            }
        }
        report::print_largest(summary);
        if let Some(comparison) = comparison {
            report::print_comparison(comparison);
        }
        print_totals(summary);
        if let Some(written) = &reported.written {
            println!("         {}", report_line(written, &reported.anatomy));
        }
    }

    /// The report of a build recorded earlier (`stapler report`, `publish --report`).
    pub fn report_written(&mut self, reported: &Reported) {
        if self.format == Format::Json {
            self.document
                .insert("report".into(), report_value(reported.written.as_ref()));
            self.document.insert(
                "anatomy".into(),
                serde_json::to_value(&reported.anatomy).unwrap_or_default(),
            );
            return;
        }
        if let (Some(written), false) = (&reported.written, self.quiet) {
            println!("stapler: {}", report_line(written, &reported.anatomy));
        }
    }

    pub fn publish(&mut self, report: &Report) {
        if self.format == Format::Json {
            self.document
                .insert("publish".into(), publish_value(report));
            return;
        }
        let warnings: Vec<Warning> = report.warnings.iter().map(Warning::general).collect();
        self.warnings(&warnings);
        if report.dry_run {
            print!("{}", report.plan_text);
            println!(
                "dry run: nothing was sent to {} ({} requests)",
                report.target, report.requests
            );
            return;
        }
        if !self.quiet {
            print_publish(report);
        }
    }

    pub fn lookup(&mut self, template: &str, lookup: &Lookup) {
        if self.format == Format::Json {
            let blocks: Vec<Value> = lookup
                .entries
                .iter()
                .map(|entry| {
                    let block = &entry.block;
                    let mut value = place(Some(&block.location));
                    value["kind"] = json!(block.kind.to_string());
                    value["context"] = json!(block.context);
                    value["key"] = json!(block.key);
                    value["body"] = json!(block.body);
                    value["in_manifest"] = json!(entry.html.is_some());
                    value["html"] = json!(entry.html);
                    value
                })
                .collect();
            self.document.insert(
                "lookup".into(),
                json!({
                    "template": template,
                    "manifest_problem": lookup.manifest_problem.as_ref().map(ToString::to_string),
                    "blocks": blocks,
                }),
            );
            return;
        }
        if let Some(problem) = &lookup.manifest_problem {
            let warning = Warning::general(problem.to_string());
            self.warnings(std::slice::from_ref(&warning));
        }
        if lookup.entries.is_empty() {
            println!("{template} has no compress blocks (after inheritance).");
        }
        for entry in &lookup.entries {
            let block = &entry.block;
            println!(
                "── {} block at {} (context {})",
                block.kind, block.location, block.context
            );
            println!("key:  {}", block.key);
            println!("body:\n{}", block.body);
            match &entry.html {
                Some(html) => println!("in manifest: yes\nrenders to:\n{html}\n"),
                None => println!("in manifest: NO — run `stapler compress --offline`; if it is still missing, the body above differs from what the server renders\n"),
            }
        }
    }

    pub fn check(&mut self, report: &CheckReport) {
        match self.format {
            Format::Json => {
                self.document.insert(
                    "check".into(),
                    serde_json::to_value(report).unwrap_or(Value::Null),
                );
            }
            Format::Github => {
                for finding in &report.findings {
                    let location = (!finding.file.is_empty())
                        .then(|| Location::new(&finding.file, finding.line));
                    println!(
                        "{}",
                        diagnostics::workflow_command(
                            Severity::Error,
                            location.as_ref(),
                            &format!("{}: {}", finding.kind, finding.message)
                        )
                    );
                }
            }
            Format::Human => {
                for finding in &report.findings {
                    eprintln!("{}: {}", finding.kind, finding.describe());
                }
            }
        }
        if self.format != Format::Json && report.findings.is_empty() {
            println!(
                "stapler check: {} templates, {} blocks: nothing would make a key go missing",
                report.templates, report.blocks
            );
        }
    }

    /// How the run ended: the document (json), or the error as the format says it.
    pub fn finish(mut self, outcome: Result<(), &Error>, exit_code: i32) {
        match self.format {
            Format::Json => {
                let errors: Vec<Value> = match outcome {
                    Ok(()) => Vec::new(),
                    Err(error) => diagnostics::error_items(error)
                        .iter()
                        .map(|(location, message)| with_place(location.as_ref(), message))
                        .collect(),
                };
                self.document.insert("ok".into(), json!(outcome.is_ok()));
                self.document.insert("exit_code".into(), json!(exit_code));
                self.document.insert("errors".into(), json!(errors));
                match serde_json::to_string_pretty(&Value::Object(self.document)) {
                    Ok(text) => println!("{text}"),
                    Err(error) => {
                        eprintln!("error: the report cannot be written as JSON ({error})")
                    }
                }
            }
            Format::Github => {
                if let Err(error) = outcome {
                    for command in diagnostics::error_commands(error) {
                        println!("{command}");
                    }
                    diagnostics::print_error(error, false);
                }
            }
            Format::Human => {
                if let Err(error) = outcome {
                    diagnostics::print_error(error, self.colour);
                    if self.verbose {
                        for context in error.context() {
                            eprintln!("  detail: {context}");
                        }
                    }
                }
            }
        }
    }
}

/// What a build's comparison and report gave, for the summary.
pub struct Reported {
    pub comparison: Option<Comparison>,
    pub anatomy: stapler::anatomy::Anatomy,
    pub written: Option<Written>,
}

/// Every warning of a build, as the summary and the report show them: skipped templates,
/// departures and the shared cache's first, then the build's own.
pub fn summary_warnings(summary: &Summary) -> Vec<Warning> {
    let build = &summary.build;
    let mut warnings: Vec<Warning> = summary
        .skipped
        .iter()
        .map(|skipped| {
            Warning::at(
                Location::file(&skipped.template),
                format!("template skipped: {}", skipped.reason),
            )
        })
        .collect();
    warnings.extend(
        build
            .shared_cache
            .warnings
            .iter()
            .chain(&summary.departures)
            .map(Warning::general),
    );
    warnings.extend(build.warnings.iter().cloned());
    warnings
}

fn report_line(written: &Written, anatomy: &stapler::anatomy::Anatomy) -> String {
    let repeated = &anatomy.totals;
    format!(
        "wrote the report {} ({}, {} bundles, {} sources, {} of them in more than one bundle) in {:.2} s",
        written.path.display(),
        HumanBytes(written.bytes),
        repeated.bundles,
        repeated.sources,
        repeated.repeated_sources,
        written.elapsed.as_secs_f64()
    )
}

fn report_value(written: Option<&Written>) -> Value {
    written.map_or(Value::Null, |written| {
        json!({
            "path": written.path.display().to_string(),
            "bytes": written.bytes,
            "seconds": written.elapsed.as_secs_f64(),
        })
    })
}

fn build_value(summary: &Summary, warnings: &[Warning], comparison: Option<&Comparison>) -> Value {
    let build = &summary.build;
    let output = |file: &stapler::compress::Output| {
        json!({
            "name": file.name,
            "bytes": file.bytes,
            "gzip_bytes": file.gzip_bytes,
            "brotli_bytes": file.brotli_bytes,
        })
    };
    let (bytes, gzip) = summary.bytes_out();
    let pairs = |list: &[(std::path::PathBuf, String)]| -> Vec<Value> {
        list.iter()
            .map(|(file, reason)| json!({"file": file.display().to_string(), "reason": reason}))
            .collect()
    };
    let skipped: Vec<(std::path::PathBuf, String)> = summary
        .skipped
        .iter()
        .map(|skipped| (skipped.template.clone(), skipped.reason.clone()))
        .collect();
    json!({
        "templates": {
            "scanned": summary.templates,
            "skipped": pairs(&skipped),
            "rendered_by_django": pairs(&summary.by_django),
        },
        "blocks": {
            "seen": build.blocks_seen,
            "unique": build.unique_blocks,
            "contexts": summary.contexts,
        },
        "sources": {
            "read": build.sources,
            "bytes": build.bytes_in,
            "from_cache": build.cached,
        },
        "bundles": build.bundles.iter().map(output).collect::<Vec<_>>(),
        "largest": report::largest(summary).into_iter().map(output).collect::<Vec<_>>(),
        "assets": build.assets.iter().map(output).collect::<Vec<_>>(),
        "precompressed": build.precompressed.iter().map(output).collect::<Vec<_>>(),
        "source_maps": build.source_maps.iter().map(output).collect::<Vec<_>>(),
        "totals": {"bundle_bytes": bytes, "gzip_bytes": gzip},
        "warnings": warnings.iter().map(warning_value).collect::<Vec<_>>(),
        "manifest": summary.manifest_path.display().to_string(),
        "unchanged": summary.unchanged.map(|files| json!({"files_checked": files})),
        "shared_cache": {
            "fetched": build.shared_cache.fetched,
            "uploaded": build.shared_cache.uploaded,
            "culled": build.shared_cache.culled,
        },
        "comparison": comparison.and_then(|c| serde_json::to_value(c).ok()),
        "parts": serde_json::to_value(&build.parts).unwrap_or_default(),
        "timings": {
            "total_seconds": summary.elapsed.as_secs_f64(),
            "bridge_seconds": summary.bridge.as_ref().map(|bridge| bridge.spent.as_secs_f64()),
            "bridge_overlap_seconds": summary.bridge.as_ref().map(|bridge| bridge.overlap.as_secs_f64()),
            "bridge_started": summary.bridge.as_ref().map(|bridge| bridge.started),
            "django_settings_recorded": summary.bridge.as_ref().map(|bridge| bridge.settings_recorded),
            "django_settings_asked_because": summary.bridge.as_ref().and_then(|bridge| bridge.settings_asked_because.clone()),
        },
    })
}

fn publish_value(report: &Report) -> Value {
    json!({
        "target": report.target,
        "dry_run": report.dry_run,
        "plan": report.dry_run.then_some(&report.plan_text),
        "sent": report.sent,
        "sent_bytes": report.sent_bytes,
        "skipped": report.skipped,
        "deleted": report.deleted,
        "repaired": report.repaired,
        "requests": report.requests,
        "retries": report.retries,
        "release": report.release,
        "invalidation": report.invalidated.as_ref().map(|done| json!({"ids": done.ids, "paths": done.paths, "completed": done.completed})),
        "earlier_keys": report.earlier_keys.map(|(keys, releases)| json!({"keys": keys, "releases": releases})),
        "warnings": report.warnings.iter().map(|w| with_place(None, w)).collect::<Vec<_>>(),
        "verify": report.verified.as_ref().and_then(|verified| serde_json::to_value(verified).ok()),
        "seconds": report.elapsed.as_secs_f64(),
    })
}
