//! Issue 16 end to end through the approver core: a scope-only request
//! (no `authorization_details`) with an `audience`, shown as an access
//! request, approved, signed over the scope descriptions, redeemed.

mod common;

use common::{wait_event, Device, Env};
use countersign_approver::display::AccessView;
use countersign_approver::store::LocalStatus;
use countersign_approver::{ApproverEvent, DeliveryReport};
use countersign_protocol::ciba::Audience;
use countersign_protocol::device::Decision;
use serde_json::{json, Value};

const API: &str = "https://api.example.test/mail";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_only_request_is_shown_approved_signed_and_redeemed() {
    let env = Env::start_configured(None, false, |c| c.apis = vec![Audience::new(API).unwrap()]).await;
    env.add_user("zoe").await;
    let (_device, approver) = Device::open_new().await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();

    let agent = env.agent().await;
    let auth_req_id = agent
        .authorize(&[
            ("scope", "openid email".to_owned()),
            ("login_hint", "zoe".to_owned()),
            ("binding_message", "MAIL-1".to_owned()),
            ("audience", API.to_owned()),
        ])
        .await;
    let ApproverEvent::NewRequest { item } =
        wait_event(&mut events, "the request", |e| matches!(e, ApproverEvent::NewRequest { .. })).await
    else {
        unreachable!()
    };
    assert!(item.request.is_scope_only());

    // What the user is shown: the API and each scope with its description.
    let view = approver.view(item.request.id.as_str(), None).await.unwrap();
    let access: &AccessView = &view.access;
    assert!(access.scope_only);
    assert_eq!(access.audience.as_deref(), Some(API));
    let scopes: Vec<(&str, Option<&str>)> =
        access.scopes.iter().map(|s| (s.scope.as_str(), s.description.as_deref())).collect();
    assert_eq!(
        scopes,
        [("openid", Some("Know who you are (your account identifier)")), ("email", Some("Read your email address"))]
    );
    assert!(view.approvable, "{view:?}");
    assert_eq!(view.display.warning_count, 0, "{:?}", view.display.warnings);

    let outcome = approver.decide(&account.id, item.request.id.as_str(), Decision::Approve, None, None).await.unwrap();
    let DeliveryReport::Delivered { result } = &outcome.delivery else { panic!("{:?}", outcome.delivery) };
    assert_eq!(result.status.as_str(), "approved");

    let (status, token) = agent.wait_token(&auth_req_id).await;
    assert_eq!(status, 200, "{token}");
    assert!(token.get("authorization_details").is_none(), "{token}");
    let payload = token["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let claims: Value = serde_json::from_slice(&countersign_protocol::jws::b64url_decode(&payload).unwrap()).unwrap();
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["scope"], "openid email");
    assert_eq!(claims["authorization_details"], json!([]));

    // The receipt proves which descriptions and which API were shown.
    let item = approver.find_request(item.request.id.as_str(), None).await.unwrap();
    assert_eq!(item.status, LocalStatus::Approved);
    let check = approver.verify_receipt(&account.id, item.request.id.as_str()).await.unwrap();
    assert!(check.is_valid(), "{:?}", check.problems);
    let entry = approver.history().await.unwrap().remove(0);
    let mut other = vec![item.request.clone(), item.request.clone()];
    other[0].scope_descriptions.insert("email".into(), "Read nothing".into());
    other[1].audience = None;
    for lookalike in &other {
        let check = countersign_approver::check_receipt(&account, Some(lookalike), &entry);
        assert!(!check.request_matches && !check.is_valid(), "{lookalike:?}");
    }
    run.shutdown().await;
}
