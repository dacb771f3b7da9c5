//! The CIBA test agent: an OAuth client over reqwest that registers (RFC
//! 7591), sends `POST /bc-authorize` and polls `POST /token`, authenticating
//! with `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
//!
//! Its calls are the test's assertions: a failed registration or a refused
//! request panics with the server's answer (see each method's `# Panics`).

use super::{wait_for_every, TestServer, WAIT};

/// How often [`Agent::wait_token`] polls.
const POLL_TOKEN: Duration = Duration::from_millis(20);
use countersign_protocol::jws::{DeviceKeyPair, JwtType, SignHeader};
use countersign_protocol::secret::generate_url_safe;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The type of the built-in stock trade schema.
pub const STOCK_TRADE: &str = "urn:countersign:details:v1:stock_trade";

/// The grant type of a CIBA token request.
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// A payment (RFC 9396 §2.1), the agent's usual `authorization_details`.
#[must_use]
pub fn details() -> Value {
    json!([{
        "type": "payment_initiation",
        "actions": ["initiate"],
        "instructedAmount": { "currency": "EUR", "amount": "123.50" },
        "creditorName": "Møller & Søn ApS",
        "creditorAccount": { "iban": "DK5000400440116243" }
    }])
}

/// The development CAs (PEM) of the TLS test servers this process started:
/// [`http`] trusts them, as a user who followed the server's advice to
/// trust its CA would, so that tests written for http run unchanged over
/// HTTPS. Every certificate is still checked (chain, name, validity).
static TEST_CAS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Adds a TLS test server's CA to what [`http`] trusts.
pub(super) fn trust_test_ca(pem: Vec<u8>) {
    TEST_CAS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(pem);
}

/// An HTTP client that does not follow redirects and trusts the system's
/// roots and the CAs of this process's TLS test servers.
///
/// # Panics
/// If reqwest cannot build a client (no TLS backend) or a test CA file does
/// not parse.
#[must_use]
pub fn http() -> reqwest::Client {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for pem in TEST_CAS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
        match reqwest::Certificate::from_pem(pem) {
            Ok(ca) => builder = builder.add_root_certificate(ca),
            Err(e) => panic!("a test CA does not parse: {e}"),
        }
    }
    match builder.build() {
        Ok(c) => c,
        Err(e) => panic!("building the test HTTP client: {e}"),
    }
}

/// A JWKS holding `key`'s public key as `k1`.
#[must_use]
pub fn client_jwks(key: &DeviceKeyPair) -> Value {
    json!({ "keys": [key.public_jwk().clone().with_kid("k1")] })
}

/// Seconds since the epoch on the wall clock (for client assertions of calls
/// made without a [`TestServer`] at hand).
fn wall_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// How the agent authenticates at the token and backchannel endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `client_secret_basic` (the default).
    Basic,
    /// `client_secret_post`.
    Post,
    /// `private_key_jwt` with [`Agent::key`] (`kid` `k1`).
    PrivateKeyJwt,
}

/// A registered client.
#[derive(Clone)]
pub struct Agent {
    /// The `client_id` the server assigned.
    pub client_id: String,
    /// The `client_secret`, if the server issued one.
    pub secret: Option<String>,
    /// The authentication method.
    pub method: Method,
    /// The client's signing key (its JWKS for `private_key_jwt`).
    pub key: Arc<DeviceKeyPair>,
    /// The issuer the agent talks to; paths are appended to it.
    pub base: String,
    /// The HTTP client (tests may swap it).
    pub http: reqwest::Client,
    /// The registration response.
    pub registration: Value,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("client_id", &self.client_id).field("base", &self.base).finish_non_exhaustive()
    }
}

impl Agent {
    /// Registers a client at `server`; `extra` overrides the default metadata
    /// (client name "Test Agent", poll mode, `client_secret_basic`,
    /// `payment_initiation` and stock trades). For `private_key_jwt` without
    /// a `jwks_uri` the agent's key is registered as `jwks`.
    ///
    /// # Panics
    /// If the registration is not answered 201 with a `client_id`.
    pub async fn register(server: &TestServer, extra: Value) -> Agent {
        Agent::register_at(&server.base_url, extra).await
    }

    /// As [`Agent::register`], at the server whose issuer is `base` (one that
    /// is not a [`TestServer`], or one behind a proxy).
    ///
    /// # Panics
    /// If the registration is not answered 201 with a `client_id`.
    pub async fn register_at(base: &str, extra: Value) -> Agent {
        let key = match DeviceKeyPair::generate() {
            Ok(k) => Arc::new(k),
            Err(e) => panic!("generating the agent key: {e}"),
        };
        let mut meta = json!({
            "client_name": "Test Agent",
            "backchannel_token_delivery_mode": "poll",
            "authorization_details_types": ["payment_initiation", STOCK_TRADE],
        });
        let method = match extra["token_endpoint_auth_method"].as_str() {
            Some("client_secret_post") => Method::Post,
            Some("private_key_jwt") => Method::PrivateKeyJwt,
            _ => Method::Basic,
        };
        if method == Method::PrivateKeyJwt && extra.get("jwks_uri").is_none() {
            meta["jwks"] = client_jwks(&key);
        }
        let Some(extra) = extra.as_object() else { panic!("extra client metadata must be an object: {extra}") };
        for (k, v) in extra {
            meta[k] = v.clone();
        }
        let http = http();
        let resp = match http.post(format!("{base}/register")).json(&meta).send().await {
            Ok(r) => r,
            Err(e) => panic!("register: {e}"),
        };
        assert_eq!(resp.status(), 201, "registration");
        let reg: Value = match resp.json().await {
            Ok(v) => v,
            Err(e) => panic!("registration answer is not JSON: {e}"),
        };
        let Some(client_id) = reg["client_id"].as_str() else { panic!("registration without client_id: {reg}") };
        Agent {
            client_id: client_id.to_owned(),
            secret: reg["client_secret"].as_str().map(str::to_owned),
            method,
            key,
            base: base.to_owned(),
            http,
            registration: reg,
        }
    }

    /// A `private_key_jwt` client assertion issued at `now`.
    ///
    /// # Panics
    /// If the system's random generator or signing fails.
    #[must_use]
    pub fn assertion(&self, now: u64) -> String {
        let jti = match generate_url_safe(16) {
            Ok(j) => j,
            Err(e) => panic!("rng: {e:?}"),
        };
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": self.base,
            "exp": now + 60, "iat": now, "jti": jti,
        });
        match self.key.sign(&SignHeader { typ: None, kid: Some("k1".into()) }, &claims) {
            Ok(s) => s,
            Err(e) => panic!("signing the client assertion: {e}"),
        }
    }

    /// Signs `claims` with the client key (kid k1).
    #[must_use]
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(JwtType::Jwt, claims)
    }

    /// Signs a request object (`typ: oauth-authz-req+jwt`, RFC 9101).
    #[must_use]
    pub fn sign_request(&self, claims: &Value) -> String {
        self.sign_typed(JwtType::RequestObject, claims)
    }

    /// Signs `claims` with the client key (kid k1) and header `typ`.
    ///
    /// # Panics
    /// If signing fails.
    #[must_use]
    pub fn sign_typed(&self, typ: JwtType, claims: &Value) -> String {
        match self.key.sign(&SignHeader { typ: Some(typ), kid: Some("k1".into()) }, claims) {
            Ok(s) => s,
            Err(e) => panic!("signing: {e}"),
        }
    }

    /// Posts the form `pairs` to `{base}{path}` with the client's
    /// authentication (a client assertion issued at `now`); the transport
    /// error if there is no answer.
    ///
    /// # Errors
    /// No HTTP answer (connection refused or cut).
    pub async fn send(
        &self,
        path: &str,
        pairs: &[(&str, String)],
        now: u64,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut form: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let mut req = self.http.post(format!("{}{path}", self.base));
        match self.method {
            Method::Basic => {
                req = req.basic_auth(&self.client_id, self.secret.as_deref());
            }
            Method::Post => {
                form.push(("client_id".into(), self.client_id.clone()));
                form.push(("client_secret".into(), self.secret.clone().unwrap_or_default()));
            }
            Method::PrivateKeyJwt => {
                form.push((
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion".into(), self.assertion(now)));
            }
        }
        req.form(&form).send().await
    }

    /// [`Agent::send`], which must be answered.
    ///
    /// # Panics
    /// If there is no HTTP answer.
    pub async fn post(&self, path: &str, pairs: &[(&str, String)], now: u64) -> reqwest::Response {
        match self.send(path, pairs, now).await {
            Ok(r) => r,
            Err(e) => panic!("post {path}: {e}"),
        }
    }

    /// The usual request parameters for `username`: scope `openid payments`,
    /// binding message `PAY-4F7Q`, [`details`], a client notification token.
    #[must_use]
    pub fn request_params(&self, username: &str) -> Vec<(&'static str, String)> {
        vec![
            ("scope", "openid payments".into()),
            ("login_hint", username.into()),
            ("binding_message", "PAY-4F7Q".into()),
            ("authorization_details", details().to_string()),
            ("client_notification_token", "cnt-0123456789abcdefghijklmnop".into()),
        ]
    }

    /// `POST /bc-authorize` with `pairs` (assertions on `server`'s clock).
    ///
    /// # Panics
    /// If there is no HTTP answer.
    pub async fn bc_authorize(&self, server: &TestServer, pairs: &[(&str, String)]) -> reqwest::Response {
        self.post("/bc-authorize", pairs, server.state.now()).await
    }

    /// Starts a request for `username` with [`Agent::request_params`];
    /// returns the acknowledgement.
    ///
    /// # Panics
    /// If the request is not answered 200 with JSON.
    pub async fn start(&self, server: &TestServer, username: &str) -> Value {
        let resp = self.bc_authorize(server, &self.request_params(username)).await;
        assert_eq!(resp.status(), 200, "bc-authorize");
        match resp.json().await {
            Ok(v) => v,
            Err(e) => panic!("bc-authorize answer is not JSON: {e}"),
        }
    }

    /// `POST /token` for `auth_req_id` (assertions on `server`'s clock).
    ///
    /// # Panics
    /// If there is no HTTP answer.
    pub async fn token(&self, server: &TestServer, auth_req_id: &str) -> reqwest::Response {
        self.post("/token", &Self::token_form(auth_req_id), server.state.now()).await
    }

    fn token_form(auth_req_id: &str) -> [(&'static str, String); 2] {
        [("grant_type", CIBA_GRANT.into()), ("auth_req_id", auth_req_id.into())]
    }

    /// `POST /bc-authorize` with `pairs` (assertions on the wall clock):
    /// the `auth_req_id`, or the HTTP status when the answer is not a 200
    /// with one (0: no answer at all).
    ///
    /// # Errors
    /// The HTTP status of a refusal, or 0.
    pub async fn try_authorize(&self, pairs: &[(&str, String)]) -> Result<String, u16> {
        let resp = self.send("/bc-authorize", pairs, wall_now()).await.map_err(|_| 0u16)?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        let body: Value = resp.json().await.map_err(|_| 0u16)?;
        body["auth_req_id"].as_str().map(str::to_owned).ok_or(0)
    }

    /// `POST /bc-authorize` with `pairs` (assertions on the wall clock);
    /// returns `auth_req_id`.
    ///
    /// # Panics
    /// If the answer is not a 200 with an `auth_req_id` (the message holds
    /// the answer).
    pub async fn authorize(&self, pairs: &[(&str, String)]) -> String {
        let (status, body) = self.call("/bc-authorize", pairs).await;
        assert_eq!(status, 200, "bc-authorize: {body}");
        match body["auth_req_id"].as_str() {
            Some(id) => id.to_owned(),
            None => panic!("bc-authorize: {body}"),
        }
    }

    /// One `POST /token` for `auth_req_id` (assertions on the wall clock):
    /// the status and the JSON answer.
    ///
    /// # Panics
    /// If there is no answer or it is not JSON.
    pub async fn poll(&self, auth_req_id: &str) -> (u16, Value) {
        self.call("/token", &Self::token_form(auth_req_id)).await
    }

    /// Polls `/token` until the answer is no longer `authorization_pending`
    /// or `slow_down`, at most [`WAIT`].
    ///
    /// # Panics
    /// If the answer is still pending after [`WAIT`], or as [`Agent::poll`].
    pub async fn wait_token(&self, auth_req_id: &str) -> (u16, Value) {
        self.wait_token_within(WAIT, auth_req_id).await
    }

    /// [`Agent::wait_token`] with another bound than [`WAIT`].
    ///
    /// # Panics
    /// As [`Agent::wait_token`], after `timeout`.
    pub async fn wait_token_within(&self, timeout: Duration, auth_req_id: &str) -> (u16, Value) {
        self.wait_token_every(timeout, POLL_TOKEN, auth_req_id).await
    }

    /// [`Agent::wait_token_within`] polling every `every` (the desktop's
    /// tests poll slowly: the app under test shares the machine).
    ///
    /// # Panics
    /// As [`Agent::wait_token`], after `timeout`.
    pub async fn wait_token_every(&self, timeout: Duration, every: Duration, auth_req_id: &str) -> (u16, Value) {
        wait_for_every(timeout, every, "a final token answer", || async {
            let (status, body) = self.poll(auth_req_id).await;
            match body["error"].as_str() {
                Some("authorization_pending" | "slow_down") => None,
                _ => Some((status, body)),
            }
        })
        .await
    }

    async fn call(&self, path: &str, pairs: &[(&str, String)]) -> (u16, Value) {
        let resp = self.post(path, pairs, wall_now()).await;
        let status = resp.status().as_u16();
        match resp.json().await {
            Ok(v) => (status, v),
            Err(e) => panic!("{path} answer ({status}) is not JSON: {e}"),
        }
    }
}
