//! The Django bridge: one Python subprocess per run, started with the project's own interpreter
//! and settings, that answers JSON-lines requests for what only Django knows: the settings a
//! build needs, and the compress blocks of templates the native renderer cannot render exactly.
//! Its script (`bridge.py`) ships inside the binary; nothing extra is installed in the project.
//!
//! The settings answer is kept in a record with everything Python read to make it
//! ([`record`]); while nothing on that list changed, a run takes the settings from the record and
//! starts Python only when it needs another answer, or at once in the background when the last
//! run needed one.

mod answers;
mod process;
pub mod project;
pub mod record;
mod settings;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Deserialize;

pub use crate::error::BridgeError;
pub use answers::{ParsedElement, Ready, RenderError, RenderedBlock, RenderedTemplate};
use process::{Answer, Process};
pub use project::{find_project, Project};
pub use settings::{DjangoSettings, Engine, LibraryNames, StaticLocation, TagLibraries};

/// Which of the project's template engines renders: Django's (templates by name) or Jinja2's
/// (templates by path, with `COMPRESS_JINJA2_GET_ENVIRONMENT`'s environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateEngine {
    Django,
    Jinja2,
}

#[derive(Deserialize)]
struct Rendered {
    templates: Vec<RenderedTemplate>,
}

/// What the Django bridge cost a run.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeUse {
    /// Whether Python ran: not when the settings came from their record and nothing else was
    /// asked.
    pub started: bool,
    /// Python's start-up, Django's setup and every answer.
    pub spent: Duration,
    /// Of Python's start-up, the time other work went on beside it.
    pub overlap: Duration,
    /// Whether the settings came from their record rather than from Python.
    pub settings_recorded: bool,
    /// Why they were asked of Python instead (no record yet, what changed since it, or why
    /// the answer cannot be recorded).
    pub settings_asked_because: Option<String>,
}

impl BridgeUse {
    /// `bridge`'s cost so far.
    pub fn of(bridge: &Bridge) -> BridgeUse {
        BridgeUse {
            started: bridge.started(),
            spent: bridge.spent(),
            overlap: bridge.overlap(),
            settings_recorded: bridge.settings_recorded,
            settings_asked_because: bridge.asked_because.clone(),
        }
    }
}

/// Where the bridge's process is.
enum State {
    /// Not started: the settings came from their record.
    Idle,
    /// Starting in the background since `since`.
    Starting {
        since: Instant,
        launch: JoinHandle<Result<(Process, Ready), BridgeError>>,
    },
    Running(Process),
}

/// The bridge. Requests are answered one at a time; the process starts on the first one when
/// it did not start with the run.
pub struct Bridge {
    project: Project,
    state: Mutex<State>,
    python: String,
    pub ready: Ready,
    /// Time spent on the bridge: Python's start-up and Django's setup, and every request.
    spent: Mutex<Duration>,
    /// Of Python's start-up, the time other work went on beside it.
    overlap: Mutex<Duration>,
    /// The settings record this run read or wrote, and whether it says Python was needed.
    record: Option<(PathBuf, bool)>,
    /// Whether anything but the settings was asked.
    asked_more: std::sync::atomic::AtomicBool,
    /// Whether the settings came from their record.
    settings_recorded: bool,
    /// Why the settings were asked of Python rather than taken from a record, for a person.
    asked_because: Option<String>,
    /// Whether the record says the last build needed Python beyond the settings.
    early: bool,
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
        Self::start_watching(project, false)
    }

    /// As [`Bridge::start`]; `watch` has the settings answer list what it read.
    fn start_watching(project: &Project, watch: bool) -> Result<Bridge, BridgeError> {
        let started = Instant::now();
        let (process, ready) = process::launch(project, watch)?;
        Ok(Bridge {
            project: project.clone(),
            state: Mutex::new(State::Running(process)),
            python: project.python.display().to_string(),
            ready,
            spent: Mutex::new(started.elapsed()),
            overlap: Mutex::new(Duration::ZERO),
            record: None,
            asked_more: Default::default(),
            settings_recorded: false,
            asked_because: None,
            early: false,
        })
    }

    /// A bridge whose settings came from their record: Python starts when first asked, or in
    /// the background at [`Bridge::warm_up`] when `early` (the last build needed it).
    fn deferred(project: &Project, ready: Ready, early: bool) -> Bridge {
        Bridge {
            project: project.clone(),
            state: Mutex::new(State::Idle),
            python: project.python.display().to_string(),
            ready,
            spent: Mutex::new(Duration::ZERO),
            overlap: Mutex::new(Duration::ZERO),
            record: None,
            asked_more: Default::default(),
            settings_recorded: true,
            asked_because: None,
            early,
        }
    }

    /// Starts Python in the background now when the last build needed it and it has not
    /// started: a build calls this once it knows it will build, so the start-up goes on beside
    /// the scan instead of ahead of the first answer.
    pub fn warm_up(&self) {
        if !self.early {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if matches!(*state, State::Idle) {
            let project = self.project.clone();
            *state = State::Starting {
                since: Instant::now(),
                launch: std::thread::spawn(move || process::launch(&project, false)),
            };
        }
    }

    /// The interpreter the bridge runs.
    pub fn python(&self) -> &str {
        &self.python
    }

    /// Time spent on the bridge so far, Python's start-up and Django's setup included.
    pub fn spent(&self) -> Duration {
        self.spent.lock().map(|spent| *spent).unwrap_or_default()
    }

    /// How much of Python's start-up went on beside other work.
    pub fn overlap(&self) -> Duration {
        self.overlap
            .lock()
            .map(|overlap| *overlap)
            .unwrap_or_default()
    }

    /// Whether Python ran (or is starting) in this run.
    pub fn started(&self) -> bool {
        self.state
            .lock()
            .map(|state| !matches!(*state, State::Idle))
            .unwrap_or(true)
    }

    /// Whether this run asked Python for more than the settings.
    fn started_for_more(&self) -> bool {
        self.asked_more.load(std::sync::atomic::Ordering::Relaxed)
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
        let mut state = self.state.lock().map_err(|_| BridgeError::Failed {
            doing: doing.into(),
            message: "an earlier request panicked".into(),
        })?;
        if request.get("op").and_then(|op| op.as_str()) != Some("settings") {
            self.asked_more
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let started = Instant::now();
        let process = self.running(&mut state)?;
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
                message: format!("{}\n{}", failure.message(), failure.traceback().trim_end()),
            }),
            Answer::Ready(_) => Err(BridgeError::Failed {
                doing: doing.into(),
                message: "it answered out of turn".into(),
            }),
        }
    }

    /// The process, started now if it has not been; waits for a start under way and counts
    /// what of it went on beside other work.
    fn running<'a>(&self, state: &'a mut State) -> Result<&'a mut Process, BridgeError> {
        match std::mem::replace(state, State::Idle) {
            State::Running(process) => *state = State::Running(process),
            State::Idle => {
                let started = Instant::now();
                let (process, _) = process::launch(&self.project, false)?;
                self.add_start(started.elapsed(), Duration::ZERO);
                *state = State::Running(process);
            }
            State::Starting { since, launch } => {
                let waiting = Instant::now();
                let launched = launch.join().map_err(|_| BridgeError::Failed {
                    doing: "setting Django up".into(),
                    message: "the thread starting it panicked".into(),
                })?;
                let (process, _) = launched?;
                let whole = since.elapsed();
                self.add_start(whole, whole.saturating_sub(waiting.elapsed()));
                *state = State::Running(process);
            }
        }
        match state {
            State::Running(process) => Ok(process),
            _ => Err(BridgeError::Failed {
                doing: "setting Django up".into(),
                message: "it did not start".into(),
            }),
        }
    }

    fn add_start(&self, whole: Duration, beside: Duration) {
        if let Ok(mut spent) = self.spent.lock() {
            *spent += whole;
        }
        if let Ok(mut overlap) = self.overlap.lock() {
            *overlap += beside;
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
