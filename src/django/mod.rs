//! The Django bridge: one Python subprocess per run, started with the project's own interpreter
//! and settings, that answers JSON-lines requests for what only Django knows: the settings a
//! build needs, and the compress blocks of templates the native renderer cannot render exactly.
//! Its script (`bridge.py`) ships inside the binary; nothing extra is installed in the project.

mod answers;
pub mod project;
mod settings;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub use answers::{ParsedElement, Ready, RenderError, RenderedBlock, RenderedTemplate};
pub use project::{find_project, Project};
pub use settings::{DjangoSettings, Engine, LibraryNames, StaticLocation, TagLibraries};

/// The script the interpreter runs.
const SCRIPT: &str = include_str!("bridge.py");

/// Lines of the bridge's stderr kept for messages.
const STDERR_LINES: usize = 30;

/// Why the bridge could not answer.
/// Which of the project's template engines renders: Django's (templates by name) or Jinja2's
/// (templates by path, with `COMPRESS_JINJA2_GET_ENVIRONMENT`'s environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateEngine {
    Django,
    Jinja2,
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("cannot run the Django bridge with `{python}` ({error}); activate the project's virtualenv, or name its interpreter with --python or `python` in stapler.toml")]
    NoPython { python: String, error: String },
    #[error("`{python}` cannot import Django ({message}); activate the project's virtualenv, or name its interpreter with --python")]
    NoDjango { python: String, message: String },
    #[error("Django's settings `{settings}` fail to load with `{python}`: {message}; fix the settings module, or name another with --settings or `django_settings`{tail}")]
    Settings {
        python: String,
        settings: String,
        message: String,
        tail: String,
    },
    #[error("`{python}` has Django but neither django-compressor nor stapler-assets ({message}); install one in the project's virtualenv (`pip install stapler-assets`, whose app `stapler_assets` also serves the manifest on the servers)")]
    NoCompressor { python: String, message: String },
    #[error("the Django bridge (`{python}`) stopped {doing}{tail}; the project's code or a template tag ended Python: load the template in `python manage.py shell` to see why, or set render = \"native\" to build without Python")]
    Died {
        python: String,
        doing: String,
        tail: String,
    },
    #[error("the Django bridge failed while {doing}: {message}")]
    Failed { doing: String, message: String },
}

impl BridgeError {
    /// True for a bridge that could not start: a setup problem, not a broken build.
    pub fn is_setup(&self) -> bool {
        !matches!(self, BridgeError::Died { .. } | BridgeError::Failed { .. })
    }
}

#[derive(Deserialize)]
struct Rendered {
    templates: Vec<RenderedTemplate>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Answer {
    Ok(serde_json::Value),
    Error(Failure),
    Ready(Ready),
}

#[derive(Deserialize)]
struct Failure {
    kind: String,
    message: String,
    #[serde(default)]
    traceback: String,
}

struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// A running bridge. Requests are answered one at a time.
pub struct Bridge {
    process: Mutex<Process>,
    python: String,
    pub ready: Ready,
    /// Time spent waiting for the bridge, start-up included.
    spent: Mutex<Duration>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("python", &self.python)
            .field("ready", &self.ready)
            .finish()
    }
}

impl Bridge {
    /// Starts the project's Python with its settings and waits until Django is set up.
    pub fn start(project: &Project) -> Result<Bridge, BridgeError> {
        let started = Instant::now();
        let python = project.python.display().to_string();
        let mut child = Command::new(&project.python)
            .arg("-c")
            .arg(SCRIPT)
            .current_dir(&project.dir)
            .env("DJANGO_SETTINGS_MODULE", &project.settings)
            .env("STAPLER_DJANGO_PROJECT", &project.dir)
            .env("PYTHONIOENCODING", "utf-8")
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
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            stderr: tail,
            stderr_reader: Some(stderr_reader),
        };
        let answer = process.read_answer(&python, "setting Django up")?;
        let ready = match answer {
            Answer::Ready(ready) => ready,
            Answer::Error(failure) => {
                let ended = process.finish();
                return Err(setup_error(&python, project, failure, &ended));
            }
            Answer::Ok(_) => {
                return Err(BridgeError::Failed {
                    doing: "setting Django up".into(),
                    message: "it answered before it was asked".into(),
                })
            }
        };
        Ok(Bridge {
            process: Mutex::new(process),
            python,
            ready,
            spent: Mutex::new(started.elapsed()),
        })
    }

    /// The interpreter the bridge runs.
    pub fn python(&self) -> &str {
        &self.python
    }

    /// Time spent in the bridge so far, Python's start-up and Django's setup included.
    pub fn spent(&self) -> Duration {
        self.spent.lock().map(|spent| *spent).unwrap_or_default()
    }

    /// What the build needs from Django's settings.
    pub fn settings(&self) -> Result<DjangoSettings, BridgeError> {
        self.ask(
            serde_json::json!({"op": "settings"}),
            "reading Django's settings",
        )
    }

    /// Every compress block of each template, rendered by Django as django-compressor's
    /// offline command renders it; `contexts` of `None` uses `COMPRESS_OFFLINE_CONTEXT` as
    /// Python evaluates it.
    pub fn render(
        &self,
        templates: &[String],
        contexts: Option<&[serde_json::Map<String, serde_json::Value>]>,
        engine: TemplateEngine,
    ) -> Result<Vec<RenderedTemplate>, BridgeError> {
        let doing = format!("rendering {} template(s) with Django", templates.len());
        let engine = match engine {
            TemplateEngine::Django => "django",
            TemplateEngine::Jinja2 => "jinja2",
        };
        let rendered: Rendered = self.ask(
            serde_json::json!({"op": "render", "templates": templates, "contexts": contexts, "engine": engine}),
            &doing,
        )?;
        Ok(rendered.templates)
    }

    /// Each `(context, message)` as Django's catalogs translate it in `LANGUAGE_CODE`, the
    /// language `manage.py compress` renders templates in.
    pub fn translate(
        &self,
        messages: &[(Option<String>, String)],
    ) -> Result<Vec<String>, BridgeError> {
        #[derive(serde::Deserialize)]
        struct Translated {
            translations: Vec<String>,
        }
        let doing = format!("translating {} message(s) with Django", messages.len());
        let answer: Translated = self.ask(
            serde_json::json!({"op": "translate", "messages": messages}),
            &doing,
        )?;
        one_each(answer.translations, messages.len(), &doing)
    }

    /// What `{% static %}` renders for each path, as the project's static files storage makes
    /// it; a path the storage has no URL for gives why.
    pub fn static_urls(
        &self,
        paths: &[String],
    ) -> Result<Vec<Result<String, String>>, BridgeError> {
        #[derive(serde::Deserialize)]
        struct Url {
            url: Option<String>,
            error: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Urls {
            urls: Vec<Url>,
        }
        let doing = format!("asking Django for {} static URL(s)", paths.len());
        let answer: Urls = self.ask(serde_json::json!({"op": "static", "paths": paths}), &doing)?;
        let urls = answer
            .urls
            .into_iter()
            .map(|url| match (url.url, url.error) {
                (Some(url), _) => Ok(url),
                (None, error) => Err(error.unwrap_or_else(|| "no URL".into())),
            })
            .collect();
        one_each(urls, paths.len(), &doing)
    }

    /// One request, its answer read as `T`.
    /// A block's element (`<link type="text/x-scss" href=…>`) compiled by the precompiler the
    /// project configured for its type, exactly as django-compressor compiles it; the
    /// precompiler's failure is the inner error.
    pub fn precompile(
        &self,
        kind: &str,
        element: &str,
    ) -> Result<Result<String, String>, BridgeError> {
        #[derive(serde::Deserialize)]
        struct Compiled {
            text: Option<String>,
            error: Option<String>,
        }
        let doing = "precompiling with Django".to_string();
        let answer: Compiled = self.ask(
            serde_json::json!({"op": "precompile", "kind": kind, "element": element}),
            &doing,
        )?;
        Ok(match (answer.text, answer.error) {
            (Some(text), _) => Ok(text),
            (None, error) => Err(error.unwrap_or_else(|| "no output".into())),
        })
    }

    /// The elements django-compressor's configured parser (`COMPRESS_PARSER`) finds in each
    /// `(kind, body)`: for each, its elements in the parser's order, or why the parser stopped.
    pub fn elements(
        &self,
        blocks: &[(&str, &str)],
    ) -> Result<Vec<Result<Vec<ParsedElement>, String>>, BridgeError> {
        #[derive(serde::Deserialize)]
        struct Block {
            elements: Option<Vec<ParsedElement>>,
            error: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Blocks {
            blocks: Vec<Block>,
        }
        let doing = format!("reading {} block(s) with COMPRESS_PARSER", blocks.len());
        let request: Vec<serde_json::Value> = blocks
            .iter()
            .map(|(kind, body)| serde_json::json!({"kind": kind, "body": body}))
            .collect();
        let answer: Blocks = self.ask(
            serde_json::json!({"op": "elements", "blocks": request}),
            &doing,
        )?;
        let found = answer
            .blocks
            .into_iter()
            .map(|block| match (block.elements, block.error) {
                (Some(elements), _) => Ok(elements),
                (None, error) => Err(error.unwrap_or_else(|| "no answer".into())),
            })
            .collect();
        one_each(found, blocks.len(), &doing)
    }

    fn ask<T: serde::de::DeserializeOwned>(
        &self,
        request: serde_json::Value,
        doing: &str,
    ) -> Result<T, BridgeError> {
        let value = self.request(request, doing)?;
        serde_json::from_value(value).map_err(|error| BridgeError::Failed {
            doing: doing.into(),
            message: format!("its answer cannot be read ({error})"),
        })
    }

    fn request(
        &self,
        request: serde_json::Value,
        doing: &str,
    ) -> Result<serde_json::Value, BridgeError> {
        let started = Instant::now();
        let mut process = self.process.lock().map_err(|_| BridgeError::Failed {
            doing: doing.into(),
            message: "an earlier request panicked".into(),
        })?;
        let sent = process
            .stdin
            .as_mut()
            .map(|stdin| writeln!(stdin, "{request}").and_then(|()| stdin.flush()));
        if !matches!(sent, Some(Ok(()))) {
            let ended = process.finish();
            return Err(self.died(doing, ended.describe()));
        }
        let answer = process.read_answer(&self.python, doing)?;
        if let Ok(mut spent) = self.spent.lock() {
            *spent += started.elapsed();
        }
        match answer {
            Answer::Ok(value) => Ok(value),
            Answer::Error(failure) => Err(BridgeError::Failed {
                doing: doing.into(),
                message: format!("{}\n{}", failure.message, failure.traceback.trim_end()),
            }),
            Answer::Ready(_) => Err(BridgeError::Failed {
                doing: doing.into(),
                message: "it answered out of turn".into(),
            }),
        }
    }

    fn died(&self, doing: &str, tail: String) -> BridgeError {
        BridgeError::Died {
            python: self.python.clone(),
            doing: format!("while {doing}"),
            tail,
        }
    }
}

impl Process {
    /// Reads one answer; end of stream means the process died.
    fn read_answer(&mut self, python: &str, doing: &str) -> Result<Answer, BridgeError> {
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
    fn finish(&mut self) -> Ended {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
            }
        };
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let lines: Vec<String> = self
            .stderr
            .lock()
            .map(|tail| tail.iter().cloned().collect())
            .unwrap_or_default();
        Ended {
            status: status.map(describe_status).unwrap_or_default(),
            output: lines,
        }
    }
}

/// How the bridge's process ended.
struct Ended {
    status: String,
    /// Its last lines on stderr.
    output: Vec<String>,
}

impl Ended {
    /// ` (killed by signal 9); its last output:\n…`, for a message.
    fn describe(&self) -> String {
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

impl Drop for Process {
    fn drop(&mut self) {
        if self.stderr_reader.is_some() {
            self.finish();
        }
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

/// Paths the bridge gives are absolute; a relative one is taken against the project folder.
pub fn absolute(project: &Project, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        project.dir.join(path)
    }
}

/// `answers`, when there is one for each of the `asked` things.
fn one_each<T>(answers: Vec<T>, asked: usize, doing: &str) -> Result<Vec<T>, BridgeError> {
    if answers.len() == asked {
        Ok(answers)
    } else {
        Err(BridgeError::Failed {
            doing: doing.into(),
            message: format!(
                "it gave {} answer(s) for {asked} question(s)",
                answers.len()
            ),
        })
    }
}
