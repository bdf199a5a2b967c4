//! The `precompilers` setting: which types stapler compiles itself (`builtin`), and the check
//! of what a file, the environment or the flags configure.

use crate::block::Kind;

use super::ConfigError;

/// The value of a `precompilers` entry that asks for stapler's own compiler.
pub const BUILTIN: &str = "builtin";

/// A compiler stapler has itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinCompiler {
    Scss,
    Sass,
    TypeScript,
}

impl BuiltinCompiler {
    /// The built-in compiler for a `type`, if there is one.
    pub fn for_type(mimetype: &str, kind: Kind) -> Option<BuiltinCompiler> {
        let mimetype = mimetype.to_ascii_lowercase();
        match (kind, mimetype.as_str()) {
            (Kind::Css, "text/x-scss" | "text/scss") => Some(BuiltinCompiler::Scss),
            (Kind::Css, "text/x-sass" | "text/sass") => Some(BuiltinCompiler::Sass),
            (
                Kind::Js,
                "text/typescript"
                | "application/typescript"
                | "application/x-typescript"
                | "text/x-typescript",
            ) => Some(BuiltinCompiler::TypeScript),
            _ => None,
        }
    }
}

/// `precompilers` entries: `builtin` only for a type stapler compiles itself.
pub fn check(
    entries: Vec<(String, String)>,
    origin: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    for (mimetype, command) in &entries {
        let builtin = [Kind::Css, Kind::Js]
            .into_iter()
            .any(|kind| BuiltinCompiler::for_type(mimetype, kind).is_some());
        if command.trim() == BUILTIN && !builtin {
            return Err(ConfigError {
                origin: format!("{origin}: precompilers"),
                message: format!("`{mimetype}` has no built-in compiler (stapler has them for text/x-scss, text/scss, text/x-sass, text/sass and TypeScript); name a command for it"),
            });
        }
        if command.trim().is_empty() {
            return Err(ConfigError {
                origin: format!("{origin}: precompilers"),
                message: format!("`{mimetype}` has an empty command; name a command, a Python class, or `builtin`"),
            });
        }
    }
    Ok(entries)
}
