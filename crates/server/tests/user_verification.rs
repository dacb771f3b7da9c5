//! User verification (docs/protocol.md §8.1, §8.3): an approval of a
//! request that requires it must show how the person was verified (`amr`),
//! the server records it, and the tokens and introspection carry it; the
//! per-client policy decides which requests require it.

mod common;

use common::*;
use countersign_protocol::amr::Amr;
use countersign_protocol::device::{Decision, Requirement};
use countersign_server::ops;
use serde_json::{json, Value};

/// The payment the test agent asks for is critical: user verification is
/// required by the default policy.
#[tokio::test]
async fn an_approval_without_user_verification_is_refused_and_nothing_is_recorded() {
    let (server, dev, agent) = user_device_and_agent(server().await, "ann").await;
    let ack = agent.start(&server, "ann").await;
    let req = dev.pending(&server).await.remove(0);
    assert!(req.requires.contains(&Requirement::UserVerification));
    let now = server.clock_now();

    // No amr: the typed binding code is not verification.
    let bare = dev.submission_with_amr(&req, Decision::Approve, None, now, vec![]);
    let body = expect_err(dev.submit(&server, &req.id, &bare).await, 403, "step_up_required").await;
    assert!(body["error_description"].as_str().unwrap().contains("user verification"), "{body}");
    // An amr that is not a verification of the person.
    let weak = dev.submission_with_amr(&req, Decision::Approve, None, now, vec![Amr::Pwd, Amr::Swk]);
    expect_err(dev.submit(&server, &req.id, &weak).await, 403, "step_up_required").await;
    // Only registered methods: an unknown value (here one that hides `hwk`
    // behind a space) is refused, never stored or put in tokens.
    let sneaky = dev.submission_with_amr(&req, Decision::Approve, None, now, vec![Amr::User, Amr::from("x hwk")]);
    let body = expect_err(dev.submit(&server, &req.id, &sneaky).await, 400, "invalid_decision").await;
    assert!(body["error_description"].as_str().unwrap().contains("not an RFC 8176 method"), "{body}");
    // `hwk` is the server's to state, after a verified assertion.
    let claimed = dev.submission_with_amr(&req, Decision::Approve, None, now, vec![Amr::Hwk]);
    let body = expect_err(dev.submit(&server, &req.id, &claimed).await, 400, "invalid_decision").await;
    assert!(body["error_description"].as_str().unwrap().contains("hwk"), "{body}");

    // Nothing was recorded: still pending, and the agent still waits.
    assert_eq!(dev.pending(&server).await.len(), 1);
    expect_token_err(&server, &agent, &ack, "authorization_pending").await;

    // With the OS prompt's `user`, it is approved.
    let verified = dev.submission_with_amr(&req, Decision::Approve, None, now, vec![Amr::User]);
    assert_eq!(dev.submit(&server, &req.id, &verified).await.status(), 200);
    let tok: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    let access = verify_jwt(&server, tok["access_token"].as_str().unwrap(), "at+jwt").await;
    assert_eq!(access["amr"], json!(["user"]));
    let id = verify_jwt(&server, &id_token_str(&tok), "JWT").await;
    assert_eq!(id["amr"], json!(["user"]));
    let intro: Value = agent
        .post("/introspect", &[("token", tok["access_token"].as_str().unwrap().into())], server.clock_now())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["amr"], json!(["user"]));
    server.stop().await;
}

#[tokio::test]
async fn a_denial_that_states_a_verification_is_recorded_as_stated() {
    let (server, dev, agent) = user_device_and_agent(server().await, "eve").await;
    let ack = agent.start(&server, "eve").await;
    let req = dev.pending(&server).await.remove(0);
    let deny = dev.submission_with_amr(&req, Decision::Deny, None, server.clock_now(), vec![Amr::User]);
    assert_eq!(dev.submit(&server, &req.id, &deny).await.status(), 200);
    // The same denial again: identical; without the verification: another one.
    let again = dev.submission_with_amr(&req, Decision::Deny, None, server.clock_now() + 1, vec![Amr::User]);
    assert_eq!(dev.submit(&server, &req.id, &again).await.status(), 200);
    let other = dev.submission_with_amr(&req, Decision::Deny, None, server.clock_now() + 2, vec![]);
    expect_err(dev.submit(&server, &req.id, &other).await, 409, "decision_conflict").await;
    expect_token_err(&server, &agent, &ack, "access_denied").await;
    server.stop().await;
}

#[tokio::test]
async fn a_denial_never_needs_verification() {
    let (server, dev, agent) = user_device_and_agent(server().await, "bob").await;
    let ack = agent.start(&server, "bob").await;
    let req = dev.pending(&server).await.remove(0);
    let deny = dev.submission_with_amr(&req, Decision::Deny, None, server.clock_now(), vec![]);
    assert_eq!(dev.submit(&server, &req.id, &deny).await.status(), 200);
    expect_token_err(&server, &agent, &ack, "access_denied").await;
    server.stop().await;
}

#[tokio::test]
async fn a_resubmission_must_state_the_same_verification() {
    let (server, dev, agent) = user_device_and_agent(server().await, "cat").await;
    agent.start(&server, "cat").await;
    let req = dev.pending(&server).await.remove(0);
    let now = server.clock_now();
    let first = dev.submission_with_amr(&req, Decision::Approve, None, now, vec![Amr::User]);
    assert_eq!(dev.submit(&server, &req.id, &first).await.status(), 200);
    let again = dev.submission_with_amr(&req, Decision::Approve, None, now + 1, vec![Amr::User]);
    assert_eq!(dev.submit(&server, &req.id, &again).await.status(), 200, "an identical resubmission");
    let other = dev.submission_with_amr(&req, Decision::Approve, None, now + 2, vec![Amr::User, Amr::Pwd]);
    expect_err(dev.submit(&server, &req.id, &other).await, 409, "decision_conflict").await;
    server.stop().await;
}

#[tokio::test]
async fn the_client_policy_decides_which_requests_need_it() {
    let (server, dev, agent) = user_device_and_agent(server().await, "dan").await;
    let db = server.state.db.clone();

    // Never for this client: a critical payment is approved with the
    // device key alone, and its tokens carry no `amr`.
    ops::set_client_user_verification(&db, &agent.client_id, "never", None, &ops::Actor::Operator, 0).await.unwrap();
    let ack = agent.start(&server, "dan").await;
    let req = dev.pending(&server).await.remove(0);
    assert!(!req.requires.contains(&Requirement::UserVerification), "{:?}", req.requires);
    let bare = dev.submission_with_amr(&req, Decision::Approve, None, server.clock_now(), vec![]);
    assert_eq!(dev.submit(&server, &req.id, &bare).await.status(), 200);
    let tok: Value = agent.token(&server, ack["auth_req_id"].as_str().unwrap()).await.json().await.unwrap();
    let access = verify_jwt(&server, tok["access_token"].as_str().unwrap(), "at+jwt").await;
    assert!(access.get("amr").is_none(), "no verification shown, none claimed: {access}");
    let id = verify_jwt(&server, &id_token_str(&tok), "JWT").await;
    assert!(id.get("amr").is_none());

    // `acr_values` asking for it still does.
    let params = with(agent.request_params("dan"), "acr_values", "urn:countersign:acr:uv");
    assert_eq!(agent.bc_authorize(&server, &params).await.status(), 200);
    let req = dev.pending(&server).await.remove(0);
    assert!(req.requires.contains(&Requirement::UserVerification));
    assert_eq!(dev.decide(&server, &req, Decision::Deny, None).await.status(), 200);

    // Class `hwk`: a security key, so WebAuthn is required as well.
    ops::set_client_user_verification(&db, &agent.client_id, "high", Some("hwk"), &ops::Actor::Operator, 0)
        .await
        .unwrap();
    agent.start(&server, "dan").await;
    let req = dev.pending(&server).await.remove(0);
    assert!(req.requires.contains(&Requirement::UserVerification));
    assert!(req.requires.contains(&Requirement::Webauthn));
    let os_only = dev.submission_with_amr(&req, Decision::Approve, None, server.clock_now(), vec![Amr::User]);
    let body = expect_err(dev.submit(&server, &req.id, &os_only).await, 403, "step_up_required").await;
    assert!(body["error_description"].as_str().unwrap().contains("WebAuthn assertion"), "the key is missing: {body}");
    assert_eq!(dev.pending(&server).await[0].id, req.id, "still pending");
    assert_eq!(dev.decide(&server, &req, Decision::Deny, None).await.status(), 200);

    // Changing only the risk keeps the class: still a security key.
    ops::set_client_user_verification(&db, &agent.client_id, "critical", None, &ops::Actor::Operator, 0).await.unwrap();
    agent.start(&server, "dan").await;
    let req = dev.pending(&server).await.remove(0);
    assert!(req.requires.contains(&Requirement::Webauthn), "class hwk kept: {:?}", req.requires);
    assert_eq!(dev.decide(&server, &req, Decision::Deny, None).await.status(), 200);

    // Back to the server's setting; bad values are refused with a reason.
    ops::set_client_user_verification(&db, &agent.client_id, "default", Some("default"), &ops::Actor::Operator, 0)
        .await
        .unwrap();
    let e = ops::set_client_user_verification(&db, &agent.client_id, "sometimes", None, &ops::Actor::Operator, 0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("never, low, medium, high, critical"), "{e}");
    let e = ops::set_client_user_verification(&db, &agent.client_id, "high", Some("pwd"), &ops::Actor::Operator, 0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("user, hwk"), "{e}");
    let e = ops::set_client_user_verification(&db, "nobody", "high", None, &ops::Actor::Operator, 0).await.unwrap_err();
    assert!(e.to_string().contains("nobody"), "{e}");
    server.stop().await;
}
