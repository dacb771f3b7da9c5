//! Server configuration.

use countersign_protocol::device::{Issuer, RequestId};
use countersign_protocol::secret::InitialAccessToken;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable from which `serve --registration token` reads
/// the initial access token (when no `--initial-access-token-file` is given).
pub const INITIAL_ACCESS_TOKEN_ENV: &str = "COUNTERSIGN_INITIAL_ACCESS_TOKEN";

/// Who may use `POST /register` (RFC 7591 §3).
#[derive(Debug, Clone)]
pub enum RegistrationPolicy {
    /// Anyone may register a client.
    Open,
    /// Registration needs `Authorization: Bearer <initial access token>`.
    InitialAccessToken(InitialAccessToken),
}

impl RegistrationPolicy {
    /// Whether `serve` registers clients openly by default for `issuer`: only
    /// for a loopback issuer (development); an issuer others reach needs an
    /// initial access token unless the operator opens registration on
    /// purpose.
    #[must_use]
    pub fn open_by_default(issuer: &Issuer) -> bool {
        url::Url::parse(issuer.as_str()).is_ok_and(|u| match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        })
    }
}

/// Fatigue control of `/bc-authorize`, and what one user can make the
/// server store (0 disables a limit).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Accepted requests per user per minute (default 5).
    pub user_per_minute: u32,
    /// Accepted requests per client per minute (default 30).
    pub client_per_minute: u32,
    /// Accepted requests per user per minute from one client that no
    /// operator has verified (default 2), below the user's cap so that one
    /// unknown client cannot use up the user's budget.
    pub unverified_user_client_per_minute: u32,
    /// Pending requests one user may have at once, from all clients
    /// (default 20); beyond it `/bc-authorize` answers 429.
    pub max_pending_per_user: u32,
    /// Pending requests one user may have at once from unverified clients,
    /// all of them together (default 5), below the user's cap so that
    /// unknown clients cannot fill it.
    pub max_pending_unverified_per_user: u32,
    /// `not_me` denials that block: of one verified client by one user, for
    /// that user within [`Self::not_me_window_secs`]; of unverified clients
    /// (counted together) by one user, every unverified client for that
    /// user until the block is lifted (default 3).
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
    /// WebAuthn registrations one user may have in progress at once (started,
    /// neither finished nor expired), from all the user's devices (default
    /// 5); beyond it `POST {device}/webauthn/registrations` answers 429
    /// `slow_down` with `Retry-After` (docs/protocol.md §5.5).
    pub max_pending_webauthn_registrations_per_user: u32,
    /// WebAuthn credentials (security keys, passkeys) one user may have
    /// registered (default 10); at it, starting or finishing a registration
    /// is refused with 400 `invalid_credential` (docs/protocol.md §5.5).
    pub max_webauthn_credentials_per_user: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            user_per_minute: 5,
            client_per_minute: 30,
            unverified_user_client_per_minute: 2,
            max_pending_per_user: 20,
            max_pending_unverified_per_user: 5,
            not_me_threshold: 3,
            not_me_window_secs: 24 * 3600,
            user_code_failures: 5,
            client_user_code_failures: 30,
            user_code_window_secs: 15 * 60,
            max_pending_webauthn_registrations_per_user: 5,
            max_webauthn_credentials_per_user: 10,
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
    /// Deliveries to one client in flight at once (default 2): a slow
    /// endpoint holds back its own deliveries only.
    pub per_client_concurrency: usize,
    /// Deliveries in flight at once, all clients (default 64).
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            per_client_concurrency: 2,
            concurrency: 64,
        }
    }
}

/// Default of [`Config::refresh_token_lifetime_secs`]: 30 days.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME_SECS: u64 = 30 * 86_400;
/// Default of [`Config::refresh_token_idle_lifetime_secs`]: 7 days.
pub const DEFAULT_REFRESH_TOKEN_IDLE_LIFETIME_SECS: u64 = 7 * 86_400;

/// Default of [`Config::token_replay_window_secs`], seconds.
pub const DEFAULT_TOKEN_REPLAY_WINDOW_SECS: u64 = 120;

/// Fault-injection points, for tests only ([`Config::danger_test_hooks`]):
/// each is awaited at one point of a flow, so that a test can hold the
/// server there (a future that never completes stands for a server that
/// dies at that point) and then restart it.
pub trait TestHooks: Send + Sync + std::fmt::Debug {
    /// Awaited by the token endpoint right after the redemption of
    /// `request_id` committed and before its token response (`body`, the
    /// exact bytes about to be sent) is returned.
    fn after_redemption_commit(&self, request_id: &RequestId, body: &[u8]) -> BoxFuture<'static, ()>;
}

/// Default of [`Config::max_details_bytes`].
pub const DEFAULT_MAX_DETAILS_BYTES: usize = 32 * 1024;

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
    /// Largest `expires_in` of an unverified client's request (default
    /// 300 s): an unknown client cannot keep requests pending for long.
    pub unverified_max_expiry_secs: u64,
    /// Poll interval given to poll and ping clients (default 5 s).
    pub poll_interval_secs: u64,
    /// Lifetime of access tokens (default 600 s).
    pub access_token_ttl_secs: u64,
    /// Lifetime of ID tokens (default 600 s).
    pub id_token_ttl_secs: u64,
    /// How long the token response of a redeemed `auth_req_id` is kept
    /// (encrypted) for a repeated token request of the client it was issued
    /// to, which gets the same response again (default 120 s; 0 keeps none).
    /// Never longer than the access token lives: see
    /// [`Self::replay_window_secs`].
    pub token_replay_window_secs: u64,
    /// Absolute lifetime of a refresh token family, from the approval's
    /// redemption (default 30 days): the default and the maximum of
    /// clients' `refresh_token_lifetime`.
    pub refresh_token_lifetime_secs: u64,
    /// How long a refresh token stays usable unless rotated (default 7
    /// days; each rotation starts it again, within the family's absolute
    /// lifetime): the default and the maximum of clients'
    /// `refresh_token_idle_lifetime`.
    pub refresh_token_idle_lifetime_secs: u64,
    /// `aud` of access tokens (RFC 9068 §2.2, REQUIRED there): this value, or the
    /// issuer when unset.
    pub access_token_audience: Option<String>,
    /// The APIs an agent may ask a token for (`audience` at
    /// `/bc-authorize`, which becomes the token's `aud`), besides
    /// [`Self::access_token_audience`]; any other `audience` is refused
    /// (`invalid_target`). Empty by default.
    pub apis: Vec<countersign_protocol::ciba::Audience>,
    /// What each scope means and how risky it is ([`crate::scopes`]):
    /// approvers show the descriptions; a scope-only request's risk comes
    /// from it.
    pub scopes: crate::scopes::ScopeRegistry,
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
    /// Largest `authorization_details` of one request, bytes of its stored
    /// JSON (default 32 KiB): a page of the device request list
    /// ([`countersign_protocol::device::MAX_PAGE_SIZE`] requests) stays well
    /// below what an approver accepts in one response (1 MiB).
    pub max_details_bytes: usize,
    /// Open event streams per device (default 4); a new one beyond it closes
    /// the oldest.
    pub max_streams_per_device: usize,
    /// Allow `http` client notification endpoints on loopback hosts
    /// (127.0.0.0/8, [::1], localhost). Development and tests only: CIBA
    /// Core §9 requires https.
    pub danger_allow_http_loopback_notifications: bool,
    /// Allow `http` `jwks_uri` on loopback hosts. Development and tests only.
    pub danger_allow_http_loopback_jwks_uri: bool,
    /// From which risk on an approval needs a WebAuthn assertion
    /// (`requires: ["webauthn"]`, docs/protocol.md §5.5): `critical` by
    /// default; `None` never. Clients may be set lower or higher
    /// (`countersign-server client step-up`).
    pub webauthn_at: Option<countersign_protocol::device::Risk>,
    /// From which risk on an approval needs user verification
    /// (`requires: ["user_verification"]`, docs/protocol.md §8.3): `high`
    /// by default; `None` never (a client's `acr_values` may still ask).
    /// Clients may be set otherwise (`countersign-server client
    /// user-verification`).
    pub user_verification_at: Option<countersign_protocol::device::Risk>,
    /// The least a decision's `amr` must show where user verification is
    /// required: `user` (an OS prompt or a security key) by default; `hwk`
    /// (a security key: such requests also require `webauthn`).
    pub user_verification_class: countersign_protocol::amr::VerificationClass,
    /// Addresses of host names for outbound requests, used instead of DNS
    /// (like an `/etc/hosts` of the outbound clients). The addresses are
    /// checked like resolved ones ([`crate::outbound`]).
    pub static_hosts: std::collections::HashMap<String, Vec<std::net::IpAddr>>,
    /// DANGER (tests only): fault-injection points ([`TestHooks`]). `None`
    /// by default; the operator CLI never sets it.
    pub danger_test_hooks: Option<Arc<dyn TestHooks>>,
    /// The server's secret key file (`crypto/secret_key.rs`). `None`:
    /// beside the SQLite file (`<database>.secret-key`); a database other
    /// than SQLite needs one, the same file on every instance.
    pub secret_key_file: Option<std::path::PathBuf>,
}

impl Config {
    /// Defaults for `issuer`: open registration, limits as documented (the
    /// operator CLI chooses token registration for public issuers, see
    /// [`RegistrationPolicy::open_by_default`]).
    #[must_use]
    pub fn new(issuer: Issuer) -> Self {
        Self {
            issuer,
            registration: RegistrationPolicy::Open,
            limits: Limits::default(),
            default_expiry_secs: 300,
            max_expiry_secs: 3600,
            unverified_max_expiry_secs: 300,
            poll_interval_secs: countersign_protocol::ciba::DEFAULT_INTERVAL,
            access_token_ttl_secs: 600,
            id_token_ttl_secs: 600,
            token_replay_window_secs: DEFAULT_TOKEN_REPLAY_WINDOW_SECS,
            refresh_token_lifetime_secs: DEFAULT_REFRESH_TOKEN_LIFETIME_SECS,
            refresh_token_idle_lifetime_secs: DEFAULT_REFRESH_TOKEN_IDLE_LIFETIME_SECS,
            access_token_audience: None,
            apis: Vec::new(),
            scopes: crate::scopes::ScopeRegistry::builtin(),
            ticket_ttl_secs: countersign_protocol::device::enroll::DEFAULT_TICKET_TTL_SECS,
            device_poll_interval_secs: countersign_protocol::device::DEFAULT_POLL_INTERVAL_SECS,
            heartbeat_interval: Duration::from_secs(countersign_protocol::device::events::HEARTBEAT_INTERVAL_SECS),
            sweep_interval: Duration::from_secs(1),
            delivery: DeliveryConfig::default(),
            max_body_bytes: 64 * 1024,
            max_details_bytes: DEFAULT_MAX_DETAILS_BYTES,
            max_streams_per_device: 4,
            danger_allow_http_loopback_notifications: false,
            danger_allow_http_loopback_jwks_uri: false,
            webauthn_at: Some(countersign_protocol::device::Risk::Critical),
            user_verification_at: Some(countersign_protocol::device::Risk::High),
            user_verification_class: countersign_protocol::amr::VerificationClass::User,
            static_hosts: std::collections::HashMap::new(),
            danger_test_hooks: None,
            secret_key_file: None,
        }
    }

    /// Whether this configuration can do what its WebAuthn policy asks: an
    /// issuer WebAuthn can use when `webauthn_at` is set (otherwise every
    /// request that requires it could never be approved).
    ///
    /// # Errors
    /// Why not, for the operator.
    pub fn check_webauthn(&self) -> Result<(), String> {
        match (&self.webauthn_at, crate::webauthn::RelyingParty::for_issuer(&self.issuer)) {
            (Some(_), Err(why)) => Err(format!("{why}; requests that require WebAuthn could not be approved")),
            _ => Ok(()),
        }
    }

    /// Whether this configuration can do what its user verification policy
    /// asks: class `hwk` means a security key, which needs an issuer
    /// WebAuthn can use.
    ///
    /// # Errors
    /// Why not, for the operator.
    pub fn check_user_verification(&self) -> Result<(), String> {
        let hwk = self.user_verification_class == countersign_protocol::amr::VerificationClass::Hwk;
        match crate::webauthn::RelyingParty::for_issuer(&self.issuer) {
            Err(why) if hwk && self.user_verification_at.is_some() => Err(format!(
                "{why}; class hwk needs a security key (WebAuthn), so requests that require user verification \
                 could not be approved"
            )),
            _ => Ok(()),
        }
    }

    /// The replay window in force, seconds: [`Self::token_replay_window_secs`]
    /// bounded by the access token's lifetime, so a replayed response never
    /// outlives the token it carries.
    #[must_use]
    pub fn replay_window_secs(&self) -> u64 {
        self.token_replay_window_secs.min(self.access_token_ttl_secs)
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

    /// The `aud` a client's JWT (client assertion, request object, login
    /// hint token) may name at `path`: the issuer (also with the trailing
    /// slash Auth0's SDKs put there), the endpoint, and the token endpoint
    /// the metadata names. Not `/oauth/token`, which no metadata announces.
    #[must_use]
    pub fn client_jwt_audiences(&self, path: &str) -> Vec<String> {
        let issuer = self.issuer.as_str();
        let mut all = vec![
            issuer.to_owned(),
            format!("{issuer}/"),
            self.url(path),
            self.url(crate::oauth::discovery::paths::TOKEN),
        ];
        all.dedup();
        all
    }

    /// Whether `iss` names this server: its issuer, or the issuer with a
    /// trailing slash (as Auth0's SDKs write it in an `iss_sub` hint).
    #[must_use]
    pub fn is_this_issuer(&self, iss: &str) -> bool {
        let issuer = self.issuer.as_str();
        iss == issuer || iss.strip_suffix('/') == Some(issuer)
    }

    /// The device channel base URL (`countersign_device_endpoint`).
    #[must_use]
    pub fn device_endpoint(&self) -> String {
        countersign_protocol::device::default_device_endpoint(&self.issuer)
    }

    /// The admin API base URL (`countersign_admin_endpoint`).
    #[must_use]
    pub fn admin_endpoint(&self) -> String {
        self.url(countersign_protocol::admin::DEFAULT_BASE_PATH)
    }
}
