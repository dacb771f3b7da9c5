//! The passphrase of the encrypted key file: how strong a new one must be,
//! and a prompt a shell fills from its own window while the key store
//! waits for it.
//!
//! [`PassphrasePrompt`] is a [`PassphraseSource`] that blocks the asking
//! key-store call (always on the blocking pool) until a shell hands the
//! passphrase over with [`PassphrasePrompt::submit`], which first checks it:
//! a new key file needs a strong passphrase ([`check_new_passphrase`]), an
//! existing one must open ([`super::file::check_passphrase`]). A refused
//! passphrase is never handed to the key store, so a typo neither locks the
//! app nor writes a key under a passphrase the user did not mean. The
//! passphrase lives only in memory (`Zeroizing`), is never logged, sent in
//! an event or returned.
//!
//! [`ENV_INSECURE_PASSPHRASE`] is for tests and headless use only: the
//! environment of a process can be read by other processes of the same user
//! (`/proc/<pid>/environ`).

use super::{file, KeyStoreError, PassphraseSource};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// The environment variable with the key file's passphrase, for tests and
/// headless use only (other processes of the user can read it).
pub const ENV_INSECURE_PASSPHRASE: &str = "COUNTERSIGN_INSECURE_KEY_PASSPHRASE";

/// Fewest characters of a new passphrase.
pub const MIN_CHARS: usize = 12;
/// Lowest zxcvbn score of a new passphrase (3: more than 10^8 guesses
/// needed, "safely unguessable" for an offline attack with a slow hash).
pub const MIN_SCORE: u8 = 3;

/// What the key store asks the passphrase for.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassphrasePurpose {
    /// No key file exists yet: the passphrase is chosen now.
    Create,
    /// Key files exist: the passphrase must open them.
    Open,
}

/// Whether `passphrase` may protect a new key file: at least [`MIN_CHARS`]
/// characters and a zxcvbn score of at least [`MIN_SCORE`].
///
/// # Errors
/// Why not, in words for the user (never the passphrase itself).
pub fn check_new_passphrase(passphrase: &str) -> Result<(), String> {
    let chars = passphrase.chars().count();
    if chars < MIN_CHARS {
        return Err(format!("use at least {MIN_CHARS} characters (this one has {chars})"));
    }
    let estimate = zxcvbn::zxcvbn(passphrase, &["countersign", "device", "key", "passphrase"]);
    if u8::from(estimate.score()) >= MIN_SCORE {
        return Ok(());
    }
    let mut why = String::from("it would be too easy to guess");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            why.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
        }
        let tips: Vec<String> = feedback.suggestions().iter().map(ToString::to_string).collect();
        if !tips.is_empty() {
            why.push_str(&format!(". {}", tips.join(" ")));
        }
    }
    if !why.ends_with('.') {
        why.push('.');
    }
    Err(format!("{why} Several unrelated words make a strong passphrase."))
}

/// A [`PassphraseSource`] reading [`ENV_INSECURE_PASSPHRASE`] (tests and
/// headless use).
#[must_use]
pub fn insecure_env_source() -> PassphraseSource {
    Arc::new(|_| {
        std::env::var(ENV_INSECURE_PASSPHRASE)
            .map(Zeroizing::new)
            .map_err(|_| format!("{ENV_INSECURE_PASSPHRASE} is not set"))
    })
}

/// Whether [`ENV_INSECURE_PASSPHRASE`] is set.
#[must_use]
pub fn insecure_env_set() -> bool {
    std::env::var_os(ENV_INSECURE_PASSPHRASE).is_some()
}

type Hook = Arc<dyn Fn(PassphrasePurpose) + Send + Sync>;

#[derive(Default)]
struct State {
    /// Submitted and checked, not yet taken by the key store.
    given: Option<Zeroizing<String>>,
    /// What a waiting key-store call asks for.
    waiting: Option<PassphrasePurpose>,
    /// Bumped by every cancel: a waiting call that sees it change gives up.
    cancels: u64,
    closed: bool,
}

/// The passphrase asked of the user by a shell's own window (see the
/// module). Cheap to share (`Arc`).
pub struct PassphrasePrompt {
    key_dir: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
    hook: Mutex<Option<Hook>>,
}

impl std::fmt::Debug for PassphrasePrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassphrasePrompt")
            .field("key_dir", &self.key_dir)
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

impl PassphrasePrompt {
    /// A prompt for the key files in `key_dir`
    /// ([`super::file::key_dir`] of the approver's data directory).
    #[must_use]
    pub fn new(key_dir: impl Into<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            key_dir: key_dir.into(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            hook: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Called (from the key store's thread) each time a key-store call
    /// starts waiting: show the window asking for the passphrase.
    pub fn on_request(&self, hook: impl Fn(PassphrasePurpose) + Send + Sync + 'static) {
        if let Ok(mut slot) = self.hook.lock() {
            *slot = Some(Arc::new(hook));
        }
    }

    /// What a waiting key-store call asks for (`None`: nothing waits).
    #[must_use]
    pub fn waiting(&self) -> Option<PassphrasePurpose> {
        self.lock().waiting
    }

    /// The source to put in [`crate::ApproverConfig::passphrase`]: it waits
    /// until a passphrase is submitted, the wait is cancelled or the prompt
    /// is closed.
    #[must_use]
    pub fn source(self: &Arc<Self>) -> PassphraseSource {
        let prompt = Arc::clone(self);
        Arc::new(move |purpose| prompt.wait(purpose))
    }

    fn wait(&self, purpose: PassphrasePurpose) -> Result<Zeroizing<String>, String> {
        let mut state = self.lock();
        if let Some(p) = state.given.take() {
            return Ok(p);
        }
        if state.closed {
            return Err(CLOSED.into());
        }
        let cancels = state.cancels;
        state.waiting = Some(purpose);
        drop(state);
        let hook = self.hook.lock().ok().and_then(|h| h.clone());
        if let Some(hook) = hook {
            hook(purpose);
        }
        let mut state = self.lock();
        loop {
            if let Some(p) = state.given.take() {
                state.waiting = None;
                return Ok(p);
            }
            if state.closed {
                state.waiting = None;
                return Err(CLOSED.into());
            }
            if state.cancels != cancels {
                return Err(CANCELLED.into());
            }
            state = match self.changed.wait(state) {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Checks `passphrase` and hands it to the key store (to the call
    /// waiting for it, or to the next one): a new key file needs a strong
    /// passphrase, existing key files must open with it. Runs Argon2 on the
    /// blocking pool. Returns what it was checked for.
    ///
    /// # Errors
    /// [`Error::WeakPassphrase`] (with the reason), [`Error::WrongPassphrase`],
    /// [`Error::KeyStore`] (the key files cannot be read).
    pub async fn submit(self: &Arc<Self>, passphrase: Zeroizing<String>) -> Result<PassphrasePurpose> {
        let prompt = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let purpose = file::check_passphrase(&prompt.key_dir, &passphrase)?;
            let mut state = prompt.lock();
            state.given = Some(passphrase);
            drop(state);
            prompt.changed.notify_all();
            Ok::<_, KeyStoreError>(purpose)
        });
        match task.await {
            Ok(r) => r.map_err(Error::from),
            Err(e) => Err(Error::KeyStore(format!("checking the passphrase failed: {e}"))),
        }
    }

    /// The user declined: the waiting key-store call fails (and asks again
    /// the next time it needs the key).
    pub fn cancel(&self) {
        let mut state = self.lock();
        state.cancels = state.cancels.wrapping_add(1);
        state.waiting = None;
        drop(state);
        self.changed.notify_all();
    }

    /// The app is quitting: every waiting and later call fails, and a
    /// passphrase not yet taken is dropped (zeroized).
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.waiting = None;
        state.given = None;
        drop(state);
        self.changed.notify_all();
    }
}

const CLOSED: &str = "the app is closing: no passphrase was entered";
const CANCELLED: &str = "no passphrase was entered for the encrypted key file";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::file::{EncryptedFileStore, KdfParams};
    use crate::keys::KeyStore as _;
    use std::time::{Duration, Instant};

    const FAST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };
    const STRONG: &str = "walrus quietly orbits saffron";

    #[test]
    fn weak_passphrases_are_refused_with_the_reason() {
        let short = check_new_passphrase("Tr0ub4dor&3").unwrap_err();
        assert!(short.contains("at least 12 characters (this one has 11)"), "{short}");
        for weak in ["password1234", "aaaaaaaaaaaaaaaa", "qwertyuiopasdf", "countersign2026"] {
            let why = check_new_passphrase(weak).unwrap_err();
            assert!(why.starts_with("it would be too easy to guess"), "{weak}: {why}");
            assert!(!why.contains(weak), "the reason never repeats the passphrase: {why}");
        }
        check_new_passphrase(STRONG).unwrap();
        check_new_passphrase("correct horse battery staple").unwrap();
    }

    fn wait_until(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_key_store_waits_for_a_checked_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let prompt = PassphrasePrompt::new(dir.path());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let a = asked.clone();
        prompt.on_request(move |purpose| a.lock().unwrap().push(purpose));
        let store = Arc::new(EncryptedFileStore::with_params(dir.path(), prompt.source(), FAST));

        // Creating: the store waits; a weak passphrase is refused and not
        // handed over; a strong one is.
        let s = store.clone();
        let put = std::thread::spawn(move || s.put("acct_1", b"pkcs8 bytes"));
        wait_until("the store asks", || prompt.waiting() == Some(PassphrasePurpose::Create));
        let weak = prompt.submit(Zeroizing::new("short".into())).await.unwrap_err();
        assert!(matches!(weak, Error::WeakPassphrase(ref why) if why.contains("12 characters")), "{weak:?}");
        assert_eq!(prompt.waiting(), Some(PassphrasePurpose::Create), "still waiting");
        assert_eq!(prompt.submit(Zeroizing::new(STRONG.into())).await.unwrap(), PassphrasePurpose::Create);
        put.join().unwrap().unwrap();
        assert_eq!(prompt.waiting(), None);
        assert_eq!(*asked.lock().unwrap(), vec![PassphrasePurpose::Create]);
        let file = std::fs::read_to_string(dir.path().join("acct_1.key")).unwrap();
        assert!(!file.contains(STRONG), "never written down");

        // Opening (a new process): a wrong passphrase is refused and the
        // store keeps waiting; the right one opens the key.
        let prompt = PassphrasePrompt::new(dir.path());
        let store = Arc::new(EncryptedFileStore::with_params(dir.path(), prompt.source(), FAST));
        let s = store.clone();
        let get = std::thread::spawn(move || s.get("acct_1"));
        wait_until("the store asks", || prompt.waiting() == Some(PassphrasePurpose::Open));
        let wrong = prompt.submit(Zeroizing::new("walrus quietly orbits cumin".into())).await.unwrap_err();
        assert!(matches!(wrong, Error::WrongPassphrase), "{wrong:?}");
        assert_eq!(prompt.waiting(), Some(PassphrasePurpose::Open));
        assert_eq!(prompt.submit(Zeroizing::new(STRONG.into())).await.unwrap(), PassphrasePurpose::Open);
        assert_eq!(get.join().unwrap().unwrap().as_slice(), b"pkcs8 bytes");
        // Asked once: the store keeps it for the process.
        assert_eq!(store.get("acct_1").unwrap().as_slice(), b"pkcs8 bytes");
        assert_eq!(prompt.waiting(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_or_closed_prompt_fails_the_waiting_call() {
        let dir = tempfile::tempdir().unwrap();
        let prompt = PassphrasePrompt::new(dir.path());
        let store = Arc::new(EncryptedFileStore::with_params(dir.path(), prompt.source(), FAST));
        let s = store.clone();
        let put = std::thread::spawn(move || s.put("acct_1", b"x"));
        wait_until("the store asks", || prompt.waiting().is_some());
        prompt.cancel();
        assert!(matches!(put.join().unwrap(), Err(KeyStoreError::NoPassphrase(_))));
        assert_eq!(prompt.waiting(), None);
        assert!(!dir.path().join("acct_1.key").exists());

        let s = store.clone();
        let put = std::thread::spawn(move || s.put("acct_1", b"x"));
        wait_until("the store asks again", || prompt.waiting().is_some());
        prompt.close();
        assert!(matches!(put.join().unwrap(), Err(KeyStoreError::NoPassphrase(_))));
        assert!(matches!(store.put("acct_2", b"x"), Err(KeyStoreError::NoPassphrase(_))), "closed for good");
    }
}
