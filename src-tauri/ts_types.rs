//! `ui/src/lib/backend/generated.ts`: the TypeScript declarations of what the
//! commands answer and the events carry, generated from the Rust types with
//! ts-rs (feature `ts` of the protocol, details and approver crates, derived
//! here under `cfg(test)`). `cargo test` fails when the file is not what the
//! Rust types give, so the UI cannot drift from them;
//! `UPDATE_UI_TYPES=1 cargo test -p countersign-desktop --lib ts_types`
//! rewrites it. `types.ts` re-exports these under the UI's names.

use std::path::Path;
use ts_rs::{Config, TS};

const HEADER: &str = "\
// Generated from the Rust types by src-tauri/ts_types.rs (ts-rs). Do not edit:
// `UPDATE_UI_TYPES=1 cargo test -p countersign-desktop --lib ts_types`
// writes it again. Field names and shapes are exactly what serde sends.
// An open registered enum (one a newer peer may extend) is written
// `Name | (string & {})` where it is used.
";

/// `export type …;` with its doc comment. ts-rs writes members one after
/// another with their docs between them; indenting them keeps the file
/// readable without a formatter.
fn declaration<T: TS>(cfg: &Config) -> String {
    let mut out = T::docs().unwrap_or_default();
    out.push_str("export ");
    for (i, line) in T::decl(cfg).lines().enumerate() {
        if i > 0 {
            out.push_str("\n  ");
        }
        out.push_str(line.trim_end());
    }
    out.push_str("\n\n");
    out
}

/// Every type the UI receives or sends, and every type they name.
fn generated() -> String {
    use countersign_approver::{decision, display, events, gate, history, keys, store};
    use countersign_details as details;
    use countersign_protocol::device;
    use countersign_protocol::jws::PublicJwk;

    // Timestamps and ids are u64/i64 in Rust and well inside 2^53 on the wire.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(HEADER);
    out.push('\n');
    macro_rules! declare {
        ($($t:ty),+ $(,)?) => { $( out.push_str(&declaration::<$t>(&cfg)); )+ };
    }
    declare!(
        // The request as the server sends it (countersign-protocol).
        device::Risk,
        device::Requirement,
        device::ClientInfo,
        device::RequestUser,
        device::RequestContext,
        device::ApproverRequest,
        device::EnrolledUser,
        device::Role,
        device::Decision,
        device::DenyReason,
        countersign_protocol::amr::Amr,
        device::DecisionClaims,
        device::DecisionResult,
        device::RequestStatus,
        device::GrantRevoked,
        device::AdminNotice,
        device::AdminNoticeKind,
        device::RevocationReason,
        device::UnverifiedBlock,
        device::WebauthnCredential,
        PublicJwk,
        countersign_protocol::jws::KeyType,
        countersign_protocol::jws::Curve,
        countersign_protocol::jws::JwsAlg,
        countersign_protocol::jws::KeyUse,
        // The display model (countersign-details).
        details::DisplayModel,
        details::RequestStatus,
        details::WorstWarning,
        details::Severity,
        details::WarningCode,
        details::CharFinding,
        details::Warning,
        details::Renderer,
        details::Risk,
        details::DetailView,
        details::Summary,
        details::SummaryPart,
        details::Field,
        details::LabelSource,
        details::JsonType,
        details::Format,
        details::FieldValue,
        // The approver core (countersign-approver).
        store::LocalStatus,
        store::InboxItem,
        display::RequestView,
        display::TextFinding,
        display::AccessView,
        display::ScopeView,
        gate::VerificationStep,
        store::Account,
        keys::KeyStoreKind,
        countersign_approver::EnrollPreview,
        store::Delivery,
        store::HistoryEntry,
        history::HistoryItem,
        history::ExportReport,
        decision::DeliveryReport,
        decision::DecisionOutcome,
        countersign_approver::receipt::ReceiptCheck,
        events::ConnectionState,
        events::ApproverEvent,
        countersign_approver::PassphrasePurpose,
        countersign_approver::admin::AdminList,
        countersign_approver::admin::AdminAction,
        countersign_approver::admin::AdminPageView,
        countersign_approver::admin::AdminItem,
        countersign_approver::admin::AdminText,
        countersign_approver::admin::AdminJson,
        // The desktop shell.
        crate::shell::AccountView,
        crate::shell::EnrollOutcome,
        crate::shell::AppStatus,
        crate::settings::Theme,
        crate::settings::Preferences,
        crate::settings::SettingsPatch,
        crate::settings::SettingsView,
        crate::security_key::SecurityKeyStep,
        crate::security_key::SecurityKeyPrompt,
        crate::security_key::SecurityKeyView,
        crate::events::ShellEvent,
        crate::events::UiEvent,
        crate::ipc_error::IpcError,
    );
    out.trim_end().to_owned() + "\n"
}

#[test]
fn ts_types_are_generated_from_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/backend/generated.ts");
    let want = generated();
    if std::env::var_os("UPDATE_UI_TYPES").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not what the Rust types give: run `UPDATE_UI_TYPES=1 cargo test -p countersign-desktop --lib ts_types`, \
         then fix the UI where `npm run check` fails",
        path.display()
    );
}
