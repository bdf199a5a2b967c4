//! The command line's conventions: `--version` with the commit, exit codes in `--help`, shell
//! completions and manual pages generated from the same definitions as the parser.

mod common;

use common::*;

#[test]
fn version_names_the_release_and_the_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = stapler(dir.path(), &["--version"]);
    assert!(run.status.success());
    let version = text(&run.stdout);
    let expected = format!("stapler {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    let commit = version
        .trim_end()
        .trim_start_matches(&expected)
        .trim_end_matches(')');
    assert!(!commit.is_empty(), "{version}");
}

#[test]
fn help_documents_the_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let help = text(&stapler(dir.path(), &["--help"]).stdout);
    for code in [
        "0 success",
        "1 bad input",
        "2 bad configuration",
        "3 a file could not be written",
        "4 the publish target",
        "5 the new release",
    ] {
        assert!(help.contains(code), "{code} in {help}");
    }
}

#[test]
fn completions_generate_for_every_shell_and_know_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = stapler(dir.path(), &["completions", shell]);
        assert!(run.status.success(), "{shell}: {}", text(&run.stderr));
        let script = text(&run.stdout);
        for command in [
            "compress", "publish", "deploy", "lookup", "check", "config", "init",
        ] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
        assert!(script.contains("--offline"), "{shell} completes flags");
    }
    let run = stapler(dir.path(), &["completions", "tcsh"]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn manual_pages_are_written_for_stapler_and_each_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let printed = stapler(dir.path(), &["man"]);
    assert!(printed.status.success());
    let page = text(&printed.stdout);
    assert!(page.contains(".TH stapler 1"), "{page}");
    assert!(page.contains("Exit codes"), "{page}");

    let pages = dir.path().join("man1");
    let run = stapler(dir.path(), &["man", "--output-dir", "man1"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    for name in [
        "stapler",
        "stapler-compress",
        "stapler-publish",
        "stapler-deploy",
        "stapler-lookup",
        "stapler-check",
        "stapler-config",
        "stapler-init",
        "stapler-completions",
        "stapler-man",
    ] {
        let page = std::fs::read_to_string(pages.join(format!("{name}.1"))).expect(name);
        assert!(page.contains(&format!(".TH {name} 1")), "{name}: {page}");
    }
    let compress = std::fs::read_to_string(pages.join("stapler-compress.1")).expect("page");
    assert!(compress.contains("offline"), "{compress}");
}
