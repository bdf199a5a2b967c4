//! Django's settings in a project with no stapler.toml: where the answer comes from (Python or
//! its record), when Python starts, and that a command does not wait for it to end.

mod common;

use std::path::Path;

use common::django::*;
use common::*;

#[test]
fn with_settings_from_django_an_unchanged_build_is_skipped_unless_django_rendered_a_template() {
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    let compress = ["compress", "--offline", "--python", python];
    let nothing_changed = |dir: &Path, root: &Path| {
        let run = stapler_in(dir, root, &compress, &[]);
        let stdout = text(&run.stdout);
        assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
        stdout.contains("nothing changed since the last build")
    };

    // Every block rendered by stapler itself: the second run rebuilds nothing.
    let small = small_project(SMALL_SETTINGS, SMALL_PAGE);
    age(small.path());
    let root = small.path().join("root");
    assert!(!nothing_changed(small.path(), &root));
    assert!(nothing_changed(small.path(), &root));
    std::fs::write(small.path().join("assets/a.css"), ".a { color: blue }").expect("edit");
    age(&small.path().join("assets"));
    assert!(!nothing_changed(small.path(), &root), "an edit rebuilds");

    // The fixture, where Django renders two templates with the project's own tags (Python the
    // record cannot see) and a Python precompiler runs: every build is a full one.
    let project = project();
    age(project.path());
    let root = project.path().join("root");
    assert!(!nothing_changed(project.path(), &root));
    assert!(!nothing_changed(project.path(), &root));
}

#[test]
fn djangos_settings_come_from_their_record_until_something_they_read_changes() {
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    let settings = SMALL_SETTINGS.replace(
        "COMPRESS_OFFLINE = True",
        "import os\nCOMPRESS_OUTPUT_DIR = os.environ.get(\"SMALL_OUTPUT_DIR\", \"CACHE\")\nCOMPRESS_OFFLINE = True",
    );
    let dir = small_project(&settings, SMALL_PAGE);
    age(dir.path());
    let root = dir.path().join("root");
    // Each run rebuilds (`--force`), so only where the settings came from differs.
    let build = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["compress", "--offline", "--force", "--python", python];
        args.extend_from_slice(extra);
        let run = stapler_in(dir.path(), &root, &args, env);
        let stdout = text(&run.stdout);
        assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
        (
            stdout.contains("the bridge took"),
            stdout.contains("came from their record"),
        )
    };
    assert_eq!(build(&[], &[]), (true, false), "the first run asks Python");
    assert_eq!(build(&[], &[]), (false, true), "nothing they read changed");
    assert_eq!(
        build(&[], &["--no-cache"]),
        (true, false),
        "--no-cache asks"
    );

    // A variable the settings read.
    let elsewhere = [("SMALL_OUTPUT_DIR", "ELSEWHERE")];
    assert_eq!(build(&elsewhere, &[]), (true, false));
    assert!(
        root.join("ELSEWHERE/manifest.json").is_file(),
        "the new answer"
    );
    assert_eq!(build(&elsewhere, &[]), (false, true));
    assert_eq!(build(&[], &[]), (true, false), "and back");

    // The settings module itself, edited to the same size (its time alone tells).
    let path = dir.path().join("small_settings.py");
    let edited = settings.replace("\"CACHE\")", "\"BUNDL\")");
    std::fs::write(&path, &edited).expect("edit");
    assert_eq!(build(&[], &[]), (true, false));
    assert!(root.join("BUNDL/manifest.json").is_file(), "the new answer");
    // Written seconds ago, it may still change within the file system's time resolution:
    // its time vouches for nothing yet.
    assert_eq!(build(&[], &[]), (true, false), "a file just written");
    age(dir.path());
    assert_eq!(build(&[], &[]), (true, false));
    assert_eq!(build(&[], &[]), (false, true));

    // Settings that run a process can read anything: never recorded.
    std::fs::write(
        &path,
        format!("{edited}\nimport subprocess\nsubprocess.run([\"true\"])\n"),
    )
    .expect("edit");
    age(dir.path());
    assert_eq!(build(&[], &[]), (true, false));
    assert_eq!(
        build(&[], &[]),
        (true, false),
        "a process in the settings is asked each time"
    );
}

const SMALL_TAGS: &str = r#"from django import template
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def page_script(path):
    return format_html('<script src="{}"></script>', static(path))
"#;

#[test]
fn with_recorded_settings_python_starts_beside_the_scan_when_the_last_build_needed_it() {
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    let timings = |dir: &Path, root: &Path| {
        let compress = [
            "compress",
            "--offline",
            "--python",
            python,
            "--format",
            "json",
        ];
        let run = stapler_in(dir, root, &compress, &[]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
        (report["build"]["timings"].clone(), keys(root))
    };

    // The project's own tag needs Django: each build renders the template through it.
    let settings = SMALL_SETTINGS.replace("\"compressor\"]", "\"compressor\", \"smalltags\"]");
    let small = small_project(
        &settings,
        &[
            ("smalltags/__init__.py", b""),
            ("smalltags/templatetags/__init__.py", b""),
            ("smalltags/templatetags/small_tags.py", SMALL_TAGS.as_bytes()),
            ("templates/page.html", b"{% load static compress small_tags %}{% compress js %}{% page_script 'a.js' %}{% endcompress %}"),
            ("assets/a.js", b"var a = 1;\n"),
        ],
    );
    age(small.path());
    let root = small.path().join("root");
    let (first, first_keys) = timings(small.path(), &root);
    assert_eq!(first["django_settings_recorded"], false, "{first}");
    assert_eq!(first["bridge_started"], true, "{first}");
    assert_eq!(first_keys.len(), 1);
    // The second build takes the settings from their record, and the record says the last
    // build needed Python: it starts at once, beside the scan, and is waited on only when the
    // template needs it.
    let (second, second_keys) = timings(small.path(), &root);
    assert_eq!(second["django_settings_recorded"], true, "{second}");
    assert_eq!(second["bridge_started"], true, "{second}");
    let overlap = second["bridge_overlap_seconds"].as_f64().expect("a number");
    assert!(overlap > 0.0, "{second}");
    assert_eq!(second_keys, first_keys, "the same keys either way");

    // The fixture's offline contexts come from a generator, which may read anything: its
    // settings are asked of Python every time.
    let project = project();
    let root = project.path().join("root");
    let (first, first_keys) = timings(project.path(), &root);
    let (second, second_keys) = timings(project.path(), &root);
    assert_eq!(first["django_settings_recorded"], false, "{first}");
    assert_eq!(second["django_settings_recorded"], false, "{second}");
    assert_eq!(second_keys, first_keys);
}

#[test]
fn a_command_does_not_wait_for_python_to_end() {
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    // Settings whose process, once told to end, takes three seconds to.
    let settings = format!(
        "{SMALL_SETTINGS}\nimport atexit, time\n\ndef finish():\n    time.sleep(3)\n    (BASE_DIR / \"ended\").write_text(\"\")\n\natexit.register(finish)\n"
    );
    let dir = small_project(&settings, SMALL_PAGE);
    let root = dir.path().join("root");
    let args = ["compress", "--offline", "--no-cache", "--python", python];
    let run = stapler_in(dir.path(), &root, &args, &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let ended = dir.path().join("ended");
    assert!(
        !ended.exists(),
        "stapler returned only once Python had ended"
    );
    // Python was told to end, not killed: it ends on its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ended.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ended.exists(), "Python ended on its own");
}

#[test]
fn why_python_was_asked_for_the_settings_is_said_and_a_log_the_settings_write_does_not_count() {
    let python = python();
    let python = python.to_str().expect("utf-8 path");
    // Settings that log to a file through a handler that checks the log's time to rotate it,
    // read a variable they set themselves (as Django sets TZ), go through the whole environment
    // after that, and read the process's limits.
    let settings = SMALL_SETTINGS.replace(
        "COMPRESS_OFFLINE = True",
        "import os, logging, logging.handlers\nCOMPRESS_OUTPUT_DIR = os.environ.get(\"SMALL_OUTPUT_DIR\", \"CACHE\")\nCOMPRESS_OFFLINE = True\n_log = logging.handlers.TimedRotatingFileHandler(BASE_DIR / \"settings.log\", when=\"D\")\nlogging.getLogger(\"small\").addHandler(_log)\nlogging.getLogger(\"small\").warning(\"settings read\")\nos.environ[\"SMALL_SET\"] = \"by the settings\"\nSMALL = os.environ[\"SMALL_SET\"]\nEVERYTHING = dict(os.environ)\nLIMITS = open(\"/proc/self/limits\").read()",
    );
    let dir = small_project(&settings, SMALL_PAGE);
    std::fs::write(dir.path().join("settings.log"), "").expect("log");
    age(dir.path());
    let root = dir.path().join("root");
    let asked = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![
            "compress",
            "--offline",
            "--force",
            "--python",
            python,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = stapler_in(dir.path(), &root, &args, env);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
        let timings = &report["build"]["timings"];
        timings["django_settings_asked_because"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(asked(&[], &[]).as_deref(), Some("no record yet"));
    // The log was written again as the settings were read, they read a variable they had set
    // and a file of the machine's state whose time is always now: none stands in the way.
    assert_eq!(asked(&[], &[]), None, "the settings came from their record");
    assert_eq!(
        asked(&[], &["--no-cache"]).as_deref(),
        Some("the build cache is off")
    );
    assert_eq!(
        asked(&[("SMALL_OUTPUT_DIR", "ELSEWHERE")], &[]).as_deref(),
        Some("the environment variable SMALL_OUTPUT_DIR changed")
    );
    let module = dir.path().join("small_settings.py");
    std::fs::write(
        &module,
        format!("{settings}\nimport subprocess\nsubprocess.run([\"true\"])\n"),
    )
    .expect("edit");
    age(dir.path());
    let why = asked(&[("SMALL_OUTPUT_DIR", "ELSEWHERE")], &[]).expect("asked");
    assert_eq!(
        why,
        format!(
            "{} changed; not recorded for the next run: making them called subprocess.Popen, which no record can vouch for",
            module.display()
        )
    );
}
