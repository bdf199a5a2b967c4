//! The `stapler` binary: parse the command line, run the library, report, exit.

mod cli;

use std::io::IsTerminal;
use std::process;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cli::output::Printer;
use cli::{Cli, Command, Common, EngineArg, Format, PublishFlags, RenderArg};
use stapler::config::settings::PublishSection;
use stapler::config::{self, Engine, RenderMode, Settings, Sources};
use stapler::progress::Work;
use stapler::store::StoreError;
use stapler::{Config, Error, Progress, Run, RunFlags};

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
    /// The release is live, but visitors do not get it whole (`--verify`): the CDN in front
    /// of the bucket serves other bytes or headers, or none. The message lists each object.
    Unverified = 6,
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
            Error::NotVerified { .. } => ExitCode::Unverified,
            Error::Strict(_) | Error::Findings(_) => ExitCode::Input,
            Error::Many(errors) => errors.first().map_or(ExitCode::Input, ExitCode::of),
        }
    }
}

fn main() {
    let cli = Cli::parse();
    stapler::interrupt::install();
    let mut printer = printer_for(&cli.command);
    let outcome = run_command(cli, &mut printer);
    let code = match &outcome {
        Ok(()) => ExitCode::Success,
        Err(error) => ExitCode::of(error),
    };
    printer.finish(outcome.as_ref().map(|_| ()), code as i32);
    process::exit(code as i32);
}

/// How the command prints: its format, `-v` and `-q`.
fn printer_for(command: &Command) -> Printer {
    let (name, format, verbose, quiet) = match command {
        Command::Compress(args) => ("compress", args.format, args.verbose, args.quiet),
        Command::Publish(args) => ("publish", args.format, args.verbose, args.quiet),
        Command::Deploy(args) => ("deploy", args.format, args.verbose, args.quiet),
        Command::Lookup(args) => ("lookup", args.format, false, false),
        Command::Check(args) => ("check", args.format, false, false),
        Command::Report(args) => ("report", args.format, false, false),
        Command::Config(_) => ("config", Format::Human, false, false),
        Command::Init(_) => ("init", Format::Human, false, false),
        Command::Completions(_) => ("completions", Format::Human, false, false),
        Command::Man(_) => ("man", Format::Human, false, false),
    };
    Printer::new(name, format, verbose, quiet)
}

/// The settings the flags give: the top layer over the file and the environment.
fn load_config(common: &Common, publish: Option<&PublishFlags>) -> Result<(Config, Run), Error> {
    load_config_for(common, publish, false)
}

/// The settings; `compare_with_django` also asks Django whether native settings still match.
fn load_config_for(
    common: &Common,
    publish: Option<&PublishFlags>,
    compare_with_django: bool,
) -> Result<(Config, Run), Error> {
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
            public_url: publish.public_url.clone(),
            verify: publish.verify.then_some(true),
            ..PublishSection::default()
        });
    }
    let sources = Sources {
        file: common.config.clone(),
        flags,
        no_cache: common.no_cache,
        compare_with_django,
    };
    stapler::start(&sources, &config::process_env())
}

/// The manifest `--compare` names, read before the build replaces the current one.
fn read_previous(
    flags: &cli::ReportFlags,
    config: &Config,
) -> Result<Option<cli::report::Previous>, Error> {
    flags
        .compare
        .as_deref()
        .map(|path| cli::report::read_previous(path, &config.manifest))
        .transpose()
}

/// The comparison with the previous build, and the HTML report when `report` names a path
/// (with every bundle's compressed sizes measured for it); what the build is made of, for the
/// report and for `json` output.
fn report_build(
    summary: &stapler::Summary,
    config: &Config,
    previous: Option<cli::report::Previous>,
    report: Option<&std::path::Path>,
    json: bool,
) -> Result<cli::output::Reported, Error> {
    let comparison = previous
        .map(|previous| cli::report::compare(&previous, config))
        .transpose()?;
    // A run that found nothing changed reports from the record of what it depends on, which
    // leaves out what bundles are made of: the last build's record has it.
    let described = match summary.unchanged {
        Some(_)
            if (report.is_some() || json)
                && summary.build.compositions.is_empty()
                && !summary.build.bundles.is_empty() =>
        {
            stapler::last_build::read(config).ok()
        }
        _ => None,
    };
    let summary = described.as_ref().unwrap_or(summary);
    let mut anatomy = stapler::anatomy::Anatomy::of(&summary.build, &summary.by_django);
    let written = match report {
        Some(path) => {
            anatomy.measure(&config.compress.root, config.compress.cache_dir.as_deref());
            let warnings = cli::output::summary_warnings(summary);
            Some(cli::html_report::write(
                path,
                &anatomy,
                &warnings,
                comparison.as_ref(),
                &summary.manifest_path,
            )?)
        }
        None => None,
    };
    Ok(cli::output::Reported {
        comparison,
        anatomy,
        written,
    })
}

fn run_command(cli: Cli, printer: &mut Printer) -> Result<(), Error> {
    match cli.command {
        Command::Compress(args) => {
            let (config, run) = load_config(&args.common, None)?;
            printer.notes(&config);
            let previous = read_previous(&args.report, &config)?;
            let flags = RunFlags {
                force: args.force,
                strict: args.strict,
                ..RunFlags::default()
            };
            let bar = Bar::new(show_bar(printer));
            let summary = stapler::compress(&config, &run, &flags, &bar)?;
            let reported = report_build(
                &summary,
                &config,
                previous,
                args.report.report.as_deref(),
                args.format == Format::Json,
            )?;
            printer.summary(&summary, &reported);
            Ok(())
        }
        Command::Publish(args) => {
            let (config, run) = load_config(&args.common, Some(&args.publish))?;
            let previous = read_previous(&args.report, &config)?;
            let bar = Bar::new(show_bar(printer));
            let report = stapler::publish(&config, &run, &publish_flags(&args), &bar)?;
            // What was published is said even when the page cannot be written.
            printer.publish(&report);
            if args.report.report.is_some() {
                let summary = stapler::last_build::read(&config)?;
                let reported = report_build(
                    &summary,
                    &config,
                    previous,
                    args.report.report.as_deref(),
                    args.format == Format::Json,
                )?;
                printer.report_written(&reported);
            }
            Ok(())
        }
        Command::Deploy(args) => {
            let (config, run) = load_config(&args.common, Some(&args.publish))?;
            let previous = read_previous(&args.report, &config)?;
            let bar = Bar::new(show_bar(printer));
            printer.notes(&config);
            let deployed = stapler::deploy(&config, &run, &publish_flags(&args), &bar)?;
            let reported = report_build(
                &deployed.summary,
                &config,
                previous,
                args.report.report.as_deref(),
                args.format == Format::Json,
            );
            if let Ok(reported) = &reported {
                printer.summary(&deployed.summary, reported);
            }
            // A failed publish is the error to report; a page that could not be written does
            // not hide what was published.
            printer.publish(&deployed.published?);
            reported.map(|_| ())
        }
        Command::Report(args) => {
            let (config, _) = load_config(&args.common, None)?;
            let previous = args
                .compare
                .as_deref()
                .map(|path| cli::report::read_previous(path, &config.manifest))
                .transpose()?;
            let summary = stapler::last_build::read(&config)?;
            let reported = report_build(
                &summary,
                &config,
                previous,
                Some(&args.output),
                args.format == Format::Json,
            )?;
            printer.report_written(&reported);
            Ok(())
        }
        Command::Lookup(args) => {
            let (config, run) = load_config(&args.common, None)?;
            let lookup = stapler::lookup(&config, &run, &args.template)?;
            printer.lookup(&args.template, &lookup);
            let missing = lookup.entries.iter().filter(|e| e.html.is_none()).count();
            if missing > 0 || lookup.manifest_problem.is_some() {
                return Err(Error::input(
                    stapler::error::Location::file(&args.template),
                    format!(
                        "{missing} of {} block(s) are missing from the manifest",
                        lookup.entries.len()
                    ),
                ));
            }
            Ok(())
        }
        Command::Config(args) => {
            let (config, run) = load_config(&args.common, None)?;
            show_config(&config, &run);
            Ok(())
        }
        Command::Check(args) => {
            let (config, run) = load_config_for(&args.common, None, true)?;
            printer.notes(&config);
            let report = stapler::check(&config, &run)?;
            printer.check(&report);
            if report.findings.is_empty() {
                Ok(())
            } else {
                Err(Error::Findings(report.findings.len()))
            }
        }
        Command::Completions(args) => cli::reference::completions(args.shell),
        Command::Man(args) => cli::reference::manual(args.output_dir.as_deref()),
        Command::Init(args) => {
            let (config, _) = load_config(&args.common, None)?;
            printer.notes(&config);
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

/// Every setting given, with where it came from, and the Django project the run is in.
fn show_config(config: &Config, run: &Run) {
    match (&config.project, run.bridge()) {
        (Some(project), Some(bridge)) => {
            println!(
                "# Django project {} (settings {}, from {}), Python {} with Django {} and {}",
                project.dir.display(),
                project.settings,
                project.settings_from,
                bridge.python(),
                bridge.ready.django,
                match &bridge.ready.compressor_version {
                    Some(version) => format!("django-compressor {version}"),
                    None => "without django-compressor (stapler_assets)".to_string(),
                }
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

fn publish_flags(args: &cli::PublishArgs) -> RunFlags {
    RunFlags {
        force: args.force,
        dry_run: args.publish.dry_run,
        prune: args.publish.prune,
        break_lock: args.publish.break_lock,
        wait: args.publish.wait.is_some(),
        lock_wait: args.publish.wait.map(|seconds| match seconds {
            0 => None,
            seconds => Some(seconds),
        }),
        strict: false,
    }
}

fn show_bar(printer: &Printer) -> bool {
    printer.shows_progress() && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
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
                Error::NotVerified {
                    message: "1 of 2 objects are not what was sent".into(),
                },
                ExitCode::Unverified,
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
