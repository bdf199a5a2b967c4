//! The CI examples (`examples/`) run commands this binary accepts: every `manage.py stapler`
//! line parses, and the variables they set are settings stapler reads.

mod common;

use std::path::Path;

use common::*;

#[test]
fn every_stapler_command_in_the_ci_examples_parses() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let example = std::fs::read_to_string(examples.join(name)).expect("example");
        for line in example.lines() {
            let Some((_, command)) = line.split_once("manage.py stapler ") else {
                continue;
            };
            let command = command.split('>').next().unwrap_or_default();
            let mut args: Vec<&str> = command.split_whitespace().collect();
            // Parsing stops at --help once every word before it is valid.
            args.push("--help");
            let run = stapler(&examples, &args);
            assert!(
                run.status.success(),
                "{name}: `stapler {command}` does not parse:\n{}",
                text(&run.stderr)
            );
            seen += 1;
        }
        assert!(
            example.contains("STAPLER_PUBLISH_TO"),
            "{name} names the publish target"
        );
    }
    assert_eq!(seen, 6, "the examples' stapler commands");

    // The variable the examples set is the `[publish] to` setting.
    let site = example_site();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args(["config", "--config", "stapler.toml"])
        .current_dir(site.path())
        .env("STAPLER_PUBLISH_TO", "s3://bucket/static")
        .output()
        .expect("run stapler");
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("publish.to = \"s3://bucket/static\""),
        "{}",
        text(&run.stdout)
    );
}
