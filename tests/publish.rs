//! `stapler publish` and `deploy` against a real S3-compatible server (SeaweedFS on loopback),
//! through a logging, fault-injecting proxy; and against a `file://` directory.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::proxy::{self, Faults, Outcome};
use common::seaweed::{self, ACCESS_KEY, SECRET_KEY};
use common::*;

fn command(dir: &Path, secret: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stapler"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

fn run(dir: &Path, secret: &str, args: &[&str]) -> Output {
    command(dir, secret, args).output().expect("run stapler")
}

/// Starts stapler without waiting for it; its output is collected by `wait_with_output`.
fn start(dir: &Path, args: &[&str]) -> std::process::Child {
    command(dir, SECRET_KEY, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start stapler")
}

fn ok(output: Output) -> String {
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "stapler failed:\n{stdout}\n{}",
        text(&output.stderr)
    );
    stdout
}

/// The number after `word` in the summary line (`sent 12 files`, `12 requests`).
fn number(summary: &str, before: &str, after: &str) -> u64 {
    let re = regex::Regex::new(&format!(r"{before}(\d+){after}")).expect("regex");
    re.captures(summary)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no `{before}N{after}` in {summary}"))
}

fn local_files(root: &Path) -> BTreeMap<String, std::path::PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/"),
                e.path().to_path_buf(),
            )
        })
        .collect()
}

fn md5_hex(path: &Path) -> String {
    use md5::Digest;
    md5::Md5::digest(std::fs::read(path).expect("read"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Remote {
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
    bucket: String,
    /// Empty, or ending with `/`: keys are named without it.
    prefix: String,
}

impl Remote {
    fn new(bucket: &str) -> Remote {
        Remote {
            client: seaweed::client(&seaweed::server().endpoint),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            bucket: bucket.to_string(),
            prefix: String::new(),
        }
    }

    /// The objects under `prefix` in `bucket`, named without the prefix.
    fn under(bucket: &str, prefix: &str) -> Remote {
        Remote {
            prefix: prefix.to_string(),
            ..Remote::new(bucket)
        }
    }

    fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .runtime
                .block_on(
                    self.client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(&self.prefix)
                        .set_continuation_token(token)
                        .send(),
                )
                .expect("list");
            keys.extend(page.contents().iter().filter_map(|o| {
                o.key()
                    .and_then(|key| key.strip_prefix(&self.prefix))
                    .map(str::to_string)
            }));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return keys;
            }
        }
    }

    fn get(&self, key: &str) -> Vec<u8> {
        self.runtime
            .block_on(async {
                let object = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(format!("{}{key}", self.prefix))
                    .send()
                    .await?;
                Ok::<_, Box<dyn std::error::Error>>(object.body.collect().await?.to_vec())
            })
            .unwrap_or_else(|e| panic!("GET {key}: {e}"))
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        self.runtime
            .block_on(
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(format!("{}{key}", self.prefix))
                    .body(bytes.to_vec().into())
                    .send(),
            )
            .unwrap_or_else(|e| panic!("PUT {key}: {e:?}"));
    }

    /// Asserts that the live manifest is one of `expected` and that every bundle it names, and
    /// every object its release record lists, is in the bucket.
    fn assert_live_is_whole(&self, expected: &[&[u8]], label: &str) {
        use sha2::Digest;
        let keys = self.keys();
        let manifest = self.get("CACHE/manifest.json");
        assert!(
            expected.contains(&manifest.as_slice()),
            "{label}: the live manifest is none of the published ones"
        );
        let bundles = regex::Regex::new(r#"CACHE/(?:css|js)/[^\\"]+"#).expect("regex");
        let mut needed: Vec<String> = bundles
            .find_iter(&text(&manifest))
            .map(|m| m.as_str().to_string())
            .collect();
        let sha = hex::encode(sha2::Sha256::digest(&manifest));
        let record = keys
            .iter()
            .filter(|key| {
                key.starts_with(".stapler/releases/") || key.starts_with(".stapler/pending/")
            })
            .map(|key| {
                serde_json::from_slice::<serde_json::Value>(&self.get(key)).expect("a record")
            })
            .find(|record| record["manifest_sha256"] == sha.as_str())
            .unwrap_or_else(|| panic!("{label}: no record of the live release"));
        needed.extend(
            record["objects"]
                .as_object()
                .expect("objects")
                .keys()
                .cloned(),
        );
        assert!(needed.len() > 5, "{label}: {needed:?}");
        for name in needed {
            assert!(
                keys.contains(&name),
                "{label}: {name} is needed by the live release and was deleted"
            );
        }
    }

    fn head(&self, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.runtime
            .block_on(
                self.client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(format!("{}{key}", self.prefix))
                    .send(),
            )
            .unwrap_or_else(|e| panic!("HEAD {key}: {e:?}"))
    }
}

/// The example site, compressed, with one ordinary (not content-hashed) file added.
fn compressed_site() -> tempfile::TempDir {
    let site = example_site();
    ok(stapler(site.path(), &["compress", "--offline", "-q"]));
    std::fs::write(
        site.path().join("build/static/robots.txt"),
        "User-agent: *\n",
    )
    .expect("robots");
    site
}

#[test]
fn first_publish_sends_everything_with_the_right_headers_then_nothing() {
    let bucket = seaweed::bucket("first");
    let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
    let site = compressed_site();
    let to = format!("s3://{bucket}/site");
    let summary = ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    ));
    let files = local_files(&site.path().join("build/static"));
    assert_eq!(
        number(&summary, "sent ", " files"),
        files.len() as u64,
        "{summary}"
    );

    let remote = Remote::new(&bucket);
    for (name, path) in &files {
        let head = remote.head(&format!("site/{name}"));
        assert_eq!(
            head.e_tag().map(|e| e.trim_matches('"').to_string()),
            Some(md5_hex(path)),
            "{name}"
        );
        assert_eq!(
            head.content_length(),
            Some(std::fs::metadata(path).expect("meta").len() as i64),
            "{name}"
        );
        assert_eq!(
            head.content_encoding(),
            None,
            "{name} must not be stored as aws-chunked"
        );
        let hashed = name.starts_with("CACHE/") && name != "CACHE/manifest.json"
            || name.starts_with("img/")
            || name.starts_with("fonts/");
        let cache = head.cache_control().unwrap_or_default();
        if hashed {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{name}");
        } else {
            assert_eq!(cache, "public, max-age=300", "{name}");
        }
        let content_type = head.content_type().unwrap_or_default();
        let expected = match name.rsplit('.').next() {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("json") => "application/json; charset=utf-8",
            Some("txt") => "text/plain; charset=utf-8",
            Some("svg") => "image/svg+xml; charset=utf-8",
            Some("png") => "image/png",
            Some("woff2") => "font/woff2",
            Some("eot") => "application/vnd.ms-fontobject",
            other => panic!("unexpected file type {other:?}"),
        };
        assert_eq!(content_type, expected, "{name}");
    }
    let records: Vec<String> = remote
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("site/.stapler/releases/"))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");

    // The manifest is written after every other object, and the record after the manifest.
    let puts: Vec<String> = proxy
        .log()
        .into_iter()
        .filter(|(m, _)| m == "PUT")
        .map(|(_, p)| p)
        .collect();
    let manifest_at = puts
        .iter()
        .position(|p| p.contains("CACHE/manifest.json"))
        .expect("manifest sent");
    let record_at = puts
        .iter()
        .position(|p| p.contains(".stapler/releases/"))
        .expect("record sent");
    assert_eq!(manifest_at, puts.len() - 2, "{puts:#?}");
    assert_eq!(record_at, puts.len() - 1, "{puts:#?}");

    // A second publish sends nothing and asks for at most ceil(files / 1000) + 3 requests.
    proxy.clear();
    let summary = ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    ));
    assert_eq!(number(&summary, "sent ", " files"), 0, "{summary}");
    let requests = number(&summary, ", ", " requests");
    let limit = (files.len() as u64).div_ceil(1000) + 3;
    assert!(
        requests <= limit,
        "{requests} requests > {limit}: {summary}"
    );
    assert_eq!(
        proxy.log().len() as u64,
        requests,
        "the summary counts what went over the wire"
    );
    eprintln!("republish of {} files: {requests} requests", files.len());

    // One changed file: exactly that upload, plus a release record.
    std::fs::write(
        site.path().join("build/static/robots.txt"),
        "User-agent: *\nDisallow: /admin/\n",
    )
    .expect("change");
    proxy.clear();
    let summary = ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    ));
    assert_eq!(number(&summary, "sent ", " files"), 1, "{summary}");
    let puts: Vec<String> = proxy
        .log()
        .into_iter()
        .filter(|(m, _)| m == "PUT")
        .map(|(_, p)| p)
        .collect();
    // Around the one changed object: the pending record, the lock and its check, then the
    // release record.
    let objects: Vec<&String> = puts
        .iter()
        .filter(|path| !path.contains("/.stapler/"))
        .collect();
    assert_eq!(objects.len(), 1, "{puts:?}");
    assert!(objects[0].contains("/site/robots.txt"), "{puts:?}");
    assert!(
        puts[0].contains(".stapler/pending/")
            && puts
                .last()
                .is_some_and(|last| last.contains(".stapler/releases/")),
        "{puts:?}"
    );
}

#[test]
fn dry_run_sends_nothing() {
    let bucket = seaweed::bucket("dry");
    let site = compressed_site();
    let to = format!("s3://{bucket}/");
    let output = ok(run(
        site.path(),
        SECRET_KEY,
        &[
            "publish",
            "--dry-run",
            "--to",
            &to,
            "--endpoint-url",
            &seaweed::server().endpoint,
        ],
    ));
    assert!(output.contains("new  CACHE/manifest.json"), "{output}");
    assert!(output.contains("dry run: nothing was sent"), "{output}");
    assert!(Remote::new(&bucket).keys().is_empty());
}

#[test]
fn wrong_secret_is_a_clear_error_and_sends_nothing() {
    let bucket = seaweed::bucket("denied");
    let site = compressed_site();
    let to = format!("s3://{bucket}/");
    let output = run(
        site.path(),
        "not-the-secret",
        &[
            "publish",
            "--to",
            &to,
            "--endpoint-url",
            &seaweed::server().endpoint,
        ],
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("refused the credentials") && stderr.contains("AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret is never printed"
    );
    assert!(Remote::new(&bucket).keys().is_empty());
}

#[test]
fn missing_bucket_and_unreachable_endpoint() {
    let site = compressed_site();
    let output = run(
        site.path(),
        SECRET_KEY,
        &[
            "publish",
            "--to",
            "s3://no-such-bucket-here/",
            "--endpoint-url",
            &seaweed::server().endpoint,
        ],
    );
    assert_eq!(output.status.code(), Some(4));
    assert!(
        text(&output.stderr).contains("no-such-bucket-here"),
        "{}",
        text(&output.stderr)
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let started = std::time::Instant::now();
    let output = run(
        site.path(),
        SECRET_KEY,
        &[
            "publish",
            "--to",
            "s3://bucket/",
            "--endpoint-url",
            &format!("http://127.0.0.1:{closed}"),
        ],
    );
    assert_eq!(output.status.code(), Some(4));
    assert!(
        text(&output.stderr).contains("cannot reach"),
        "{}",
        text(&output.stderr)
    );
    assert!(started.elapsed().as_secs() < 60, "gives up in bounded time");
}

#[test]
fn faults_are_retried_and_every_object_arrives_intact() {
    let bucket = seaweed::bucket("faults");
    let proxy = proxy::start(
        &seaweed::server().endpoint,
        Faults {
            error_every: 4,
            reset_every: 7,
            slow_every: 5,
        },
    );
    let site = compressed_site();
    let to = format!("s3://{bucket}/");
    ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    ));
    let remote = Remote::new(&bucket);
    for (name, path) in local_files(&site.path().join("build/static")) {
        let head = remote.head(&name);
        assert_eq!(
            head.e_tag().map(|e| e.trim_matches('"').to_string()),
            Some(md5_hex(&path)),
            "{name}"
        );
    }
    // Each request a fault cut short was sent again, and that try reached the server (a
    // conditional write may then be refused: its first try may have landed).
    let events = proxy.events();
    let faulted: Vec<&proxy::Event> = events
        .iter()
        .filter(|event| matches!(event.outcome, Outcome::SlowDown | Outcome::Reset))
        .collect();
    assert!(
        faulted.iter().any(|event| event.method == "PUT"),
        "the faults hit uploads: {events:?}"
    );
    for (at, fault) in events.iter().enumerate() {
        if !matches!(fault.outcome, Outcome::SlowDown | Outcome::Reset) {
            continue;
        }
        let retried = events[at + 1..].iter().any(|later| {
            later.method == fault.method
                && later.path == fault.path
                && matches!(later.outcome, Outcome::Answered(_))
        });
        assert!(
            retried,
            "{} {} was not tried again: {events:?}",
            fault.method, fault.path
        );
    }
}

#[test]
fn prune_keeps_what_the_last_releases_use() {
    let bucket = seaweed::bucket("prune");
    let site = example_site();
    let to = format!("s3://{bucket}/");
    let endpoint = seaweed::server().endpoint.clone();
    let css = site.path().join("static/css/blog.css");
    let mut releases = Vec::new();
    for round in 0..3 {
        std::fs::write(&css, format!("article {{ line-height: 1.{round}; }}\n")).expect("edit css");
        ok(run(
            site.path(),
            SECRET_KEY,
            &["deploy", "-q", "--to", &to, "--endpoint-url", &endpoint],
        ));
        let manifest =
            std::fs::read_to_string(site.path().join("build/static/CACHE/manifest.json"))
                .expect("manifest");
        releases.push(manifest);
    }
    let bundles = |manifest: &str| -> Vec<String> {
        regex::Regex::new(r"CACHE/(?:css|js)/[^\\]+")
            .expect("regex")
            .find_iter(manifest)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    let first_only: Vec<String> = bundles(&releases[0])
        .into_iter()
        .filter(|b| !releases[1].contains(b.as_str()) && !releases[2].contains(b.as_str()))
        .collect();
    assert!(!first_only.is_empty());
    let remote = Remote::new(&bucket);
    remote
        .runtime
        .block_on(
            remote
                .client
                .put_object()
                .bucket(&bucket)
                .key("uploaded-by-hand.txt")
                .body(b"mine".to_vec().into())
                .send(),
        )
        .expect("foreign object");
    let output = ok(run(
        site.path(),
        SECRET_KEY,
        &[
            "publish",
            "--prune",
            "--keep",
            "2",
            "--to",
            &to,
            "--endpoint-url",
            &endpoint,
        ],
    ));
    assert!(number(&output, "deleted ", ",") > 0, "{output}");
    let keys = Remote::new(&bucket).keys();
    for gone in &first_only {
        assert!(
            !keys.contains(gone),
            "{gone} only the oldest release used; it should be deleted"
        );
    }
    assert!(
        keys.contains(&"uploaded-by-hand.txt".to_string()),
        "objects no release listed are never pruned"
    );
    for kept in bundles(&releases[1]).iter().chain(&bundles(&releases[2])) {
        assert!(keys.contains(kept), "{kept} is used by a kept release");
    }
}

#[test]
fn local_directory_target() {
    let site = compressed_site();
    let out = tempfile::tempdir().expect("tempdir");
    let to = format!("file://{}", out.path().display());
    let summary = ok(run(site.path(), SECRET_KEY, &["publish", "--to", &to]));
    let files = local_files(&site.path().join("build/static"));
    assert_eq!(
        number(&summary, "sent ", " files"),
        files.len() as u64,
        "{summary}"
    );
    for (name, path) in &files {
        assert_eq!(md5_hex(&out.path().join(name)), md5_hex(path), "{name}");
    }
    let summary = ok(run(site.path(), SECRET_KEY, &["publish", "--to", &to]));
    assert_eq!(number(&summary, "sent ", " files"), 0, "{summary}");
    std::fs::write(site.path().join("build/static/robots.txt"), "changed\n").expect("change");
    let plan = ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--dry-run", "--to", &to],
    ));
    assert!(plan.contains("changed  robots.txt"), "{plan}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("robots.txt")).expect("robots"),
        "User-agent: *\n"
    );
}

#[test]
fn an_interrupted_publish_never_exposes_a_manifest_and_a_rerun_completes() {
    let bucket = seaweed::bucket("killed");
    let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
    // The run is killed while its sixth upload waits at the proxy: five objects are in.
    let sixth = proxy.rule_after(5, "PUT", "/", proxy::Action::Hold, usize::MAX);
    let site = compressed_site();
    let to = format!("s3://{bucket}/");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stapler"))
        .args([
            "publish",
            "--jobs",
            "2",
            "--to",
            &to,
            "--endpoint-url",
            &proxy.endpoint,
        ])
        .current_dir(site.path())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .spawn()
        .expect("start publish");
    assert!(
        proxy.wait_held(&sixth, 60),
        "the publish never got to its sixth upload"
    );
    child.kill().expect("kill -9");
    let _ = child.wait();
    proxy.release(&sixth);
    let remote = Remote::new(&bucket);
    let partial = remote.keys();
    assert!(
        !partial.is_empty(),
        "some objects were sent before the kill"
    );
    assert!(
        !partial.contains(&"CACHE/manifest.json".to_string()),
        "the manifest must not be there yet: {partial:?}"
    );

    // The killed run's lock is still there: its holder ran on this machine and its process is
    // gone, so the rerun takes the lock over, says so, and completes without --break-lock.
    let direct = seaweed::server().endpoint.clone();
    let rerun = run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &direct],
    );
    let message = text(&rerun.stderr);
    assert!(rerun.status.success(), "{message}");
    assert!(
        message.contains("took over .stapler/lock from") && message.contains("has ended"),
        "{message}"
    );
    let left: Vec<String> = remote
        .keys()
        .into_iter()
        .filter(|key| key.starts_with(".stapler/") && !key.starts_with(".stapler/releases/"))
        .collect();
    assert!(
        left.len() == 1 && left[0].starts_with(".stapler/pending/"),
        "a finished publish leaves no lock and no pending record of its own; the killed run's \
         pending record stays until a prune retires it: {left:?}"
    );
    let keys = remote.keys();
    for (name, path) in local_files(&site.path().join("build/static")) {
        assert!(keys.contains(&name), "{name} missing after the rerun");
        assert_eq!(
            remote
                .head(&name)
                .e_tag()
                .map(|e| e.trim_matches('"').to_string()),
            Some(md5_hex(&path)),
            "{name}"
        );
    }
}

#[test]
fn large_files_go_up_in_parts_and_are_not_sent_twice() {
    let bucket = seaweed::bucket("multipart");
    let site = compressed_site();
    let big: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(site.path().join("build/static/video.mp4"), &big).expect("big file");
    let config = std::fs::read_to_string(site.path().join("stapler.toml")).expect("config");
    std::fs::write(
        site.path().join("stapler.toml"),
        format!("{config}\n[publish]\nmultipart_threshold = 5242880\n"),
    )
    .expect("config");
    let to = format!("s3://{bucket}/");
    let endpoint = seaweed::server().endpoint.clone();
    ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &endpoint],
    ));
    let remote = Remote::new(&bucket);
    let head = remote.head("video.mp4");
    assert_eq!(head.content_length(), Some(big.len() as i64));
    assert_eq!(head.content_type(), Some("video/mp4"));
    let md5 = md5_hex(&site.path().join("build/static/video.mp4"));
    assert_eq!(
        head.metadata().and_then(|m| m.get("md5")).cloned(),
        Some(md5)
    );
    let summary = ok(run(
        site.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &endpoint],
    ));
    assert_eq!(number(&summary, "sent ", " files"), 0, "{summary}");
}

#[test]
fn shared_cache_on_s3_lets_a_fresh_runner_skip_minification_and_is_culled() {
    let bucket = seaweed::bucket("shared-cache");
    let endpoint = seaweed::server().endpoint.clone();
    let shared = format!("\n[shared_cache]\nto = \"s3://{bucket}/cache\"\nendpoint_url = \"{endpoint}\"\nmax_entries = 1000\n");
    let first = example_site();
    let config = std::fs::read_to_string(first.path().join("stapler.toml")).expect("config");
    std::fs::write(
        first.path().join("stapler.toml"),
        format!("{config}{shared}"),
    )
    .expect("config");
    let summary = ok(run(first.path(), SECRET_KEY, &["compress", "--offline"]));
    assert!(
        summary.contains("shared cache: fetched 0 entries, uploaded "),
        "{summary}"
    );

    // A second runner with an empty local cache gets every minified source from the bucket.
    let second = example_site();
    std::fs::write(
        second.path().join("stapler.toml"),
        format!("{config}{shared}"),
    )
    .expect("config");
    let summary = ok(run(second.path(), SECRET_KEY, &["compress", "--offline"]));
    assert!(summary.contains("19 minified from cache"), "{summary}");
    assert!(
        summary.contains("shared cache: fetched 19 entries, uploaded 0"),
        "every source came from the bucket in one batch: {summary}"
    );
    let read = |site: &Path| {
        std::fs::read(site.join("build/static/CACHE/manifest.json")).expect("manifest")
    };
    assert_eq!(read(first.path()), read(second.path()));

    // Past max_entries, 1 / cull_frequency of the entries are deleted.
    let entries = Remote::new(&bucket).keys().len();
    let culling = format!("\n[shared_cache]\nto = \"s3://{bucket}/cache\"\nendpoint_url = \"{endpoint}\"\nmax_entries = 4\ncull_frequency = 2\n");
    let third = example_site();
    std::fs::write(
        third.path().join("stapler.toml"),
        format!("{config}{culling}"),
    )
    .expect("config");
    let summary = ok(run(
        third.path(),
        SECRET_KEY,
        &["compress", "--offline", "--force"],
    ));
    assert!(
        summary.contains(&format!("culled {}", entries / 2)),
        "{summary} ({entries} entries before)"
    );
    assert_eq!(Remote::new(&bucket).keys().len(), entries - entries / 2);
}

/// Two builds of the example site whose stylesheets differ (`a`, then `b`), and a third, `c`,
/// that shares `a`'s stylesheet bundle but not its scripts.
struct Builds {
    a: tempfile::TempDir,
    b: tempfile::TempDir,
    c: tempfile::TempDir,
}

fn builds() -> &'static Builds {
    static BUILDS: std::sync::OnceLock<Builds> = std::sync::OnceLock::new();
    BUILDS.get_or_init(|| {
        let build = |css: &str, js: &str| {
            let site = example_site();
            std::fs::write(site.path().join("static/css/blog.css"), css).expect("css");
            let script = site.path().join("static/js/app.js");
            let mut source = std::fs::read_to_string(&script).expect("js");
            source.push_str(js);
            std::fs::write(&script, source).expect("js");
            ok(stapler(site.path(), &["compress", "--offline", "-q"]));
            site
        };
        Builds {
            a: build("article { line-height: 1.1; }\n", ""),
            b: build("article { line-height: 1.2; }\n", ""),
            c: build("article { line-height: 1.1; }\n", "\nwindow.c = 3;\n"),
        }
    })
}

fn manifest_of(site: &Path) -> Vec<u8> {
    std::fs::read(site.join("build/static/CACHE/manifest.json")).expect("manifest")
}

/// Where one run is held while the other goes on.
#[derive(Clone, Copy, Debug)]
enum Hold {
    /// Hold the publish at this request (after letting as many earlier matches through); the
    /// prune runs from start to end meanwhile.
    Publish(&'static str, &'static str, usize),
    /// Hold the prune at this request; the publish starts meanwhile and the prune is let go
    /// a moment later.
    Prune(&'static str, &'static str, usize),
}

/// The interleavings: every step of a publish at which a whole prune can happen, and the two
/// steps of a prune (announcing itself; having read the records) at which a publish can start.
const INTERLEAVINGS: [Hold; 7] = [
    Hold::Publish("PUT", ".stapler/pending/", 0),
    Hold::Publish("PUT", ".stapler/lock", 0),
    Hold::Publish("GET", "list-type=2", 1),
    Hold::Publish("PUT", "CACHE/manifest.json", 0),
    Hold::Publish("PUT", ".stapler/releases/", 0),
    Hold::Prune("PUT", ".stapler/pruning/", 0),
    Hold::Prune("GET", "CACHE/manifest.json", 0),
];

/// A prefix where releases `a` then `b` are published, for a race of a prune with a publish
/// (`rollback`: of the older release `a`; else of `c`).
struct Race {
    kind: &'static str,
    bucket: &'static str,
    prefix: String,
    to: String,
    direct: String,
    publishing: &'static tempfile::TempDir,
}

impl Race {
    /// After both runs: the live manifest (the publish's or the prune run's) names only
    /// objects that are there.
    fn assert_live_whole(bucket: &str, prefix: &str, publishing: &tempfile::TempDir, label: &str) {
        Remote::under(bucket, prefix).assert_live_is_whole(
            &[
                &manifest_of(publishing.path()),
                &manifest_of(builds().b.path()),
            ],
            label,
        );
    }

    fn set_up(name: &str, rollback: bool) -> Race {
        let builds = builds();
        let kind = if rollback { "rollback" } else { "publish" };
        let bucket = shared_bucket();
        let prefix = format!("{kind}-{name}/");
        let to = format!("s3://{bucket}/{prefix}");
        let direct = seaweed::server().endpoint.clone();
        for site in [&builds.a, &builds.b] {
            ok(run(
                site.path(),
                SECRET_KEY,
                &["publish", "-q", "--to", &to, "--endpoint-url", &direct],
            ));
        }
        Race {
            kind,
            bucket,
            prefix,
            to,
            direct,
            publishing: if rollback { &builds.a } else { &builds.c },
        }
    }
}

/// A publish (`rollback`: of the older release `a`; else of `c`, which shares `a`'s stylesheet)
/// races a `--prune --keep 1` that retires `a`'s release, in one interleaving. Both runs break
/// the lock, as a store that ignores conditional writes would let them run together: the prune
/// protocol alone must keep the live release whole.
fn race(index: usize, hold: Hold, rollback: bool) {
    let builds = builds();
    let Race {
        bucket,
        prefix,
        to,
        direct,
        publishing,
        ..
    } = Race::set_up(&format!("race-{index}"), rollback);
    let to_publish = proxy::start(&direct, Faults::default());
    let to_prune = proxy::start(&direct, Faults::default());
    let publish_args = [
        "publish",
        "--break-lock",
        "--to",
        &to,
        "--endpoint-url",
        &to_publish.endpoint,
    ];
    let prune_args = [
        "publish",
        "--prune",
        "--keep",
        "1",
        "--break-lock",
        "--to",
        &to,
        "--endpoint-url",
        &to_prune.endpoint,
    ];
    let label = format!("{hold:?}, rollback: {rollback}");
    let finished = |child: std::process::Child, who: &str| {
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{label}: the {who} failed: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    };
    match hold {
        Hold::Publish(method, path, skip) => {
            let rule = to_publish.rule_after(skip, method, path, proxy::Action::Hold, 1);
            let publisher = start(publishing.path(), &publish_args);
            assert!(to_publish.wait_held(&rule, 60), "{label}: never held");
            ok(run(builds.b.path(), SECRET_KEY, &prune_args));
            to_publish.release(&rule);
            finished(publisher, "publish");
        }
        Hold::Prune(method, path, skip) => {
            let rule = to_prune.rule_after(skip, method, path, proxy::Action::Hold, 1);
            let pruner = start(builds.b.path(), &prune_args);
            assert!(to_prune.wait_held(&rule, 60), "{label}: never held");
            let publisher = start(publishing.path(), &publish_args);
            std::thread::sleep(std::time::Duration::from_millis(1500));
            to_prune.release(&rule);
            finished(pruner, "prune");
            finished(publisher, "publish");
        }
    }
    Race::assert_live_whole(bucket, &prefix, publishing, &label);
}

#[test]
fn prune_racing_a_publish_never_breaks_the_live_release() {
    std::thread::scope(|scope| {
        for (index, hold) in INTERLEAVINGS.into_iter().enumerate() {
            scope.spawn(move || race(index, hold, false));
        }
    });
}

#[test]
fn prune_racing_a_rollback_never_breaks_the_live_release() {
    std::thread::scope(|scope| {
        for (index, hold) in INTERLEAVINGS.into_iter().enumerate() {
            scope.spawn(move || race(index, hold, true));
        }
    });
}

/// The window a fixed interleaving missed: a publish lists the prefix while a prune is deleting
/// (its notice is in the listing, and so are objects it is about to delete), and the prune ends
/// (notice withdrawn) before the publish reads the notice. The publish must not plan from that
/// listing, which shows objects that are gone: it lists again.
fn race_past_a_vanishing_notice(rollback: bool) {
    let builds = builds();
    let Race {
        kind,
        bucket,
        prefix,
        to,
        direct,
        publishing,
    } = Race::set_up("vanishing-notice", rollback);
    let to_publish = proxy::start(&direct, Faults::default());
    let to_prune = proxy::start(&direct, Faults::default());
    let prune_args = [
        "publish",
        "--prune",
        "--keep",
        "1",
        "--break-lock",
        "--to",
        &to,
        "--endpoint-url",
        &to_prune.endpoint,
    ];
    let publish_args = [
        "publish",
        "--break-lock",
        "--to",
        &to,
        "--endpoint-url",
        &to_publish.endpoint,
    ];
    // The prune is held as it starts deleting, its decision made: the run's first delete
    // withdraws its own pending record, the second is the prune's.
    let deleting = to_prune.rule_after(1, "POST", "delete", proxy::Action::Hold, 1);
    let pruner = start(builds.b.path(), &prune_args);
    assert!(
        to_prune.wait_held(&deleting, 60),
        "{kind}: the prune never deleted"
    );
    // The publish lists (notice and doomed objects both there) and is held reading the notice.
    let reading_notice =
        to_publish.rule_after(0, "GET", ".stapler/pruning/", proxy::Action::Hold, 1);
    let publisher = start(publishing.path(), &publish_args);
    assert!(
        to_publish.wait_held(&reading_notice, 60),
        "{kind}: the publish never read the notice"
    );
    to_prune.release(&deleting);
    let pruned = pruner.wait_with_output().expect("wait");
    assert!(
        pruned.status.success(),
        "{kind}: the prune failed: {}",
        text(&pruned.stderr)
    );
    to_publish.release(&reading_notice);
    let published = publisher.wait_with_output().expect("wait");
    assert!(
        published.status.success(),
        "{kind}: the publish failed: {}",
        text(&published.stderr)
    );
    Race::assert_live_whole(
        bucket,
        &prefix,
        publishing,
        &format!("{kind} past a vanishing prune notice"),
    );
}

#[test]
fn a_prune_notice_that_vanishes_mid_look_sends_the_publish_back_to_list() {
    std::thread::scope(|scope| {
        scope.spawn(|| race_past_a_vanishing_notice(false));
        scope.spawn(|| race_past_a_vanishing_notice(true));
    });
}

/// `stapler publish` of a site straight to the server, not through a proxy.
fn publish_directly(site: &Path, to: &str) -> Output {
    run(
        site,
        SECRET_KEY,
        &[
            "publish",
            "--to",
            to,
            "--endpoint-url",
            &seaweed::server().endpoint,
        ],
    )
}

/// One bucket for the tests below, each under its own prefix: every bucket costs the server
/// volumes of its own.
fn shared_bucket() -> &'static str {
    static BUCKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUCKET.get_or_init(|| seaweed::bucket("prefixes"))
}

/// A prefix of the shared bucket holding release `a` of the example site, published directly:
/// the remote view of it and its target URL.
fn published_a(name: &str) -> (Remote, String) {
    let bucket = shared_bucket();
    let to = format!("s3://{bucket}/{name}/");
    ok(run(
        builds().a.path(),
        SECRET_KEY,
        &[
            "publish",
            "-q",
            "--to",
            &to,
            "--endpoint-url",
            &seaweed::server().endpoint,
        ],
    ));
    (Remote::under(bucket, &format!("{name}/")), to)
}

#[test]
fn a_store_that_stops_answering_fails_within_the_deadline_with_the_previous_release_live() {
    let (remote, to) = published_a("hung");
    let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
    proxy.rule("PUT", "CACHE/css/", proxy::Action::Hang, usize::MAX);
    let started = std::time::Instant::now();
    let output = run(
        builds().b.path(),
        SECRET_KEY,
        &[
            "publish",
            "--timeout",
            "6",
            "--to",
            &to,
            "--endpoint-url",
            &proxy.endpoint,
        ],
    );
    let took = started.elapsed();
    let message = text(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{message}");
    assert!(
        message.contains("ran out of time (6 s)")
            && message.contains("servers keep using the previous release"),
        "{message}"
    );
    assert!(took.as_secs() < 15, "gave up after {took:?}");
    eprintln!("hung store: gave up after {took:?} with --timeout 6");
    remote.assert_live_is_whole(&[&manifest_of(builds().a.path())], "hung store");
}

#[test]
fn the_exit_code_says_which_release_is_live_when_the_manifest_or_record_fails() {
    let cases: [(&str, &str, proxy::Action, Option<i32>, &str); 3] = [
        (
            "request-lost",
            "CACHE/manifest.json",
            proxy::Action::DropRequest,
            Some(4),
            "is still live",
        ),
        (
            "answer-lost",
            "CACHE/manifest.json",
            proxy::Action::DropResponse,
            Some(5),
            "the new release is live",
        ),
        (
            "record",
            ".stapler/releases/",
            proxy::Action::Answer(500),
            Some(5),
            "is live, but its record could not be written",
        ),
    ];
    for (name, path, action, code, says) in cases {
        let (remote, to) = published_a(name);
        let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
        proxy.rule("PUT", path, action, usize::MAX);
        let output = run(
            builds().b.path(),
            SECRET_KEY,
            &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
        );
        let message = text(&output.stderr);
        assert_eq!(output.status.code(), code, "{name}: {message}");
        assert!(message.contains(says), "{name}: {message}");
        assert!(
            !message.contains("DispatchFailure") && !message.contains("ConnectorError"),
            "{name}: the client's debug text stays out of the message: {message}"
        );
        let live = if code == Some(4) {
            builds().a.path()
        } else {
            builds().b.path()
        };
        remote.assert_live_is_whole(&[&manifest_of(live)], name);
        // A rerun finishes the job: the live release gets its record.
        ok(publish_directly(builds().b.path(), &to));
        remote.assert_live_is_whole(&[&manifest_of(builds().b.path())], name);
        assert!(
            remote
                .keys()
                .iter()
                .filter(|key| key.starts_with(".stapler/releases/"))
                .count()
                == 2,
            "{name}: one record per release"
        );
    }
}

#[test]
fn a_damaged_content_hashed_object_is_repaired() {
    let (remote, to) = published_a("repair");
    let bundles = regex::Regex::new(r#"CACHE/css/[^\\"]+"#).expect("regex");
    let manifest = text(&manifest_of(builds().a.path()));
    let damaged: Vec<String> = bundles
        .find_iter(&manifest)
        .take(2)
        .map(|m| m.as_str().to_string())
        .collect();
    let original = remote.get(&damaged[0]);
    // One cut short (the listing shows the size), one with the same size and other bytes (the
    // listing's ETag shows it).
    remote.put(&damaged[0], &original[..original.len() / 2]);
    let mut other = remote.get(&damaged[1]);
    other[0] ^= 0x20;
    remote.put(&damaged[1], &other);
    let summary = ok(publish_directly(builds().a.path(), &to));
    assert!(
        summary.contains("(2 damaged stored copies repaired)"),
        "{summary}"
    );
    let local = builds().a.path().join("build/static");
    for name in &damaged {
        assert_eq!(
            remote.get(name),
            std::fs::read(local.join(name)).expect("local"),
            "{name}"
        );
    }
}

#[test]
fn a_second_publish_is_refused_while_one_holds_the_lock() {
    let (remote, to) = published_a("locked");
    let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
    let rule = proxy.rule("PUT", "CACHE/manifest.json", proxy::Action::Hold, 1);
    let first = start(
        builds().b.path(),
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    );
    assert!(
        proxy.wait_held(&rule, 60),
        "the first publish never got to its manifest"
    );
    let second = publish_directly(builds().c.path(), &to);
    let message = text(&second.stderr);
    assert_eq!(second.status.code(), Some(4), "{message}");
    assert!(
        message.contains("holds .stapler/lock") && message.contains("pid"),
        "{message}"
    );
    proxy.release(&rule);
    let output = first.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", text(&output.stderr));
    remote.assert_live_is_whole(&[&manifest_of(builds().b.path())], "after the lock");

    // A store that ignores conditional writes: said, not hidden.
    let careless = proxy::start(&seaweed::server().endpoint, Faults::default());
    careless.rule_after(1, "PUT", ".stapler/lock", proxy::Action::Answer(200), 1);
    let output = run(
        builds().c.path(),
        SECRET_KEY,
        &["publish", "--to", &to, "--endpoint-url", &careless.endpoint],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("does not honour conditional writes"),
        "{}",
        text(&output.stderr)
    );
}

/// Sends a signal to a running stapler.
fn signal(child: &std::process::Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -{name}");
}

/// The coordination objects a run leaves under the prefix: the lock and pending records.
fn leftovers(remote: &Remote) -> Vec<String> {
    remote
        .keys()
        .into_iter()
        .filter(|key| key == ".stapler/lock" || key.starts_with(".stapler/pending/"))
        .collect()
}

/// SIGTERM, as CI sends it to a cancelled job, at several moments of a publish: before the lock
/// is taken, during the uploads, and once the manifest is up. The run stops cleanly (its lock
/// and pending record removed; exit 4 with the previous release live, or 5 once the new one is)
/// and the next publish runs without anyone's help.
#[test]
fn a_cancelled_publish_cleans_up_and_the_next_one_runs() {
    let moments: [(&str, &str, &str, i32); 4] = [
        ("taking the lock", "PUT", ".stapler/lock", 4),
        ("uploading", "PUT", "CACHE/js/", 4),
        ("writing the release record", "PUT", ".stapler/releases/", 5),
        ("interrupted twice", "PUT", "CACHE/js/", 4),
    ];
    for (index, (moment, method, path, code)) in moments.into_iter().enumerate() {
        let (remote, to) = published_a(&format!("cancelled-{index}"));
        let live_before = remote.get("CACHE/manifest.json");
        let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
        let rule = proxy.rule(method, path, proxy::Action::Hold, 1);
        let publisher = start(
            builds().c.path(),
            &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
        );
        assert!(proxy.wait_held(&rule, 60), "{moment}: never got there");
        // Twice: the first signal's clean-up is held, and a second signal stops it at once.
        let cleaning = (moment == "interrupted twice")
            .then(|| proxy.rule("POST", "delete", proxy::Action::Hold, 1));
        let stopped_at = std::time::Instant::now();
        signal(&publisher, "TERM");
        if let Some(cleaning) = &cleaning {
            assert!(proxy.wait_held(cleaning, 10), "{moment}: never cleaned up");
            signal(&publisher, "INT");
        }
        if code == 5 {
            // The release record is past the point of no return: the run finishes it.
            std::thread::sleep(std::time::Duration::from_millis(300));
            proxy.release(&rule);
        }
        let output = publisher.wait_with_output().expect("wait");
        let stderr = text(&output.stderr);
        let took = stopped_at.elapsed();
        proxy.release(&rule);
        if let Some(cleaning) = &cleaning {
            proxy.release(cleaning);
        }
        let expected = if moment == "interrupted twice" {
            128 + 2
        } else {
            code
        };
        assert_eq!(output.status.code(), Some(expected), "{moment}: {stderr}");
        assert!(took.as_secs_f64() < 3.0, "{moment}: stopping took {took:?}");
        if expected == 4 {
            assert!(
                stderr.contains("stopped by SIGTERM before the manifests were sent"),
                "{moment}: {stderr}"
            );
            assert_eq!(
                remote.get("CACHE/manifest.json"),
                live_before,
                "{moment}: the previous release stays live"
            );
            assert_eq!(
                leftovers(&remote),
                Vec::<String>::new(),
                "{moment}: lock and pending record removed"
            );
        }
        if expected == 5 {
            assert!(
                stderr.contains("stopped by SIGTERM after the manifests went up"),
                "{moment}: {stderr}"
            );
            assert_eq!(
                leftovers(&remote),
                Vec::<String>::new(),
                "{moment}: lock and pending record removed"
            );
            remote.assert_live_is_whole(&[&manifest_of(builds().c.path())], moment);
        }
        // The next deploy needs no one: a lock left by the killed run (on this machine, its
        // process gone) is taken over.
        let next = publish_directly(builds().c.path(), &to);
        assert!(
            next.status.success(),
            "{moment}: the next publish: {}",
            text(&next.stderr)
        );
        remote.assert_live_is_whole(&[&manifest_of(builds().c.path())], moment);
        eprintln!("{moment}: stopped in {took:?} with exit {expected}, next publish ran");
    }
}

/// A publish killed outright (SIGKILL: nothing runs) leaves its lock; the next publish on this
/// machine sees that the holder's process is gone and takes the lock over, saying so.
#[test]
fn a_lock_left_by_a_killed_publish_on_this_machine_is_taken_over() {
    let (remote, to) = published_a("killed-holder");
    let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
    let rule = proxy.rule("PUT", "CACHE/js/", proxy::Action::Hold, 1);
    let mut publisher = start(
        builds().c.path(),
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    );
    assert!(proxy.wait_held(&rule, 60), "never got to its uploads");
    publisher.kill().expect("kill");
    publisher.wait().expect("wait");
    proxy.release(&rule);
    assert!(leftovers(&remote).contains(&".stapler/lock".to_string()));
    let next = publish_directly(builds().c.path(), &to);
    let stderr = text(&next.stderr);
    assert!(next.status.success(), "{stderr}");
    assert!(
        stderr.contains("took over .stapler/lock from")
            && stderr.contains("on this machine has ended"),
        "{stderr}"
    );
    assert_eq!(
        leftovers(&remote)
            .iter()
            .filter(|key| *key == ".stapler/lock")
            .count(),
        0
    );
    remote.assert_live_is_whole(&[&manifest_of(builds().c.path())], "after the takeover");
}

/// A live holder's lock is waited for with `--wait`, and the queued publish then runs.
#[test]
fn wait_queues_a_publish_behind_a_live_holder() {
    let (remote, to) = published_a("queued");
    let proxy = proxy::start(&seaweed::server().endpoint, Faults::default());
    let rule = proxy.rule("PUT", "CACHE/manifest.json", proxy::Action::Hold, 1);
    let first = start(
        builds().b.path(),
        &["publish", "--to", &to, "--endpoint-url", &proxy.endpoint],
    );
    assert!(
        proxy.wait_held(&rule, 60),
        "the first publish never got to its manifest"
    );
    let queued = start(
        builds().c.path(),
        &[
            "publish",
            "--wait",
            "60",
            "--to",
            &to,
            "--endpoint-url",
            &seaweed::server().endpoint,
        ],
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    proxy.release(&rule);
    let output = first.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = queued.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "the queued publish: {}",
        text(&output.stderr)
    );
    remote.assert_live_is_whole(&[&manifest_of(builds().c.path())], "after the queue");
}

/// A lock from another machine whose deadline passed long ago is taken over on a `file://`
/// target too, where the takeover is an atomic rename.
#[test]
fn an_expired_lock_from_another_machine_is_taken_over() {
    let target = tempfile::tempdir().expect("tempdir");
    let to = format!("file://{}", target.path().display());
    ok(run(
        builds().a.path(),
        SECRET_KEY,
        &["publish", "-q", "--to", &to],
    ));
    let lock = target.path().join(".stapler/lock");
    std::fs::write(
        &lock,
        r#"{"owner": "ci-runner-7 pid 4242", "started": "20260101T000000.000Z", "deadline_secs": 60, "host": "ci-runner-7", "pid": 4242}"#,
    )
    .expect("lock");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .and_then(|file| file.set_modified(hour_ago))
        .expect("age the lock");
    let output = run(builds().c.path(), SECRET_KEY, &["publish", "--to", &to]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "took over .stapler/lock from ci-runner-7 pid 4242: its deadline (60 s) passed"
        ),
        "{stderr}"
    );
    assert!(!lock.exists(), "the lock is given back");
}

/// A prune (`--prune --keep 1`, retiring release `a`) and a publish of `c` or a rollback to `a`
/// started `offset` later, with no hold: the timing is the machine's.
fn race_at(offset: std::time::Duration, rollback: bool) {
    let builds = builds();
    let Race {
        kind,
        bucket,
        prefix,
        to,
        direct,
        publishing,
    } = Race::set_up(&format!("offset-{}", offset.as_millis()), rollback);
    let pruner = start(
        builds.b.path(),
        &[
            "publish",
            "--prune",
            "--keep",
            "1",
            "--break-lock",
            "--to",
            &to,
            "--endpoint-url",
            &direct,
        ],
    );
    std::thread::sleep(offset);
    let publisher = start(
        publishing.path(),
        &[
            "publish",
            "--break-lock",
            "--to",
            &to,
            "--endpoint-url",
            &direct,
        ],
    );
    let label = format!("{kind} {} ms after the prune", offset.as_millis());
    for (child, who) in [(pruner, "prune"), (publisher, "publish")] {
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{label}: the {who} failed: {}",
            text(&output.stderr)
        );
    }
    Race::assert_live_whole(bucket, &prefix, publishing, &label);
}

/// Every 50 ms over the whole overlap of a prune and a publish (or rollback) started after it:
/// no offset may leave the live manifest naming a deleted object.
#[test]
fn prune_and_publish_at_every_offset_keep_the_live_release_whole() {
    let offsets: Vec<(u64, bool)> = (0..=12)
        .flat_map(|step| [(step * 50, false), (step * 50, true)])
        .collect();
    for chunk in offsets.chunks(4) {
        std::thread::scope(|scope| {
            for &(millis, rollback) in chunk {
                scope.spawn(move || race_at(std::time::Duration::from_millis(millis), rollback));
            }
        });
    }
    eprintln!(
        "{} races, offsets 0 to 600 ms, the live release whole in each",
        offsets.len()
    );
}

/// `--verify` fetches what a release added through the CDN visitors use: through a faithful one
/// the run succeeds and counts what it checked; through one that strips `Cache-Control`, serves
/// a stale manifest and lost a new bundle, it fails with exit 6 naming each.
#[test]
fn verify_says_when_visitors_would_not_get_the_release_whole() {
    let bucket = shared_bucket();
    let prefix = "verified/";
    let to = format!("s3://{bucket}/{prefix}");
    let direct = seaweed::server().endpoint.clone();
    let cdn = cdn::start(&direct, bucket, prefix);
    let publish = |site: &Path| {
        run(
            site,
            SECRET_KEY,
            &[
                "publish",
                "--verify",
                "--public-url",
                &cdn.url,
                "--to",
                &to,
                "--endpoint-url",
                &direct,
                "--format",
                "json",
            ],
        )
    };
    let whole = publish(builds().a.path());
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let report: serde_json::Value = serde_json::from_slice(&whole.stdout).expect("json");
    let verified = &report["publish"]["verify"];
    assert!(
        verified["checked"].as_u64().is_some_and(|n| n > 10),
        "{verified}"
    );
    assert_eq!(verified["mismatches"], serde_json::json!([]), "{verified}");

    let before = local_files(&builds().a.path().join("build/static"));
    let new_bundle = local_files(&builds().b.path().join("build/static"))
        .into_keys()
        .find(|name| name.starts_with("CACHE/css/") && !before.contains_key(name))
        .expect("b has a stylesheet bundle a has not");
    cdn.misbehave(cdn::Misbehaviour {
        strip: vec!["cache-control".into()],
        stale: [(
            "CACHE/manifest.json".to_string(),
            manifest_of(builds().a.path()),
        )]
        .into(),
        missing: vec![new_bundle.clone()],
    });
    let broken = publish(builds().b.path());
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).expect("json");
    let message = report["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(broken.status.code(), Some(6), "{message}");
    assert!(
        message.contains("the release is live, but")
            && message.contains(&format!("{new_bundle}: status 404"))
            && message.contains("CACHE/manifest.json: the bytes differ")
            && message.contains("Cache-Control is missing"),
        "{message}"
    );
}
