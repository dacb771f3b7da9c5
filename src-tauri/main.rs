// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(error) = countersign_desktop::run() {
        eprintln!("countersign: {error}");
        std::process::exit(1);
    }
}
