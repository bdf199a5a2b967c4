//! Django template syntax: the lexer (Django's own rules: a tag never spans a line, `{% verbatim %}`
//! hides tags, `{# #}` and `{% comment %}` vanish) and a parser that keeps just enough structure
//! to resolve inheritance and find compress blocks. Tags stapler does not know are kept as leaves;
//! they matter only if they sit inside a compress block, where the renderer reports them.

use std::sync::{Arc, LazyLock};

use regex::Regex;

/// Where a token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The template's name, as `{% extends %}` would spell it.
    pub template: Arc<str>,
    /// 1-based line.
    pub line: usize,
}

/// A `{% name args %}` tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub name: String,
    pub args: String,
    pub origin: Origin,
}

/// A parsed template node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    /// `{{ expression }}`.
    Var {
        expr: String,
        origin: Origin,
    },
    /// A tag without a body: `{% static 'a.css' %}`, `{% load compress %}`.
    Leaf(Tag),
    /// A tag with a body and possibly intermediate branches: `{% if %}…{% elif %}…{% endif %}`.
    /// Each branch is the tag that opens it and its nodes; `end` closes the whole.
    Branching {
        branches: Vec<(Tag, Vec<Node>)>,
        end: Tag,
    },
    /// `{% block name %}…{% endblock %}`.
    Block {
        name: String,
        origin: Origin,
        body: Vec<Node>,
    },
    /// `{% extends "parent.html" %}`; the rest of the template is kept for its blocks.
    Extends {
        parent: String,
        origin: Origin,
    },
    /// `{% compress kind [mode [name]] %}…{% endcompress %}`; arguments checked later.
    Compress {
        args: Vec<String>,
        origin: Origin,
        body: Vec<Node>,
    },
    /// `{% verbatim %}…{% endverbatim %}`: renders its text untouched.
    Verbatim(String),
}

/// A parsed template: its nodes and, when it extends another, the parent's name.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: Arc<str>,
    pub nodes: Vec<Node>,
}

/// A template Django would refuse to load.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
    /// True when the mistake is inside a compress block, which is fatal rather than skipped.
    pub in_compress: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Var(String),
    Block(String),
}

static TAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}").expect("static regex"));

/// Splits a template the way `django.template.base.Lexer` does, with each token's line.
fn tokenize(source: &str) -> Vec<(Token, usize)> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut last = 0;
    let mut verbatim: Option<String> = None;
    let push = |token: Token, text: &str, line: &mut usize, tokens: &mut Vec<(Token, usize)>| {
        tokens.push((token, *line));
        *line += text.matches('\n').count();
    };
    for found in TAG_RE.find_iter(source) {
        if found.start() > last {
            let text = &source[last..found.start()];
            push(Token::Text(text.to_string()), text, &mut line, &mut tokens);
        }
        let raw = found.as_str();
        let content = raw[2..raw.len() - 2].trim();
        let token = match &raw[..2] {
            "{%" => {
                if let Some(end) = &verbatim {
                    if content == end {
                        verbatim = None;
                        Token::Block(content.to_string())
                    } else {
                        Token::Text(raw.to_string())
                    }
                } else {
                    if content == "verbatim" || content.starts_with("verbatim ") {
                        verbatim = Some(format!("end{content}"));
                    }
                    Token::Block(content.to_string())
                }
            }
            _ if verbatim.is_some() => Token::Text(raw.to_string()),
            "{{" => Token::Var(content.to_string()),
            _ => Token::Text(String::new()), // a {# comment #} renders as nothing
        };
        push(token, raw, &mut line, &mut tokens);
        last = found.end();
    }
    if last < source.len() {
        let text = &source[last..];
        push(Token::Text(text.to_string()), text, &mut line, &mut tokens);
    }
    tokens.retain(|(token, _)| !matches!(token, Token::Text(text) if text.is_empty()));
    tokens
}

/// Django's built-in tags that have a body: the opener, its intermediate tags, its end.
fn block_tag_shape(name: &str) -> Option<(&'static [&'static str], String)> {
    let middles: &'static [&'static str] = match name {
        "if" => &["elif", "else"],
        "for" => &["empty"],
        "ifchanged" => &["else"],
        "blocktrans" | "blocktranslate" => &["plural"],
        "with" | "spaceless" | "autoescape" | "filter" | "localize" | "localtime" | "timezone"
        | "cache" | "ifequal" | "ifnotequal" => &[],
        _ => return None,
    };
    Some((middles, format!("end{name}")))
}

/// Splits tag contents into words as `Token.split_contents` does: quoted strings stay whole.
pub fn split_contents(contents: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for ch in contents.chars() {
        match quote {
            Some(q) => {
                current.push(ch);
                if ch == q {
                    quote = None;
                }
            }
            None if ch.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                if ch == '"' || ch == '\'' {
                    quote = Some(ch);
                }
                current.push(ch);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// How deep block tags may nest. Parsing recurses once per level; Django's own parser gives up
/// far sooner (Python's recursion limit), so a template past this is refused, not a crash.
pub const MAX_NESTING: usize = 10_000;

struct Parser<'t> {
    tokens: &'t [(Token, usize)],
    position: usize,
    template: Arc<str>,
    compress_depth: usize,
    /// Block tags open around the current position.
    nesting: usize,
}

/// Parses a Django template.
pub fn parse(name: &str, source: &str) -> Result<Template, SyntaxError> {
    let tokens = tokenize(source);
    let template: Arc<str> = Arc::from(name);
    let mut parser = Parser {
        tokens: &tokens,
        position: 0,
        template: template.clone(),
        compress_depth: 0,
        nesting: 0,
    };
    let (nodes, end) = parser.parse_until(&[])?;
    debug_assert!(end.is_none());
    super::checks::check(&nodes)?;
    Ok(Template {
        name: template,
        nodes,
    })
}

impl Parser<'_> {
    fn origin(&self, line: usize) -> Origin {
        Origin {
            template: self.template.clone(),
            line,
        }
    }

    fn error(&self, line: usize, message: String) -> SyntaxError {
        SyntaxError {
            line,
            message,
            in_compress: self.compress_depth > 0,
        }
    }

    /// Parses nodes until one of `ends` (a tag name) and returns the nodes and the ending tag.
    fn parse_until(&mut self, ends: &[&str]) -> Result<(Vec<Node>, Option<Tag>), SyntaxError> {
        if self.nesting >= MAX_NESTING {
            let line = self.tokens.get(self.position).map_or(0, |(_, line)| *line);
            return Err(self.error(
                line,
                format!("block tags are nested more than {MAX_NESTING} deep here; flatten the template (Django itself cannot parse it)"),
            ));
        }
        self.nesting += 1;
        let result = self.parse_nodes_until(ends);
        self.nesting -= 1;
        result
    }

    fn parse_nodes_until(
        &mut self,
        ends: &[&str],
    ) -> Result<(Vec<Node>, Option<Tag>), SyntaxError> {
        let mut nodes = Vec::new();
        while self.position < self.tokens.len() {
            let (token, line) = &self.tokens[self.position];
            let line = *line;
            self.position += 1;
            match token {
                Token::Text(text) => nodes.push(Node::Text(text.clone())),
                Token::Var(expr) => {
                    if expr.is_empty() {
                        return Err(self.error(line, "empty variable tag {{ }}".into()));
                    }
                    nodes.push(Node::Var {
                        expr: expr.clone(),
                        origin: self.origin(line),
                    })
                }
                Token::Block(content) => {
                    let (name, args) = match content.split_once(char::is_whitespace) {
                        Some((name, args)) => (name.to_string(), args.trim().to_string()),
                        None => (content.clone(), String::new()),
                    };
                    if name.is_empty() {
                        return Err(self.error(line, "empty block tag {% %}".into()));
                    }
                    let tag = Tag {
                        name,
                        args,
                        origin: self.origin(line),
                    };
                    if ends.contains(&tag.name.as_str()) {
                        return Ok((nodes, Some(tag)));
                    }
                    if let Some(node) = self.parse_tag(tag, line)? {
                        nodes.push(node);
                    }
                }
            }
        }
        Ok((nodes, None))
    }

    /// Skips every token up to `{% end %}` without parsing any, as Django's `skip_past` does:
    /// what a comment holds need not be a valid template.
    fn skip_past(&mut self, end: &str, opener: &Tag) -> Result<(), SyntaxError> {
        while self.position < self.tokens.len() {
            let (token, _) = &self.tokens[self.position];
            self.position += 1;
            if matches!(token, Token::Block(content) if content == end) {
                return Ok(());
            }
        }
        Err(self.error(
            opener.origin.line,
            format!(
                "unclosed tag on line {}: '{}'; looking for one of: {end}",
                opener.origin.line, opener.name
            ),
        ))
    }

    fn expect_end(&mut self, ends: &[&str], opener: &Tag) -> Result<(Vec<Node>, Tag), SyntaxError> {
        match self.parse_until(ends)? {
            (nodes, Some(end)) => Ok((nodes, end)),
            (_, None) => Err(self.error(
                opener.origin.line,
                format!(
                    "unclosed tag on line {}: '{}'; looking for one of: {}",
                    opener.origin.line,
                    opener.name,
                    ends.join(", ")
                ),
            )),
        }
    }

    /// One arm per tag Django knows: a dispatch table is easier to check against Django's list
    /// when the arms stand together, so it stays one function.
    fn parse_tag(&mut self, tag: Tag, line: usize) -> Result<Option<Node>, SyntaxError> {
        match tag.name.as_str() {
            "comment" => {
                self.skip_past("endcomment", &tag)?;
                Ok(None)
            }
            "verbatim" => {
                // The lexer turned everything up to the matching end tag into text.
                let (body, _) = self.expect_end(&["endverbatim"], &tag)?;
                let text = body
                    .into_iter()
                    .map(|node| match node {
                        Node::Text(text) => text,
                        _ => String::new(),
                    })
                    .collect();
                Ok(Some(Node::Verbatim(text)))
            }
            "extends" => {
                let words = split_contents(&tag.args);
                if words.len() != 1 {
                    return Err(self.error(line, "'extends' takes one argument".into()));
                }
                Ok(Some(Node::Extends {
                    parent: words[0].clone(),
                    origin: tag.origin,
                }))
            }
            "block" => {
                let words = split_contents(&tag.args);
                if words.len() != 1 {
                    return Err(self.error(line, "'block' tag takes only one argument".into()));
                }
                let name = words[0].clone();
                let (body, end) = self.expect_end(&["endblock"], &tag)?;
                if !end.args.is_empty() && end.args != name {
                    return Err(self.error(
                        end.origin.line,
                        format!("{{% endblock {} %}} closes {{% block {name} %}}", end.args),
                    ));
                }
                Ok(Some(Node::Block {
                    name,
                    origin: tag.origin,
                    body,
                }))
            }
            "compress" => {
                self.compress_depth += 1;
                let result = self.parse_until(&["endcompress"]);
                self.compress_depth -= 1;
                let body = match result? {
                    (body, Some(_)) => body,
                    (_, None) => {
                        return Err(SyntaxError {
                            line,
                            message: format!(
                                "{{% compress {} %}} opened on line {line} is never closed: add {{% endcompress %}}",
                                tag.args
                            ),
                            in_compress: true,
                        })
                    }
                };
                Ok(Some(Node::Compress {
                    args: split_contents(&tag.args),
                    origin: tag.origin,
                    body,
                }))
            }
            name => match block_tag_shape(name) {
                Some((middles, end_name)) => {
                    let mut ends: Vec<&str> = middles.to_vec();
                    ends.push(end_name.as_str());
                    let mut branches = Vec::new();
                    let mut opener = tag;
                    loop {
                        let (body, next) = self.expect_end(&ends, &opener)?;
                        branches.push((opener, body));
                        if next.name == end_name {
                            return Ok(Some(Node::Branching {
                                branches,
                                end: next,
                            }));
                        }
                        opener = next;
                    }
                }
                None => Ok(Some(Node::Leaf(tag))),
            },
        }
    }
}

/// Calls `visit` on every list of child nodes of `node`.
pub fn for_each_child_list<'n, E>(
    node: &'n Node,
    visit: &mut impl FnMut(&'n [Node]) -> Result<(), E>,
) -> Result<(), E> {
    match node {
        Node::Branching { branches, .. } => {
            for (_, body) in branches {
                visit(body)?;
            }
            Ok(())
        }
        Node::Block { body, .. } | Node::Compress { body, .. } => visit(body),
        _ => Ok(()),
    }
}

/// Finds every `{% block %}` in `nodes`, at any depth, by name (Django's `get_nodes_by_type`).
pub fn collect_blocks<'n>(nodes: &'n [Node], out: &mut Vec<(&'n str, &'n Node)>) {
    for node in nodes {
        if let Node::Block { name, .. } = node {
            out.push((name.as_str(), node));
        }
        let _ = for_each_child_list(node, &mut |children| {
            collect_blocks(children, out);
            Ok::<(), ()>(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[(Token, usize)]) -> Vec<String> {
        tokens
            .iter()
            .map(|(token, line)| match token {
                Token::Text(t) => format!("T{line}:{t}"),
                Token::Var(t) => format!("V{line}:{t}"),
                Token::Block(t) => format!("B{line}:{t}"),
            })
            .collect()
    }

    #[test]
    fn lexer_follows_django() {
        let tokens = tokenize("a\n{% if x %}{{ y|upper }}{# gone #}\n{% endif %}{% if\nz %}");
        assert_eq!(
            texts(&tokens),
            vec![
                "T1:a\n",
                "B2:if x",
                "V2:y|upper",
                "T2:\n",
                "B3:endif",
                "T3:{% if\nz %}"
            ]
        );
    }

    #[test]
    fn nesting_past_the_limit_is_refused_not_a_crash() {
        // The library parses on threads with deep stacks; so does this test.
        let deep_stack = std::thread::Builder::new().stack_size(1 << 30);
        let worker = deep_stack.spawn(|| {
            let deep = |n: usize| "{% if x %}".repeat(n) + &"{% endif %}".repeat(n);
            assert!(parse("t.html", &deep(MAX_NESTING - 1)).is_ok());
            let error =
                parse("t.html", &format!("\n{}", deep(MAX_NESTING + 1))).expect_err("too deep");
            assert_eq!(error.line, 2);
            assert!(
                error.message.contains("nested more than 10000 deep"),
                "{}",
                error.message
            );
        });
        worker.expect("spawn").join().expect("the checks pass");
    }

    #[test]
    fn a_comment_may_hold_what_does_not_parse() {
        let template = parse(
            "t.html",
            "a{% comment %}{% if x %}{% for y in z %}{{ }}{% endcomment %}b",
        )
        .expect("Django skips a comment's tokens unparsed");
        assert_eq!(template.nodes.len(), 2);
        let error = parse("t.html", "\n{% comment %}{% endif %}").expect_err("unclosed");
        assert_eq!(error.line, 2);
        assert!(error.message.contains("'comment'"), "{}", error.message);
    }

    #[test]
    fn verbatim_hides_tags() {
        let tokens = tokenize("{% verbatim %}{{ a }}{% if %}{% endverbatim %}{{ b }}");
        assert_eq!(
            texts(&tokens),
            vec![
                "B1:verbatim",
                "T1:{{ a }}",
                "T1:{% if %}",
                "B1:endverbatim",
                "V1:b"
            ]
        );
        let template = parse("t.html", "{% verbatim %}{{ a }}{% endverbatim %}").expect("parses");
        assert_eq!(template.nodes, vec![Node::Verbatim("{{ a }}".into())]);
    }

    #[test]
    fn split_contents_keeps_quotes() {
        assert_eq!(
            split_contents("css  inline 'a b'"),
            vec!["css", "inline", "'a b'"]
        );
    }

    #[test]
    fn compress_and_blocks_are_found() {
        let template = parse(
            "t.html",
            "{% load compress %}{% block head %}{% compress css %}<style></style>{% endcompress %}{% endblock %}",
        )
        .expect("parses");
        let mut blocks = Vec::new();
        collect_blocks(&template.nodes, &mut blocks);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].0, "head");
    }

    #[test]
    fn unclosed_compress_is_fatal_with_its_line() {
        let error =
            parse("t.html", "x\n{% compress css %}\n<style></style>\n").expect_err("unclosed");
        assert!(error.in_compress);
        assert_eq!(error.line, 2);
        assert!(error.message.contains("endcompress"), "{}", error.message);
    }

    #[test]
    fn unclosed_if_is_a_syntax_error() {
        let error = parse("t.html", "{% if a %}x").expect_err("unclosed");
        assert!(!error.in_compress);
        assert!(error.message.contains("endif"), "{}", error.message);
    }
}
