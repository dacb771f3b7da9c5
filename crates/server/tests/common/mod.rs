//! Test support: the shared CIBA agent and `wait_for` (from
//! `countersign_server::testing`), a device built from `countersign-protocol`
//! alone, an SSE reader, and a notification receiver.
#![allow(dead_code)]

pub mod tls_files;
pub mod webauthn;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use countersign_details::Registry;
use countersign_protocol::amr::Amr;
use countersign_protocol::ciba::Jwt;
use countersign_protocol::device::{
    ApprovalStatement, ApproverRequest, Decision, DecisionClaims, DecisionSubmission, DenyReason, DeviceAuthClaims,
    DeviceEvent, DeviceId, EnrollmentRequest, EnrollmentResponse, HttpMethod, Issuer, Platform, RequestId, RequestList,
    Requirement, SchemaHash,
};
use countersign_protocol::jws::{self, DeviceKeyPair, PublicJwk};
use countersign_protocol::secret::EnrollmentTicket;
// Each test file uses some of them.
#[allow(unused_imports)]
pub use countersign_server::testing::{client_jwks, details, http, wait_for, Agent, Method, STOCK_TRADE};
use countersign_server::testing::{spawn_test_server, TestOptions, TestServer};
use countersign_server::Config;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the tests wait for a stream event or a channel (`wait_for` has
/// its own default, [`countersign_server::testing::WAIT`]).
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn server() -> TestServer {
    spawn_test_server(TestOptions::default()).await.expect("test server")
}

pub async fn server_with(f: impl FnOnce(&mut Config) + Send + 'static) -> TestServer {
    spawn_test_server(TestOptions::with_config(f)).await.expect("test server")
}

/// Registers an agent whose tokens come in `mode` (`ping` or `push`) through
/// `{url}/cb` (a [`Receiver`]'s or a [`PushSink`]'s); `extra` adds metadata
/// (e.g. `token_endpoint_auth_method`).
pub async fn callback_agent(server: &TestServer, mode: &str, url: &str, extra: Value) -> Agent {
    let mut meta = json!({
        "backchannel_token_delivery_mode": mode,
        "backchannel_client_notification_endpoint": format!("{url}/cb"),
    });
    for (k, v) in extra.as_object().expect("extra metadata is an object") {
        meta[k] = v.clone();
    }
    Agent::register(server, meta).await
}

pub async fn add_user(server: &TestServer, username: &str) -> String {
    server.add_user(username).await
}

/// Adds the usual test users `usernames` ([`add_user`]), in turn.
pub async fn add_users(server: &TestServer, usernames: &[&str]) {
    for username in usernames {
        add_user(server, username).await;
    }
}

/// `server` with user `username` and an agent (poll mode, the defaults of
/// [`Agent::register`]).
pub async fn user_and_agent(server: TestServer, username: &str) -> (TestServer, Agent) {
    add_user(&server, username).await;
    let agent = Agent::register(&server, json!({})).await;
    (server, agent)
}

/// `server` with user `username` and one device of theirs
/// ([`TestDevice::of_new_user`]).
pub async fn user_and_device(server: TestServer, username: &str) -> (TestServer, TestDevice) {
    let dev = TestDevice::of_new_user(&server, username).await;
    (server, dev)
}

/// [`user_and_agent`] with one device of the user, enrolled before the
/// agent registers: where most flow tests start.
pub async fn user_device_and_agent(server: TestServer, username: &str) -> (TestServer, TestDevice, Agent) {
    let dev = TestDevice::of_new_user(&server, username).await;
    let agent = Agent::register(&server, json!({})).await;
    (server, dev, agent)
}

/// A [`Receiver`] and an agent whose tokens come in `mode` through it (see
/// [`callback_agent`]).
pub async fn notified_agent(server: &TestServer, mode: &str, extra: Value) -> (Receiver, Agent) {
    let rx = Receiver::start().await;
    let agent = callback_agent(server, mode, &rx.url, extra).await;
    (rx, agent)
}

/// Marks `agent`'s client as verified by an operator.
pub async fn verify(server: &TestServer, agent: &Agent) {
    countersign_server::ops::set_client_verified(
        &server.state.db,
        &agent.client_id,
        true,
        &countersign_server::ops::Actor::Labelled("operator:test"),
        server.state.now(),
    )
    .await
    .expect("verify client");
}

pub async fn ticket(server: &TestServer, username: &str) -> EnrollmentTicket {
    server.enrollment_link(username, 600).await.ticket().clone()
}

/// Adds user `username` ([`add_user`]) and makes an enrollment ticket for
/// them ([`ticket`]).
pub async fn new_user_ticket(server: &TestServer, username: &str) -> EnrollmentTicket {
    add_user(server, username).await;
    ticket(server, username).await
}

pub async fn error_of(resp: reqwest::Response) -> (u16, String, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("error body is JSON");
    let code = body["error"].as_str().expect("error member").to_owned();
    (status, code, body)
}

// ---------------------------------------------------------------------------
// The server's clock
// ---------------------------------------------------------------------------

pub trait ClockNow {
    fn clock_now(&self) -> u64;
}

impl ClockNow for TestServer {
    fn clock_now(&self) -> u64 {
        self.state.now()
    }
}

// ---------------------------------------------------------------------------
// Device
// ---------------------------------------------------------------------------

pub struct TestDevice {
    pub key: DeviceKeyPair,
    pub id: DeviceId,
    pub sub: String,
    pub issuer: Issuer,
    pub endpoint: String,
    pub http: reqwest::Client,
    /// The display schemas the server published at enrollment (hashes verified).
    pub registry: Registry,
}

impl TestDevice {
    /// Adds user `username` ([`add_user`]) and enrolls a device of theirs;
    /// its [`TestDevice::sub`] is the one the user was given.
    pub async fn of_new_user(server: &TestServer, username: &str) -> TestDevice {
        let sub = add_user(server, username).await;
        let dev = Self::enroll(server, username).await;
        assert_eq!(dev.sub, sub, "enrolled as the user added");
        dev
    }

    /// Enrolls a new device for `username` through the discovery document.
    pub async fn enroll(server: &TestServer, username: &str) -> TestDevice {
        Self::enroll_named(&server.base_url, ticket(server, username).await, "Zoë's laptop").await
    }

    /// Enrolls a device called `device_name` with `ticket` at the server
    /// whose issuer is `base`, through its discovery document.
    async fn enroll_named(base: &str, ticket: EnrollmentTicket, device_name: &str) -> TestDevice {
        let http = http();
        let meta: Value = http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("metadata")
            .json()
            .await
            .expect("json");
        let issuer = Issuer::new(meta["issuer"].as_str().expect("issuer")).expect("issuer");
        let endpoint = meta["countersign_device_endpoint"].as_str().expect("device endpoint").to_owned();
        let schemas_url = meta["authorization_details_schemas_endpoint"].as_str().expect("schemas endpoint");
        let document: Value =
            http.get(schemas_url).send().await.expect("schemas").json().await.expect("schemas document is JSON");
        let registry = Registry::from_schemas_document(&document).expect("the published schemas verify");
        let key = DeviceKeyPair::generate().expect("key");
        let body = EnrollmentRequest {
            ticket,
            public_jwk: key.public_jwk().clone(),
            device_name: device_name.into(),
            platform: Platform::Linux,
            capabilities: vec![],
        };
        let resp = http.post(format!("{endpoint}/enroll")).json(&body).send().await.expect("enroll");
        assert_eq!(resp.status(), 201, "enroll");
        let enrolled: EnrollmentResponse = resp.json().await.expect("json");
        TestDevice { key, id: enrolled.device_id, sub: enrolled.user.sub, issuer, endpoint, http, registry }
    }

    pub fn proof(&self, method: HttpMethod, url: &str, now: u64) -> String {
        let claims = DeviceAuthClaims::new(self.id.clone(), self.issuer.clone(), method, url, now).expect("claims");
        claims.sign(&self.key).expect("sign")
    }

    pub async fn get(&self, server: &impl ClockNow, path: &str) -> reqwest::Response {
        self.get_via(server, None, path).await
    }

    /// [`TestDevice::get`] sent to `instance` when given (see
    /// [`TestDevice::events_via`]).
    pub async fn get_via(&self, server: &impl ClockNow, instance: Option<&str>, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.endpoint);
        let proof = self.proof(HttpMethod::Get, &url, server.clock_now());
        self.http.get(via(&url, instance)).header("Authorization", format!("Device {proof}")).send().await.expect("get")
    }

    /// The pending requests, listed through `instance` when given.
    pub async fn pending_via(&self, server: &impl ClockNow, instance: Option<&str>) -> Vec<ApproverRequest> {
        let resp = self.get_via(server, instance, "/requests?status=pending").await;
        assert_eq!(resp.status(), 200, "pending list");
        let list: RequestList = resp.json().await.expect("json");
        list.requests
    }

    /// [`TestDevice::decide`] sent to `instance` when given.
    pub async fn decide_via(
        &self,
        server: &impl ClockNow,
        instance: Option<&str>,
        req: &ApproverRequest,
        decision: Decision,
    ) -> reqwest::Response {
        let body = self.submission(req, decision, None, server.clock_now());
        let url = format!("{}/requests/{}/decision", self.endpoint, req.id);
        let proof = self.proof(HttpMethod::Post, &url, server.clock_now());
        self.http
            .post(via(&url, instance))
            .header("Authorization", format!("Device {proof}"))
            .json(&body)
            .send()
            .await
            .expect("decision")
    }

    /// A call to the admin API (`{issuer}/admin/v1{path}`, query included)
    /// with this device's proof; a JSON body for `POST`.
    pub async fn admin(&self, server: &impl ClockNow, method: HttpMethod, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.issuer.join("/admin/v1"));
        let htu = url.split('?').next().unwrap_or_default().to_owned();
        let proof = self.proof(method.clone(), &htu, server.clock_now());
        let req = match method {
            HttpMethod::Post => self.http.post(&url).json(&json!({})),
            _ => self.http.get(&url),
        };
        req.header("Authorization", format!("Device {proof}")).send().await.expect("admin call")
    }

    /// `POST` to the admin API with `body`.
    pub async fn admin_post(&self, server: &impl ClockNow, path: &str, body: &Value) -> reqwest::Response {
        let url = format!("{}{path}", self.issuer.join("/admin/v1"));
        let proof = self.proof(HttpMethod::Post, &url, server.clock_now());
        self.http.post(&url).header("Authorization", format!("Device {proof}")).json(body).send().await.expect("admin")
    }

    /// A successful admin `GET`: its JSON.
    pub async fn admin_get(&self, server: &impl ClockNow, path: &str) -> Value {
        let resp = self.admin(server, HttpMethod::Get, path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("json")
    }

    pub async fn pending(&self, server: &impl ClockNow) -> Vec<ApproverRequest> {
        let resp = self.get(server, "/requests?status=pending").await;
        assert_eq!(resp.status(), 200, "pending list");
        let list: RequestList = resp.json().await.expect("json");
        list.requests
    }

    pub async fn events(&self, server: &impl ClockNow, last_event_id: Option<&str>) -> Sse {
        self.events_via(server, None, last_event_id).await
    }

    /// [`TestDevice::events`] sent to `instance` (`http://host:port`, a
    /// [`TestServer::another_instance`]) when given, as a load balancer
    /// would pass it on: the proof is still for the issuer's URL.
    pub async fn events_via(&self, server: &impl ClockNow, instance: Option<&str>, last_event_id: Option<&str>) -> Sse {
        let url = format!("{}/events", self.endpoint);
        let proof = self.proof(HttpMethod::Get, &url, server.clock_now());
        let mut req = self.http.get(via(&url, instance)).header("Authorization", format!("Device {proof}"));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("events");
        assert_eq!(resp.status(), 200, "events");
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Sse { resp, buf: String::new() }
    }

    /// `display_schemas` of a statement over `req`, from the published schemas.
    pub fn schemas(&self, req: &ApproverRequest) -> BTreeMap<String, SchemaHash> {
        self.registry.display_schemas(&req.authorization_details)
    }

    /// The submission for `req` signed by this device, as an approver makes
    /// it: an approval of a request that requires user verification states
    /// the OS prompt it made (`amr` `user`).
    pub fn submission(
        &self,
        req: &ApproverRequest,
        decision: Decision,
        reason: Option<DenyReason>,
        now: u64,
    ) -> DecisionSubmission {
        let verified = decision == Decision::Approve && req.requires.contains(&Requirement::UserVerification);
        let amr = if verified { vec![Amr::User] } else { vec![] };
        self.submission_with_amr(req, decision, reason, now, amr)
    }

    /// [`TestDevice::submission`] stating `amr`, whatever the request.
    pub fn submission_with_amr(
        &self,
        req: &ApproverRequest,
        decision: Decision,
        reason: Option<DenyReason>,
        now: u64,
        amr: Vec<Amr>,
    ) -> DecisionSubmission {
        let schemas = self.schemas(req);
        let statement = ApprovalStatement::build(req, decision, schemas.clone()).expect("statement");
        let claims = DecisionClaims::new(self.id.clone(), &statement, reason, now).expect("claims").with_amr(amr);
        DecisionSubmission {
            decision_jws: claims.sign(&self.key).expect("sign"),
            display_schemas: schemas,
            webauthn: None,
        }
    }

    pub async fn submit(
        &self,
        server: &impl ClockNow,
        id: &RequestId,
        body: &impl serde::Serialize,
    ) -> reqwest::Response {
        let url = format!("{}/requests/{id}/decision", self.endpoint);
        let proof = self.proof(HttpMethod::Post, &url, server.clock_now());
        self.http
            .post(&url)
            .header("Authorization", format!("Device {proof}"))
            .json(body)
            .send()
            .await
            .expect("decision")
    }

    pub async fn decide(
        &self,
        server: &impl ClockNow,
        req: &ApproverRequest,
        decision: Decision,
        reason: Option<DenyReason>,
    ) -> reqwest::Response {
        let body = self.submission(req, decision, reason, server.clock_now());
        self.submit(server, &req.id, &body).await
    }
}

/// `url` with its scheme, host and port those of `instance` when given
/// (`http://host:port`), as a load balancer in front of several instances
/// passes it on; the path and query kept.
pub fn via(url: &str, instance: Option<&str>) -> String {
    match instance {
        Some(base) => {
            let parsed = url::Url::parse(url).expect("a URL");
            let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{base}{}{query}", parsed.path())
        }
        None => url.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// SSE
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    Event { id: String, event: String, data: String },
    Comment(String),
}

pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    /// The next event or comment; `None` when the stream ended or on timeout.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseItem> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let (mut id, mut event, mut data, mut comment) = (String::new(), String::new(), String::new(), None);
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        comment = Some(c.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = v.to_owned();
                    }
                }
                return Some(match comment {
                    Some(c) if event.is_empty() => SseItem::Comment(c),
                    _ => SseItem::Event { id, event, data },
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.ok()??;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next event (skipping heartbeats), parsed with the protocol crate.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<(String, DeviceEvent)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                SseItem::Comment(_) => continue,
                SseItem::Event { id, event, data } => {
                    return Some((id, DeviceEvent::parse(&event, &data).expect("event parses")));
                }
            }
        }
    }

    /// `true` if the server closes the stream within `timeout`.
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
            }
        }
    }
}

/// Approves (or denies with `reason`) the oldest pending request of `dev`.
pub async fn decide_first(server: &TestServer, dev: &TestDevice, decision: Decision, reason: Option<DenyReason>) {
    let req = dev.pending(server).await.remove(0);
    assert_eq!(dev.decide(server, &req, decision, reason).await.status(), 200);
}

/// `agent` starts a request for `user`, `dev` approves the oldest pending
/// request (its answer unchecked), and `agent` redeems the first: the token
/// answer.
pub async fn approved_tokens(server: &TestServer, dev: &TestDevice, agent: &Agent, user: &str) -> Value {
    let ack = agent.start(server, user).await;
    let req = dev.pending(server).await.remove(0);
    dev.decide(server, &req, Decision::Approve, None).await;
    agent.token(server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap()
}

pub fn expect_request(ev: Option<(String, DeviceEvent)>) -> (String, ApproverRequest) {
    match ev {
        Some((id, DeviceEvent::Request(r))) => (id, *r),
        other => panic!("expected a request event, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Notification receiver
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Default)]
pub struct ReceiverState {
    pub calls: Mutex<Vec<Call>>,
    pub fail_first: Mutex<usize>,
    pub redirect: Mutex<bool>,
    pub jwks: Mutex<Option<Value>>,
    /// How long `/cb` takes to answer (after recording the call).
    pub delay: Mutex<Duration>,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<ReceiverState>,
}

async fn record(
    axum::extract::State(s): axum::extract::State<Arc<ReceiverState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    s.calls.lock().unwrap().push(Call {
        path: uri.path().to_owned(),
        authorization: headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()),
        body,
    });
    if uri.path() == "/cb" {
        let delay = *s.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        if *s.redirect.lock().unwrap() {
            return (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]).into_response();
        }
        let mut fail = s.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn serve_jwks(axum::extract::State(s): axum::extract::State<Arc<ReceiverState>>) -> axum::Json<Value> {
    axum::Json(s.jwks.lock().unwrap().clone().unwrap_or(json!({"keys": []})))
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let app = Router::new()
            .route("/cb", post(record))
            .route("/elsewhere", post(record))
            .route("/jwks", get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url: format!("http://{addr}"), state }
    }

    pub fn calls(&self, path: &str) -> Vec<Call> {
        self.state.calls.lock().unwrap().iter().filter(|c| c.path == path).cloned().collect()
    }

    pub async fn wait_calls(&self, path: &str, n: usize) -> Vec<Call> {
        wait_for(&format!("{n} call(s) to {path}"), || async {
            let c = self.calls(path);
            (c.len() >= n).then_some(c)
        })
        .await
    }
}

// ---------------------------------------------------------------------------
// Token checks
// ---------------------------------------------------------------------------

/// Fetches the JWKS from the `jwks_uri` of the discovery document.
pub async fn jwks(server: &TestServer) -> Vec<PublicJwk> {
    let http = http();
    let meta: Value =
        http.get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let set: Value = http.get(meta["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    serde_json::from_value(set["keys"].clone()).expect("keys parse as P-256 JWKs")
}

/// Verifies a JWT against the published keys (by kid); returns the claims.
pub async fn verify_jwt(server: &TestServer, jwt: &str, typ: &str) -> Value {
    let keys = jwks(server).await;
    let header: Value = serde_json::from_slice(&jws::b64url_decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
    let kid = header["kid"].as_str().expect("kid");
    let key = keys.iter().find(|k| k.kid() == Some(kid)).expect("kid published in JWKS");
    let (_, claims) = jws::verify(jwt, key, Some(typ)).expect("signature verifies against the JWKS");
    claims
}

pub fn id_token_str(v: &Value) -> String {
    Jwt::new(v["id_token"].as_str().expect("id_token").to_owned()).expect("jwt").as_str().to_owned()
}

/// Asserts an OAuth-style error answer.
pub async fn expect_err(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let (s, c, body) = error_of(resp).await;
    assert_eq!((s, c.as_str()), (status, code), "{body}");
    body
}

/// Asserts that `agent`'s token request for the request `ack` acknowledged
/// is refused with 400 and `code`; the error answer.
pub async fn expect_token_err(server: &TestServer, agent: &Agent, ack: &Value, code: &str) -> Value {
    expect_err(agent.token(server, ack["auth_req_id"].as_str().unwrap()).await, 400, code).await
}

/// Replaces (or adds) parameter `name`.
pub fn with(mut params: Vec<(&'static str, String)>, name: &'static str, value: &str) -> Vec<(&'static str, String)> {
    params.retain(|(k, _)| *k != name);
    params.push((name, value.to_owned()));
    params
}

/// Removes parameter `name`.
pub fn without(mut params: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    params.retain(|(k, _)| *k != name);
    params
}

// ---------------------------------------------------------------------------
// Without a TestServer (the real binary, tests/chaos.rs)
// ---------------------------------------------------------------------------

impl TestDevice {
    /// Enrolls a new device with `ticket` at the server whose issuer is
    /// `base` (as [`TestDevice::enroll`], for a server that is not a
    /// [`TestServer`]).
    pub async fn enroll_at(base: &str, ticket: EnrollmentTicket) -> TestDevice {
        Self::enroll_named(base, ticket, "Chaos device").await
    }
}

// ---------------------------------------------------------------------------
// Push sink: a notification endpoint whose answer the test switches
// ---------------------------------------------------------------------------

/// One call the sink received, and the status it answered.
#[derive(Debug, Clone)]
pub struct SinkCall {
    pub authorization: Option<String>,
    pub body: String,
    pub status: u16,
}

/// A notification endpoint (`{url}/cb`) answering `answer` (204 by default;
/// e.g. 503 to fail every delivery until switched back).
pub struct PushSink {
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub answer: Arc<std::sync::atomic::AtomicU16>,
    pub calls: Arc<Mutex<Vec<SinkCall>>>,
}

impl PushSink {
    /// Starts a sink on `addr` (`127.0.0.1:0` for any port).
    pub async fn start_on(addr: &str) -> PushSink {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let answer = Arc::new(std::sync::atomic::AtomicU16::new(204));
        let calls: Arc<Mutex<Vec<SinkCall>>> = Arc::default();
        let (a, c) = (answer.clone(), calls.clone());
        let app = Router::new().route(
            "/cb",
            post(move |headers: HeaderMap, body: String| {
                let (a, c) = (a.clone(), c.clone());
                async move {
                    let status = a.load(std::sync::atomic::Ordering::SeqCst);
                    c.lock().unwrap().push(SinkCall {
                        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned),
                        body,
                        status,
                    });
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PushSink { url: format!("http://{addr}"), addr, answer, calls }
    }

    pub async fn start() -> PushSink {
        Self::start_on("127.0.0.1:0").await
    }

    /// Answer `status` from now on.
    pub fn answer(&self, status: u16) {
        self.answer.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<SinkCall> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls answered with a 2xx.
    pub fn delivered(&self) -> Vec<SinkCall> {
        self.calls().into_iter().filter(|c| (200..300).contains(&c.status)).collect()
    }
}

// ---------------------------------------------------------------------------
// Logs (tests/logs.rs, tests/replay_logs.rs: one test binary each)
// ---------------------------------------------------------------------------

/// The server's log output, captured in memory.
#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

impl LogBuf {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Installs the process-wide subscriber (every level of the server's own
/// logs, SQL statements included) writing to the returned buffer. Once per
/// test binary.
pub fn capture_logs() -> LogBuf {
    let buf = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,countersign_server=trace,sqlx=debug"))
        .with_writer(buf.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    buf
}

/// Asserts that none of `secrets` appears in `logs`.
pub fn assert_no_secret(logs: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!logs.contains(s.as_str()), "a secret leaked into the logs");
    }
}

// ---------------------------------------------------------------------------
// The real binary, to be killed
// ---------------------------------------------------------------------------

/// The `countersign-server` binary serving a database on a fixed loopback
/// address, so that it can be killed with SIGKILL and started again where
/// its clients expect it. Its clock is the wall clock.
pub struct ServerProcess {
    child: Option<std::process::Child>,
    /// `--db` and anything else before `serve` (`--secret-key-file`).
    global: Vec<std::ffi::OsString>,
    listen: String,
    /// Its own address (`http://127.0.0.1:<port>`), by default its issuer.
    pub base: String,
    /// The issuer it is started with.
    pub issuer: String,
}

impl ServerProcess {
    /// The binary for `db` (which may not exist yet) at a free port; not
    /// started yet (its issuer is known, for enrollment links).
    pub fn new(db: &std::path::Path) -> ServerProcess {
        ServerProcess::with_args(vec!["--db".into(), db.into()])
    }

    /// The binary with `global` before `serve` (`--db` among them).
    pub fn with_args(global: Vec<std::ffi::OsString>) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        ServerProcess {
            child: None,
            global,
            listen: format!("127.0.0.1:{port}"),
            base: format!("http://127.0.0.1:{port}"),
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Another instance behind the same (public) issuer as `issuer`.
    pub fn behind(mut self, issuer: &str) -> ServerProcess {
        issuer.clone_into(&mut self.issuer);
        self
    }

    /// Starts the binary (again, after [`ServerProcess::kill_9`]) on its
    /// database and address, and waits until it answers.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_countersign-server"))
            .args(&self.global)
            .args(["serve", "--listen", &self.listen, "--issuer", &self.issuer])
            // Payments are critical; the test device signs with its device
            // key alone (WebAuthn has tests of its own, tests/webauthn.rs).
            .args(["--webauthn-at", "never"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server starts");
        self.child = Some(child);
        let jwks = format!("{}/jwks", self.base);
        countersign_server::testing::wait_for_every(
            Duration::from_secs(30),
            Duration::from_millis(20),
            "the server to answer",
            || async { http().get(&jwks).send().await.ok().filter(|r| r.status() == 200).map(|_| ()) },
        )
        .await;
    }

    /// `kill -9`: the process gets no chance to flush or close anything.
    pub fn kill_9(&mut self) {
        let mut child = self.child.take().expect("the server is running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl ClockNow for ServerProcess {
    fn clock_now(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}
