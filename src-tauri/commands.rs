//! Tauri commands: each is a one-line delegation so that the logic lives in
//! crates that know nothing of Tauri (and are tested without a webview).

use countersign_protocol::device::ApproverRequest;
use serde::Serialize;

use crate::IpcError;

/// What the UI shows in its About line.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub name: &'static str,
    pub version: &'static str,
}

#[tauri::command]
pub fn app_info() -> AppInfo {
    AppInfo { name: "Countersign", version: env!("CARGO_PKG_VERSION") }
}

/// Requests waiting for the user's decision, newest first.
///
/// The approver core (accounts, store, transport) is not built yet, so no
/// account can exist and the inbox is truthfully empty.
#[tauri::command]
pub fn pending_requests() -> Result<Vec<ApproverRequest>, IpcError> {
    Ok(Vec::new())
}
