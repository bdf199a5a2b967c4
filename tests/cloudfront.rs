//! `[publish] cloudfront_distribution_id`: after the manifest is up, the changed names that
//! are not content-hashed are invalidated, and nothing when nothing changed. Against moto's
//! implementation of the CloudFront API (from PyPI), which keeps every request's paths.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

const MOTO: &str = "moto[server]==5.2.5";

struct Moto {
    child: Child,
    endpoint: String,
    python: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let venv = python_venv("moto-venv", &[MOTO]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Moto {
        child,
        endpoint,
        python: venv.join("bin/python"),
    }
}

/// Runs boto3 against moto: `create` makes a distribution and prints its id; `list` prints
/// every invalidation's paths, oldest first.
fn boto(moto: &Moto, command: &str, distribution: &str) -> serde_json::Value {
    let script = r#"
import json, sys
import boto3
client = boto3.client("cloudfront", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
if sys.argv[2] == "create":
    created = client.create_distribution(DistributionConfig={
        "CallerReference": "stapler-test", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "assets", "DomainName": "assets.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "assets", "ViewerProtocolPolicy": "allow-all",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    })
    print(json.dumps(created["Distribution"]["Id"]))
else:
    listed = client.list_invalidations(DistributionId=sys.argv[3])["InvalidationList"]
    items = sorted(listed.get("Items", []), key=lambda item: item["CreateTime"])
    batches = []
    for item in items:
        got = client.get_invalidation(DistributionId=sys.argv[3], Id=item["Id"])["Invalidation"]
        batches.append(sorted(got["InvalidationBatch"]["Paths"].get("Items", [])))
    print(json.dumps(batches))
"#;
    let out = Command::new(&moto.python)
        .arg("-c")
        .arg(script)
        .args([moto.endpoint.as_str(), command, distribution])
        .output()
        .expect("run boto3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// stapler in `site` with credentials moto takes.
fn stapler_command(site: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stapler"));
    command
        .current_dir(site)
        .env_remove("CI")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

fn publish(site: &Path, to: &str, extra: &[&str]) -> String {
    let out = stapler_command(site)
        .args(["deploy", "--to", to])
        .args(extra)
        .output()
        .expect("run stapler");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn only_changed_names_that_are_not_content_hashed_are_invalidated() {
    let moto = start_moto();
    let distribution = boto(&moto, "create", "");
    let distribution = distribution.as_str().expect("an id");
    let site = example_site();
    let config = site.path().join("stapler.toml");
    let mut settings = std::fs::read_to_string(&config).expect("config");
    settings.push_str(&format!(
        "[publish]\ncloudfront_distribution_id = \"{distribution}\"\ncloudfront_path_prefix = \"/static/\"\ncloudfront_endpoint_url = \"{}\"\n",
        moto.endpoint
    ));
    std::fs::write(&config, &settings).expect("config");
    let published = tempfile::tempdir().expect("tempdir");
    let to = format!("file://{}", published.path().display());
    let robots = site.path().join("build/static/robots.txt");
    std::fs::create_dir_all(robots.parent().expect("folder")).expect("mkdir");
    std::fs::write(&robots, "User-agent: *\n").expect("write");

    // Release 1: everything is new, so nothing can be stale.
    let first = publish(site.path(), &to, &[]);
    assert!(
        first.contains("CloudFront: nothing to invalidate"),
        "{first}"
    );
    assert_eq!(boto(&moto, "list", distribution), serde_json::json!([]));

    // Release 2: a script (a new content-hashed bundle), the manifest and robots.txt change.
    let app = site.path().join("static/js/app.js");
    let mut script = std::fs::read_to_string(&app).expect("script");
    script.push_str("\nwindow.RELEASE = 2;\n");
    std::fs::write(&app, script).expect("script");
    std::fs::write(&robots, "User-agent: *\nDisallow: /admin/\n").expect("write");
    let planned = publish(site.path(), &to, &["--dry-run"]);
    assert!(
        planned.contains(&format!(
            "CloudFront {distribution}: would invalidate /static/CACHE/manifest.json /static/robots.txt"
        )),
        "{planned}"
    );
    assert_eq!(boto(&moto, "list", distribution), serde_json::json!([]));
    let second = publish(site.path(), &to, &["--wait"]);
    assert!(
        second.contains("CloudFront: invalidated 2 path(s) in 1 request(s)"),
        "{second}"
    );
    assert!(second.contains("completed"), "{second}");
    assert_eq!(
        boto(&moto, "list", distribution),
        serde_json::json!([["/static/CACHE/manifest.json", "/static/robots.txt"]])
    );

    // Nothing changed: no request.
    let third = publish(site.path(), &to, &[]);
    assert!(!third.contains("invalidated"), "{third}");
    assert_eq!(
        boto(&moto, "list", distribution).as_array().map(Vec::len),
        Some(1)
    );

    // Past `invalidation_max_paths`, one wildcard.
    settings.push_str("invalidation_max_paths = 1\n");
    std::fs::write(&config, &settings).expect("config");
    let mut script = std::fs::read_to_string(&app).expect("script");
    script.push_str("window.RELEASE = 4;\n");
    std::fs::write(&app, script).expect("script");
    std::fs::write(&robots, "User-agent: *\n").expect("write");
    publish(site.path(), &to, &[]);
    let batches = boto(&moto, "list", distribution);
    assert_eq!(batches[1], serde_json::json!(["/static/*"]), "{batches}");

    // A distribution CloudFront does not know: the release is live (exit 5) and the message
    // gives the command that finishes the job.
    std::fs::write(&config, settings.replace(distribution, "ENOSUCHDIST")).expect("config");
    std::fs::write(&robots, "User-agent: *\nDisallow: /\n").expect("write");
    let out = stapler_command(site.path())
        .args(["publish", "--to", &to])
        .output()
        .expect("run stapler");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let message = text(&out.stderr);
    assert!(
        message.contains("ENOSUCHDIST")
            && message.contains("The release is live")
            && message.contains("aws cloudfront create-invalidation --distribution-id ENOSUCHDIST --paths /static/robots.txt"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(published.path().join("robots.txt")).expect("published"),
        "User-agent: *\nDisallow: /\n"
    );
}
