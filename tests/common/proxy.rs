//! A small HTTP proxy in front of the S3 server: it logs every request (method and path, in
//! arrival order) and can inject faults on a share of requests: `503 SlowDown` answers, dropped
//! connections and slow answers. Headers pass through untouched, so SigV4 signatures still verify.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Which requests get a fault: every `n`th one (0 = never).
#[derive(Clone, Copy, Default)]
pub struct Faults {
    pub error_every: u64,
    pub reset_every: u64,
    pub slow_every: u64,
}

pub struct Proxy {
    pub endpoint: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// The requests seen so far: (method, path).
    pub fn log(&self) -> Vec<(String, String)> {
        self.log.lock().expect("log").clone()
    }

    pub fn clear(&self) {
        self.log.lock().expect("log").clear();
    }
}

pub fn start(upstream: &str, faults: Faults) -> Proxy {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind proxy");
    let address: SocketAddr = listener.local_addr().expect("address");
    let log = Arc::new(Mutex::new(Vec::new()));
    let counter = Arc::new(AtomicU64::new(0));
    let upstream = upstream.trim_end_matches('/').to_string();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let shared_log = log.clone();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (log, counter, upstream, client) = (
                shared_log.clone(),
                counter.clone(),
                upstream.clone(),
                client.clone(),
            );
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (log, counter, upstream, client) = (
                        log.clone(),
                        counter.clone(),
                        upstream.clone(),
                        client.clone(),
                    );
                    forward(request, log, counter, upstream, client, faults)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Proxy {
        endpoint: format!("http://{address}"),
        log,
        _runtime: runtime,
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn forward(
    request: Request<Incoming>,
    log: Arc<Mutex<Vec<(String, String)>>>,
    counter: Arc<AtomicU64>,
    upstream: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    faults: Faults,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let number = counter.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    log.lock()
        .expect("log")
        .push((parts.method.to_string(), path.clone()));
    if faults.reset_every > 0 && number % faults.reset_every == 0 {
        return Err("injected connection reset".into());
    }
    if faults.error_every > 0 && number % faults.error_every == 0 {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>";
        return Ok(Response::builder()
            .status(503)
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from(xml)))?);
    }
    if faults.slow_every > 0 && number % faults.slow_every == 0 {
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let mut builder = Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = client.request(builder.body(Full::new(body))?).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
