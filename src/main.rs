//! The `stapler` binary: parse the command line, run the library, report, exit.

mod cli;

use std::io::IsTerminal;
use std::process;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cli::{Cli, Command, Common, PublishFlags};
use stapler::config::{self, Overrides};
use stapler::{publish, Config, Error, ExitCode, Progress, Summary};

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(()) => ExitCode::Success,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    };
    process::exit(code as i32);
}

fn load_config(
    common: &Common,
    force: bool,
    publish: Option<&PublishFlags>,
) -> Result<Config, Error> {
    let overrides = Overrides {
        config: common.config.clone(),
        extensions: common.extensions.clone(),
        engine: common.engine,
        follow_links: common.follow_links,
        force,
        no_cache: common.no_cache,
        to: publish.and_then(|p| p.to.clone()),
        endpoint_url: publish.and_then(|p| p.endpoint_url.clone()),
        region: publish.and_then(|p| p.region.clone()),
        jobs: publish.and_then(|p| p.jobs),
        keep: publish.and_then(|p| p.keep),
    };
    config::load(&overrides, &config::process_env())
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Compress(args) => {
            let config = load_config(&args.common, args.force, None)?;
            let bar = Bar::compressing(show_bar(args.quiet));
            let summary = stapler::compress_offline(&config, &bar)?;
            if !args.quiet {
                print_summary(&summary, args.verbose);
            }
            Ok(())
        }
        Command::Publish(args) => {
            let config = load_config(&args.common, false, Some(&args.publish))?;
            run_publish(&config, &args.publish, args.force, args.quiet)
        }
        Command::Deploy(args) => {
            let config = load_config(&args.common, args.force, Some(&args.publish))?;
            let bar = Bar::compressing(show_bar(args.quiet));
            let summary = stapler::compress_offline(&config, &bar)?;
            if !args.quiet {
                print_summary(&summary, false);
            }
            run_publish(&config, &args.publish, args.force, args.quiet)
        }
        Command::Lookup(args) => {
            let config = load_config(&args.common, false, None)?;
            let (entries, problem) = stapler::lookup(&config, &args.template)?;
            if let Some(problem) = &problem {
                eprintln!("warning: {problem}");
            }
            if entries.is_empty() {
                println!(
                    "{} has no compress blocks (after inheritance).",
                    args.template
                );
            }
            let mut missing = 0;
            for entry in &entries {
                let block = &entry.block;
                println!(
                    "── {} block at {} (context {})",
                    block.kind, block.location, block.context
                );
                println!("key:  {}", entry.key);
                println!("body:\n{}", block.body);
                match &entry.html {
                    Some(html) => println!("in manifest: yes\nrenders to:\n{html}\n"),
                    None => {
                        missing += 1;
                        println!("in manifest: NO — run `stapler compress --offline`; if it is still missing, the body above differs from what the server renders\n");
                    }
                }
            }
            if missing > 0 || problem.is_some() {
                return Err(Error::input(
                    stapler::error::Location::file(&args.template),
                    format!(
                        "{missing} of {} block(s) are missing from the manifest",
                        entries.len()
                    ),
                ));
            }
            Ok(())
        }
    }
}

fn show_bar(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

fn run_publish(
    config: &Config,
    flags: &PublishFlags,
    force: bool,
    quiet: bool,
) -> Result<(), Error> {
    let options = publish::Options {
        dry_run: flags.dry_run,
        force,
        prune: flags.prune,
    };
    let bar = Bar::uploading(show_bar(quiet));
    let report = publish::publish(config, &options, &bar)?;
    if report.dry_run {
        print!("{}", report.plan_text);
        println!(
            "dry run: nothing was sent to {} ({} requests)",
            report.target, report.requests
        );
        return Ok(());
    }
    if !quiet {
        let requests = if report.target.starts_with("file://") {
            String::new()
        } else {
            format!(", {} requests", report.requests)
        };
        println!(
            "stapler: published to {}: sent {} files ({}), skipped {} unchanged, deleted {}{requests}, {:.2} s",
            report.target,
            report.sent,
            human(report.sent_bytes),
            report.skipped,
            report.deleted,
            report.elapsed.as_secs_f64()
        );
        if let Some(release) = &report.release {
            println!("         release record: {release}");
        }
    }
    Ok(())
}

/// A progress bar on a terminal, nothing elsewhere: sources compressed, or bytes uploaded.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(enabled: bool, template: &str) -> Self {
        Bar(enabled.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        }))
    }

    fn compressing(enabled: bool) -> Self {
        Bar::new(
            enabled,
            "{spinner} compressing {pos}/{len} sources {wide_bar} {elapsed}",
        )
    }

    fn uploading(enabled: bool) -> Self {
        Bar::new(
            enabled,
            "{spinner} uploading {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {elapsed}",
        )
    }

    fn start(&self, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
        }
    }

    fn advance(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(done);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&self, sources: u64) {
        Bar::start(self, sources);
    }
    fn advance(&self, done: u64) {
        Bar::advance(self, done);
    }
    fn finish(&self) {
        Bar::finish(self);
    }
}

impl publish::Progress for Bar {
    fn start(&self, _files: u64, bytes: u64) {
        Bar::start(self, bytes);
    }
    fn sent(&self, bytes: u64) {
        Bar::advance(self, bytes);
    }
    fn finish(&self) {
        Bar::finish(self);
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn print_summary(summary: &Summary, verbose: bool) {
    let build = &summary.build;
    for skipped in &summary.skipped {
        eprintln!(
            "warning: skipped template {}: {}",
            skipped.template.display(),
            skipped.reason
        );
    }
    if verbose {
        for warning in &build.warnings {
            eprintln!("warning: {warning}");
        }
        for file in build.bundles.iter().chain(&build.assets) {
            eprintln!("wrote {} ({})", file.name, human(file.bytes));
        }
    } else if !build.warnings.is_empty() {
        eprintln!(
            "note: {} warning(s); run with -v to see them",
            build.warnings.len()
        );
    }
    let (out, gzip) = summary.bytes_out();
    println!(
        "stapler: {} templates scanned ({} skipped), {} blocks in {} context(s), {} unique",
        summary.templates,
        summary.skipped.len(),
        build.blocks,
        summary.contexts,
        build.unique_blocks,
    );
    println!(
        "         read {} distinct sources once ({}, {} minified from cache), wrote {} bundles ({}, gzip {}) and {} hashed assets in {:.2} s",
        build.sources,
        human(build.bytes_in),
        build.cached,
        build.bundles.len(),
        human(out),
        gzip.map_or_else(|| "not measured over 4 MiB".to_string(), human),
        build.assets.len(),
        summary.elapsed.as_secs_f64(),
    );
    println!("         manifest: {}", summary.manifest_path.display());
    let shared = &build.shared_cache;
    if shared.uploaded > 0 || shared.culled > 0 {
        println!(
            "         shared cache: uploaded {} entries, culled {}",
            shared.uploaded, shared.culled
        );
    }
}
