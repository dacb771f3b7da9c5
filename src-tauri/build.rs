//! Build script of the desktop shell: generates the Tauri context and the
//! permissions of the app's own commands.

/// Every command of `src-tauri/commands.rs` (kept equal to
/// `commands::NAMES`; a unit test checks both against the capability).
const COMMANDS: &[&str] = &[
    "app_status",
    "subscribe_events",
    "inbox_views",
    "request_view",
    "approve",
    "deny",
    "accounts",
    "enroll_preview",
    "enroll",
    "remove_account",
    "history",
    "verify_receipt",
    "export_history",
    "settings",
    "update_settings",
    "decode_qr_image",
    "submit_key_passphrase",
    "cancel_key_passphrase",
    "unverified_block",
    "lift_unverified_block",
];

fn main() {
    // A custom capabilities path needs its own rerun trigger (tauri-build docs).
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        // Declaring the commands makes each one a permission
        // (`allow-<command>`) that a capability must grant explicitly.
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
