//! The block HTML reader against Python's `html.parser` itself, as django-compressor's default
//! parser uses it: tens of thousands of generated bodies made of the pieces real blocks and
//! broken markup hold (self-closing scripts, unclosed quotes and comments, marked sections,
//! character references, odd spaces), each read by both. Python is `python3` on the PATH (or
//! `HTML_PARSER_PYTHON`); the run says which version it compared against.

use std::io::Write;
use std::process::{Command, Stdio};

use stapler::compress::html;

const PIECES: &[&str] = &[
    "<script",
    "<SCRIPT",
    "<style",
    "<link",
    "<scr",
    " src",
    "=",
    "==",
    " = ",
    "\"",
    "'",
    "/s/a.js",
    " href",
    " rel=stylesheet",
    " />",
    "/>",
    ">",
    "</script>",
    "</script\n>",
    "</style>",
    "</ script>",
    "</scriptx>",
    "<!--",
    "-->",
    "--!>",
    "-- >",
    "<![CDATA[",
    "]]>",
    "] ]>",
    "<![if IE]>",
    "<![endif]>",
    "<![x",
    "&#",
    "&#x41",
    "&#65;",
    "&amp;",
    "&am",
    ";",
    " ",
    "\n",
    "\x0c",
    "\x1c",
    "\u{a0}",
    "x",
    "<p>",
    "</p>",
    "<",
    "</",
    "</>",
    "<?pi",
    "?>",
    "<!doctype html>",
    "<!x>",
    "<!>",
    " async",
    " defer",
    "<noscript>",
    "<template>",
    "/",
    "a",
    "é",
    "\t",
    "\r",
];

/// A small deterministic generator (xorshift), so every run checks the same bodies.
struct Bodies(u64);

impl Iterator for Bodies {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut draw = |below: usize| {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % below as u64) as usize
        };
        let pieces = 1 + draw(18);
        Some((0..pieces).map(|_| PIECES[draw(PIECES.len())]).collect())
    }
}

/// What the reader finds, in the script's answer form.
fn ours(body: &str) -> serde_json::Value {
    match html::elements(body) {
        Ok(found) => serde_json::Value::Array(
            found
                .iter()
                .map(|element| {
                    let url = match element.tag.as_str() {
                        "link" => "href",
                        _ => "src",
                    };
                    let value = element
                        .attrs
                        .iter()
                        .rev()
                        .find(|attr| attr.name == url)
                        .map(|attr| attr.value.clone());
                    let text = match element.tag.as_str() {
                        "link" => serde_json::Value::Null,
                        _ => serde_json::json!(element.text),
                    };
                    serde_json::json!([element.tag, value.flatten(), text])
                })
                .collect(),
        ),
        Err(_) => serde_json::json!("error"),
    }
}

#[test]
fn the_reader_finds_what_pythons_html_parser_finds() {
    let bodies: Vec<String> = Bodies(0x5eed_cafe_f00d).take(50_000).collect();
    let python = std::env::var("HTML_PARSER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/html_elements.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut input = String::new();
    for body in &bodies {
        input.push_str(&serde_json::to_string(body).expect("json"));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("python answers");
    writer.join().expect("writer").expect("write bodies");
    assert!(output.status.success(), "html_elements.py failed");
    let answers = String::from_utf8(output.stdout).expect("utf-8");
    let version = Command::new(&python)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default();
    let mut differences = Vec::new();
    for (body, answer) in bodies.iter().zip(answers.lines()) {
        let theirs: serde_json::Value = serde_json::from_str(answer).expect("answer");
        let ours = ours(body);
        if ours != theirs {
            differences.push(format!("{body:?}\n  stapler: {ours}\n  python:  {theirs}"));
        }
    }
    assert_eq!(answers.lines().count(), bodies.len(), "one answer per body");
    assert!(
        differences.is_empty(),
        "{} of {} bodies read differently from {version}'s html.parser, first ones:\n{}",
        differences.len(),
        bodies.len(),
        differences[..differences.len().min(10)].join("\n")
    );
    eprintln!(
        "{} bodies read as {version}'s html.parser reads them",
        bodies.len()
    );
}
