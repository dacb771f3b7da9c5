//! Tauri commands: each is a one-line delegation so that the logic lives in
//! crates that know nothing of Tauri (and are tested without a webview).
//! Every command is listed once, in `command_list.rs` (which `build.rs` and
//! `lib.rs` include: a permission each, and the invoke handler), and
//! granted in `capabilities/main-window.json`; nothing else is granted.

use countersign_approver::admin::{AdminAction, AdminList, AdminPageView, AdminQuery};
use countersign_approver::{
    DecisionOutcome, EnrollPreview, ExportReport, HistoryItem, PassphrasePurpose, ReceiptCheck, RequestView,
};
use countersign_protocol::admin::ActionResult;
use countersign_protocol::device::UnverifiedBlock;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use zeroize::Zeroizing;

use crate::events::UiEvent;
use crate::security_key::SecurityKeyView;
use crate::settings::{SettingsPatch, SettingsView};
use crate::shell::{self, AccountView, AppStatus, EnrollOutcome, Shell};
use crate::IpcError;

/// The commands (`command_list.rs`; a unit test checks them against the
/// capability).
#[cfg_attr(not(test), allow(dead_code))]
pub const NAMES: &[&str] = with_command_list!(command_names);

/// Name, version, key store warning, startup error.
#[tauri::command(rename_all = "snake_case")]
pub fn app_status(shell: State<'_, Shell>) -> AppStatus {
    shell.status()
}

/// Hands the UI's event channel to the shell (replacing any earlier one).
#[tauri::command(rename_all = "snake_case")]
pub fn subscribe_events(shell: State<'_, Shell>, channel: Channel<UiEvent>) {
    shell.subscribe(channel);
}

/// Pending requests across accounts, newest first, each with its display
/// model; the newest `limit` only when given (the first screen at start).
#[tauri::command(rename_all = "snake_case")]
pub async fn inbox_views(shell: State<'_, Shell>, limit: Option<usize>) -> Result<Vec<RequestView>, IpcError> {
    Ok(shell.approver()?.inbox_views_up_to(limit).await?)
}

/// The page has painted its first screen (the inbox, or why it could not
/// load): the transport may start ([`Shell::start_after_first_screen`]).
#[tauri::command(rename_all = "snake_case")]
pub fn first_screen_shown(shell: State<'_, Shell>) {
    shell.first_screen_shown();
}

/// One stored request as the user sees it.
#[tauri::command(rename_all = "snake_case")]
pub async fn request_view(
    shell: State<'_, Shell>,
    account_id: String,
    request_id: String,
) -> Result<RequestView, IpcError> {
    Ok(shell.approver()?.view(&request_id, Some(&account_id)).await?)
}

/// Signs and sends an approval. `typed_binding_message` is the user's
/// deliberate confirmation (required where the request needs it).
#[tauri::command(rename_all = "snake_case")]
pub async fn approve(
    shell: State<'_, Shell>,
    account_id: String,
    request_id: String,
    typed_binding_message: Option<String>,
) -> Result<DecisionOutcome, IpcError> {
    shell.approve(&account_id, &request_id, typed_binding_message.as_deref()).await
}

/// Signs and sends a denial with its reason (`not_me`, `wrong_details`, `other`).
#[tauri::command(rename_all = "snake_case")]
pub async fn deny(
    shell: State<'_, Shell>,
    account_id: String,
    request_id: String,
    reason: String,
) -> Result<DecisionOutcome, IpcError> {
    shell.deny(&account_id, &request_id, &reason).await
}

/// Enrolled accounts with their connection state.
#[tauri::command(rename_all = "snake_case")]
pub async fn accounts(shell: State<'_, Shell>) -> Result<Vec<AccountView>, IpcError> {
    shell.accounts().await
}

/// The server and the user an enrollment link names, asked of the server
/// (the ticket is not used up).
#[tauri::command(rename_all = "snake_case")]
pub async fn enroll_preview(shell: State<'_, Shell>, link: String) -> Result<EnrollPreview, IpcError> {
    Ok(shell.approver()?.enroll_preview(link.trim()).await?)
}

/// Enrolls this device with the link's server; `replaces`: the account
/// being re-enrolled.
#[tauri::command(rename_all = "snake_case")]
pub async fn enroll(
    shell: State<'_, Shell>,
    link: String,
    replaces: Option<String>,
) -> Result<EnrollOutcome, IpcError> {
    shell.enroll(&link, replaces.as_deref()).await
}

/// The enrollment link in a QR code image (the file's bytes, sent raw).
#[tauri::command(rename_all = "snake_case")]
pub async fn decode_qr_image(request: tauri::ipc::Request<'_>) -> Result<String, IpcError> {
    crate::qr_image::decode(crate::qr_image::raw_body(&request)?.to_vec()).await
}

/// Removes an account and its key from this device.
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_account(shell: State<'_, Shell>, account_id: String) -> Result<(), IpcError> {
    shell.remove_account(&account_id).await
}

/// Decisions made here, newest first.
#[tauri::command(rename_all = "snake_case")]
pub async fn history(shell: State<'_, Shell>) -> Result<Vec<HistoryItem>, IpcError> {
    Ok(shell.approver()?.history_items().await?)
}

/// Offline check of a stored decision (signature and statement hash).
#[tauri::command(rename_all = "snake_case")]
pub async fn verify_receipt(
    shell: State<'_, Shell>,
    account_id: String,
    request_id: String,
) -> Result<ReceiptCheck, IpcError> {
    Ok(shell.approver()?.verify_receipt(&account_id, &request_id).await?)
}

/// Writes the history as a JSON file; returns where.
#[tauri::command(rename_all = "snake_case")]
pub async fn export_history(shell: State<'_, Shell>) -> Result<ExportReport, IpcError> {
    shell.export_history(shell::now()).await
}

/// Preferences, start at login, notification pause.
#[tauri::command(rename_all = "snake_case")]
pub fn settings<R: Runtime>(app: AppHandle<R>) -> SettingsView {
    crate::app_settings::view(&app)
}

/// Changes settings; returns them as they now are.
#[tauri::command(rename_all = "snake_case")]
pub fn update_settings<R: Runtime>(app: AppHandle<R>, patch: SettingsPatch) -> Result<SettingsView, IpcError> {
    crate::app_settings::update(&app, &patch)
}

/// The encrypted key file's passphrase, typed in the window: checked by the
/// core (strong enough for a new file; opens the existing ones) and kept in
/// memory only. Never echoed back: the answer says only what it was for.
#[tauri::command(rename_all = "snake_case")]
pub async fn submit_key_passphrase(shell: State<'_, Shell>, passphrase: String) -> Result<PassphrasePurpose, IpcError> {
    shell.submit_passphrase(Zeroizing::new(passphrase)).await
}

/// The user closed the passphrase window: the waiting operation fails (and
/// asks again the next time it needs the key).
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_key_passphrase(shell: State<'_, Shell>) {
    shell.passphrase_prompt().cancel();
}

/// Whether unverified agents are blocked for the account's user (protocol §5.4).
#[tauri::command(rename_all = "snake_case")]
pub async fn unverified_block(shell: State<'_, Shell>, account_id: String) -> Result<UnverifiedBlock, IpcError> {
    Ok(shell.approver()?.unverified_block(&account_id).await?)
}

/// Lets unverified agents ask the account's user again.
#[tauri::command(rename_all = "snake_case")]
pub async fn lift_unverified_block(shell: State<'_, Shell>, account_id: String) -> Result<UnverifiedBlock, IpcError> {
    Ok(shell.approver()?.lift_unverified_block(&account_id).await?)
}

/// The account's security keys at its server (name, added, last used, flagged).
#[tauri::command(rename_all = "snake_case")]
pub async fn security_keys(shell: State<'_, Shell>, account_id: String) -> Result<Vec<SecurityKeyView>, IpcError> {
    shell.security_keys(&account_id).await
}

/// Registers a security key under `name` (touch, PIN in the window); the keys after.
#[tauri::command(rename_all = "snake_case")]
pub async fn add_security_key(
    shell: State<'_, Shell>,
    account_id: String,
    name: String,
) -> Result<Vec<SecurityKeyView>, IpcError> {
    shell.add_security_key(&account_id, &name).await
}

/// Removes a security key at the server; the keys after.
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_security_key(
    shell: State<'_, Shell>,
    account_id: String,
    credential_id: String,
) -> Result<Vec<SecurityKeyView>, IpcError> {
    shell.remove_security_key(&account_id, &credential_id).await
}

/// The security key's PIN, typed in the window for PIN request `pin_id`:
/// handed to the key and never echoed back.
#[tauri::command(rename_all = "snake_case")]
pub fn submit_security_key_pin(shell: State<'_, Shell>, pin_id: u64, pin: String) -> Result<(), IpcError> {
    Ok(shell.security_prompt().submit_pin(pin_id, Zeroizing::new(pin))?)
}

/// The user cancelled PIN request `pin_id`: the operation fails as cancelled.
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_security_key_pin(shell: State<'_, Shell>, pin_id: u64) -> Result<(), IpcError> {
    Ok(shell.security_prompt().cancel_pin(pin_id)?)
}

/// One page of an admin list (`query`: filters, `limit`, `cursor`), each
/// item with the characters to mark in it. The server checks the role.
#[tauri::command(rename_all = "snake_case")]
pub async fn admin_page(
    shell: State<'_, Shell>,
    account_id: String,
    list: AdminList,
    query: Vec<(String, String)>,
) -> Result<AdminPageView, IpcError> {
    Ok(shell.approver()?.admin_view(&account_id, list, &AdminQuery(query)).await?)
}

/// Runs an admin action (cancel, revoke, verify, block…): whether it changed anything.
#[tauri::command(rename_all = "snake_case")]
pub async fn admin_action(
    shell: State<'_, Shell>,
    account_id: String,
    action: AdminAction,
) -> Result<ActionResult, IpcError> {
    Ok(shell.approver()?.admin_action(&account_id, &action).await?)
}
