//! The UI writes the admin API's items by hand (`ui/src/lib/backend/admin-wire.ts`:
//! they reach it as JSON inside `AdminItem.item`). `ui/tests/agreement/admin.json`
//! holds one item of each list with every member; here each must deserialize
//! into its Rust type, which refuses unknown members and requires the others,
//! and serialize back unchanged. The UI's `admin-agreement.test.ts` checks the
//! fake backend's items against the same samples.

use std::path::Path;

use countersign_protocol::admin::{ActionResult, AuditEntry, Client, Device, Grant, PendingRequest, User};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn round_trips<T: DeserializeOwned + Serialize>(samples: &Value, name: &str) {
    let sample = &samples[name];
    let typed: T = serde_json::from_value(sample.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&serde_json::to_value(&typed).unwrap(), sample, "{name} changed in a round trip");
}

#[test]
fn the_uis_admin_samples_are_the_servers_items() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/tests/agreement/admin.json");
    let samples: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    round_trips::<PendingRequest>(&samples, "pending");
    round_trips::<Grant>(&samples, "grants");
    round_trips::<Client>(&samples, "clients");
    round_trips::<User>(&samples, "users");
    round_trips::<Device>(&samples, "devices");
    round_trips::<AuditEntry>(&samples, "audit");
    round_trips::<ActionResult>(&samples, "action_result");
}
