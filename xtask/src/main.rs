//! `cargo xtask`: the project's two commands and their helpers.
//!
//! - `cargo xtask demo`  builds the UI and runs the desktop app.
//! - `cargo xtask test`  runs every test: cargo tests, UI tests, and the
//!   end-to-end tests of the real window under Xvfb.
//!
//! Both install what is missing on Debian/Ubuntu first and say what they do,
//! so a newcomer on a fresh machine needs nothing else. Only `std` is used so
//! that xtask itself builds in seconds.

mod demo;
mod prereq;
mod shell;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  demo [--screenshot PATH]   build the UI and run the desktop app; without a
                             display it runs under Xvfb. --screenshot saves a
                             picture of the window to PATH and quits.
  test [--skip-install]      run every test (cargo, UI, end-to-end under Xvfb)
  ui                         install the UI's packages and build ui/dist
  prereq                     install what the project needs (apt, npm, tauri-driver)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("ui") => prereq::ui_packages().and_then(|()| prereq::build_ui()),
        Some("prereq") => prereq::all().map(|_| ()),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Where cargo puts binaries, honouring `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => root().join("target"),
    }
}
