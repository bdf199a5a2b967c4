//! Templates: find them, parse them, resolve inheritance, and yield every compress block with its
//! body rendered once per offline context, exactly as the template engine would render it.

mod bridged;
mod checks;
pub mod django;
mod expression;
mod find;
mod i18n;
pub mod inherit;
pub mod jinja;
mod lookups;
pub mod render;
mod static_urls;
pub mod translate;
pub mod variables;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use find::{find_templates, read_template, Found};

use crate::block::{Block, Kind, Mode};
use crate::config::{ContextSource, Engine, OfflineContext, RenderMode, TemplateSettings};
use crate::error::{Error, Location, Result};
use crate::run::Run;

use django::Node;
use inherit::Loader;
use render::Renderer;

/// A template that was left out, and why; django-compressor skips these too.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub template: PathBuf,
    pub reason: String,
}

/// The outcome of scanning every template.
#[derive(Debug, Default)]
pub struct Scan {
    pub blocks: Vec<Block>,
    /// Templates read and parsed.
    pub templates: usize,
    pub skipped: Vec<Skipped>,
    /// Templates Django rendered through the bridge, each with why the native renderer did not.
    pub by_django: Vec<(PathBuf, String)>,
    /// Where the rendered blocks may depart from django-compressor's.
    pub warnings: Vec<String>,
}

/// What scanning one template natively gave.
enum Outcome {
    Done(Scan),
    /// Only Django can render it exactly, for this reason.
    Django(String),
}

/// Scans every template under `config.template_dirs` and renders every compress block: natively,
/// or through the Django bridge for the templates only Django renders exactly.
pub fn scan(config: &TemplateSettings, run: &Run) -> Result<Scan> {
    let (names, refused) = find_templates(config)?;
    let refused_links = refused.len();
    let bridge = run
        .bridge()
        .map(|bridge| &**bridge)
        .filter(|_| config.render != RenderMode::Native);
    let all_django = bridge.is_some()
        && (config.render == RenderMode::Django
            || config.context_source == (ContextSource::Django { opaque: true }));
    let renderer = Renderer::new(config, run.bridge().cloned());
    let native = Native {
        config,
        renderer: &renderer,
        defer: bridge.is_some(),
    };
    // Templates are independent: each worker keeps its own loader (and so parses a shared base
    // template once per worker); results come back in name order, so output is deterministic.
    let outcomes: Vec<Result<Outcome>> = if all_django {
        names
            .iter()
            .map(|_| Ok(Outcome::Django("every template goes through Django".into())))
            .collect()
    } else {
        names
            .par_iter()
            .map_init(
                || Loader::new(&config.template_dirs),
                |loader, (name, path)| native.scan(loader, name, path),
            )
            .collect()
    };
    let mut scan = Scan {
        skipped: refused,
        ..Scan::default()
    };
    let mut parts: Vec<Option<Scan>> = Vec::with_capacity(names.len());
    let mut for_django: Vec<(usize, &Found, String)> = Vec::new();
    let mut errors = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(Outcome::Done(part)) => parts.push(Some(part)),
            Ok(Outcome::Django(reason)) => {
                for_django.push((index, &names[index], reason));
                parts.push(None);
            }
            Err(error) => {
                errors.push(error);
                parts.push(None);
            }
        }
    }
    if let Some(error) = Error::from_many(errors) {
        return Err(error);
    }
    if let (Some(bridge), false) = (bridge, for_django.is_empty()) {
        let found: Vec<&Found> = for_django.iter().map(|(_, found, _)| *found).collect();
        let rendered = bridged::scan(config, bridge, &found)?;
        for ((index, (_, path), reason), part) in for_django.into_iter().zip(rendered) {
            scan.by_django.push((path.clone(), reason));
            parts[index] = Some(part);
        }
    }
    for part in parts.into_iter().flatten() {
        scan.templates += part.templates;
        scan.blocks.extend(part.blocks);
        scan.skipped.extend(part.skipped);
        scan.warnings.extend(part.warnings);
    }
    if renderer.rendered_messages_as_written() {
        scan.warnings.push(format!(
            "i18n tags in compress blocks were rendered as written in `{}`: without Django (render = \"native\") stapler reads no translation catalog, so if the project translates these messages in LANGUAGE_CODE, django-compressor's keys differ; render = \"auto\" asks Django",
            config.language_code
        ));
    }
    if scan.blocks.is_empty() {
        let searched = config
            .template_dirs
            .iter()
            .map(|dir| dir.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::NothingToCompress {
            searched: format!(
                "{} template(s) under {searched} (extensions {})",
                names.len() + refused_links,
                config.extensions.join(", ")
            ),
            skipped: scan
                .skipped
                .into_iter()
                .map(|skipped| (skipped.template, skipped.reason))
                .collect(),
        });
    }
    Ok(scan)
}

/// The native renderer, and whether what it cannot render exactly goes to Django.
struct Native<'a> {
    config: &'a TemplateSettings,
    renderer: &'a Renderer,
    /// Hand to Django, rather than skip or refuse, what the native renderer cannot render.
    defer: bool,
}

impl Native<'_> {
    /// One template through the native renderer.
    fn scan(&self, loader: &mut Loader, name: &str, path: &Path) -> Result<Outcome> {
        let mut scan = Scan::default();
        let source = match read_template(path) {
            Ok(source) => source,
            Err(reason) => {
                scan.skipped.push(Skipped {
                    template: path.to_path_buf(),
                    reason,
                });
                return Ok(Outcome::Done(scan));
            }
        };
        scan.templates += 1;
        let deferred = match self.config.engine {
            Engine::Django => self.scan_django(loader, name, path, &source, &mut scan)?,
            Engine::Jinja2 => scan_jinja(self, name, path, &source, &mut scan)?,
        };
        Ok(match deferred {
            Some(reason) => Outcome::Django(reason),
            None => Outcome::Done(scan),
        })
    }
}

/// The compress blocks of one template, for `stapler lookup`.
pub fn scan_one(config: &TemplateSettings, run: &Run, name: &str) -> Result<Vec<Block>> {
    let path = config
        .template_dirs
        .iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::config(
                name,
                format!(
                    "no such template in {}; give its name relative to a template directory",
                    config
                        .template_dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let renderer = Renderer::new(config, run.bridge().cloned());
    let bridge = run
        .bridge()
        .map(|bridge| &**bridge)
        .filter(|_| config.render != RenderMode::Native);
    let native = Native {
        config,
        renderer: &renderer,
        defer: bridge.is_some(),
    };
    let scan = match (bridge, config.render) {
        (Some(bridge), RenderMode::Django) => bridged::scan_one(config, bridge, name, &path)?,
        _ => match native.scan(&mut Loader::new(&config.template_dirs), name, &path)? {
            Outcome::Done(scan) => scan,
            Outcome::Django(_) => match bridge {
                Some(bridge) => bridged::scan_one(config, bridge, name, &path)?,
                None => Scan::default(),
            },
        },
    };
    if let Some(skipped) = scan.skipped.first() {
        return Err(Error::template(
            Location::file(&skipped.template),
            skipped.reason.clone(),
        ));
    }
    Ok(scan.blocks)
}

fn template_location(config: &TemplateSettings, origin: &django::Origin) -> Location {
    let path = config
        .template_dirs
        .iter()
        .map(|dir| dir.join(&*origin.template))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(&*origin.template));
    Location::new(path, origin.line)
}

impl Native<'_> {
    /// A Django template's blocks into `scan`; `Some(reason)` when only Django can render it
    /// exactly (and `defer` is on).
    fn scan_django(
        &self,
        loader: &mut Loader,
        name: &str,
        path: &Path,
        source: &str,
        scan: &mut Scan,
    ) -> Result<Option<String>> {
        let config = self.config;
        let template = match django::parse(name, source) {
            Ok(template) => Arc::new(template),
            Err(error) if self.defer && !error.in_compress => {
                return Ok(Some(format!("line {}: {}", error.line, error.message)))
            }
            Err(error) => {
                let reason = skip(path, error, scan);
                loader.insert(path, Err(reason));
                return Ok(None);
            }
        };
        loader.insert(path, Ok(template.clone()));
        let mut blocks = Vec::new();
        for (index, context) in config.offline_contexts.iter().enumerate() {
            let flat = match inherit::flatten(&template, path, loader, context) {
                Ok(flat) => flat,
                Err(reason) if self.defer => return Ok(Some(reason)),
                Err(reason) => {
                    if index == 0 {
                        scan.skipped.push(Skipped {
                            template: path.to_path_buf(),
                            reason: format!("error in its parent template: {reason}"),
                        });
                    }
                    continue;
                }
            };
            let mut found = Vec::new();
            collect_compress(&flat.nodes, &mut found);
            if self.defer && !found.is_empty() {
                let foreign = match &config.tag_libraries {
                    Some(libraries) => {
                        let chain: Vec<&[Node]> = flat
                            .chain
                            .iter()
                            .map(|template| template.nodes.as_slice())
                            .collect();
                        let bodies: Vec<&[Node]> = found.iter().map(|(_, _, body)| *body).collect();
                        checks::foreign_names_used(&chain, &bodies, libraries)
                    }
                    None => flat
                        .chain
                        .iter()
                        .find_map(|template| checks::foreign_library(&template.nodes))
                        .map(|library| format!("loads the tag library `{library}`")),
                };
                if let Some(reason) = foreign {
                    return Ok(Some(reason));
                }
            }
            for (args, origin, body) in found {
                let location = template_location(config, origin);
                let arguments = match compress_arguments(args, &location, false) {
                    Ok(arguments) => arguments,
                    // Django checks these when it compiles the template: the whole template is
                    // skipped, as django-compressor skips it.
                    Err(ArgumentError::Compile(message)) => {
                        scan.skipped.push(Skipped {
                            template: path.to_path_buf(),
                            reason: format!("invalid template (line {}): {message}", location.line),
                        });
                        return Ok(None);
                    }
                    Err(ArgumentError::Render(error)) => return Err(error),
                };
                let mut jinja = String::new();
                let mut load = |name: &str| loader.load(name, &[]).map(|(_, template)| template);
                let mut includes = translate::Includes::new(&mut load);
                if let Err(error) = translate::to_jinja(body, &mut includes, &mut jinja) {
                    if self.defer {
                        return Ok(Some(error.message));
                    }
                    return Err(Error::template(
                        template_location(config, &error.origin),
                        format!(
                            "{}; or let Django render it (render = \"auto\" in the Django project)",
                            error.message
                        ),
                    ));
                }
                let rendered = match render_body(self.renderer, &jinja, context, &location) {
                    Ok(rendered) => rendered,
                    Err(error) if self.defer => return Ok(Some(error.to_string())),
                    Err(error) => return Err(error),
                };
                blocks.push(rendered_block(
                    arguments,
                    name,
                    location,
                    rendered,
                    index,
                    &config.static_url,
                ));
            }
        }
        scan.blocks.extend(blocks);
        Ok(None)
    }
}

/// A Jinja2 template's blocks into `scan`; `Some(reason)` when only the project's Jinja2
/// environment renders them exactly (and `defer` is on): a body with any expression or tag,
/// since the environment's globals, filters and extensions are the project's own.
fn scan_jinja(
    native: &Native,
    name: &str,
    path: &Path,
    source: &str,
    scan: &mut Scan,
) -> Result<Option<String>> {
    let (config, renderer) = (native.config, native.renderer);
    let blocks = match jinja::find_compress_blocks(source) {
        Ok(blocks) => blocks,
        Err(error) if native.defer => {
            return Ok(Some(format!("line {}: {}", error.line, error.message)))
        }
        Err(error) => {
            skip(path, error, scan);
            return Ok(None);
        }
    };
    if native.defer && !blocks.is_empty() {
        if !config.jinja2_plain_syntax {
            return Ok(Some(
                "the Jinja2 environment changes delimiters or whitespace around tags".into(),
            ));
        }
        let templated = blocks.iter().find(|block| {
            ["{{", "{%", "{#", "\r"]
                .iter()
                .any(|mark| block.body.contains(mark))
        });
        if let Some(block) = templated {
            return Ok(Some(format!(
                "the compress block on line {} holds Jinja2 expressions or tags, which the project's environment defines",
                block.line
            )));
        }
    }
    for (index, context) in config.offline_contexts.iter().enumerate() {
        for block in &blocks {
            let location = Location::new(path, block.line);
            let arguments = compress_arguments(&block.args, &location, true)
                .map_err(|error| error.into_error(&location))?;
            let rendered = render_body(renderer, &block.body, context, &location)?;
            scan.blocks.push(rendered_block(
                arguments,
                name,
                location,
                rendered,
                index,
                &config.static_url,
            ));
        }
    }
    Ok(None)
}

/// A template the engine cannot compile is skipped, as django-compressor skips it: its blocks
/// get no keys, the summary lists it, and `--strict` makes it an error. Returns the reason.
fn skip(path: &Path, error: django::SyntaxError, scan: &mut Scan) -> String {
    let place = if error.in_compress {
        format!("line {}, inside a compress block", error.line)
    } else {
        format!("line {}", error.line)
    };
    let reason = format!("invalid template ({place}): {}", error.message);
    scan.skipped.push(Skipped {
        template: path.to_path_buf(),
        reason: reason.clone(),
    });
    reason
}

fn render_body(
    renderer: &Renderer,
    source: &str,
    context: &OfflineContext,
    location: &Location,
) -> Result<String> {
    renderer.render(source, context).map_err(|error| {
        let detail = error.detail().map(|d| format!(": {d}")).unwrap_or_default();
        Error::template(
            location.clone(),
            format!("cannot render the compress block's body ({}{detail}); fix the expression or provide its variables in `offline_context`", error.kind()),
        )
    })
}

/// The compress blocks in `nodes` with their arguments, location and body; a compress block's
/// own body is not searched further.
fn collect_compress<'n>(
    nodes: &'n [Node],
    out: &mut Vec<(&'n [String], &'n django::Origin, &'n [Node])>,
) {
    for node in nodes {
        match node {
            Node::Compress { args, origin, body } => out.push((args, origin, body)),
            other => {
                let _ = django::for_each_child_list(other, &mut |children| {
                    collect_compress(children, out);
                    Ok::<(), ()>(())
                });
            }
        }
    }
}

/// A block as a renderer gave it, keyed as django-compressor keys it.
pub(super) fn rendered_block(
    (kind, mode, name): (Kind, Mode, Option<String>),
    template: &str,
    location: Location,
    body: String,
    context: usize,
    static_url: &str,
) -> Block {
    Block {
        kind,
        mode,
        name,
        template: template.to_string(),
        location,
        key: crate::block::key(&body, static_url),
        body,
        context,
    }
}

/// A mistake in a `{% compress %}` tag's arguments, by when Django finds it.
pub(super) enum ArgumentError {
    /// Found when the template compiles (a mode, the number of arguments): the template is
    /// skipped.
    Compile(String),
    /// Found only when the block renders (the kind): django-compressor's run fails.
    Render(Error),
}

impl ArgumentError {
    /// The mistake as an error at the tag's place.
    fn into_error(self, location: &Location) -> Error {
        match self {
            ArgumentError::Render(error) => error,
            ArgumentError::Compile(message) => Error::template(location.clone(), message),
        }
    }
}

/// Reads `kind [mode [name]]`.
pub(super) fn compress_arguments(
    args: &[String],
    location: &Location,
    jinja: bool,
) -> Result<(Kind, Mode, Option<String>), ArgumentError> {
    let kind = match args.first().map(String::as_str) {
        Some("css") => Kind::Css,
        Some("js") => Kind::Js,
        Some(other) => {
            return Err(ArgumentError::Render(Error::template(
                location.clone(),
                format!("unknown compress kind `{other}`: write {{% compress css %}} or {{% compress js %}}"),
            )))
        }
        None => {
            return Err(ArgumentError::Compile(
                "{% compress %} needs a kind: css or js".into(),
            ))
        }
    };
    let mode = match args.get(1).map(String::as_str) {
        None | Some("file") => Mode::File,
        Some("inline") => Mode::Inline,
        Some("preload") => Mode::Preload,
        Some(other) => {
            return Err(ArgumentError::Compile(format!(
                "unknown compress mode `{other}`: use file, inline or preload"
            )))
        }
    };
    let max = if jinja && mode != Mode::File { 2 } else { 3 };
    if args.len() > max {
        return Err(ArgumentError::Compile(
            "{% compress %} takes at most three arguments: kind, mode and name".into(),
        ));
    }
    // django-compressor keeps the quotes of `"site"`, which then break the output's URL;
    // the name meant is the one inside them.
    let name = args.get(2).map(|name| {
        let unquoted = ['"', '\''].iter().find_map(|quote| {
            name.strip_prefix(*quote)
                .and_then(|rest| rest.strip_suffix(*quote))
        });
        unquoted.unwrap_or(name).to_string()
    });
    Ok((kind, mode, name))
}
