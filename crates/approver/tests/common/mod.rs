//! Test support: the real server (`countersign_server::testing`) behind a
//! TCP proxy that the tests can take down or cut (the issuer is the proxy's
//! address, so every approver call goes through it), the shared CIBA agent
//! and `wait_for` (`countersign_server::testing`), and approvers on temporary data directories with an
//! in-memory key store (shared across "restarts" like a real keychain).
#![allow(dead_code)]

use countersign_approver::clock::OffsetClock;
use countersign_approver::keys::MemoryKeyStore;
use countersign_approver::store::{Account, InboxItem};
pub use countersign_approver::verify::{FixedAnswer, FixedVerifier};
use countersign_approver::{Approver, ApproverConfig, ApproverEvent, DecisionOutcome, DeliveryReport, KeyStoreChoice};
use countersign_protocol::device::{Decision, Issuer, Risk, SchemaHash};
use countersign_protocol::rar::AuthorizationDetails;
// Each test file uses some of them.
use countersign_server::testing::{spawn_test_server, TestOptions, TestServer};
#[allow(unused_imports)]
pub use countersign_server::testing::{wait_for, Agent, STOCK_TRADE, WAIT};
use countersign_server::{DetailsRejection, DisplaySchemas, RegistrySchemas};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

/// Waits for an event matching `pred`.
pub async fn wait_event(
    rx: &mut broadcast::Receiver<ApproverEvent>,
    what: &str,
    pred: impl Fn(&ApproverEvent) -> bool,
) -> ApproverEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if pred(&e) => return e,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("event channel closed waiting for {what}: {e}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

// ---------------------------------------------------------------------------
// A TCP proxy that can be taken down
// ---------------------------------------------------------------------------

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: Arc<Mutex<Option<SocketAddr>>>,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    pub async fn bind() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (u, d, c) = (upstream.clone(), down.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                let target = *u.lock().unwrap();
                if d.load(Ordering::SeqCst) || target.is_none() {
                    drop(client);
                    continue;
                }
                let target = target.unwrap();
                let task = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    let mut client = client;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut list = c.lock().unwrap();
                list.retain(|h| !h.is_finished());
                list.push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy { addr, upstream, down, conns, accept }
    }

    pub fn set_upstream(&self, addr: SocketAddr) {
        *self.upstream.lock().unwrap() = Some(addr);
    }

    /// Closes every open connection (the server keeps running).
    pub fn cut(&self) {
        self.switch().cut();
    }

    /// Takes the "server" down: open connections closed, new ones refused.
    pub fn set_down(&self, down: bool) {
        self.switch().set_down(down);
    }

    /// A handle that takes the proxy down or up from elsewhere (another
    /// thread, a test authenticator).
    pub fn switch(&self) -> ProxySwitch {
        ProxySwitch { down: self.down.clone(), conns: self.conns.clone() }
    }

    /// Open connections.
    pub fn open_connections(&self) -> usize {
        let mut list = self.conns.lock().unwrap();
        list.retain(|h| !h.is_finished());
        list.len()
    }
}

/// [`Proxy::switch`].
#[derive(Clone)]
pub struct ProxySwitch {
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl ProxySwitch {
    /// [`Proxy::set_down`].
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.cut();
        }
    }

    /// [`Proxy::cut`].
    pub fn cut(&self) {
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

pub struct Env {
    pub server: Option<TestServer>,
    pub proxy: Proxy,
    pub issuer: Issuer,
}

impl Env {
    /// A server whose issuer is the proxy's address; 1 s heartbeats; no rate
    /// limits and no cap on pending requests; the built-in display schemas.
    pub async fn start() -> Env {
        Env::start_with(None).await
    }

    /// [`Env::start`] with user `username` ([`Env::add_user`]).
    pub async fn with_user(username: &str) -> Env {
        let env = Env::start().await;
        env.add_user(username).await;
        env
    }

    /// [`Env::start`] with other display schemas.
    pub async fn start_with(schemas: Option<Arc<dyn DisplaySchemas>>) -> Env {
        Env::start_configured(schemas, false, |_| {}).await
    }

    /// [`Env::start`] with other display schemas, the issuer
    /// `http://localhost:PORT` when `localhost` (WebAuthn needs a domain;
    /// the proxy listens on 127.0.0.1), and `configure` applied last.
    pub async fn start_configured(
        schemas: Option<Arc<dyn DisplaySchemas>>,
        localhost: bool,
        configure: impl FnOnce(&mut countersign_server::Config) + Send + 'static,
    ) -> Env {
        let proxy = Proxy::bind().await;
        let host = if localhost { format!("localhost:{}", proxy.addr.port()) } else { proxy.addr.to_string() };
        let issuer = Issuer::new(format!("http://{host}")).unwrap();
        let iss = issuer.clone();
        let mut options = TestOptions::with_config(move |c| {
            c.issuer = iss;
            c.heartbeat_interval = Duration::from_secs(1);
            c.limits.user_per_minute = 0;
            c.limits.client_per_minute = 0;
            c.limits.max_pending_per_user = 0;
            configure(c);
        });
        options.schemas = schemas;
        let server = spawn_test_server(options).await.unwrap();
        proxy.set_upstream(server.addr);
        Env { server: Some(server), proxy, issuer }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().unwrap()
    }

    /// Direct URL of the server (bypassing the proxy), for the agent.
    pub fn direct(&self, path: &str) -> String {
        format!("http://{}{path}", self.server().addr)
    }

    /// Stops the server process and starts it again on the same address and
    /// database.
    pub async fn restart_server(&mut self) {
        let s = self.server.take().unwrap();
        self.server = Some(s.restart().await.unwrap());
    }

    /// Adds the usual test user `username`; its `sub`.
    pub async fn add_user(&self, username: &str) -> String {
        self.server().add_user(username).await
    }

    /// An enrollment URI (app form) for `username`.
    pub async fn invitation(&self, username: &str, ttl: u64) -> String {
        self.server().invitation(username, ttl).await
    }

    /// A new user `username` and a fresh approver on its own device, not
    /// enrolled yet (the device holds the approver's files: keep it alive as
    /// long as the approver).
    pub async fn user_and_approver(&self, username: &str) -> (Device, Approver) {
        self.add_user(username).await;
        Device::open_new().await
    }

    /// [`Env::user_and_approver`], enrolled as that user.
    pub async fn enrolled(&self, username: &str) -> (Device, Approver, Account) {
        let (device, approver) = self.user_and_approver(username).await;
        let account = approver.enroll(&self.invitation(username, 600).await).await.unwrap();
        (device, approver, account)
    }

    /// [`Env::enrolled`], and a trade request for `username` (with
    /// `expiry`) from a new agent, synced to the approver, which holds it
    /// as its only pending request.
    pub async fn synced_trade(&self, username: &str, expiry: Option<u64>) -> Trade {
        let (device, approver, account) = self.enrolled(username).await;
        let agent = self.agent().await;
        let auth_req_id = agent.request(username, &trade_details(), expiry).await;
        approver.sync(&account.id).await.unwrap();
        let mut pending = approver.pending().await.unwrap();
        assert_eq!(pending.len(), 1, "the request synced");
        let item = pending.remove(0);
        Trade { device, approver, account, agent, auth_req_id, item }
    }

    /// Approves `item` (with [`CODE`]) while the server cannot be reached,
    /// and leaves it down: the decision is signed and queued for delivery.
    pub async fn approve_offline(&self, approver: &Approver, account: &Account, item: &InboxItem) -> DecisionOutcome {
        self.proxy.set_down(true);
        let outcome =
            approver.decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(CODE)).await.unwrap();
        assert!(matches!(outcome.delivery, DeliveryReport::Retrying { .. }), "{:?}", outcome.delivery);
        outcome
    }

    /// Advances the server's clock.
    pub fn advance_server(&self, secs: u64) {
        self.server().clock.advance(secs);
    }

    /// An agent (the shared test agent, straight to the server) for stock
    /// trades, payments and e-mails.
    pub async fn agent(&self) -> Agent {
        self.agent_for(&[STOCK_TRADE, "payment_initiation", SEND_EMAIL]).await
    }

    /// An agent for `types`.
    pub async fn agent_for(&self, types: &[&str]) -> Agent {
        Agent::register_at(&self.direct(""), json!({ "authorization_details_types": types })).await
    }
}

/// What [`Env::synced_trade`] sets up.
pub struct Trade {
    /// Holds the approver's files.
    pub device: Device,
    pub approver: Approver,
    pub account: Account,
    pub agent: Agent,
    /// The agent's request.
    pub auth_req_id: String,
    /// The request as the approver holds it.
    pub item: InboxItem,
}

// ---------------------------------------------------------------------------
// Display schemas the tests change
// ---------------------------------------------------------------------------

/// The server's display schemas, replaceable while it runs; `lenient` makes
/// it accept details their schema refuses (as a server with other schemas
/// than the approver's cache would).
pub struct TestSchemas {
    current: RwLock<RegistrySchemas>,
    pub lenient: AtomicBool,
}

impl TestSchemas {
    pub fn new(schemas: RegistrySchemas) -> Arc<TestSchemas> {
        Arc::new(TestSchemas { current: RwLock::new(schemas), lenient: AtomicBool::new(false) })
    }

    pub fn set(&self, schemas: RegistrySchemas) {
        *self.current.write().unwrap() = schemas;
    }

    fn get(&self) -> RegistrySchemas {
        self.current.read().unwrap().clone()
    }
}

impl DisplaySchemas for TestSchemas {
    fn validate(&self, details: &AuthorizationDetails) -> Result<(), Vec<DetailsRejection>> {
        if self.lenient.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.get().validate(details)
    }
    fn schema_hash(&self, detail_type: &str) -> SchemaHash {
        self.get().schema_hash(detail_type)
    }
    fn types(&self) -> Vec<String> {
        self.get().types()
    }
    fn supports(&self, detail_type: &str) -> bool {
        self.get().supports(detail_type)
    }
    fn schemas_document(&self) -> Value {
        self.get().schemas_document()
    }
    fn risk(&self, details: &AuthorizationDetails) -> Risk {
        self.get().risk(details)
    }
    fn hashes_for(&self, details: &AuthorizationDetails) -> BTreeMap<String, SchemaHash> {
        self.get().hashes_for(details)
    }
}

/// The built-in schemas plus `schemas` (custom types, one document each).
pub fn with_custom(schemas: &[Value]) -> RegistrySchemas {
    let dir = tempfile::tempdir().unwrap();
    for (i, s) in schemas.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.json")), s.to_string()).unwrap();
    }
    RegistrySchemas::with_dir(dir.path()).unwrap()
}

/// The test door schema (`countersign_server::testing::door_schema`), its
/// door at most 20 characters and labelled `label` (a label change changes
/// the schema's hash).
pub fn door_schema(label: &str) -> Value {
    let mut schema = countersign_server::testing::door_schema();
    schema["properties"]["door"]["maxLength"] = json!(20);
    schema["properties"]["door"]["x-countersign"]["label"] = json!(label);
    schema
}

// ---------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------

/// The binding message of every request [`Agent::request`] sends.
pub const CODE: &str = "TRADE-4F7Q";

pub const SEND_EMAIL: &str = "urn:countersign:details:v1:send_email";

/// A limit order (risk high: approving needs user verification).
pub fn trade_details() -> Value {
    json!([{
        "type": STOCK_TRADE,
        "action": "buy",
        "symbol": "ACME",
        "quantity": "10",
        "order_type": "limit",
        "limit_price": { "currency": "EUR", "amount": "123.50" }
    }])
}

/// An e-mail whose subject holds a bidi override (shown, flagged, kept).
pub fn email_details(to: &str) -> Value {
    json!([{ "type": SEND_EMAIL, "to": [to], "subject": "Kauf für Zoë \u{202e}evil" }])
}

/// A payment (RFC 9396 §2.1; risk critical).
pub fn payment_details() -> Value {
    json!([{
        "type": "payment_initiation",
        "instructedAmount": { "currency": "EUR", "amount": "1.00" },
        "creditorName": "Møller & Søn ApS",
        "creditorAccount": { "iban": "DK5000400440116243" }
    }])
}

/// The approver tests' requests: scope `openid trade`, binding message [`CODE`].
pub trait TradeRequests {
    /// `/bc-authorize` for `login` with `details` (and `requested_expiry`);
    /// returns `auth_req_id`.
    #[allow(async_fn_in_trait)]
    async fn request(&self, login: &str, details: &Value, expiry: Option<u64>) -> String;
}

impl TradeRequests for Agent {
    async fn request(&self, login: &str, details: &Value, expiry: Option<u64>) -> String {
        let mut form = vec![
            ("scope", "openid trade".to_owned()),
            ("login_hint", login.to_owned()),
            ("binding_message", CODE.to_owned()),
            ("authorization_details", details.to_string()),
        ];
        if let Some(e) = expiry {
            form.push(("requested_expiry", e.to_string()));
        }
        self.authorize(&form).await
    }
}

/// The `authorization_details` claim of a JWT access token.
pub fn token_details(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = countersign_protocol::jws::b64url_decode(payload).unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["authorization_details"].clone()
}

// ---------------------------------------------------------------------------
// Approvers
// ---------------------------------------------------------------------------

pub struct Device {
    pub dir: Arc<tempfile::TempDir>,
    pub keys: Arc<MemoryKeyStore>,
    pub clock: Arc<OffsetClock>,
    /// Stands in for the OS prompt (crates/cli/tests/polkit.rs runs polkit):
    /// verifies by default.
    pub verifier: FixedVerifier,
}

impl Device {
    pub fn new() -> Device {
        Self::with_verifier(FixedAnswer::Verified)
    }

    /// A device whose OS prompt answers `answer`.
    pub fn with_verifier(answer: FixedAnswer) -> Device {
        Device {
            dir: Arc::new(tempfile::tempdir().unwrap()),
            keys: Arc::new(MemoryKeyStore::new()),
            clock: Arc::new(OffsetClock::new()),
            verifier: FixedVerifier::new(answer),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config(&self) -> ApproverConfig {
        let mut c = ApproverConfig::new(self.data_dir());
        c.key_store = KeyStoreChoice::Custom(self.keys.clone());
        c.device_name = "test device".into();
        c.clock = self.clock.clone();
        c.transport.heartbeat_timeout = Duration::from_secs(3);
        c.transport.backoff_base = Duration::from_millis(100);
        c.transport.backoff_cap = Duration::from_millis(800);
        c.transport.delivery_retry_base = Duration::from_millis(200);
        c.transport.delivery_retry_cap = Duration::from_secs(1);
        c.transport.request_timeout = Duration::from_secs(5);
        c.user_verifier = Arc::new(self.verifier.clone());
        c
    }

    pub async fn open(&self) -> Approver {
        Approver::open(self.config()).await.unwrap()
    }

    /// A new device and an approver opened on it.
    pub async fn open_new() -> (Device, Approver) {
        let device = Device::new();
        let approver = device.open().await;
        (device, approver)
    }

    pub async fn open_with(&self, f: impl FnOnce(&mut ApproverConfig)) -> Approver {
        let mut c = self.config();
        f(&mut c);
        Approver::open(c).await.unwrap()
    }
}
