//! User verification in the approver core (docs/approver.md, "Verifying
//! the user"): an approval of a request that requires it asks the OS (here
//! `FixedVerifier`, which stands in for the prompt; crates/cli/tests/polkit.rs runs
//! polkit itself) after every other check and before signing, and the
//! signed decision states it (`amr`); without it nothing is signed.

mod common;

use common::*;
use countersign_approver::gate::VerificationStep;
use countersign_approver::store::LocalStatus;
use countersign_approver::verify::{Availability, UserVerifier, VerifyError};
use countersign_approver::{DeliveryReport, Error};
use countersign_protocol::amr::Amr;
use countersign_protocol::device::{Decision, Requirement};
use serde_json::{json, Value};
use std::sync::Arc;

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&countersign_protocol::jws::b64url_decode(payload).unwrap()).unwrap()
}

/// The capabilities the server recorded for the account's device.
async fn capabilities(env: &Env, account: &countersign_approver::store::Account) -> Vec<String> {
    let stored: String = sqlx::query_scalar("SELECT capabilities FROM devices WHERE device_id = $1")
        .bind(account.device_id.as_str())
        .fetch_one(&env.server().state.db)
        .await
        .unwrap();
    serde_json::from_str(&stored).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_asks_the_os_once_and_the_tokens_say_so() {
    let env = Env::start().await;
    let t = env.synced_trade("zoe", None).await;
    assert!(t.item.request.requires.contains(&Requirement::UserVerification), "a trade is high risk");
    // The approver announced that it can verify the user.
    assert_eq!(capabilities(&env, &t.account).await, vec!["push", "user_verification"]);
    let view = t.approver.view(t.item.request.id.as_str(), Some(&t.account.id)).await.unwrap();
    assert_eq!(view.user_verification, VerificationStep::OsPrompt { method: "fixed (tests only)".into() });
    assert!(view.approvable);

    let outcome = t
        .approver
        .decide(&t.account.id, t.item.request.id.as_str(), Decision::Approve, None, Some(CODE))
        .await
        .unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    assert_eq!(t.device.verifier.asked(), 1);
    // The prompt names the request: what, for whom, the code.
    assert_eq!(t.device.verifier.last_reason().unwrap(), "Approve: buy 10 ACME (limit) for Test Agent (TRADE-4F7Q)");
    // The signed decision states it, and the agent's tokens carry it.
    assert_eq!(claims(&outcome.history.decision_jws)["amr"], json!(["user"]));
    let (status, token) = t.agent.wait_token(&t.auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(claims(token["access_token"].as_str().unwrap())["amr"], json!(["user"]));
    assert_eq!(claims(token["id_token"].as_str().unwrap())["amr"], json!(["user"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_cancelled_prompt_signs_nothing() {
    for (answer, expected) in [
        (FixedAnswer::Refused, VerifyError::Refused("the test verifier refuses".into())),
        (FixedAnswer::Cancelled, VerifyError::Cancelled),
    ] {
        let env = Env::start().await;
        let (device, approver) = {
            let device = Device::with_verifier(answer);
            let approver = device.open().await;
            (device, approver)
        };
        let account = approver
            .enroll(&{
                env.add_user("ann").await;
                env.invitation("ann", 600).await
            })
            .await
            .unwrap();
        let agent = env.agent().await;
        let auth_req_id = agent.request("ann", &trade_details(), None).await;
        approver.sync(&account.id).await.unwrap();
        let item = approver.pending().await.unwrap().remove(0);

        let refused = approver.decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(CODE)).await;
        let Err(Error::UserVerification(e)) = &refused else { panic!("{refused:?}") };
        assert_eq!(e, &expected);
        assert!(refused.unwrap_err().to_string().ends_with("nothing was signed"));
        assert_eq!(device.verifier.asked(), 1);
        // Nothing signed, nothing queued, still pending here and there.
        assert!(approver.history().await.unwrap().is_empty());
        assert_eq!(approver.find_request(item.request.id.as_str(), None).await.unwrap().status, LocalStatus::Pending);
        let (status, body) = agent.poll(&auth_req_id).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("authorization_pending")));

        // Denying needs no verification and works.
        approver.decide(&account.id, item.request.id.as_str(), Decision::Deny, None, None).await.unwrap();
        assert_eq!(device.verifier.asked(), 1, "a denial never asks");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_os_verification_the_request_cannot_be_approved_here() {
    let env = Env::start().await;
    let device = Device::with_verifier(FixedAnswer::Unavailable);
    let approver = device.open().await;
    let account = approver
        .enroll(&{
            env.add_user("bob").await;
            env.invitation("bob", 600).await
        })
        .await
        .unwrap();
    let agent = env.agent().await;
    agent.request("bob", &trade_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    let item = approver.pending().await.unwrap().remove(0);

    // Not announced at enrollment.
    assert_eq!(capabilities(&env, &account).await, vec!["push"]);
    // The view says so before the user tries, with what would work.
    let view = approver.view(item.request.id.as_str(), Some(&account.id)).await.unwrap();
    assert!(!view.approvable);
    let VerificationStep::Unavailable { reason } = &view.user_verification else { panic!("{view:?}") };
    assert!(reason.contains("another device"), "{reason}");
    assert!(reason.contains("the test verifier is set to unavailable"), "{reason}");

    // No silent downgrade: typing the code is not enough.
    let refused = approver.decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(CODE)).await;
    assert!(matches!(refused, Err(Error::UserVerificationUnavailable(_))), "{refused:?}");
    assert_eq!(device.verifier.asked(), 0, "refused before asking");
    assert!(approver.history().await.unwrap().is_empty());
    approver.decide(&account.id, item.request.id.as_str(), Decision::Deny, None, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_does_not_require_it_never_asks() {
    let env = Env::start().await;
    let (device, approver, account) = env.enrolled("cat").await;
    let agent = env.agent().await;
    let auth_req_id = agent.request("cat", &email_details("ann@example.com"), None).await;
    approver.sync(&account.id).await.unwrap();
    let item = approver.pending().await.unwrap().remove(0);
    assert!(!item.request.requires.contains(&Requirement::UserVerification), "{:?}", item.request.requires);
    let view = approver.view(item.request.id.as_str(), Some(&account.id)).await.unwrap();
    assert_eq!(view.user_verification, VerificationStep::NotRequired);
    let outcome =
        approver.decide(&account.id, item.request.id.as_str(), Decision::Approve, None, Some(CODE)).await.unwrap();
    assert_eq!(device.verifier.asked(), 0);
    assert!(claims(&outcome.history.decision_jws).get("amr").is_none());
    let (_, token) = agent.wait_token(&auth_req_id).await;
    assert!(claims(token["access_token"].as_str().unwrap()).get("amr").is_none());
}

/// Says it can ask, then finds no one to answer (polkit without an agent:
/// `availability` cannot see that beforehand).
struct NoAgent;

impl UserVerifier for NoAgent {
    fn method(&self) -> &'static str {
        "no agent"
    }
    fn availability(&self) -> Availability {
        Availability::Available
    }
    fn verify(&self, _reason: &str) -> Result<Vec<Amr>, VerifyError> {
        Err(VerifyError::Unavailable("no authentication agent answered".into()))
    }
}

/// Verifies, but claims nothing an OS prompt proves (or claims a key).
struct Claims(Vec<Amr>);

impl UserVerifier for Claims {
    fn method(&self) -> &'static str {
        "claims"
    }
    fn availability(&self) -> Availability {
        Availability::Available
    }
    fn verify(&self, _reason: &str) -> Result<Vec<Amr>, VerifyError> {
        Ok(self.0.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_unavailable_when_asked_the_view_then_says_so() {
    let env = Env::start().await;
    env.add_user("fay").await;
    let device = Device::new();
    let approver = device.open_with(|c| c.user_verifier = Arc::new(NoAgent)).await;
    let account = approver.enroll(&env.invitation("fay", 600).await).await.unwrap();
    env.agent().await.request("fay", &trade_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    let id = approver.pending().await.unwrap().remove(0).request.id;
    let before = approver.view(id.as_str(), Some(&account.id)).await.unwrap();
    assert_eq!(before.user_verification, VerificationStep::OsPrompt { method: "no agent".into() });

    let refused = approver.decide(&account.id, id.as_str(), Decision::Approve, None, Some(CODE)).await;
    let Err(Error::UserVerificationUnavailable(why)) = &refused else { panic!("{refused:?}") };
    assert!(why.contains("no authentication agent answered") && why.contains("another device"), "{why}");
    assert!(approver.history().await.unwrap().is_empty());
    let after = approver.view(id.as_str(), Some(&account.id)).await.unwrap();
    assert!(!after.approvable);
    let VerificationStep::Unavailable { reason } = &after.user_verification else { panic!("{after:?}") };
    assert!(reason.contains("no authentication agent answered"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_os_verification_is_signed() {
    for claimed in [vec![], vec![Amr::Pwd], vec![Amr::User, Amr::Hwk]] {
        let env = Env::start().await;
        env.add_user("gus").await;
        let device = Device::new();
        let approver = device.open_with(|c| c.user_verifier = Arc::new(Claims(claimed.clone()))).await;
        let account = approver.enroll(&env.invitation("gus", 600).await).await.unwrap();
        env.agent().await.request("gus", &trade_details(), None).await;
        approver.sync(&account.id).await.unwrap();
        let id = approver.pending().await.unwrap().remove(0).request.id;
        let refused = approver.decide(&account.id, id.as_str(), Decision::Approve, None, Some(CODE)).await;
        let Err(Error::UserVerification(VerifyError::Failed(why))) = &refused else {
            panic!("{claimed:?}: {refused:?}")
        };
        assert!(why.contains("does not show an OS verification"), "{why}");
        assert!(approver.history().await.unwrap().is_empty(), "{claimed:?}: nothing signed");
    }
}
