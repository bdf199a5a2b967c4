//! A CDN in front of the test S3 server, as visitors reach a bucket: it reads each object from
//! the bucket (with the tests' credentials) and serves its bytes with the headers the bucket
//! stored. It can be told to misbehave as real CDNs do: strip a header, serve stale bytes for a
//! name, or answer 404.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// How the CDN departs from its origin.
#[derive(Clone, Default)]
pub struct Misbehaviour {
    /// Headers dropped from every answer (`cache-control`).
    pub strip: Vec<String>,
    /// Names answered with these bytes instead of the origin's (a stale cached copy).
    pub stale: BTreeMap<String, Vec<u8>>,
    /// Names answered with 404.
    pub missing: Vec<String>,
}

pub struct Cdn {
    /// The public URL of the prefix, ending with `/`.
    pub url: String,
    misbehaviour: Arc<Mutex<Misbehaviour>>,
    _runtime: tokio::runtime::Runtime,
}

impl Cdn {
    pub fn misbehave(&self, misbehaviour: Misbehaviour) {
        *self.misbehaviour.lock().expect("misbehaviour") = misbehaviour;
    }
}

/// Serves `bucket`/`prefix` of the S3 server at `endpoint`.
pub fn start(endpoint: &str, bucket: &str, prefix: &str) -> Cdn {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address: SocketAddr = listener.local_addr().expect("address");
    let client = super::seaweed::client(endpoint);
    let misbehaviour = Arc::new(Mutex::new(Misbehaviour::default()));
    let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
    let shared = misbehaviour.clone();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (client, bucket, prefix, misbehaviour) = (
                client.clone(),
                bucket.clone(),
                prefix.clone(),
                shared.clone(),
            );
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (client, bucket, prefix, misbehaviour) = (
                        client.clone(),
                        bucket.clone(),
                        prefix.clone(),
                        misbehaviour.clone(),
                    );
                    async move { serve(request, client, bucket, prefix, misbehaviour).await }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Cdn {
        url: format!("http://{address}/"),
        misbehaviour,
        _runtime: runtime,
    }
}

async fn serve(
    request: Request<Incoming>,
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    misbehaviour: Arc<Mutex<Misbehaviour>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let name = percent_encoding::percent_decode_str(request.uri().path().trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    let rules = misbehaviour.lock().expect("misbehaviour").clone();
    let not_found = || {
        Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"not found")))
            .expect("response")
    };
    if rules.missing.contains(&name) {
        return Ok(not_found());
    }
    let Ok(object) = client
        .get_object()
        .bucket(&bucket)
        .key(format!("{prefix}{name}"))
        .send()
        .await
    else {
        return Ok(not_found());
    };
    let mut headers = vec![
        ("content-type", object.content_type().map(str::to_string)),
        ("cache-control", object.cache_control().map(str::to_string)),
        (
            "content-encoding",
            object.content_encoding().map(str::to_string),
        ),
    ];
    headers.retain(|(header, _)| !rules.strip.iter().any(|stripped| stripped == header));
    let bytes = match rules.stale.get(&name) {
        Some(stale) => stale.clone(),
        None => match object.body.collect().await {
            Ok(body) => body.into_bytes().to_vec(),
            Err(_) => return Ok(not_found()),
        },
    };
    let mut response = Response::builder().status(200);
    for (header, value) in headers {
        if let Some(value) = value {
            response = response.header(header, value);
        }
    }
    Ok(response
        .body(Full::new(Bytes::from(bytes)))
        .expect("response"))
}
