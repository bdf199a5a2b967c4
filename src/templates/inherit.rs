//! `{% extends %}` resolution the way django-compressor's offline command does it: the root
//! template's tree, with every `{% block %}` replaced by its most-derived override and each
//! `{{ block.super }}` by the parent's version of the block.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::OfflineContext;

use super::django::{self, collect_blocks, Node, Template};

/// Loads templates by name from the template directories, parsing each file once.
pub struct Loader {
    dirs: Vec<PathBuf>,
    cache: HashMap<PathBuf, Result<Arc<Template>, String>>,
}

impl Loader {
    pub fn new(dirs: &[PathBuf]) -> Self {
        Loader {
            dirs: dirs.to_vec(),
            cache: HashMap::new(),
        }
    }

    /// Remembers an already parsed template file so `{% extends %}` finds it without parsing
    /// again.
    pub fn insert(&mut self, path: &Path, template: Result<Arc<Template>, String>) {
        self.cache.insert(path.to_path_buf(), template);
    }

    /// The template called `name` from the first directory that has it, leaving out the files
    /// in `skip`: Django's loaders skip the templates already in an `{% extends %}` chain, so
    /// `admin/base_site.html` can extend the `admin/base_site.html` it overrides.
    pub fn load(
        &mut self,
        name: &str,
        skip: &[PathBuf],
    ) -> Result<(PathBuf, Arc<Template>), String> {
        if Path::new(name).is_absolute() || name.split('/').any(|part| part == "..") {
            return Err(format!(
                "template name '{name}' leaves the template directories"
            ));
        }
        let mut skipped = 0;
        for dir in &self.dirs {
            let path = dir.join(name);
            if skip.contains(&path) {
                skipped += 1;
                continue;
            }
            let found = match self.cache.get(&path) {
                Some(found) => found.clone(),
                None if path.is_file() => {
                    let result = read(name, &path);
                    self.cache.insert(path.clone(), result.clone());
                    result
                }
                None => continue,
            };
            return found.map(|template| (path, template));
        }
        Err(if skipped > 0 {
            format!("template '{name}' is already in its own {{% extends %}} chain and no later template directory has another by that name (a cycle)")
        } else {
            format!("template '{name}' does not exist in any template directory")
        })
    }
}

fn read(name: &str, path: &Path) -> Result<Arc<Template>, String> {
    let source =
        super::read_template(path).map_err(|reason| format!("{}: {reason}", path.display()))?;
    django::parse(name, &source)
        .map(Arc::new)
        .map_err(|error| format!("{name}:{}: {}", error.line, error.message))
}

/// A template as Django renders it: the root ancestor's nodes with blocks resolved, and every
/// template of the chain (the template itself first).
pub struct Flat {
    pub nodes: Vec<Node>,
    pub chain: Vec<Arc<Template>>,
}

/// Returns the node tree Django renders for `template` (read from `path`): itself when it
/// extends nothing, else the root ancestor's tree with blocks resolved. Errors are Django's
/// reasons to skip it.
pub fn flatten(
    template: &Arc<Template>,
    path: &Path,
    loader: &mut Loader,
    context: &OfflineContext,
) -> Result<Flat, String> {
    let mut chain = vec![template.clone()];
    let Some((parent, _)) = first_extends(&template.nodes) else {
        return Ok(Flat {
            nodes: template.nodes.clone(),
            chain,
        });
    };
    let mut blocks = BlockContext::default();
    blocks.add(&template.nodes);
    let mut current_name = template.name.to_string();
    let mut parent_expr = parent.to_string();
    let mut seen = vec![path.to_path_buf()];
    loop {
        let parent_name = resolve_parent_name(&parent_expr, &current_name, context)?;
        let (parent_path, parent) = loader.load(&parent_name, &seen).map_err(|reason| {
            format!("template '{current_name}' extends '{parent_name}': {reason}")
        })?;
        seen.push(parent_path);
        chain.push(parent.clone());
        blocks.add(&parent.nodes);
        match first_extends(&parent.nodes) {
            Some((next, _)) => {
                parent_expr = next.to_string();
                current_name = parent_name;
            }
            None => {
                let mut stack = Vec::new();
                let nodes = remove_block_nodes(&parent.nodes, &mut stack, &mut blocks);
                return Ok(Flat { nodes, chain });
            }
        }
    }
}

fn first_extends(nodes: &[Node]) -> Option<(&str, &django::Origin)> {
    nodes
        .iter()
        .find(|node| !matches!(node, Node::Text(_)))
        .and_then(|node| match node {
            Node::Extends { parent, origin } => Some((parent.as_str(), origin)),
            _ => None,
        })
}

/// Turns the `{% extends %}` argument into a template name: a quoted literal (relative names
/// such as `"./base.html"` resolve against the current template), or a context variable.
fn resolve_parent_name(
    expr: &str,
    current: &str,
    context: &OfflineContext,
) -> Result<String, String> {
    let unquoted = expr
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .or_else(|| {
            expr.strip_prefix('\'')
                .and_then(|rest| rest.strip_suffix('\''))
        });
    let name = match unquoted {
        Some(name) => name.to_string(),
        None => match context.get(expr) {
            Some(serde_json::Value::String(name)) => name.clone(),
            _ => {
                return Err(format!(
                    "{{% extends {expr} %}} names a variable the offline context does not define"
                ))
            }
        },
    };
    if name.starts_with("./") || name.starts_with("../") {
        let mut parts: Vec<&str> = current.split('/').collect();
        parts.pop();
        for part in name.split('/') {
            match part {
                "." | "" => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(format!(
                            "the relative path '{name}' points outside the file hierarchy that template '{current}' is in"
                        ));
                    }
                }
                other => parts.push(other),
            }
        }
        return Ok(parts.join("/"));
    }
    Ok(name)
}

/// Django's `BlockContext`: for each block name, its versions from root (first) to most
/// derived (last).
#[derive(Default)]
struct BlockContext {
    blocks: HashMap<String, Vec<Node>>,
}

impl BlockContext {
    /// Adds a template's blocks as the new least-derived versions.
    fn add(&mut self, nodes: &[Node]) {
        let mut found = Vec::new();
        collect_blocks(nodes, &mut found);
        for (name, node) in found {
            self.blocks
                .entry(name.to_string())
                .or_default()
                .insert(0, node.clone());
        }
    }

    fn pop(&mut self, name: &str) -> Option<Node> {
        self.blocks.get_mut(name).and_then(Vec::pop)
    }

    fn push(&mut self, name: &str, block: Node) {
        self.blocks.entry(name.to_string()).or_default().push(block);
    }

    fn get(&self, name: &str) -> Option<&Node> {
        self.blocks.get(name).and_then(|versions| versions.last())
    }
}

fn remove_block_nodes(
    nodes: &[Node],
    stack: &mut Vec<Node>,
    blocks: &mut BlockContext,
) -> Vec<Node> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            Node::Var { expr, .. } if expr == "block.super" => {
                let Some(Node::Block { name, .. }) = stack.last() else {
                    continue;
                };
                let Some(parent) = blocks.get(name).cloned() else {
                    continue;
                };
                out.extend(expand_block(&parent, stack, blocks));
            }
            Node::Block { .. } => out.extend(expand_block(node, stack, blocks)),
            Node::Branching { branches, end } => {
                let branches = branches
                    .iter()
                    .map(|(tag, body)| (tag.clone(), remove_block_nodes(body, stack, blocks)))
                    .collect();
                out.push(Node::Branching {
                    branches,
                    end: end.clone(),
                });
            }
            Node::Compress { args, origin, body } => out.push(Node::Compress {
                args: args.clone(),
                origin: origin.clone(),
                body: remove_block_nodes(body, stack, blocks),
            }),
            other => out.push(other.clone()),
        }
    }
    out
}

fn expand_block(node: &Node, stack: &mut Vec<Node>, blocks: &mut BlockContext) -> Vec<Node> {
    let Node::Block { name, .. } = node else {
        return Vec::new();
    };
    let popped = blocks.pop(name);
    let block = popped.clone().unwrap_or_else(|| node.clone());
    let body = match &block {
        Node::Block { body, .. } => body.clone(),
        _ => Vec::new(),
    };
    stack.push(block);
    let expanded = remove_block_nodes(&body, stack, blocks);
    stack.pop();
    if let Some(popped) = popped {
        blocks.push(name, popped);
    }
    expanded
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/virtual";

    fn loader_with(templates: &[(&str, &str)]) -> Loader {
        let mut loader = Loader::new(&[PathBuf::from(DIR)]);
        for (name, source) in templates {
            loader.insert(
                &Path::new(DIR).join(name),
                Ok(Arc::new(
                    django::parse(name, source).expect("test template parses"),
                )),
            );
        }
        loader
    }

    fn flat(loader: &mut Loader, name: &str) -> Result<Vec<Node>, String> {
        let (path, template) = loader.load(name, &[]).expect("loads");
        flatten(&template, &path, loader, &OfflineContext::new()).map(|flat| flat.nodes)
    }

    fn render_text(nodes: &[Node]) -> String {
        let mut out = String::new();
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Compress { body, .. } => {
                    out.push('[');
                    out.push_str(&render_text(body));
                    out.push(']');
                }
                Node::Branching { branches, .. } => {
                    for (_, body) in branches {
                        out.push_str(&render_text(body));
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn most_derived_block_wins_and_super_chains() {
        let mut loader = loader_with(&[
            ("base.html", "<{% block a %}base{% endblock %}|{% block b %}B{% endblock %}>"),
            ("mid.html", "{% extends 'base.html' %}{% block a %}mid+{{ block.super }}{% endblock %}"),
            ("leaf.html", "{% extends \"mid.html\" %}{% block a %}leaf+{{ block.super }}{% endblock %}ignored"),
        ]);
        let nodes = flat(&mut loader, "leaf.html").expect("flattens");
        assert_eq!(render_text(&nodes), "<leaf+mid+base|B>");
    }

    #[test]
    fn blocks_inside_compress_are_replaced() {
        let mut loader = loader_with(&[
            (
                "base.html",
                "{% compress css %}a{% block extra %}{% endblock %}z{% endcompress %}",
            ),
            (
                "page.html",
                "{% extends 'base.html' %}{% block extra %}-page-{% endblock %}",
            ),
        ]);
        let nodes = flat(&mut loader, "page.html").expect("flattens");
        assert_eq!(render_text(&nodes), "[a-page-z]");
    }

    #[test]
    fn relative_names_resolve_against_the_template() {
        let context = OfflineContext::new();
        assert_eq!(
            resolve_parent_name("'./base.html'", "app/page.html", &context).expect("ok"),
            "app/base.html"
        );
        assert_eq!(
            resolve_parent_name("'../base.html'", "app/sub/page.html", &context).expect("ok"),
            "app/base.html"
        );
        let error = resolve_parent_name("'../../x.html'", "page.html", &context).expect_err("out");
        assert!(error.contains("../../x.html"), "{error}");
    }

    #[test]
    fn variable_parent_comes_from_the_context() {
        let mut context = OfflineContext::new();
        context.insert("layout".into(), "base.html".into());
        assert_eq!(
            resolve_parent_name("layout", "p.html", &context).expect("ok"),
            "base.html"
        );
        let error = resolve_parent_name("missing", "p.html", &context).expect_err("undefined");
        assert!(error.contains("missing"), "{error}");
    }

    #[test]
    fn cycles_are_reported() {
        let mut loader = loader_with(&[
            ("a.html", "{% extends 'b.html' %}"),
            ("b.html", "{% extends 'a.html' %}"),
        ]);
        let error = flat(&mut loader, "a.html").expect_err("a cycle");
        assert!(
            error.contains("a.html") && error.contains("b.html") && error.contains("cycle"),
            "{error}"
        );
    }

    #[test]
    fn a_template_extending_its_own_name_gets_the_next_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path().join("project");
        let app = dir.path().join("app");
        for (folder, text) in [
            (&project, "{% extends 'admin/base_site.html' %}{% block title %}mine+{{ block.super }}{% endblock %}"),
            (&app, "{% extends 'admin/base.html' %}{% block title %}app{% endblock %}"),
        ] {
            std::fs::create_dir_all(folder.join("admin")).expect("mkdir");
            std::fs::write(folder.join("admin/base_site.html"), text).expect("write");
        }
        std::fs::write(
            app.join("admin/base.html"),
            "<{% block title %}{% endblock %}>",
        )
        .expect("write");
        let mut loader = Loader::new(&[project.clone(), app.clone()]);
        let nodes = flat(&mut loader, "admin/base_site.html").expect("flattens");
        assert_eq!(render_text(&nodes), "<mine+app>");
        // The app's own template, loaded on its own, is the app's.
        let (path, _) = loader
            .load(
                "admin/base_site.html",
                &[project.join("admin/base_site.html")],
            )
            .expect("loads");
        assert_eq!(path, app.join("admin/base_site.html"));
    }
}
