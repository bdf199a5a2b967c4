//! A small HTTP proxy in front of the S3 server: it logs every request (method and path, in
//! arrival order) and what became of it, and can inject faults on a share of requests: `503 SlowDown` answers, dropped
//! connections and slow answers. Rules act on chosen requests: hold one until the test releases
//! it (to order two runs' steps), hang, drop it before or after the server saw it, or answer for
//! the server. Headers pass through untouched, so SigV4 signatures still verify.

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

/// What a rule does to a request it matches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Wait until [`Proxy::release`], then forward.
    Hold,
    /// Never answer.
    Hang,
    /// Close the connection without forwarding: the request is lost.
    DropRequest,
    /// Forward, then close the connection: the server acted, the answer is lost.
    DropResponse,
    /// Answer with this status without forwarding.
    Answer(u16),
}

struct Rule {
    method: &'static str,
    path_contains: String,
    action: Action,
    /// Matches let through before the rule acts.
    skip: usize,
    /// Matches left; `usize::MAX` for every match.
    left: usize,
    held: Arc<AtomicU64>,
    gate: Arc<tokio::sync::Semaphore>,
}

/// What became of one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The server answered with this status.
    Answered(u16),
    /// A fault answered `503 SlowDown` for the server.
    SlowDown,
    /// A fault or a rule closed the connection before the server saw the request.
    Reset,
    /// A rule answered with this status for the server.
    Ruled(u16),
    /// The server acted, and a rule dropped its answer.
    AnswerLost,
}

/// One request and what became of it, in the order the outcomes were known.
#[derive(Clone, Debug)]
pub struct Event {
    pub method: String,
    pub path: String,
    pub outcome: Outcome,
}

/// A rule's handle, to wait for and release what it holds.
#[derive(Clone)]
pub struct RuleId(usize);

pub struct Proxy {
    pub endpoint: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
    events: Arc<Mutex<Vec<Event>>>,
    rules: Arc<Mutex<Vec<Rule>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// The requests seen so far: (method, path).
    pub fn log(&self) -> Vec<(String, String)> {
        self.log.lock().expect("log").clone()
    }

    /// What became of each request whose outcome is known so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").clone()
    }

    pub fn clear(&self) {
        self.log.lock().expect("log").clear();
        self.events.lock().expect("events").clear();
    }

    /// Acts on the next `times` requests with this method whose path contains `path_contains`.
    pub fn rule(
        &self,
        method: &'static str,
        path_contains: &str,
        action: Action,
        times: usize,
    ) -> RuleId {
        self.rule_after(0, method, path_contains, action, times)
    }

    /// As [`Proxy::rule`], letting the first `skip` matching requests through untouched.
    pub fn rule_after(
        &self,
        skip: usize,
        method: &'static str,
        path_contains: &str,
        action: Action,
        times: usize,
    ) -> RuleId {
        let mut rules = self.rules.lock().expect("rules");
        rules.push(Rule {
            method,
            path_contains: path_contains.to_string(),
            action,
            skip,
            left: times,
            held: Arc::new(AtomicU64::new(0)),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
        });
        RuleId(rules.len() - 1)
    }

    /// Waits until the rule holds a request; false after `seconds` without one.
    pub fn wait_held(&self, id: &RuleId, seconds: u64) -> bool {
        let held = self.rules.lock().expect("rules")[id.0].held.clone();
        let until = std::time::Instant::now() + Duration::from_secs(seconds);
        while std::time::Instant::now() < until {
            if held.load(Ordering::SeqCst) > 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Lets what the rule holds, and whatever it would hold later, through.
    pub fn release(&self, id: &RuleId) {
        let mut rules = self.rules.lock().expect("rules");
        rules[id.0].left = 0;
        rules[id.0]
            .gate
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
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
    let events = Arc::new(Mutex::new(Vec::new()));
    let shared_events = events.clone();
    let rules: Arc<Mutex<Vec<Rule>>> = Arc::new(Mutex::new(Vec::new()));
    let shared_rules = rules.clone();
    let counter = Arc::new(AtomicU64::new(0));
    let upstream = upstream.trim_end_matches('/').to_string();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let shared_log = log.clone();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (log, events, counter, upstream, client, rules) = (
                shared_log.clone(),
                shared_events.clone(),
                counter.clone(),
                upstream.clone(),
                client.clone(),
                shared_rules.clone(),
            );
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (log, events, counter, upstream, client, rules) = (
                        log.clone(),
                        events.clone(),
                        counter.clone(),
                        upstream.clone(),
                        client.clone(),
                        rules.clone(),
                    );
                    observed(
                        request,
                        (log, events, counter, upstream, client, rules),
                        faults,
                    )
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
        events,
        rules,
        _runtime: runtime,
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Shared = (
    Arc<Mutex<Vec<(String, String)>>>,
    Arc<Mutex<Vec<Event>>>,
    Arc<AtomicU64>,
    String,
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    Arc<Mutex<Vec<Rule>>>,
);

/// Forwards one request and notes what became of it.
async fn observed(
    request: Request<Incoming>,
    (log, events, counter, upstream, client, rules): Shared,
    faults: Faults,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let (method, path) = (request.method().to_string(), path_of(&request));
    let result = forward(request, log, counter, upstream, client, faults, rules).await;
    let outcome = match &result {
        Ok((response, true)) => Outcome::Ruled(response.status().as_u16()),
        Ok((response, false)) if is_slow_down(response) => Outcome::SlowDown,
        Ok((response, false)) => Outcome::Answered(response.status().as_u16()),
        Err(error) => match error.downcast_ref::<Injected>() {
            Some(Injected::AnswerLost) => Outcome::AnswerLost,
            _ => Outcome::Reset,
        },
    };
    events.lock().expect("events").push(Event {
        method,
        path,
        outcome,
    });
    result.map(|(response, _)| response)
}

fn path_of<B>(request: &Request<B>) -> String {
    request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default()
}

/// The fault's own answer: a 503 the server never gave.
fn is_slow_down(response: &Response<Full<Bytes>>) -> bool {
    response.headers().contains_key(INJECTED)
}

/// A connection the proxy closed on purpose.
#[derive(Debug)]
enum Injected {
    RequestLost,
    Reset,
    AnswerLost,
}

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Injected::RequestLost => "injected: request lost",
            Injected::Reset => "injected connection reset",
            Injected::AnswerLost => "injected: answer lost",
        })
    }
}

impl std::error::Error for Injected {}

/// The header the proxy marks the answers it makes itself with.
const INJECTED: &str = "x-test-proxy-injected";

async fn forward(
    request: Request<Incoming>,
    log: Arc<Mutex<Vec<(String, String)>>>,
    counter: Arc<AtomicU64>,
    upstream: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    faults: Faults,
    rules: Arc<Mutex<Vec<Rule>>>,
) -> Result<(Response<Full<Bytes>>, bool), BoxError> {
    let number = counter.fetch_add(1, Ordering::Relaxed) + 1;
    let path = path_of(&request);
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    log.lock()
        .expect("log")
        .push((parts.method.to_string(), path.clone()));
    let matched = {
        let mut rules = rules.lock().expect("rules");
        rules
            .iter_mut()
            .find(|rule| {
                rule.left > 0
                    && parts.method.as_str() == rule.method
                    && path.contains(&rule.path_contains)
            })
            .and_then(|rule| {
                if rule.skip > 0 {
                    rule.skip -= 1;
                    return None;
                }
                rule.left = rule.left.saturating_sub(1);
                Some((rule.action, rule.held.clone(), rule.gate.clone()))
            })
    };
    let mut drop_response = false;
    match matched {
        Some((Action::Hold, held, gate)) => {
            held.fetch_add(1, Ordering::SeqCst);
            let _permit = gate.acquire().await?;
        }
        Some((Action::Hang, _, _)) => std::future::pending::<()>().await,
        Some((Action::DropRequest, _, _)) => return Err(Injected::RequestLost.into()),
        Some((Action::DropResponse, _, _)) => drop_response = true,
        Some((Action::Answer(status), _, _)) => {
            let response = Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()))?;
            return Ok((response, true));
        }
        None => {}
    }
    if faults.reset_every > 0 && number % faults.reset_every == 0 {
        return Err(Injected::Reset.into());
    }
    if faults.error_every > 0 && number % faults.error_every == 0 {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>";
        let response = Response::builder()
            .status(503)
            .header("content-type", "application/xml")
            .header(INJECTED, "slow-down")
            .body(Full::new(Bytes::from(xml)))?;
        return Ok((response, false));
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
    if drop_response {
        return Err(Injected::AnswerLost.into());
    }
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok((Response::from_parts(parts, Full::new(body)), false))
}
