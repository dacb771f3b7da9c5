//! The [`Approver`]: the one object shells hold.

use crate::config::{ApproverConfig, KeyStoreChoice};
use crate::error::{Error, Result};
use crate::events::ApproverEvent;
use crate::http::{DeviceAuth, Http};
use crate::keys::file::{EncryptedFileStore, FALLBACK_WARNING};
use crate::keys::keychain::OsKeychain;
use crate::keys::{KeyStore, KeyStoreError, KeyStoreKind};
use crate::store::{Account, InboxItem, LocalStatus, Store, DB_FILE};
use countersign_details::Registry;
use countersign_protocol::jws::DeviceKeyPair;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc, Notify};

/// Capacity of the event channel; a subscriber that lags further loses the
/// oldest events (and gets `RecvError::Lagged`), never the store's data.
pub const EVENT_CAPACITY: usize = 256;

pub(crate) enum Command {
    AccountAdded(String),
    AccountRemoved(String),
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) http: Http,
    pub(crate) config: ApproverConfig,
    pub(crate) events: broadcast::Sender<ApproverEvent>,
    pub(crate) delivery_wake: Notify,
    /// Per credential: held for each delivery attempt of a decision
    /// carrying an assertion of that security key, so this process never
    /// posts one twice at once, nor two of the same key side by side.
    pub(crate) assertion_delivery: crate::decision::CredentialLocks,
    pub(crate) supervisor: Mutex<Option<mpsc::UnboundedSender<Command>>>,
    key_cache: Mutex<HashMap<String, Arc<DeviceKeyPair>>>,
    /// Per issuer: the registry built from the schema cache, with the
    /// fingerprint (types and hashes) of the cache it was built from.
    pub(crate) registries: Mutex<HashMap<String, (String, Registry)>>,
    /// Per issuer: when its schemas were last fetched by this process.
    pub(crate) schema_checked: Mutex<HashMap<String, u64>>,
    keychain: Arc<OsKeychain>,
    file_store: OnceLock<Arc<EncryptedFileStore>>,
    warning: Mutex<Option<String>>,
    /// The verifier's status and when it was asked (unix seconds): asking
    /// is a D-Bus round trip on Linux, and every view needs it.
    verifier_status: std::sync::Mutex<Option<(u64, crate::verify::VerifierStatus)>>,
}

/// The approver core: accounts, inbox, decisions, transport.
///
/// Cheap to clone (an `Arc`). All methods are async and safe to call from
/// several tasks; the store serializes state changes.
#[derive(Clone)]
pub struct Approver {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approver").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Approver {
    /// Opens the approver whose data lives in `config.data_dir` (creating
    /// the directory and the store if needed).
    ///
    /// # Errors
    /// The store cannot be opened or migrated; the HTTP client cannot be
    /// built.
    pub async fn open(config: ApproverConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::Store(format!("creating {}: {e}", config.data_dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700));
        }
        let store = Store::open(&config.data_dir.join(DB_FILE)).await?;
        let http = Http::new(config.transport.request_timeout, &config.transport.extra_ca_files)?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let keychain = Arc::new(OsKeychain::new(config.keychain_service.clone()));
        let approver = Self {
            inner: Arc::new(Inner {
                store,
                http,
                config,
                events,
                delivery_wake: Notify::new(),
                assertion_delivery: crate::decision::CredentialLocks::default(),
                supervisor: Mutex::new(None),
                key_cache: Mutex::new(HashMap::new()),
                registries: Mutex::new(HashMap::new()),
                schema_checked: Mutex::new(HashMap::new()),
                keychain,
                file_store: OnceLock::new(),
                warning: Mutex::new(None),
                verifier_status: std::sync::Mutex::new(None),
            }),
        };
        // Said from the start, not from the key's first use: a window asks
        // for the warning when it opens, and keys are first used only once
        // the transport runs (after the window's first screen).
        let accounts = approver.inner.store.accounts().await?;
        if accounts.iter().any(|a| approver.inner.is_fallback(a.key_store)) {
            approver.inner.set_warning(FALLBACK_WARNING);
        }
        Ok(approver)
    }

    /// The store (read access for shells and tests).
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ApproverConfig {
        &self.inner.config
    }

    /// Subscribes to events (new request, withdrawn, decided, connection).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<ApproverEvent> {
        self.inner.events.subscribe()
    }

    /// A warning shells must show, if any (keys in the encrypted file
    /// because no keychain is reachable).
    #[must_use]
    pub fn key_store_warning(&self) -> Option<String> {
        self.inner.warning.lock().ok().and_then(|w| w.clone())
    }

    /// All accounts.
    ///
    /// # Errors
    /// The store failed.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        self.inner.store.accounts().await
    }

    /// Removes an account: its rows (one transaction), then its key. The
    /// server is not told (revoke the device there).
    ///
    /// # Errors
    /// [`Error::UnknownAccount`], the store or the key store.
    pub async fn remove_account(&self, account_id: &str) -> Result<()> {
        let account = self.inner.store.account(account_id).await?;
        self.inner.store.delete_account(account_id).await?;
        if let Ok(mut cache) = self.inner.key_cache.lock() {
            cache.remove(account_id);
        }
        self.inner.send_command(Command::AccountRemoved(account_id.to_owned()));
        let store = self.inner.key_store(account.key_store)?;
        let id = account.id.clone();
        blocking(move || store.delete(&id)).await
    }

    /// Pending requests (not expired), oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn pending(&self) -> Result<Vec<InboxItem>> {
        self.inner.expire_due(self.inner.now()).await?;
        self.inner.store.inbox(&[LocalStatus::Pending]).await
    }

    /// How many requests are pending (after expiring the overdue ones), without
    /// reading them: for a count in the tray.
    ///
    /// # Errors
    /// The store failed.
    pub async fn pending_count(&self) -> Result<u64> {
        self.inner.expire_due(self.inner.now()).await?;
        self.inner.store.pending_count().await
    }

    /// The newest `limit` pending requests, newest first (the end of
    /// [`Approver::pending`], reversed), without reading the others.
    ///
    /// # Errors
    /// The store failed.
    pub async fn newest_pending(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.inner.expire_due(self.inner.now()).await?;
        self.inner.store.newest_pending(limit).await
    }

    /// Every stored request.
    ///
    /// # Errors
    /// The store failed.
    pub async fn inbox(&self) -> Result<Vec<InboxItem>> {
        self.inner.store.inbox(&[]).await
    }

    /// A stored request by id, in `account_id` or, when `None`, in the only
    /// account that has it.
    ///
    /// # Errors
    /// [`Error::UnknownRequest`], [`Error::AmbiguousRequest`].
    pub async fn find_request(&self, request_id: &str, account_id: Option<&str>) -> Result<InboxItem> {
        if let Some(account) = account_id {
            return self
                .inner
                .store
                .inbox_item(account, request_id)
                .await?
                .ok_or_else(|| Error::UnknownRequest(request_id.to_owned()));
        }
        let mut found = self.inner.store.find_requests(request_id).await?;
        match found.len() {
            0 => Err(Error::UnknownRequest(request_id.to_owned())),
            1 => Ok(found.remove(0)),
            _ => Err(Error::AmbiguousRequest(request_id.to_owned())),
        }
    }

    /// The decisions made here, newest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn history(&self) -> Result<Vec<crate::store::HistoryEntry>> {
        self.inner.store.history().await
    }

    /// Closes the store.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }

    /// Whether this approver can verify the person now (the OS prompt an
    /// approval that requires user verification shows), asked again rather
    /// than the cached answer: for a shell's "check" button, and the CLI's
    /// `verify-user`.
    pub async fn user_verification_status(&self) -> crate::verify::VerifierStatus {
        self.inner.refresh_verifier_status().await
    }

    /// Asks the OS to verify the person now, as an approval that requires
    /// it will, with a reason saying it is a check: whether the setup works
    /// (polkit's action, an authentication agent). Signs nothing.
    ///
    /// # Errors
    /// [`Error::UserVerificationUnavailable`], [`Error::UserVerification`].
    pub async fn check_user_verification(&self) -> Result<Vec<countersign_protocol::amr::Amr>> {
        self.inner.verify_user(crate::verify::CHECK_REASON.to_owned()).await
    }
}

/// How long a verifier's availability is reused, seconds.
const VERIFIER_STATUS_TTL_SECS: u64 = 30;

impl Inner {
    pub(crate) fn now(&self) -> u64 {
        self.config.clock.now()
    }

    /// The verifier's status, asked at most every
    /// [`VERIFIER_STATUS_TTL_SECS`] (on the blocking pool).
    pub(crate) async fn verifier_status(&self) -> crate::verify::VerifierStatus {
        let now = self.now();
        if let Ok(cached) = self.verifier_status.lock() {
            if let Some((at, status)) = cached.as_ref() {
                if now.saturating_sub(*at) < VERIFIER_STATUS_TTL_SECS {
                    return status.clone();
                }
            }
        }
        self.refresh_verifier_status().await
    }

    /// Asks the OS to verify the person for `reason` (on the blocking
    /// pool): the `amr` to sign.
    pub(crate) async fn verify_user(&self, reason: String) -> Result<Vec<countersign_protocol::amr::Amr>> {
        let verifier = self.config.user_verifier.clone();
        let answer = tokio::task::spawn_blocking(move || verifier.verify(&reason))
            .await
            .map_err(|e| Error::UserVerification(crate::verify::VerifyError::Failed(e.to_string())))?;
        // The views follow what the OS just said: found unavailable (no
        // agent answered, which `availability` cannot see beforehand), it
        // stays so for the status's lifetime.
        if let Err(crate::verify::VerifyError::Unavailable(why)) = &answer {
            let status = crate::verify::VerifierStatus {
                method: self.config.user_verifier.method(),
                availability: crate::verify::Availability::Unavailable(why.clone()),
            };
            if let Ok(mut cached) = self.verifier_status.lock() {
                *cached = Some((self.now(), status));
            }
        }
        let amr = answer.map_err(|e| match e {
            crate::verify::VerifyError::Unavailable(why) => {
                Error::UserVerificationUnavailable(crate::verify::cannot_verify(&why))
            }
            other => Error::UserVerification(other),
        })?;
        // Only what an OS prompt proves is signed: `user` (never `hwk`, the
        // server's to state after a security key's assertion).
        if !countersign_protocol::amr::VerificationClass::User.met_by(&amr)
            || amr.contains(&countersign_protocol::amr::Amr::Hwk)
        {
            let said: Vec<&str> = amr.iter().map(|m| m.as_str()).collect();
            return Err(Error::UserVerification(crate::verify::VerifyError::Failed(format!(
                "the verifier answered amr {said:?}, which does not show an OS verification"
            ))));
        }
        Ok(amr)
    }

    async fn refresh_verifier_status(&self) -> crate::verify::VerifierStatus {
        let verifier = self.config.user_verifier.clone();
        let status = tokio::task::spawn_blocking(move || crate::verify::VerifierStatus::of(verifier.as_ref()))
            .await
            .unwrap_or_else(|e| crate::verify::VerifierStatus {
                method: "none",
                availability: crate::verify::Availability::Unavailable(format!("the check did not finish: {e}")),
            });
        if let Ok(mut cached) = self.verifier_status.lock() {
            *cached = Some((self.now(), status.clone()));
        }
        status
    }

    pub(crate) fn emit(&self, event: ApproverEvent) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    /// Marks the requests overdue at `now` expired and tells subscribers.
    pub(crate) async fn expire_due(&self, now: u64) -> Result<()> {
        for (account_id, request_id) in self.store.expire_pending(now).await? {
            self.emit(ApproverEvent::Withdrawn { account_id, request_id, reason: "expired".into() });
        }
        Ok(())
    }

    pub(crate) fn send_command(&self, cmd: Command) {
        if let Ok(guard) = self.supervisor.lock() {
            if let Some(tx) = guard.as_ref() {
                let _ = tx.send(cmd);
            }
        }
    }

    fn set_warning(&self, w: &str) {
        if let Ok(mut slot) = self.warning.lock() {
            *slot = Some(w.to_owned());
        }
    }

    fn file_store(&self) -> Result<Arc<EncryptedFileStore>> {
        if let Some(s) = self.file_store.get() {
            return Ok(s.clone());
        }
        let source = self.config.passphrase.clone().ok_or_else(|| {
            Error::KeyStore("keys are in the encrypted key file but no passphrase source is configured".into())
        })?;
        let store = Arc::new(EncryptedFileStore::new(crate::keys::file::key_dir(&self.config.data_dir), source));
        Ok(self.file_store.get_or_init(|| store).clone())
    }

    /// Whether keys of `kind` are in the encrypted key file because no OS
    /// keychain was reachable (not a custom store of that kind).
    fn is_fallback(&self, kind: KeyStoreKind) -> bool {
        kind == KeyStoreKind::File && !matches!(&self.config.key_store, KeyStoreChoice::Custom(s) if s.kind() == kind)
    }

    /// The store holding keys of `kind`.
    pub(crate) fn key_store(&self, kind: KeyStoreKind) -> Result<Arc<dyn KeyStore>> {
        if let KeyStoreChoice::Custom(s) = &self.config.key_store {
            if s.kind() == kind {
                return Ok(s.clone());
            }
        }
        match kind {
            KeyStoreKind::Keychain => Ok(self.keychain.clone()),
            KeyStoreKind::File => {
                self.set_warning(FALLBACK_WARNING);
                Ok(self.file_store()?)
            }
            KeyStoreKind::Memory => Err(Error::KeyStore("the in-memory key store of this account is gone".into())),
        }
    }

    /// The store new keys go to.
    pub(crate) async fn store_for_new_key(&self) -> Result<Arc<dyn KeyStore>> {
        match &self.config.key_store {
            KeyStoreChoice::Custom(s) => Ok(s.clone()),
            KeyStoreChoice::File => self.key_store(KeyStoreKind::File),
            KeyStoreChoice::Keychain => {
                let k = self.keychain.clone();
                blocking(move || k.probe()).await?;
                Ok(self.keychain.clone())
            }
            KeyStoreChoice::Auto => {
                let k = self.keychain.clone();
                match blocking(move || k.probe()).await {
                    Ok(()) => Ok(self.keychain.clone()),
                    Err(e) => {
                        tracing::warn!("OS keychain unreachable ({e}); using the encrypted key file");
                        self.key_store(KeyStoreKind::File)
                    }
                }
            }
        }
    }

    pub(crate) fn cache_key(&self, account_id: &str, key: Arc<DeviceKeyPair>) {
        if let Ok(mut cache) = self.key_cache.lock() {
            cache.insert(account_id.to_owned(), key);
        }
    }

    /// The device key of `account` (kept in memory once loaded; the PKCS#8
    /// copy read from the store is zeroized at once).
    pub(crate) async fn key_for(&self, account: &Account) -> Result<Arc<DeviceKeyPair>> {
        if let Some(k) = self.key_cache.lock().ok().and_then(|c| c.get(&account.id).cloned()) {
            return Ok(k);
        }
        let store = self.key_store(account.key_store)?;
        let id = account.id.clone();
        let pkcs8 = blocking(move || store.get(&id)).await?;
        let key = DeviceKeyPair::from_pkcs8(&pkcs8).map_err(|e| Error::KeyStore(format!("stored key: {e}")))?;
        drop(pkcs8);
        if key.public_jwk().to_uncompressed_point() != account.public_jwk.to_uncompressed_point() {
            return Err(Error::KeyStore("the stored key does not match the enrolled public key".into()));
        }
        let key = Arc::new(key);
        self.cache_key(&account.id, key.clone());
        Ok(key)
    }

    pub(crate) fn auth<'a>(&self, account: &'a Account, key: &'a DeviceKeyPair) -> DeviceAuth<'a> {
        DeviceAuth { device_id: &account.device_id, issuer: &account.issuer, key, now: self.now() }
    }
}

/// Runs a blocking key-store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyStoreError> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Error::from),
        Err(e) => Err(Error::KeyStore(format!("key store task failed: {e}"))),
    }
}
