//! An in-process CTAP 2 security key for tests.
//!
//! [`VirtualKey`] is a real CTAP 2.1 authenticator, Nitrokey's
//! `fido-authenticator` (the firmware of their keys) on trussed's virtual
//! platform, running on a thread of its own with its storage in memory:
//! PIN set and checked (`clientPin`, PIN/UV protocols 1 and 2, 8 tries,
//! blocked for the session after 3 wrong PINs in a row), `pinUvAuthToken`,
//! credentials made and used (`makeCredential`, `getAssertion`), user
//! presence asked for every one of them. [`VirtualToken`] is
//! webauthn-authenticator-rs's `Token` over it and [`VirtualKeys`] its
//! `Transport` (the keys "plugged in"), so a CTAP 2 client, the approver's
//! `CtapAuthenticator`, drives it as it drives a USB key.
//!
//! What a USB key's HID layer does is left out: a command (command byte and
//! CBOR) goes to the authenticator as the HID layer hands it over, and the
//! answer (status byte and CBOR) comes back as `USBToken::transmit_raw`
//! reads it (an error status is `WebauthnCError::Ctap`). When the
//! authenticator waits for a touch, the token calls the client's
//! `UiCallback::request_touch`, as the USB token does on a keepalive saying
//! "user presence needed"; the key is then touched, or never
//! ([`Touch::Never`]: the authenticator gives up after [`TOUCH_TIMEOUT`]).
//!
//! Never for production: trussed's virtual platform draws its random numbers
//! from a fixed seed (each key here skips ahead by a different amount, so two
//! keys hold different secrets, but anyone can recompute them).

use async_trait::async_trait;
use ctaphid_app::{App as _, Command};
use fido_authenticator::{Authenticator, Config, Conforming};
use futures_util::stream::{self, BoxStream, StreamExt as _};
use heapless_bytes::Bytes;
use rand_core::RngCore as _;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use trussed::backend::BackendId;
use trussed::platform::{Platform as _, UserInterface};
use trussed::types::ui::Status;
use trussed::virt::{self, StoreConfig};
use trussed_core::types::consent::Level;
use trussed_staging::virt::{BackendIds, Dispatcher};
use webauthn_authenticator_rs::ctap2::CtapAuthenticator;
use webauthn_authenticator_rs::error::{CtapError, WebauthnCError};
use webauthn_authenticator_rs::transport::{Token, TokenEvent, Transport};
use webauthn_authenticator_rs::types::{CableRequestType, CableState, EnrollSampleStatus};
use webauthn_authenticator_rs::ui::UiCallback;
use webauthn_rs_proto::AuthenticatorTransport;

/// The largest message, either way (a CTAP HID key's, as ctaphid-dispatch's
/// default).
const MESSAGE_SIZE: usize = 7609;

/// How long the key waits for a touch before it answers
/// `CTAP2_ERR_USER_ACTION_TIMEOUT` (real keys wait about 30 s).
pub const TOUCH_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the user touches the key when it asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Touch {
    /// Touched as soon as the client has shown its touch prompt.
    #[default]
    OnPrompt,
    /// Never touched.
    Never,
}

/// One CTAP 2 command for the authenticator thread, and where its events go.
struct Job {
    command: Vec<u8>,
    events: UnboundedSender<Event>,
}

/// What the authenticator tells the token while a command runs.
#[derive(Debug)]
enum Event {
    /// It waits for the user's touch.
    TouchNeeded,
    /// Its answer: status byte, then CBOR.
    Answer(Vec<u8>),
}

/// What the token and the key's user interface share.
#[derive(Debug, Default)]
struct Presence {
    /// Where the command being run sends its events.
    events: Mutex<Option<UnboundedSender<Event>>>,
    /// The user touched the key since it asked.
    touched: AtomicBool,
    /// The user never touches it.
    never: AtomicBool,
    /// How many times the key asked for a touch.
    asked: AtomicUsize,
}

impl Presence {
    fn send(&self, event: Event) {
        if let Ok(events) = self.events.lock() {
            if let Some(events) = events.as_ref() {
                let _ = events.send(event);
            }
        }
    }
}

/// The key's user interface, called by trussed's service while a command
/// waits for user presence: the wait is announced to the token (a
/// keepalive's "user presence needed"), then the key reports a touch once
/// the token has passed the request on.
struct Button(Arc<Presence>);

impl UserInterface for Button {
    fn check_user_presence(&mut self) -> Level {
        if self.0.touched.swap(false, Ordering::SeqCst) {
            Level::Normal
        } else {
            // trussed polls without pause until its timeout.
            thread::sleep(Duration::from_millis(1));
            Level::None
        }
    }

    fn set_status(&mut self, status: Status) {
        if status == Status::WaitingForUserPresence {
            self.0.touched.store(false, Ordering::SeqCst);
            self.0.asked.fetch_add(1, Ordering::SeqCst);
            self.0.send(Event::TouchNeeded);
        }
    }
}

/// Keys made so far in this process: how far each one's generator skips.
static KEYS_MADE: AtomicUsize = AtomicUsize::new(0);

/// An in-process CTAP 2.1 security key, blank (no PIN, no credential) when
/// made. Clones are the same key; the key stops when the last clone (and
/// token) is dropped.
#[derive(Clone)]
pub struct VirtualKey {
    id: usize,
    jobs: mpsc::Sender<Job>,
    presence: Arc<Presence>,
}

impl fmt::Debug for VirtualKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Default for VirtualKey {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualKey {
    /// A blank key, touched whenever it asks ([`Touch::OnPrompt`]).
    ///
    /// # Panics
    /// When the operating system cannot start a thread.
    #[must_use]
    pub fn new() -> Self {
        let id = KEYS_MADE.fetch_add(1, Ordering::SeqCst);
        let (jobs, queue) = mpsc::channel::<Job>();
        let presence = Arc::new(Presence::default());
        let button = Button(presence.clone());
        let shared = presence.clone();
        thread::Builder::new()
            .name(format!("virtual-security-key-{id}"))
            // The authenticator is made for small stacks, but keeps its
            // whole CTAP 2 answer on it.
            .stack_size(8 << 20)
            .spawn(move || run(id, button, shared, &queue))
            .unwrap_or_else(|e| panic!("cannot start a virtual security key: {e}"));
        Self { id, jobs, presence }
    }

    /// Whether the user touches the key from now on.
    pub fn set_touch(&self, touch: Touch) {
        self.presence.never.store(touch == Touch::Never, Ordering::SeqCst);
    }

    /// How many times the key has asked for a touch.
    #[must_use]
    pub fn touches_asked(&self) -> usize {
        self.presence.asked.load(Ordering::SeqCst)
    }

    /// The key as webauthn-authenticator-rs's `Token`.
    #[must_use]
    pub fn token(&self) -> VirtualToken {
        VirtualToken { key: self.clone() }
    }

    /// Sets the key's first PIN (`authenticatorClientPIN(setPIN)`, through
    /// webauthn-authenticator-rs's client).
    ///
    /// # Errors
    /// The client's, e.g. `WebauthnCError::Ctap(Ctap2PinPolicyViolation)`,
    /// or `Ctap2NotAllowed` when a PIN is set already.
    pub async fn set_pin(&self, pin: &str) -> Result<(), WebauthnCError> {
        let ui = Unattended;
        let mut client = CtapAuthenticator::new(self.token(), &ui).await.ok_or(WebauthnCError::NotSupported)?;
        client.set_new_pin(pin).await
    }

    /// Runs one command: its answer (status byte, then CBOR), `ui` told
    /// when the key waits for a touch.
    async fn call<U: UiCallback>(&self, command: &[u8], ui: &U) -> Result<Vec<u8>, WebauthnCError> {
        let (events, mut received) = unbounded_channel();
        self.jobs.send(Job { command: command.to_vec(), events }).map_err(|_| WebauthnCError::Internal)?;
        loop {
            match received.recv().await {
                Some(Event::TouchNeeded) => {
                    ui.request_touch();
                    if !self.presence.never.load(Ordering::SeqCst) {
                        self.presence.touched.store(true, Ordering::SeqCst);
                    }
                }
                Some(Event::Answer(answer)) => return Ok(answer),
                // The authenticator thread ended (it panicked).
                None => return Err(WebauthnCError::Internal),
            }
        }
    }
}

/// The authenticator thread: the key's platform, then its commands until
/// every sender is gone.
fn run(id: usize, button: Button, presence: Arc<Presence>, queue: &mpsc::Receiver<Job>) {
    virt::with_platform(StoreConfig::ram(), |mut platform| {
        platform.user_interface().set_inner(Box::new(button));
        for _ in 0..=id * 64 {
            platform.rng().next_u32();
        }
        platform.run_client_with_backends(
            "fido",
            Dispatcher::default(),
            &[BackendId::Custom(BackendIds::StagingBackend), BackendId::Core],
            |client| {
                let mut config = Config::new(MESSAGE_SIZE);
                config.fido2_up_timeout = u32::try_from(TOUCH_TIMEOUT.as_millis()).ok();
                let mut authenticator = Authenticator::new(client, Conforming {}, config);
                while let Ok(job) = queue.recv() {
                    if let Ok(mut events) = presence.events.lock() {
                        *events = Some(job.events.clone());
                    }
                    let mut answer = Bytes::<MESSAGE_SIZE>::new();
                    let answer = match authenticator.call(Command::Cbor, &job.command, answer.as_mut_view()) {
                        Ok(()) => answer.to_vec(),
                        // An empty command: CTAP1_ERR_INVALID_LENGTH, as the
                        // HID layer answers it.
                        Err(_) => vec![0x03],
                    };
                    if let Ok(mut events) = presence.events.lock() {
                        *events = None;
                    }
                    let _ = job.events.send(Event::Answer(answer));
                }
            },
        );
    });
}

/// What an answer means to the client: its CBOR, or the status as an error
/// (as webauthn-authenticator-rs's USB token reads a key's answer).
fn read_answer(answer: &[u8]) -> Result<Vec<u8>, WebauthnCError> {
    let Some((&status, cbor)) = answer.split_first() else {
        return Err(WebauthnCError::MessageTooShort);
    };
    let status = CtapError::from(status);
    if status.is_ok() {
        Ok(cbor.to_vec())
    } else {
        Err(WebauthnCError::Ctap(status))
    }
}

/// A [`VirtualKey`] as webauthn-authenticator-rs's `Token`, standing in
/// for a USB key (it has a button).
#[derive(Debug)]
pub struct VirtualToken {
    key: VirtualKey,
}

#[async_trait]
impl Token for VirtualToken {
    type Id = usize;

    fn get_transport(&self) -> AuthenticatorTransport {
        AuthenticatorTransport::Usb
    }

    async fn transmit_raw<U>(&mut self, cbor: &[u8], ui: &U) -> Result<Vec<u8>, WebauthnCError>
    where
        U: UiCallback,
    {
        read_answer(&self.key.call(cbor, ui).await?)
    }

    async fn cancel(&mut self) -> Result<(), WebauthnCError> {
        Ok(())
    }

    async fn init(&mut self) -> Result<(), WebauthnCError> {
        Ok(())
    }

    async fn close(&mut self) -> Result<(), WebauthnCError> {
        Ok(())
    }
}

/// The keys plugged in, as webauthn-authenticator-rs's `Transport`: each
/// one is found at once; none is plugged in later.
#[derive(Debug, Clone, Default)]
pub struct VirtualKeys {
    keys: Vec<VirtualKey>,
}

impl VirtualKeys {
    /// `keys`, plugged in.
    pub fn new(keys: impl IntoIterator<Item = VirtualKey>) -> Self {
        Self { keys: keys.into_iter().collect() }
    }
}

#[async_trait]
impl Transport<'_> for VirtualKeys {
    type Token = VirtualToken;

    async fn watch(&self) -> Result<BoxStream<TokenEvent<Self::Token>>, WebauthnCError> {
        let plugged: Vec<_> = self.keys.iter().map(|k| TokenEvent::Added(k.token())).collect();
        let events = stream::iter(plugged)
            .chain(stream::once(async { TokenEvent::EnumerationComplete }))
            // Waits for a key plugged in later, as a USB transport does.
            .chain(stream::pending());
        Ok(events.boxed())
    }

    async fn tokens(&self) -> Result<Vec<Self::Token>, WebauthnCError> {
        Ok(self.keys.iter().map(VirtualKey::token).collect())
    }
}

/// A client interface for setting up a key: no one to ask.
#[derive(Debug)]
struct Unattended;

impl UiCallback for Unattended {
    fn request_pin(&self) -> Option<String> {
        None
    }

    fn request_touch(&self) {}

    fn processing(&self) {}

    fn fingerprint_enrollment_feedback(&self, _remaining_samples: u32, _feedback: Option<EnrollSampleStatus>) {}

    fn cable_qr_code(&self, _request_type: CableRequestType, _url: String) {}

    fn dismiss_qr_code(&self) {}

    fn cable_status_update(&self, _state: CableState) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_a_usb_tokens() {
        assert_eq!(read_answer(&[0x00, 0xa1, 0x03, 0x08]).unwrap(), [0xa1, 0x03, 0x08]);
        assert_eq!(read_answer(&[0x00]).unwrap(), Vec::<u8>::new());
        assert!(matches!(read_answer(&[0x31]), Err(WebauthnCError::Ctap(CtapError::Ctap2PinInvalid))));
        assert!(matches!(read_answer(&[]), Err(WebauthnCError::MessageTooShort)));
    }
}
