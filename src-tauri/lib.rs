//! The Countersign desktop shell. It wires Tauri to the core crates and holds
//! no business logic: commands are one-line delegations (see `commands`).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod commands;
mod ipc_error;
mod tray;

pub use ipc_error::IpcError;

/// Builds and runs the desktop app until the user quits.
pub fn run() -> Result<(), tauri::Error> {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![commands::app_info, commands::pending_requests])
        .setup(|app| {
            tray::install(app.handle())?;
            Ok(())
        })
        .run(tauri::generate_context!())
}
