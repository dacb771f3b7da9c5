//! Display schemas in the approver: fetched from the server, cached pinned by
//! hash, fetched again when they change (and the change noted), every request
//! rendered through `countersign-details`, and what is signed following what
//! was shown.

mod common;

use common::{
    door_schema, email_details, trade_details, wait_event, with_custom, Device, Env, TestSchemas, TradeRequests,
    STOCK_TRADE,
};
use countersign_approver::decision::REVIEW;
use countersign_approver::store::{Delivery, LocalStatus};
use countersign_approver::{ApproverEvent, DeliveryReport, Error};
use countersign_details::{FieldValue, Registry, RenderOptions, Renderer, RequestStatus, WarningCode};
use countersign_protocol::device::{Decision, DenyReason, SchemaHash};
use countersign_server::RegistrySchemas;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const DOOR: &str = "urn:acme:door";

fn door(name: &str) -> serde_json::Value {
    json!([{ "type": DOOR, "door": name }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_rendered_with_the_schemas_the_server_publishes() {
    let env = Env::with_user("zoe").await;
    let device = Device::new();
    let approver =
        device.open_with(|c| c.render = RenderOptions { locale: "de-DE".into(), utc_offset_minutes: 60 }).await;
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();

    // Fetched at enrollment and cached, each schema pinned by its hash.
    let builtin = Registry::builtin().unwrap();
    let cached = approver.store().schemas(env.issuer.as_str()).await.unwrap();
    assert_eq!(cached.len(), builtin.schemas_document()["schemas"].as_array().unwrap().len());
    for c in &cached {
        let schema: serde_json::Value = serde_json::from_str(c.schema_json.as_deref().unwrap()).unwrap();
        assert_eq!(c.hash, SchemaHash::of_schema(&schema).unwrap(), "{}", c.detail_type);
    }
    assert!(cached.iter().any(|c| c.detail_type == STOCK_TRADE && c.hash == builtin.schema_hash(STOCK_TRADE)));

    let agent = env.agent().await;
    let trade_auth = agent.request("zoe", &trade_details(), None).await;
    agent.request("zoe", &email_details("bob@example.org"), None).await;
    approver.sync(&account.id).await.unwrap();

    let views = approver.inbox_views().await.unwrap();
    assert_eq!(views.len(), 2);
    // A first screen: the newest only, the same rendering.
    let newest = approver.inbox_views_up_to(Some(1)).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(serde_json::to_value(&newest[0]).unwrap(), serde_json::to_value(&views[0]).unwrap());
    assert_eq!(approver.inbox_views_up_to(Some(5)).await.unwrap().len(), 2);
    let trade = views.iter().find(|v| v.display.details[0].type_name == STOCK_TRADE).unwrap();
    let d = &trade.display.details[0];
    assert_eq!((d.renderer, d.title.as_str()), (Renderer::Schema, "Stock trade"));
    assert_eq!(d.summary.as_ref().unwrap().text, "buy 10 ACME (limit)");
    assert!(trade.approvable && trade.display.approvable);
    assert_eq!(trade.display.display_schemas, builtin.display_schemas(&trade.item.request.authorization_details));
    // The configured locale: German digit grouping beside the exact amount.
    let price = d.fields.iter().find(|f| f.key == "limit_price").unwrap();
    let FieldValue::Money { text, display, .. } = &price.value else { panic!("{price:?}") };
    assert_eq!((text.as_str(), display.as_str()), ("123.50 EUR", "123,50 EUR"));

    // The e-mail's subject carries a bidi override: flagged, never altered.
    let email = views.iter().find(|v| v.item.request.id != trade.item.request.id).unwrap();
    let subject = email.display.details[0].fields.iter().find(|f| f.key == "subject").unwrap();
    assert!(subject.warnings.iter().any(|w| w.code == WarningCode::BidiControl), "{subject:?}");
    assert!(matches!(&subject.value, FieldValue::Scalar { text, .. } if text.contains('\u{202e}')));

    // What shells receive serializes cleanly.
    let json = serde_json::to_value(&views[0]).unwrap();
    assert!(json["display"]["details"][0]["title"].is_string() && json["approvable"].is_boolean(), "{json}");
    assert_eq!(json["item"]["request"]["id"], views[0].item.request.id.as_str());

    // The statement carries those hashes: the server agrees and records it.
    let id = trade.item.request.id.as_str().to_owned();
    let view = approver.view(&id, None).await.unwrap();
    assert_eq!(view.display, trade.display);
    let outcome = approver.decide(&account.id, &id, Decision::Approve, None, Some(common::CODE)).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    assert_eq!(agent.wait_token(&trade_auth).await.0, 200);
    assert!(!approver.view(&id, None).await.unwrap().approvable, "decided: no longer approvable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_schema_is_fetched_again_and_the_request_shown_again_before_approval() {
    let schemas = TestSchemas::new(with_custom(&[door_schema("Door")]));
    let env = Env::start_with(Some(schemas.clone())).await;
    let (_device, approver) = env.user_and_approver("zoe").await;
    let mut events = approver.subscribe();
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    let v1 = SchemaHash::of_schema(&door_schema("Door")).unwrap();
    let v2 = SchemaHash::of_schema(&door_schema("Door to open")).unwrap();

    let agent = env.agent_for(&[DOOR]).await;
    let auth_req_id = agent.request("zoe", &door("Front"), None).await;
    approver.sync(&account.id).await.unwrap();
    let id = approver.pending().await.unwrap().remove(0).request.id.as_str().to_owned();
    let shown = approver.view(&id, None).await.unwrap();
    assert_eq!(shown.display.details[0].fields[0].label, "Door");
    assert_eq!(shown.display.display_schemas[DOOR], v1);

    // The operator changes a label; the user approves what they saw.
    schemas.set(with_custom(&[door_schema("Door to open")]));
    let outcome = approver.decide(&account.id, &id, Decision::Approve, None, None).await.unwrap();
    assert_eq!(outcome.delivery, DeliveryReport::NeedsReview { reason: REVIEW.into() });
    assert_eq!(outcome.history.delivery, Delivery::Rejected);
    // Fetched again, the change noted.
    let changed = wait_event(&mut events, "schema changed", |e| matches!(e, ApproverEvent::SchemaChanged { .. })).await;
    let ApproverEvent::SchemaChanged { detail_type, previous, current, issuer } = changed else { unreachable!() };
    assert_eq!(
        (detail_type.as_str(), previous, current, issuer.as_str()),
        (DOOR, v1.clone(), Some(v2.clone()), env.issuer.as_str())
    );
    let review =
        wait_event(&mut events, "review required", |e| matches!(e, ApproverEvent::ReviewRequired { .. })).await;
    assert!(matches!(&review, ApproverEvent::ReviewRequired { request_id, .. } if *request_id == id), "{review:?}");
    let cached = approver.store().schemas(env.issuer.as_str()).await.unwrap();
    assert_eq!(cached.iter().find(|c| c.detail_type == DOOR).unwrap().hash, v2);
    // Nothing was re-signed: the request is pending again, nothing queued.
    let item = approver.find_request(&id, None).await.unwrap();
    assert_eq!((item.status, item.status_reason.as_deref()), (LocalStatus::Pending, Some(REVIEW)));
    assert!(approver.store().outbox().await.unwrap().is_empty());

    // Approving before it is shown again is refused; denying would not be.
    let r = approver.decide(&account.id, &id, Decision::Approve, None, None).await;
    assert!(matches!(r, Err(Error::ReviewRequired(ref r)) if *r == id), "{r:?}");
    let again = approver.view(&id, None).await.unwrap();
    assert_eq!(again.display.details[0].fields[0].label, "Door to open");
    assert_eq!(again.display.display_schemas[DOOR], v2);
    let outcome = approver.decide(&account.id, &id, Decision::Approve, None, None).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    assert_eq!(agent.wait_token(&auth_req_id).await.0, 200);
    assert_eq!(approver.history().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cache_is_fetched_again_when_a_request_arrives() {
    let schemas = TestSchemas::new(with_custom(&[door_schema("Door")]));
    let env = Env::start_with(Some(schemas.clone())).await;
    env.add_user("zoe").await;
    let device = Device::new();
    let approver = device.open_with(|c| c.schema_max_age = Duration::from_secs(60)).await;
    let mut events = approver.subscribe();
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    let agent = env.agent_for(&[DOOR]).await;

    schemas.set(with_custom(&[door_schema("Door to open")]));
    // Fresh cache: not fetched, the request is shown with the cached schema.
    agent.request("zoe", &door("Front"), None).await;
    approver.sync(&account.id).await.unwrap();
    assert_eq!(approver.inbox_views().await.unwrap()[0].display.details[0].fields[0].label, "Door");

    // A minute later the next request brings a fetch, and the change is noted.
    device.clock.advance(61);
    env.advance_server(61);
    agent.request("zoe", &door("Back"), None).await;
    approver.sync(&account.id).await.unwrap();
    let e = wait_event(&mut events, "schema changed", |e| matches!(e, ApproverEvent::SchemaChanged { .. })).await;
    assert!(matches!(&e, ApproverEvent::SchemaChanged { detail_type, .. } if detail_type == DOOR), "{e:?}");
    let views = approver.inbox_views().await.unwrap();
    assert_eq!(views.len(), 2);
    assert!(views.iter().all(|v| v.display.details[0].fields[0].label == "Door to open"));
    let changes = approver.refresh_schemas(&account.id).await.unwrap();
    assert!(changes.is_empty(), "{changes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unapprovable_request_can_only_be_denied() {
    let schemas = TestSchemas::new(RegistrySchemas::builtin().unwrap());
    // A server that lets through what the schema refuses.
    schemas.lenient.store(true, Ordering::SeqCst);
    let env = Env::start_with(Some(schemas.clone())).await;
    let (_device, approver, account) = env.enrolled("zoe").await;
    let agent = env.agent().await;
    let limit_without_price =
        json!([{"type": STOCK_TRADE, "action": "buy", "symbol": "ACME", "quantity": "10", "order_type": "limit"}]);
    let auth_req_id = agent.request("zoe", &limit_without_price, None).await;
    approver.sync(&account.id).await.unwrap();
    let id = approver.pending().await.unwrap().remove(0).request.id.as_str().to_owned();

    let view = approver.view(&id, None).await.unwrap();
    assert!(!view.approvable && !view.display.approvable);
    assert_eq!(view.display.status, RequestStatus::Invalid);
    let violation = view.display.details[0].warnings.iter().find(|w| w.code == WarningCode::SchemaViolation).unwrap();
    assert_eq!(violation.path.as_deref(), Some("/limit_price"));

    let r = approver.decide(&account.id, &id, Decision::Approve, None, Some(common::CODE)).await;
    assert!(matches!(&r, Err(Error::NotApprovable { request_id, .. }) if *request_id == id), "{r:?}");
    assert!(approver.history().await.unwrap().is_empty(), "nothing signed");
    let outcome =
        approver.decide(&account.id, &id, Decision::Deny, Some(DenyReason::WrongDetails), None).await.unwrap();
    assert!(matches!(outcome.delivery, DeliveryReport::Delivered { .. }), "{:?}", outcome.delivery);
    let (status, body) = agent.wait_token(&auth_req_id).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("access_denied")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_schema_that_does_not_match_its_hash_is_not_used() {
    let env = Env::start().await;
    let (device, approver, account) = env.enrolled("zoe").await;
    env.agent().await.request("zoe", &trade_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    approver.close().await;

    // Someone edits a label in the cache, keeping the pinned hash.
    let path = device.data_dir().join(countersign_approver::store::DB_FILE);
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let edited = sqlx::query(
        "UPDATE schema_cache SET schema_json = replace(schema_json, '\"Symbol\"', '\"Free money\"') \
         WHERE detail_type = $1",
    )
    .bind(STOCK_TRADE)
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(edited.rows_affected(), 1);
    db.close().await;

    // The tampered cache is not used: every field shown as sent, no schema.
    let approver = device.open().await;
    let view = approver.inbox_views().await.unwrap().remove(0);
    let d = &view.display.details[0];
    assert_eq!(d.renderer, Renderer::Generic);
    assert!(d.fields.iter().all(|f| f.label != "Free money"));
    assert_eq!(view.display.display_schemas[STOCK_TRADE], SchemaHash::of_no_schema());
    // The next fetch repairs it.
    approver.refresh_schemas(&account.id).await.unwrap();
    let view = approver.inbox_views().await.unwrap().remove(0);
    assert_eq!(view.display.details[0].renderer, Renderer::Schema);
}

/// The OS verifier of a test: always available, counting how often its
/// availability was asked (a polkit query on a real system).
struct CountingVerifier(Arc<std::sync::atomic::AtomicUsize>);

impl countersign_approver::verify::UserVerifier for CountingVerifier {
    fn method(&self) -> &'static str {
        "counting"
    }

    fn availability(&self) -> countersign_approver::verify::Availability {
        self.0.fetch_add(1, Ordering::SeqCst);
        countersign_approver::verify::Availability::Available
    }

    fn verify(
        &self,
        _reason: &str,
    ) -> Result<Vec<countersign_protocol::amr::Amr>, countersign_approver::verify::VerifyError> {
        Err(countersign_approver::verify::VerifyError::Unavailable("a test".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_readies_the_first_listing_before_its_page_asks() {
    let env = Env::with_user("zoe").await;
    let device = Device::new();
    let open = |checks: &Arc<std::sync::atomic::AtomicUsize>| {
        let counting = checks.clone();
        device.open_with(move |c| c.user_verifier = Arc::new(CountingVerifier(counting)))
    };
    let checks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let approver = open(&checks).await;
    let account = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();

    // An empty inbox renders nothing: nothing is asked of the OS.
    let before = checks.load(Ordering::SeqCst);
    approver.warm_view_caches().await.unwrap();
    assert_eq!(checks.load(Ordering::SeqCst), before);

    let agent = env.agent().await;
    agent.request("zoe", &trade_details(), None).await;
    approver.sync(&account.id).await.unwrap();
    approver.close().await;

    // The next start, with a request waiting: readied once...
    let checks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let approver = open(&checks).await;
    approver.warm_view_caches().await.unwrap();
    assert_eq!(checks.load(Ordering::SeqCst), 1, "the verifier's status was not readied");
    // ...and the first screen uses it: the OS is not asked again, and the
    // request is rendered with the server's schema.
    let views = approver.inbox_views_up_to(Some(1)).await.unwrap();
    assert_eq!(checks.load(Ordering::SeqCst), 1, "the first listing asked the OS again");
    assert_eq!(views[0].display.details[0].renderer, Renderer::Schema);
    assert_eq!(views[0].display.details[0].type_name, STOCK_TRADE);
}
