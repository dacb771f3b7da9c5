//! Shared state of the handlers and background tasks.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::Internal;
use crate::hub::Hub;
use crate::jwks::JwksCache;
use crate::keys::Keys;
use crate::schemas::DisplaySchemas;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

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
    /// Outbound HTTP (notifications, `jwks_uri`): never follows redirects.
    pub http: reqwest::Client,
    /// Wakes the delivery task.
    pub outbox_wake: Notify,
    /// Fetched client `jwks_uri` documents.
    pub jwks_cache: JwksCache,
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
    /// Builds the state over an opened database (see [`crate::db::open`]) and
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.delivery.timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("countersign-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Internal::new(format!("http client: {e}")))?;
        crate::keys::ensure_active(&db, clock.now()).await?;
        Ok(Self(Arc::new(Inner {
            config,
            db,
            clock,
            schemas,
            hub: Hub::default(),
            keys: Keys::default(),
            http,
            outbox_wake: Notify::new(),
            jwks_cache: JwksCache::default(),
        })))
    }

    /// Unix seconds now.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.clock.now()
    }
}
