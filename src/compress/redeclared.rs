//! The early errors swc's parser lets through and every browser throws: a `let`, `const` or
//! `class` that declares a name its scope already has (a parameter, another lexical
//! declaration, a function). A script with one never runs, and neither does any bundle it is
//! concatenated into.

use std::collections::HashMap;

use swc_core::common::Span;
use swc_core::ecma::ast::{
    ArrowExpr, ArrowFunctionBody, BlockStmt, Decl, Function, ModuleItem, ObjectPatProp, Pat,
    Program, Stmt, VarDeclKind,
};
use swc_core::ecma::visit::{Visit, VisitWith};

/// The first redeclaration in the program: where it is and what browsers say of it.
pub fn first_redeclaration(program: &Program) -> Option<(Span, String)> {
    let mut finder = Finder { found: None };
    match program {
        Program::Script(script) => finder.scope(&[], script.body.iter()),
        Program::Module(module) => finder.scope(
            &[],
            module.body.iter().filter_map(|item| match item {
                ModuleItem::Stmt(statement) => Some(statement),
                ModuleItem::ModuleDecl(_) => None,
            }),
        ),
    }
    program.visit_with(&mut finder);
    finder.found
}

struct Finder {
    found: Option<(Span, String)>,
}

/// How a name came into a scope.
#[derive(Clone, Copy, PartialEq)]
enum Binding {
    Parameter,
    Lexical,
    Function,
}

impl Finder {
    /// Checks one scope's own declarations, given the names its parameters bind.
    fn scope<'s>(&mut self, parameters: &[&Pat], statements: impl Iterator<Item = &'s Stmt>) {
        if self.found.is_some() {
            return;
        }
        let mut names: HashMap<String, Binding> = HashMap::new();
        for parameter in parameters {
            for (name, _) in bound_names(parameter) {
                names.insert(name, Binding::Parameter);
            }
        }
        for statement in statements {
            let declared: Vec<(String, Span, Binding)> = match statement {
                Stmt::Decl(Decl::Var(var)) if var.kind != VarDeclKind::Var => var
                    .decls
                    .iter()
                    .flat_map(|declarator| bound_names(&declarator.name))
                    .map(|(name, span)| (name, span, Binding::Lexical))
                    .collect(),
                Stmt::Decl(Decl::Class(class)) => vec![(
                    class.ident.sym.to_string(),
                    class.ident.span,
                    Binding::Lexical,
                )],
                Stmt::Decl(Decl::Fn(function)) => vec![(
                    function.ident.sym.to_string(),
                    function.ident.span,
                    Binding::Function,
                )],
                _ => Vec::new(),
            };
            for (name, span, binding) in declared {
                let clash = match (names.get(&name), binding) {
                    (None, _) => false,
                    // Sloppy scripts may declare a function twice, or over a parameter.
                    (Some(Binding::Function | Binding::Parameter), Binding::Function) => false,
                    _ => true,
                };
                if clash {
                    self.found = Some((
                        span,
                        format!("Identifier '{name}' has already been declared"),
                    ));
                    return;
                }
                names.insert(name, binding);
            }
        }
    }
}

impl Visit for Finder {
    fn visit_function(&mut self, function: &Function) {
        if let Some(body) = &function.body {
            let parameters: Vec<&Pat> = function.params.iter().map(|p| &p.pat).collect();
            self.scope(&parameters, body.stmts.iter());
            // The body's own statements are this scope: only look inside them.
            for statement in &body.stmts {
                statement.visit_children_with(self);
            }
        }
        for parameter in &function.params {
            parameter.visit_with(self);
        }
    }

    fn visit_arrow_expr(&mut self, arrow: &ArrowExpr) {
        match &*arrow.body {
            ArrowFunctionBody::FunctionBody(body) => {
                let parameters: Vec<&Pat> = arrow.params.iter().collect();
                self.scope(&parameters, body.stmts.iter());
                for statement in &body.stmts {
                    statement.visit_children_with(self);
                }
            }
            ArrowFunctionBody::Expr(expr) => expr.visit_with(self),
        }
    }

    fn visit_block_stmt(&mut self, block: &BlockStmt) {
        self.scope(&[], block.stmts.iter());
        block.visit_children_with(self);
    }
}

/// The names a binding pattern declares, with where each is written.
fn bound_names(pattern: &Pat) -> Vec<(String, Span)> {
    let mut names = Vec::new();
    collect_names(pattern, &mut names);
    names
}

fn collect_names(pattern: &Pat, names: &mut Vec<(String, Span)>) {
    match pattern {
        Pat::Ident(ident) => names.push((ident.id.sym.to_string(), ident.id.span)),
        Pat::Array(array) => {
            for element in array.elems.iter().flatten() {
                collect_names(element, names);
            }
        }
        Pat::Object(object) => {
            for property in &object.props {
                match property {
                    ObjectPatProp::KeyValue(pair) => collect_names(&pair.value, names),
                    ObjectPatProp::Assign(assign) => {
                        names.push((assign.key.id.sym.to_string(), assign.key.id.span))
                    }
                    ObjectPatProp::Rest(rest) => collect_names(&rest.arg, names),
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
            }
        }
        Pat::Assign(assign) => collect_names(&assign.left, names),
        Pat::Rest(rest) => collect_names(&rest.arg, names),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use swc_core::common::{sync::Lrc, FileName, SourceMap};
    use swc_core::ecma::parser::{Parser, StringInput, Syntax};

    use super::*;

    fn redeclared(source: &str) -> Option<String> {
        let cm: Lrc<SourceMap> = Lrc::default();
        let file = cm.new_source_file(Lrc::new(FileName::Anon), source.to_string());
        let mut parser = Parser::new(Syntax::default(), StringInput::from(&*file), None);
        let script = parser.parse_script().expect("parses");
        first_redeclaration(&Program::Script(script)).map(|(_, message)| message)
    }

    #[test]
    fn finds_what_browsers_refuse() {
        for (source, name) in [
            ("function f(a) { const a = 1; }", "a"),
            ("var g = ({x}) => { let x; };", "x"),
            ("let a; const a = 2;", "a"),
            ("{ class C {} let C; }", "C"),
            ("function h() { if (1) { let b; let b; } }", "b"),
            ("let f; function f() {}", "f"),
        ] {
            assert_eq!(
                redeclared(source),
                Some(format!("Identifier '{name}' has already been declared")),
                "{source}"
            );
        }
    }

    #[test]
    fn leaves_what_browsers_accept() {
        for source in [
            "function f(a) { var a = 1; }",
            "function f(a) { { let a = 1; } }",
            "var a; var a;",
            "function f() {} function f() {}",
            "let a; { let a; }",
            "function f(a) { function a() {} }",
            "for (let i = 0; i < 1; i++) { let j; } for (let i of []) {}",
        ] {
            assert_eq!(redeclared(source), None, "{source}");
        }
    }
}
