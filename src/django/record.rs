//! Django's settings answer, kept with everything Python read to make it: each file opened or
//! probed and folder listed (with its time and size), each environment variable read (by a hash
//! of its value). A run whose list is unchanged takes the settings from the record and does not
//! wait for Python; any change, a missing record, or an answer that did something no list can
//! vouch for (started a process, opened a connection or a database) asks Python again.
//!
//! Records live in `cache_dir/django/`, one per interpreter, project, settings module and
//! working directory; `--no-cache` neither reads nor writes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{process, Bridge, BridgeError, DjangoSettings, Project, Ready};

/// A file's or folder's state as Python saw it: `None` when it did not exist; else its time,
/// size and kind. A folder that was only probed counts by its kind (no time, no size); one the
/// import system listed counts by the modules in it (no time; the size is [`modules_in`]).
type Stamp = Option<(Option<u64>, Option<u64>, bool)>;

/// The files a module can be loaded from, as `bridge.py` lists them.
const MODULE_SUFFIXES: [&str; 4] = [".py", ".pyc", ".pyd", ".so"];

/// What the settings answer read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Depends {
    files: Vec<(PathBuf, Stamp)>,
    /// Each variable read, by the SHA-256 of the value it had; `None` when it was unset.
    env: BTreeMap<String, Option<String>>,
    /// The SHA-256 of the whole environment, when the settings went through all of it.
    all_env: Option<String>,
    /// What the settings did that no list can vouch for, such as `subprocess.Popen`.
    volatile: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    ready: Ready,
    settings: serde_json::Value,
    depends: Depends,
    /// Whether the last run needed Python beyond the settings: the next one starts it at once.
    used: bool,
}

/// Django's settings and the bridge for the rest of the run: from the record in `dir` when
/// nothing it lists changed, else from Python (and recorded, when `dir` is given).
pub fn settings(
    project: &Project,
    dir: Option<&Path>,
) -> Result<(Bridge, DjangoSettings), BridgeError> {
    let path = dir.map(|dir| record_path(dir, project));
    let mut asked_because = match path.as_deref().map(|path| read(path, project)) {
        None => "the build cache is off".to_string(),
        Some(Read::Missing) => "no record yet".to_string(),
        Some(Read::Changed(why)) => why,
        Some(Read::Holds(record)) => match serde_json::from_value(record.settings) {
            Ok(settings) => {
                let mut bridge = Bridge::deferred(project, record.ready, record.used);
                bridge.record = path.map(|path| (path, record.used));
                return Ok((bridge, settings));
            }
            Err(_) => "the record is from another version".to_string(),
        },
    };
    let mut bridge = Bridge::start_watching(project, path.is_some())?;
    let mut answer: serde_json::Value = bridge.ask(
        serde_json::json!({"op": "settings"}),
        "reading Django's settings",
    )?;
    let depends = answer
        .as_object_mut()
        .and_then(|answer| answer.remove("depends"))
        .and_then(|depends| serde_json::from_value::<Depends>(depends).ok());
    let settings: DjangoSettings =
        serde_json::from_value(answer.clone()).map_err(|error| BridgeError::Failed {
            doing: "reading Django's settings".into(),
            message: format!("its answer cannot be read ({error})"),
        })?;
    if let (Some(path), Some(depends)) = (path, depends) {
        match &depends.volatile {
            Some(volatile) => {
                asked_because = format!(
                    "{asked_because}; not recorded for the next run: {}",
                    volatile_reason(volatile)
                );
            }
            None => {
                let record = Record {
                    ready: bridge.ready.clone(),
                    settings: answer,
                    depends,
                    used: false,
                };
                write(&path, &record);
                bridge.record = Some((path, false));
            }
        }
    }
    bridge.asked_because = Some(asked_because);
    Ok((bridge, settings))
}

/// Notes in the record whether this run needed Python beyond the settings, so the next run
/// starts it at once only when it will be needed.
pub fn remember_use(bridge: &Bridge) {
    let Some((path, used)) = &bridge.record else {
        return;
    };
    let needed = bridge.started_for_more();
    if needed == *used {
        return;
    }
    let Some(mut record) = std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
    else {
        return;
    };
    record.used = needed;
    write(path, &record);
}

/// One record per interpreter, project, settings module, working directory and bridge script.
fn record_path(dir: &Path, project: &Project) -> PathBuf {
    let mut hash = Sha256::new();
    for part in [
        env!("CARGO_PKG_VERSION").to_string(),
        process::script().to_string(),
        project.python.display().to_string(),
        project.dir.display().to_string(),
        project.settings.clone(),
        std::env::current_dir()
            .map(|dir| dir.display().to_string())
            .unwrap_or_default(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let name = hex::encode(&hash.finalize()[..10]);
    dir.join("django").join(format!("{name}.json"))
}

/// What a record on disk says for this run.
enum Read {
    /// There is none (or it cannot be read).
    Missing,
    /// Something it lists changed: what, for a person.
    Changed(String),
    Holds(Box<Record>),
}

fn read(path: &Path, project: &Project) -> Read {
    let Some(record) = std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
    else {
        return Read::Missing;
    };
    match record.depends.changed(&child_env(project)) {
        Some(why) => Read::Changed(why),
        None => Read::Holds(Box::new(record)),
    }
}

fn write(path: &Path, record: &Record) {
    let Ok(bytes) = serde_json::to_vec(record) else {
        return;
    };
    let Some(folder) = path.parent() else { return };
    // A record that cannot be written only costs the next run Python's start-up.
    let _ = std::fs::create_dir_all(folder);
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&temporary, bytes).is_ok() && std::fs::rename(&temporary, path).is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
}

/// The environment the bridge's process sees: stapler's, with the variables it sets.
fn child_env(project: &Project) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars_os()
        .map(|(key, value)| {
            (
                key.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for (key, value) in process::overrides(project, true) {
        env.insert(key.to_string(), value);
    }
    env
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Depends {
    /// Whether everything read is as it was.
    #[cfg(test)]
    fn hold(&self, env: &BTreeMap<String, String>) -> bool {
        self.changed(env).is_none()
    }

    /// The first thing read that is no longer as it was, said for a person; `None` when
    /// everything holds.
    fn changed(&self, env: &BTreeMap<String, String>) -> Option<String> {
        if let Some(volatile) = &self.volatile {
            return Some(format!(
                "the settings cannot be recorded: {}",
                volatile_reason(volatile)
            ));
        }
        let variable = self
            .env
            .iter()
            .find(|(key, hash)| env.get(*key).map(|value| sha256_hex(value)) != **hash);
        if let Some((key, _)) = variable {
            return Some(format!("the environment variable {key} changed"));
        }
        if let Some(hash) = &self.all_env {
            let text: String = env.iter().map(|(k, v)| format!("{k}={v}\0")).collect();
            if sha256_hex(&text) != *hash {
                return Some("the environment changed, and the settings read all of it".into());
            }
        }
        let (path, seen) = self
            .files
            .iter()
            .find(|(path, seen)| !unchanged(path, seen))?;
        Some(match (seen, path.exists()) {
            (None, _) => format!("{} appeared", path.display()),
            (Some(_), false) => format!("{} is gone", path.display()),
            (Some(_), true) => format!("{} changed", path.display()),
        })
    }
}

/// Why an answer that did `volatile` cannot be recorded, said for a person: the bridge gives
/// either a call's audit event name or a sentence.
fn volatile_reason(volatile: &str) -> String {
    if volatile.contains(' ') {
        volatile.to_string()
    } else {
        format!("making them called {volatile}, which no record can vouch for")
    }
}

/// Whether `path` is as `seen`: absent, a folder probed (any time), or the same time and size.
fn unchanged(path: &Path, seen: &Stamp) -> bool {
    match seen {
        None => std::fs::metadata(path).is_err(),
        Some((None, Some(modules), true)) => modules_in(path) == Some(*modules),
        Some((None, _, folder)) => std::fs::metadata(path).is_ok_and(|m| m.is_dir() == *folder),
        Some(_) => stamp(path) == *seen,
    }
}

/// What the import system can find in `folder`, as `bridge.py`'s `modules_in` computes it: the
/// first 8 bytes of the SHA-256 of its module files' and packages' names, sorted, each package
/// ending with `/`, joined by NUL.
fn modules_in(folder: &Path) -> Option<u64> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            if path.join("__init__.py").is_file() {
                names.push(format!("{name}/"));
            }
        } else if MODULE_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) {
            names.push(name);
        }
    }
    names.sort();
    let digest = Sha256::digest(names.join("\0").as_bytes());
    let first: [u8; 8] = digest[..8].try_into().ok()?;
    Some(u64::from_be_bytes(first))
}

/// A path's time, size and kind, as Python's `os.stat` gives them.
fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    let time = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .and_then(|time| u64::try_from(time.as_nanos()).ok());
    Some((time, Some(metadata.len()), metadata.is_dir()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depends(files: Vec<(PathBuf, Stamp)>) -> Depends {
        Depends {
            files,
            env: BTreeMap::new(),
            all_env: None,
            volatile: None,
        }
    }

    #[test]
    fn a_changed_missing_or_new_file_breaks_the_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("settings.py");
        std::fs::write(&file, "DEBUG = False\n").expect("write");
        let seen = stamp(&file);
        let env = BTreeMap::new();
        assert!(depends(vec![(file.clone(), seen)]).hold(&env));
        std::fs::write(&file, "DEBUG = True\n\n").expect("write");
        assert!(!depends(vec![(file.clone(), seen)]).hold(&env));
        let absent = dir.path().join(".env");
        assert!(depends(vec![(absent.clone(), None)]).hold(&env));
        std::fs::write(&absent, "X=1\n").expect("write");
        assert!(!depends(vec![(absent, None)]).hold(&env));
    }

    #[test]
    fn what_broke_the_record_is_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("settings.py");
        std::fs::write(&file, "DEBUG = False\n").expect("write");
        let seen = stamp(&file);
        let absent = dir.path().join(".env");
        let read = depends(vec![(absent.clone(), None), (file.clone(), seen)]);
        let env = BTreeMap::new();
        assert_eq!(read.changed(&env), None);
        std::fs::write(&file, "DEBUG = True\n\n").expect("write");
        let changed = format!("{} changed", file.display());
        assert_eq!(read.changed(&env), Some(changed));
        std::fs::remove_file(&file).expect("remove");
        let gone = format!("{} is gone", file.display());
        assert_eq!(read.changed(&env), Some(gone));
        std::fs::write(&absent, "X=1\n").expect("write");
        let appeared = format!("{} appeared", absent.display());
        assert_eq!(read.changed(&env), Some(appeared), "the first on the list");

        let mut whole = depends(Vec::new());
        whole.all_env = Some(sha256_hex("A=1\0"));
        let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
        assert_eq!(whole.changed(&env), None);
        let more = BTreeMap::from([("A".to_string(), "2".to_string())]);
        let said = whole.changed(&more).expect("changed");
        assert!(said.starts_with("the environment changed"), "{said}");
        assert_eq!(
            volatile_reason("socket.connect"),
            "making them called socket.connect, which no record can vouch for"
        );
        assert_eq!(
            volatile_reason("COMPRESS_OFFLINE_CONTEXT is a generator, which may read anything"),
            "COMPRESS_OFFLINE_CONTEXT is a generator, which may read anything"
        );
    }

    #[test]
    fn a_variable_read_must_keep_its_value_and_an_unset_one_stay_unset() {
        let mut read = depends(Vec::new());
        read.env
            .insert("STATIC_HOST".into(), Some(sha256_hex("cdn.example.com")));
        read.env.insert("DEBUG".into(), None);
        let mut env = BTreeMap::from([("STATIC_HOST".to_string(), "cdn.example.com".to_string())]);
        assert!(read.hold(&env));
        env.insert("DEBUG".into(), "1".into());
        assert!(!read.hold(&env));
        env.remove("DEBUG");
        env.insert("STATIC_HOST".into(), "other.example.com".into());
        assert!(!read.hold(&env));
    }

    #[test]
    fn a_folder_the_import_system_listed_counts_by_the_modules_in_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("settings.py"), "").expect("write");
        std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
        std::fs::write(dir.path().join("app/__init__.py"), "").expect("write");
        let listed = depends(vec![(
            dir.path().to_path_buf(),
            Some((None, modules_in(dir.path()), true)),
        )]);
        // A build's outputs and caches beside the modules change nothing Python can import.
        std::fs::create_dir(dir.path().join("root")).expect("mkdir");
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        assert!(listed.hold(&BTreeMap::new()));
        // A new module could shadow one the settings imported.
        std::fs::write(dir.path().join("compressor.py"), "").expect("write");
        assert!(!listed.hold(&BTreeMap::new()));
    }

    #[test]
    fn a_folder_probed_counts_by_its_kind_and_a_volatile_answer_never_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("templates");
        std::fs::create_dir(&folder).expect("mkdir");
        let probed = depends(vec![(folder.clone(), Some((None, None, true)))]);
        let listed = depends(vec![(folder.clone(), stamp(&folder))]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(folder.join("new.html"), "x").expect("write");
        assert!(
            probed.hold(&BTreeMap::new()),
            "a probed folder holds while it is one"
        );
        assert!(
            !listed.hold(&BTreeMap::new()),
            "a listed folder changes with its entries"
        );
        std::fs::remove_dir_all(&folder).expect("rmdir");
        std::fs::write(&folder, "now a file").expect("write");
        assert!(!probed.hold(&BTreeMap::new()));
        let mut volatile = depends(Vec::new());
        volatile.volatile = Some("subprocess.Popen".into());
        assert!(!volatile.hold(&BTreeMap::new()));
    }
}
