//! `cargo xtask`: the project's commands and their helpers.
//!
//! - `cargo xtask demo`  runs a local server, enrolls the desktop app and has a
//!   demo agent send it requests.
//! - `cargo xtask test`  runs every test: cargo tests, UI tests, and the
//!   end-to-end tests of the real window under Xvfb.
//! - `cargo xtask bench-desktop`  measures the desktop app beside an empty
//!   Tauri app (start-up, idle use, a 1,000-request inbox) under Xvfb.
//! - `cargo xtask bench-server`  measures the server beside node-oidc-provider
//!   under the same wrk load.
//!
//! Both install what is missing on Debian/Ubuntu first and say what they do,
//! so a newcomer on a fresh machine needs nothing else. Only `std` is used so
//! that xtask itself builds in seconds.

mod bench;
mod bench_server;
mod demo;
mod demo_headless;
mod prereq;
mod programs;
#[cfg(test)]
mod scan;
mod shell;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  demo [--every SECS]        a local server, the desktop app enrolled into a demo
                             account, and a demo agent sending a request every
                             SECS seconds (default 45) while the app runs;
                             without a display it runs under Xvfb
  demo --screenshot PATH     the same under Xvfb: saves a picture of the window
                             once the first requests arrived, then quits
  demo --headless            the whole flow in a terminal: a local server, a
                             demo user, a CLI approver and a demo agent
  demo ... --https           any of them over HTTPS: the server's development
                             certificate (--tls-self-signed), its CA trusted by
                             the app and the CLI (COUNTERSIGN_CA_FILE)
  test [--skip-install]      run every test (UI, browser, cargo, end-to-end under
                             Xvfb, keychain, fuzz smoke, interop with
                             openid-client and soft-webauthn)
  bench-desktop [options]    the desktop benchmark under Xvfb: cold start, idle
                             RSS and CPU, a 1,000-request inbox, beside an empty
                             Tauri app (`bench-desktop --help` for its options)
  bench-server [options]     /bc-authorize and /token throughput and latency of
                             countersign-server beside node-oidc-provider 9
                             (`bench-server --help` for its options)
  ui                         install the UI's packages and build ui/dist
  prereq                     install what the project needs (apt, npm, tauri-driver)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench-desktop") => bench::run(&args[1..]),
        Some("bench-server") => bench_server::run(&args[1..]),
        Some("ui") => prereq::ui_packages().and_then(|()| prereq::build_ui()),
        Some("prereq") => prereq::all(),
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
