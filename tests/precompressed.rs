//! `precompress`: `.gz` and `.br` files beside bundles and text assets, what they decompress
//! to, where they are published, and whitenoise serving them from Django.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{append_config, example_site, stapler, text};

fn files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().to_path_buf())
        .collect()
}

fn decompressed(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("compressed file");
    let mut out = Vec::new();
    match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        Some("br") => {
            brotli::BrotliDecompress(&mut &bytes[..], &mut out).expect("unbrotli");
        }
        _ => panic!("not compressed: {}", path.display()),
    }
    out
}

#[test]
fn every_precompressed_file_decompresses_to_its_original_and_is_smaller() {
    let site = example_site();
    append_config(site.path(), "precompress = [\"gzip\", \"br\"]\n");
    let out = stapler(site.path(), &["compress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("precompressed"),
        "{}",
        text(&out.stdout)
    );
    let root = site.path().join("build/static");
    let all = files(&root);
    let compressed: Vec<&PathBuf> = all
        .iter()
        .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br")))
        .collect();
    for path in &compressed {
        let original_path = path.with_extension("");
        let original = std::fs::read(&original_path).expect("the original beside it");
        assert_eq!(decompressed(path), original, "{}", path.display());
        assert!(
            std::fs::metadata(path).expect("meta").len() < original.len() as u64,
            "{} is not smaller",
            path.display()
        );
    }
    // Every bundle large enough to gain has both; binary assets have neither.
    let bundles: Vec<&PathBuf> = all
        .iter()
        .filter(|path| {
            path.to_string_lossy().contains("/CACHE/")
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("css" | "js")
                )
        })
        .collect();
    assert!(bundles.len() >= 5);
    for bundle in bundles {
        if std::fs::metadata(bundle).expect("meta").len() > 200 {
            for suffix in ["gz", "br"] {
                let companion = PathBuf::from(format!("{}.{suffix}", bundle.display()));
                assert!(companion.is_file(), "{}", companion.display());
            }
        }
    }
    assert!(
        compressed
            .iter()
            .any(|path| path.to_string_lossy().contains(".svg.")),
        "the hashed SVG asset is precompressed"
    );
    assert!(!compressed
        .iter()
        .any(|path| path.to_string_lossy().contains(".png.")
            || path.to_string_lossy().contains(".woff2.")));

    // A folder target gets them, with the bundles.
    let published = tempfile::tempdir().expect("tempdir");
    let to = format!("file://{}", published.path().display());
    let out = stapler(site.path(), &["publish", "--to", &to]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for path in &compressed {
        let name = path.strip_prefix(&root).expect("under the root");
        assert!(published.path().join(name).is_file(), "{}", name.display());
    }

    // Removed from the build, they are written again; force rewrites them all.
    std::fs::remove_file(compressed[0]).expect("remove");
    let out = stapler(site.path(), &["compress", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(compressed[0].is_file());
}

#[test]
fn whitenoise_serves_the_brotli_file_to_a_browser_that_accepts_it() {
    let site = example_site();
    append_config(site.path(), "precompress = [\"gzip\", \"br\"]\n");
    let out = stapler(site.path(), &["compress", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = site.path().join("build/static");
    let bundle = files(&root.join("CACHE/js"))
        .into_iter()
        .find(|path| {
            path.extension().is_some_and(|e| e == "js")
                && PathBuf::from(format!("{}.br", path.display())).is_file()
        })
        .expect("a script bundle with a .br beside it");
    let name = bundle
        .strip_prefix(&root)
        .expect("under the root")
        .to_string_lossy()
        .into_owned();

    let venv = common::python_venv("whitenoise-venv", &["django==5.2.*", "whitenoise==6.11.0"]);
    let script = r#"
import json, sys
import django
from django.conf import settings
settings.configure(
    DEBUG=False, SECRET_KEY="x", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=__name__,
    STATIC_URL="/static/", STATIC_ROOT=sys.argv[1],
    MIDDLEWARE=["whitenoise.middleware.WhiteNoiseMiddleware"],
    INSTALLED_APPS=["django.contrib.staticfiles"],
)
urlpatterns = []
django.setup()
from django.test import Client
result = {}
for accept in ["br", "gzip", ""]:
    response = Client().get("/static/" + sys.argv[2], HTTP_ACCEPT_ENCODING=accept)
    body = b"".join(response.streaming_content)
    result[accept or "none"] = {
        "status": response.status_code,
        "encoding": response.get("Content-Encoding"),
        "type": response.get("Content-Type"),
        "length": len(body),
        "body": body.hex(),
    }
print(json.dumps(result))
"#;
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(&root)
        .arg(&name)
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let served: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let body =
        |accept: &str| hex::decode(served[accept]["body"].as_str().expect("hex")).expect("hex");
    assert_eq!(served["br"]["status"], 200, "{served}");
    assert_eq!(served["br"]["encoding"], "br", "{served}");
    assert_eq!(
        body("br"),
        std::fs::read(format!("{}.br", bundle.display())).expect(".br")
    );
    assert_eq!(served["gzip"]["encoding"], "gzip", "{served}");
    assert_eq!(
        body("gzip"),
        std::fs::read(format!("{}.gz", bundle.display())).expect(".gz")
    );
    assert!(served["none"]["encoding"].is_null(), "{served}");
    assert_eq!(body("none"), std::fs::read(&bundle).expect("bundle"));
    assert!(
        served["br"]["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("text/javascript")),
        "{served}"
    );
}

/// S3 returns the object asked for and cannot choose an encoding per request: the
/// precompressed files stay home unless `[publish] precompressed = true`.
#[test]
fn an_s3_target_gets_the_precompressed_files_only_when_asked() {
    use common::seaweed;
    let server = seaweed::server();
    let bucket = seaweed::bucket("precompressed");
    let site = example_site();
    append_config(site.path(), "precompress = [\"gzip\", \"br\"]\n");
    let publish = |prefix: &str| {
        let to = format!("s3://{bucket}/{prefix}");
        let out = seaweed::stapler_command(site.path())
            .args(["deploy", "--to", &to, "--endpoint-url", &server.endpoint])
            .output()
            .expect("run stapler");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listed = runtime
            .block_on(
                seaweed::client(&server.endpoint)
                    .list_objects_v2()
                    .bucket(&bucket)
                    .prefix(format!("{prefix}/"))
                    .send(),
            )
            .expect("list");
        listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_string))
            .collect::<Vec<String>>()
    };
    let default = publish("plain");
    assert!(
        default.iter().any(|key| key.ends_with(".js")),
        "{default:?}"
    );
    assert!(
        !default
            .iter()
            .any(|key| key.ends_with(".gz") || key.ends_with(".br")),
        "{default:?}"
    );
    append_config(site.path(), "[publish]\nprecompressed = true\n");
    let asked = publish("asked");
    assert!(asked.iter().any(|key| key.ends_with(".js.br")), "{asked:?}");
    assert!(asked.iter().any(|key| key.ends_with(".js.gz")), "{asked:?}");
}
