//! What Django refuses when it compiles a template, beyond syntax: `{% extends %}` not first,
//! a block name used twice, a tag no loaded library defines. django-compressor skips such
//! templates, so stapler must know them too.

use crate::django::{LibraryNames, TagLibraries};

use super::django::{for_each_child_list, split_contents, Node, SyntaxError, Tag};

/// Every compile-time check, in Django's order.
pub(super) fn check(nodes: &[Node]) -> Result<(), SyntaxError> {
    check_extends_first(nodes)?;
    check_unique_blocks(nodes, &mut Vec::new())?;
    check_known_tags(nodes)
}

/// Tags Django itself defines (its default tags and the loader tags).
const BUILTIN_TAGS: &[&str] = &[
    "autoescape",
    "block",
    "comment",
    "csrf_token",
    "cycle",
    "debug",
    "extends",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "include",
    "load",
    "lorem",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "url",
    "verbatim",
    "widthratio",
    "with",
    // Django 5.1, 6.0 and 6.1.
    "querystring",
    "partialdef",
    "partial",
    "csp_nonce_attr",
];

/// The tag libraries stapler knows every tag of, with their tags.
const KNOWN_LIBRARIES: &[(&str, &[&str])] = &[
    (
        "static",
        &["static", "get_static_prefix", "get_media_prefix"],
    ),
    (
        "i18n",
        &[
            "get_available_languages",
            "get_language_info",
            "get_language_info_list",
            "get_current_language",
            "get_current_language_bidi",
            "trans",
            "translate",
            "blocktrans",
            "blocktranslate",
            "language",
        ],
    ),
    ("l10n", &["localize"]),
    ("tz", &["localtime", "timezone", "get_current_timezone"]),
    ("cache", &["cache"]),
    ("compress", &["compress"]),
];

/// The first tag library `nodes` load that stapler does not know every tag and filter of:
/// with one, only Django can render the template exactly.
pub(super) fn foreign_library(nodes: &[Node]) -> Option<String> {
    let mut tags: Vec<&Tag> = Vec::new();
    collect_tags(nodes, &mut tags);
    tags.iter()
        .filter(|tag| tag.name == "load")
        .flat_map(|load| loaded_libraries(&load.args))
        .find(|library| !KNOWN_LIBRARIES.iter().any(|(name, _)| name == library))
}

/// Why only Django renders these compress blocks exactly, given what each tag library defines:
/// a block uses a tag or filter that a library stapler does not know defines (loaded anywhere
/// in the template's chain, or added to every template as a builtin), or the chain loads a
/// library Django does not have. Offline, django-compressor renders nothing but the compress
/// blocks, so a library whose names no block uses changes no key.
pub(super) fn foreign_names_used(
    chain: &[&[Node]],
    blocks: &[&[Node]],
    libraries: &TagLibraries,
) -> Option<String> {
    let mut tags: Vec<&Tag> = Vec::new();
    for nodes in chain {
        collect_tags(nodes, &mut tags);
    }
    let mut foreign: Vec<(String, &LibraryNames)> = libraries
        .builtins
        .iter()
        .map(|(module, names)| (format!("builtin {module}"), names))
        .collect();
    for library in tags
        .iter()
        .filter(|tag| tag.name == "load")
        .flat_map(|load| loaded_libraries(&load.args))
        .filter(|library| !KNOWN_LIBRARIES.iter().any(|(name, _)| name == library))
    {
        match libraries.loadable.get(&library) {
            Some(names) => foreign.push((library, names)),
            None => {
                return Some(format!(
                    "loads `{library}`, which is not a tag library Django has"
                ))
            }
        }
    }
    if foreign.is_empty() {
        return None;
    }
    let mut used_tags: Vec<&Tag> = Vec::new();
    let mut used_filters: Vec<String> = Vec::new();
    for body in blocks {
        collect_tags(body, &mut used_tags);
        collect_filters(body, &mut used_filters);
    }
    for tag in &used_tags {
        used_filters.extend(filter_names(&tag.args));
    }
    for (library, names) in &foreign {
        if let Some(tag) = used_tags.iter().find(|tag| names.tags.contains(&tag.name)) {
            return Some(format!(
                "its compress block uses {{% {} %}} from the tag library `{library}`",
                tag.name
            ));
        }
        if let Some(filter) = used_filters
            .iter()
            .find(|filter| names.filters.contains(filter))
        {
            return Some(format!(
                "its compress block uses the filter `{filter}` from the tag library `{library}`"
            ));
        }
    }
    None
}

/// Every filter name in the variables of `nodes`, at any depth.
fn collect_filters(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        if let Node::Var { expr, .. } = node {
            out.extend(filter_names(expr));
        }
        let _ = for_each_child_list(node, &mut |children| {
            collect_filters(children, out);
            Ok::<(), ()>(())
        });
    }
}

/// The names after each `|` of an expression; a `|` inside a string counts too, which can
/// only send a template to Django needlessly, never keep one from it.
fn filter_names(expression: &str) -> Vec<String> {
    expression
        .split('|')
        .skip(1)
        .filter_map(|part| {
            let name: String = part
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// The libraries a `{% load %}` names: `{% load a b %}`, or `{% load x y from a %}`.
fn loaded_libraries(args: &str) -> Vec<String> {
    let words = split_contents(args);
    match words.iter().position(|word| word == "from") {
        Some(at) => words[at + 1..].to_vec(),
        None => words,
    }
}

/// Django refuses a template that uses a tag no loaded library defines ("Invalid block tag"),
/// and django-compressor then skips it. Only decidable when every library the template loads
/// is one stapler knows: a project's own library may define any tag. The tags of the libraries
/// stapler knows count even when not loaded, since a project may make them builtins: erring
/// that way builds a key no server asks for, never leaves one out.
fn check_known_tags(nodes: &[Node]) -> Result<(), SyntaxError> {
    let mut tags: Vec<&Tag> = Vec::new();
    collect_tags(nodes, &mut tags);
    for load in tags.iter().filter(|tag| tag.name == "load") {
        if loaded_libraries(&load.args)
            .iter()
            .any(|library| !KNOWN_LIBRARIES.iter().any(|(name, _)| name == library))
        {
            return Ok(());
        }
    }
    let mut known: Vec<&str> = BUILTIN_TAGS.to_vec();
    for (_, library_tags) in KNOWN_LIBRARIES {
        known.extend_from_slice(library_tags);
    }
    match tags.iter().find(|tag| !known.contains(&tag.name.as_str())) {
        None => Ok(()),
        Some(tag) => Err(SyntaxError {
            line: tag.origin.line,
            message: format!(
                "Invalid block tag on line {}: '{}'. Did you forget to register or load this tag?",
                tag.origin.line, tag.name
            ),
            in_compress: false,
        }),
    }
}

/// Every tag in `nodes` that opens something or stands alone, at any depth.
fn collect_tags<'n>(nodes: &'n [Node], out: &mut Vec<&'n Tag>) {
    for node in nodes {
        match node {
            Node::Leaf(tag) => out.push(tag),
            Node::Branching { branches, .. } => out.extend(branches.first().map(|(tag, _)| tag)),
            _ => {}
        }
        let _ = for_each_child_list(node, &mut |children| {
            collect_tags(children, out);
            Ok::<(), ()>(())
        });
    }
}

/// Django: "{% extends %} must be the first tag in the template."
fn check_extends_first(nodes: &[Node]) -> Result<(), SyntaxError> {
    let mut seen_other = false;
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Extends { origin, .. } if seen_other => {
                return Err(SyntaxError {
                    line: origin.line,
                    message: "{% extends %} must be the first tag in the template".into(),
                    in_compress: false,
                })
            }
            _ => seen_other = true,
        }
    }
    Ok(())
}

fn check_unique_blocks(nodes: &[Node], seen: &mut Vec<String>) -> Result<(), SyntaxError> {
    for node in nodes {
        for_each_child_list(node, &mut |children| check_unique_blocks(children, seen))?;
        if let Node::Block { name, origin, .. } = node {
            if seen.contains(name) {
                return Err(SyntaxError {
                    line: origin.line,
                    message: format!("'block' tag with name '{name}' appears more than once"),
                    in_compress: false,
                });
            }
            seen.push(name.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tags: &[&str], filters: &[&str]) -> LibraryNames {
        LibraryNames {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn why(source: &str, libraries: &TagLibraries) -> Option<String> {
        let template = crate::templates::django::parse("t.html", source).expect("parses");
        let mut bodies = Vec::new();
        for node in &template.nodes {
            if let Node::Compress { body, .. } = node {
                bodies.push(body.as_slice());
            }
        }
        foreign_names_used(&[template.nodes.as_slice()], &bodies, libraries)
    }

    #[test]
    fn a_foreign_library_matters_only_when_a_block_uses_its_names() {
        let mut libraries = TagLibraries::default();
        libraries
            .loadable
            .insert("shop".into(), names(&["cart"], &["money"]));
        let plain = "{% load shop static compress %}{% cart %}{% compress css %}<link href=\"{% static 'a.css' %}\">{% endcompress %}";
        assert_eq!(why(plain, &libraries), None);
        let tag = "{% load shop compress %}{% compress js %}{% cart %}{% endcompress %}";
        assert!(why(tag, &libraries)
            .is_some_and(|why| why.contains("{% cart %} from the tag library `shop`")));
        let filter = "{% load shop compress %}{% compress js %}{% if x|money %}{{ y|default:1|money }}{% endif %}{% endcompress %}";
        assert!(why(filter, &libraries).is_some_and(|why| why.contains("the filter `money`")));
        let unknown = "{% load nowhere compress %}{% compress js %}x{% endcompress %}";
        assert!(why(unknown, &libraries).is_some_and(|why| why.contains("`nowhere`")));
        libraries
            .builtins
            .insert("project.everywhere".into(), names(&["static"], &[]));
        assert!(
            why(plain, &libraries).is_some_and(|why| why.contains("builtin project.everywhere"))
        );
    }

    use super::super::django::parse;

    #[test]
    fn tags_no_loaded_library_defines_are_refused_as_django_refuses_them() {
        let error = parse("t.html", "{% load static %}\n{% frobnicate %}").expect_err("unknown");
        assert_eq!(error.line, 2);
        assert_eq!(
            error.message,
            "Invalid block tag on line 2: 'frobnicate'. Did you forget to register or load this tag?"
        );
        assert!(
            parse("t.html", "{% trans 'x' %}{% static 'a' %}{% querystring %}").is_ok(),
            "tags of the libraries stapler knows may be builtins"
        );
        assert!(parse(
            "t.html",
            "{% load i18n static %}{% trans 'x' %}{% static 'a' %}"
        )
        .is_ok());
        assert!(parse("t.html", "{% load trans from i18n %}{% trans 'x' %}").is_ok());
        assert!(
            parse(
                "t.html",
                "{% load my_tags %}{% frobnicate %}{% ifswitch x %}{% endifswitch %}"
            )
            .is_ok(),
            "a project's own library may define any tag"
        );
        assert!(parse(
            "t.html",
            "{% if a %}{% cycle 'x' 'y' %}{% endif %}{% url 'home' %}"
        )
        .is_ok());
    }

    #[test]
    fn extends_must_come_first() {
        let error = parse("t.html", "{% load static %}{% extends 'b.html' %}").expect_err("late");
        assert_eq!(
            error.message,
            "{% extends %} must be the first tag in the template"
        );
        assert!(parse("t.html", "\n{% extends 'b.html' %}").is_ok());
    }

    #[test]
    fn duplicate_blocks_are_refused() {
        let error = parse(
            "t.html",
            "{% block a %}{% endblock %}\n{% block a %}{% endblock %}",
        )
        .expect_err("twice");
        assert_eq!(error.line, 2);
        assert_eq!(
            error.message,
            "'block' tag with name 'a' appears more than once"
        );
    }
}
