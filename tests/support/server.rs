//! A real `countersign-server` (in process, temporary SQLite) with a demo
//! user, and the shared CIBA test agent (`countersign_server::testing::Agent`)
//! on its public HTTP API (registration, `/bc-authorize`, `/token` in poll
//! mode).

use std::time::Duration;

use countersign_server::ops::NewUser;
pub use countersign_server::testing::Agent;
use countersign_server::testing::{new_user, spawn_test_server, TestOptions, TestServer};
use serde_json::{json, Value};

pub const USER: &str = "zoe";

pub struct Server {
    pub server: TestServer,
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

    /// The same at `http://localhost:PORT` (WebAuthn needs a domain), with
    /// critical requests requiring a security key (the production default).
    pub async fn start_with_security_keys() -> Server {
        let mut options =
            TestOptions::with_config(|c| c.webauthn_at = Some(countersign_protocol::device::Risk::Critical));
        options.localhost_issuer = true;
        Self::start_with(options).await
    }

    async fn start_with(options: TestOptions) -> Server {
        let server = spawn_test_server(options).await.expect("test server");
        let email = Some("zoe@example.com".into());
        server.create_user(&NewUser { email, ..new_user(USER, "Zoë Martin") }).await;
        Server { server }
    }

    pub fn issuer(&self) -> &str {
        &self.server.base_url
    }

    /// A one-time enrollment link (`countersign://enroll?...`) for the user.
    pub async fn enrollment_link(&self) -> String {
        self.server.invitation(USER, 600).await
    }

    /// Registers an agent for `types` (RFC 7591, poll mode) with the shared
    /// test agent.
    pub async fn agent(&self, name: &str, types: &[&str]) -> Agent {
        Agent::register(&self.server, json!({ "client_name": name, "authorization_details_types": types })).await
    }

    /// Marks the agent as verified by the server's operator (as
    /// `countersign-server client verify` does).
    pub async fn verify(&self, agent: &Agent) {
        let s = &self.server;
        countersign_server::ops::set_client_verified(
            &s.state.db,
            &agent.client_id,
            true,
            &countersign_server::ops::Actor::Labelled("e2e test"),
            s.state.now(),
        )
        .await
        .expect("verify the agent");
    }

    /// Gives the user the `admin` role (as `countersign-server user
    /// grant-admin` does).
    pub async fn make_admin(&self) {
        let s = &self.server;
        countersign_server::ops::set_admin(
            &s.state.db,
            USER,
            true,
            &countersign_server::ops::Actor::Labelled("e2e test"),
            s.state.now(),
        )
        .await
        .expect("make the user an administrator");
    }

    /// Whether `token` introspects active at the server (RFC 7662, asked
    /// as `agent`).
    pub async fn introspect_active(&self, agent: &Agent, token: &str) -> bool {
        let answer: Value = agent
            .post("/introspect", &[("token", token.to_owned())], self.server.state.now())
            .await
            .json()
            .await
            .expect("introspection answer");
        answer["active"].as_bool().expect("introspection says active or not")
    }

    /// `/bc-authorize` for the user; returns `auth_req_id`.
    pub async fn request(&self, agent: &Agent, details: &str, binding: &str, scope: &str) -> String {
        agent
            .authorize(&[
                ("scope", scope.to_owned()),
                ("login_hint", USER.to_owned()),
                ("binding_message", binding.to_owned()),
                ("authorization_details", details.to_owned()),
            ])
            .await
    }

    /// One token request, whatever it answers.
    pub async fn token_once(&self, agent: &Agent, auth_req_id: &str) -> Value {
        agent.poll(auth_req_id).await.1
    }

    /// Polls the token endpoint every 500 ms until the answer is final (at
    /// most 30 s; slowly, so as not to load the machine the app runs on).
    pub async fn token(&self, agent: &Agent, auth_req_id: &str) -> Value {
        agent.wait_token_every(Duration::from_secs(30), Duration::from_millis(500), auth_req_id).await.1
    }
}
