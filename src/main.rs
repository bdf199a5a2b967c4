//! The `stapler` binary: parse the command line, run the library, report, exit.

mod cli;

use std::io::IsTerminal;
use std::process;

use clap::Parser;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use cli::{Cli, Command, Common, EngineArg, PublishFlags, RenderArg};
use stapler::config::settings::PublishSection;
use stapler::config::{self, Engine, RenderMode, Settings, Sources};
use stapler::progress::Work;
use stapler::publish::Report;
use stapler::store::StoreError;
use stapler::{Config, Error, Progress, RunFlags, Summary};

/// Parsing and minifying allocate many small nodes on every core at once, which the system
/// allocator serialises on its arenas' locks; mimalloc keeps a heap per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How the process ends: scripts can tell a broken input from a broken setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitCode {
    Success = 0,
    /// A template, stylesheet, script or referenced file is wrong; fix the input.
    Input = 1,
    /// The command line or configuration is wrong.
    Config = 2,
    /// The machine refused: a directory cannot be written, a disk is full.
    Io = 3,
    /// The publish target refused, failed or could not be reached before any manifest changed:
    /// the previous release is still live. The message says what went up.
    Remote = 4,
    /// The new manifest went live (or may have), but the publish did not finish: its record,
    /// the other manifest or pruning. The message says which release is live; rerun.
    Live = 5,
}

impl ExitCode {
    fn of(error: &Error) -> ExitCode {
        match error {
            Error::Config(_) => ExitCode::Config,
            Error::Django(error) if error.is_setup() => ExitCode::Config,
            Error::Django(_) => ExitCode::Io,
            Error::Template { .. } | Error::Input { .. } | Error::NothingToCompress { .. } => {
                ExitCode::Input
            }
            Error::Io { .. } | Error::Runtime(_) => ExitCode::Io,
            Error::Store(StoreError::Changed { .. } | StoreError::Unreadable { .. }) => {
                ExitCode::Input
            }
            Error::Store(StoreError::Io { .. }) => ExitCode::Io,
            Error::Store(_) | Error::NotPublished { .. } => ExitCode::Remote,
            Error::PartlyPublished { .. } => ExitCode::Live,
            Error::Strict(_) | Error::Findings(_) => ExitCode::Input,
            Error::Many(errors) => errors.first().map_or(ExitCode::Input, ExitCode::of),
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(()) => ExitCode::Success,
        Err((error, verbose)) => {
            eprintln!("error: {error}");
            if verbose {
                for context in error.context() {
                    eprintln!("  detail: {context}");
                }
            }
            ExitCode::of(&error)
        }
    };
    process::exit(code as i32);
}

/// The settings the flags give: the top layer over the file and the environment.
fn load_config(common: &Common, publish: Option<&PublishFlags>) -> Result<Config, Error> {
    let mut flags = Settings {
        extensions: (!common.extensions.is_empty()).then(|| common.extensions.clone()),
        engine: common.engine.map(|engine| match engine {
            EngineArg::Django => Engine::Django,
            EngineArg::Jinja2 => Engine::Jinja2,
        }),
        follow_links: common.follow_links.then_some(true),
        django_settings: common.settings.clone(),
        python: common.python.clone(),
        render: common.render.map(|render| match render {
            RenderArg::Auto => RenderMode::Auto,
            RenderArg::Native => RenderMode::Native,
            RenderArg::Django => RenderMode::Django,
        }),
        ..Settings::default()
    };
    if let Some(publish) = publish {
        flags.publish = Some(PublishSection {
            to: publish.to.clone(),
            endpoint_url: publish.endpoint_url.clone(),
            region: publish.region.clone(),
            jobs: publish.jobs,
            keep: publish.keep,
            timeout: publish.timeout,
            ..PublishSection::default()
        });
    }
    let sources = Sources {
        file: common.config.clone(),
        flags,
        no_cache: common.no_cache,
    };
    config::load(&sources, &config::process_env())
}

/// Runs a command; a failure comes with whether `-v` asked for the client's detail.
fn run(cli: Cli) -> Result<(), (Error, bool)> {
    let verbose = match &cli.command {
        Command::Compress(args) => args.verbose,
        Command::Publish(args) | Command::Deploy(args) => args.verbose,
        Command::Lookup(_)
        | Command::Config(_)
        | Command::Init(_)
        | Command::Check(_)
        | Command::Completions(_)
        | Command::Man(_) => false,
    };
    run_command(cli).map_err(|error| (error, verbose))
}

fn run_command(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Compress(args) => {
            let config = load_config(&args.common, None)?;
            print_notes(&config, args.quiet);
            let flags = RunFlags {
                force: args.force,
                strict: args.strict,
                ..RunFlags::default()
            };
            let bar = Bar::new(show_bar(args.quiet));
            let summary = stapler::compress(&config, &flags, &bar)?;
            if !args.quiet {
                print_summary(&summary, args.verbose);
            }
            Ok(())
        }
        Command::Publish(args) => {
            let config = load_config(&args.common, Some(&args.publish))?;
            let bar = Bar::new(show_bar(args.quiet));
            let report = stapler::publish(&config, &publish_flags(&args), &bar)?;
            print_report(&report, args.quiet);
            Ok(())
        }
        Command::Deploy(args) => {
            let config = load_config(&args.common, Some(&args.publish))?;
            let bar = Bar::new(show_bar(args.quiet));
            print_notes(&config, args.quiet);
            let deployed = stapler::deploy(&config, &publish_flags(&args), &bar)?;
            if !args.quiet {
                print_summary(&deployed.summary, false);
            }
            print_report(&deployed.published?, args.quiet);
            Ok(())
        }
        Command::Lookup(args) => {
            let config = load_config(&args.common, None)?;
            lookup(&config, &args.template)
        }
        Command::Config(args) => {
            let config = load_config(&args.common, None)?;
            show_config(&config);
            Ok(())
        }
        Command::Check(args) => {
            let config = load_config(&args.common, None)?;
            if args.format == cli::Format::Human {
                print_notes(&config, false);
            }
            let report = stapler::check(&config)?;
            show_check(&report, args.format);
            if report.findings.is_empty() {
                Ok(())
            } else {
                Err(Error::Findings(report.findings.len()))
            }
        }
        Command::Completions(args) => cli::reference::completions(args.shell),
        Command::Man(args) => cli::reference::manual(args.output_dir.as_deref()),
        Command::Init(args) => {
            let config = load_config(&args.common, None)?;
            print_notes(&config, false);
            let written = stapler::init(&config, &args.output, args.force)?;
            println!(
                "stapler: wrote {} from Django's settings ({} settings); builds with it run without Python (render = \"native\")",
                args.output.display(),
                written
            );
            Ok(())
        }
    }
}

/// What stapler noticed in Django's settings and does its own way.
fn print_notes(config: &Config, quiet: bool) {
    if quiet {
        return;
    }
    for note in &config.notes {
        eprintln!("note: {note}");
    }
}

/// Every setting given, with where it came from, and the Django project the run is in.
fn show_config(config: &Config) {
    match (&config.project, &config.templates.bridge) {
        (Some(project), Some(bridge)) => {
            println!(
                "# Django project {} (settings {}, from {}), Python {} with Django {} and django-compressor {}",
                project.dir.display(),
                project.settings,
                project.settings_from,
                bridge.python(),
                bridge.ready.django,
                bridge.ready.compressor
            );
        }
        _ => println!("# no Django project: settings come from stapler's own sources only"),
    }
    let render = match config.templates.render {
        RenderMode::Auto => "auto",
        RenderMode::Native => "native",
        RenderMode::Django => "django",
    };
    println!("# render = \"{render}\"");
    let width = config
        .origins
        .iter()
        .map(|origin| origin.key.len() + origin.value.to_string().len())
        .max()
        .unwrap_or(0)
        .min(90);
    for origin in &config.origins {
        let line = format!("{} = {}", origin.key, origin.value);
        println!("{line:<w$}  # {}", origin.from, w = width + 3);
    }
    for note in &config.notes {
        println!("# note: {note}");
    }
    println!("# every other setting has its default (see the README)");
}

/// `check`'s findings: one line each (grouped by file), or one JSON document on stdout.
fn show_check(report: &stapler::CheckReport, format: cli::Format) {
    if format == cli::Format::Json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("error: the report cannot be written as JSON ({error})"),
        }
        return;
    }
    for finding in &report.findings {
        eprintln!("{}: {}", finding.kind, finding.describe());
    }
    if report.findings.is_empty() {
        println!(
            "stapler check: {} templates, {} blocks: nothing would make a key go missing",
            report.templates, report.blocks
        );
    }
}

fn publish_flags(args: &cli::PublishArgs) -> RunFlags {
    RunFlags {
        force: args.force,
        dry_run: args.publish.dry_run,
        prune: args.publish.prune,
        break_lock: args.publish.break_lock,
        strict: false,
    }
}

fn lookup(config: &Config, template: &str) -> Result<(), Error> {
    let lookup = stapler::lookup(config, template)?;
    if let Some(problem) = &lookup.manifest_problem {
        eprintln!("warning: {problem}");
    }
    if lookup.entries.is_empty() {
        println!("{template} has no compress blocks (after inheritance).");
    }
    let mut missing = 0;
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
            None => {
                missing += 1;
                println!("in manifest: NO — run `stapler compress --offline`; if it is still missing, the body above differs from what the server renders\n");
            }
        }
    }
    if missing > 0 || lookup.manifest_problem.is_some() {
        return Err(Error::input(
            stapler::error::Location::file(template),
            format!(
                "{missing} of {} block(s) are missing from the manifest",
                lookup.entries.len()
            ),
        ));
    }
    Ok(())
}

fn show_bar(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

fn print_report(report: &Report, quiet: bool) {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if report.dry_run {
        print!("{}", report.plan_text);
        println!(
            "dry run: nothing was sent to {} ({} requests)",
            report.target, report.requests
        );
        return;
    }
    if quiet {
        return;
    }
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
}

/// A progress bar on a terminal, nothing elsewhere: sources compressed, or bytes uploaded.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(enabled: bool) -> Self {
        Bar(enabled.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())))
    }
}

impl Progress for Bar {
    fn start(&self, work: Work, total: u64) {
        let Some(bar) = &self.0 else { return };
        let template = match work {
            Work::Sources => "{spinner} compressing {pos}/{len} sources {wide_bar} {elapsed}",
            Work::Bytes => {
                "{spinner} uploading {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {elapsed} {msg}"
            }
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.reset();
        bar.set_length(total);
    }

    fn advance(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(done);
        }
    }

    fn status(&self, text: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(text.to_string());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
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
    for warning in build
        .shared_cache
        .warnings
        .iter()
        .chain(&summary.departures)
    {
        eprintln!("warning: {warning}");
    }
    if verbose {
        for (template, reason) in &summary.by_django {
            eprintln!("django: {} ({reason})", template.display());
        }
        for warning in &build.warnings {
            eprintln!("warning: {warning}");
        }
        for file in build.bundles.iter().chain(&build.assets) {
            eprintln!("wrote {} ({})", file.name, HumanBytes(file.bytes));
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
    if let Some(spent) = summary.bridge_time {
        println!(
            "         Django rendered {} template(s) through the bridge; the bridge took {:.2} s, Python's start-up included",
            summary.by_django.len(),
            spent.as_secs_f64()
        );
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use stapler::error::{ConfigError, Location};

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    #[test]
    fn each_error_maps_to_the_exit_code_its_fixer_needs() {
        let config = Error::Config(ConfigError {
            origin: "stapler.toml".into(),
            message: "bad".into(),
        });
        let input = Error::input(Location::file("a.css"), "bad");
        let cases = [
            (
                Error::template(Location::file("t.html"), "bad"),
                ExitCode::Input,
            ),
            (
                Error::NothingToCompress {
                    searched: "t".into(),
                    skipped: Vec::new(),
                },
                ExitCode::Input,
            ),
            (
                Error::io(&PathBuf::from("out"), "writing", io()),
                ExitCode::Io,
            ),
            (Error::Runtime(io()), ExitCode::Io),
            (
                Error::Store(StoreError::Changed { path: "a".into() }),
                ExitCode::Input,
            ),
            (
                Error::Store(StoreError::Io {
                    path: "a".into(),
                    action: "writing",
                    source: io(),
                }),
                ExitCode::Io,
            ),
            (
                Error::Store(StoreError::NoSuchBucket {
                    bucket: "b".into(),
                    endpoint: "e".into(),
                }),
                ExitCode::Remote,
            ),
            (
                Error::NotPublished {
                    message: "1 of 2 uploads failed".into(),
                    context: Vec::new(),
                },
                ExitCode::Remote,
            ),
            (
                Error::PartlyPublished {
                    message: "the record could not be written".into(),
                    context: Vec::new(),
                },
                ExitCode::Live,
            ),
            (
                Error::Many(vec![
                    Error::config("x", "y"),
                    Error::input(Location::file("a"), "b"),
                ]),
                ExitCode::Config,
            ),
            (Error::Strict(vec!["  a warning".into()]), ExitCode::Input),
            (config, ExitCode::Config),
            (input, ExitCode::Input),
        ];
        for (error, code) in cases {
            assert_eq!(ExitCode::of(&error), code, "{error}");
        }
        assert_eq!(
            [
                ExitCode::Success,
                ExitCode::Input,
                ExitCode::Config,
                ExitCode::Io,
                ExitCode::Remote,
                ExitCode::Live
            ]
            .map(|code| code as i32),
            [0, 1, 2, 3, 4, 5],
            "documented in --help and the README"
        );
    }
}
