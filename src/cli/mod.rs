//! The command line: clap definitions, and what is generated from them (`reference`: shell
//! completions and manual pages). `main.rs` turns these into settings once.

pub mod diagnostics;
pub mod html_report;
pub mod output;
pub mod reference;
pub mod report;
mod totals;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "stapler",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BUILT_FROM_COMMIT"), ")"),
    about = "Bundle, minify and hash the CSS and JS of {% compress %} blocks, offline",
    after_help = "Exit codes: 0 success, 1 bad input (a template, stylesheet, script or referenced file), 2 bad configuration or command line, 3 a file could not be written, 4 the publish target refused, failed or could not be reached and the previous release is still live (the message says what was sent), 5 the new release went live (or may have) but the publish did not finish (the message says which release is live; rerun), 6 the release is live but, fetched through --public-url, visitors do not get it whole (--verify; the message names each object)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build every {% compress %} block and write the offline manifest.
    Compress(CompressArgs),
    /// Show a template's compress blocks: rendered body, key, and what the manifest holds.
    Lookup(LookupArgs),
    /// Send the static root to S3 (or a local directory): only what changed, the manifest last.
    Publish(PublishArgs),
    /// `compress --offline`, then `publish`: the whole job, for CI.
    Deploy(PublishArgs),
    /// Scan without writing anything and report every cause of a missing key a build can see
    /// (undefined or request variables in blocks, skipped templates, one key in two modes,
    /// folders Django knows that the settings leave out); exit 1 when there is any.
    Check(CheckArgs),
    /// Write the HTML report of the last build from its record, without building: a treemap of
    /// the bundles and their sources, the sources many bundles repeat, where each bundle comes
    /// from, the warnings.
    Report(ReportArgs),
    /// Print the resolved settings and where each came from (file, environment, flag, Django).
    Config(ConfigArgs),
    /// Write a stapler.toml from the Django project's settings, every folder listed, for builds
    /// without Python (render = "native").
    Init(InitArgs),
    /// Print a completion script for a shell, e.g. `stapler completions bash >
    /// ~/.local/share/bash-completion/completions/stapler`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `stapler man > ~/.local/share/man/man1/stapler.1`,
    /// or write it and one page per command (`stapler-compress.1`, ...) with `--output-dir`.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `stapler.1` and a page per command into this folder instead of printing.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, value_enum, default_value = "human", help = FORMAT_HELP)]
    pub format: Format,
}

const FORMAT_HELP: &str = "`human`: a summary, warnings and errors with the offending line; `json`: one document on stdout (schema/report.schema.json); `github`: human, with warnings and errors as GitHub Actions workflow commands";

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Github,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub common: Common,
    /// Where to write (default: stapler.toml in the working directory).
    #[arg(long, short = 'o', value_name = "FILE", default_value = "stapler.toml")]
    pub output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PublishFlags {
    /// Where to publish: s3://bucket/prefix or file:///directory.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// An S3-compatible endpoint, such as http://127.0.0.1:9000.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The bucket's region.
    #[arg(long)]
    pub region: Option<String>,
    /// Print the plan and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Uploads in flight at once (default 32).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Delete objects that none of the last `--keep` releases references.
    #[arg(long)]
    pub prune: bool,
    /// How many releases `--prune` keeps (default 3).
    #[arg(long, requires = "prune")]
    pub keep: Option<usize>,
    /// Seconds the publish may take before it gives up, the previous release still live
    /// (default 120, plus one per MiB of the static root).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// After the manifest is up, fetch every object the release added (and the manifest) through
    /// the URL visitors use, and compare bytes, types, cache and encoding headers and SRI: exit
    /// 6 when visitors would not get the release whole.
    #[arg(long)]
    pub verify: bool,
    /// The URL visitors fetch the static root at (the CDN's), for --verify.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Take the publish lock (`.stapler/lock`) although another run holds it: for a lock
    /// left by a publish that was killed.
    #[arg(long)]
    pub break_lock: bool,
    /// Queue behind a publish that holds the lock, for up to SECONDS (bare: until this
    /// publish's deadline), instead of failing; with `cloudfront_distribution_id`, also wait
    /// until CloudFront has finished invalidating.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "0")]
    pub wait: Option<u64>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub publish: PublishFlags,
    /// Send every object, changed or not (with `deploy`, also rebuild every output).
    #[arg(long)]
    pub force: bool,
    /// Show what the store's client said of each failure.
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[arg(long, value_enum, default_value = "human", help = FORMAT_HELP)]
    pub format: Format,
    #[command(flatten)]
    pub report: ReportFlags,
}

/// Where the HTML report goes, and what it compares with.
#[derive(Debug, Args)]
pub struct ReportFlags {
    /// Write the build's HTML report here: one self-contained page (deploy: of its build;
    /// publish: of the last build).
    #[arg(long, value_name = "PATH.html")]
    pub report: Option<PathBuf>,
    /// Say which blocks' bundles grew or shrank since the build that wrote this manifest (a
    /// copy of the previous CACHE/manifest.json; its bundles are looked for beside it and in
    /// the static root).
    #[arg(long, value_name = "PREVIOUS_MANIFEST")]
    pub compare: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the page.
    #[arg(value_name = "PATH.html")]
    pub output: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// Also say which blocks' bundles grew or shrank since the build that wrote this manifest.
    #[arg(long, value_name = "PREVIOUS_MANIFEST")]
    pub compare: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human", help = FORMAT_HELP)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct Common {
    /// The configuration file (default: ./stapler.toml, else [tool.stapler] in ./pyproject.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Template file extension to scan; repeat or separate with commas (default: .html).
    #[arg(long = "extension", short = 'e', value_name = "EXT")]
    pub extensions: Vec<String>,
    /// Template language.
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,
    /// Follow symbolic links while walking template directories.
    #[arg(long)]
    pub follow_links: bool,
    /// Minify every source again instead of using the build cache (`cache_dir`).
    #[arg(long)]
    pub no_cache: bool,
    /// The Django settings module (default: DJANGO_SETTINGS_MODULE, else the one manage.py names).
    #[arg(long, value_name = "MODULE")]
    pub settings: Option<String>,
    /// The project's Python (default: the active virtualenv's, else python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Which templates Django renders: auto (what the native renderer cannot), django (all),
    /// native (none; no Python). Default: auto in a Django project, else native.
    #[arg(long, value_enum)]
    pub render: Option<RenderArg>,
}

/// The render modes `--render` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderArg {
    Auto,
    Native,
    Django,
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub common: Common,
    /// Compress offline (the only mode; accepted for compatibility with `manage.py compress`).
    #[arg(long)]
    pub offline: bool,
    /// Rewrite every output even when a file of the same name exists.
    #[arg(long)]
    pub force: bool,
    /// Fail on any skipped template or warning, leaving the previous manifest in place.
    #[arg(long)]
    pub strict: bool,
    /// Show every warning and every file written.
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[arg(long, value_enum, default_value = "human", help = FORMAT_HELP)]
    pub format: Format,
    #[command(flatten)]
    pub report: ReportFlags,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The template's name, relative to a template directory (as {% extends %} names it).
    pub template: String,
    #[command(flatten)]
    pub common: Common,
    #[arg(long, value_enum, default_value = "human", help = FORMAT_HELP)]
    pub format: Format,
}

/// The template languages `--engine` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Django,
    Jinja2,
}
