//! Server configuration.

use countersign_protocol::device::Issuer;
use countersign_protocol::secret::InitialAccessToken;
use std::time::Duration;

/// Who may use `POST /register` (RFC 7591 §3).
#[derive(Debug, Clone)]
pub enum RegistrationPolicy {
    /// Anyone may register a client.
    Open,
    /// Registration needs `Authorization: Bearer <initial access token>`.
    InitialAccessToken(InitialAccessToken),
}

/// Fatigue control of `/bc-authorize` (0 disables a limit).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Accepted requests per user per minute (default 5).
    pub user_per_minute: u32,
    /// Accepted requests per client per minute (default 30).
    pub client_per_minute: u32,
    /// `not_me` denials of one client by one user that block the client for
    /// that user (default 3).
    pub not_me_threshold: u32,
    /// Window of the `not_me` count, seconds (default 24 h).
    pub not_me_window_secs: u64,
    /// Wrong `user_code`s for one user (from any client) within
    /// [`Self::user_code_window_secs`] after which the user's `user_code` is
    /// no longer checked: `/bc-authorize` answers 429 `slow_down` with
    /// `Retry-After` until the oldest failure leaves the window (default 5).
    pub user_code_failures: u32,
    /// The same, for the wrong `user_code`s sent by one client for any user
    /// (default 30).
    pub client_user_code_failures: u32,
    /// Window of the `user_code` failure counts, seconds (default 15 min).
    pub user_code_window_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            user_per_minute: 5,
            client_per_minute: 30,
            not_me_threshold: 3,
            not_me_window_secs: 24 * 3600,
            user_code_failures: 5,
            client_user_code_failures: 30,
            user_code_window_secs: 15 * 60,
        }
    }
}

/// Ping and push delivery (CIBA Core §10.2, §10.3).
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts before a delivery is given up (default 8).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled after each failure (default 2 s).
    pub base_backoff: Duration,
    /// Longest delay between attempts (default 5 min).
    pub max_backoff: Duration,
    /// Timeout of one attempt (default 10 s).
    pub timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the server needs to know besides its database.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier; every endpoint lives under it.
    pub issuer: Issuer,
    /// Who may register clients.
    pub registration: RegistrationPolicy,
    /// Fatigue control.
    pub limits: Limits,
    /// `expires_in` when the client sends no `requested_expiry` (default 300 s).
    pub default_expiry_secs: u64,
    /// Largest `expires_in`; a larger `requested_expiry` is lowered to it
    /// (default 3600 s).
    pub max_expiry_secs: u64,
    /// Poll interval given to poll and ping clients (default 5 s).
    pub poll_interval_secs: u64,
    /// Lifetime of access tokens (default 600 s).
    pub access_token_ttl_secs: u64,
    /// Lifetime of ID tokens (default 600 s).
    pub id_token_ttl_secs: u64,
    /// `aud` of access tokens (RFC 9068 §2.2, REQUIRED there): this value, or the
    /// issuer when unset.
    pub access_token_audience: Option<String>,
    /// Lifetime of enrollment tickets (default 600 s).
    pub ticket_ttl_secs: u64,
    /// `poll_interval` told to enrolled devices (default 30 s).
    pub device_poll_interval_secs: u64,
    /// Idle time after which an event stream gets a heartbeat (default 15 s).
    pub heartbeat_interval: Duration,
    /// How often pending requests are checked for expiry (default 1 s).
    pub sweep_interval: Duration,
    /// Ping and push delivery.
    pub delivery: DeliveryConfig,
    /// Largest request body, bytes (default 64 KiB).
    pub max_body_bytes: usize,
    /// Allow `http` client notification endpoints on loopback hosts
    /// (127.0.0.0/8, [::1], localhost). Development and tests only: CIBA
    /// Core §9 requires https.
    pub danger_allow_http_loopback_notifications: bool,
    /// Allow `http` `jwks_uri` on loopback hosts. Development and tests only.
    pub danger_allow_http_loopback_jwks_uri: bool,
}

impl Config {
    /// Defaults for `issuer`: open registration, limits as documented.
    #[must_use]
    pub fn new(issuer: Issuer) -> Self {
        Self {
            issuer,
            registration: RegistrationPolicy::Open,
            limits: Limits::default(),
            default_expiry_secs: 300,
            max_expiry_secs: 3600,
            poll_interval_secs: countersign_protocol::ciba::DEFAULT_INTERVAL,
            access_token_ttl_secs: 600,
            id_token_ttl_secs: 600,
            access_token_audience: None,
            ticket_ttl_secs: countersign_protocol::device::enroll::DEFAULT_TICKET_TTL_SECS,
            device_poll_interval_secs: countersign_protocol::device::DEFAULT_POLL_INTERVAL_SECS,
            heartbeat_interval: Duration::from_secs(countersign_protocol::device::events::HEARTBEAT_INTERVAL_SECS),
            sweep_interval: Duration::from_secs(1),
            delivery: DeliveryConfig::default(),
            max_body_bytes: 64 * 1024,
            danger_allow_http_loopback_notifications: false,
            danger_allow_http_loopback_jwks_uri: false,
        }
    }

    /// How long a retired signing key stays in the JWKS: the longest token
    /// lifetime plus a minute of clock skew.
    #[must_use]
    pub fn key_retention_secs(&self) -> u64 {
        self.access_token_ttl_secs.max(self.id_token_ttl_secs).saturating_add(60)
    }

    /// `{issuer}{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        self.issuer.join(path)
    }

    /// The device channel base URL (`countersign_device_endpoint`).
    #[must_use]
    pub fn device_endpoint(&self) -> String {
        countersign_protocol::device::default_device_endpoint(&self.issuer)
    }
}
