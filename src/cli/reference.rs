//! Reference material generated from the command line's own definitions, so it always matches
//! the parser: shell completion scripts and manual pages.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use stapler::output::{self, Durability};
use stapler::Error;

use super::Cli;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "stapler", &mut script);
    print_bytes(&script)
}

/// Prints `stapler.1`, or writes it and a page per command (`stapler-compress.1`, ...) into
/// `dir`.
pub fn manual(dir: Option<&Path>) -> Result<(), Error> {
    let command = Cli::command();
    let Some(dir) = dir else {
        return print_bytes(&page(command)?);
    };
    let mut pages = vec![("stapler".to_string(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("stapler-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, command) in pages {
        let path = dir.join(format!("{name}.1"));
        output::write_atomic(&path, &page(command)?, Durability::Buffered)?;
    }
    Ok(())
}

/// The roff manual page of `command`.
fn page(command: clap::Command) -> Result<Vec<u8>, Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|error| Error::io(Path::new("the manual page"), "writing", error))?;
    Ok(page)
}

/// Writes generated text to standard output; a reader that stops early (`| head`) is not an
/// error.
fn print_bytes(bytes: &[u8]) -> Result<(), Error> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io(Path::new("standard output"), "writing", error))
        }
        _ => Ok(()),
    }
}
