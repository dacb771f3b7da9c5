//! `cargo xtask test`: every test the project has.

use std::process::Command;

use crate::demo::xvfb;
use crate::prereq;
use crate::programs;
use crate::shell::{exec, exec_command, step};

/// One of the desktop's `#[ignore]`d window tests (`tests/<name>.rs`),
/// under Xvfb and a private D-Bus session, driven through `tauri_driver`.
fn window_test(root: &std::path::Path, tauri_driver: &std::path::Path, name: &str, flag: &str) -> Result<(), String> {
    let mut command = Command::new("dbus-run-session");
    command
        .args(["--", "cargo", "test", "--package", "countersign-desktop", "--test", name])
        .args(["--", "--ignored", flag])
        .current_dir(root)
        .env("TAURI_DRIVER", tauri_driver);
    exec_command(xvfb(&mut command))
}

pub fn run_tests(skip_install: bool) -> Result<(), String> {
    let root = crate::root();
    let ui = root.join("ui");
    if skip_install {
        prereq::check(programs::TEST)?;
    } else {
        prereq::all()?;
    }
    let tauri_driver = prereq::tauri_driver()?;

    step("UI: type check (svelte-check)");
    exec(&ui, "npm", &["run", "--silent", "check"])?;
    step("UI: component tests (vitest)");
    exec(&ui, "npm", &["test"])?;
    prereq::build_ui()?;
    // The built UI on the fake backend in Debian's chromium (playwright-core),
    // served with the app's CSP: flows, warnings, an XSS corpus.
    step("UI: browser tests (chromium, fake backend)");
    if !std::path::Path::new(prereq::CHROMIUM).exists() {
        return Err(format!("{} is missing: run without --skip-install (apt package chromium)", prereq::CHROMIUM));
    }
    exec(&ui, "npm", &["run", "--silent", "test:browser"])?;

    step("Cargo tests (whole workspace)");
    exec(&root, "cargo", &["test", "--workspace", "--all-targets"])?;
    exec(&root, "cargo", &["test", "--workspace", "--doc"])?;

    // The end-to-end tests drive the real app window through WebDriver
    // (tauri-driver + WebKitWebDriver). They are #[ignore]d in plain
    // `cargo test` because they need a display; here they get Xvfb and a
    // private D-Bus session.
    step("End-to-end tests of the real window under Xvfb");
    window_test(&root, &tauri_driver, "e2e", "--test-threads=1")?;
    // Minutes of load on the real window (tests/soak.rs): its web process
    // must survive (about three and a half minutes).
    step("Soak test of the real window under Xvfb (about 4 minutes)");
    window_test(&root, &tauri_driver, "soak", "--nocapture")?;

    // Device keys in the real Secret Service: a private session bus with an
    // unlocked gnome-keyring (its password only guards this throwaway
    // keyring) and a private XDG_DATA_HOME so no real keyring is touched.
    step("Device keys in the OS keychain (gnome-keyring under a private D-Bus)");
    let keyring_home = std::env::temp_dir().join(format!("countersign-keyring-{}", std::process::id()));
    std::fs::create_dir_all(&keyring_home).map_err(|e| format!("{}: {e}", keyring_home.display()))?;
    let script = "printf countersign-test | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null \
        && cargo test --package countersign-approver --lib keys::keychain -- --ignored";
    let result = exec_command(
        Command::new("dbus-run-session")
            .args(["--", "sh", "-c", script])
            .current_dir(&root)
            .env("XDG_DATA_HOME", &keyring_home),
    );
    let _ = std::fs::remove_dir_all(&keyring_home);
    result?;

    fuzz_smoke()?;
    server_on_the_pool(&root)?;
    postgres(&root)?;
    server_on_postgres(&root)?;
    interop_openid_client(&root)?;
    interop_auth0_ai(&root)?;
    interop_soft_webauthn(&root)?;
    interop_mcp_gateway(&root)?;

    step("All tests passed");
    Ok(())
}

/// One minute of fuzzing the display-schema renderer (crates/details/fuzz),
/// seeded with its valid and invalid examples. The fuzz build has its own
/// target directory beside the main one, so it never invalidates it.
fn fuzz_smoke() -> Result<(), String> {
    step("Display schema: fuzz smoke run (cargo fuzz, 60 s)");
    let details = crate::root().join("crates/details");
    std::fs::create_dir_all(details.join("fuzz/corpus/render")).map_err(|e| format!("fuzz corpus: {e}"))?;
    let target = fuzz_target_dir();
    exec_command(
        Command::new("cargo")
            .args(["fuzz", "run", "render", "fuzz/corpus/render", "testdata/valid", "testdata/invalid"])
            .args(["--", "-dict=fuzz/render.dict", "-max_total_time=60"])
            .current_dir(&details)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", &target),
    )
}

/// Beside the main target directory: `<target>/../target-fuzz`.
fn fuzz_target_dir() -> std::path::PathBuf {
    let main = crate::target_dir();
    match main.parent() {
        Some(parent) if std::env::var_os("CARGO_TARGET_DIR").is_some() => parent.join("target-fuzz"),
        _ => main.join("fuzz-build"),
    }
}

/// The server's integration tests again with `/bc-authorize`'s and
/// `/token`'s database work on the pool, one transaction per request
/// (`countersign_server::HotPath::Pool`, the path a database other than
/// SQLite takes), instead of SQLite's request writer and reader.
fn server_on_the_pool(root: &std::path::Path) -> Result<(), String> {
    step("Server: the integration tests again with the hot paths on the pool");
    exec_command(
        Command::new("cargo")
            .args(["test", "-p", "countersign-server", "--tests"])
            .current_dir(root)
            .env("COUNTERSIGN_TEST_HOT_PATH", "pool"),
    )
}

/// The server's schema on a throwaway PostgreSQL cluster (crates/server's
/// `testing::postgres`: `initdb` and `pg_ctl` from Debian's postgresql-15,
/// as the postgres user when root), and the chaos run of two instances.
fn postgres(root: &std::path::Path) -> Result<(), String> {
    step("PostgreSQL: the server's schema and migrations on a throwaway cluster");
    exec(root, "cargo", &["test", "-p", "countersign-server", "--test", "postgres", "--", "--ignored"])?;
    // At least 1,000 flows (the test's default) with either of two
    // instances killed 10 times in all (about a minute).
    step("PostgreSQL: chaos run, two instances killed in turn under 1,000 CIBA flows");
    exec_command(
        Command::new("cargo")
            .args(["test", "-p", "countersign-server", "--test", "chaos", "two_instances", "--", "--ignored"])
            .arg("--nocapture")
            .current_dir(root)
            .env("COUNTERSIGN_CHAOS_KILLS", "10"),
    )
}

/// The server's integration tests with every test server on PostgreSQL: a
/// database each on one throwaway cluster, which the server's
/// `countersign-test-postgres` starts for the run and removes after it.
/// (The tests that run the real binary on a file, such as the durability,
/// chaos and CLI tests, stay on SQLite.)
fn server_on_postgres(root: &std::path::Path) -> Result<(), String> {
    step("PostgreSQL: the server's integration tests, every test server on a throwaway cluster");
    let wrapper = build_test_postgres(root)?;
    exec_command(
        Command::new(&wrapper).args(["--", "cargo", "test", "-p", "countersign-server", "--tests"]).current_dir(root),
    )
}

/// Builds `countersign-test-postgres` (a throwaway PostgreSQL cluster around
/// a command) and returns its path. Built, then run as a program: under
/// `cargo run` the command's cargo would see cargo's package variables and
/// rebuild the dependencies.
pub fn build_test_postgres(root: &std::path::Path) -> Result<std::path::PathBuf, String> {
    exec(
        root,
        "cargo",
        &[
            "build",
            "--quiet",
            "-p",
            "countersign-server",
            "--features",
            "test-util",
            "--bin",
            "countersign-test-postgres",
        ],
    )?;
    Ok(crate::target_dir().join("debug/countersign-test-postgres"))
}

/// A standard OpenID client library (openid-client, tests/interop) runs the
/// CIBA flow against countersign-server.
fn interop_openid_client(root: &std::path::Path) -> Result<(), String> {
    step("Interop: openid-client against countersign-server");
    exec(&root.join("tests/interop"), "npm", &["ci", "--no-audit", "--no-fund"])?;
    exec(root, "cargo", &["test", "-p", "countersign-server", "--test", "interop_openid_client", "--", "--ignored"])
}

/// Auth0's AI SDKs (`@auth0/ai`, tests/interop, installed by
/// [`interop_openid_client`]'s `npm ci`; `auth0-ai` for Python, in
/// tests/interop/auth0-ai-python's virtual environment) ask over HTTPS with the
/// development certificate; the CLI approver decides. The same for the
/// LangChain example of docs/agents.md (examples/buy-shares-langchain,
/// `@auth0/ai-langchain`).
fn interop_auth0_ai(root: &std::path::Path) -> Result<(), String> {
    step("Interop: Auth0's AI SDKs (Node, Python) and the LangChain example against countersign-server over HTTPS, the CLI approving");
    exec(&root.join("examples/buy-shares-langchain"), "npm", &["ci", "--no-audit", "--no-fund"])?;
    prereq::python_packages(&root.join("tests/interop/auth0-ai-python"))?;
    exec(root, "cargo", &["test", "-p", "countersign-cli", "--test", "auth0_ai", "--", "--ignored"])
}

/// The MCP gateway between the official MCP TypeScript SDK's client and
/// real upstream servers (`@modelcontextprotocol/sdk` and
/// `@modelcontextprotocol/server-filesystem`, tests/interop, installed by
/// [`interop_openid_client`]'s `npm ci`); the CLI approver decides. Its
/// test runs the CLI binary `cargo test --workspace` built (with the
/// features its own tests turn on: building it again here without them
/// would replace it).
fn interop_mcp_gateway(root: &std::path::Path) -> Result<(), String> {
    step(
        "Interop: the MCP TypeScript SDK's client through countersign-mcp to the filesystem server, the CLI approving",
    );
    exec(root, "cargo", &["test", "-p", "countersign-mcp", "--test", "gateway", "--", "--ignored"])
}

/// An independent WebAuthn authenticator (soft-webauthn, Python, in
/// tests/interop/soft-webauthn) registers and asserts against
/// countersign-server with its UV flag patched on, and is refused as
/// published (user presence only).
fn interop_soft_webauthn(root: &std::path::Path) -> Result<(), String> {
    step("Interop: soft-webauthn (Python) against countersign-server");
    prereq::python_packages(&root.join("tests/interop/soft-webauthn"))?;
    exec(root, "cargo", &["test", "-p", "countersign-server", "--test", "interop_soft_webauthn", "--", "--ignored"])
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut skip_install = false;
    for arg in args {
        match arg.as_str() {
            "--skip-install" => skip_install = true,
            other => return Err(format!("test: unknown option `{other}`")),
        }
    }
    run_tests(skip_install)
}
