//! Templates rendered by Django itself, through the bridge: its answers turned into the same
//! blocks the native renderer gives, keyed the same way.

use std::path::{Path, PathBuf};

use crate::config::{ContextSource, Engine, TemplateSettings};
use crate::django::{Bridge, RenderedTemplate, TemplateEngine};
use crate::error::{Error, Location, Result};

use super::{compress_arguments, rendered_block, ArgumentError, Scan, Skipped};

/// Every compress block of `templates` (name, path), one scan per template, in their order.
pub(super) fn scan(
    config: &TemplateSettings,
    bridge: &Bridge,
    templates: &[&(String, PathBuf)],
) -> Result<Vec<Scan>> {
    // Django templates go by name, through Django's loaders; Jinja2 ones by path, as
    // `compress --engine jinja2` reads them.
    let names: Vec<String> = templates
        .iter()
        .map(|(name, path)| match config.engine {
            Engine::Django => name.clone(),
            Engine::Jinja2 => path.display().to_string(),
        })
        .collect();
    let contexts = match config.context_source {
        ContextSource::Settings => Some(config.offline_contexts.as_slice()),
        ContextSource::Django { .. } => None,
    };
    let engine = match config.engine {
        Engine::Django => TemplateEngine::Django,
        Engine::Jinja2 => TemplateEngine::Jinja2,
    };
    let rendered = bridge.render(&names, contexts, engine)?;
    if rendered.len() != templates.len() {
        return Err(Error::Django(crate::django::BridgeError::Failed {
            doing: "rendering templates".into(),
            message: format!(
                "it answered for {} template(s) of {}",
                rendered.len(),
                templates.len()
            ),
        }));
    }
    let mut scans = Vec::with_capacity(templates.len());
    let mut errors = Vec::new();
    for ((name, path), template) in templates.iter().zip(rendered) {
        match blocks_of(config, name, path, template) {
            Ok(scan) => scans.push(scan),
            Err(error) => errors.push(error),
        }
    }
    match Error::from_many(errors) {
        Some(error) => Err(error),
        None => Ok(scans),
    }
}

/// One template through Django, for `stapler lookup`.
pub(super) fn scan_one(
    config: &TemplateSettings,
    bridge: &Bridge,
    name: &str,
    path: &Path,
) -> Result<Scan> {
    let found = (name.to_string(), path.to_path_buf());
    let mut scans = scan(config, bridge, &[&found])?;
    Ok(scans.pop().unwrap_or_default())
}

fn blocks_of(
    config: &TemplateSettings,
    name: &str,
    path: &Path,
    template: RenderedTemplate,
) -> Result<Scan> {
    let mut scan = Scan {
        templates: 1,
        ..Scan::default()
    };
    if let Some(reason) = template.skipped {
        scan.skipped.push(Skipped {
            template: path.to_path_buf(),
            reason,
        });
    }
    if let Some(error) = template.error {
        let place = Location::new(&error.origin, error.line);
        // Before collectstatic, a manifest storage names no file: a build then has no use.
        if error.missing_manifest_entry {
            return Err(Error::template(
                place,
                format!(
                    "Django cannot render this compress block ({}); run `manage.py collectstatic` first: the static files storage names files from the manifest it writes",
                    error.message
                ),
            ));
        }
        // django-compressor's offline command drops such a block, and the template's later
        // blocks in that context, and goes on: so does stapler, and says so.
        scan.warnings.push(format!(
            "{place}: Django cannot render this compress block ({}), so it and the template's later blocks in that offline context get no key, as django-compressor leaves them out; pages that use them fail on the servers (OfflineGenerationError): fix the template, or give the variables it needs in the offline context",
            error.message
        ));
    }
    for block in template.blocks {
        let location = Location::new(&block.origin, block.line);
        let mut args = vec![block.kind, block.mode];
        args.extend(block.name);
        let arguments = match compress_arguments(&args, &location, false) {
            Ok(arguments) => arguments,
            Err(ArgumentError::Compile(message)) => {
                scan.skipped.push(Skipped {
                    template: path.to_path_buf(),
                    reason: format!("invalid template (line {}): {message}", location.line),
                });
                scan.blocks.clear();
                return Ok(scan);
            }
            Err(ArgumentError::Render(error)) => return Err(error),
        };
        scan.blocks.push(rendered_block(
            arguments,
            name,
            location,
            block.body,
            block.context,
            &config.static_url,
        ));
    }
    Ok(scan)
}
