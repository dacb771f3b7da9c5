//! Shared state of the handlers and background tasks.

use std::sync::Arc;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::signing_keys::Keys;
use crate::device::hub::Hub;
use crate::error::Internal;
use crate::oauth::jwks::JwksCache;
use crate::schemas::DisplaySchemas;
use crate::store::Db;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// Where `/bc-authorize`'s and `/token`'s database work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotPath {
    /// On SQLite connections of their own: the request writer (group
    /// commit) and the hot-path reader (`store/writer.rs`, `store/reader.rs`).
    Sqlite,
    /// On the pool, one transaction per request: any database.
    Pool,
}

/// The contents of [`AppState`].
pub struct Inner {
    /// Configuration.
    pub config: Config,
    /// Database pool.
    pub db: Db,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Display schemas (validation, hashes, the schemas document).
    pub schemas: Arc<dyn DisplaySchemas>,
    /// Event stream wake-ups and shutdown.
    pub hub: Hub,
    /// Signing keys.
    pub keys: Keys,
    /// Outbound HTTP to notification endpoints: never follows redirects,
    /// never reaches a non-public address ([`crate::outbound`]).
    pub http_notify: reqwest::Client,
    /// Outbound HTTP to `jwks_uri`s, likewise.
    pub http_jwks: reqwest::Client,
    /// Ping and push deliveries in flight.
    pub deliveries: crate::oauth::notify::InFlight,
    /// The HMAC key of stored `user_code`s.
    pub user_code_key: crate::crypto::user_code::UserCodeKey,
    /// The encryption key of stored token responses (repeated token requests).
    pub token_response_key: crate::oauth::tokens::ResponseKey,
    /// Wakes the delivery task.
    pub outbox_wake: Notify,
    /// Fetched client `jwks_uri` documents.
    pub jwks_cache: JwksCache,
    /// The request writer (`/bc-authorize`'s checks and inserts, committed
    /// in groups); `None` where the hot paths run on the pool
    /// ([`HotPath::Pool`]).
    pub writer: Option<crate::store::writer::Writer>,
    /// The hot-path reader (agent calls' client and user reads);
    /// `None` as [`AppState::writer`].
    pub reader: Option<crate::store::reader::Reader>,
    /// The clients and users `/bc-authorize` keeps in memory, checked by
    /// the writer's job (`oauth/records.rs`); `None` as [`AppState::writer`].
    pub records: Option<crate::oauth::records::RecordCache>,
    /// The WebAuthn relying party; `None` when the issuer has no domain
    /// name (an IP address), which WebAuthn cannot use.
    pub webauthn: Option<Arc<crate::webauthn::RelyingParty>>,
    /// Fatigue refusals recorded in the audit log lately (one entry a
    /// minute per client, user and limit).
    pub refusals: Arc<crate::oauth::fatigue::RefusalLog>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state over an opened database (see [`crate::store::open`]) and
    /// makes sure a signing key exists.
    ///
    /// # Errors
    /// The HTTP client cannot be built or the database failed.
    pub async fn new(
        config: Config,
        db: Db,
        clock: Arc<dyn Clock>,
        schemas: Arc<dyn DisplaySchemas>,
    ) -> Result<Self, Internal> {
        let hot_path = if crate::store::sqlite_path(&db).is_some() { HotPath::Sqlite } else { HotPath::Pool };
        Self::with_hot_path(config, db, clock, schemas, hot_path).await
    }

    /// [`AppState::new`] with the hot paths where `hot_path` says (tests run
    /// the pool's on SQLite, as PostgreSQL runs them).
    ///
    /// # Errors
    /// As [`AppState::new`]; [`HotPath::Sqlite`] on another database.
    pub async fn with_hot_path(
        config: Config,
        db: Db,
        clock: Arc<dyn Clock>,
        schemas: Arc<dyn DisplaySchemas>,
        hot_path: HotPath,
    ) -> Result<Self, Internal> {
        let hosts = Arc::new(config.static_hosts.clone());
        let http = |allow_loopback| {
            let resolver = crate::outbound::GuardedResolver { allow_loopback, static_hosts: hosts.clone() };
            crate::outbound::client(resolver, config.delivery.timeout)
                .map_err(|e| Internal::new(format!("http client: {e}")))
        };
        let http_notify = http(config.danger_allow_http_loopback_notifications)?;
        let http_jwks = http(config.danger_allow_http_loopback_jwks_uri)?;
        let key_file = match (&config.secret_key_file, crate::store::sqlite_path(&db)) {
            (Some(file), _) => file.clone(),
            (None, Some(path)) => crate::crypto::secret_key::SecretKey::path_for(&path),
            (None, None) => return Err(Internal::new("a PostgreSQL database needs a secret key file")),
        };
        let secret_key = crate::crypto::secret_key::SecretKey::for_database(&db, &key_file, clock.now()).await?;
        let user_code_key = crate::crypto::user_code::UserCodeKey::new(&secret_key);
        let token_response_key = crate::oauth::tokens::ResponseKey::new(&secret_key)?;
        crate::crypto::signing_keys::ensure_active(&db, clock.now()).await?;
        let (writer, reader, records) = match hot_path {
            HotPath::Sqlite => (
                Some(crate::store::writer::Writer::open(&db)?),
                Some(crate::store::reader::Reader::open(&db)?),
                crate::oauth::records::RecordCache::for_database(&db).await?,
            ),
            HotPath::Pool => (None, None, None),
        };
        let webauthn = match crate::webauthn::RelyingParty::for_issuer(&config.issuer) {
            Ok(rp) => Some(Arc::new(rp)),
            Err(why) => {
                if config.webauthn_at.is_some() {
                    tracing::warn!(%why, "WebAuthn is off: requests that require it cannot be approved");
                }
                None
            }
        };
        Ok(Self(Arc::new(Inner {
            config,
            db,
            clock,
            schemas,
            hub: Hub::default(),
            keys: Keys::default(),
            http_notify,
            http_jwks,
            deliveries: crate::oauth::notify::InFlight::default(),
            user_code_key,
            token_response_key,
            outbox_wake: Notify::new(),
            jwks_cache: JwksCache::default(),
            writer,
            reader,
            records,
            webauthn,
            refusals: Arc::default(),
        })))
    }

    /// Unix seconds now.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.clock.now()
    }
}
