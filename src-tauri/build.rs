//! Build script of the desktop shell: generates the Tauri context and the
//! permissions of the app's own commands.

fn main() {
    // A custom capabilities path needs its own rerun trigger (tauri-build docs).
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        // Declaring the commands makes each one a permission
        // (`allow-<command>`) that a capability must grant explicitly.
        .app_manifest(tauri_build::AppManifest::new().commands(&["app_info", "pending_requests"]));
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
