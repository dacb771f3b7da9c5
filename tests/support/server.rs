//! A real `countersign-server` (in process, temporary SQLite) with a demo
//! user, and a demo agent on its public HTTP API (registration, CIBA
//! `/bc-authorize`, the token endpoint in poll mode).

use std::time::{Duration, Instant};

use countersign_server::testing::{spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};

pub const USER: &str = "zoe";

pub struct Server {
    pub server: TestServer,
    http: reqwest::Client,
}

pub struct Agent {
    pub client_id: String,
    secret: String,
}

impl Server {
    /// Starts the server with the built-in display schemas and user `zoe`.
    pub async fn start() -> Server {
        Self::start_with(TestOptions::default()).await
    }

    /// The same without fatigue limits (requests per minute, pending
    /// requests), for tests that send many requests.
    pub async fn start_unlimited() -> Server {
        Self::start_with(TestOptions::with_config(|c| {
            c.limits.user_per_minute = 0;
            c.limits.client_per_minute = 0;
            c.limits.unverified_user_client_per_minute = 0;
            c.limits.max_pending_per_user = 0;
            c.limits.max_pending_unverified_per_user = 0;
        }))
        .await
    }

    async fn start_with(options: TestOptions) -> Server {
        let server = spawn_test_server(options).await.expect("test server");
        countersign_server::ops::add_user(
            &server.state.db,
            &countersign_server::ops::NewUser {
                username: USER.into(),
                name: "Zoë Martin".into(),
                email: Some("zoe@example.com".into()),
                admin: false,
            },
            server.state.now(),
        )
        .await
        .expect("add user");
        Server { server, http: reqwest::Client::new() }
    }

    pub fn issuer(&self) -> &str {
        &self.server.base_url
    }

    /// A one-time enrollment link (`countersign://enroll?...`) for the user.
    pub async fn enrollment_link(&self) -> String {
        let s = &self.server;
        countersign_server::ops::enrollment_link(&s.state.db, &s.state.config.issuer, USER, 600, s.state.now())
            .await
            .expect("enrollment link")
            .to_app_uri()
    }

    /// Registers an agent for `types` (RFC 7591, poll mode).
    pub async fn agent(&self, name: &str, types: &[&str]) -> Agent {
        let reg: Value = self
            .http
            .post(self.server.url("/register"))
            .json(&json!({ "client_name": name, "backchannel_token_delivery_mode": "poll", "authorization_details_types": types }))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("registration body");
        Agent {
            client_id: reg["client_id"].as_str().unwrap_or_else(|| panic!("registration: {reg}")).into(),
            secret: reg["client_secret"].as_str().unwrap_or_else(|| panic!("registration: {reg}")).into(),
        }
    }

    /// Marks the agent as verified by the server's operator (as
    /// `countersign-server client verify` does).
    pub async fn verify(&self, agent: &Agent) {
        let s = &self.server;
        countersign_server::ops::set_client_verified(&s.state.db, &agent.client_id, true, "e2e test", s.state.now())
            .await
            .expect("verify the agent");
    }

    async fn post(&self, agent: &Agent, path: &str, form: &[(&str, &str)]) -> Value {
        self.http
            .post(self.server.url(path))
            .basic_auth(&agent.client_id, Some(&agent.secret))
            .form(form)
            .send()
            .await
            .expect("agent call")
            .json()
            .await
            .expect("agent answer")
    }

    /// `/bc-authorize` for the user; returns `auth_req_id`.
    pub async fn request(&self, agent: &Agent, details: &str, binding: &str, scope: &str) -> String {
        let body = self
            .post(
                agent,
                "/bc-authorize",
                &[
                    ("scope", scope),
                    ("login_hint", USER),
                    ("binding_message", binding),
                    ("authorization_details", details),
                ],
            )
            .await;
        body["auth_req_id"].as_str().unwrap_or_else(|| panic!("bc-authorize: {body}")).to_owned()
    }

    /// One token request, whatever it answers.
    pub async fn token_once(&self, agent: &Agent, auth_req_id: &str) -> Value {
        self.post(agent, "/token", &[("grant_type", "urn:openid:params:grant-type:ciba"), ("auth_req_id", auth_req_id)])
            .await
    }

    /// Polls the token endpoint until the answer is final.
    pub async fn token(&self, agent: &Agent, auth_req_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self
                .post(
                    agent,
                    "/token",
                    &[("grant_type", "urn:openid:params:grant-type:ciba"), ("auth_req_id", auth_req_id)],
                )
                .await;
            let pending = matches!(body["error"].as_str(), Some("authorization_pending" | "slow_down"));
            if !pending || Instant::now() > deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
