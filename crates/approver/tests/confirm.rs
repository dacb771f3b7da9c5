//! The confirmation rule through `Approver::decide` against the real server:
//! the core, not a shell, refuses an approval that needs the binding message
//! typed and lacks it or gets it wrong, before anything is signed.

mod common;

use common::{door_schema, email_details, trade_details, with_custom, Env, TestSchemas, TradeRequests, CODE};
use countersign_approver::{DeliveryReport, Error};
use countersign_protocol::device::{Decision, DenyReason};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_that_needs_the_code_is_refused_without_it_and_nothing_is_signed() {
    let env = Env::start().await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let agent = env.agent().await;
    // A limit order: high risk, and the server requires user verification.
    let trade = agent.request("zoe", &trade_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    let item = approver.pending().await.unwrap().remove(0);
    let id = item.request.id.as_str().to_owned();
    let view = approver.view(&id, None).await.unwrap();
    assert!(view.approvable && view.confirmation_required, "the view tells every shell to ask");

    let refused = [
        (None, "nothing typed"),
        (Some("   "), "only white space"),
        (Some("trade-4f7q"), "another case"),
        (Some("TRADE-4F7"), "a character short"),
        (Some("TRADE-4F7Q\u{200B}"), "an invisible character"),
    ];
    for (typed, what) in refused {
        let r = approver.decide(&account.id, &id, Decision::Approve, None, typed).await;
        match typed.map(str::trim).filter(|t| !t.is_empty()) {
            None => assert!(matches!(r, Err(Error::UserVerificationRequired)), "{what}: {r:?}"),
            Some(_) => assert!(matches!(r, Err(Error::BindingMessageMismatch)), "{what}: {r:?}"),
        }
    }
    // Nothing was signed, queued or sent.
    assert!(approver.history().await.unwrap().is_empty());
    assert!(approver.store().outbox().await.unwrap().is_empty());
    assert_eq!(agent.poll(&trade).await.1["error"], "authorization_pending");

    // Surrounding white space aside, the exact code approves.
    let typed = format!(" {CODE}\n");
    let outcome = approver.decide(&account.id, &id, Decision::Approve, None, Some(&typed)).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    assert_eq!(agent.wait_token(&trade).await.0, 200);

    // Medium risk without requirements: no code needed; a denial never needs one.
    let mail = agent.request("zoe", &email_details("bob@example.org"), None).await;
    agent.request("zoe", &trade_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    for view in approver.inbox_views().await.unwrap() {
        let id = view.item.request.id.as_str().to_owned();
        if view.item.request.risk.as_str() == "medium" {
            assert!(!view.confirmation_required);
            let outcome = approver.decide(&account.id, &id, Decision::Approve, None, None).await.unwrap();
            assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
        } else {
            assert!(view.confirmation_required);
            let outcome =
                approver.decide(&account.id, &id, Decision::Deny, Some(DenyReason::WrongDetails), None).await.unwrap();
            assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
        }
    }
    assert_eq!(agent.wait_token(&mail).await.0, 200);
}

/// The server rates a request low and requires nothing, but the display
/// schema this approver rendered it with says high: the approver's own
/// rating counts, and the code is needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detail_the_approver_rates_high_needs_the_code_even_if_the_server_says_low() {
    let mut high = door_schema("Door");
    high["x-countersign"]["risk"] = json!("high");
    let schemas = TestSchemas::new(with_custom(&[high]));
    let env = Env::start_with(Some(schemas.clone())).await;
    let (_device, approver) = env.user_and_approver("zoe").await;
    // Enrollment caches the schema that says high.
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    schemas.set(with_custom(&[door_schema("Door")]));

    let agent = env.agent_for(&["urn:acme:door"]).await;
    let auth_req_id = agent.request("zoe", &json!([{ "type": "urn:acme:door", "door": "Front" }]), None).await;
    approver.sync(&account.id).await.unwrap();
    let id = approver.pending().await.unwrap().remove(0).request.id.as_str().to_owned();
    let view = approver.view(&id, None).await.unwrap();
    assert_eq!(view.item.request.risk.as_str(), "low");
    assert!(view.item.request.requires.is_empty());
    assert!(view.confirmation_required, "rendered as high risk here");
    let r = approver.decide(&account.id, &id, Decision::Approve, None, None).await;
    assert!(matches!(r, Err(Error::RiskConfirmationRequired { ref risk }) if risk == "high"), "{r:?}");
    let r = approver.decide(&account.id, &id, Decision::Approve, None, Some("FRONT")).await;
    assert!(matches!(r, Err(Error::BindingMessageMismatch)), "{r:?}");
    assert!(approver.history().await.unwrap().is_empty(), "nothing signed");

    // With the code it is signed over what was shown; the server's schema
    // differs, so the request must be shown again, now low risk.
    let outcome = approver.decide(&account.id, &id, Decision::Approve, None, Some(CODE)).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::NeedsReview { .. }), "{:?}", outcome.delivery);
    let view = approver.view(&id, None).await.unwrap();
    assert!(!view.confirmation_required, "rendered with the server's schema again: low risk");
    let outcome = approver.decide(&account.id, &id, Decision::Approve, None, None).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    assert_eq!(agent.wait_token(&auth_req_id).await.0, 200);
}
