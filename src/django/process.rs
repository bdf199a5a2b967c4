//! The bridge's process: the project's Python started with the bridge's script, one JSON answer
//! per line read from it, and how it ended when it stops.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{BridgeError, Project, Ready};

/// The script the interpreter runs.
const SCRIPT: &str = include_str!("bridge.py");

/// Lines of the bridge's stderr kept for messages.
const STDERR_LINES: usize = 30;

/// The variables the bridge's process gets besides stapler's own environment: what the settings
/// record compares the environment with must be what Python saw.
pub(super) fn overrides(project: &Project, watch: bool) -> Vec<(&'static str, String)> {
    let mut set = vec![
        ("DJANGO_SETTINGS_MODULE", project.settings.clone()),
        ("STAPLER_DJANGO_PROJECT", project.dir.display().to_string()),
        ("PYTHONIOENCODING", "utf-8".to_string()),
    ];
    if watch {
        set.push(("STAPLER_DJANGO_WATCH", "1".to_string()));
    }
    set
}

/// The hash of the script, part of what a settings record is kept under.
pub(super) fn script() -> &'static str {
    SCRIPT
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Answer {
    Ok(serde_json::Value),
    Error(Failure),
    Ready(Ready),
}

#[derive(Deserialize)]
pub(super) struct Failure {
    kind: String,
    message: String,
    #[serde(default)]
    traceback: String,
}

impl Failure {
    pub(super) fn message(&self) -> &str {
        &self.message
    }

    pub(super) fn traceback(&self) -> &str {
        &self.traceback
    }
}

pub(super) struct Process {
    /// `None` once it was handed to the thread that reaps it.
    child: Option<Child>,
    pub(super) stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts the project's Python with its settings and waits until Django is set up; `watch` has
/// the settings answer say what it read.
pub(super) fn launch(project: &Project, watch: bool) -> Result<(Process, Ready), BridgeError> {
    let python = project.python.display().to_string();
    let mut command = Command::new(&project.python);
    command.arg("-c").arg(SCRIPT).current_dir(&project.dir);
    for (key, value) in overrides(project, watch) {
        command.env(key, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| BridgeError::NoPython {
            python: python.clone(),
            error: error.to_string(),
        })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        return Err(BridgeError::NoPython {
            python,
            error: "its standard streams could not be opened".into(),
        });
    };
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let stderr_reader = {
        let tail = tail.clone();
        std::thread::spawn(move || keep_tail(stderr, &tail))
    };
    let mut process = Process {
        child: Some(child),
        stdin: Some(stdin),
        stdout: BufReader::new(stdout),
        stderr: tail,
        stderr_reader: Some(stderr_reader),
    };
    match process.read_answer(&python, "setting Django up")? {
        Answer::Ready(ready) => Ok((process, ready)),
        Answer::Error(failure) => {
            let ended = process.finish();
            Err(setup_error(&python, project, failure, &ended))
        }
        Answer::Ok(_) => Err(BridgeError::Failed {
            doing: "setting Django up".into(),
            message: "it answered before it was asked".into(),
        }),
    }
}

impl Process {
    /// Reads one answer; end of stream means the process died.
    pub(super) fn read_answer(&mut self, python: &str, doing: &str) -> Result<Answer, BridgeError> {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line);
        match read {
            Ok(0) | Err(_) => {
                let ended = self.finish();
                Err(BridgeError::Died {
                    python: python.into(),
                    doing: format!("while {doing}"),
                    tail: ended.describe(),
                })
            }
            Ok(_) => serde_json::from_str(&line).map_err(|error| BridgeError::Failed {
                doing: doing.into(),
                message: format!(
                    "it answered something that is not the bridge's protocol ({error}): {}",
                    line.chars().take(200).collect::<String>()
                ),
            }),
        }
    }

    /// Ends the process and says how it ended and what it last wrote to stderr.
    pub(super) fn finish(&mut self) -> Ended {
        self.stdin = None;
        match self.child.as_mut() {
            Some(child) => end(child, self.stderr_reader.take(), &self.stderr),
            None => Ended {
                status: String::new(),
                output: Vec::new(),
            },
        }
    }
}

/// Waits for a process whose input is closed to end (killing it after two seconds), then for
/// its stderr to be read to the end.
fn end(
    child: &mut Child,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    stderr: &Mutex<VecDeque<String>>,
) -> Ended {
    let deadline = Instant::now() + Duration::from_secs(2);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break child.wait().ok();
            }
        }
    };
    if let Some(reader) = stderr_reader {
        let _ = reader.join();
    }
    let lines: Vec<String> = stderr
        .lock()
        .map(|tail| tail.iter().cloned().collect())
        .unwrap_or_default();
    Ended {
        status: status.map(describe_status).unwrap_or_default(),
        output: lines,
    }
}

/// How the bridge's process ended.
pub(super) struct Ended {
    status: String,
    /// Its last lines on stderr.
    output: Vec<String>,
}

impl Ended {
    /// ` (killed by signal 9); its last output:\n…`, for a message.
    pub(super) fn describe(&self) -> String {
        let status = if self.status.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.status)
        };
        if self.output.is_empty() {
            status
        } else {
            format!("{status}; its last output:\n{}", self.output.join("\n"))
        }
    }
}

/// A bridge no longer needed is told so (its input closes) and left to end on its own: Python's
/// shutdown with Django loaded takes about a tenth of a second, which a command that is done
/// should not wait for. A thread reaps it, so a program that uses the library keeps no zombie;
/// a command that exits first leaves it to the system.
impl Drop for Process {
    fn drop(&mut self) {
        let (Some(reader), Some(mut child)) = (self.stderr_reader.take(), self.child.take()) else {
            return;
        };
        self.stdin = None;
        let stderr = self.stderr.clone();
        let _ = std::thread::Builder::new()
            .name("bridge-reaper".into())
            .spawn(move || end(&mut child, Some(reader), &stderr));
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => String::new(),
    }
}

fn keep_tail(stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
}

fn setup_error(python: &str, project: &Project, failure: Failure, ended: &Ended) -> BridgeError {
    let python = python.to_string();
    match failure.kind.as_str() {
        "no_django" => BridgeError::NoDjango {
            python,
            message: failure.message,
        },
        "no_compressor" => BridgeError::NoCompressor {
            python,
            message: failure.message,
        },
        _ => BridgeError::Settings {
            python,
            settings: project.settings.clone(),
            message: last_traceback_frame(&failure.message, &failure.traceback),
            tail: if ended.output.is_empty() {
                String::new()
            } else {
                format!("\nits output:\n{}", ended.output.join("\n"))
            },
        },
    }
}

/// The error and the project file line it came from, out of a Python traceback.
fn last_traceback_frame(message: &str, traceback: &str) -> String {
    let frame = traceback.lines().rfind(|line| {
        line.trim_start().starts_with("File \"")
            && !line.contains("File \"<")
            && !line.contains("/site-packages/")
            && !line.contains("/lib/python")
    });
    match frame {
        Some(frame) => format!("{message} ({})", frame.trim()),
        None => message.to_string(),
    }
}
