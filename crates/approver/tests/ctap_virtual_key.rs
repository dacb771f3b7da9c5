//! The approver's CTAP 2 client (`webauthn::CtapAuthenticator`, as the
//! shells use it for USB keys) against an in-process CTAP 2.1 security key
//! (crate `countersign-virtual-key`: a real authenticator with PIN retries
//! and lockouts, asking for a touch), with the real server: registration,
//! an approval that requires a key, wrong PINs, a cancelled PIN, a key that
//! holds none of the account's credentials, a key never touched, no key at
//! all. What the key asked reaches the shell's `PromptCallback` through the
//! library's `UiCallback` (`UiBridge`) and the `getPinRetries` watcher
//! (`Observed`). Only the USB HID framing of a real key is not exercised.

mod common;

use common::{payment_details, Agent, Env, TradeRequests, CODE};
use countersign_approver::store::{Account, LocalStatus};
use countersign_approver::webauthn::{CtapAuthenticator, KeySource, PinRequest, Prompt, PromptCallback};
use countersign_approver::{Approver, AuthenticatorError, DeliveryReport, Error, SharedAuthenticator};
use countersign_protocol::device::{Decision, Requirement, Risk};
use countersign_virtual_key::{Touch, VirtualKey, VirtualKeys, VirtualToken};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use webauthn_authenticator_rs::error::WebauthnCError;
use zeroize::Zeroizing;

const PIN: &str = "4711";

/// The keys plugged in, for `CtapAuthenticator`.
struct Plugged(VirtualKeys);

impl KeySource for Plugged {
    type Token = VirtualToken;
    type Transport = VirtualKeys;

    fn open(&self) -> impl Future<Output = Result<VirtualKeys, WebauthnCError>> {
        std::future::ready(Ok(self.0.clone()))
    }
}

/// A shell: records every prompt's and PIN request's text, answers the PIN
/// requests in turn (`None`: the user cancels).
#[derive(Debug, Default)]
struct Shell {
    said: Mutex<Vec<String>>,
    pins: Mutex<VecDeque<Option<&'static str>>>,
}

impl Shell {
    fn said(&self) -> Vec<String> {
        std::mem::take(&mut *self.said.lock().unwrap())
    }
}

impl PromptCallback for Shell {
    fn show(&self, prompt: &Prompt) {
        self.said.lock().unwrap().push(prompt.text());
    }
    fn request_pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
        self.said.lock().unwrap().push(request.text());
        self.pins.lock().unwrap().pop_front().flatten().map(|pin| Zeroizing::new(pin.to_owned()))
    }
}

/// `keys` plugged in, with a shell that answers the PIN requests with
/// `pins`.
fn at_hand(keys: &[&VirtualKey], pins: &[Option<&'static str>]) -> (SharedAuthenticator, Arc<Shell>) {
    let shell = Arc::new(Shell { said: Mutex::default(), pins: Mutex::new(pins.iter().copied().collect()) });
    let plugged = Plugged(VirtualKeys::new(keys.iter().map(|k| (*k).clone())));
    let key = CtapAuthenticator::with_keys(shell.clone(), plugged).with_find_timeout(Duration::from_millis(500));
    (SharedAuthenticator::new(key), shell)
}

/// A key with [`PIN`] set.
async fn key_with_pin() -> VirtualKey {
    let key = VirtualKey::new();
    key.set_pin(PIN).await.unwrap();
    key
}

fn pin_text(action: &str, tries: u32) -> String {
    format!("Enter your security key's PIN to {action} ({tries} tries left)")
}

fn approve(tries: u32) -> [String; 2] {
    [pin_text(&format!("approve: {CODE}"), tries), format!("Touch your security key to approve: {CODE}")]
}

/// A server that requires a key from `critical` on (WebAuthn needs a
/// domain: the issuer is `http://localhost:PORT`), `zoe` enrolled, and
/// `key` registered for her (with [`PIN`]).
struct Setup {
    env: Env,
    _device: common::Device,
    approver: Approver,
    account: Account,
}

async fn registered(key: &VirtualKey) -> Setup {
    let env = Env::start_configured(None, true, |c| c.webauthn_at = Some(Risk::Critical)).await;
    let (device, approver, account) = env.enrolled("zoe").await;
    let (held, shell) = at_hand(&[key], &[Some(PIN)]);
    let added = approver.add_security_key(&account.id, "Virtual key", &held).await.unwrap();
    assert_eq!(added.name, "Virtual key");
    assert_eq!(
        shell.said(),
        [pin_text("add it as \"Virtual key\"", 8), "Touch your security key to add it as \"Virtual key\"".to_owned()]
    );
    Setup { env, _device: device, approver, account }
}

impl Setup {
    /// A critical payment (it requires a key), synced: its agent, its
    /// `auth_req_id` and its id at the approver.
    async fn request(&self) -> (Agent, String, String) {
        let agent = self.env.agent().await;
        let auth_req_id = agent.request("zoe", &payment_details(), None).await;
        self.approver.sync(&self.account.id).await.unwrap();
        let item = self.approver.pending().await.unwrap().remove(0);
        assert!(item.request.requires.contains(&Requirement::Webauthn), "{:?}", item.request.requires);
        (agent, auth_req_id, item.request.id.as_str().to_owned())
    }

    async fn approve_with(&self, id: &str, key: &SharedAuthenticator) -> Result<DeliveryReport, Error> {
        let outcome =
            self.approver.decide_with(&self.account.id, id, Decision::Approve, None, Some(CODE), Some(key)).await?;
        Ok(outcome.delivery)
    }

    /// Nothing was signed, queued or sent: pending here and at the server.
    async fn assert_untouched(&self, id: &str, agent: &Agent, auth_req_id: &str) {
        assert!(self.approver.history().await.unwrap().is_empty(), "nothing signed");
        assert_eq!(self.approver.find_request(id, None).await.unwrap().status, LocalStatus::Pending);
        // Still pending at the server (`slow_down` when polled again soon).
        let (status, answer) = agent.poll(auth_req_id).await;
        assert_eq!(status, 400, "{answer}");
        assert!(matches!(answer["error"].as_str(), Some("authorization_pending" | "slow_down")), "{answer}");
    }
}

fn security_key_error(result: Result<DeliveryReport, Error>) -> AuthenticatorError {
    match result {
        Err(Error::SecurityKey(e)) => e,
        other => panic!("expected a security key error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_a_pin_registers_and_approves_a_critical_request() {
    let key = key_with_pin().await;
    let setup = registered(&key).await;
    assert_eq!(key.touches_asked(), 1);
    let (agent, auth_req_id, id) = setup.request().await;

    let (held, shell) = at_hand(&[&key], &[Some(PIN)]);
    let delivery = setup.approve_with(&id, &held).await.unwrap();
    let DeliveryReport::Delivered { result } = &delivery else { panic!("{delivery:?}") };
    assert_eq!(result.status.as_str(), "approved");
    assert_eq!(shell.said(), approve(8));
    assert_eq!(key.touches_asked(), 2);

    // The server verified the assertion (user present and verified, over
    // the statement hash): the agent gets its tokens.
    let (status, token) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(common::token_details(token["access_token"].as_str().unwrap()), payment_details());
    let list = setup.approver.security_keys(&setup.account.id).await.unwrap();
    assert!(list.credentials[0].last_used_at.is_some(), "{list:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_say_the_tries_left_then_lock_the_key_for_the_session() {
    let key = key_with_pin().await;
    let setup = registered(&key).await;
    let (agent, auth_req_id, id) = setup.request().await;
    let touches = key.touches_asked();

    // Each wrong PIN: the tries the key reported, less the one spent.
    let (held, shell) = at_hand(&[&key], &[Some("0000"), Some("1111")]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::PinInvalid { retries_left: Some(7) });
    assert_eq!(e.to_string(), "wrong PIN (7 tries left)");
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::PinInvalid { retries_left: Some(6) });
    assert_eq!(shell.said(), [pin_text(&format!("approve: {CODE}"), 8), pin_text(&format!("approve: {CODE}"), 7)]);
    assert_eq!(key.touches_asked(), touches, "no touch asked without the PIN");
    setup.assert_untouched(&id, &agent, &auth_req_id).await;

    // The third wrong PIN in a row blocks the PIN until the key is plugged
    // in again, and the right one is refused then.
    let (held, shell) = at_hand(&[&key], &[Some("2222"), Some(PIN)]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::PinAuthBlocked);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::PinAuthBlocked);
    assert_eq!(shell.said(), [pin_text(&format!("approve: {CODE}"), 6), pin_text(&format!("approve: {CODE}"), 5)]);
    setup.assert_untouched(&id, &agent, &auth_req_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_then_the_right_one_approves() {
    let key = key_with_pin().await;
    let setup = registered(&key).await;
    let (agent, auth_req_id, id) = setup.request().await;

    let (held, shell) = at_hand(&[&key], &[Some("0000"), Some(PIN)]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::PinInvalid { retries_left: Some(7) });
    setup.assert_untouched(&id, &agent, &auth_req_id).await;
    let delivery = setup.approve_with(&id, &held).await.unwrap();
    assert!(matches!(delivery, DeliveryReport::Delivered { .. }), "{delivery:?}");
    let mut expected = vec![pin_text(&format!("approve: {CODE}"), 8)];
    expected.extend(approve(7));
    assert_eq!(shell.said(), expected);
    assert_eq!(agent.wait_token(&auth_req_id).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_at_the_pin_prompt_signs_nothing() {
    let key = key_with_pin().await;
    let setup = registered(&key).await;
    let (agent, auth_req_id, id) = setup.request().await;
    let touches = key.touches_asked();

    let (held, shell) = at_hand(&[&key], &[None]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::Cancelled);
    assert_eq!(shell.said(), [pin_text(&format!("approve: {CODE}"), 8)]);
    assert_eq!(key.touches_asked(), touches);
    setup.assert_untouched(&id, &agent, &auth_req_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_holding_none_of_the_accounts_credentials_is_the_wrong_key() {
    let key = key_with_pin().await;
    let setup = registered(&key).await;
    let (agent, auth_req_id, id) = setup.request().await;

    let other = key_with_pin().await;
    let (held, shell) = at_hand(&[&other], &[Some(PIN)]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::WrongKey);
    // The key asks for a touch before it says it holds none.
    assert_eq!(shell.said(), approve(8));
    setup.assert_untouched(&id, &agent, &auth_req_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_never_touched_times_out_and_no_key_is_no_authenticator() {
    let key = key_with_pin().await;
    let setup = registered(&key).await;
    let (agent, auth_req_id, id) = setup.request().await;

    key.set_touch(Touch::Never);
    let (held, shell) = at_hand(&[&key], &[Some(PIN)]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::Timeout);
    assert_eq!(shell.said(), approve(8));

    let (held, shell) = at_hand(&[], &[]);
    let e = security_key_error(setup.approve_with(&id, &held).await);
    assert_eq!(e, AuthenticatorError::NoAuthenticator);
    assert_eq!(shell.said(), [format!("Plug in your security key (or hold it to the reader) to approve: {CODE}")]);
    setup.assert_untouched(&id, &agent, &auth_req_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_a_pin_cannot_verify_the_user() {
    let env = Env::start_configured(None, true, |c| c.webauthn_at = Some(Risk::Critical)).await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let key = VirtualKey::new();
    let (held, shell) = at_hand(&[&key], &[]);
    let e = approver.add_security_key(&account.id, "No PIN", &held).await.unwrap_err();
    assert!(matches!(e, Error::SecurityKey(AuthenticatorError::UserVerificationUnavailable)), "{e:?}");
    assert!(shell.said().is_empty());
    assert!(approver.security_keys(&account.id).await.unwrap().credentials.is_empty());
}
