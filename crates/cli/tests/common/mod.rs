//! Shared by the CLI's test files: the CLI in a terminal.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// The CLI binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_countersign-cli");

/// The CLI with `args` inside util-linux's `script`, which gives it a
/// pseudo-terminal (what typing a binding message needs), with the tests'
/// environment: no session bus, the key file's passphrase, no key store or
/// data directory from the caller's environment. The caller adds its own
/// (the OS verifier's answer, a software key) and runs it with [`typing`].
pub fn in_terminal(args: &[&str]) -> Command {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(BIN);
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/countersign-test-bus")
        .env("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", "correct horse battery staple")
        .env_remove("COUNTERSIGN_KEY_STORE")
        .env_remove("COUNTERSIGN_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `c` (from [`in_terminal`]) typing `input`: whether it succeeded, and
/// its standard output and error together.
pub async fn typing(mut c: Command, input: &str) -> (bool, String) {
    let input = input.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().expect("util-linux `script` runs the CLI in a terminal");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
