//! Build script of the desktop shell: generates the Tauri context and the
//! permissions of the app's own commands.

include!("command_list.rs");

/// The names of the listed commands.
macro_rules! command_names {
    ($($command:ident,)*) => {
        &[$(stringify!($command)),*]
    };
}

/// Every command of `src-tauri/commands.rs` (`command_list.rs`).
const COMMANDS: &[&str] = with_command_list!(command_names);

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
