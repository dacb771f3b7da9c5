//! Security keys (WebAuthn, `docs/protocol.md` §5.5, §8.2) with the
//! software authenticator (`webauthn::SoftAuthenticator`): what it makes
//! from the approver's options, then registration, approval, the list and
//! removal against the real server.

mod common;

use countersign_approver::webauthn::{
    assertion_options, issuer_origin, CreationChallengeResponse, PinRequest, Prompt, PromptCallback, Purpose,
    SoftAuthenticator,
};
use countersign_approver::{AuthenticatorError, SharedAuthenticator};
use countersign_protocol::device::{CredentialList, Issuer, RegistrationStart, StatementHash, WebauthnCredential};
use countersign_protocol::jws::{b64url_decode, b64url_encode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Records what the authenticator asked the shell to show.
#[derive(Debug, Default)]
struct Shown(Mutex<Vec<String>>);

impl PromptCallback for Shown {
    fn show(&self, prompt: &Prompt) {
        self.0.lock().unwrap().push(prompt.text());
    }
    fn request_pin(&self, _: &PinRequest) -> Option<Zeroizing<String>> {
        None
    }
}

fn example(name: &str) -> Value {
    let path = format!("{}/../protocol/testdata/device/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn client_data(credential: &Value) -> Value {
    let bytes = b64url_decode(credential["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The example registration's options and the credential list of its
/// server (`https://auth.example.com`).
fn example_server() -> (CreationChallengeResponse, CredentialList, url::Url) {
    let start: RegistrationStart = serde_json::from_value(example("webauthn-registration-start.json")).unwrap();
    let options: CreationChallengeResponse = serde_json::from_value(start.options).unwrap();
    let list: CredentialList = serde_json::from_value(example("webauthn-credentials.json")).unwrap();
    let origin = issuer_origin(&Issuer::new("https://auth.example.com").unwrap()).unwrap();
    (options, list, origin)
}

#[tokio::test]
async fn the_assertion_signs_the_statement_hash_for_the_issuers_origin() {
    let (options, mut list, origin) = example_server();
    let shown = Arc::new(Shown::default());
    let key = SharedAuthenticator::new(SoftAuthenticator::new().with_prompt(shown.clone()));

    let purpose = Purpose::Register { name: "YubiKey 5C".into() };
    let credential = key.register(origin.clone(), options, purpose).await.unwrap();
    let credential = serde_json::to_value(&credential).unwrap();
    let data = client_data(&credential);
    assert_eq!(data["type"], "webauthn.create");
    assert_eq!(data["challenge"], "y8Ff3S2kq0aOe1wUuJx4bV7nT6mRz9cL5dHs0pQvA1E");
    assert_eq!(url::Url::parse(data["origin"].as_str().unwrap()).unwrap().origin(), origin.origin());

    // The new key among the user's keys (the flagged example key left out).
    let id = credential["id"].as_str().unwrap().to_owned();
    list.credentials.push(WebauthnCredential {
        credential_id: id.clone(),
        name: "YubiKey 5C".into(),
        created_at: 1,
        last_used_at: None,
        flagged_at: None,
    });
    let hash = StatementHash::digest(b"{\"v\":2}");
    let challenge = b64url_decode(hash.as_str()).unwrap();
    assert_eq!(challenge.len(), 32);
    let options = assertion_options(&list, &origin, &challenge).unwrap();
    let purpose = Purpose::Approve { binding_message: "buy 10 AAPL".into() };
    let assertion = key.assert(origin.clone(), options, purpose).await.unwrap();
    let assertion = serde_json::to_value(&assertion).unwrap();
    assert_eq!(assertion["id"], id);
    let data = client_data(&assertion);
    assert_eq!(data["type"], "webauthn.get");
    assert_eq!(data["challenge"], hash.as_str(), "clientDataJSON.challenge is the statement hash");
    // User present and verified (flags UP | UV), rpIdHash of auth.example.com.
    let auth_data = b64url_decode(assertion["response"]["authenticatorData"].as_str().unwrap()).unwrap();
    assert_eq!(auth_data[32] & 0b101, 0b101);
    let rp_id_hash = ring::digest::digest(&ring::digest::SHA256, b"auth.example.com");
    assert_eq!(b64url_encode(&auth_data[..32]), b64url_encode(rp_id_hash.as_ref()));

    assert_eq!(
        *shown.0.lock().unwrap(),
        ["Touch your security key to add it as \"YubiKey 5C\"", "Touch your security key to approve: buy 10 AAPL"]
    );
}

#[tokio::test]
async fn a_relying_party_id_foreign_to_the_origin_is_refused_by_the_client() {
    let (options, mut list, _) = example_server();
    let other = issuer_origin(&Issuer::new("https://evil.example.net").unwrap()).unwrap();
    let key = SharedAuthenticator::new(SoftAuthenticator::new());
    let purpose = Purpose::Register { name: "k".into() };
    // rp.id auth.example.com is not evil.example.net's.
    let e = key.register(other.clone(), options, purpose).await.unwrap_err();
    assert_eq!(e, AuthenticatorError::Refused);
    // An assertion likewise (the list's origin made to agree, its rpId
    // not): the approver refuses to build the options...
    list.origin = "https://evil.example.net".into();
    list.credentials[0].flagged_at = None;
    let e = assertion_options(&list, &other, &[0; 32]).unwrap_err();
    assert!(matches!(e, Error::Protocol(_)) && e.to_string().contains("relying party"), "{e}");
    // ...and the library refuses such options made anyway.
    list.rp_id = "evil.example.net".into();
    let mut options = assertion_options(&list, &other, &[0; 32]).unwrap();
    options.public_key.rp_id = "auth.example.com".into();
    let purpose = Purpose::Approve { binding_message: "x".into() };
    assert_eq!(key.assert(other, options, purpose).await.unwrap_err(), AuthenticatorError::Refused);
}

// ---------------------------------------------------------------------------
// Against the real server
// ---------------------------------------------------------------------------

use common::{payment_details, Env, TradeRequests, CODE};
use countersign_approver::store::LocalStatus;
use countersign_approver::{DeliveryReport, Error};
use countersign_protocol::device::{Decision, DenyReason, DeviceErrorCode, Requirement, Risk};

/// A server whose issuer is `http://localhost:PORT` (WebAuthn needs a
/// domain) and that requires a security key from `critical` on, as in
/// production.
async fn webauthn_env() -> Env {
    Env::start_configured(None, true, |c| c.webauthn_at = Some(Risk::Critical)).await
}

/// A software key that records its prompts.
fn soft_key() -> (SharedAuthenticator, Arc<Shown>) {
    let shown = Arc::new(Shown::default());
    (SharedAuthenticator::new(SoftAuthenticator::new().with_prompt(shown.clone())), shown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_registered_approves_a_critical_request_is_listed_with_its_use_and_removed() {
    let env = webauthn_env().await;
    let (device, approver, account) = env.enrolled("zoe").await;
    let port = env.issuer.as_str().rsplit(':').next().unwrap().to_owned();

    let list = approver.security_keys(&account.id).await.unwrap();
    assert_eq!(list.rp_id, "localhost");
    assert_eq!(list.origin, format!("http://localhost:{port}"));
    assert!(list.credentials.is_empty());

    let (key, shown) = soft_key();
    let added = approver.add_security_key(&account.id, "Test key", &key).await.unwrap();
    assert_eq!(added.name, "Test key");
    assert_eq!((added.last_used_at, added.flagged_at), (None, None));
    assert_eq!(approver.security_keys(&account.id).await.unwrap().credentials, std::slice::from_ref(&added));

    // A critical payment: it requires the key.
    let agent = env.agent().await;
    let details = payment_details();
    let auth_req_id = agent.request("zoe", &details, None).await;
    approver.sync(&account.id).await.unwrap();
    let item = approver.pending().await.unwrap().remove(0);
    assert_eq!(item.request.risk, Risk::Critical);
    assert!(item.request.requires.contains(&Requirement::Webauthn), "{:?}", item.request.requires);
    let id = item.request.id.as_str();

    // Without a key: refused here, before anything is signed or sent.
    let refused = approver.decide(&account.id, id, Decision::Approve, None, Some(CODE)).await;
    let Err(e @ Error::UnsupportedRequirement(_)) = refused else { panic!("{refused:?}") };
    assert!(e.to_string().contains("this request requires a security key"), "{e}");
    assert!(approver.history().await.unwrap().is_empty(), "nothing signed");
    assert_eq!(approver.find_request(id, None).await.unwrap().status, LocalStatus::Pending);

    // With it: approved by the server, the agent gets its tokens.
    let outcome = approver.decide_with(&account.id, id, Decision::Approve, None, Some(CODE), Some(&key)).await.unwrap();
    let DeliveryReport::Delivered { result } = &outcome.delivery else { panic!("{:?}", outcome.delivery) };
    assert_eq!(result.status.as_str(), "approved");
    let (status, token) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(common::token_details(token["access_token"].as_str().unwrap()), details);
    // The key verified the user (its PIN or fingerprint): no OS prompt, and
    // the server states `hwk` after verifying the assertion.
    assert_eq!(device.verifier.asked(), 0);
    let payload = token["access_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&countersign_protocol::jws::b64url_decode(payload).unwrap()).unwrap();
    assert_eq!(claims["amr"], serde_json::json!(["hwk"]));
    let check = approver.verify_receipt(&account.id, id).await.unwrap();
    assert!(check.is_valid(), "{:?}", check.problems);
    assert_eq!(
        *shown.0.lock().unwrap(),
        ["Touch your security key to add it as \"Test key\"", &format!("Touch your security key to approve: {CODE}")]
    );

    // Listed with its use; removed; gone; removing it again is not found.
    let list = approver.security_keys(&account.id).await.unwrap();
    assert_eq!(list.credentials.len(), 1);
    assert_eq!(list.credentials[0].credential_id, added.credential_id);
    assert!(list.credentials[0].last_used_at.is_some(), "{list:?}");
    approver.remove_security_key(&account.id, &added.credential_id).await.unwrap();
    assert!(approver.security_keys(&account.id).await.unwrap().credentials.is_empty());
    let again = approver.remove_security_key(&account.id, &added.credential_id).await.unwrap_err();
    assert_eq!(again.server_code(), Some(&DeviceErrorCode::NotFound), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_usable_key_nothing_is_signed_and_a_denial_needs_none() {
    let env = webauthn_env().await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let agent = env.agent().await;
    agent.request("zoe", &payment_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    let id = approver.pending().await.unwrap().remove(0).request.id.as_str().to_owned();

    // A key, but none registered for the account.
    let (key, shown) = soft_key();
    let e = approver.decide_with(&account.id, &id, Decision::Approve, None, Some(CODE), Some(&key)).await.unwrap_err();
    assert!(matches!(e, Error::Invalid(_)) && e.to_string().contains("none is registered"), "{e}");
    assert!(shown.0.lock().unwrap().is_empty(), "the key was not asked");

    // A key registered, but another one at hand (its credential unknown to it).
    approver.add_security_key(&account.id, "Registered", &key).await.unwrap();
    let (other, _) = soft_key();
    let e =
        approver.decide_with(&account.id, &id, Decision::Approve, None, Some(CODE), Some(&other)).await.unwrap_err();
    assert!(matches!(e, Error::SecurityKey(_)) && e.to_string().contains("security key"), "{e}");
    assert!(approver.history().await.unwrap().is_empty(), "nothing signed");
    assert_eq!(approver.find_request(&id, None).await.unwrap().status, LocalStatus::Pending);

    // A denial needs no key.
    let outcome = approver.decide(&account.id, &id, Decision::Deny, Some(DenyReason::NotMe), None).await.unwrap();
    let DeliveryReport::Delivered { result } = &outcome.delivery else { panic!("{:?}", outcome.delivery) };
    assert_eq!(result.status.as_str(), "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_name_is_refused_before_any_call() {
    let env = webauthn_env().await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let (key, shown) = soft_key();
    // The server is unreachable: a call would fail with a network error.
    env.proxy.set_down(true);
    for name in ["", "   ", "a\u{202e}b", "line\nbreak", &"k".repeat(65)] {
        let e = approver.add_security_key(&account.id, name, &key).await.unwrap_err();
        assert!(
            matches!(e, Error::Invalid(_)) && e.to_string().starts_with("security key name refused"),
            "{name:?}: {e}"
        );
    }
    assert!(shown.0.lock().unwrap().is_empty(), "the key was not asked");
    let e = approver.add_security_key(&account.id, "Fine name", &key).await.unwrap_err();
    assert!(matches!(e, Error::Network(_)), "a good name does reach for the server: {e}");
    let e = approver.remove_security_key(&account.id, "../requests").await.unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
}

// ---------------------------------------------------------------------------
// An assertion left in the outbox and the key's signature counter
// ---------------------------------------------------------------------------

use common::ProxySwitch;
use countersign_approver::store::{Delivery, OutboxEntry, DB_FILE};
use countersign_approver::webauthn::{
    Authenticator, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};
use countersign_approver::Approver;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A software key that, when armed, takes the server down right after its
/// next assertion: the approval is signed (the list of keys came from the
/// server), its delivery fails and it waits in the outbox.
struct DownAfterAssertion {
    key: SoftAuthenticator,
    switch: ProxySwitch,
    armed: Arc<AtomicBool>,
}

impl Authenticator for DownAfterAssertion {
    fn register(
        &mut self,
        origin: &url::Url,
        options: CreationChallengeResponse,
        purpose: &Purpose,
    ) -> Result<RegisterPublicKeyCredential, AuthenticatorError> {
        self.key.register(origin, options, purpose)
    }

    fn assert(
        &mut self,
        origin: &url::Url,
        options: RequestChallengeResponse,
        purpose: &Purpose,
    ) -> Result<PublicKeyCredential, AuthenticatorError> {
        let made = self.key.assert(origin, options, purpose);
        if self.armed.swap(false, Ordering::SeqCst) {
            self.switch.set_down(true);
        }
        made
    }
}

/// The user `zoe` with a registered key ([`DownAfterAssertion`]) and two
/// critical payments A and B, both synced.
struct TwoPayments {
    env: Env,
    device: common::Device,
    approver: Approver,
    account: countersign_approver::store::Account,
    key: SharedAuthenticator,
    shown: Arc<Shown>,
    armed: Arc<AtomicBool>,
    agent: common::Agent,
    /// (request id, auth_req_id) of A, then B.
    requests: [(String, String); 2],
}

async fn two_payments() -> TwoPayments {
    let env = webauthn_env().await;
    let (device, approver, account) = env.enrolled("zoe").await;
    let shown = Arc::new(Shown::default());
    let armed = Arc::new(AtomicBool::new(false));
    let key = SharedAuthenticator::new(DownAfterAssertion {
        key: SoftAuthenticator::new().with_prompt(shown.clone()),
        switch: env.proxy.switch(),
        armed: armed.clone(),
    });
    approver.add_security_key(&account.id, "Test key", &key).await.unwrap();
    let agent = env.agent().await;
    let mut requests = Vec::new();
    for _ in 0..2 {
        let auth_req_id = agent.request("zoe", &payment_details(), None).await;
        approver.sync(&account.id).await.unwrap();
        let known: Vec<&String> = requests.iter().map(|(id, _)| id).collect();
        let item =
            approver.pending().await.unwrap().into_iter().find(|i| !known.contains(&&i.request.id.as_str().to_owned()));
        requests.push((item.unwrap().request.id.as_str().to_owned(), auth_req_id));
    }
    let requests: [(String, String); 2] = requests.try_into().unwrap();
    TwoPayments { env, device, approver, account, key, shown, armed, agent, requests }
}

impl TwoPayments {
    async fn approve(&self, request_id: &str) -> Result<countersign_approver::DecisionOutcome, Error> {
        self.approver
            .decide_with(&self.account.id, request_id, Decision::Approve, None, Some(CODE), Some(&self.key))
            .await
    }

    /// Approves A; the server goes away once the key has signed: A waits
    /// in the outbox, its assertion carrying the key's counter 1.
    async fn approve_a_then_lose_the_server(&self) {
        self.armed.store(true, Ordering::SeqCst);
        let outcome = self.approve(&self.requests[0].0).await.unwrap();
        assert!(matches!(outcome.delivery, DeliveryReport::Retrying { .. }), "{:?}", outcome.delivery);
        assert_eq!(outcome.history.delivery, Delivery::Queued);
    }

    async fn delivery_of(&self, index: usize) -> Delivery {
        let id = &self.requests[index].0;
        self.approver.history().await.unwrap().into_iter().find(|h| &h.request_id == id).unwrap().delivery
    }

    /// The key is not flagged, both payments are approved at the server
    /// (the agent gets its tokens), nothing is left queued.
    async fn assert_both_approved_and_key_unflagged(&self) {
        let list = self.approver.security_keys(&self.account.id).await.unwrap();
        assert_eq!(list.credentials.len(), 1);
        assert_eq!(list.credentials[0].flagged_at, None, "the user's own key flagged as cloned: {list:?}");
        for (i, (_, auth_req_id)) in self.requests.iter().enumerate() {
            assert_eq!(self.delivery_of(i).await, Delivery::Delivered, "request {i}");
            let (status, token) = self.agent.wait_token(auth_req_id).await;
            assert_eq!(status, 200, "request {i}: {token}");
        }
        assert!(self.approver.store().outbox().await.unwrap().is_empty());
        for (id, _) in &self.requests {
            assert_eq!(self.approver.find_request(id, None).await.unwrap().status, LocalStatus::Approved);
        }
    }

    fn touches(&self) -> usize {
        self.shown.0.lock().unwrap().iter().filter(|t| t.starts_with("Touch your security key to approve")).count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_queued_with_the_key_reaches_the_server_before_the_keys_next_one() {
    let t = two_payments().await;
    t.approve_a_then_lose_the_server().await;

    // The server is back; B with the same key (counter 2), delivered at
    // once. A (counter 1) went first: sent after B, the server would have
    // seen the counter go backwards and flagged the key.
    t.env.proxy.set_down(false);
    let outcome = t.approve(&t.requests[1].0).await.unwrap();
    let DeliveryReport::Delivered { result } = &outcome.delivery else { panic!("{:?}", outcome.delivery) };
    assert_eq!(result.status.as_str(), "approved");
    t.approver.flush_outbox(Duration::from_secs(5)).await.unwrap();
    t.assert_both_approved_and_key_unflagged().await;
    assert_eq!(t.touches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_an_approval_made_with_the_key_cannot_be_sent_the_next_one_is_refused_unsigned() {
    let t = two_payments().await;
    t.approve_a_then_lose_the_server().await;

    // The server still cannot be reached: B is refused before the key is
    // asked, nothing is signed or queued for it.
    let e = t.approve(&t.requests[1].0).await.unwrap_err();
    assert!(matches!(e, Error::Network(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("an earlier approval made with a security key"), "{text}");
    assert!(text.contains(&t.requests[0].0), "names the approval waiting: {text}");
    assert!(text.contains("nothing was signed"), "{text}");
    assert_eq!(t.touches(), 1, "the key was not asked");
    let history = t.approver.history().await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!((history[0].request_id.as_str(), history[0].delivery), (t.requests[0].0.as_str(), Delivery::Queued));
    let outbox = t.approver.store().outbox().await.unwrap();
    assert_eq!(outbox.iter().map(|e| e.request_id.as_str()).collect::<Vec<_>>(), [t.requests[0].0.as_str()]);
    assert_eq!(t.approver.find_request(&t.requests[1].0, None).await.unwrap().status, LocalStatus::Pending);
    assert_eq!(t.approver.find_request(&t.requests[0].0, None).await.unwrap().status, LocalStatus::Sending);

    // Reachable again: A is sent first, then B is made and sent.
    t.env.proxy.set_down(false);
    let outcome = t.approve(&t.requests[1].0).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    t.assert_both_approved_and_key_unflagged().await;
    assert_eq!(t.touches(), 2);
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The outbox row of `entry` written back (as `Store::record_decision`
/// writes it), due at `next_attempt_at`.
async fn put_back(pool: &sqlx::SqlitePool, entry: &OutboxEntry, next_attempt_at: u64) {
    sqlx::query(
        "INSERT INTO outbox (account_id, request_id, history_id, submission_json, expires_at, attempts, \
         next_attempt_at, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.account_id)
    .bind(&entry.request_id)
    .bind(entry.history_id)
    .bind(&entry.submission_json)
    .bind(entry.expires_at as i64)
    .bind(i64::from(entry.attempts))
    .bind(next_attempt_at as i64)
    .bind(&entry.last_error)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_never_sends_a_later_assertion_of_a_key_before_an_earlier_one() {
    let t = two_payments().await;
    let db = t.device.data_dir().join(DB_FILE);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    t.approve_a_then_lose_the_server().await;

    // Two assertions of the key queued at once (a store written before the
    // approvers waited, or another process approving in between): A's
    // entry is set aside while B is made (counter 2) and queued too.
    let a = t.approver.store().outbox().await.unwrap().remove(0);
    sqlx::query("DELETE FROM outbox WHERE request_id = $1").bind(&a.request_id).execute(&pool).await.unwrap();
    t.env.proxy.set_down(false);
    t.approve_b_then_lose_the_server().await;
    // A back, and the backoff has put B's next attempt before A's.
    put_back(&pool, &a, unix_now() + 3).await;
    sqlx::query("UPDATE outbox SET next_attempt_at = 0 WHERE request_id = $1")
        .bind(&t.requests[1].0)
        .execute(&pool)
        .await
        .unwrap();

    // Still unreachable: asked to deliver B, the approver tries A first, and
    // B waits behind it.
    let report = t.approver.deliver(&t.account.id, &t.requests[1].0).await.unwrap();
    let DeliveryReport::Retrying { error, .. } = &report else { panic!("{report:?}") };
    assert!(error.contains("an earlier approval made with a security key"), "{error}");

    // Reachable, B due and A not yet: B is not sent before A.
    t.env.proxy.set_down(false);
    sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE request_id = $2")
        .bind((unix_now() + 3) as i64)
        .bind(&a.request_id)
        .execute(&pool)
        .await
        .unwrap();
    let delivered = t.approver.deliver_due().await.unwrap();
    assert!(delivered.is_empty(), "{delivered:?}");
    assert_eq!((t.delivery_of(0).await, t.delivery_of(1).await), (Delivery::Queued, Delivery::Queued));
    let list = t.approver.security_keys(&t.account.id).await.unwrap();
    assert_eq!(list.credentials[0].last_used_at, None, "the server has seen no assertion yet");

    // Once A is due, A then B.
    let left = t.approver.flush_outbox(Duration::from_secs(10)).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    t.assert_both_approved_and_key_unflagged().await;
    pool.close().await;
}

impl TwoPayments {
    /// [`TwoPayments::approve_a_then_lose_the_server`] for B.
    async fn approve_b_then_lose_the_server(&self) {
        self.armed.store(true, Ordering::SeqCst);
        let outcome = self.approve(&self.requests[1].0).await.unwrap();
        assert!(matches!(outcome.delivery, DeliveryReport::Retrying { .. }), "{:?}", outcome.delivery);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_hangs_for_one_account_does_not_hold_up_another_accounts_approval_with_a_key() {
    let t = two_payments().await;
    let db = t.device.data_dir().join(DB_FILE);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    t.approve_a_then_lose_the_server().await;
    t.env.proxy.set_down(false);

    // zoe's server now takes connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hanging.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = accepted.clone();
    let hang = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = hanging.accept().await {
            held.push(conn);
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut endpoint = url::Url::parse(&t.account.device_endpoint.to_string()).unwrap();
    endpoint.set_host(Some("127.0.0.1")).unwrap();
    endpoint.set_port(Some(port)).unwrap();
    sqlx::query("UPDATE accounts SET device_endpoint = $1 WHERE id = $2")
        .bind(endpoint.as_str())
        .bind(&t.account.id)
        .execute(&pool)
        .await
        .unwrap();
    let zoe = {
        let (approver, account, request) = (t.approver.clone(), t.account.id.clone(), t.requests[0].0.clone());
        tokio::spawn(async move { approver.deliver(&account, &request).await })
    };
    let waited = std::time::Instant::now();
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(waited.elapsed() < Duration::from_secs(10), "zoe's decision was never posted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // bob, on the same approver with his own key, approves a payment while
    // zoe's approval hangs in its post (30 s timeout).
    t.env.add_user("bob").await;
    let bob = t.approver.enroll(&t.env.invitation("bob", 600).await).await.unwrap();
    let (bob_key, _) = soft_key();
    t.approver.add_security_key(&bob.id, "Bob's key", &bob_key).await.unwrap();
    let auth_req_id = t.agent.request("bob", &payment_details(), None).await;
    t.approver.sync(&bob.id).await.unwrap();
    let item = t.approver.pending().await.unwrap().into_iter().find(|i| i.account_id == bob.id).unwrap();
    let decided =
        t.approver.decide_with(&bob.id, item.request.id.as_str(), Decision::Approve, None, Some(CODE), Some(&bob_key));
    let outcome = tokio::time::timeout(Duration::from_secs(5), decided)
        .await
        .expect("bob's approval waited for zoe's hanging delivery")
        .unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    let (status, token) = t.agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert!(!zoe.is_finished(), "zoe's delivery is still hanging");
    zoe.abort();
    hang.abort();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_approval_made_with_the_key_that_can_never_be_sent_is_ended_and_no_longer_blocks_the_key() {
    let t = two_payments().await;
    let db = t.device.data_dir().join(DB_FILE);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    t.approve_a_then_lose_the_server().await;

    // A's stored JWS damaged (its signature no longer matches).
    let a = t.approver.store().outbox().await.unwrap().remove(0);
    let mut submission: Value = serde_json::from_str(&a.submission_json).unwrap();
    let jws = submission["decision_jws"].as_str().unwrap().to_owned();
    let (signed, _) = jws.rsplit_once('.').unwrap();
    submission["decision_jws"] = Value::String(format!("{signed}.{}", b64url_encode([7u8; 64])));
    sqlx::query("UPDATE outbox SET submission_json = $1 WHERE request_id = $2")
        .bind(submission.to_string())
        .bind(&a.request_id)
        .execute(&pool)
        .await
        .unwrap();

    // Reachable again: A is ended for good (never sent), and B is made and
    // sent instead of being refused until A expires.
    t.env.proxy.set_down(false);
    let outcome = t.approve(&t.requests[1].0).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    assert_eq!(t.delivery_of(0).await, Delivery::Rejected);
    let history = t.approver.history().await.unwrap();
    let ended = history.iter().find(|h| h.request_id == a.request_id).unwrap();
    assert_eq!((ended.server_status, ended.server_answer.as_deref()), (None, None), "never reached the server");
    let item = t.approver.find_request(&a.request_id, None).await.unwrap();
    assert_eq!(item.status, LocalStatus::Rejected);
    let reason = item.status_reason.unwrap_or_default();
    assert!(reason.contains("can never be sent") && reason.contains("outbox JWS"), "{reason}");
    assert_eq!(t.delivery_of(1).await, Delivery::Delivered);
    assert!(t.approver.store().outbox().await.unwrap().is_empty());
    let (status, token) = t.agent.wait_token(&t.requests[1].1).await;
    assert_eq!(status, 200, "{token}");
    let list = t.approver.security_keys(&t.account.id).await.unwrap();
    assert_eq!(list.credentials[0].flagged_at, None, "{list:?}");
    assert_eq!(t.touches(), 2);
    pool.close().await;
}
