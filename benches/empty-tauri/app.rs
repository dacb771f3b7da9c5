//! An empty Tauri app, the baseline of `cargo xtask bench-desktop`
//! (`benches/desktop.rs`): the same `tauri` crate, features and profile as
//! Countersign (it is an example of the same package), one window of the same
//! size and the same CSP, and a page whose only script marks the document
//! ready and can add plain rows to scroll (`dist/`). No commands, no tray, no
//! plugins.
//!
//! Built only with the `bench-empty-app` feature:
//! `cargo build --profile bench --example empty-tauri --features bench-empty-app`.

fn main() {
    let context = tauri::generate_context!("benches/empty-tauri/tauri.conf.json");
    if let Err(error) = tauri::Builder::default().run(context) {
        eprintln!("empty-tauri: {error}");
        std::process::exit(1);
    }
}
