//! The UI's fake backend and the core agree on approvals: each case of
//! `ui/tests/agreement/approve.json` is a stored request, what the user
//! typed, and the error code the approval must get (`null`: it is signed).
//! Here the core answers each case (`countersign_approver::gate::approval`,
//! the checks `decide` makes, with the code the window receives) and builds
//! the `RequestView` the window would get; the UI's
//! `agreement.test.ts` gives those views to `FakeBackend` and expects the
//! same codes. So component tests cannot pass against answers the core
//! would never give.

use std::path::Path;

use countersign_approver::store::{InboxItem, LocalStatus};
use countersign_approver::verify::{Availability, VerifierStatus};
use countersign_approver::RequestView;
use countersign_protocol::device::ApproverRequest;
use serde_json::Value;

use crate::tests::ascii_json;
use crate::IpcError;

fn request(case: &Value) -> ApproverRequest {
    let text = include_str!("../crates/protocol/testdata/device/examples/approver-request.json");
    let mut value: Value = serde_json::from_str(text).unwrap();
    for member in ["risk", "requires", "expires_at"] {
        value[member] = case[member].clone();
    }
    value["authorization_details"] = case["details"].clone();
    serde_json::from_value(value).unwrap()
}

#[test]
fn the_fake_backend_is_given_the_cores_answers_to_approvals() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/tests/agreement/approve.json");
    let mut fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let now = fixture["now"].as_u64().unwrap();
    let registry = countersign_details::Registry::builtin().unwrap();
    let update = std::env::var_os("UPDATE_UI_FIXTURES").is_some();
    let mut stale = Vec::new();
    let cases = fixture["cases"].as_array_mut().unwrap();
    assert!(cases.len() >= 20, "expected the approval cases in {}", path.display());
    for case in cases.iter_mut() {
        let name = case["name"].as_str().unwrap().to_owned();
        let request = request(case);
        let item = InboxItem {
            account_id: "acct_1".into(),
            request_json: serde_json::to_string(&request).unwrap(),
            request,
            status: LocalStatus::parse(case["status"].as_str().unwrap()).unwrap(),
            status_reason: None,
            received_at: now - 60,
            updated_at: now - 60,
        };
        let rendering = countersign_approver::display::render(&item.request, &registry, &Default::default());
        let typed = case["typed"].as_str();
        // The OS can verify the user unless the case says it cannot.
        let verifier = match case["verifier"].as_str() {
            Some(why) => VerifierStatus { method: "polkit", availability: Availability::Unavailable(why.to_owned()) },
            None => VerifierStatus { method: "polkit", availability: Availability::Available },
        };
        let answer = countersign_approver::gate::approval(&item, &rendering, false, typed, now, &verifier);
        let code = answer.err().map(|e| IpcError::from(e).code);
        assert_eq!(code, case["code"].as_str(), "case {name:?}: the core's answer is not the one written down");

        let view = serde_json::to_value(RequestView::build_with(item, rendering, now, false, &verifier)).unwrap();
        // The view offers approval exactly when only the confirmation rule
        // (typing the code) can still refuse it.
        assert_eq!(
            view["approvable"].as_bool(),
            Some(code.is_none_or(is_confirmation)),
            "case {name:?}: `approvable` disagrees with the gate"
        );
        if update {
            case["view"] = view;
        } else if case["view"] != view {
            stale.push(name);
        }
    }
    if update {
        std::fs::write(&path, ascii_json(&fixture)).unwrap();
    }
    assert!(stale.is_empty(), "stale views in {} (rerun with UPDATE_UI_FIXTURES=1): {stale:?}", path.display());
}

/// The codes of the confirmation rule: the view is approvable, the user
/// still has to type the code.
fn is_confirmation(code: &str) -> bool {
    matches!(code, "risk_confirmation_required" | "confirmation_required" | "binding_message_mismatch")
}
