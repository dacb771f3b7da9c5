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
    let (_device, approver, account) = env.enrolled("zoe").await;
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
