//! `{% extends %}` resolution the way django-compressor's offline command does it: the root
//! template's tree, with every `{% block %}` replaced by its most-derived override and each
//! `{{ block.super }}` by the parent's version of the block.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::OfflineContext;

use super::django::{self, collect_blocks, Node, Template};

/// Loads templates by name from the template directories, parsing each once.
pub struct Loader {
    dirs: Vec<PathBuf>,
    cache: HashMap<String, Result<Arc<Template>, String>>,
}

impl Loader {
    pub fn new(dirs: &[PathBuf]) -> Self {
        Loader {
            dirs: dirs.to_vec(),
            cache: HashMap::new(),
        }
    }

    /// Remembers an already parsed template so `{% extends %}` finds it without parsing again.
    pub fn insert(&mut self, name: &str, template: Result<Arc<Template>, String>) {
        self.cache.insert(name.to_string(), template);
    }

    /// The template called `name`, from the first directory that has it, as Django's
    /// filesystem loader finds it.
    pub fn load(&mut self, name: &str) -> Result<Arc<Template>, String> {
        if let Some(found) = self.cache.get(name) {
            return found.clone();
        }
        let result = self.read(name);
        self.cache.insert(name.to_string(), result.clone());
        result
    }

    fn read(&self, name: &str) -> Result<Arc<Template>, String> {
        if Path::new(name).is_absolute() || name.split('/').any(|part| part == "..") {
            return Err(format!(
                "template name '{name}' leaves the template directories"
            ));
        }
        for dir in &self.dirs {
            let path = dir.join(name);
            if path.is_file() {
                let source = super::read_template(&path)
                    .map_err(|reason| format!("{}: {reason}", path.display()))?;
                return django::parse(name, &source)
                    .map(Arc::new)
                    .map_err(|error| format!("{name}:{}: {}", error.line, error.message));
            }
        }
        Err(format!(
            "template '{name}' does not exist in any template directory"
        ))
    }
}

/// Returns the node tree Django renders for `template`: itself when it extends nothing, else
/// the root ancestor's tree with blocks resolved. Errors are Django's reasons to skip it.
pub fn flatten(
    template: &Template,
    loader: &mut Loader,
    context: &OfflineContext,
) -> Result<Vec<Node>, String> {
    let Some((parent, _)) = first_extends(&template.nodes) else {
        return Ok(template.nodes.clone());
    };
    let mut blocks = BlockContext::default();
    blocks.add(&template.nodes);
    let mut current_name = template.name.to_string();
    let mut parent_expr = parent.to_string();
    let mut seen = vec![current_name.clone()];
    loop {
        let parent_name = resolve_parent_name(&parent_expr, &current_name, context)?;
        if seen.contains(&parent_name) {
            return Err(format!(
                "template '{current_name}' extends '{parent_name}', which extends it back"
            ));
        }
        seen.push(parent_name.clone());
        let parent = loader.load(&parent_name)?;
        blocks.add(&parent.nodes);
        match first_extends(&parent.nodes) {
            Some((next, _)) => {
                parent_expr = next.to_string();
                current_name = parent_name;
            }
            None => {
                let mut stack = Vec::new();
                return Ok(remove_block_nodes(&parent.nodes, &mut stack, &mut blocks));
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

    fn loader_with(templates: &[(&str, &str)]) -> Loader {
        let mut loader = Loader::new(&[]);
        for (name, source) in templates {
            loader.insert(
                name,
                Ok(Arc::new(
                    django::parse(name, source).expect("test template parses"),
                )),
            );
        }
        loader
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
        let leaf = loader.load("leaf.html").expect("loads");
        let nodes = flatten(&leaf, &mut loader, &OfflineContext::new()).expect("flattens");
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
        let page = loader.load("page.html").expect("loads");
        let nodes = flatten(&page, &mut loader, &OfflineContext::new()).expect("flattens");
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
        let a = loader.load("a.html").expect("loads");
        let error = flatten(&a, &mut loader, &OfflineContext::new()).expect_err("a cycle");
        assert!(
            error.contains("a.html") && error.contains("b.html"),
            "{error}"
        );
    }
}
